"""Polarity of a customer's post in Spanish, French, German and Portuguese, offline.

VADER (the radar's English reader) knows English words only. No maintained offline library
scores these four languages without downloading a model at run time, so the radar reads them
with small word lists in VADER's manner: each listed word carries a valence on VADER's -4..+4
scale, a negation within three words before it (or, in German and French, two words after it:
"funktioniert nicht", "ça marche pas") flips and damps it as VADER does (x -0.74), an intensifier
just before it adds 0.293, each "!" (up to four) adds 0.292 to the total's magnitude, and the sum
is squashed into -1..1 with VADER's own normalisation, so `radar.is_negative` and friends read
every language on one scale.

The lists favour what customers write to a care desk: complaints, insults, praise. An entry
ending in "*" matches any word it starts ("decepcion*" matches "decepcionado", "decepcionante");
matching ignores case and accents. A word not listed counts as neutral.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from functools import cache

# VADER's constants (vaderSentiment.vaderSentiment): negation scalar, booster increment,
# exclamation increment and the normalisation alpha.
NEGATION_SCALAR = -0.74
BOOSTER = 0.293
EXCLAMATION = 0.292
ALPHA = 15


@dataclass(frozen=True)
class Lexicon:
    language: str
    valences: dict[str, float]
    negators: frozenset[str]
    negators_after: frozenset[str] = frozenset()
    boosters: frozenset[str] = frozenset()


# fmt: off
SPANISH = Lexicon(
    language="es",
    valences={
        # complaints
        "pesim*": -3.0, "horrible*": -2.5, "terrible*": -2.5, "malo": -2.0, "mala": -2.0,
        "malos": -2.0, "malas": -2.0, "mal": -1.8, "peor*": -2.5, "fatal": -2.5,
        "verguenza": -2.4, "vergonzos*": -2.5, "decepcion*": -2.2, "asco": -2.8,
        "asqueros*": -3.0, "odio": -2.7, "odiar": -2.7, "harto": -2.0, "harta": -2.0,
        "hartos": -2.0, "enfad*": -2.0, "enoj*": -2.0, "furios*": -2.5, "indignad*": -2.5,
        "molest*": -1.5, "queja*": -1.5, "problema*": -1.2, "roto": -1.8, "rota": -1.8,
        "rotos": -1.8, "estafa*": -3.0, "fraude": -3.0, "robo": -2.5, "timo": -2.5,
        "inaceptable": -2.8, "lamentable": -2.0, "desastre*": -2.7, "basura": -2.5,
        "inutil*": -2.2, "incompetent*": -2.5, "ridicul*": -2.0, "patetic*": -2.5,
        "triste*": -2.0, "error*": -1.2, "fallo*": -1.5, "falla*": -1.5, "averiad*": -1.5,
        "defectuos*": -2.0, "reclamacion*": -1.2, "payaso*": -2.5, "idiota*": -2.8,
        "estupid*": -2.8, "abandonad*": -1.8, "ignoran": -1.5, "cansad*": -1.5,
        # praise
        "gracias": 1.8, "genial*": 2.8, "excelente*": 3.0, "bueno": 1.9, "buena": 1.9,
        "bien": 1.5, "perfect*": 2.7, "encant*": 2.5, "gusta": 1.8, "fantastic*": 3.0,
        "maravillos*": 3.0, "increible*": 2.5, "rapid*": 1.2, "amable*": 2.0, "feliz": 2.6,
        "contento": 2.3, "contenta": 2.3, "satisfech*": 2.0, "recomiendo": 2.0, "mejor": 2.0,
        "amo": 3.0, "funciona": 1.0, "resuelto": 1.5, "solucionad*": 1.5, "ayuda": 1.2,
    },
    negators=frozenset({"no", "nunca", "jamas", "ni", "sin", "tampoco", "nada", "nadie"}),
    boosters=frozenset({"muy", "tan", "super", "totalmente", "demasiado", "realmente"}),
)

FRENCH = Lexicon(
    language="fr",
    valences={
        "nul": -2.5, "nulle": -2.5, "nuls": -2.5, "horrible*": -2.5, "terrible*": -2.3,
        "mauvais*": -2.0, "pire*": -2.5, "honte*": -2.4, "honteu*": -2.5, "decu": -2.2,
        "decue": -2.2, "decus": -2.2, "decevant*": -2.2, "deception": -2.2, "degout*": -2.8,
        "degueulasse": -3.0, "deteste*": -2.7, "marre": -2.0, "enerve*": -2.0,
        "furieu*": -2.5, "inadmissible": -2.8, "inacceptable": -2.8, "lamentable": -2.3,
        "catastroph*": -2.7, "scandal*": -2.6, "arnaque*": -3.0, "escroc*": -3.0,
        "voleur*": -2.5, "casse": -1.8, "cassee": -1.8, "panne*": -1.5, "probleme*": -1.2,
        "bug*": -1.2, "erreur*": -1.2, "inutile*": -2.0, "incompetent*": -2.5,
        "ridicule*": -2.0, "pathetique*": -2.5, "minable*": -2.5, "triste*": -2.0,
        "mal": -1.8, "fache*": -2.0, "colere": -2.4, "plainte*": -1.5, "poubelle": -2.5,
        "idiot*": -2.8, "debile*": -2.8, "abandonne*": -1.8,
        "merci": 1.8, "genial*": 2.8, "excellent*": 3.0, "bon": 1.9, "bonne": 1.9,
        "bien": 1.5, "parfait*": 2.7, "super": 2.5, "adore*": 3.0, "aime": 2.2,
        "fantastique*": 3.0, "merveilleu*": 3.0, "incroyable*": 2.5, "rapide*": 1.2,
        "gentil*": 2.0, "aimable*": 2.0, "heureu*": 2.6, "content": 2.3, "contente": 2.3,
        "satisfait*": 2.0, "recommande": 2.0, "meilleur*": 2.0, "fonctionne": 1.0,
        "marche": 1.0, "resolu*": 1.5, "top": 2.0, "bravo": 2.5,
    },
    negators=frozenset({"ne", "n", "pas", "jamais", "sans", "aucun", "aucune", "rien", "ni"}),
    negators_after=frozenset({"pas", "jamais", "plus", "rien"}),
    boosters=frozenset({"tres", "trop", "vraiment", "tellement", "super", "totalement"}),
)

GERMAN = Lexicon(
    language="de",
    valences={
        "schlecht*": -2.0, "schrecklich*": -2.5, "furchtbar*": -2.5, "schlimm*": -2.0,
        "mies*": -2.3, "miserabel*": -2.5, "katastroph*": -2.7, "enttausch*": -2.2,
        "arger*": -2.0, "argerlich*": -2.0, "wutend*": -2.5, "sauer": -2.0, "genervt": -2.0,
        "nervt": -1.8, "frech*": -2.0, "unverschamt*": -2.8, "inakzeptabel*": -2.8,
        "unmoglich*": -2.0, "peinlich*": -2.0, "skandal*": -2.6, "betrug*": -3.0,
        "abzocke*": -3.0, "kaputt*": -1.8, "defekt*": -1.8, "storung*": -1.5,
        "problem*": -1.2, "fehler*": -1.2, "nutzlos*": -2.2, "unfahig*": -2.5,
        "lacherlich*": -2.0, "erbarmlich*": -2.5, "traurig*": -2.0, "beschwerde*": -1.5,
        "hass*": -2.7, "mull": -2.5, "idiot*": -2.8, "dumm*": -2.5, "verspat*": -1.2,
        "danke": 1.8, "toll*": 2.5, "super": 2.5, "klasse": 2.5, "spitze": 2.5,
        "ausgezeichnet*": 3.0, "gut": 1.9, "gute": 1.9, "guter": 1.9, "gutes": 1.9,
        "perfekt*": 2.7, "grossartig*": 3.0, "wunderbar*": 3.0, "fantastisch*": 3.0,
        "schnell*": 1.2, "freundlich*": 2.0, "zufrieden*": 2.0, "glucklich*": 2.6,
        "froh": 2.3, "empfehle*": 2.0, "beste*": 2.0, "funktioniert": 1.0, "gelost": 1.5,
        "hilfreich*": 2.0,
    },
    negators=frozenset({"nicht", "kein", "keine", "keinen", "keiner", "keinem", "nie",
                        "niemals", "ohne", "nichts"}),
    negators_after=frozenset({"nicht", "nie", "niemals"}),
    boosters=frozenset({"sehr", "total", "echt", "extrem", "wirklich", "so", "absolut"}),
)

PORTUGUESE = Lexicon(
    language="pt",
    valences={
        "pessim*": -3.0, "horrivel*": -2.5, "terrivel*": -2.5, "ruim": -2.0, "mau": -2.0,
        "ma": -2.0, "pior*": -2.5, "vergonha*": -2.4, "vergonhos*": -2.5, "decepcion*": -2.2,
        "decepcao": -2.2, "nojo": -2.8, "nojent*": -3.0, "odeio": -2.7, "odio": -2.7,
        "chatead*": -2.0, "irritad*": -2.0, "furios*": -2.5, "revoltad*": -2.5,
        "indignad*": -2.5, "absurdo*": -2.5, "inaceitavel*": -2.8, "lamentavel*": -2.0,
        "desastre*": -2.7, "lixo": -2.5, "inutil*": -2.2, "incompetent*": -2.5,
        "ridicul*": -2.0, "patetic*": -2.5, "golpe*": -2.8, "fraude*": -3.0, "roubo*": -2.5,
        "quebrad*": -1.8, "defeito*": -1.8, "problema*": -1.2, "erro": -1.2, "erros": -1.2,
        "triste*": -2.0, "mal": -1.8, "reclamacao*": -1.5, "atrasad*": -1.2, "palhac*": -2.5,
        "idiota*": -2.8, "estupid*": -2.8, "cansad*": -1.5,
        "obrigad*": 1.8, "otim*": 2.8, "excelente*": 3.0, "bom": 1.9, "boa": 1.9,
        "bem": 1.5, "perfeit*": 2.7, "ador*": 3.0, "amei": 3.0, "amo": 3.0, "gosto": 1.8,
        "fantastic*": 3.0, "maravilhos*": 3.0, "incrivel*": 2.5, "rapid*": 1.2,
        "gentil*": 2.0, "atencios*": 2.0, "feliz": 2.6, "contente*": 2.3,
        "satisfeit*": 2.0, "recomendo": 2.0, "melhor*": 2.0, "funciona": 1.0,
        "resolvid*": 1.5, "top": 2.0, "parabens": 2.5,
    },
    negators=frozenset({"nao", "nunca", "jamais", "sem", "nem", "nada", "ninguem"}),
    boosters=frozenset({"muito", "muita", "super", "totalmente", "tao", "demais"}),
)
# fmt: on

LEXICONS: dict[str, Lexicon] = {
    lexicon.language: lexicon for lexicon in (SPANISH, FRENCH, GERMAN, PORTUGUESE)
}

_TOKEN = re.compile(r"[^\W\d_]+|[!?.,;:]", re.UNICODE)
_CLAUSE_END = frozenset(".,;:?")


def fold(word: str) -> str:
    """Lower case without accents: "Décevant" -> "decevant"."""
    decomposed = unicodedata.normalize("NFD", word.lower())
    return "".join(char for char in decomposed if not unicodedata.combining(char)).replace(
        "ß", "ss"
    )


@cache
def _index(language: str) -> tuple[dict[str, float], tuple[tuple[str, float], ...]]:
    """(whole words, prefixes longest first) of a language's list."""
    whole: dict[str, float] = {}
    prefixes: list[tuple[str, float]] = []
    for entry, valence in LEXICONS[language].valences.items():
        if entry.endswith("*"):
            prefixes.append((entry[:-1], valence))
        else:
            whole[entry] = valence
    prefixes.sort(key=lambda item: len(item[0]), reverse=True)
    return whole, tuple(prefixes)


def valence(word: str, language: str) -> float:
    """The listed valence of one folded word, 0.0 when it is not listed."""
    whole, prefixes = _index(language)
    if word in whole:
        return whole[word]
    for prefix, value in prefixes:
        if word.startswith(prefix):
            return value
    return 0.0


def polarity(text: str, language: str, emoji: dict[str, float] | None = None) -> float:
    """VADER-style compound polarity, -1..1, of `text` in `language` (a key of LEXICONS).

    `emoji` maps emoji to valences on the same scale (the radar's EMOJI_VALENCE)."""
    lexicon = LEXICONS[language]
    tokens = [fold(token) for token in _TOKEN.findall(text)]
    total = 0.0
    for position, token in enumerate(tokens):
        value = valence(token, language)
        if not value:
            continue
        before: list[str] = []
        for earlier in reversed(tokens[max(0, position - 3) : position]):
            if earlier in _CLAUSE_END or earlier == "!":
                break
            before.append(earlier)
        if before and before[0] in lexicon.boosters:
            value += BOOSTER if value > 0 else -BOOSTER
        after: list[str] = []
        for later in tokens[position + 1 : position + 3]:
            if later in _CLAUSE_END or later == "!":
                break
            after.append(later)
        if any(word in lexicon.negators for word in before) or any(
            word in lexicon.negators_after for word in after
        ):
            value *= NEGATION_SCALAR
        total += value
    for char, char_valence in (emoji or {}).items():
        total += char_valence * text.count(char)
    if total:
        emphasis = min(4, text.count("!")) * EXCLAMATION
        total += emphasis if total > 0 else -emphasis
    return max(-1.0, min(1.0, total / math.sqrt(total * total + ALPHA)))
