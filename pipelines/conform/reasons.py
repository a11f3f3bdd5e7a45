"""How a reason against a row is written: check, column, expected, actual, and a message naming
the feed, the file (or page) and row, the column, what was expected and how to fix it."""

from __future__ import annotations

import polars as pl

from pipelines.declarations.checks import CHECK_FIXES
from pipelines.extract.landing import SOURCE_ROW, SOURCE_URI

REASONS = "reasons"
REASON_TYPE = pl.Struct(
    {
        "check_name": pl.String,
        "column_name": pl.String,
        "expected": pl.String,
        "actual": pl.String,
        "message": pl.String,
    }
)

FILE_NAME_IN_URI = r"[/\\][^/\\]*?__([^/\\]+)$"  # an archived file's name, after its content prefix


def where() -> pl.Expr:
    """'file NAME' for an archived file (its name without the batch prefix), else the page URL."""
    uri = pl.col(SOURCE_URI)
    name = uri.str.extract(FILE_NAME_IN_URI, 1)
    return pl.when(name.is_not_null()).then(pl.format("file {}", name)).otherwise(uri)


def reason(feed_id: str, check: str, column: str | None, label: str | None, expected: str, actual: pl.Expr) -> pl.Expr:
    """A reason struct for every row of the frame it is evaluated on."""
    if column is None:
        shown = ""
    elif label in (None, column):
        shown = f", column '{column}'"
    else:
        shown = f", column '{column}' (header {label!r})"
    escaped = expected.replace("{", "{{").replace("}", "}}")
    got = pl.when(actual.is_null()).then(pl.lit("nothing")).otherwise(pl.format("'{}'", actual.cast(pl.String)))
    message = pl.format(
        f"feed {feed_id}: {{}} row {{}}{shown}: expected {escaped}, got {{}}. Fix: {CHECK_FIXES[check]['en']}"
        if check in CHECK_FIXES
        else f"feed {feed_id}: {{}} row {{}}{shown}: expected {escaped}, got {{}}",
        where(),
        pl.col(SOURCE_ROW),
        got,
    )
    return pl.struct(
        check_name=pl.lit(check),
        column_name=pl.lit(column, pl.String),
        expected=pl.lit(expected),
        actual=actual.cast(pl.String),
        message=message,
    )


def reason_sql(feed_id: str, check: str, expected: str, actual: str) -> str:
    """The same reason as reason(), with no column, as a DuckDB struct over a staged row (_source_uri,
    _source_row): for a reason every row of a large batch gets, without bringing the rows into Python."""

    def text(value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    name = f"regexp_extract({SOURCE_URI}, {text(FILE_NAME_IN_URI)}, 1)"
    where_sql = f"CASE WHEN {name} <> '' THEN 'file ' || {name} ELSE {SOURCE_URI} END"
    fix = f". Fix: {CHECK_FIXES[check]['en']}" if check in CHECK_FIXES else ""
    message = (
        f"{text(f'feed {feed_id}: ')} || {where_sql} || ' row ' || {SOURCE_ROW} || "
        f"{text(f': expected {expected}, got ' + chr(39) + actual + chr(39) + fix)}"
    )
    return (
        f"{{'check_name': {text(check)}, 'column_name': NULL::VARCHAR, 'expected': {text(expected)}, "
        f"'actual': {text(actual)}, 'message': {message}}}"
    )
