"""The desk's wording in each language it checks: one definition, read by the guideline checks
(cases.checks) and through their stored results by QA's pre-scores (qa.autocheck).

Each `Wording` holds, for one language, the phrases that read as hostile, the one-word replies
that read as curt, the phrases that acknowledge a customer's feelings, the phrases that invite a
customer to continue privately, examples of both shown to the agent in the conversation's
language, and the words a care desk writes that the language's dictionary lacks.

Matching is on lower-cased text. Hostile phrases are whole phrases; empathy phrases are
prefixes of words ("disculp" matches "disculpa" and "disculpe"); offline invitations are
regular-expression fragments, matched case-insensitively as whole words.

Hostile and curt wording is looked for in the conversation's language plus English (agents and
customers mix in English), or in every listed language when the conversation's is not listed.
Empathy and invitations are recognised in every listed language: a reply is not always in the
language the network detected for the customer's post, and a missed "lo sentimos" would warn
for nothing. In a language not listed, the empathy and offline checks say they cannot judge
(see `known_language`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

# X "und" (undetermined), "qme" (media only), "zxx" (no text) and friends mean "unknown".
UNKNOWN_LANGUAGES = frozenset({"", "und", "qme", "qht", "qam", "qst", "zxx", "art"})


@dataclass(frozen=True)
class Wording:
    language: str
    hostile: tuple[str, ...]
    curt: frozenset[str]
    empathy: tuple[str, ...]
    offline: tuple[str, ...]
    empathy_example: str
    offline_example: str
    desk_words: frozenset[str] = frozenset()


# fmt: off
ENGLISH = Wording(
    language="en",
    hostile=(
        "calm down", "as i said", "as i already said", "as i mentioned", "as we said",
        "as previously stated", "as stated before", "like i said", "obviously",
        "not our problem", "not our fault", "your fault", "you should have", "you should've",
        "per my last", "deal with it", "nothing we can do", "for the last time", "you people",
        "chill out", "read the faq", "read our faq", "that's your problem",
        "you need to understand", "we already told you", "no offense", "no offence",
        "with all due respect",
    ),
    curt=frozenset({"ok", "k", "fine", "noted", "no", "nope", "sure", "whatever", "done"}),
    empathy=(
        "sorry", "apologi", "understand", "frustrat", "thank you for", "thanks for",
        "appreciate",
    ),
    offline=(
        r"direct\s+message", r"private\s+message", r"private\s+reply", r"send\s+us\s+a\s+message",
        r"message\s+us", r"e-?mail\s+us", r"call\s+us", r"ring\s+us", r"inbox",
    ),
    empathy_example='"Sorry to hear that", "I understand how frustrating this is"',
    offline_example='"Please send us a DM with your order number"',
    desk_words=frozenset({
        "acme", "app", "apps", "backorder", "chatbot", "dm", "dms", "ecommerce", "faq", "faqs",
        "hashtag", "helpdesk", "inbox", "login", "logout", "preorder", "screenshot",
        "screenshots", "signup", "signin", "smartphone", "timeframe", "url", "urls", "wifi",
        "wishlist", "whatsapp", "instagram", "youtube", "tiktok", "linkedin", "iphone", "ipad",
        "paypal", "covid", "unboxing", "ok", "okay", "hi", "hiya", "cheers", "aluminium",
        "cheque", "cheques", "jewellery", "kerb", "programme", "programmes", "tyre", "tyres",
        "whilst", "amongst", "learnt", "mum", "pyjamas",
    }),
)

SPANISH = Wording(
    language="es",
    hostile=(
        "cálmese", "cálmate", "calmese", "calmate", "como ya le dije", "como ya te dije",
        "como le dije", "como te dije", "como ya dijimos", "como ya le indicamos", "obviamente",
        "no es nuestro problema", "no es culpa nuestra", "no es nuestra culpa", "es su culpa",
        "es tu culpa", "debería haber", "deberías haber", "no podemos hacer nada",
        "por última vez", "ustedes siempre", "lea las preguntas frecuentes",
        "eso es problema suyo", "eso es tu problema", "ya se lo dijimos", "con todo respeto",
    ),
    curt=frozenset({"ok", "vale", "bien", "no", "listo", "ya", "claro", "hecho", "anotado"}),
    empathy=(
        "lo siento", "lo sentimos", "sentimos", "lamento", "lamentamos", "disculp", "perdón",
        "perdon", "entiendo", "entendemos", "comprendo", "comprendemos", "frustrante",
        "gracias por", "agradec", "molestias",
    ),
    offline=(
        r"md", r"mensaje\s+(?:privado|directo)", r"por\s+privado", r"escr[íi]benos",
        r"env[íi]anos\s+un\s+(?:mensaje|correo|md)", r"ll[áa]manos", r"correo\s+electr[óo]nico",
    ),
    empathy_example='"Lamentamos las molestias", "Entendemos lo frustrante que es"',
    offline_example='"Envíanos un mensaje privado con tu número de pedido"',
    desk_words=frozenset({
        "acme", "app", "dm", "md", "email", "online", "wifi", "web", "ok", "hola", "gracias",
        "saludos", "vamos", "siento", "sentimos", "buenos", "buenas", "días", "tardes",
        "noches", "pedidos", "directo", "atentamente", "lamentamos", "quedamos", "atentos",
        "disculpe", "disculpa", "disculpas", "molestias", "inconvenientes", "envíanos",
        "escríbenos", "llámanos", "contáctanos", "ayudarte", "ayudarle", "pronto", "usted",
        "ustedes", "nosotros", "estamos", "tenemos", "podemos", "hemos", "somos",
    }),
)

FRENCH = Wording(
    language="fr",
    hostile=(
        "calmez-vous", "calme-toi", "calmez vous", "comme je l'ai dit", "comme déjà dit",
        "comme nous l'avons dit", "comme indiqué précédemment", "évidemment",
        "ce n'est pas notre problème", "ce n'est pas de notre faute", "c'est votre faute",
        "c'est de votre faute", "vous auriez dû", "on ne peut rien faire",
        "nous ne pouvons rien faire", "pour la dernière fois", "vous les gens",
        "lisez la faq", "c'est votre problème", "sauf votre respect", "avec tout le respect",
    ),
    curt=frozenset({"ok", "d'accord", "non", "bien", "noté", "soit", "fait", "entendu"}),
    empathy=(
        "désolé", "desole", "excus", "pardon", "comprends", "comprenons", "frustrant",
        "merci de", "merci pour", "regrett", "navré", "navre",
    ),
    offline=(
        r"mp", r"message\s+priv[ée]", r"en\s+priv[ée]", r"[ée]crivez-nous",
        r"envoyez-nous\s+un\s+(?:message|e-?mail|courriel|mp)", r"appelez-nous",
        r"par\s+(?:e-?mail|courriel)",
    ),
    empathy_example='"Nous sommes désolés", "Je comprends votre frustration"',
    offline_example='"Envoyez-nous un message privé avec votre numéro de commande"',
    desk_words=frozenset({"acme", "app", "dm", "mp", "email", "wifi", "ok", "faq"}),
)

GERMAN = Wording(
    language="de",
    hostile=(
        "beruhigen sie sich", "beruhig dich", "wie gesagt", "wie bereits gesagt",
        "wie ich schon sagte", "wie schon erwähnt", "offensichtlich", "nicht unser problem",
        "nicht unsere schuld", "ihre schuld", "selbst schuld", "hätten sie eben",
        "da können wir nichts machen", "zum letzten mal", "ihr leute", "lesen sie die faq",
        "das ist ihr problem", "bei allem respekt",
    ),
    curt=frozenset({"ok", "gut", "nein", "erledigt", "passt", "notiert", "klar", "fertig"}),
    empathy=(
        "entschuldig", "tut uns leid", "tut mir leid", "bedauer", "verstehe", "verstehen",
        "ärgerlich", "frustrierend", "danke für", "vielen dank", "verständnis",
    ),
    offline=(
        r"direktnachricht", r"privatnachricht", r"pn", r"private\s+nachricht",
        r"schreiben\s+sie\s+uns", r"schreib\s+uns", r"rufen\s+sie\s+uns", r"per\s+e-?mail",
    ),
    empathy_example='"Das tut uns leid", "Wir verstehen Ihren Ärger"',
    offline_example='"Bitte schicken Sie uns eine Direktnachricht mit Ihrer Bestellnummer"',
    desk_words=frozenset({"acme", "app", "dm", "pn", "email", "wifi", "ok", "faq", "hallo"}),
)

PORTUGUESE = Wording(
    language="pt",
    hostile=(
        "acalme-se", "se acalme", "calma aí", "como eu disse", "como já disse",
        "como já dissemos", "obviamente", "não é problema nosso", "não é nosso problema",
        "não é culpa nossa", "a culpa é sua", "você deveria ter", "devia ter",
        "não podemos fazer nada", "pela última vez", "vocês sempre", "leia o faq",
        "o problema é seu", "com todo o respeito",
    ),
    curt=frozenset({"ok", "tá", "não", "certo", "beleza", "feito", "anotado", "blz"}),
    empathy=(
        "sinto muito", "sentimos muito", "lament", "desculp", "perdão", "perdao", "entendo",
        "entendemos", "compreendo", "compreendemos", "frustrante", "obrigado por",
        "obrigada por", "agradeç", "agradec",
    ),
    offline=(
        r"mensagem\s+(?:privada|direta)", r"no\s+privado", r"inbox", r"envie-nos",
        r"mande\s+uma\s+(?:mensagem|dm)", r"ligue\s+para\s+n[óo]s", r"por\s+e-?mail",
    ),
    empathy_example='"Sentimos muito pelo transtorno", "Entendemos a sua frustração"',
    offline_example='"Envie-nos uma mensagem privada com o número do seu pedido"',
    desk_words=frozenset({"acme", "app", "dm", "email", "wifi", "ok", "faq", "inbox"}),
)
# fmt: on

WORDINGS: dict[str, Wording] = {
    w.language: w for w in (ENGLISH, SPANISH, FRENCH, GERMAN, PORTUGUESE)
}
# "DM" and "PM" are understood everywhere; "PM" only as a word, not after a time ("5 PM").
_ANY_LANGUAGE_OFFLINE = r"\b(?:[Dd][Mm]s?)\b|(?<![\d\s])\s*\bPM\b"


def primary_language(language: str | None) -> str:
    """The primary subtag of a BCP 47 tag, lower case: "pt-BR" -> "pt", "und" -> ""."""
    primary = (language or "").strip().lower().replace("_", "-").split("-", 1)[0]
    return "" if primary in UNKNOWN_LANGUAGES else primary


def known_language(language: str | None) -> bool:
    """Whether the desk has wording lists for this conversation's language (unknown = English)."""
    primary = primary_language(language)
    return not primary or primary in WORDINGS


def wordings_for(language: str | None) -> tuple[Wording, ...]:
    """The lists a reply in this conversation's language is checked against: the language's
    own plus English; an unknown language reads as English, an unlisted one gets all."""
    primary = primary_language(language)
    if not primary or primary == "en":
        return (ENGLISH,)
    if primary in WORDINGS:
        return (WORDINGS[primary], ENGLISH)
    return tuple(WORDINGS.values())


def examples_for(language: str | None) -> Wording:
    """The wording whose examples the agent is shown: the conversation's, else English."""
    return WORDINGS.get(primary_language(language), ENGLISH)


def _phrase(phrase: str) -> str:
    return re.escape(phrase).replace("'", "['’]")


@cache
def hostile_pattern(language: str | None) -> re.Pattern[str]:
    """Hostile phrases of the conversation's languages as whole phrases, plus "whatever" on its
    own (not "whatever you need") and "No." as a whole sentence."""
    phrases = sorted({p for w in wordings_for(language) for p in w.hostile}, key=len, reverse=True)
    return re.compile(
        r"(?<!\w)(?:"
        + "|".join(_phrase(p) for p in phrases)
        + r")(?!\w)"
        + r"|(?<!\w)whatever(?=\s*(?:[.!,]|$))|(?:^|(?<=[.!?]\s))no[.!](?!\s*\d)(?=\s|$)",
        re.IGNORECASE,
    )


@cache
def curt_replies(language: str | None) -> frozenset[str]:
    return frozenset().union(*(w.curt for w in wordings_for(language)))


@cache
def empathy_phrases() -> tuple[str, ...]:
    """Phrases that acknowledge the customer's feelings, in every listed language."""
    return tuple(dict.fromkeys(p for w in WORDINGS.values() for p in w.empathy))


@cache
def offline_pattern() -> re.Pattern[str]:
    """An invitation to continue privately, in any listed language."""
    fragments = [f for w in WORDINGS.values() for f in w.offline]
    return re.compile(
        _ANY_LANGUAGE_OFFLINE + r"|(?i:(?<!\w)(?:" + "|".join(fragments) + r")(?!\w))"
    )


def desk_words(language: str | None) -> frozenset[str]:
    """Words the spelling check accepts in this language although its dictionary lacks them."""
    return examples_for(language).desk_words | ENGLISH.desk_words
