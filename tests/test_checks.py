"""Guideline checks on a reply: length as each network counts it, spelling, punctuation, tone,
personal data in public, and the invitation to continue offline on a negative case."""

import json
from pathlib import Path

import pytest

from cases.checks import (
    BLOCK,
    CHECK_CODES,
    OK,
    WARN,
    CheckResult,
    blocking,
    check_length,
    check_offline_invitation,
    check_personal_data,
    check_punctuation,
    check_spelling,
    check_tone,
    find_urls,
    luhn_valid,
    run_checks,
    x_weighted_length,
)
from cases.models import Case, Customer, DeskSettings
from listening.models import Channel
from tests.conftest import make_channel

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # 👨‍👩‍👧: man ZWJ woman ZWJ girl
THUMB_TONE = "\U0001f44d\U0001f3fd"  # 👍🏽: thumbs up + medium skin tone
LONG_URL = "https://example.com/orders/track?id=" + "x" * 200


def case_of(
    *,
    sentiment: float = 0.0,
    reasons: tuple[str, ...] = (),
    suggestion: str = "engage",
    decision: str = "",
    language: str = "en",
    handle: str = "acme_support",
    channel_name: str = "Acme Support",
    customer: str = "Dana Customer",
) -> Case:
    """An unsaved case with what the checks read: the checks never need the database."""
    return Case(
        channel=Channel(network="x", handle=handle, name=channel_name),
        customer=Customer(display_name=customer),
        sentiment=sentiment,
        priority_reasons=list(reasons),
        triage_suggestion=suggestion,
        triage_decision=decision,
        language=language,
    )


CALM = case_of(sentiment=0.3)
ANGRY = case_of(sentiment=-0.6, reasons=("negative sentiment (-0.60)",))
UNHAPPY = case_of(sentiment=-0.2)
URGENT = case_of(sentiment=0.0, reasons=("urgency: refund",))
ESCALATED = case_of(sentiment=0.0, decision="escalate")
SUGGESTED_ESCALATE = case_of(sentiment=0.0, suggestion="escalate")
OVERRULED_ESCALATE = case_of(sentiment=0.0, suggestion="escalate", decision="engage")


# --- 1. Length ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a" * 280, 280),
        ("Hello, world.", 13),
        (LONG_URL, 23),  # any link counts 23
        ("Track it: " + LONG_URL + ".", 10 + 23 + 1),  # the full stop is not part of the link
        ("http://a.co", 23),  # ... even a short one
        ("acme.com/help", 23),  # X links a bare domain too
        ("See acme.com.", 4 + 23 + 1),
        ("(see https://acme.com/help)", 1 + 4 + 23 + 1),  # the unbalanced ")" is not the link's
        ("e.g. this, i.e. that", 20),  # no TLD: not links
        ("\U0001f44d", 2),  # 👍
        (THUMB_TONE, 2),  # a skin-tone sequence is one emoji
        (FAMILY, 2),  # a ZWJ sequence is one emoji
        ("\u2764\ufe0f", 2),  # ❤️ with its variation selector
        ("1\ufe0f\u20e3", 2),  # keycap 1️⃣
        ("\U0001f1ec\U0001f1e7", 2),  # flag 🇬🇧
        ("\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f", 2),  # England
        ("こんにちは", 10),  # CJK: 2 each
        ("你好", 4),
        ("안녕", 4),
        ("Привет", 6),  # Cyrillic: 1 each
        ("cafe\u0301", 4),  # NFC: é is one character
        ("a\u2014b", 3),  # em dash is in X's light range
        ("a\u2026", 3),  # the ellipsis character is not
        ("@jane " + THUMB_TONE + " " + FAMILY, 6 + 2 + 1 + 2),
    ],
)
def test_x_weighted_length(text, expected):
    assert x_weighted_length(text) == expected


# twitter-text's published conformance cases for the weighted length (source in the file).
TWITTER_TEXT = json.loads(
    (Path(__file__).parent / "payloads" / "twitter_text_weighted_length.json").read_text()
)


@pytest.mark.parametrize(
    "case", TWITTER_TEXT["cases"], ids=[case["description"] for case in TWITTER_TEXT["cases"]]
)
def test_x_weighted_length_passes_twitter_text_conformance(case):
    assert x_weighted_length(case["text"]) == case["weightedLength"]


@pytest.mark.parametrize(
    ("text", "network", "is_private", "severity", "in_message"),
    [
        ("a" * 200, "x", False, OK, "200 of 280"),
        ("a" * 252, "x", False, OK, "252 of 280"),
        ("a" * 253, "x", False, WARN, "27 characters left"),  # within the last 10%
        ("a" * 280, "x", False, WARN, "0 characters left"),  # 280 exactly passes
        ("a" * 281, "x", False, BLOCK, "1 character over X's 280-character limit"),
        ("a" * 292, "x", False, BLOCK, "12 characters over X's 280-character limit"),
        ("a" * 256 + " " + LONG_URL, "x", False, WARN, "0 characters left"),  # 256 + 1 + 23
        ("a" * 257 + " " + LONG_URL, "x", False, BLOCK, "links count as 23"),
        ("a" * 278 + THUMB_TONE, "x", False, WARN, "0 characters left"),
        ("a" * 279 + THUMB_TONE, "x", False, BLOCK, "1 character over"),
        ("a" * 278 + FAMILY, "x", False, WARN, "0 characters left"),
        ("a" * 279 + FAMILY, "x", False, BLOCK, "emoji and CJK characters as 2"),
        ("字" * 140, "x", False, WARN, "0 characters left"),
        ("字" * 141, "x", False, BLOCK, "2 characters over"),
        ("a" * 281, "x", True, OK, "281 of 10,000"),  # a DM has room
        ("a" * 10_001, "x", True, BLOCK, "1 character over X's 10,000-character limit"),
        ("a" * 8000, "facebook", False, WARN, "0 characters left"),
        ("a" * 8001, "facebook", False, BLOCK, "1 character over Facebook's 8,000"),
        ("字" * 4000, "facebook", False, OK, "4,000 of 8,000"),  # Facebook does not weigh
        ("a" * 2000, "facebook", True, WARN, "0 characters left"),
        ("a" * 2001, "facebook", True, BLOCK, "limit for a private message"),
    ],
)
def test_length_as_the_network_counts_it(text, network, is_private, severity, in_message):
    result = check_length(text, network=network, is_private=is_private)
    assert (result.code, result.severity) == ("length", severity), result.message
    assert in_message in result.message


def test_length_over_in_public_suggests_taking_it_offline():
    assert "take it offline" in check_length("a" * 300, network="x", is_private=False).message
    assert "offline" not in check_length("a" * 3000, network="facebook", is_private=True).message


@pytest.mark.parametrize(
    ("text", "links"),
    [
        ("Go to https://acme.com/help.", ["https://acme.com/help"]),
        ("Mail support@acme.com today", []),  # the domain of an e-mail is not a link
        ("Visit www.acme.com, or acme.co.uk/help!", ["www.acme.com", "acme.co.uk/help"]),
        ("Not a link: acme.uk", []),  # a country TLD without a path
        ("(https://en.wikipedia.org/wiki/Foo_(bar))", ["https://en.wikipedia.org/wiki/Foo_(bar)"]),
    ],
)
def test_links_are_found_like_x_finds_them(text, links):
    assert [text[start:end] for start, end in find_urls(text)] == links


# --- 2. Spelling -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Thanks for reaching out, we're sorry to hear that.",
        "@jane_doe99 Please DM us with the details #AcmeHelp https://acme.com/hlp/xyzq",
        "Write to zzq.smith@exmple.org and quote order A12345B from 2026-11-24.",
        "We've sent the PIN by SMS, it's valid for 10 minutes.",
        "Hi Priya, I'm sorry the parcel hasn't arrived.",  # a name in mid-sentence
        "Dana, thanks for your patience.",  # the customer's name at the start
        "We apologise for the colour mix-up at our centre, it won't happen again.",  # British
        "Acme will refund you today.",  # brand word
        "Your customer's account is fine, we can't see any problem.",
        "Please restart the app and check your wifi.",
        "The iOS app and PayPal checkout work again; we’re re-sending the follow-up e-mail.",
        "",
    ],
)
def test_spelling_passes(text):
    result = check_spelling(text, case=CALM)
    assert result.severity == OK, result.message


@pytest.mark.parametrize(
    ("text", "in_message"),
    [
        ("We recieve your message.", '"recieve" (receive?)'),
        ("Thnaks for waiting.", '"Thnaks" (thanks?)'),  # a misspelling at a sentence start
        ("It will definately arrive tomorow.", '"definately" (definitely?), "tomorow"'),
        ("Your refnud is on teh way.", '"teh" (the?)'),
        ("Teh mesage recieved, we wil definately sned it.", "and 1 more word"),
    ],
)
def test_spelling_warns_with_suggestions(text, in_message):
    result = check_spelling(text, case=CALM)
    assert result.severity == WARN
    assert in_message in result.message


def test_spelling_lists_at_most_five_words():
    result = check_spelling("Aaxq bbxq ccxq ddxq eexq ffxq ggxq.", case=None)
    assert result.severity == WARN
    assert result.message.count('"') == 10
    assert "and 2 more words" in result.message


def test_spelling_accepts_the_channels_brand_words():
    text = "Zorbix will replace it, Dana."
    brand = case_of(handle="zorbix_care", channel_name="Zorbix Care", customer="Dana Smith")
    assert check_spelling(text, case=brand).severity == OK
    assert check_spelling("Zorbix will replace it.", case=None).severity == WARN


@pytest.mark.parametrize("language", ["en", "en-GB", "", "und"])
def test_spelling_reads_an_unknown_language_as_english(language):
    result = check_spelling("We will recieve it.", case=case_of(language=language))
    assert result.severity == WARN
    assert '"recieve"' in result.message


def test_spelling_is_not_checked_without_a_dictionary_for_the_language():
    result = check_spelling("ご迷惑をおかけして申し訳ありません。", case=case_of(language="ja"))
    assert result.severity == OK
    assert result.message.startswith("Not checked")
    assert "(ja)" in result.message


# A correct reply and the same reply with two typos, as a desk writes them in each language.
REPLIES_BY_LANGUAGE = {
    "es": (
        "Hola Dana, lamentamos mucho las molestias. Envíanos un mensaje privado con tu número "
        "de pedido y lo revisamos hoy mismo. ¡Gracias por avisarnos!",
        "Hola Dana, lamentamos mucho las molestias. Envíanos un mensage privado con tu "
        "númeor de pedido.",
        ("mensage", "númeor"),
    ),
    "fr": (
        "Bonjour Dana, nous sommes désolés pour ce retard. Envoyez-nous un message privé avec "
        "votre numéro de commande, nous vérifions tout de suite. N'hésitez pas !",
        "Bonjour Dana, nous sommes désolés pour ce retar. Envoyez-nous un mesage privé.",
        ("retar", "mesage"),
    ),
    "de": (
        "Hallo Dana, das tut uns leid. Bitte schicken Sie uns eine Direktnachricht mit Ihrer "
        "Bestellnummer, dann prüfen wir das sofort.",
        "Hallo Dana, das tut uns leid. Bitte schiken Sie uns eine Nachricht, wir prüffen das.",
        ("schiken", "prüffen"),
    ),
    "pt": (
        "Olá Dana, sentimos muito pelo transtorno. Envie-nos uma mensagem privada com o número "
        "do seu pedido e verificamos hoje mesmo.",
        "Olá Dana, sentimos muito pelo trasntorno. Envie-nos uma mensagen privada.",
        ("trasntorno", "mensagen"),
    ),
}


@pytest.mark.parametrize("language", sorted(REPLIES_BY_LANGUAGE))
def test_spelling_uses_the_conversations_language(language):
    correct, misspelt, typos = REPLIES_BY_LANGUAGE[language]
    case = case_of(language=language)
    assert check_spelling(correct, case=case).severity == OK
    result = check_spelling(misspelt, case=case)
    assert result.severity == WARN
    for typo in typos:
        assert f'"{typo}"' in result.message
    # The same words against the English dictionary are mostly unknown.
    assert check_spelling(correct, case=case_of(language="en")).severity == WARN


def test_spelling_reads_the_regional_tag_by_its_language():
    correct, misspelt, _ = REPLIES_BY_LANGUAGE["pt"]
    assert check_spelling(correct, case=case_of(language="pt-BR")).severity == OK
    assert check_spelling(misspelt, case=case_of(language="pt-BR")).severity == WARN


def test_spelling_suggests_from_the_conversations_dictionary():
    result = check_spelling("Envíanos un mensage.", case=case_of(language="es"))
    assert '"mensage" (mensaje?)' in result.message


def test_spelling_accepts_handles_tags_links_and_brand_words_in_every_language():
    text = "@dana_m Zorbix lo revisa hoy: https://zorbix.example/ayuda #ZorbixAyuda"
    brand = case_of(language="es", handle="zorbix_care", channel_name="Zorbix Care")
    assert check_spelling(text, case=brand).severity == OK


# --- 3. Punctuation and capitals ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Thanks for waiting!",
        "@jane Thanks for waiting.",
        "@jane @bob Thanks, both of you?",
        "Thanks, the details are here: https://acme.com/help",  # ends with a link
        "Thanks for waiting " + THUMB_TONE,  # ends with an emoji
        "Thanks for waiting ^AL",  # a signature
        "Thanks for waiting -Alice",
        "We're on it :)",
        'We said "thanks."',
        "Orders over 1,000 dollars ship free.",  # a thousands separator
        "Thanks for your patience. #AcmeHelp",  # a trailing hashtag
        "We've sent it by SMS to the UK team.",  # short acronyms are not shouting
        "",
    ],
)
def test_punctuation_passes(text):
    result = check_punctuation(text)
    assert result.severity == OK, result.message


@pytest.mark.parametrize(
    ("text", "in_message"),
    [
        ("thanks for waiting.", 'capital letter ("thanks" → "Thanks")'),
        ("@jane thanks for waiting.", "capital letter"),
        ("Thanks for waiting", "end with a full stop"),
        ("Thanks for waiting!!", 'instead of "!!"'),
        ("Really??", 'instead of "??"'),
        ("PLEASE send us a DM.", 'capitals for emphasis ("PLEASE")'),
        ("WE ARE VERY SORRY.", "shouting"),
        ("Thanks,we will check.", 'space after the comma in "Thanks,we"'),
        ("Thanks  for waiting.", "double space"),
    ],
)
def test_punctuation_warns(text, in_message):
    result = check_punctuation(text)
    assert result.severity == WARN
    assert in_message.lower() in result.message.lower()


# --- 4. Tone -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "in_message"),
    [
        ("Calm down, we are looking into it.", '"Calm down"'),
        ("As I said, the refund takes 5 days.", '"As I said"'),
        ("Obviously the app needs an update.", '"Obviously"'),
        ("That's not our problem.", '"not our problem"'),
        ("You should have read the terms.", '"You should have"'),
        ("Whatever.", '"Whatever"'),
        ("Fine, whatever", '"whatever"'),
        ("Per my last message, it shipped.", '"Per my last"'),
        ("No.", '"No."'),
        ("Ok", '"Ok"'),
        ("@jane nope", '"nope"'),
        ("That\u2019s your problem.", "your problem"),  # typographic apostrophe
    ],
)
def test_tone_warns_on_hostile_or_curt_wording(text, in_message):
    result = check_tone(text, case=CALM)
    assert result.severity == WARN
    assert in_message in result.message
    assert "hostile or curt" in result.message


@pytest.mark.parametrize(
    "text",
    [
        "We'll do whatever we can to help.",
        "No problem, happy to help!",
        "No. 5 is our best seller.",
        "Thanks for the update, we're checking now.",
        "",
    ],
)
def test_tone_passes_friendly_wording(text):
    assert check_tone(text, case=CALM).severity == OK


@pytest.mark.parametrize(
    ("text", "case", "severity"),
    [
        ("Your refund is on its way.", ANGRY, WARN),
        ("Your refund is on its way.", ESCALATED, WARN),
        ("Your refund is on its way.", SUGGESTED_ESCALATE, WARN),
        ("Your refund is on its way.", case_of(sentiment=-0.3), WARN),  # the boundary
        ("Your refund is on its way.", case_of(sentiment=-0.29), OK),
        ("Your refund is on its way.", OVERRULED_ESCALATE, OK),
        ("Your refund is on its way.", CALM, OK),
        ("Your refund is on its way.", None, OK),
        ("Sorry about this, your refund is on its way.", ANGRY, OK),
        ("We apologise, your refund is on its way.", ANGRY, OK),
        ("I understand how frustrating this is.", ANGRY, OK),
        ("Thank you for your patience.", ESCALATED, OK),
        ("Lo siento mucho, ya está en camino.", ANGRY, OK),
        ("Désolé pour ce retard.", ANGRY, OK),
        ("Entschuldigung für die Verspätung.", ANGRY, OK),
    ],
)
def test_tone_wants_empathy_on_an_angry_case(text, case, severity):
    result = check_tone(text, case=case)
    assert result.severity == severity, result.message
    if severity == WARN:
        assert "upset" in result.message


@pytest.mark.parametrize(
    ("language", "text", "in_message"),
    [
        ("es", "Cálmese, como ya le dije el reembolso tarda 5 días.", '"Cálmese"'),
        ("es", "Eso no es nuestro problema.", '"no es nuestro problema"'),
        ("es", "Vale", '"Vale"'),
        ("fr", "Calmez-vous, ce n'est pas notre problème.", '"Calmez-vous"'),
        ("fr", "Comme je l\u2019ai dit, c'est votre faute.", "c'est votre faute"),
        ("de", "Wie gesagt, das ist nicht unser Problem.", '"Wie gesagt"'),
        ("de", "Erledigt.", '"Erledigt."'),
        ("pt", "Acalme-se, a culpa é sua.", '"Acalme-se"'),
        ("pt", "Como eu disse, não podemos fazer nada.", '"não podemos fazer nada"'),
    ],
)
def test_tone_warns_on_hostile_or_curt_wording_in_the_conversations_language(
    language, text, in_message
):
    result = check_tone(text, case=case_of(sentiment=0.3, language=language))
    assert result.severity == WARN
    assert in_message in result.message


@pytest.mark.parametrize(
    ("language", "without", "with_empathy", "example"),
    [
        (
            "es",
            "Tu reembolso ya está en camino.",
            "Lamentamos el retraso, ya está en camino.",
            "Lamentamos las molestias",
        ),
        (
            "fr",
            "Votre remboursement est en route.",
            "Nous sommes désolés, il est en route.",
            "Nous sommes désolés",
        ),
        (
            "de",
            "Ihre Erstattung ist unterwegs.",
            "Das tut uns leid, sie ist unterwegs.",
            "Das tut uns leid",
        ),
        (
            "pt",
            "O seu reembolso está a caminho.",
            "Sentimos muito, já está a caminho.",
            "Sentimos muito",
        ),
    ],
)
def test_tone_wants_empathy_in_the_conversations_language(language, without, with_empathy, example):
    angry = case_of(sentiment=-0.6, language=language)
    result = check_tone(without, case=angry)
    assert result.severity == WARN
    assert example in result.message  # the example is in the customer's language
    assert check_tone(with_empathy, case=angry).severity == OK
    assert check_tone(without, case=case_of(sentiment=0.3, language=language)).severity == OK


def test_tone_does_not_ask_for_empathy_in_a_language_it_has_no_words_for():
    angry = case_of(sentiment=-0.6, language="ja")
    assert check_tone("お待たせしました。", case=angry).severity == OK
    assert check_tone("Calm down.", case=angry).severity == WARN  # hostile wording still counts


# --- 5. Personal data --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "in_message"),
    [
        ("Email me at jane.doe@example.com please.", "e-mail address j…@example.com"),
        ("Is +44 7700 900123 your number?", "phone number ending 0123"),
        ("Is 555-123-4567 still your number?", "phone number ending 4567"),
        ("We'll ring (020) 7946 0958 today.", "phone number ending 0958"),
        ("We called +4915112345678 twice.", "phone number ending 5678"),
        ("Your card 4111 1111 1111 1111 was charged.", "card number ending 1111"),
        ("Your card 5500-0000-0000-0004 was charged.", "card number ending 0004"),
        ("Order 4111111111111111 was paid.", "card number ending 1111"),  # Luhn-valid: a card
        ("Your account number 12345678 is closed.", "account number ending 5678"),
        ("Account no. 0012 3456 78 is closed.", "account number ending 5678"),
        ("Refund sent to DE89 3704 0044 0532 0130 00.", "IBAN DE… ending 3000"),
        ("Refund sent to GB82WEST12345698765432.", "IBAN GB… ending 5432"),
        (
            "Mail jane@example.com or call +44 7700 900123.",
            "e-mail address j…@example.com and phone number ending 0123",
        ),
    ],
)
def test_personal_data_blocks_a_public_reply(text, in_message):
    result = check_personal_data(text, is_private=False)
    assert result.severity == BLOCK
    assert in_message in result.message
    assert "take the conversation offline" in result.message
    private = check_personal_data(text, is_private=True)
    assert private.severity == OK


@pytest.mark.parametrize(
    "text",
    [
        "Your order 4111111111111112 has shipped.",  # 16 digits, not Luhn-valid: an order number
        "Your order 123456789 is on its way.",  # a bare run of digits
        "Order #123-456-7890 is on its way.",
        "Order number 123-456-7890 ships today.",
        "Your parcel 1Z999AA10123456784 is on its way.",
        "Call us on +44 20 7946 0000 any time.",  # the brand's own line
        "Our hotline is 0800 123 4567.",  # toll-free
        "Ring 1-800-555-0199 for help.",
        "Email support@acme.com or help@acme.com.",  # role mailboxes are the brand's
        "Please email us at jordan.care@acme.com.",
        "Refund of 25.00 EUR on 2026-11-24, open 9-17 Mon-Fri.",
        "Your account was created in 2019.",
        "Your account ending 1234 is fine.",
        "Read https://acme.com/help/123-456-7890 for details.",  # digits inside a link
        "Thanks for waiting!",
    ],
)
def test_personal_data_passes_what_is_not_personal(text):
    """Without reference words (a desk that allows order numbers in public)."""
    result = check_personal_data(text, is_private=False, references=())
    assert result.severity == OK, result.message


REFERENCES = ("order", "account", "ticket", "booking")


@pytest.mark.parametrize(
    ("text", "in_message"),
    [
        ("Your order #835070 has shipped!", "order reference ending 5070"),
        ("Order number 123-456-7890 ships today.", "order reference ending 7890"),
        ("Your orders 4411 and 4412 are late.", "order reference ending 4411"),
        ("Booking ref AB12345 is confirmed.", "booking reference ending 2345"),
        ("I've updated ticket: TK-20931 for you.", "ticket reference ending 0931"),
        ("Order 4111111111111111 was paid.", "card number ending 1111"),  # a card stays a card
    ],
)
def test_reference_numbers_the_desk_names_block_a_public_reply(text, in_message):
    result = check_personal_data(text, is_private=False, references=REFERENCES)
    assert result.severity == BLOCK
    assert in_message in result.message
    assert check_personal_data(text, is_private=True, references=REFERENCES).severity == OK


@pytest.mark.parametrize(
    "text",
    [
        "Your order is on its way.",
        "Your account was created in 2019.",  # a year after the word, not a reference
        "Your account ending 1234 is fine.",
        "We'll book a ticket for 2 people.",
        "Your parcel 1Z999AA10123456784 is on its way.",  # not a word the desk named
        "Please DM us your order number and we'll check.",
    ],
)
def test_reference_words_without_a_number_pass(text):
    result = check_personal_data(text, is_private=False, references=REFERENCES)
    assert result.severity == OK, result.message


@pytest.mark.django_db
def test_the_desk_settings_choose_the_reference_words():
    text = "Your order #835070 has shipped!"
    by_default = run_checks(text, network="x", is_private=False, case=None)
    assert by_default[4].severity == BLOCK
    assert "order reference ending 5070" in by_default[4].message
    desk = DeskSettings.load()
    desk.public_reference_words = " Booking,, TICKET "
    desk.save(update_fields=["public_reference_words"])
    assert desk.reference_words == ("booking", "ticket")
    assert run_checks(text, network="x", is_private=False, case=None)[4].severity == OK


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("4111111111111111", True),
        ("4111111111111112", False),
        ("5500000000000004", True),
        ("378282246310005", True),  # Amex, 15 digits
        ("1234567812345678", False),
        ("79927398713", True),
    ],
)
def test_luhn(number, valid):
    assert luhn_valid(number) is valid


def test_personal_data_message_never_repeats_the_data():
    text = "Card 4111 1111 1111 1111, mail jane.doe@example.com, phone +44 7700 900123."
    message = check_personal_data(text, is_private=False).message
    for secret in ("4111 1111 1111 1111", "jane.doe", "7700 900123"):
        assert secret not in message


# --- 6. Invitation to continue offline ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "is_private", "case", "severity"),
    [
        ("We're sorry, we'll fix it.", False, UNHAPPY, WARN),
        ("We're sorry, we'll fix it.", False, ANGRY, WARN),
        ("We're sorry, we'll fix it.", False, URGENT, WARN),
        ("We're sorry, we'll fix it.", False, ESCALATED, WARN),
        ("We're sorry, we'll fix it.", False, case_of(sentiment=-0.05), OK),  # the boundary
        ("We're sorry, we'll fix it.", False, CALM, OK),
        ("We're sorry, we'll fix it.", False, None, OK),
        ("We're sorry, we'll fix it.", True, ANGRY, OK),  # already private
        ("Sorry! Please send us a DM with your order number.", False, ANGRY, OK),
        ("Sorry! Please dm us your order number.", False, ANGRY, OK),
        ("Sorry, could you send us a direct message?", False, ANGRY, OK),
        ("Sorry, please email us at support@acme.com.", False, ANGRY, OK),
        ("Sorry, please call us on 0800 123 4567.", False, ANGRY, OK),
        ("Sorry, check your inbox: we wrote to you.", False, ANGRY, OK),
        ("Lo sentimos, envíanos un mensaje privado.", False, ANGRY, OK),
        ("Désolé, envoyez-nous un MP.", False, ANGRY, OK),
        ("Entschuldigung, schicken Sie uns eine Direktnachricht.", False, ANGRY, OK),
        ("Sorry, we open at 9 PM.", False, ANGRY, WARN),  # a time is not an invitation
    ],
)
def test_offline_invitation_on_a_negative_case(text, is_private, case, severity):
    result = check_offline_invitation(text, is_private=is_private, case=case)
    assert result.severity == severity, result.message
    if severity == WARN:
        assert "continue privately" in result.message


@pytest.mark.parametrize(
    ("language", "without", "invitation", "example"),
    [
        (
            "es",
            "Lo sentimos, lo arreglamos hoy.",
            "Lo sentimos, escríbenos por privado.",
            "Envíanos un mensaje privado",
        ),
        (
            "es",
            "Lo sentimos, lo arreglamos hoy.",
            "Lo sentimos, envíanos un MD.",
            "mensaje privado",
        ),
        (
            "fr",
            "Désolés, nous réglons cela.",
            "Désolés, écrivez-nous en privé.",
            "Envoyez-nous un message privé",
        ),
        (
            "de",
            "Das tut uns leid, wir kümmern uns.",
            "Das tut uns leid, schreiben Sie uns eine PN.",
            "Direktnachricht",
        ),
        (
            "pt",
            "Sentimos muito, vamos resolver.",
            "Sentimos muito, chame-nos no privado.",
            "Envie-nos uma mensagem privada",
        ),
        (
            "pt",
            "Sentimos muito, vamos resolver.",
            "Sentimos muito, envie-nos uma DM.",
            "mensagem privada",
        ),
    ],
)
def test_offline_invitation_in_the_conversations_language(language, without, invitation, example):
    angry = case_of(sentiment=-0.6, language=language)
    result = check_offline_invitation(without, is_private=False, case=angry)
    assert result.severity == WARN
    assert example in result.message
    assert check_offline_invitation(invitation, is_private=False, case=angry).severity == OK


def test_offline_invitation_is_not_judged_in_a_language_it_has_no_words_for():
    angry = case_of(sentiment=-0.6, language="ja")
    result = check_offline_invitation("お待たせしました。", is_private=False, case=angry)
    assert result.severity == OK
    assert result.message.startswith("Not checked")
    dm = check_offline_invitation("DM にてご連絡ください。", is_private=False, case=angry)
    assert dm.message == "Invites the customer to continue privately."


# --- run_checks and blocking -------------------------------------------------------------------


def test_run_checks_returns_every_check_in_a_stable_order():
    results = run_checks("Thanks!", network="x", is_private=False, case=None, references=())
    assert [result.code for result in results] == list(CHECK_CODES)
    assert all(isinstance(result, CheckResult) for result in results)
    assert all(result.message for result in results)


def test_a_good_reply_on_an_angry_case_passes_every_check():
    text = (
        "@dana We're so sorry about the broken order, that's not the experience we want for "
        "you. Please send us a DM with your order number and we'll sort out the refund today. ^AL"
    )
    results = run_checks(text, network="x", is_private=False, case=ANGRY, references=())
    assert [(r.code, r.severity) for r in results] == [(code, OK) for code in CHECK_CODES], [
        r.message for r in results if r.severity != OK
    ]


def test_a_bad_reply_fails_every_check():
    text = "calm down,as I said  call +44 7700 900123 recieve it!! " + "a" * 250
    results = {
        r.code: r.severity
        for r in run_checks(text, network="x", is_private=False, case=ANGRY, references=())
    }
    assert results == {
        "length": BLOCK,
        "spelling": WARN,
        "punctuation": WARN,
        "tone": WARN,
        "personal_data": BLOCK,
        "offline": WARN,
    }


def test_blocking_keeps_only_blocks():
    results = run_checks(
        "Call +44 7700 900123 " + "a" * 300, network="x", is_private=False, case=None, references=()
    )
    assert [r.code for r in blocking(results)] == ["length", "personal_data"]
    private = run_checks(
        "Call +44 7700 900123.", network="x", is_private=True, case=None, references=()
    )
    assert blocking(private) == []


def test_results_store_as_plain_dicts():
    result = run_checks("Thanks!", network="x", is_private=False, case=None, references=())[0]
    assert result.as_dict() == {"code": "length", "severity": OK, "message": result.message}


def test_run_checks_on_a_stored_case_reads_no_more_rows(db, django_assert_num_queries):
    """The composer loads the case with its channel and customer; the checks add no query."""
    channel = make_channel(handle="zorbix_care", name="Zorbix Care")
    customer = Customer.objects.create(display_name="Priya Sharma")
    Case.objects.create(
        customer=customer, channel=channel, conversation_key="c1", sentiment=-0.6, language="en"
    )
    case = Case.objects.select_related("channel", "customer").get()
    with django_assert_num_queries(0):
        results = run_checks(
            "Priya, Zorbix is on it: sorry! Please DM us.",
            network="x",
            is_private=False,
            case=case,
            references=REFERENCES,
        )
    assert [r.severity for r in results] == [OK] * len(CHECK_CODES), [r.message for r in results]
