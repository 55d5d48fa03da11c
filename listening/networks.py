"""Each network's terms and norms as data: read by the composer, the sender and the docs."""

import re
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
)

POLICIES = {policy.network: policy for policy in (X, FACEBOOK)}

_URL = re.compile(r"https?://\S+", re.IGNORECASE)


def _x_char_weight(char: str) -> int:
    """Weight of one code point under X's twitter-text config v3."""
    code = ord(char)
    light_ranges = (
        (0x0000, 0x10FF),
        (0x2000, 0x200D),
        (0x2010, 0x201F),
        (0x2032, 0x2037),
    )
    return 1 if any(lo <= code <= hi for lo, hi in light_ranges) else 2


def weighted_length(network: str, text: str) -> int:
    """The length of `text` as `network` counts it for a public reply."""
    if network != "x":
        return len(text)
    total = 0
    position = 0
    for match in _URL.finditer(text):
        total += sum(_x_char_weight(c) for c in text[position : match.start()]) + 23
        position = match.end()
    total += sum(_x_char_weight(c) for c in text[position:])
    return total
