"""The inbox search folds accents and case: "Weiss" finds "Weiß", "cafe" finds "Café".

`desk_fold(text)` maps the Latin letters with diacritics to their base letters (ß, æ, œ and þ to
two letters), then upper-cases. It is plain SQL built only from immutable functions (translate,
replace, upper), so it can carry the trigram indexes; PostgreSQL's `unaccent` extension is not
available on every server (the embedded demo server lacks it) and is not immutable.

The search folds both sides in SQL (cases.inbox.search_q), so Python never needs its own copy
of this table. The trigram indexes on UPPER() are replaced by indexes on desk_fold(), built
CONCURRENTLY (the migration is not atomic) so a live desk keeps writing meanwhile.
"""

from django.db import migrations

FROM = (
    "ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝàáâãäåçèéêëìíîïñòóôõöùúûüýÿĀāĂăĄąĆćĈĉĊċČčĎďĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥ"
    "ĨĩĪīĬĭĮįİĴĵĶķĹĺĻļĽľŃńŅņŇňŌōŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžſøØđĐłŁħĦðÐı"
)
TO = (
    "AAAAAACEEEEIIIINOOOOOUUUUYaaaaaaceeeeiiiinooooouuuuyyAaAaAaCcCcCcCcDdEeEeEeEeEeGgGgGgGgHh"
    "IiIiIiIiIJjKkLlLlLlNnNnNnOoOoOoRrRrRrSsSsSsSsTtTtUuUuUuUuUuUuWwYyYZzZzZzsoOdDlLhHdDi"
)
TWO_LETTERS = [("ß", "ss"), ("ẞ", "SS"), ("æ", "ae"), ("Æ", "AE"), ("œ", "oe"), ("Œ", "OE"),
               ("þ", "th"), ("Þ", "TH")]  # fmt: skip


def _body() -> str:
    expression = "$1"
    for letter, letters in TWO_LETTERS:
        expression = f"replace({expression}, '{letter}', '{letters}')"
    return f"SELECT upper(translate({expression}, '{FROM}', '{TO}'))"


CREATE_FUNCTION = (
    "CREATE OR REPLACE FUNCTION desk_fold(text) RETURNS text "
    f"LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $fold$ {_body()} $fold$"
)

# (name, table, column): the columns the inbox search reads.
SEARCHED = [
    ("identity_handle", "cases_identity", "handle"),
    ("identity_name", "cases_identity", "name"),
    ("mention_text", "listening_mention", "text"),
]


def _index(name: str, table: str, expression: str) -> str:
    return (
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} "
        f"USING gin ({expression} gin_trgm_ops)"
    )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("cases", "0009_scrub_stored_errors"), ("listening", "0001_initial")]

    operations = [
        migrations.RunSQL(CREATE_FUNCTION, "DROP FUNCTION IF EXISTS desk_fold(text)"),
        *(
            operation
            for name, table, column in SEARCHED
            for operation in (
                migrations.RunSQL(
                    _index(f"{name}_fold_trgm", table, f"desk_fold({column})"),
                    f"DROP INDEX CONCURRENTLY IF EXISTS {name}_fold_trgm",
                ),
                migrations.RunSQL(
                    f"DROP INDEX CONCURRENTLY IF EXISTS {name}_trgm",
                    _index(f"{name}_trgm", table, f"upper({column})"),
                ),
            )
        ),
    ]
