"""The composer's send rules: what a draft must pass before it is queued for the sender.

The same guideline checks the composer shows while the agent types (cases.checks) are run again
on the server; a blocking one must be fixed, or overridden with a reason; a colleague's reply
since the draft was opened must be confirmed. The sender (cases.sending) takes over once the
reply is queued and needs none of this.
"""

from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import translation

from cases import checks, presence
from cases.models import Case, Reply


class DraftRefused(ValueError):
    """A draft that may not be queued as it stands. The message says why, for the agent
    ("" when `collisions` is the reason); `results` are the checks it was judged by."""

    def __init__(
        self, message: str, *, results: list | None = None, collisions: list[Reply] | None = None
    ) -> None:
        super().__init__(message)
        self.results = results
        self.collisions = collisions or []


def draft_checks(case: Case, text: str, *, is_private: bool) -> list:
    """The guideline checks (cases.checks) of a draft; none for an empty box (nothing to judge
    yet). `case` has its channel and customer loaded."""
    if not text:
        return []
    return checks.run_checks(text, network=case.channel.network, is_private=is_private, case=case)


def check_reply_draft(
    case: Case,
    text: str,
    *,
    author: Any,
    is_private: bool,
    override: bool,
    override_reason: str,
    opened_at: datetime,
    confirm_collision: bool,
) -> list:
    """The guideline checks of a draft about to be queued, when it may go: raises DraftRefused
    when the box is empty, when a blocking check is neither overridden nor explained, or when
    a colleague replied on the case since `opened_at` and the author has not confirmed.

    The same checks the composer showed while typing (cases.checks), run again on the server.
    `case` has its channel and customer loaded (the checks read them).
    """
    if not text:
        raise DraftRefused("Write a reply first: the box is empty.")
    # These results are stored with the reply (Reply.checks) and read by QA: in the desk's
    # default language, whatever the author's.
    with translation.override(settings.LANGUAGE_CODE):
        results = draft_checks(case, text, is_private=is_private)
    blocking = checks.blocking(results)
    if blocking and not (override and override_reason):
        what = "; ".join(result.message for result in blocking)
        how = (
            "write why you override them"
            if override
            else "fix them or tick “Override” and write why"
        )
        raise DraftRefused(f"Not sent. Blocking checks: {what}. Please {how}.", results=results)
    if not confirm_collision:
        collisions = presence.replies_since(case, opened_at, exclude_user=author)
        if collisions:
            raise DraftRefused("", results=results, collisions=collisions)
    return results
