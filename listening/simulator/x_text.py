"""How the simulated X counts a post: twitter-text's v3 configuration, written for the simulator.

The desk has its own counter (listening.networks.x_weighted_length) for the composer; this one
is deliberately separate, so that a stand-in network sharing the desk's counter cannot hide a
bug in it. Both are checked against twitter-text's published conformance cases.

twitter-text v3 (config/v3.json): weights are in hundredths; code points in the ranges below
weigh 100, every other one 200 (the default), a whole emoji sequence 200, and a link 23 × 100
whatever its length. Text is NFC-normalised first. The limit is 280 × 100.
"""

import re
import unicodedata

SCALE = 100
MAX_WEIGHTED_LENGTH = 280
_DEFAULT_WEIGHT = 200
_URL_WEIGHT = 23 * SCALE
_LIGHT = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))  # weight 100

# An emoji sequence: a flag, a keycap, or a pictograph with its presentation selector, skin
# tone or tag modifiers, and any pictographs joined to it by ZERO WIDTH JOINER.
_PICTOGRAPH = (
    "\u00a9\u00ae\u203c\u2049\u2122\u2139\u2190-\u21ff\u2300-\u23ff\u24c2\u25a0-\u27bf"
    "\u2900-\u297f\u2b00-\u2bff\u3030\u303d\u3297\u3299\U0001f000-\U0001faff"
)
_MODIFIERS = "\ufe0e\ufe0f\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f"
_SINGLE = f"[{_PICTOGRAPH}][{_MODIFIERS}]*"
_EMOJI = re.compile(
    "[\U0001f1e6-\U0001f1ff]{2}"
    "|[0-9#*]\ufe0f?\u20e3"
    f"|[\u00a9\u00ae]\ufe0f(?:\u200d{_SINGLE})*"  # © and ® are text unless asked to be emoji
    f"|(?![\u00a9\u00ae])[{_PICTOGRAPH}][{_MODIFIERS}]*(?:\u200d{_SINGLE})*"
)

# A link: http(s):// then anything up to a space or a directional mark, or a bare host name
# ending in a common top-level domain. Closing punctuation after it is text.
_STOP = "\\s\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\ufffe\uffff"
_LINK = re.compile(
    rf"https?://[^{_STOP}]+"
    rf"|(?<![\w@./-])(?:[a-z0-9-]+\.)+(?:com|net|org|io|co|info|dev|app)\b(?:/[^{_STOP}]*)?",
    re.IGNORECASE,
)
_CLOSING = ".,:;!?'\")]’”"


def weighted_length(text: str) -> int:
    """The length X gives `text`, in characters (weight / 100, rounded down)."""
    text = unicodedata.normalize("NFC", text)
    links = dict(_links(text))
    total = 0
    i = 0
    while i < len(text):
        if i in links:
            total += _URL_WEIGHT
            i = links[i]
            continue
        emoji = _EMOJI.match(text, i)
        if emoji:
            total += _DEFAULT_WEIGHT
            i = emoji.end()
            continue
        code = ord(text[i])
        total += SCALE if any(lo <= code <= hi for lo, hi in _LIGHT) else _DEFAULT_WEIGHT
        i += 1
    return total // SCALE


def _links(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in _LINK.finditer(text):
        link = match.group().rstrip(_CLOSING)
        if link.count("(") > link.count(")") and match.group()[len(link) :].startswith(")"):
            link += ")"  # a balanced pair belongs to the link, as in Wikipedia URLs
        if _host_is_valid(link):
            spans.append((match.start(), match.start() + len(link)))
    return spans


def _host_is_valid(link: str) -> bool:
    """twitter-text links a URL only if its host converts to ASCII (IDNA: every label 1-63
    characters in punycode) and the URL stays within 4,096 characters."""
    host = re.sub(r"^https?://", "", link, flags=re.IGNORECASE)
    host = re.split(r"[/?#:]", host, maxsplit=1)[0]
    try:
        encoded = host.encode("idna")
    except UnicodeError:
        return False
    return bool(encoded) and len(link) - len(host) + len(encoded) <= 4096
