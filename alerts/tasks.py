"""Celery tasks for alerts: thin wrappers around alerts.evaluate, alerts.notify, alerts.liveness.

Beat schedules worker_heartbeat every 15 s and evaluate_alerts every minute (settings.py).
Deliveries retry transient failures with exponential backoff, at most MAX_RETRIES times.
"""

import smtplib

import requests
from celery import shared_task

from alerts import liveness, notify
from alerts.evaluate import evaluate_alerts as do_evaluate_alerts

MAX_RETRIES = 5
RETRY = {
    "max_retries": MAX_RETRIES,
    "retry_backoff": 30,
    "retry_backoff_max": 600,
    "retry_jitter": True,
}


@shared_task(ignore_result=True)
def worker_heartbeat() -> None:
    liveness.record_worker_heartbeat()


@shared_task(ignore_result=True)
def evaluate_alerts() -> int:
    return len(do_evaluate_alerts())


@shared_task(ignore_result=True, autoretry_for=(smtplib.SMTPException, OSError), **RETRY)
def send_alert_email(subject: str, body: str) -> int:
    return notify.send_email(subject, body)


@shared_task(
    ignore_result=True,
    autoretry_for=(notify.WebhookUnavailable, requests.ConnectionError, requests.Timeout),
    **RETRY,
)
def post_alert_webhook(text: str) -> None:
    notify.post_webhook(text)
