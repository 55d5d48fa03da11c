"""What counts as an answer to a satisfaction survey: one rule, read by ingest (csat.intake).

A message answers the survey when it **starts** with a score from 1 to 5 that stands on its
own, optionally followed by a comment:

* a digit 1-5, a keycap emoji 1️⃣-5️⃣, or a row of one to five stars (⭐ or ★);
* a digit may be written as "4/5", "4 out of 5", "4 de 5", "4 stars", "4-star",
  "4 estrellas";
* after a bare digit comes the end of the message, a line break, an emoji, or punctuation
  (. , ; : ! ? ) - – —) not followed by another digit; a letter or a digit right after it
  means the number was part of something else.

So "5", "4/5", "5 stars!", "5️⃣ great", "3 - slow answer", "2. Took days", "⭐⭐⭐⭐" answer it,
and "2 problems with my order", "10", "5000 points", "3pm tomorrow?", "2:30", "4.5",
"I'd give you 4" do not: they are a new message, threaded as any other. The comment is what
follows the score, without the separator.
"""

import re
import unicodedata
from dataclasses import dataclass

MIN_SCORE, MAX_SCORE = 1, 5

_KEYCAP = re.compile(r"([1-5])\ufe0f?\u20e3")
_STARS = re.compile(r"(?:[⭐★]\ufe0f?){1,5}(?![⭐★])")
_DIGIT = re.compile(
    r"([1-5])(?![\d.,:]\d)"
    r"(?P<suffix>\s*/\s*5(?!\d)|\s+(?:out\s+of|de|sobre)\s+5(?!\d)"
    r"|[\s-]*(?:stars?|estrellas?)\b)?",
    re.IGNORECASE,
)
# What may follow a bare digit: the end, a line break, punctuation not before a digit, or
# a character that is neither a letter nor a digit (an emoji) after optional spaces.
_BARE_END = re.compile(r"[ \t]*(?:$|\n|[.,;:!?)\-–—](?!\d)|[^\w\s/])")
_SEPARATOR = re.compile(r"^[\s.,;:!?)\-–—]*")


@dataclass(frozen=True)
class Answer:
    score: int
    comment: str


def parse_answer(text: str) -> Answer | None:
    """The score and comment `text` gives, or None when it does not answer a survey."""
    text = unicodedata.normalize("NFC", text or "").strip()
    if not text:
        return None
    if match := _KEYCAP.match(text):
        return _answer(int(match.group(1)), text[match.end() :])
    if match := _STARS.match(text):
        stars = sum(1 for char in match.group(0) if char in "⭐★")
        return _answer(stars, text[match.end() :])
    match = _DIGIT.match(text)
    if match is None:
        return None
    rest = text[match.end() :]
    if not match.group("suffix") and not _BARE_END.match(rest):
        return None
    return _answer(int(match.group(1)), rest)


def _answer(score: int, rest: str) -> Answer | None:
    if not MIN_SCORE <= score <= MAX_SCORE:
        return None
    return Answer(score, _SEPARATOR.sub("", rest).strip())


def comment_of(text: str) -> str:
    """The comment of a stored answer's text ("" when it no longer reads as one)."""
    answer = parse_answer(text)
    return answer.comment if answer else ""
