"""The radar's priority and triage suggestion, rule by rule."""

import pytest

from listening.radar import (
    SENTIMENT_READERS,
    is_negative,
    is_positive,
    score_post,
    sentiment,
    sentiment_label,
    suggest_triage,
)
from tests.factories import author, post


def triage(text: str, followers: int = 120, verified: bool = False) -> tuple[str, str]:
    score = score_post(post(1, text=text, by=author(1, followers=followers, verified=verified)))
    return suggest_triage(score, followers, verified)


@pytest.mark.parametrize(
    ("text", "followers", "verified", "decision", "reason_part"),
    [
        ("My lawyer will hear about this, @acme_support", 50, False, "escalate", "Legal"),
        (
            "Reporter at the Daily Ledger, @acme_support, any comment?",
            50,
            False,
            "escalate",
            "Press",
        ),
        ("@acme_support worst service ever, I hate you", 120_000, False, "escalate", "large reach"),
        ("@acme_support worst service ever, I hate you", 120, True, "escalate", "large reach"),
        (
            "FREE crypto airdrop, click here http://a.example http://b.example",
            50,
            False,
            "ignore",
            "spam",
        ),
        ("@acme_support you are all clowns, pathetic", 50, False, "ignore", "Insults"),
        ("@acme_support Qué empresa tan patética, payasos", 50, False, "ignore", "Insults"),
        (
            "@acme_support my router is broken, I want a refund",
            50,
            False,
            "engage",
            "concrete problem (broken, refund)",
        ),
        ("thank you for the quick refund, you guys rock!", 50, False, "engage", "Praise"),
        (
            "Mein smart speaker ist kaputt, seit 19 Tagen keine Antwort. Ich will eine Erstattung",
            50,
            False,
            "engage",
            "concrete problem (kaputt, erstattung)",
        ),
        ("@acme_support When will order #144136 ship? Thanks!", 50, False, "engage", "Question"),
        (
            "@acme_support this is really disappointing and sad",
            50,
            False,
            "engage",
            "Unhappy customer",
        ),
        ("@acme_support hello there", 50, False, "engage", "addressed to the brand"),
    ],
)
def test_triage_suggestion_with_its_reason(text, followers, verified, decision, reason_part):
    suggestion, reason = triage(text, followers, verified)
    assert suggestion == decision
    assert reason_part in reason


def test_angry_urgent_high_reach_post_outranks_a_calm_question():
    angry = score_post(
        post(
            1,
            text="@acme_support broken AGAIN, refund now or I cancel. Worst ever!",
            by=author(1, followers=20_000),
        )
    )
    calm = score_post(post(2, text="@acme_support how do I reset my phone?"))

    assert angry.priority > calm.priority + 30
    assert "urgency: broken, refund, cancel, worst" in angry.reasons
    assert any(reason.startswith("reach: 20.0k") for reason in angry.reasons)


def test_spam_sinks_below_a_normal_post():
    spam = score_post(post(1, text="Giveaway! promo code inside http://x.example http://y.example"))
    normal = score_post(post(2, text="@acme_support hello"))

    assert spam.priority < normal.priority
    assert "looks like spam" in spam.reasons


def test_private_messages_and_engagement_raise_priority():
    public = score_post(post(1, text="@acme_support hello"))
    private = score_post(post(2, text="@acme_support hello", is_private=True))
    popular = score_post(post(3, text="@acme_support hello", metrics={"likes": 200, "reposts": 40}))

    assert private.priority > public.priority
    assert popular.priority > public.priority
    assert "engagement: 240" in popular.reasons


def test_priority_stays_within_0_and_100():
    extreme = score_post(
        post(
            1,
            text="lawyer refund cancel broken scam fraud worst outage hate hate hate!!!",
            by=author(1, followers=10**9, verified=True),
            is_private=True,
            metrics={"likes": 10**6},
        )
    )
    assert 0 <= extreme.priority <= 100


@pytest.mark.parametrize(
    "text",
    [
        "thank you for the quick refund, you guys rock",
        "Thank you! Refund arrived today",
        "thanks for sorting the broken link so fast 🙏",
    ],
)
def test_a_thank_you_that_names_the_fixed_problem_is_praise(text):
    score = score_post(post(1, text=text))
    assert score.is_praise
    assert score.urgency == ()
    assert not any(reason.startswith("urgency") for reason in score.reasons)
    assert triage(text) == ("engage", "Praise: a short, personal thank-you builds goodwill.")


@pytest.mark.parametrize(
    "text",
    [
        "thanks for nothing, still no refund",
        "thanks... I want to cancel my account",
        "Thanks for cancelling my order without asking, I want a refund",
    ],
)
def test_a_thank_you_with_the_problem_still_there_stays_a_problem(text):
    score = score_post(post(1, text=text))
    assert not score.is_praise
    assert score.urgency
    assert triage(text)[1].startswith("Customer with a concrete problem")


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("✨🤬", -1),
        ("🤬", -1),
        ("😡😡 still waiting", -1),
        ("👎", -1),
        ("💔", -1),
        ("❤️ love it", 1),
        ("👍", 1),
    ],
)
def test_emoji_carry_their_meaning_into_the_sentiment(text, sign):
    polarity = score_post(post(1, text=text)).sentiment
    assert polarity * sign > 0.3, polarity


# --- sentiment in the customer's language ---------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        ("es", "Pedido roto otra vez, es una vergüenza. Quiero mi reembolso ya", "negative"),
        ("es", "La app no funciona desde ayer", "negative"),
        ("es", "¡Muchas gracias, el servicio fue excelente!", "positive"),
        ("es", "Hola, ¿a qué hora abren mañana?", "neutral"),
        ("fr", "Service nul, je suis vraiment déçu", "negative"),
        ("fr", "Ça ne marche pas", "negative"),
        ("fr", "Merci beaucoup, super rapide !", "positive"),
        ("de", "Die App funktioniert nicht, total enttäuschend!", "negative"),
        ("de", "Danke, alles perfekt!", "positive"),
        ("pt-BR", "Péssimo atendimento, estou revoltado", "negative"),
        ("pt", "Não funciona", "negative"),
        ("pt", "Adorei, muito obrigada!", "positive"),
    ],
)
def test_sentiment_reads_the_posts_language(lang, text, expected):
    polarity = sentiment(text, lang)
    label = "negative" if is_negative(polarity) else "positive" if is_positive(polarity) else ""
    assert (label or "neutral") == expected, polarity


def test_a_negative_spanish_complaint_is_ranked_as_negative():
    complaint = post(
        1, text="@acme_support Pésimo servicio, el pedido llegó roto y nadie responde", lang="es"
    )
    score = score_post(complaint)
    assert is_negative(score.sentiment)
    assert any(reason.startswith("negative sentiment") for reason in score.reasons)
    assert sentiment_label(score.sentiment) in ("Negative", "Very negative")
    # Read as English, the same words carry no polarity at all.
    assert sentiment(complaint.text, "en") == 0.0


def test_negation_flips_a_word_in_each_language():
    assert is_positive(sentiment("El servicio es bueno", "es"))
    assert is_negative(sentiment("El servicio no es bueno", "es"))
    assert is_negative(sentiment("Le service n'est pas bon", "fr"))
    assert is_negative(sentiment("Der Service ist nicht gut", "de"))
    assert is_negative(sentiment("O serviço não é bom", "pt"))


def test_a_language_without_a_reader_and_an_unknown_one_are_read_by_vader():
    assert sentiment("worst service ever", "") == sentiment("worst service ever", "und")
    assert is_negative(sentiment("worst service ever", "ja"))
    assert set(SENTIMENT_READERS) >= {"en", "es", "fr", "de", "pt"}
