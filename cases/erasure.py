"""Erasing one customer: every identity, every post, and their words wherever the desk quoted
them (replies, notes, events, QA reviews and coaching), in one transaction.

The cases stay as records, so counts, response times and QA scores keep adding up, but hold no
personal content: the customer is "Erased customer #<id>", identities lose handle, name, link
and network id, posts their text (as a removal with reason "erasure"), cases their subject.
A `CustomerErasure` row records who erased which customer id and when, never what.

Quoted words are found by the customer's handles (with or without "@"), names and post texts,
case-insensitively, within the customer's own cases and the QA rows about them, and replaced
with ERASED. A word of theirs paraphrased, not quoted, cannot be found this way.
"""

import re
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cases.models import Case, CaseEvent, Customer, CustomerErasure, Identity, Note, Reply
from listening.models import Mention, QuarantinedPost, Removal

ERASED = "[erased]"
# Shorter names and handles would match ordinary words ("al", "jo"): they are blanked where
# they are stored, but not searched for in other text.
MIN_QUOTED_LENGTH = 3


def do_erase_customer(customer: Customer, *, actor: User | None, via: str) -> CustomerErasure:
    """Erase `customer`'s personal content (see the module docstring) and record it.

    `actor` is the admin (None from the command line), `via` a CustomerErasure.Via value.
    Idempotent: erasing an erased customer finds nothing left and records it again.
    """
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        identities = list(Identity.objects.filter(customer=customer))
        case_ids = list(Case.objects.filter(customer=customer).values_list("pk", flat=True))
        posts = Mention.objects.filter(Q(author__in=identities) | Q(case_id__in=case_ids))
        pattern = _quoted_pattern(customer, identities, posts)
        now = timezone.now()

        _scrub_desk_text(case_ids, pattern)
        _scrub_qa_text(case_ids, pattern)
        _blank_quarantine(identities, posts)
        posts.update(
            text="",
            earlier_texts=[],
            url="",
            metrics={},
            deleted_at=now,
            removed_how=Removal.ERASURE,
        )
        Case.objects.filter(pk__in=case_ids).update(subject="", updated_at=now)
        for identity in identities:
            identity.handle = identity.name = identity.profile_url = ""
            identity.external_id = f"erased-{identity.pk}"
            identity.followers, identity.verified = 0, False
            identity.updated_at = now
        Identity.objects.bulk_update(
            identities,
            ["handle", "name", "profile_url", "external_id", "followers", "verified", "updated_at"],
        )
        customer.display_name = f"Erased customer #{customer.pk}"
        customer.save(update_fields=["display_name"])
        CaseEvent.objects.bulk_create(
            CaseEvent(case_id=case_id, kind=CaseEvent.Kind.CONTENT_ERASED, created_at=now)
            for case_id in case_ids
        )
        return CustomerErasure.objects.create(
            customer_id=customer.pk, erased_by=actor, via=via, erased_at=now
        )


def _quoted_pattern(
    customer: Customer, identities: list[Identity], posts: Any
) -> re.Pattern[str] | None:
    """One case-insensitive pattern for everything of theirs another text may quote; longest
    first, so a whole post goes before a handle inside it."""
    terms = {customer.display_name}
    for identity in identities:
        terms.update((identity.handle, identity.name))
    for text, earlier in posts.values_list("text", "earlier_texts"):
        terms.add(text)
        terms.update(e.get("text", "") for e in earlier or [] if isinstance(e, dict))
    words = sorted(
        (t.strip() for t in terms if isinstance(t, str) and len(t.strip()) >= MIN_QUOTED_LENGTH),
        key=len,
        reverse=True,
    )
    if not words:
        return None
    return re.compile("@?(?:" + "|".join(re.escape(w) for w in words) + ")", re.IGNORECASE)


def _scrub(value: Any, pattern: re.Pattern[str] | None) -> Any:
    """`value` with every quote replaced; into lists and dicts (JSON fields) as well."""
    if pattern is None:
        return value
    if isinstance(value, str):
        return pattern.sub(ERASED, value)
    if isinstance(value, list):
        return [_scrub(item, pattern) for item in value]
    if isinstance(value, dict):
        return {key: _scrub(item, pattern) for key, item in value.items()}
    return value


def _scrub_rows(rows: Iterable[Any], fields: list[str], pattern: re.Pattern[str] | None) -> None:
    """Replace quotes in `fields` of `rows`, saving only the rows that changed (in bulk)."""
    if pattern is None:
        return
    changed = []
    model = None
    for row in rows:
        model = type(row)
        dirty = False
        for name in fields:
            old = getattr(row, name)
            new = _scrub(old, pattern)
            if new != old:
                setattr(row, name, new)
                dirty = True
        if dirty:
            changed.append(row)
    if changed and model is not None:
        model.objects.bulk_update(changed, fields)


def _scrub_desk_text(case_ids: list[int], pattern: re.Pattern[str] | None) -> None:
    in_cases = Q(case_id__in=case_ids)
    _scrub_rows(
        Reply.objects.filter(in_cases), ["text", "override_reason", "error", "checks"], pattern
    )
    _scrub_rows(Note.objects.filter(in_cases), ["text"], pattern)
    _scrub_rows(CaseEvent.objects.filter(in_cases), ["data"], pattern)
    _scrub_rows(
        Case.objects.filter(pk__in=case_ids),
        ["triage_reason", "triage_decision_reason", "priority_reasons"],
        pattern,
    )


def _scrub_qa_text(case_ids: list[int], pattern: re.Pattern[str] | None) -> None:
    from qa.models import CoachingSession, CriterionScore, Review

    reviews = Review.objects.filter(case_id__in=case_ids)
    _scrub_rows(reviews, ["comment", "agent_comment", "dispute_resolution"], pattern)
    _scrub_rows(
        CriterionScore.objects.filter(review__in=reviews), ["comment", "auto_reason"], pattern
    )
    _scrub_rows(
        CoachingSession.objects.filter(reviews__in=reviews).distinct(),
        ["notes", "action_items"],
        pattern,
    )


def _blank_quarantine(identities: list[Identity], posts: Any) -> None:
    """Raw items held in the quarantine that are theirs: by post id, or naming their account."""
    ids = list(posts.values_list("external_id", flat=True))
    held = Q(external_id__in=ids) if ids else Q(pk__in=[])
    for identity in identities:
        if identity.external_id and not identity.external_id.startswith("erased-"):
            held |= Q(payload__contains=f'"{identity.external_id}"')
    QuarantinedPost.objects.filter(held).exclude(payload="").update(payload="")
