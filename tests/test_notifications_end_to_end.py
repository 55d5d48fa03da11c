"""A real Celery worker e-mails a notification after the commit that wrote it, once."""

import pytest

from cases.actions import do_assign_case
from notifications.models import EmailState, Notification
from socialdesk import roles
from tests.conftest import make_channel, make_user, wait_for
from tests.factories import make_case

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def console_email(monkeypatch):
    """The worker prints its e-mails (its own process: the test's outbox cannot see them)."""
    monkeypatch.setenv("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")


@pytest.mark.parametrize("worker", [{"beat": False}], indirect=True)
def test_the_worker_emails_a_committed_notification_once(console_email, worker):
    agent = make_user("alex", roles.AGENT)
    agent.email = "alex@example.com"
    agent.save(update_fields=["email"])
    lead = make_user("sam", roles.SUPERVISOR)
    case = make_case(make_channel("x"))
    do_assign_case(case, agent, actor=lead)  # its own transaction: committed, then enqueued

    def sent() -> bool:
        return Notification.objects.filter(recipient=agent, email_state=EmailState.SENT).exists()

    wait_for(sent, timeout=60, message="the worker to e-mail the notification")
    (row,) = Notification.objects.filter(recipient=agent)
    assert row.email_attempts == 1 and row.emailed_at is not None
