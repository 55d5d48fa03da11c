"""desk_fold(): the inbox search's accent and case folding, in SQL.

The function takes shortcuts for speed (cases/migrations/0018_cheaper_desk_fold); these tests
hold it to the plain fold of the whole table (0010_folded_search) for every character, and
check that the search still reads the trigram indexes built on it.
"""

from importlib import import_module

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections

from cases.inbox import folded_contains
from cases.models import Identity
from listening.models import Mention

folded_search = import_module("cases.migrations.0010_folded_search")

# The characters of Unicode's first two planes (where Latin, every other script in use and the
# emoji lie): surrogates are no characters, and PostgreSQL refuses them.
FIRST_TWO_PLANES = "generate_series(1, 131071) AS c WHERE c NOT BETWEEN 55296 AND 57343"


@pytest.fixture
def reference_fold(db):
    """pg_temp.reference_fold(text): the fold spelled out in full, one translate of the table."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION pg_temp.reference_fold(text) RETURNS text LANGUAGE sql IMMUTABLE"
            f" STRICT AS $fold$ {folded_search._body()} $fold$"
        )
    return "pg_temp.reference_fold"


def fold(*texts: str | None) -> list[str | None]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT desk_fold(t) FROM unnest(%s::text[]) WITH ORDINALITY AS k (t, n) ORDER BY n",
            [list(texts)],
        )
        return [row[0] for row in cursor.fetchall()]


def mismatches(reference: str, texts_sql: str) -> list[tuple[str, str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT s, desk_fold(s), {reference}(s) FROM (SELECT {texts_sql}) AS q (s)"
            f" WHERE desk_fold(s) IS DISTINCT FROM {reference}(s) LIMIT 5"
        )
        return cursor.fetchall()


def test_folds_accents_two_letter_forms_and_case(db):
    assert fold("Ulrike Weiß", "Łódź", "Œuvre Æsir þorn", "ſ ı İ ẞ", "Ĳ ŉ ×") == [
        "ULRIKE WEISS",
        "LODZ",
        "OEUVRE AESIR THORN",
        "S I I SS",
        "Ĳ ŉ ×",  # letters outside the table keep their accents
    ]


def test_text_without_folded_letters_is_only_upper_cased(db):
    assert fold("refund 👍🏽 ¿qué?", "Привет мир", "ありがとう", "", None) == [
        "REFUND 👍🏽 ¿QUE?",
        "ПРИВЕТ МИР",
        "ありがとう",
        "",
        None,
    ]


def test_each_character_folds_as_the_whole_table_does(reference_fold):
    assert mismatches(reference_fold, f"chr(c) FROM {FIRST_TWO_PLANES}") == []


def test_each_character_among_letters_of_each_part_folds_as_the_whole_table_does(
    reference_fold,
):
    # Beside a letter of each part of the table and a two-letter form, every step runs on it.
    among = f"'Àx' || chr(c) || 'é ſ' || chr(c) || 'ß' FROM {FIRST_TWO_PLANES}"
    assert mismatches(reference_fold, among) == []


@pytest.mark.parametrize(
    ("model", "column", "index"),
    [
        (Mention, "text", "mention_text_fold_trgm"),
        (Identity, "handle", "identity_handle_fold_trgm"),
        (Identity, "name", "identity_name_fold_trgm"),
    ],
)
def test_search_reads_the_trigram_index_on_desk_fold(db, model, column, index):
    """The search's WHERE clause is the indexed expression: a plan that may not scan the
    table reads the index. Planned on a connection of its own, as a worker's search is (the
    test's connection carries the planner state of every test before it)."""
    query = model.objects.filter(folded_contains(column, "weiß")).values("id").query
    sql, params = query.sql_with_params()
    fresh = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with fresh.cursor() as cursor:
            cursor.execute("SET enable_seqscan = off")  # a tiny table would be scanned
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
    finally:
        fresh.close()
    assert f"Bitmap Index Scan on {index}" in plan, plan
