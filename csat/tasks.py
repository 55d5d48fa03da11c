"""Celery tasks for satisfaction surveys: thin wrappers around csat.actions.

offer_survey is enqueued when a resolving transaction commits (csat.actions.do_plan_survey);
offer_due_surveys runs on the beat every minute for surveys whose message was lost.
"""

from celery import shared_task

from csat import actions


@shared_task(ignore_result=True, acks_late=True)
def offer_survey(case_id: int) -> str:
    """Send or skip the pending survey of one case. Safe to run twice."""
    return actions.offer_survey(case_id)


@shared_task(ignore_result=True)
def offer_due_surveys() -> int:
    return actions.offer_due_surveys()
