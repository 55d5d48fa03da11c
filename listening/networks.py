"""Each network's terms and norms as data: read by the composer, the sender and the docs."""

import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class NetworkPolicy:
    network: str
    label: str
    public_reply_limit: int
    private_reply_limit: int
    length_rule: str
    private_replies: bool
    private_window: timedelta | None
    private_window_rule: str
    private_reply_to_comment_window: timedelta | None
    rate_limits: str
    deletion_duty: str
    norms: tuple[str, ...]
    # The kinds of customers' posts (MentionKind values) the brand may hide from everyone but
    # their author and show again; none where the network offers brands no such thing.
    can_hide_comments: tuple[str, ...] = ()
    # Who still sees a hidden comment there (the hide button says so).
    hidden_from_all_but: str = "its author"
    # Whether the brand's public replies can be deleted from the desk.
    can_delete_replies: bool = True
    # What the network calls a private conversation ("DM", "Messenger").
    private_label: str = "DM"
    # Whether the brand may answer a post that tags or mentions it, in public or with a private
    # reply (Instagram: neither on others' media; only the customer can open a DM).
    replies_to_tags: bool = True
    # How long after the customer's last private message the desk may send them a
    # satisfaction survey (csat): the network's own window where it has one. None: never.
    survey_window: timedelta | None = None
    survey_window_rule: str = ""


X = NetworkPolicy(
    network="x",
    label="X",
    public_reply_limit=280,
    private_reply_limit=10000,
    length_rule=(
        "280 weighted characters: every URL counts as 23, and CJK characters and most "
        "emoji count as 2."
    ),
    private_replies=True,
    private_window=None,
    private_window_rule="A DM needs the customer to follow the brand or to have open DMs.",
    private_reply_to_comment_window=None,
    rate_limits=(
        "Mentions timeline: 450 requests / 15 min per app; recent search: 450 / 15 min; "
        "posting: 100 / 15 min per user. Reads and posts are billed per use."
    ),
    deletion_duty=(
        "When a post is deleted on X, delete its text from our copy too (Developer "
        "Agreement: keep stored content in sync with X)."
    ),
    norms=(
        "Reply in the thread, addressed to the customer; no mass @-mentions.",
        "Move personal details (order numbers, addresses) to a DM.",
        "Sign short replies with the agent's initials if the team does so.",
    ),
    # X sets no DM window, but its automation rules allow an automated DM only where the
    # customer asked to be contacted: the desk keeps to the conversation they just had.
    survey_window=timedelta(hours=24),
    survey_window_rule=(
        "X sets no DM window; an automated DM must follow a conversation the customer "
        "started, so a survey goes only within 24 hours of their last DM."
    ),
)

FACEBOOK = NetworkPolicy(
    network="facebook",
    label="Facebook",
    public_reply_limit=8000,
    private_reply_limit=2000,
    length_rule="Comments up to 8,000 characters; Messenger texts up to 2,000.",
    private_replies=True,
    private_window=timedelta(hours=24),
    private_window_rule=(
        "Messenger: reply within 24 hours of the customer's last message (standard window)."
    ),
    private_reply_to_comment_window=timedelta(days=7),
    rate_limits="Page rate limits scale with page engagement; Graph returns error 32 or 4.",
    deletion_duty="Remove content deleted by its author on Facebook (Platform Terms).",
    norms=(
        "Reply to the comment, not as a new post on the page.",
        "One private reply per comment, within 7 days: use it to take the case offline.",
        "Hide, don't delete, abusive comments unless they break the page's rules.",
    ),
    # Graph: POST /{comment-id} is_hidden=true|false, by the page on comments under its posts.
    can_hide_comments=("comment",),
    hidden_from_all_but="its author and their friends",
    private_label="Messenger",
    survey_window=timedelta(hours=24),
    survey_window_rule="Messenger's standard window: 24 hours after the customer's last message.",
)

INSTAGRAM = NetworkPolicy(
    network="instagram",
    label="Instagram",
    public_reply_limit=2200,
    private_reply_limit=1000,
    length_rule="Comment replies up to 2,200 characters; Instagram direct messages up to 1,000.",
    private_replies=True,
    private_window=timedelta(hours=24),
    private_window_rule=(
        "Instagram DMs: reply within 24 hours of the customer's last message (standard window)."
    ),
    private_reply_to_comment_window=timedelta(days=7),
    rate_limits=(
        "Graph API: 200 calls per hour per Instagram account (times its impressions); "
        "messaging: about 100 messages per second per account. Graph returns error 4, 17 or "
        "32 when a limit is reached."
    ),
    deletion_duty=(
        "Remove content deleted by its author on Instagram (Meta Platform Terms: keep stored "
        "data in sync and delete it when the user does)."
    ),
    norms=(
        "Reply under the comment you answer: Instagram keeps one level of replies.",
        "One private reply per comment, within 7 days: use it to take the case offline.",
        "Media the brand is tagged or mentioned in takes neither comments nor private replies: "
        "help once the customer writes to the brand.",
        "Hide, don't delete, abusive comments unless they break the account's rules.",
    ),
    # Graph: POST /{ig-comment-id} hide=true|false, on comments on the account's own media.
    can_hide_comments=("comment",),
    private_label="Instagram DM",
    replies_to_tags=False,
    survey_window=timedelta(hours=24),
    survey_window_rule="Instagram's standard window: 24 hours after the customer's last message.",
)

# Every network the desk speaks, in the order pages list them. One list: filters, the
# guidelines page, the composer and the QA strata read it (and `listening.models.Network`).
POLICIES = {policy.network: policy for policy in (X, FACEBOOK, INSTAGRAM)}


def can_hide(network: str, kind: str) -> bool:
    """Whether the brand may hide a customer's post of `kind` on `network` (and show it again)."""
    policy = POLICIES.get(network)
    return policy is not None and kind in policy.can_hide_comments


# ---- How X counts a post (twitter-text v3) --------------------------------------------------

# A URL with a scheme runs to the next space; trailing punctuation is not part of it (as on X).
# Directional marks and non-characters end a URL too: X counts them as text around it.
_NOT_IN_URL = '\\s<>"\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\ufffe\uffff'
_SCHEME_URL = rf"https?://[^{_NOT_IN_URL}]+"
# Without a scheme X links a domain with a generic TLD anywhere, and one with a country TLD only
# when a path follows (twitter-text's rule, with a shorter TLD list).
_GENERIC_TLDS = (
    "com|net|org|info|biz|edu|gov|app|dev|shop|store|online|site|xyz|help|support|co|tv|io|ai|me"
)
_COUNTRY_TLDS = (
    "uk|de|fr|es|it|nl|be|ch|at|se|no|dk|fi|ie|pt|pl|cz|us|ca|au|nz|jp|cn|kr|in|br|mx|ar|cl|"
    "za|eu|ly|gl|gg|to|fm|ru|tr"
)
_LABEL = r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+"
_BARE_URL = (
    r"(?<![\w@.\-/])(?:www\.)?"
    + _LABEL
    + rf"(?:(?:{_GENERIC_TLDS})(?::\d{{1,5}})?(?:/[^{_NOT_IN_URL}]*)?"
    + rf"|(?:{_COUNTRY_TLDS})(?::\d{{1,5}})?/[^{_NOT_IN_URL}]*)(?![\w@])"
)
_URL = re.compile(rf"{_SCHEME_URL}|{_BARE_URL}", re.IGNORECASE)
_URL_TRAILING = ".,:;!?'\"’”"
# twitter-text: the whole URL, its host in punycode and "https://" if it has no scheme.
_MAX_URL_LENGTH = 4096
_HOST = re.compile(r"^(?:https?://)?([^/?#:]*)", re.IGNORECASE)


def _is_valid_url(url: str) -> bool:
    """X links a URL only if its host is a valid domain name (RFC 3490: each label, once in
    punycode, 1 to 63 characters) and it is at most 4,096 characters long."""
    host = _HOST.match(url).group(1)
    try:
        ascii_host = host.encode("idna")
    except UnicodeError:  # an empty label, or one too long
        return False
    scheme = "" if url.lower().startswith(("http://", "https://")) else "https://"
    return len(scheme) + len(url) - len(host) + len(ascii_host) <= _MAX_URL_LENGTH


def find_urls(text: str) -> list[tuple[int, int]]:
    """(start, end) of each link in `text`, without trailing punctuation or an unbalanced ')'."""
    spans = []
    for match in _URL.finditer(text):
        start, end = match.span()
        while end > start and text[end - 1] in _URL_TRAILING:
            end -= 1
        while (
            end > start
            and text[end - 1] == ")"
            and (text.count("(", start, end) < text.count(")", start, end))
        ):
            end -= 1
        if end > start and _is_valid_url(text[start:end]):
            spans.append((start, end))
    return spans


_X_LIGHT_RANGES = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))
X_URL_LENGTH = 23
_ZWJ = 0x200D
_VS16 = 0xFE0F
_VS15 = 0xFE0E
_KEYCAP = 0x20E3


def _x_char_weight(code: int) -> int:
    return 1 if any(lo <= code <= hi for lo, hi in _X_LIGHT_RANGES) else 2


def is_pictographic(code: int) -> bool:
    """Close to Unicode's Extended_Pictographic: the code points an emoji sequence starts with."""
    return (
        0x1F000 <= code <= 0x1FAFF
        or 0x2600 <= code <= 0x27BF
        or 0x2190 <= code <= 0x21FF
        or 0x2300 <= code <= 0x23FF
        or 0x25A0 <= code <= 0x25FF
        or 0x2900 <= code <= 0x297F
        or 0x2B00 <= code <= 0x2BFF
        or code in (0x203C, 0x2049, 0x2122, 0x2139, 0x24C2, 0x3030, 0x303D, 0x3297, 0x3299)
    )


def is_emoji_modifier(code: int) -> bool:
    """Code points that extend the emoji before them: skin tones, variation selectors, tags."""
    return (
        0x1F3FB <= code <= 0x1F3FF or code in (_VS16, _VS15, _KEYCAP) or 0xE0020 <= code <= 0xE007F
    )


def is_regional_indicator(code: int) -> bool:
    return 0x1F1E6 <= code <= 0x1F1FF


def _emoji_end(codes: list[int], i: int) -> int:
    """The index after the emoji sequence starting at `i`, or `i` if none starts there.

    A sequence is a flag (two regional indicators), a keycap (0-9 # * [FE0F] 20E3), or a
    pictograph (or ©/® with FE0F) followed by modifiers and ZWJ-joined pictographs: X counts
    each such sequence as one emoji of weight 2 (👍🏽 and 👨‍👩‍👧 are 2 each).
    """
    n = len(codes)
    code = codes[i]
    if is_regional_indicator(code):
        return i + 2 if i + 1 < n and is_regional_indicator(codes[i + 1]) else i + 1
    if chr(code) in "0123456789#*":
        j = i + 1
        if j < n and codes[j] == _VS16:
            j += 1
        return j + 1 if j < n and codes[j] == _KEYCAP else i
    if code in (0x00A9, 0x00AE):
        return i + 2 if i + 1 < n and codes[i + 1] == _VS16 else i
    if not is_pictographic(code):
        return i
    j = i + 1
    while j < n:
        if is_emoji_modifier(codes[j]):
            j += 1
        elif codes[j] == _ZWJ and j + 1 < n and is_pictographic(codes[j + 1]):
            j += 2
        else:
            break
    return j


def _x_text_weight(text: str) -> int:
    codes = [ord(char) for char in text]
    total = 0
    i = 0
    while i < len(codes):
        end = _emoji_end(codes, i)
        if end > i:
            total += 2
            i = end
        else:
            total += _x_char_weight(codes[i])
            i += 1
    return total


def x_weighted_length(text: str) -> int:
    """The length of `text` as X counts a post (twitter-text v3, NFC-normalised).

    Each link counts 23 whatever its length; each emoji counts 2, including a whole skin-tone,
    ZWJ, keycap or flag sequence; CJK and other characters outside X's light ranges count 2;
    Latin, Greek, Cyrillic, Hebrew, Arabic and common punctuation count 1.
    """
    text = unicodedata.normalize("NFC", text)
    total = 0
    position = 0
    for start, end in find_urls(text):
        total += _x_text_weight(text[position:start]) + X_URL_LENGTH
        position = end
    return total + _x_text_weight(text[position:])


def weighted_length(network: str, text: str) -> int:
    """The length of a public reply as `network` counts it (X: weighted; others: characters)."""
    if network == "x":
        return x_weighted_length(text)
    return len(unicodedata.normalize("NFC", text))
