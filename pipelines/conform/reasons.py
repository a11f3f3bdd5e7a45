"""How a reason against a row is written: check, column, expected, actual, and a message naming
the feed, the file (or page) and row, the column, what was expected and how to fix it."""

from __future__ import annotations

import polars as pl

from pipelines.extract.landing import SOURCE_ROW, SOURCE_URI

REASONS = "reasons"
REASON_TYPE = pl.Struct({"check_name": pl.String, "column_name": pl.String, "expected": pl.String,
                         "actual": pl.String, "message": pl.String})

FIXES = {
    "value_has_contract_type": "correct the value in the source and send the data again",
    "values_in_set": "use one of the codes, or add the source's label under values: in the feed file",
    "values_not_null": "fill in the value in the source and send the data again",
    "unit_code_is_active": "use the code of a unit active at that time (schemas/org_units.yaml), or declare the unit there",
    "required_columns_present": "add the column to the source, or add the label it uses to labels: in the feed file",
    "key_is_unique": "each key must appear once per file or answer: remove or merge the duplicate rows",
    "values_between": "correct the value in the source and send the data again",
    "values_match_regex": "correct the value's format in the source and send the data again",
    "column_pair_in_order": "correct the dates or amounts in the source so that they are in order",
    "rows_match_file_name": "put each department's and period's rows in a file named for them",
    "row_count_between": "check that the source sent the whole report, then send it again",
    "no_unknown_columns": "add the new column's label to the feed file if it carries data",
}


def where() -> pl.Expr:
    """'file NAME' for an archived file (its name without the batch prefix), else the page URL."""
    uri = pl.col(SOURCE_URI)
    name = uri.str.extract(r"[/\\][^/\\]*?__([^/\\]+)$", 1)
    return pl.when(name.is_not_null()).then(pl.format("file {}", name)).otherwise(uri)


def reason(feed_id: str, check: str, column: str | None, label: str | None, expected: str,
           actual: pl.Expr) -> pl.Expr:
    """A reason struct for every row of the frame it is evaluated on."""
    if column is None:
        shown = ""
    elif label in (None, column):
        shown = f", column '{column}'"
    else:
        shown = f", column '{column}' (header {label!r})"
    escaped = expected.replace("{", "{{").replace("}", "}}")
    got = pl.when(actual.is_null()).then(pl.lit("nothing")).otherwise(pl.format("'{}'", actual.cast(pl.String)))
    message = pl.format(f"feed {feed_id}: {{}} row {{}}{shown}: expected {escaped}, got {{}}. Fix: {FIXES[check]}"
                        if check in FIXES else
                        f"feed {feed_id}: {{}} row {{}}{shown}: expected {escaped}, got {{}}",
                        where(), pl.col(SOURCE_ROW), got)
    return pl.struct(check_name=pl.lit(check), column_name=pl.lit(column, pl.String), expected=pl.lit(expected),
                     actual=actual.cast(pl.String), message=message)
