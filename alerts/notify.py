"""Alert messages: plain-text e-mail to the admins and an incoming-webhook post.

Everything in a message may carry hostile text (channel names, network errors). E-mail is
text/plain only, with the subject flattened to one line. The webhook text escapes what Slack,
Mattermost and Teams would interpret: `&`, `<`, `>` as entities (Slack's rule; the others
render them back), `@` mentions broken with a word joiner so "@channel" or "@all" never pings,
and "](" split so a name cannot become a link.

Webhook shapes: {"text": ...} is what Slack and Mattermost incoming webhooks and Teams'
legacy connectors accept; Teams Workflows accept only Adaptive Cards, hence
ALERT_WEBHOOK_FORMAT=adaptive-card.
"""

import logging
import re
from typing import Any

import requests
from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import EmailMessage

from socialdesk import roles

log = logging.getLogger(__name__)

SUBJECT_PREFIX = "[SocialDesk] "
WORD_JOINER = "\u2060"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class WebhookRejected(Exception):
    """The receiver refused the message for good (4xx): retrying would not help."""


class WebhookUnavailable(Exception):
    """The receiver failed (5xx): worth another try."""


def compose(event: str, title: str, detail: str) -> tuple[str, str]:
    """(subject, body) in plain text for one raised or resolved condition."""
    title = one_line(title)
    if event == "raised":
        subject = f"{SUBJECT_PREFIX}Problem: {title}"
        lead = "SocialDesk noticed a problem:"
    else:
        subject = f"{SUBJECT_PREFIX}Recovered: {title}"
        lead = "This problem is over:"
    lines = [lead, "", f"  {title}"]
    if detail:
        lines += ["", _CONTROL.sub("", detail)]
    lines += ["", *_footer()]
    return one_line(subject)[:250], "\n".join(lines).rstrip() + "\n"


def chat_text(event: str, title: str, detail: str) -> str:
    """The same message, shorter, for a chat channel (before `neutral`)."""
    mark = "Problem" if event == "raised" else "Recovered"
    lines = [f"SocialDesk {mark}: {one_line(title)}"]
    if detail:
        lines.append(_CONTROL.sub("", detail))
    return "\n".join(lines + _footer())


def _footer() -> list[str]:
    return [f"Health page: {settings.SITE_URL}/health/"] if settings.SITE_URL else []


def one_line(text: str) -> str:
    """Control characters and line breaks collapsed to single spaces (a header-safe line)."""
    return " ".join(_CONTROL.sub(" ", text).split())


def recipients() -> list[str]:
    """ALERT_EMAILS, or else the e-mail addresses of the active users in the admin group."""
    if settings.ALERT_EMAILS:
        return list(settings.ALERT_EMAILS)
    emails = (
        User.objects.filter(is_active=True, groups__name=roles.ADMIN)
        .exclude(email="")
        .order_by("email")
        .values_list("email", flat=True)
        .distinct()
    )
    return list(emails)


def send_email(subject: str, body: str) -> int:
    """One plain-text message to every recipient; 0 when nobody is configured."""
    to = recipients()
    if not to:
        log.warning("alert not e-mailed: no ALERT_EMAILS and no admin with an address")
        return 0
    return EmailMessage(subject, body, None, to).send()


def neutral(text: str) -> str:
    """Hostile text made inert for Slack, Mattermost and Teams message text (see module doc)."""
    text = _CONTROL.sub("", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("@", "@" + WORD_JOINER).replace("](", "]" + WORD_JOINER + "(")


def webhook_payload(text: str) -> dict[str, Any]:
    text = neutral(text)
    if settings.ALERT_WEBHOOK_FORMAT == "adaptive-card":
        return {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "content": {
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "body": [{"type": "TextBlock", "text": text, "wrap": True}],
                    },
                }
            ],
        }
    return {"text": text}


def post_webhook(text: str) -> None:
    """POST the message to ALERT_WEBHOOK_URL. Raises WebhookRejected (4xx), WebhookUnavailable
    (5xx) or a requests error (network)."""
    url = settings.ALERT_WEBHOOK_URL
    if not url:
        return
    response = requests.post(
        url, json=webhook_payload(text), timeout=settings.ALERT_WEBHOOK_TIMEOUT
    )
    if 400 <= response.status_code < 500:
        raise WebhookRejected(f"webhook answered {response.status_code}")
    if response.status_code >= 500:
        raise WebhookUnavailable(f"webhook answered {response.status_code}")


def deliver_now(subject: str, body: str, text: str) -> None:
    """E-mail and webhook from this process, each failure logged and swallowed."""
    try:
        send_email(subject, body)
    except Exception:
        log.exception("alert e-mail failed")
    try:
        post_webhook(text)
    except Exception:
        log.exception("alert webhook failed")
