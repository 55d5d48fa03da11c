"""The radar: a priority for every inbound post and a suggested triage for every case.

Everything here is a pure function of the post (and the author's reach), so ingest can score a
whole page in memory and tests can check each rule in isolation. Each score carries its reasons,
shown to the agent beside the priority and kept for QA ("did we engage the right people?").

Priority (0-100) = 30 (base)
    + up to 30 for negative sentiment (polarity of the customer's text in its language:
      VADER's compound for English, listening.lexicon's lists for es/fr/de/pt)
    + 8 per urgency word (cancel, refund, broken, lawyer, ...), up to 24
    + up to 15 for reach (log10 of followers), + 5 if verified
    + up to 10 for engagement (likes, reposts, replies, quotes), + 5 for a private message
    - 25 for spam.
Waiting time is not part of the stored priority: the inbox orders equal priorities by the
longest wait, so it keeps growing in effect without rewriting rows.
"""

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial

from django.utils.translation import gettext
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from listening import lexicon
from listening.posts import InboundPost

# Word lists, lower case. Matching is by substring except for URGENCY_WORDS (whole words).
# fmt: off
URGENCY_WORDS = (
    # English
    "cancel", "refund", "broken", "lawyer", "attorney", "sue", "legal", "outage", "down",
    "scam", "fraud", "chargeback", "never again", "worst", "unacceptable", "complaint",
    "charged twice", "stolen", "hacked", "urgent", "emergency",
    # Spanish, Portuguese, French, German
    "reembolso", "cancelar", "abogado", "estafa", "roto", "reembolsar", "advogado", "quebrado",
    "remboursement", "annuler", "avocat", "arnaque", "cassé", "panne",
    "erstattung", "kündigen", "anwalt", "betrug", "kaputt", "störung",
)
LEGAL_WORDS = (
    "lawyer", "attorney", "sue ", "legal action", "court", "class action",
    "abogado", "avocat", "anwalt", "advogado",
)
PRESS_WORDS = (
    "journalist", "reporter", "for a story", "for comment", "press enquiry", "press inquiry",
    "newsroom", "editor at",
)
SPAM_MARKERS = (
    "crypto", "bitcoin", "airdrop", "follow back", "free followers", "dm me to earn",
    "investment opportunity", "giveaway", "click here", "promo code",
)
INSULTS = (
    "idiot", "stupid", "morons", "clowns", "trash company", "garbage", "pathetic", "shut up",
    "loser", "f*ck", "fuck", "suck",
    # Spanish, Portuguese, French, German
    "payasos", "patética", "patético", "idiotas", "basura", "palhaços", "lixo", "ridículos",
    "nuls", "escrocs", "minables", "idioten", "müll", "lächerlich",
)
THANKS_WORDS = (
    "thank", "thx", "cheers", "gracias", "merci", "danke", "obrigad", "grazie", "ありがとう",
)
# Words that keep a thank-you from closing the matter: "thanks for nothing, still no refund".
STILL_A_PROBLEM = (
    "still", "yet", "again", "nothing", "never", "not", "no", "without", "but", "however",
    "cancel", "cancelled", "canceled", "cancelling", "canceling",
)
# Emoji whose meaning VADER's emoji descriptions miss or invert: "pouting face", "thumbs down"
# and "middle finger" hold no scored word, and "broken heart" scores as positive. Valences on
# VADER's -4..+4 word scale, close to its "angry" (-2.3), "hate" (-2.7) and "love" (+3.2).
EMOJI_VALENCE = {
    "🤬": -3.4, "😡": -3.0, "😠": -2.6, "👿": -2.6, "🖕": -3.2, "👎": -2.2, "💩": -2.4,
    "🤮": -2.8, "😤": -2.0, "😒": -1.6, "🙄": -1.6, "💔": -2.4, "😞": -1.8, "😩": -2.0,
    "❤": 2.6, "💙": 2.6, "💚": 2.6, "💜": 2.6, "😍": 2.8, "🥰": 2.8, "👍": 2.0, "👏": 2.0,
    "🙏": 1.6, "💯": 1.8, "🙌": 2.0,
}
# fmt: on

_URGENCY = re.compile(
    r"(?<!\w)(" + "|".join(re.escape(w) for w in URGENCY_WORDS) + r")(?!\w)", re.IGNORECASE
)
_STILL_A_PROBLEM = re.compile(r"\b(?:" + "|".join(STILL_A_PROBLEM) + r")\b", re.IGNORECASE)
_LINK = re.compile(r"https?://", re.IGNORECASE)

HIGH_REACH_FOLLOWERS = 50_000

# Polarity on VADER's compound scale: under NEGATIVE_BELOW a post is negative, over
# POSITIVE_ABOVE positive, and the bounds themselves are neutral. Every reading of sentiment
# (priority, triage, the case page, the guideline checks, QA sampling, the dashboard's volume)
# goes through these two, in every language.
NEGATIVE_BELOW = -0.05
POSITIVE_ABOVE = 0.05
# At or below this a customer is angry: a reply must acknowledge their feelings (cases.checks'
# tone check) and the approvals page marks the case.
ANGRY_AT_OR_BELOW = -0.3


@cache
def _analyzer() -> SentimentIntensityAnalyzer:
    analyzer = SentimentIntensityAnalyzer()
    # VADER reads each emoji as its description; give these a word that carries their valence.
    for n, (emoji, valence) in enumerate(EMOJI_VALENCE.items()):
        word = f"emojivalence{n}"
        analyzer.emojis[emoji] = word
        analyzer.lexicon[word] = valence
    return analyzer


def _vader(text: str) -> float:
    return _analyzer().polarity_scores(text)["compound"]


# Who reads each language's polarity, all on VADER's -1..1 compound scale. A language not
# listed is read by VADER, as is a post whose language the network did not tell. A library
# that reads more languages replaces its entries here.
SENTIMENT_READERS: dict[str, Callable[[str], float]] = {
    "en": _vader,
    **{
        language: partial(lexicon.polarity, language=language, emoji=EMOJI_VALENCE)
        for language in lexicon.LEXICONS
    },
}


def _primary(language: str) -> str:
    return (language or "").strip().lower().replace("_", "-").split("-", 1)[0]


def sentiment(text: str, language: str = "") -> float:
    """Polarity of the customer's text in its language (BCP 47 tag, as networks report it),
    -1 (hostile) to 1 (delighted)."""
    if not text:
        return 0.0
    return SENTIMENT_READERS.get(_primary(language), _vader)(text)


def is_negative(polarity: float) -> bool:
    """Whether a polarity (VADER's compound scale) counts as negative (the desk's one rule)."""
    return polarity < NEGATIVE_BELOW


def is_positive(polarity: float) -> bool:
    """Whether a polarity (VADER's compound scale) counts as positive (the desk's one rule)."""
    return polarity > POSITIVE_ABOVE


def is_angry(polarity: float) -> bool:
    """Whether a polarity (VADER's compound scale) counts as angry (the desk's one rule)."""
    return polarity <= ANGRY_AT_OR_BELOW


def sentiment_label(score: float) -> str:
    """The desk's word for a polarity, in the active language, shown on the case page and the
    review page."""
    if score <= -0.5:
        return gettext("Very negative")
    if is_negative(score):
        return gettext("Negative")
    if score >= 0.5:
        return gettext("Very positive")
    if is_positive(score):
        return gettext("Positive")
    return gettext("Neutral")


@dataclass(frozen=True, slots=True)
class Score:
    priority: int
    sentiment: float
    reasons: tuple[str, ...]
    urgency: tuple[str, ...]
    is_spam: bool
    is_legal: bool
    is_press: bool
    is_troll: bool
    is_question: bool
    is_praise: bool  # thanks the brand, positive, and nothing is still wrong


def _contains(text: str, words: tuple[str, ...]) -> bool:
    return any(word in text for word in words)


def _short_count(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    return f"{n / 1000:.1f}k" if n >= 1000 else str(n)


def score_post(post: InboundPost) -> Score:
    """Score one post. Pure: depends only on the post and its author."""
    text = post.text
    lowered = text.lower()
    polarity = sentiment(text, post.lang)
    reasons: list[str] = []
    priority = 30.0

    if is_negative(polarity):
        priority += 30 * min(1.0, -polarity)
        reasons.append(f"negative sentiment ({polarity:+.2f})")
    elif polarity > 0.5:
        reasons.append(f"positive sentiment ({polarity:+.2f})")

    # "Thank you for the quick refund, you guys rock": an urgent word in a positive thank-you
    # with nothing still wrong is praise, not a problem to chase.
    is_praise = (
        _contains(lowered, THANKS_WORDS)
        and is_positive(polarity)
        and not _STILL_A_PROBLEM.search(text)
    )
    urgency = (
        () if is_praise else tuple(dict.fromkeys(match.lower() for match in _URGENCY.findall(text)))
    )
    if urgency:
        priority += min(24, 8 * len(urgency))
        reasons.append("urgency: " + ", ".join(urgency))

    followers = post.author.followers
    if followers >= 100:
        priority += min(15.0, 3 * math.log10(followers))
        reasons.append(f"reach: {_short_count(followers)} followers")
    if post.author.verified:
        priority += 5
        reasons.append("verified account")

    metrics = post.metrics or {}
    engagement = sum(int(metrics.get(k, 0) or 0) for k in ("likes", "reposts", "replies", "quotes"))
    if engagement >= 5:
        priority += min(10.0, 2.5 * math.log2(engagement))
        reasons.append(f"engagement: {engagement}")
    if post.is_private:
        priority += 5
        reasons.append("private message")

    links = len(_LINK.findall(text))
    is_spam = _contains(lowered, SPAM_MARKERS) or links >= 2 or lowered.count("#") >= 5
    if is_spam:
        priority -= 25
        reasons.append("looks like spam")
    is_legal = _contains(lowered, LEGAL_WORDS)
    if is_legal:
        reasons.append("legal threat")
    is_press = _contains(lowered, PRESS_WORDS)
    if is_press:
        reasons.append("press enquiry")
    # An insult in a language no reader scores counts without its score (polarity 0).
    is_troll = _contains(lowered, INSULTS) and not urgency and (polarity < -0.3 or polarity == 0)
    if is_troll:
        reasons.append("insults without a concrete problem")

    return Score(
        priority=max(0, min(100, round(priority))),
        sentiment=round(polarity, 3),
        reasons=tuple(reasons),
        urgency=urgency,
        is_spam=is_spam,
        is_legal=is_legal,
        is_press=is_press,
        is_troll=is_troll,
        is_question="?" in text or "¿" in text,
        is_praise=is_praise,
    )


def suggest_triage(score: Score, followers: int, verified: bool) -> tuple[str, str]:
    """(engage | ignore | escalate, the reason shown to the agent) for a case's leading post."""
    if score.is_legal:
        return "escalate", "Legal threat: route to the escalation path, do not argue in public."
    if score.is_press:
        return "escalate", "Press enquiry: hand to communications before anyone answers."
    if score.sentiment <= -0.5 and (followers >= HIGH_REACH_FOLLOWERS or verified):
        return "escalate", "Angry customer with large reach: a supervisor should see this."
    if score.is_spam:
        return "ignore", "Looks like spam (links, promotions or hashtag stuffing)."
    if score.is_troll:
        return "ignore", "Insults without a concrete problem: engaging rarely helps."
    if score.urgency:
        return "engage", "Customer with a concrete problem (" + ", ".join(score.urgency) + ")."
    if score.is_question and score.sentiment > -0.5:
        return "engage", "Question from a customer: a quick, accurate answer."
    if score.is_praise or score.sentiment >= 0.4:
        return "engage", "Praise: a short, personal thank-you builds goodwill."
    if is_negative(score.sentiment):
        return "engage", "Unhappy customer: answer and offer to continue privately."
    return "engage", "Customer post addressed to the brand."
