"""Synthetic customers and what they say: the content side of the simulator.

Everything here is a pure function of a `random.Random`, so a seed reproduces the same
customers and the same posts. The text is deliberately awkward: several languages, emoji made
of several code points, HTML and template syntax, quotes and ampersands, links and spam, so
that every layer of the desk meets hostile input in demos and tests.
"""

import random
import re
import string
from dataclasses import dataclass

LANGUAGES = ("en", "es", "fr", "de", "pt", "ja")
# English dominates real brand traffic; the rest keep the desk honest about languages.
LANGUAGE_WEIGHTS = (60, 10, 8, 8, 8, 6)

TOPICS = ("complaint", "question", "praise", "troll", "spam", "press", "legal")
TOPIC_WEIGHTS = (34, 24, 14, 9, 8, 4, 7)

EMOJI = ("👍🏽", "👨‍👩‍👧", "😡", "🙏", "❤️", "🔥", "😭", "🤬", "🙄", "✨", "🇪🇸", "👎🏿", "🤦‍♀️")

# Hostile fragments: markup, template syntax, SQL, quotes and a right-to-left override.
HOSTILE = (
    "<script>alert('pwned')</script>",
    '<img src=x onerror="alert(1)">',
    'Tom & Jerry\'s "best" deal <b>now</b>',
    "'; DROP TABLE cases; --",
    "{{ request.user.password }} {% csrf_token %}",
    "<a href=\"javascript:alert('x')\">click</a>",
    "R&D <3 & a > b",
    "\u202etxt.exe",
)

PRODUCTS = ("router", "phone", "blender", "subscription", "app", "smart speaker", "laptop")

FIRST_NAMES = {
    "en": ("Olivia", "Liam", "Emma", "Noah", "Ava", "Mason", "Sophia", "Jack", "Mia", "Ethan"),
    "es": ("José", "María", "Lucía", "Mateo", "Sofía", "Martín", "Valentina", "Hugo"),
    "fr": ("Chloé", "Lucas", "Léa", "Hugo", "Manon", "Gabriel", "Zoë", "Théo"),
    "de": ("Jürgen", "Anna", "Lukas", "Mia", "Jonas", "Lea", "Björn", "Sören"),
    "pt": ("João", "Ana", "Gonçalo", "Beatriz", "Tiago", "Inês", "Luís", "Mariana"),
    "ja": ("花子", "太郎", "さくら", "健", "由美", "翔太"),
}
LAST_NAMES = {
    "en": ("Smith", "O'Brien", "Johnson", "Nguyen", "Patel", "Garcia", "Brown", "Kowalski"),
    "es": ("Álvarez", "García", "Fernández", "López", "Martínez", "Núñez"),
    "fr": ("Dubois", "Lefèvre", "Moreau", "Girard", "Faure"),
    "de": ("Müller", "Schmidt", "Weiß", "Groß", "Köhler"),
    "pt": ("Silva", "Conceição", "Gonçalves", "Araújo", "Simões"),
    "ja": ("田中", "佐藤", "鈴木", "高橋", "渡辺"),
}
ROMAJI = {
    "花子": "hanako",
    "太郎": "taro",
    "さくら": "sakura",
    "健": "ken",
    "由美": "yumi",
    "翔太": "shota",
    "田中": "tanaka",
    "佐藤": "sato",
    "鈴木": "suzuki",
    "高橋": "takahashi",
    "渡辺": "watanabe",
}
ASCII_FOLD = str.maketrans("áàâäãçéèêëíìîïñóòôöõúùûüßøœ'", "aaaaaceeeeiiiinooooouuuusoo_")

PRESS_BIOS = (
    "Reporter at The Daily Ledger. Consumer affairs. DMs open.",
    "Tech journalist @ WiredWorld. Tips: signal/email in bio",
    "Editor at Consumer Watch. Opinions my own.",
    "Journaliste au Quotidien du Soir 📰",
)
PLAIN_BIOS = (
    "Coffee, cats & code ☕🐈",
    "Dad of three 👨‍👩‍👧 | runner",
    "Just here for the memes",
    "Small business owner. <b>Not</b> a bot.",
    "",
    "Estudiante 📚 | Madrid",
    "Fußball & Bier",
)

TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "complaint": {
        "en": (
            "my {product} is broken AGAIN. I want a refund or I cancel everything",
            "3rd outage this week. Order #{order} still not delivered. Never again.",
            "Charged twice for order #{order}?! Refund me now or I'm calling my lawyer",
            "your {product} died after {days} days. Worst support ever. Cancel my account",
        ),
        "es": (
            "mi {product} llegó roto y nadie responde. Quiero un reembolso",
            "Pedido #{order} sin entregar desde hace {days} días. Voy a cancelar",
        ),
        "fr": (
            "Mon {product} est cassé après {days} jours. Je veux un remboursement !",
            "Encore une panne ce matin. Commande #{order} toujours pas livrée",
        ),
        "de": (
            "Mein {product} ist kaputt, seit {days} Tagen keine Antwort. Ich will eine Erstattung",
            "Schon wieder eine Störung! Bestellung #{order} fehlt. Ich werde kündigen",
        ),
        "pt": (
            "Meu {product} chegou quebrado. Quero reembolso já!",
            "Pedido #{order} atrasado {days} dias. Vou cancelar tudo",
        ),
        "ja": (
            "{product}が{days}日で壊れました。返金してください",
            "注文#{order}がまだ届きません。ひどい対応です",
        ),
    },
    "question": {
        "en": (
            "hi, how do I reset my {product}? the manual says nothing",
            "Is there an outage right now? App won't load",
            "When will order #{order} ship? Thanks!",
            "Do you deliver to Canada & the US? Asking for a friend",
        ),
        "es": ("¿Cómo reinicio mi {product}? Gracias", "¿Cuándo llega el pedido #{order}?"),
        "fr": (
            "Bonjour, comment réinitialiser mon {product} ?",
            "Quand arrive la commande #{order} ?",
        ),
        "de": ("Wie setze ich meinen {product} zurück?", "Wann kommt Bestellung #{order}?"),
        "pt": ("Como faço para reiniciar o {product}?", "Quando chega o pedido #{order}?"),
        "ja": ("{product}のリセット方法を教えてください", "注文#{order}はいつ届きますか？"),
    },
    "praise": {
        "en": (
            "shoutout to the support team, {product} fixed in 5 minutes!",
            "Love the new {product}. Best purchase this year",
            "thank you for the quick refund, you guys rock",
        ),
        "es": ("¡Gracias por la ayuda, equipo! Todo resuelto",),
        "fr": ("Merci au service client, super rapide !",),
        "de": ("Danke fürs schnelle Helfen, top Service!",),
        "pt": ("Obrigada pelo atendimento, resolvido!",),
        "ja": ("サポートの対応が早くて助かりました！ありがとう",),
    },
    "troll": {
        "en": (
            "lol imagine paying for this garbage. clowns",
            "you people are pathetic, shut up and fix your trash company",
            "{brand} sucks. that's the tweet",
        ),
        "es": ("Qué empresa tan patética, payasos",),
        "de": ("Was für ein Saftladen. Lächerlich",),
    },
    "spam": {
        "en": (
            "🚀 FREE crypto airdrop! Claim your bitcoin now {link} #giveaway",
            "follow back for free followers!!! dm me to earn $500/day {link}",
            "Investment opportunity 💰 click here {link}",
        ),
        "pt": ("Ganhe bitcoin grátis 🚀 {link}",),
    },
    "press": {
        "en": (
            "Hi, I'm a reporter at The Daily Ledger writing a story on the {product} outage. "
            "Could your press office reach me for comment?",
            "Press enquiry: are you aware of reports of {product} fires? Deadline today.",
        ),
        "fr": ("Journaliste ici : pouvez-vous commenter la panne de {product} ?",),
    },
    "legal": {
        "en": (
            "My lawyer will be in touch about order #{order}. Expect legal action.",
            "I'm filing a complaint with the consumer authority and joining the class action",
        ),
        "es": ("Mi abogado se pondrá en contacto por el pedido #{order}",),
        "de": ("Mein Anwalt meldet sich wegen Bestellung #{order}.",),
    },
}

FOLLOW_UPS = {
    "en": (
        "Still not fixed. Day {days}.",
        "Thanks, sent you a DM 🙏",
        "That didn't help at all",
        "ok done 👍🏽",
        "Order #{order}, as I said before!!",
    ),
    "es": ("Sigue sin funcionar.", "Gracias, te escribí por DM"),
    "fr": ("Toujours rien.", "Merci, je vous ai écrit en privé"),
    "de": ("Immer noch kaputt.", "Danke, habe eine DM geschickt"),
    "pt": ("Ainda não resolveu.", "Obrigado, mandei DM"),
    "ja": ("まだ直っていません。", "DMしました、ありがとう"),
}
THREAD_BUMPS = {
    "en": ("Still waiting... day {days}", "Anyone?? Hello??", "UPDATE: still broken."),
    "es": ("Sigo esperando... día {days}",),
    "fr": ("Toujours en attente, jour {days}",),
    "de": ("Warte immer noch, Tag {days}",),
    "pt": ("Ainda esperando, dia {days}",),
    "ja": ("まだ待っています（{days}日目）",),
}
QUOTE_LINES = {
    "en": ("Same here!!", "This is how {brand} treats customers 👇", "lmao this"),
    "es": ("¡A mí también!",),
    "fr": ("Pareil pour moi",),
    "de": ("Bei mir auch!",),
    "pt": ("Comigo também!",),
    "ja": ("私も同じです",),
}
PAGE_POSTS = (
    "We're here to help 7 days a week! Tell us how we're doing.",
    "Holiday hours: support is open 9–17 on Dec 24 & 31 🎄",
    "New {product} firmware is out. Update now & let us know what you think!",
)


@dataclass(frozen=True, slots=True)
class Customer:
    """One synthetic person, with an account on each network."""

    x_id: str
    fb_id: str
    username: str
    name: str
    lang: str
    followers: int
    following: int
    posts: int
    verified: bool
    bio: str
    created_at: float
    # An account X no longer returns (suspended): its posts come with an "errors" entry.
    # About 1 in 100 customers, and 1 in 33 Facebook profiles hidden, chosen by position so
    # that every pool has some.
    suspended: bool
    # A Facebook profile Graph hides: its posts and comments come without "from".
    fb_hidden: bool


def make_customers(rng: random.Random, count: int = 300) -> list[Customer]:
    """A pool of `count` customers; the same rng state yields the same pool."""
    customers = []
    used: set[str] = set()
    for n in range(count):
        lang = rng.choices(LANGUAGES, LANGUAGE_WEIGHTS)[0]
        first = rng.choice(FIRST_NAMES[lang])
        last = rng.choice(LAST_NAMES[lang])
        name = f"{last} {first}" if lang == "ja" else f"{first} {last}"
        base = (ROMAJI.get(first, first) + "_" + ROMAJI.get(last, last)[:4]).lower()
        base = base.translate(ASCII_FOLD)
        base = "".join(c for c in base if c in string.ascii_lowercase + string.digits + "_")
        username = f"{base}{rng.randint(1, 9999)}"[:15]
        while username in used:
            username = f"{base[:10]}{rng.randint(10000, 99999)}"
        used.add(username)
        press = rng.random() < 0.04
        # Reach follows a log-normal spread: most have a few hundred, a few have a million.
        followers = int(rng.lognormvariate(5.5, 2.0))
        if press:
            followers = max(followers, 20_000)
        customers.append(
            Customer(
                x_id=str(1_400_000_000 + n * 7919 + rng.randint(0, 7000)),
                fb_id=str(6_100_000_000_000_000 + n * 104_729 + rng.randint(0, 100_000)),
                username=username,
                name=name if rng.random() > 0.05 else f"{name} 🇺🇦 <b>",
                lang=lang,
                followers=followers,
                following=int(rng.lognormvariate(5.0, 1.2)),
                posts=int(rng.lognormvariate(7.0, 1.5)),
                verified=press or rng.random() < 0.03,
                bio=rng.choice(PRESS_BIOS) if press else rng.choice(PLAIN_BIOS),
                created_at=1_262_304_000 + rng.randint(0, 500_000_000),
                suspended=n % 97 == 41,
                fb_hidden=n % 33 == 7,
            )
        )
    return customers


def _fill(rng: random.Random, template: str, brand: str, network: str) -> str:
    link = (
        f"https://t.co/{''.join(rng.choices(string.ascii_letters + string.digits, k=10))}"
        if network == "x"
        else f"http://free-crypto-airdrop.example/claim?ref={rng.randint(1000, 9999)}&utm=fb"
    )
    return template.format(
        product=rng.choice(PRODUCTS),
        order=rng.randint(100000, 999999),
        days=rng.randint(2, 21),
        brand=brand,
        link=link,
    )


def pick_topic(rng: random.Random) -> str:
    return rng.choices(TOPICS, TOPIC_WEIGHTS)[0]


def compose(rng: random.Random, topic: str, lang: str, network: str, brand: str) -> tuple[str, str]:
    """Text for a new post on `topic`, and its language code.

    The customer's language is used when the topic has templates in it, else English.
    The text may carry emoji and a hostile fragment; it never carries the @handle (the
    caller adds it where the network needs it).
    """
    by_lang = TEMPLATES[topic]
    if lang not in by_lang:
        lang = "en"
    text = _fill(rng, rng.choice(by_lang[lang]), brand, network)
    return _decorate(rng, text), lang


def _decorate(rng: random.Random, text: str) -> str:
    if rng.random() < 0.4:
        text = f"{text} {''.join(rng.choices(EMOJI, k=rng.randint(1, 3)))}"
    if rng.random() < 0.1:
        text = f"{text} {rng.choice(HOSTILE)}"
    return text


def follow_up(rng: random.Random, lang: str, brand: str) -> tuple[str, str]:
    """A customer's answer to the brand's reply."""
    lang = lang if lang in FOLLOW_UPS else "en"
    return _decorate(rng, _fill(rng, rng.choice(FOLLOW_UPS[lang]), brand, "")), lang


# A brand message asking for a score from 1 to 5 (the desk's satisfaction survey, in any of its
# languages): customers answer it more often than other replies, mostly with a score.
_SURVEY_ASK = re.compile(r"\b1\b.{0,40}\b5\b", re.S)
SURVEY_ANSWERS = {
    "en": (
        "5",
        "5/5 thanks!",
        "4 - quick and friendly",
        "4 stars",
        "3. Took a while but sorted",
        "2 - three days for a refund",
        "1 nobody read my first messages",
        "5️⃣ great help",
        "⭐⭐⭐⭐",
        "who is this?",
        "I have 2 more questions actually",
    ),
    "es": ("5", "5 estrellas, gracias", "4 de 5", "2 - tardaron mucho", "¿quién eres?"),
}


def looks_like_survey(text: str) -> bool:
    """Whether a brand's message asks the customer for a score from 1 to 5."""
    return bool(_SURVEY_ASK.search(text or ""))


def survey_answer(rng: random.Random, lang: str) -> tuple[str, str]:
    """A customer's answer to a satisfaction survey: usually a score, sometimes not."""
    lang = lang if lang in SURVEY_ANSWERS else "en"
    return rng.choice(SURVEY_ANSWERS[lang]), lang


def answer_to(rng: random.Random, lang: str, brand: str, survey: bool) -> tuple[str, str]:
    """A customer's answer to a brand's message: a survey's, or any other's (`follow_up`)."""
    return survey_answer(rng, lang) if survey else follow_up(rng, lang, brand)


def thread_bump(rng: random.Random, lang: str, brand: str) -> tuple[str, str]:
    """A customer replying to their own earlier post because nobody answered."""
    lang = lang if lang in THREAD_BUMPS else "en"
    return _fill(rng, rng.choice(THREAD_BUMPS[lang]), brand, ""), lang


def quote_line(rng: random.Random, lang: str, brand: str) -> tuple[str, str]:
    lang = lang if lang in QUOTE_LINES else "en"
    return _decorate(rng, _fill(rng, rng.choice(QUOTE_LINES[lang]), brand, "")), lang


def page_post(rng: random.Random, n: int) -> str:
    return _fill(rng, PAGE_POSTS[n % len(PAGE_POSTS)], "", "facebook")


def emoji_only(rng: random.Random) -> str:
    """A post X and Graph cannot put a language on (`lang` "und")."""
    return "".join(rng.choices(EMOJI, k=rng.randint(2, 4)))
