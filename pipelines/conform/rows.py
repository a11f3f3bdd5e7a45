"""Conform a landed batch to its feed's contract: every row is either typed and valid, or rejected
with every reason (check, column, expected, actual, message naming feed, file, row and column)."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from pipelines.conform.parse import parse, text
from pipelines.declarations.models import Feed
from pipelines.extract.landing import LINEAGE_COLUMNS, RAW, SOURCE_ROW, SOURCE_URI
from pipelines.text import column_letter, label_key

REASONS = "reasons"

FIXES = {
    "value_has_contract_type": "correct the value in the source and send the data again",
    "value_in_allowed_set": "use one of the codes, or add the source's label under values: in the feed file",
    "value_not_null": "fill in the value in the source and send the data again",
    "unit_code_is_known": "use a unit code from schemas/org_units.yaml, or declare the new unit there",
    "required_column_present": "add the column to the source, or add the label the source uses to labels: in the feed file",
    "key_is_unique_in_batch": "each key must appear once per file or page: remove or merge the duplicate rows",
}


@dataclass
class Conformed:
    """Valid typed rows, rejected rows with reasons, and batch-level warnings."""

    valid: pl.DataFrame
    rejected: pl.DataFrame
    warnings: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # contract column -> label the source used


def map_headers(feed: Feed, source_columns: list[str], where: str = "",
                header_row: int | None = None) -> tuple[dict[str, str], list[str]]:
    """Contract column -> source column, and warnings for source columns the contract does not know.

    where names the file or URL and header_row the file's header row, so that a warning points at
    the very cell (columns of a file's landing frame are in the file's order).
    """

    by_label = {label_key(label): col.name for col in feed.columns for label in (col.name, *col.labels)}
    mapping: dict[str, str] = {}
    warnings = []
    for j, source_column in enumerate(source_columns):
        if source_column in LINEAGE_COLUMNS:
            continue
        target = by_label.get(label_key(source_column))
        if target is None:
            cell = f" (row {header_row}, column {column_letter(j)})" if header_row else ""
            warnings.append(
                f"feed {feed.id}: {where} column {source_column!r}{cell} is not in the contract; its values are "
                f"kept in raw history only. Expected columns: {', '.join(feed.column_names)}; if it carries data, "
                f"add its label to labels: of the right column in schemas/feeds/{feed.id}.yaml"
            )
        elif target in mapping:
            warnings.append(
                f"feed {feed.id}: columns {mapping[target]!r} and {source_column!r} both map to {target!r}; "
                f"the first is used"
            )
        else:
            mapping[target] = source_column
    return mapping, warnings


def _where() -> pl.Expr:
    """'file NAME' for an archived file (its name without the batch prefix), else the page URL."""
    uri = pl.col(SOURCE_URI)
    name = uri.str.extract(r"[/\\][^/\\]*?__([^/\\]+)$", 1)
    return pl.when(name.is_not_null()).then(pl.format("file {}", name)).otherwise(uri)


def _reason(feed: Feed, check: str, column: str, label: str, expected: str, actual: pl.Expr) -> pl.Expr:
    shown = f"'{column}'" if label == column else f"'{column}' (header {label!r})"
    message = pl.format(
        f"feed {feed.id}: {{}} row {{}}, column {shown}: expected {expected.replace('{', '{{').replace('}', '}}')}, "
        f"got {{}}. Fix: {FIXES[check]}",
        _where(), pl.col(SOURCE_ROW), pl.when(actual.is_null()).then(pl.lit("nothing")).otherwise(
            pl.format("'{}'", actual)
        ),
    )
    return pl.struct(
        check_name=pl.lit(check), column_name=pl.lit(column), expected=pl.lit(expected),
        actual=actual.cast(pl.String), message=message,
    )


def conform(feed: Feed, records: pl.DataFrame, unit_codes: frozenset[str], number_format: str = "en",
            where: str = "", header_row: int | None = None) -> Conformed:
    """Type every contract column and collect, per row, every reason it cannot be published."""
    mapping, warnings = map_headers(feed, records.columns, where, header_row)
    labels = {col.name: mapping.get(col.name, col.name) for col in feed.columns}
    reasons: list[pl.Expr] = []
    values: list[pl.Expr] = []
    for col in feed.columns:
        source_column = mapping.get(col.name)
        if source_column is None:
            values.append(pl.lit(None, dtype=_polars_type(col.type)).alias(col.name))
            if not col.nullable:
                reasons.append(_reason(feed, "required_column_present", col.name, col.name,
                                       f"a column labelled {' / '.join([col.name, *col.labels])!r}", pl.lit(None, pl.String)))
            else:
                warnings.append(f"feed {feed.id}: {where} has no optional column {col.name!r}; it is left empty")
            continue
        received = text(source_column)
        parsed = parse(col, received, number_format, feed.timezone)
        values.append(parsed.value.alias(col.name))
        label = labels[col.name]
        reasons.append(pl.when(received.is_not_null() & parsed.value.is_null()).then(
            _reason(feed, "value_in_allowed_set" if col.enum else "value_has_contract_type",
                    col.name, label, parsed.expected, received)))
        if not col.nullable:
            reasons.append(pl.when(received.is_null()).then(
                _reason(feed, "value_not_null", col.name, label, "a value (the column is required)", received)))
        if col.references == "org_unit":
            known = parsed.value.is_in(sorted(unit_codes))
            reasons.append(pl.when(parsed.value.is_not_null() & ~known).then(
                _reason(feed, "unit_code_is_known", col.name, label, "a code of schemas/org_units.yaml", received)))
    typed = records.select(*values, *[pl.col(c) for c in LINEAGE_COLUMNS])
    typed = typed.with_columns(_row_reasons(records, reasons))
    typed = _flag_duplicate_keys(feed, typed, labels)
    has_reason = pl.col(REASONS).list.len() > 0
    valid = typed.filter(~has_reason).drop(REASONS)
    rejected = typed.filter(has_reason).select(SOURCE_ROW, SOURCE_URI, RAW, REASONS)
    return Conformed(valid=valid, rejected=rejected, warnings=warnings, labels=labels)


def _row_reasons(records: pl.DataFrame, reasons: list[pl.Expr]) -> pl.Series:
    if not reasons:
        return pl.Series(REASONS, [[] for _ in range(records.height)])
    return records.select(pl.concat_list(reasons).list.drop_nulls().alias(REASONS)).to_series()


def _flag_duplicate_keys(feed: Feed, typed: pl.DataFrame, labels: dict[str, str]) -> pl.DataFrame:
    """Rows sharing a key (and version, where the feed keeps versions) cannot all be right."""
    group = list(feed.load.key) + ([feed.load.version] if feed.load.version else [])
    complete = pl.all_horizontal([pl.col(c).is_not_null() for c in group])
    count = pl.len().over(group)
    others = pl.col(SOURCE_ROW).over(group, mapping_strategy="join").list.eval(pl.element().cast(pl.String)).list.join(", ")
    key_text = pl.concat_str([pl.col(c).cast(pl.String) for c in feed.load.key], separator=" / ")
    expected = f"each key ({', '.join(feed.load.key)}) once" + (f" per {feed.load.version}" if feed.load.version else "")
    reason = _reason(feed, "key_is_unique_in_batch", feed.load.key[0], labels[feed.load.key[0]], expected,
                     pl.format("{} (on rows {})", key_text, others))
    duplicate = pl.when(complete & (count > 1)).then(reason)
    return typed.with_columns(
        pl.when(complete & (count > 1)).then(pl.col(REASONS).list.concat(pl.concat_list(duplicate)))
        .otherwise(pl.col(REASONS)).alias(REASONS)
    )


def _polars_type(kind: str):
    return {
        "string": pl.String, "integer": pl.Int64, "number": pl.Float64, "boolean": pl.Boolean,
        "date": pl.Date, "timestamp": pl.Datetime("us", "UTC"), "month": pl.String,
    }[kind]
