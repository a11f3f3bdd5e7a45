"""Cells a spreadsheet opens as data, never as a formula (OWASP "CSV injection"): the one rule for every CSV
and XLSX the platform hands out, whose text comes from departments' files and APIs.

CSV: text beginning with = + - @ tab or carriage return gets a leading ' (Excel and LibreOffice then show it
as text). XLSX: such text is stored as a text cell. Numbers stay numbers (-5 stays -5) in both.
"""

from __future__ import annotations

import polars as pl

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_PATTERN = r"^[=+\-@\t\r]"  # the same starts, for polars


def safe_value(value):
    """One CSV cell: text a spreadsheet would take for a formula, quoted with a leading '; anything else as is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """A frame to write as CSV: every String column's values as `safe_value` makes them; other columns as is."""

    def safe(name: str) -> pl.Expr:
        text = pl.col(name)
        return pl.when(text.str.contains(FORMULA_PATTERN)).then(pl.lit("'") + text).otherwise(text).alias(name)

    return frame.with_columns(safe(name) for name, dtype in frame.schema.items() if dtype == pl.String)


def save_workbook(book, target) -> None:
    """Save an openpyxl workbook with every text cell stored as text. openpyxl takes any str that begins with
    '=' for a formula; the platform's workbooks carry values, never formulas, so no cell is one."""
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f" and isinstance(cell.value, str):
                    cell.data_type = "s"
    book.save(target)
