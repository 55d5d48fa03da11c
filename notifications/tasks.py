"""Celery tasks for notifications: a few lines around notifications.delivery and .followups.

send_notification_emails is enqueued by notifications.actions when a transaction that notified
commits, and by the sweep. Beat (socialdesk/settings.py) runs sweep_notification_emails every
minute, send_notification_digests and notify_follow_ups_due every hour.
"""

from celery import shared_task

from notifications import delivery, followups


@shared_task(ignore_result=True, acks_late=True)
def send_notification_emails(notification_ids: list[int]) -> int:
    """E-mail these notifications; safe to run twice (rows are claimed)."""
    return delivery.send_emails(notification_ids)


@shared_task(ignore_result=True)
def sweep_notification_emails() -> dict[str, int]:
    return delivery.sweep()


@shared_task(ignore_result=True)
def send_notification_digests() -> int:
    """Enqueue one digest per user whose digest is due."""
    users = delivery.due_digest_recipients()
    for user_id in users:
        send_notification_digest.delay(user_id)
    return len(users)


@shared_task(ignore_result=True, acks_late=True)
def send_notification_digest(user_id: int) -> int:
    return delivery.send_digest(user_id)


@shared_task(ignore_result=True)
def notify_follow_ups_due() -> int:
    return followups.notify_follow_ups_due()
