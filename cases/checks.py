"""Guideline checks on a reply while the agent types it: the composer's half of the safety net.

`run_checks` returns one `CheckResult` per check, always in the order of `CHECK_CODES`, each
"ok", "warn" or "block" with a message that says what to fix. Blocking results (over the
network's length, personal data in a public reply) need an override with a reason before the
reply can go out; warnings are advice. The results are stored on the Reply as sent (Reply.checks)
and pre-fill QA reviews, so the codes are a stable contract. Messages are in the active
language (the composer's panel speaks the agent's); the copy stored with a reply is made in the
desk's default language (cases.drafts.check_reply_draft), since QA's pre-scores read it:

    length        the network's limit, counted the way the network counts (X: weighted)
    spelling      spelling in the conversation's language (cases.spelling: pyspellchecker's
                  offline dictionaries, with an allow-list); not checked in a language it has
                  no dictionary for
    punctuation   capital at the start, an ending mark, no "!!", no shouting, comma spacing
    tone          hostile or curt wording; no empathy on an angry case (cases.wording's lists)
    personal_data e-mail, phone, card, IBAN or account numbers in a PUBLIC reply
    offline       no invitation to continue privately on a negative case

Everything here is pure text work plus the case's already-loaded fields (the channel's handle
and name and the customer's name are read through the case: select_related them). The composer
runs it on every debounced keystroke: it takes well under 5 ms for a 280-character reply once
the conversation language's dictionary is loaded (once per process, on first use).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from django.utils.formats import number_format
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from cases import spelling, wording
from cases.models import DeskSettings
from listening import radar
from listening.networks import (
    POLICIES,
    find_urls,
    is_emoji_modifier,
    is_pictographic,
    is_regional_indicator,
    x_weighted_length,
)

if TYPE_CHECKING:
    from cases.models import Case

OK = "ok"
WARN = "warn"
BLOCK = "block"

CHECK_CODES = ("length", "spelling", "punctuation", "tone", "personal_data", "offline")
CHECK_LABELS = {
    "length": _("Length"),
    "spelling": _("Spelling"),
    "punctuation": _("Punctuation"),
    "tone": _("Tone"),
    "personal_data": _("Personal data"),
    "offline": _("Offline invitation"),
}


@dataclass(frozen=True)
class CheckResult:
    code: str
    severity: str  # "block" | "warn" | "ok"
    message: str  # what to fix, shown to the agent

    def as_dict(self) -> dict[str, str]:
        """The shape stored in Reply.checks."""
        return {"code": self.code, "severity": self.severity, "message": self.message}


def run_checks(
    text: str,
    *,
    network: str,
    is_private: bool,
    case: Case | None,
    references: tuple[str, ...] | None = None,
) -> list[CheckResult]:
    """Every guideline check on `text` as a reply on `network`, in the order of CHECK_CODES.

    `references` are the words whose numbers stay out of public replies; by default the
    desk's settings (DeskSettings.public_reference_words).
    """
    text = unicodedata.normalize("NFC", text)
    if references is None:
        references = DeskSettings.load().reference_words
    return [
        check_length(text, network=network, is_private=is_private),
        check_spelling(text, case=case),
        check_punctuation(text),
        check_tone(text, case=case),
        check_personal_data(text, is_private=is_private, references=references),
        check_offline_invitation(text, is_private=is_private, case=case),
    ]


def blocking(results: list[CheckResult]) -> list[CheckResult]:
    """The results that stop a reply unless the agent overrides them with a reason."""
    return [result for result in results if result.severity == BLOCK]


def shown_checks(rows: list[dict], *, problems_only: bool = False) -> list[dict]:
    """Stored check rows (Reply.checks) as the composer and the approvals page show them:
    blocking first, then warnings, then passes; each with its label."""
    order = {BLOCK: 0, WARN: 1}
    shown = [
        {**row, "label": CHECK_LABELS.get(row.get("code", ""), row.get("code", ""))}
        for row in rows
        if isinstance(row, dict) and (not problems_only or row.get("severity") in order)
    ]
    return sorted(shown, key=lambda row: order.get(row.get("severity", ""), 2))


# ---------------------------------------------------------------------------------------------
# Shared text patterns

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}", re.IGNORECASE)
_HANDLE = re.compile(r"(?<![\w@])@\w{1,50}")
_HASHTAG = re.compile(r"(?<![\w#])#\w+")


def _blank_spans(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """`text` with each span replaced by spaces: later patterns see neither it nor its length."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def _without_entities(text: str) -> str:
    """`text` with links, e-mail addresses, @handles and #tags blanked out."""
    text = _blank_spans(text, find_urls(text))
    text = _blank_spans(text, (m.span() for m in _EMAIL.finditer(text)))
    text = _blank_spans(text, (m.span() for m in _HANDLE.finditer(text)))
    return _blank_spans(text, (m.span() for m in _HASHTAG.finditer(text)))


# ---------------------------------------------------------------------------------------------
# 1. Length

# twitter-text v3: code points in these ranges weigh 1, all others 2 (CJK, most emoji).


def _number(value: int) -> str:
    """A count with the language's thousands separator: "10,000", "10.000"."""
    return number_format(value, force_grouping=True)


def reply_length(text: str, *, network: str, is_private: bool) -> int:
    """The length of a reply as `network` counts it: weighted on X in public, else characters."""
    if network == "x" and not is_private:
        return x_weighted_length(text)
    return len(unicodedata.normalize("NFC", text))


def check_length(text: str, *, network: str, is_private: bool) -> CheckResult:
    """BLOCK over the network's limit; warn within the last 10% of it."""
    policy = POLICIES.get(network)
    if policy is None:
        return CheckResult(
            "length", OK, gettext("No length rule is known for network %s.") % repr(network)
        )
    limit = policy.private_reply_limit if is_private else policy.public_reply_limit
    length = reply_length(text, network=network, is_private=is_private)
    where = (
        gettext("%(network)s's %(limit)s-character limit for a private message")
        if is_private
        else gettext("%(network)s's %(limit)s-character limit for a public reply")
    ) % {"network": policy.label, "limit": _number(limit)}
    how = (
        " (" + gettext("links count as 23, emoji and CJK characters as 2") + ")"
        if (network == "x" and not is_private)
        else ""
    )
    if length > limit:
        over = length - limit
        fix = (
            gettext("shorten it.")
            if is_private or not policy.private_replies
            else gettext("shorten it or take it offline.")
        )
        message = ngettext(
            "%(count)s character over %(where)s%(how)s: %(fix)s",
            "%(count)s characters over %(where)s%(how)s: %(fix)s",
            over,
        )
        return CheckResult(
            "length",
            BLOCK,
            message % {"count": _number(over), "where": where, "how": how, "fix": fix},
        )
    if length > limit * 0.9:
        left = limit - length
        message = ngettext(
            "%(count)s character left of %(where)s%(how)s.",
            "%(count)s characters left of %(where)s%(how)s.",
            left,
        )
        return CheckResult(
            "length", WARN, message % {"count": _number(left), "where": where, "how": how}
        )
    return CheckResult(
        "length",
        OK,
        gettext("%(length)s of %(limit)s characters%(how)s.")
        % {"length": _number(length), "limit": _number(limit), "how": how},
    )


# ---------------------------------------------------------------------------------------------
# 2. Spelling

MAX_LISTED_WORDS = 5


def check_spelling(text: str, *, case: Case | None) -> CheckResult:
    """Warn about words the conversation language's dictionary does not know (at most five
    listed, with a suggestion each); a language with no dictionary is not checked."""
    language = spelling.spelling_language(case)
    if language is None:
        return CheckResult(
            "spelling",
            OK,
            gettext("Not checked: no dictionary for the conversation's language (%(language)s).")
            % {"language": case.language},
        )
    unknown = spelling.unknown_words(
        _without_entities(text), allowed=spelling.brand_words(case), language=language
    )
    if not unknown:
        return CheckResult("spelling", OK, gettext("No spelling mistakes found."))
    listed = []
    for word in unknown[:MAX_LISTED_WORDS]:
        suggestion = spelling.suggestion(word.lower(), language)
        listed.append(f'"{word}" ({suggestion}?)' if suggestion else f'"{word}"')
    more = len(unknown) - MAX_LISTED_WORDS
    words = ", ".join(listed)
    if more > 0:
        words += ngettext(" and %(count)s more word", " and %(count)s more words", more) % {
            "count": more
        }
    return CheckResult(
        "spelling", WARN, gettext("Check the spelling of %(words)s.") % {"words": words}
    )


# ---------------------------------------------------------------------------------------------
# 3. Punctuation and capitalisation

_LEADING_MENTIONS = re.compile(r"^(?:\s*@\w+[,:]?)+\s*")
_ENDING_MARK = re.compile(r"[.!?…][\"'’”)\]]*$")
# A signature at the very end: "^AB", "-Alice", "– Alice", "/AB", or a name after the last mark.
_SIGNATURE = re.compile(
    r"(?:(?:^|\s)(?:\^|[-–—~/])\s?[A-Z][A-Za-z]{0,19}"  # ^AL, -Alice, – Alice, /AB
    r"|[.!?…]\s+[A-Z][\w'-]{0,19}(?: [A-Z][\w'-]{0,19})?)$"  # "... today. Alice Smith"
)
_EMOTICON = re.compile(r"[:;]-?[)(DPp]$")
_TRAILING_TAGS = re.compile(r"(?:\s+#\w+)+$")
_PUNCT_RUN = re.compile(r"[!?]{2,}")
_COMMA_NO_SPACE = re.compile(r",(?=[^\s\d\"'’”)\]])")
_DOUBLE_SPACE = re.compile(r"(?<=\S) {2,}(?=\S)")
_CAPS_WORD = re.compile(r"\b[A-Z]{3,}\b")


def _ends_with_emoji(text: str) -> bool:
    codes = [ord(char) for char in text[-12:]]
    if not codes:
        return False
    last = codes[-1]
    return is_pictographic(last) or is_emoji_modifier(last) or is_regional_indicator(last)


def _word_around(text: str, position: int) -> str:
    """The run of non-space characters around `position`, at most 30 characters."""
    start = position
    while start > 0 and not text[start - 1].isspace() and position - start < 15:
        start -= 1
    end = position
    while end < len(text) and not text[end].isspace() and end - position < 15:
        end += 1
    return text[start:end]


def check_punctuation(text: str) -> CheckResult:
    """Warn about a lower-case start, a missing end mark, !!/?? runs, shouting, comma spacing."""
    body = _LEADING_MENTIONS.sub("", text).strip()
    if not body:
        return CheckResult("punctuation", OK, gettext("Nothing to check yet."))
    problems: list[str] = []
    if body[0].isalpha() and body[0].islower():
        first = body.split(maxsplit=1)[0]
        problems.append(
            gettext('start with a capital letter ("%(first)s" → "%(fixed)s")')
            % {"first": first, "fixed": first[0].upper() + first[1:]}
        )
    ending = _TRAILING_TAGS.sub("", body).rstrip()
    url_spans = find_urls(ending)
    ends_with_url = bool(url_spans) and url_spans[-1][1] == len(ending)
    if not (
        _ENDING_MARK.search(ending)
        or _EMOTICON.search(ending)
        or ends_with_url
        or _ends_with_emoji(ending)
        or _SIGNATURE.search(ending)
    ):
        problems.append(gettext("end with a full stop (or ! or ?)"))
    plain = _without_entities(body)
    runs = sorted({match.group() for match in _PUNCT_RUN.finditer(plain)})
    if runs:
        problems.append(
            gettext("use a single ! or ? instead of %(runs)s")
            % {"runs": ", ".join(f'"{r}"' for r in runs)}
        )
    caps = [word for word in _CAPS_WORD.findall(plain) if len(word) >= 5]
    caps_all = _CAPS_WORD.findall(plain)
    if caps or len(caps_all) >= 3:
        shown = ", ".join(f'"{word}"' for word in (caps or caps_all)[:3])
        problems.append(
            gettext("avoid capitals for emphasis (%(words)s): it reads as shouting")
            % {"words": shown}
        )
    comma = _COMMA_NO_SPACE.search(plain)
    if comma:
        problems.append(
            gettext('add a space after the comma in "%(word)s"')
            % {"word": _word_around(body, comma.start())}
        )
    if _DOUBLE_SPACE.search(body):
        problems.append(gettext("remove the double space"))
    if not problems:
        return CheckResult("punctuation", OK, gettext("Punctuation and capitals look right."))
    message = "; ".join(problems)
    return CheckResult("punctuation", WARN, message[0].upper() + message[1:] + ".")


# ---------------------------------------------------------------------------------------------
# 4. Tone


def _is_escalated(case: Case) -> bool:
    return case.triage_decision == "escalate" or (
        not case.triage_decision and case.triage_suggestion == "escalate"
    )


def is_angry(case: Case | None) -> bool:
    """Strongly negative, or escalated: the reply must acknowledge the customer's feelings."""
    return case is not None and (radar.is_angry(case.sentiment) or _is_escalated(case))


def check_tone(text: str, *, case: Case | None) -> CheckResult:
    """Warn about hostile or curt wording, and about no empathy on an angry case."""
    body = _LEADING_MENTIONS.sub("", text).strip()
    if not body:
        return CheckResult("tone", OK, gettext("Nothing to check yet."))
    language = case.language if case is not None else ""
    problems: list[str] = []
    found: dict[str, str] = {}  # normalised -> as typed
    for match in wording.hostile_pattern(language).finditer(body):
        found.setdefault(match.group().strip(" .!,").lower(), match.group().strip())
    bare = re.sub(r"[^\w\s']", "", body).strip()
    if bare.lower() in wording.curt_replies(language):
        found.setdefault(bare.lower(), body)
    if found:
        quoted = ", ".join(f'"{phrase}"' for phrase in list(found.values())[:5])
        problems.append(
            gettext("rephrase %(phrases)s: it reads as hostile or curt") % {"phrases": quoted}
        )
    lowered = body.lower()
    if (
        is_angry(case)
        and wording.known_language(language)
        and not any(phrase in lowered for phrase in wording.empathy_phrases())
    ):
        example = wording.examples_for(language).empathy_example
        problems.append(
            gettext("the customer is upset: acknowledge it first (e.g. %(example)s)")
            % {"example": example}
        )
    if not problems:
        return CheckResult("tone", OK, gettext("Tone looks friendly."))
    message = "; ".join(problems)
    return CheckResult("tone", WARN, message[0].upper() + message[1:] + ".")


# ---------------------------------------------------------------------------------------------
# 5. Personal data in a public reply

# Role addresses are the brand's, not a person's: "email us at support@acme.com" is fine.
# fmt: off
ROLE_MAILBOXES = frozenset({
    "support", "help", "care", "service", "customerservice", "customercare", "customer.care",
    "customer.service", "info", "contact", "hello", "team", "press", "privacy", "complaints",
    "feedback", "sales", "billing", "noreply", "no-reply", "social", "socialcare",
})
# fmt: on
# The brand's own line: toll-free numbers, or a number right after "call us" and the like.
_TOLL_FREE = re.compile(
    r"^\+?(?:1[\s.-]?)?\(?8(?:00|33|44|55|66|77|88)\)?|^0800|^0808|^\+?44\s?800"
)
_BRAND_LINE_BEFORE = re.compile(
    r"(?:call|ring|phone|text|reach|contact)\s+us\b|hotline|helpline|\bour\s+(?:\w+\s+)?"
    r"(?:number|line)\b|llámanos|appelez-nous|rufen\s+sie\s+uns",
    re.IGNORECASE,
)
_CARD = re.compile(r"(?<![\d+-])\d(?:[ -]?\d){12,18}(?![\d-])")
_PHONE = re.compile(r"(?<![\w+/#])(?:\+\d|\(\d|\d)[\d ().-]{7,}\d(?!\w)")
_NOT_A_PHONE_BEFORE = re.compile(
    r"(?:#|\b(?:order|ref|reference|case|ticket|tracking|invoice|parcel|pedido|commande|"
    r"bestellung)(?:\s+(?:number|no\.?|nr\.?|id))?)\s*[:#]?\s*$",
    re.IGNORECASE,
)
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
_ACCOUNT = re.compile(
    r"\b(?:account|acct|a/c|cuenta|konto|compte|conta)\b"
    r"(?:\s+(?:number|no\.?|nr\.?|n[uú]mero|nummer|num[ée]ro|id|is|ending(?:\s+in)?))*"
    r"\s*[:#]?\s*(\d[\d -]{4,}\d)",
    re.IGNORECASE,
)


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number satisfies."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _ending(digits: str) -> str:
    return gettext("ending %(digits)s") % {"digits": digits[-4:]}


@lru_cache(maxsize=16)
def _reference_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    """A reference word (plural too), an optional "number"/"no."/"ref", then the reference."""
    alternatives = "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))
    return re.compile(
        rf"\b(?P<word>{alternatives})s?\b"
        r"(?:\s+(?:number|no\.?|nr\.?|id|ref(?:erence)?|code))?\s*[:#]?\s*"
        r"(?P<ref>[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)",
        re.IGNORECASE,
    )


def find_personal_data(text: str, references: tuple[str, ...] = ()) -> list[str]:
    """A description of each piece of personal data in `text` (masked: safe to store).

    `references` are words ("order", "booking") whose numbers count too: a reference names the
    customer's order or account to everyone who reads a public reply.
    """
    found: list[tuple[int, str]] = []  # (position, description)
    taken: list[tuple[int, int]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    scan = _blank_spans(text, find_urls(text))
    for match in _EMAIL.finditer(scan):
        taken.append(match.span())
        local, _at, domain = match.group().partition("@")
        before = scan[max(0, match.start() - 30) : match.start()]
        if local.lower() in ROLE_MAILBOXES or re.search(r"e-?mail\s+us", before, re.I):
            continue
        masked = f"{local[:1]}…@{domain}"
        found.append((match.start(), gettext("e-mail address %(masked)s") % {"masked": masked}))
    for match in _IBAN.finditer(scan):
        compact = match.group().replace(" ", "")
        if 15 <= len(compact) <= 34 and sum(c.isdigit() for c in compact) >= 10:
            taken.append(match.span())
            found.append((match.start(), f"IBAN {compact[:2]}… {_ending(compact)}"))
    for match in _CARD.finditer(scan):
        digits = _digits(match.group())
        if free(*match.span()) and 13 <= len(digits) <= 19 and luhn_valid(digits):
            taken.append(match.span())
            found.append(
                (match.start(), gettext("card number %(ending)s") % {"ending": _ending(digits)})
            )
    for match in _ACCOUNT.finditer(scan):
        digits = _digits(match.group(1))
        if free(*match.span(1)) and len(digits) >= 6:
            taken.append(match.span(1))
            found.append(
                (
                    match.start(1),
                    gettext("account number %(ending)s") % {"ending": _ending(digits)},
                )
            )
    if references:
        for match in _reference_pattern(references).finditer(scan):
            reference = match.group("ref")
            if free(*match.span("ref")) and sum(char.isdigit() for char in reference) >= 3:
                taken.append(match.span("ref"))
                word = match.group("word").lower()
                found.append(
                    (
                        match.start(),
                        gettext("%(word)s reference %(ending)s")
                        % {"word": word, "ending": _ending(reference)},
                    )
                )
    for match in _PHONE.finditer(scan):
        raw = match.group()
        digits = _digits(raw)
        if not free(*match.span()) or not 9 <= len(digits) <= 15:
            continue
        if not (raw.startswith("+") or re.search(r"[ ().-]", raw)):
            continue  # a bare run of digits is an order or reference number
        before = scan[max(0, match.start() - 30) : match.start()]
        if _NOT_A_PHONE_BEFORE.search(before):
            continue
        if _TOLL_FREE.search(raw) or _BRAND_LINE_BEFORE.search(before):
            continue
        taken.append(match.span())
        found.append(
            (match.start(), gettext("phone number %(ending)s") % {"ending": _ending(digits)})
        )
    return [description for _position, description in sorted(found)]


def _join(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return gettext("%(items)s and %(last)s") % {"items": ", ".join(items[:-1]), "last": items[-1]}


def check_personal_data(
    text: str, *, is_private: bool, references: tuple[str, ...] = ()
) -> CheckResult:
    """BLOCK e-mail addresses, phone, card, IBAN and account numbers, and the desk's reference
    words with their numbers ("order #835070"), in a public reply."""
    if is_private:
        return CheckResult(
            "personal_data",
            OK,
            gettext("Private reply: personal details stay out of public view."),
        )
    found = find_personal_data(text, references)
    if not found:
        return CheckResult("personal_data", OK, gettext("No personal data found."))
    return CheckResult(
        "personal_data",
        BLOCK,
        gettext(
            "Remove the %(found)s from this public reply, or take the conversation offline and "
            "send it privately."
        )
        % {"found": _join(found)},
    )


# ---------------------------------------------------------------------------------------------
# 6. Invitation to continue offline


def is_negative(case: Case | None) -> bool:
    """Unhappy, urgent or escalated: the conversation should move out of public view."""
    if case is None:
        return False
    urgent = any(str(reason).startswith("urgency") for reason in case.priority_reasons or ())
    return radar.is_negative(case.sentiment) or urgent or _is_escalated(case)


def check_offline_invitation(text: str, *, is_private: bool, case: Case | None) -> CheckResult:
    """Warn when a public reply on a negative case does not invite the customer to go private."""
    if is_private:
        return CheckResult("offline", OK, gettext("Already a private conversation."))
    if not is_negative(case):
        return CheckResult("offline", OK, gettext("Not needed: the case is not negative."))
    language = case.language if case is not None else ""
    if wording.offline_pattern().search(text):
        return CheckResult("offline", OK, gettext("Invites the customer to continue privately."))
    if not wording.known_language(language):
        return CheckResult(
            "offline",
            OK,
            gettext("Not checked: no wording list for the conversation's language (%(language)s).")
            % {"language": language},
        )
    example = wording.examples_for(language).offline_example
    return CheckResult(
        "offline",
        WARN,
        gettext(
            "The customer is unhappy: invite them to continue privately (e.g. %(example)s) "
            "or use Take offline."
        )
        % {"example": example},
    )
