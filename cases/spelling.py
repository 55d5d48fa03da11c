"""Which words of a reply a language's dictionary does not know: the word work behind the
spelling check (cases.checks.check_spelling), kept apart from the check's message.

pyspellchecker ships the dictionaries (read offline, each loaded once per process on first use);
the rules here accept what its frequency lists lack: British spellings, contractions, French and
Italian elision, Spanish and Portuguese plurals, verb forms and pronouns on a verb, German
compounds, and the brand's and customer's own names.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache
from typing import TYPE_CHECKING

from cases import wording

if TYPE_CHECKING:
    from spellchecker import SpellChecker

    from cases.models import Case

# fmt: off
CONTRACTIONS = frozenset({
    "i'm", "i'll", "i've", "i'd", "we're", "we'll", "we've", "we'd", "you're", "you'll", "you've",
    "you'd", "they're", "they'll", "they've", "they'd", "he's", "she's", "it's", "that's",
    "there's", "here's", "what's", "who's", "how's", "where's", "let's", "can't", "won't",
    "don't", "doesn't", "didn't", "isn't", "aren't", "wasn't", "weren't", "haven't", "hasn't",
    "hadn't", "couldn't", "shouldn't", "wouldn't", "mustn't", "needn't", "y'all", "ma'am",
})
# fmt: on
# British spellings the American dictionary lacks: accept a word whose American form it knows.
_BRITISH_RULES = (
    (re.compile(r"our(s|ed|ing|ite|ites|able|ably)?$"), r"or\1"),  # colour, favourite
    (re.compile(r"is(e|es|ed|ing|ation|ations|er|ers)$"), r"iz\1"),  # apologise, organisation
    (re.compile(r"ys(e|es|ed|ing)$"), r"yz\1"),  # analyse
    (re.compile(r"tre(s)?$"), r"ter\1"),  # centre
    (re.compile(r"ence(s)?$"), r"ense\1"),  # defence, licence
    (re.compile(r"ogue(s)?$"), r"og\1"),  # catalogue
    (re.compile(r"ll(ed|ing|er|ers)$"), r"l\1"),  # travelled, cancelling
)
# French and Italian elision: l'équipe, n'hésitez, qu'il, c'est.
_ELISION = re.compile(r"^(?:l|d|j|m|n|s|t|c|qu|jusqu|lorsqu|puisqu|un|dell|all|dall|nell|sull)'")
# Spanish and Portuguese object pronouns written onto a verb: envíanos, ayudarte, escríbenos.
_CLITIC = re.compile(r"(?:nos|me|te|le|les|lo|los|la|las|se)$")
# Spanish and Portuguese verb forms, by the infinitive endings they may come from.
_VERB_ENDINGS = (
    ("amos", ("ar",)),
    ("emos", ("er",)),
    ("imos", ("ir",)),
    ("áis", ("ar",)),
    ("éis", ("er",)),
    ("ando", ("ar",)),
    ("iendo", ("er", "ir")),
    ("ado", ("ar",)),
    ("ido", ("er", "ir")),
    ("an", ("ar",)),
    ("en", ("er", "ir")),
    ("as", ("ar",)),
    ("es", ("er", "ir")),
    ("a", ("ar",)),
    ("e", ("er", "ir", "ar")),
    ("o", ("ar", "er", "ir")),
)
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*", re.UNICODE)
_SENTENCE_BREAK = re.compile(r"[.!?…:\n]")


def spelling_languages() -> frozenset[str]:
    """The languages whose dictionary pyspellchecker ships (its package data, read offline)."""
    return _spelling_languages()


@cache
def _spelling_languages() -> frozenset[str]:
    from importlib.resources import files

    resources = files("spellchecker") / "resources"
    return frozenset(
        entry.name.split(".", 1)[0] for entry in resources.iterdir() if entry.name.endswith(".gz")
    )


@cache
def spellchecker(language: str = "en") -> SpellChecker:
    """The dictionary of `language`, loaded once per process on first use (0.1-0.6 s).

    Suggestions look one edit away only: two edits cost up to a second for a long unknown word
    (every keystroke leaves a half-typed one), one edit well under a millisecond.
    """
    from spellchecker import SpellChecker

    return SpellChecker(language=language, distance=1)


@lru_cache(maxsize=4096)
def suggestion(word: str, language: str = "en") -> str | None:
    correction = spellchecker(language).correction(word)
    return correction if correction and correction != word else None


def _british_variant_known(word: str, checker: SpellChecker) -> bool:
    for pattern, american in _BRITISH_RULES:
        if pattern.search(word):
            variant = pattern.sub(american, word, count=1)
            if variant != word and variant in checker:
                return True
    return False


def _unaccented(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", word) if not unicodedata.combining(c))


def _romance_form_known(word: str, checker: SpellChecker) -> bool:
    """Spanish and Portuguese forms the frequency dictionaries lack: plurals (gracias),
    verb forms by their infinitive (lamentamos, envía) and pronouns on a verb (envíanos)."""
    candidates = {word}
    stripped = _CLITIC.sub("", word)
    if stripped != word and len(stripped) >= 3:
        candidates.add(_unaccented(stripped))  # the clitic moves the stress: envía-nos
    for candidate in list(candidates):
        if candidate.endswith("es"):
            candidates.add(candidate[:-2])
        if candidate.endswith("s"):
            candidates.add(candidate[:-1])
    for candidate in candidates:
        if candidate in checker:
            return True
        for ending, infinitives in _VERB_ENDINGS:
            stem = candidate[: -len(ending)]
            if (
                candidate.endswith(ending)
                and len(stem) >= 2
                and any(_unaccented(stem) + inf in checker for inf in infinitives)
            ):
                return True
    return False


def _german_compound_known(word: str, checker: SpellChecker) -> bool:
    """German compounds of two known words, with or without a linking s: Direktnachricht,
    Bestellungsnummer."""
    for split in range(3, len(word) - 2):
        head, tail = word[:split], word[split:]
        if tail in checker and (head in checker or (head.endswith("s") and head[:-1] in checker)):
            return True
    return False


def _known(word: str, language: str, checker: SpellChecker, allowed: set[str]) -> bool:
    if language == "en":
        stem = word[:-2] if word.endswith("'s") else word
        return stem in checker or stem in allowed or _british_variant_known(stem, checker)
    if language in ("fr", "it"):
        word = _ELISION.sub("", word)
        if word in checker or word in allowed:
            return True
    if language in ("es", "pt"):
        return _romance_form_known(word, checker)
    if language == "de":
        return _german_compound_known(word, checker)
    return False


def brand_words(case: Case | None) -> set[str]:
    words = {"acme"}
    if case is None:
        return words
    channel = case.channel
    customer = case.customer
    for source in (channel.handle, channel.name, customer.display_name):
        words.update(word.lower() for word in _WORD.findall(source or ""))
    return words


def spelling_language(case: Case | None) -> str | None:
    """The dictionary a reply on `case` is checked with: the conversation's language when
    pyspellchecker ships it, English when the language is unknown, else None (not checked)."""
    primary = wording.primary_language(case.language if case is not None else "")
    if not primary:
        return "en"
    return primary if primary in spelling_languages() else None


def unknown_words(
    plain: str, *, allowed: set[str] | frozenset[str] = frozenset(), language: str = "en"
) -> list[str]:
    """Words of `plain` the `language` dictionary does not know, in order, each once.

    `plain` is the reply with its links, e-mails, @handles and #tags blanked out
    (cases.checks does that). Skipped: numbers and words with digits, ALL-CAPS acronyms,
    capitalised words inside a sentence (names; in German, nouns too), contractions, the
    language's desk words and `allowed` words.
    """
    checker = spellchecker(language)
    accepted = wording.desk_words(language)
    seen: set[str] = set()
    unknown: list[str] = []
    previous_end = -1
    for match in re.finditer(r"[\w'’-]+", plain):
        gap = plain[previous_end : match.start()] if previous_end >= 0 else "."
        previous_end = match.end()
        sentence_start = bool(_SENTENCE_BREAK.search(gap))
        token = match.group().replace("’", "'").strip("'-")
        if not token or any(char.isdigit() or char == "_" for char in token):
            continue
        for part in token.split("-"):
            part = part.strip("'")
            if len(part) < 2 or part.isupper() or not part[1:].islower():
                continue  # acronyms and product names: SMS, iOS, PayPal
            if part[0].isupper() and not sentence_start:
                continue  # a name in mid-sentence: "Hi Priya", "ask Jordan"
            word = part.lower()
            if word in seen or word in allowed or word in accepted or word in CONTRACTIONS:
                continue
            seen.add(word)
            if word in checker or _known(word, language, checker, allowed):
                continue
            unknown.append(part)
    return unknown
