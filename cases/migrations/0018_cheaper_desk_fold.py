"""desk_fold(text) gives the same answers for a fraction of the cost.

PostgreSQL's translate() compares every character of the text with every character of its
`from` list, so the one translate over the whole fold table (173 letters) cost about 30 µs for a
plain English post, and every mention stored pays it for the trigram index on desk_fold(text):
a sixth of the desk's ingest throughput.

Every letter the fold changes lies in Latin-1's letters (U+00C0-U+00FF) or Latin Extended-A
(U+0100-U+017F), apart from ẞ (U+1E9E). So:

* a text with none of them (English, emoji, Cyrillic, CJK) folds to upper($1) after one
  regular expression test: translate and replace would change nothing in it;
* a text with some of them is translated in three parts (Latin-1 capitals, Latin-1 small
  letters, Extended-A), each only when the text holds a letter of that part; a part that is
  absent gets an empty `from` list, which makes its translate a plain copy. Each part maps
  its letters to ASCII, so no part changes what the next one sees, and the two-letter
  replacements (ß → ss, …) run only when the text holds one of them.

The table itself stays in 0010_folded_search: this builds from it, so both bodies fold with
the same letters. The function is as immutable as before and folds every string exactly as
before (tests/test_desk_fold.py compares the two bodies over every character), so the
indexes built on it stay valid: nothing is re-indexed.
"""

from importlib import import_module

from django.db import migrations

folded_search = import_module("cases.migrations.0010_folded_search")

# Parts of the table, by the range of code points their letters lie in.
PARTS = [("À", "ß"), ("à", "ÿ"), ("Ā", "ſ")]


def fold_table() -> dict[str, str]:
    """Each folded letter and the ASCII letter it becomes (the first mapping wins, as in
    translate())."""
    table: dict[str, str] = {}
    for letter, base in zip(folded_search.FROM, folded_search.TO, strict=True):
        table.setdefault(letter, base)
    return table


def fast_body(arg: str = "$1") -> str:
    """The SQL expression of the cheaper desk_fold, on `arg`."""
    table = fold_table()
    two_letters = "".join(letter for letter, _ in folded_search.TWO_LETTERS)
    unfolded = [letter for letter in table if not any(lo <= letter <= hi for lo, hi in PARTS)]
    assert not unfolded, f"the parts miss {unfolded}"
    assert all(text.isascii() for text in [*table.values(), folded_search.TO]), "a non-ASCII fold"

    expression = arg
    for letter, letters in folded_search.TWO_LETTERS:
        expression = f"replace({expression}, '{letter}', '{letters}')"
    expression = f"CASE WHEN {arg} ~ '[{two_letters}]' THEN {expression} ELSE {arg} END"
    for lo, hi in PARTS:
        letters = "".join(letter for letter in table if lo <= letter <= hi)
        bases = "".join(table[letter] for letter in letters)
        # translate() ignores the `to` letters beyond its `from` list: an empty list copies.
        expression = (
            f"translate({expression}, CASE WHEN {arg} ~ '[{lo}-{hi}]' THEN '{letters}'"
            f" ELSE '' END, '{bases}')"
        )
    beyond = "".join(letter for letter in two_letters if not PARTS[0][0] <= letter <= PARTS[-1][1])
    return (
        f"CASE WHEN {arg} ~ '[{PARTS[0][0]}-{PARTS[-1][1]}{beyond}]' THEN upper({expression})"
        f" ELSE upper({arg}) END"
    )


CREATE_FUNCTION = (
    "CREATE OR REPLACE FUNCTION desk_fold(text) RETURNS text "
    f"LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $fold$ SELECT {fast_body()} $fold$"
)


class Migration(migrations.Migration):
    dependencies = [("cases", "0017_case_event_kinds_for_moderation_and_source_changes")]

    operations = [migrations.RunSQL(CREATE_FUNCTION, folded_search.CREATE_FUNCTION)]
