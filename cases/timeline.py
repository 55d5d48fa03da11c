"""The case's timeline: customer posts, our replies, internal notes and events, by time.

The case page shows it, refreshes it alone (cases:timeline) when a reply is sent or others act
on the case, and the QA review page shows it read-only around the reply being scored.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from cases.models import Case, CaseEvent, CaseStatus, Moderation, Note, Reply, Triage
from cases.moderation import DOING, WHAT
from listening.models import SOURCE_REMOVALS, Mention, Removal
from listening.networks import POLICIES, can_hide


@dataclass(frozen=True)
class TimelineItem:
    kind: str  # "mention" | "reply" | "note" | "event"
    at: datetime
    obj: Any


def safe_url(url: str) -> str:
    """The URL if it is plain http(s), else "" (network data could carry javascript: links)."""
    return url if url.lower().startswith(("https://", "http://")) else ""


# The other reply events as a sentence after the actor ("SocialDesk posted the reply").
REPLY_EVENTS = {
    CaseEvent.Kind.REPLY_SENT: _("posted the reply"),
    CaseEvent.Kind.REPLY_FAILED: _("could not send the reply"),
    CaseEvent.Kind.REPLY_APPROVED: _("approved a reply"),
    CaseEvent.Kind.CHECK_OVERRIDDEN: _("overrode a guideline check"),
    CaseEvent.Kind.REPLY_DELETED: _("deleted a reply from the network"),
}


def describe_event(event: CaseEvent) -> str:
    """One line for the timeline, without the actor (the template names them), in the active
    language."""
    data = event.data if isinstance(event.data, dict) else {}
    kind = event.kind
    if kind == CaseEvent.Kind.ASSIGNED:
        who = data.get("assignee") or gettext("someone")
        if data.get("auto"):
            return gettext("auto-assigned to %(who)s") % {"who": who}
        return gettext("assigned the case to %(who)s") % {"who": who}
    if kind == CaseEvent.Kind.UNASSIGNED:
        who = data.get("previous")
        return (
            gettext("unassigned %(who)s") % {"who": who} if who else gettext("unassigned the case")
        )
    if kind == CaseEvent.Kind.STATUS:
        labels = dict(CaseStatus.choices)
        old, new = data.get("from", ""), data.get("to", "")
        return gettext("changed the status from %(old)s to %(new)s") % {
            "old": labels.get(old, old),
            "new": labels.get(new, new),
        }
    if kind == CaseEvent.Kind.TRIAGE:
        decision = dict(Triage.choices).get(data.get("decision", ""), data.get("decision", ""))
        text = gettext("decided: %(decision)s") % {"decision": decision}
        suggestion = data.get("suggestion")
        if suggestion and suggestion != data.get("decision"):
            text += " (%s)" % (
                gettext("the radar suggested %(suggestion)s")
                % {"suggestion": dict(Triage.choices).get(suggestion, suggestion)}
            )
        return text
    if kind == CaseEvent.Kind.LABELS:
        parts = []
        if data.get("added"):
            parts.append(gettext("added %(labels)s") % {"labels": ", ".join(data["added"])})
        if data.get("removed"):
            parts.append(gettext("removed %(labels)s") % {"labels": ", ".join(data["removed"])})
        if not parts:
            return gettext("changed the labels")
        return gettext("labels: %(changes)s") % {"changes": "; ".join(parts)}
    if kind == CaseEvent.Kind.SNOOZED:
        until = parse_datetime(str(data.get("until", "")))
        if until:
            local = timezone.localtime(until)
            return gettext("snoozed the case until %(until)s") % {
                "until": date_format(local, "D j M H:i")
            }
        return gettext("snoozed the case")
    if kind == CaseEvent.Kind.REPLY_QUEUED:
        # A reply on a high-risk case waits for a supervisor: it is not queued to go out yet.
        if data.get("awaiting_approval"):
            return gettext("sent a reply for approval")
        return gettext("queued a reply")
    if kind in REPLY_EVENTS:
        return str(REPLY_EVENTS[kind])
    if kind in (CaseEvent.Kind.COMMENT_HIDDEN, CaseEvent.Kind.COMMENT_SHOWN):
        hidden = kind == CaseEvent.Kind.COMMENT_HIDDEN
        if data.get("source"):
            text = (
                gettext("hid a comment on %(network)s")
                if hidden
                else gettext("showed a comment again on %(network)s")
            )
            return text % {"network": data["source"]}
        return gettext("hid a comment") if hidden else gettext("showed a comment again")
    if kind == CaseEvent.Kind.MODERATION_FAILED:
        what = WHAT.get(data.get("action"), _("change the post"))
        return gettext("could not %(what)s on the network") % {"what": what}
    if kind == CaseEvent.Kind.POST_EDITED:
        return gettext("noted that the customer edited their post")
    if kind == CaseEvent.Kind.POST_DELETED:
        how = Removal(data["how"]).label if data.get("how") in Removal.values else ""
        how = str(how)
        noticed = f" ({how[0].lower()}{how[1:]})" if how else ""
        return gettext("removed the text of a post its author deleted") + noticed
    if kind == CaseEvent.Kind.CONTENT_ERASED:
        return gettext("erased the customer's personal content")
    if kind == CaseEvent.Kind.TRANSFERRED:
        if data.get("from"):
            return gettext("transferred the case from %(old)s to %(new)s") % {
                "old": data["from"],
                "new": data.get("to") or gettext("another team"),
            }
        return gettext("transferred the case to %(new)s") % {
            "new": data.get("to") or gettext("another team")
        }
    if kind == CaseEvent.Kind.SURVEY_QUEUED:
        return gettext("sent the customer a satisfaction survey")
    if kind == CaseEvent.Kind.SURVEY_SKIPPED:
        why = data.get("why")
        if isinstance(why, str) and why:
            return gettext("did not send a satisfaction survey: %(why)s") % {"why": gettext(why)}
        return gettext("did not send a satisfaction survey")
    if kind == CaseEvent.Kind.SURVEY_ANSWERED:
        return gettext("recorded the customer's satisfaction score: %(score)s out of 5") % {
            "score": data.get("score", "?")
        }
    return event.get_kind_display().lower()


def event_detail(event: CaseEvent) -> str:
    """The free text an event carries (a triage reason, an error, an override reason)."""
    data = event.data if isinstance(event.data, dict) else {}
    for key in ("reason", "error", "override_reason", "message", "note"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def removal_wording(mention: Mention) -> str:
    """Why a removed post shows no text, after its badge (the template says who removed it);
    "" while it has its text."""
    if mention.deleted_at is None:
        return ""
    when = {"when": date_format(timezone.localtime(mention.deleted_at), "j M Y, H:i")}
    if mention.removed_how == Removal.RETENTION:
        return (
            gettext("Its text was removed on %(when)s: older than the desk keeps customer posts.")
            % when
        )
    if mention.removed_how == Removal.ERASURE:
        return gettext("Its text was erased on %(when)s at the customer's request.") % when
    if mention.removed_how in SOURCE_REMOVALS or not mention.removed_how:
        return gettext("Its text was removed on %(when)s, as the network's terms require.") % when
    return gettext("Its text was removed on %(when)s.") % when


def earlier_versions(mention: Mention) -> list[dict[str, Any]]:
    """The post's earlier texts, newest first, each with when it was replaced (a datetime or
    None); removed posts keep only the times."""
    versions = []
    for entry in reversed(mention.earlier_texts or []):
        if not isinstance(entry, dict):
            continue
        text = entry.get("text")
        versions.append(
            {
                "text": text if isinstance(text, str) else "",
                "until": parse_datetime(str(entry.get("until") or "")),
            }
        )
    return versions


def build_timeline(
    mentions: list[Mention], replies: list[Reply], notes: list[Note], events: list[CaseEvent]
) -> list[TimelineItem]:
    """Customer posts, our replies, internal notes and events, merged by time (stable)."""
    items = [TimelineItem("mention", m.posted_at, m) for m in mentions]
    items += [TimelineItem("reply", r.created_at, r) for r in replies]
    items += [TimelineItem("note", n.created_at, n) for n in notes]
    items += [TimelineItem("event", e.created_at, e) for e in events]
    order = {"mention": 0, "reply": 1, "note": 2, "event": 3}
    items.sort(key=lambda item: (item.at, order[item.kind], item.obj.pk))
    return items


def retry_url(reply_id: int) -> str:
    """The composer's retry URL for a failed reply, or "" while that view does not exist."""
    try:
        return reverse("cases:retry", args=[reply_id])
    except NoReverseMatch:
        return ""


def timeline_context(request: HttpRequest, case: Case) -> dict[str, Any]:
    """The timeline and what it is made of: five queries whatever its length (four
    without customer posts)."""
    mentions = list(
        Mention.objects.filter(case=case)
        .select_related("author")
        .prefetch_related("media")
        .order_by("posted_at", "id")
    )
    replies = list(
        Reply.objects.filter(case=case).select_related("author", "approved_by").order_by("id")
    )
    notes = list(Note.objects.filter(case=case).select_related("author"))
    events = list(CaseEvent.objects.filter(case=case).select_related("actor"))
    moderations = list(
        Moderation.objects.filter(case=case).select_related("requested_by").order_by("id")
    )
    can_reply = request.user.has_perm("cases.add_reply")
    # A reply that failed unconfirmed may be on the network: only a supervisor may risk it.
    can_risk = can_reply and request.user.has_perm("cases.approve_reply")
    for mention in mentions:
        mention.safe_url = safe_url(mention.url)
        mention.removal = removal_wording(mention)
        mention.versions = earlier_versions(mention)
    # A reply to a post its author deleted can never be sent: no retry to offer.
    removed = {mention.pk for mention in mentions if mention.deleted_at}
    for reply in replies:
        may_retry = (can_risk if reply.unconfirmed else can_reply) and (
            reply.in_reply_to_id not in removed
        )
        reply.retry_url = (
            retry_url(reply.pk) if reply.state == Reply.State.FAILED and may_retry else ""
        )
    for event in events:
        event.summary = describe_event(event)
        event.detail = event_detail(event)
    survey = survey_summary(events, mentions, replies)
    _attach_moderation(request, case, mentions, replies, moderations)
    return {
        "case": case,
        "mentions": mentions,
        "replies": replies,
        "timeline": build_timeline(mentions, replies, notes, events),
        "can_reply": can_reply,
        "survey": survey,
        # Who still sees a comment the brand hid on this network.
        "hidden_from_all_but": getattr(
            POLICIES.get(case.channel.network), "hidden_from_all_but", "its author"
        ),
    }


def survey_summary(
    events: list[CaseEvent], mentions: list[Mention], replies: list[Reply]
) -> dict[str, Any] | None:
    """The case's satisfaction survey (csat) as its events tell it, without a query: its
    state, why it was not sent, its reply (marked `is_survey` for the timeline), the score and
    the customer's comment (from the answer's text as stored; gone when the post is). None
    when the case has no survey."""
    from csat.answers import comment_of  # csat builds on cases

    summary: dict[str, Any] | None = None
    by_id = {mention.pk: mention for mention in mentions}
    replies_by_id = {reply.pk: reply for reply in replies}
    for event in events:
        data = event.data if isinstance(event.data, dict) else {}
        if event.kind == CaseEvent.Kind.SURVEY_SKIPPED:
            summary = {"state": "skipped", "why": gettext(str(data.get("why", ""))), "at": event}
        elif event.kind == CaseEvent.Kind.SURVEY_QUEUED:
            reply = replies_by_id.get(data.get("reply_id"))
            summary = {"state": "queued", "reply": reply, "at": event}
        elif event.kind == CaseEvent.Kind.SURVEY_ANSWERED:
            answer = by_id.get(data.get("mention_id"))
            text = answer.text if answer is not None and answer.deleted_at is None else ""
            event.comment = comment_of(text)
            event.score = data.get("score")
            summary = (summary or {}) | {
                "state": "answered",
                "score": event.score,
                "comment": event.comment,
            }
            summary["answered"] = event
    for reply in replies:
        reply.is_survey = bool(summary and summary.get("reply") is reply)
    return summary


def _attach_moderation(
    request: HttpRequest,
    case: Case,
    mentions: list[Mention],
    replies: list[Reply],
    moderations: list[Moderation],
) -> None:
    """Give each post its latest change on the network (`moderation`, or None) and whether it
    may be hidden or deleted at all; each change what the timeline says of it."""
    may = {
        Moderation.Action.HIDE: request.user.has_perm("cases.hide_comment"),
        Moderation.Action.DELETE: request.user.has_perm("cases.delete_published_reply"),
    }
    may[Moderation.Action.UNHIDE] = may[Moderation.Action.HIDE]
    by_mention, by_reply = {}, {}
    for row in moderations:  # oldest first: the latest wins
        row.doing, row.what = DOING[row.action], WHAT[row.action]
        row.may_retry = may[row.action] and request.user.has_perm("cases.change_case")
        if row.mention_id:
            by_mention[row.mention_id] = row
        else:
            by_reply[row.reply_id] = row
    network = case.channel.network

    def offer_change(row: Moderation | None) -> bool:
        # Not while a change is under way, nor beside a failed one's own "Try again".
        if row is None:
            return True
        return not (row.is_active or (row.state == Moderation.State.FAILED and row.may_retry))

    for mention in mentions:
        mention.moderation = by_mention.get(mention.pk)
        mention.offer_change = offer_change(mention.moderation)
        mention.hideable = (
            can_hide(network, mention.kind) and not mention.is_private and not mention.deleted_at
        )
    for reply in replies:
        reply.moderation = by_reply.get(reply.pk)
        reply.offer_change = offer_change(reply.moderation)
        reply.deletable = (
            reply.state == Reply.State.SENT
            and bool(reply.external_id)
            and not reply.is_private
            and reply.deleted_at is None
        )
