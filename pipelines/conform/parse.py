"""Vectorised parsers from received text to contract types (polars expressions).

Each parser returns the parsed value and what was expected, so that a value that does not parse
becomes a quarantine reason quoting the value, never a silent null.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from pipelines.declarations.models import Column
from pipelines.text import label_key

TRUE_WORDS = ("true", "1", "yes", "y", "t", "x", "có", "đúng", "đã")
FALSE_WORDS = ("false", "0", "no", "n", "f", "không", "sai", "chưa")

AWARE_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f%#z")
NAIVE_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M",
    "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%Y-%m-%d", "%d/%m/%Y",
)
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y")
MIDNIGHT_SUFFIX = r"^(\d{4}-\d{2}-\d{2})[T ]00:00(:00)?$"


@dataclass(frozen=True)
class Parsed:
    """A parsed value expression and the text that says what a valid value looks like."""

    value: pl.Expr
    expected: str


def text(column: str) -> pl.Expr:
    """The received text with blanks trimmed; empty text is null."""
    stripped = pl.col(column).str.strip_chars()
    return pl.when(stripped == "").then(None).otherwise(stripped)


def number(t: pl.Expr, number_format: str) -> pl.Expr:
    """A decimal number written the Vietnamese way (1.234,5) or the English way (1,234.5)."""
    t = t.str.replace_all(r"[\s\u00a0]", "")
    vi_grouped = r"^[+-]?\d{1,3}(\.\d{3})+(,\d+)?$"
    en_grouped = r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$"
    comma_decimal = r"^[+-]?\d*,\d+$"
    plain = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
    vi = t.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True)
    en = t.str.replace_all(",", "", literal=True)
    grouped_first = (
        pl.when(t.str.contains(vi_grouped)).then(vi).when(t.str.contains(en_grouped)).then(en)
        if number_format == "vi"
        else pl.when(t.str.contains(en_grouped)).then(en).when(t.str.contains(vi_grouped)).then(vi)
    )
    normalised = (
        grouped_first.when(t.str.contains(plain)).then(t)
        .when(t.str.contains(comma_decimal)).then(t.str.replace(",", ".", literal=True))
        .otherwise(None)
    )
    value = normalised.cast(pl.Float64, strict=False)
    return pl.when(value.is_finite()).then(value)


def timestamp(t: pl.Expr, formats: list[str] | None, timezone: str) -> pl.Expr:
    """An instant, in UTC: with an offset as written, without one in the feed's time zone."""
    declared = formats or []
    aware = [f for f in declared if "%z" in f or "%#z" in f or "%:z" in f] + list(AWARE_FORMATS)
    naive = [f for f in declared if f not in aware] + list(NAIVE_FORMATS)
    candidates = [t.str.to_datetime(f, time_zone="UTC", strict=False, time_unit="us") for f in aware]
    candidates += [
        t.str.to_datetime(f, strict=False, time_unit="us")
        .dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
        for f in naive
    ]
    return pl.coalesce(candidates)


def date(t: pl.Expr, formats: list[str] | None) -> pl.Expr:
    t = pl.when(t.str.contains(MIDNIGHT_SUFFIX)).then(t.str.extract(MIDNIGHT_SUFFIX, 1)).otherwise(t)
    return pl.coalesce([t.str.strptime(pl.Date, f, strict=False) for f in [*(formats or []), *DATE_FORMATS]])


def month(t: pl.Expr) -> pl.Expr:
    """A calendar month as YYYY-MM, from 2026-10, 10/2026, 2026-10-01 (a date cell) or 'tháng 10/2026'."""
    t = t.str.to_lowercase()
    patterns = [  # (regex, year group, month group)
        (r"^(\d{4})-(\d{1,2})$", 1, 2),
        (r"^(\d{1,2})[/.-](\d{4})$", 2, 1),
        (r"^(\d{4})-(\d{2})-01([t ]00:00(:00)?)?$", 1, 2),
        (r"^tháng\s*(\d{1,2})\s*(?:/|năm)\s*(\d{4})$", 2, 1),
    ]
    year = pl.coalesce([t.str.extract(p, y) for p, y, _ in patterns]).cast(pl.Int32, strict=False)
    mon = pl.coalesce([t.str.extract(p, m) for p, _, m in patterns]).cast(pl.Int32, strict=False)
    formatted = pl.format("{}-{}", year.cast(pl.String), mon.cast(pl.String).str.zfill(2))
    return pl.when(mon.is_between(1, 12) & year.is_between(1900, 2999)).then(formatted)


def boolean(t: pl.Expr) -> pl.Expr:
    words = {w: True for w in TRUE_WORDS} | {w: False for w in FALSE_WORDS}
    return t.str.to_lowercase().replace_strict(words, default=None, return_dtype=pl.Boolean)


def enum_value(t: pl.Expr, column: Column) -> pl.Expr:
    """The code for a received code or label, matched case- and spacing-insensitively."""
    mapping = {label_key(code): code for code in column.enum or []}
    mapping |= {label_key(label): code for label, code in column.values.items()}
    key = t.str.replace_all(r"\s+", " ").str.to_lowercase()
    return key.replace_strict(mapping, default=None, return_dtype=pl.String)


def parse(column: Column, t: pl.Expr, number_format: str, timezone: str) -> Parsed:
    """The parser for one contract column."""
    kind = column.type
    if kind == "string" and column.enum:
        labels = f"; or a label: {', '.join(column.values)}" if column.values else ""
        return Parsed(enum_value(t, column), f"one of {', '.join(column.enum)}{labels}")
    if kind == "string":
        return Parsed(t, "text")
    if kind == "number":
        example = "1.234,5" if number_format == "vi" else "1,234.5"
        return Parsed(number(t, number_format), f"a number (e.g. {example})")
    if kind == "integer":
        value = number(t, number_format)
        whole = pl.when((value == value.round(0)) & (value.abs() < 2**53)).then(value).cast(pl.Int64, strict=False)
        return Parsed(whole, "a whole number")
    if kind == "boolean":
        return Parsed(boolean(t), f"yes/no ({', '.join(TRUE_WORDS[:3])} / {', '.join(FALSE_WORDS[:3])}, có / không)")
    if kind == "date":
        shown = ", ".join(column.formats or DATE_FORMATS)
        return Parsed(date(t, column.formats), f"a date ({shown})")
    if kind == "timestamp":
        return Parsed(timestamp(t, column.formats, timezone), "a date and time (ISO 8601, e.g. 2026-10-05T08:30:00+07:00)")
    if kind == "month":
        return Parsed(month(t), "a month (YYYY-MM or MM/YYYY)")
    raise ValueError(f"no parser for type {kind}")


DUCKDB_TYPES = {
    "string": "VARCHAR", "integer": "BIGINT", "number": "DOUBLE", "boolean": "BOOLEAN",
    "date": "DATE", "timestamp": "TIMESTAMPTZ", "month": "VARCHAR",
}
