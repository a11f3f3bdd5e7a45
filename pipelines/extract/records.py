"""Turn received records (dicts of Python values) into the landing frame: text cells plus lineage."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal

from pipelines.extract.landing import RAW, SOURCE_ROW, SOURCE_URI
from pipelines.text import nfc

_LOOKS_LIKE_THOUSANDS = re.compile(r"^-?\d{1,3}(\.\d{3})+$")


def as_text(value: object) -> str | None:
    """A received value as text, the one form the conform stage parses.

    Numbers keep a '.' decimal point; a float such as 1.234 is written 1.2340 so that it can never
    be read as the Vietnamese thousands form of 1234.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return nfc(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        text = repr(value)
        return text + "0" if _LOOKS_LIKE_THOUSANDS.match(text) else text
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    return json.dumps(value, ensure_ascii=False, default=str)


def _json_default(value: object) -> object:
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _frame(columns: dict[str, list], raws: list[str], source_rows: list[int], source_uris: list[str]):
    import polars as pl  # lazy: polars (0.3 s and more) only when rows are read: the module imports light

    data = {**columns, SOURCE_ROW: source_rows, SOURCE_URI: source_uris, RAW: raws}
    schema = {name: pl.String for name in columns} | {SOURCE_ROW: pl.Int64, SOURCE_URI: pl.String, RAW: pl.String}
    return pl.DataFrame(data, schema=schema)


def _raw(record: dict[str, object]) -> str:
    return json.dumps(record, ensure_ascii=False, default=_json_default)


def records_frame(records: list[dict[str, object]], source_rows: list[int], source_uris: list[str]):
    """The landing frame of records that arrived as objects (API pages, database rows): one text
    column per field, in first-seen order, and the lineage columns."""
    fields: dict[str, None] = {}
    for record in records:
        for name in record:
            fields.setdefault(name, None)
    columns = {name: [as_text(r.get(name)) for r in records] for name in fields}
    return _frame(columns, [_raw(r) for r in records], source_rows, source_uris)


def rows_frame(fields: list[str], rows: Sequence[Sequence[object]], source_rows: list[int]):
    """A workbook's rows as text cells under its header (empty cells null) and their row numbers; the raw
    record is built from these cells when the batch is loaded."""
    import polars as pl  # lazy: polars (0.3 s and more) only when rows are read: the module imports light

    columns = {
        name: [as_text(None if j >= len(r) or r[j] == "" else r[j]) for r in rows] for j, name in enumerate(fields)
    }
    schema = {name: pl.String for name in fields} | {SOURCE_ROW: pl.Int64}
    return pl.DataFrame({**columns, SOURCE_ROW: source_rows}, schema=schema)
