"""Celery tasks for listening: thin wrappers around listening.polling and listening.content."""

from celery import shared_task

from listening import polling


@shared_task(ignore_result=True)
def poll_due_channels() -> int:
    """Run by beat every few seconds: fan out one poll_channel per due channel."""
    claimed = polling.claim_due_channels()
    for channel_id in claimed:
        poll_channel.delay(channel_id)
    return len(claimed)


@shared_task(ignore_result=True, acks_late=True)
def poll_channel(channel_id: int) -> str:
    return polling.poll_channel(channel_id)


@shared_task(ignore_result=True, acks_late=True)
def process_webhook_event(event_id: int) -> str:
    """Take in one stored Meta webhook event (listening.webhooks, step 3)."""
    from listening import webhooks

    return webhooks.process_event(event_id)


@shared_task(ignore_result=True)
def sweep_webhook_events() -> int:
    """Run by beat: enqueue again the stored webhook events nobody processed (step 4)."""
    from listening import webhooks

    return webhooks.sweep_events()


@shared_task(ignore_result=True)
def check_deleted_posts() -> dict[str, int]:
    """Run by beat hourly: look up recent posts within each channel's read budget."""
    from listening import content

    return content.check_deleted_posts_everywhere()


@shared_task(ignore_result=True)
def remove_expired_texts() -> int:
    """Run by beat daily: blank customer text older than the desk's retention period."""
    from listening import content

    return content.remove_expired_texts()
