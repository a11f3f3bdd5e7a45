"""What a column holds, read from its sample values: integer, number (and how numbers are written), boolean, date
or timestamp (with the formats seen), month, or text — and, for text, a set of labels or unit codes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import cast

import polars as pl

from pipelines.conform.parse import FALSE_WORDS, TRUE_WORDS, month, number
from pipelines.text import label_key

DATE_FORMATS = ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y", "%Y/%m/%d", "%m/%d/%Y")
TIMESTAMP_FORMATS = (
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%d-%m-%Y %H:%M:%S",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
)
AWARE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2}|Z)$")
MIDNIGHT = r"^(\d{4}-\d{2}-\d{2})[T ]00:00(:00)?$"  # an Excel date cell, landed as an ISO date and time
VI_MARKS = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+(,\d+)?$|^[+-]?\d+,\d+$")  # 1.234,5 · 2.159 · 87,5
EN_MARKS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")  # 1,234.5 · 12,000
# Header words of text that is free (names, descriptions, units of measure): never a set of labels.
FREE_TEXT = (
    "tên",
    "nội dung",
    "ghi chú",
    "mô tả",
    "tiêu đề",
    "địa chỉ",
    "đơn vị tính",
    "đvt",
    "người",
    "họ tên",
    "văn bản",
    "trích yếu",
    "lý do",
    "name",
    "title",
    "note",
    "description",
)
CODE_WORDS = ("mã", "số hiệu", "id", "code", "số hồ sơ", "số văn bản")
MAX_LABELS = 12
MIN_VALUES_FOR_STRAYS = 20  # from this many values, a few that are not of the column's type are the samples' errors
STRAYS = 0.05  # at most this share of them  # at most this many distinct labels make a set of labels (an enum)


@dataclass
class Inferred:
    """A column's type and what was seen: the formats, whether blanks occur, the labels, why."""

    type: str
    nullable: bool
    why: str
    formats: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)  # an enum's labels as the source writes them, first seen first
    references: bool = False
    todo: str | None = None  # what the draft could not decide about this column
    distinct: int = 0
    values: int = 0


def number_format(columns: list[pl.Series]) -> tuple[str, str, str | None]:
    """How the files write numbers (vi: 1.234,5; en: 1,234.5), why, and a TODO when both are seen."""
    vi = en = 0
    for values in columns:
        text = values.drop_nulls().str.replace_all(r"[\s\u00a0]", "")
        vi += int(text.str.contains(VI_MARKS.pattern).sum())
        en += int(text.str.contains(EN_MARKS.pattern).sum())
    if en > vi:
        return (
            "en",
            f"{en} values written 1,234.5 (against {vi} written 1.234,5)",
            (f"{vi} values look Vietnamese (1.234,5) too: check" if vi else None),
        )
    why = f"{vi} values written 1.234,5 or 87,5" if vi else "no value decides it; Vietnamese assumed (1.234,5)"
    return "vi", why, (f"{en} values look English (1,234.5) too: check" if en else None)


def infer(label: str, values: pl.Series, unit_codes: frozenset[str], fmt: str) -> Inferred:
    """The column's type from its values (text as landed, blanks null)."""
    total = values.len()
    text = values.str.strip_chars()
    text = pl.select(pl.when(text.str.len_chars() > 0).then(text)).to_series()
    seen = text.drop_nulls()
    nullable = seen.len() < total
    key = label_key(label)
    n, distinct = seen.len(), seen.n_unique()
    blanks = f"; blank in {total - n} of {total} rows" if nullable else ""
    if n == 0:
        return Inferred(
            "string",
            True,
            "no values in the samples",
            todo="no value in the samples: type unknown, text assumed",
            values=0,
        )
    codeish = any(key.startswith(w) or f" {w}" in f" {key}" for w in CODE_WORDS)
    leading_zero = bool(seen.str.contains(r"^0\d").any())
    for kind, typed in (
        ("number", None if codeish or leading_zero else lambda v: _number(v, fmt)),
        ("boolean", _boolean),
        ("month", lambda v: _month(v, key)),
        ("date", _date),
    ):
        if typed is None:
            continue
        some = seen.gather_every(max(1, n // 2000))  # a spread sample first: most columns are not of most types
        found = typed(seen) if typed(some) is not None else None
        # (the mean of a Boolean series of values is a float: the share of them that parse)
        if (
            found is None
            and n >= MIN_VALUES_FOR_STRAYS
            and cast(float, _parses(kind, some, fmt).mean()) >= 1 - 2 * STRAYS
        ):
            found = _mostly(kind, typed, seen, fmt)
        if found is not None:
            found.nullable, found.why, found.distinct, found.values = nullable, found.why + blanks, distinct, n
            return found
    inferred = Inferred("string", nullable, "text" + blanks, distinct=distinct, values=n)
    if codeish and seen.str.contains(r"^[+-]?\d+$").all():
        inferred.why = f"numbers, but a code (header {label!r}): kept as text" + blanks
    codes = seen.is_in(list(unit_codes))
    if codes.all():
        inferred.references, inferred.why = True, "every value is a unit code of org_units.yaml" + blanks
    elif codes.sum() * 10 >= n * 8:
        strange = seen.filter(~codes).unique(maintain_order=True).head(5).to_list()
        inferred.references = True
        inferred.why = f"{int(codes.sum())} of {n} values are unit codes of org_units.yaml" + blanks
        inferred.todo = f"values that are not unit codes: {', '.join(strange)}; rows with them will be quarantined"
    elif _labels(seen, key):
        inferred.labels = seen.unique(maintain_order=True).to_list()
        inferred.why = f"{distinct} distinct labels in {n} values" + blanks
    return inferred


def _parses(kind: str, seen: pl.Series, fmt: str) -> pl.Series:
    """Which values read as the kind (number, boolean, month, date or timestamp)."""
    value = pl.lit(seen)
    if kind == "number":
        return pl.select(number(value, fmt).is_not_null()).to_series()
    if kind == "boolean":
        return seen.str.to_lowercase().is_in([*TRUE_WORDS, *FALSE_WORDS])
    if kind == "month":
        return pl.select(month(value).is_not_null()).to_series()
    bare = pl.when(value.str.contains(MIDNIGHT)).then(value.str.extract(MIDNIGHT, 1)).otherwise(value)
    tests = [bare.str.strptime(pl.Date, f, strict=False).is_not_null() for f in DATE_FORMATS]
    tests += [value.str.strptime(pl.Datetime("us"), f, strict=False).is_not_null() for f in TIMESTAMP_FORMATS]
    return pl.select(pl.any_horizontal(*tests, value.str.contains(AWARE.pattern))).to_series()


def _mostly(kind: str, typed, seen: pl.Series, fmt: str) -> Inferred | None:
    """The type most values have, when only a few (at most STRAYS of them) do not: those are errors of the samples,
    said in a TODO (their rows will be quarantined), not a reason to take the column as text."""
    good = _parses(kind, seen, fmt)
    if good.all() or cast(float, good.mean()) < 1 - STRAYS:  # (a Boolean series' mean: a float)
        return None
    found = typed(seen.filter(good))
    if found is not None:
        strays = seen.filter(~good).unique(maintain_order=True)
        found.todo = (
            f"{int((~good).sum())} of {seen.len()} values are not of this type: "
            f"{', '.join(map(repr, strays.head(5).to_list()))}; rows with them will be quarantined"
        )
    return found


def _number(seen: pl.Series, fmt: str) -> Inferred | None:
    parsed = pl.select(number(pl.lit(seen), fmt)).to_series()
    if parsed.null_count():
        return None
    marks = seen.str.replace_all(r"[\s\u00a0]", "")
    written_fraction = bool(marks.str.contains(r",\d+$" if fmt == "vi" else r"\.\d+$").any())  # 87,5 · 87.5
    if (parsed == parsed.round(0)).all() and not written_fraction and (parsed.abs() < 2**53).all():
        return Inferred("integer", False, "whole numbers")
    return Inferred("number", False, f"numbers (written {'1.234,5' if fmt == 'vi' else '1,234.5'})")


def _boolean(seen: pl.Series) -> Inferred | None:
    lower = seen.str.to_lowercase()
    if seen.str.contains(r"^\d+$").all() or not lower.is_in([*TRUE_WORDS, *FALSE_WORDS]).all():
        return None
    return Inferred("boolean", False, f"yes/no words ({', '.join(seen.unique(maintain_order=True).head(4))})")


def _month(seen: pl.Series, key: str) -> Inferred | None:
    months = pl.select(month(pl.lit(seen))).to_series()
    if months.null_count():
        return None
    dates = seen.str.contains(r"^\d{4}-\d{2}-\d{2}")
    if dates.any() and not any(w in key for w in ("kỳ", "tháng", "period", "month")):
        return None  # first days of months, under a header that does not say months: dates
    return Inferred("month", False, f"months ({', '.join(seen.unique(maintain_order=True).head(3))})")


def _date(seen: pl.Series) -> Inferred | None:
    """A date column (every value a date in one of the formats, or an Excel date cell), or a timestamp column."""
    bare = pl.select(
        pl.when(pl.lit(seen).str.contains(MIDNIGHT)).then(pl.lit(seen).str.extract(MIDNIGHT, 1)).otherwise(pl.lit(seen))
    ).to_series()
    formats = _covering(bare, DATE_FORMATS, pl.Date)
    if formats is not None:
        kind, why = "date", "dates"
        if bare.ne(seen).any():
            why += " (Excel date cells among them)"
    else:
        formats = _covering(seen.filter(~seen.str.contains(AWARE.pattern)), TIMESTAMP_FORMATS, pl.Datetime("us"))
        if formats is None:
            return None
        kind, why = "timestamp", "dates and times"
        if seen.str.contains(AWARE.pattern).any():
            why += " (some with their UTC offset, ISO 8601)"
    written = ", ".join(formats) or "ISO 8601"
    if formats == ["%Y-%m-%d"]:
        written += " (ISO 8601, as Excel date cells are read)"
    found = Inferred(kind, False, f"{why}, written {written}", formats=formats)
    day_first = [f for f in formats if f.startswith("%d/%m")]
    if (
        day_first
        and _covering(
            bare if kind == "date" else seen,
            [f.replace("%d/%m", "%m/%d") for f in day_first],
            pl.Date if kind == "date" else pl.Datetime("us"),
        )
        is not None
    ):
        found.todo = "every value reads day first or month first (no day above 12): day first assumed (d/m/yyyy)"
    return found


def _covering(values: pl.Series, formats, dtype) -> list[str] | None:
    """The fewest formats (most values first) that together parse every value; None if some value parses in none."""
    if values.len() == 0:
        return []
    left, chosen = values, []
    while left.len():
        counts = []
        for f in formats:
            parsed = pl.select(pl.lit(left).str.strptime(dtype, f, strict=False)).to_series()
            counts.append((int(parsed.is_not_null().sum()), f, parsed))
        best, f, parsed = max(counts, key=lambda c: c[0])
        if best == 0:
            return None
        chosen.append(f)
        left = left.filter(parsed.is_null())
    return chosen


def _labels(seen: pl.Series, key: str) -> bool:
    """A handful of words repeated (a status, a channel): labels a set of codes can stand for."""
    distinct = seen.n_unique()
    if not 2 <= distinct <= MAX_LABELS or seen.len() < 2 * distinct or any(w in key for w in FREE_TEXT):
        return False
    return bool(seen.str.contains(r"^[^\d]{2,40}$").all() and seen.str.contains(r"[a-zà-ỹđ]").all())
