"""A department's sample files read as the platform reads them (the same decoding, delimiter and cell text), and
where their table is: the header under any title block, the data rows below it."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import polars as pl

from pipelines.declarations.models import ReadLimits
from pipelines.extract.file_drop import frame_columns
from pipelines.extract.landing import SOURCE_ROW
from pipelines.extract.records import as_text
from pipelines.extract.tabular import Grid, read_grid
from pipelines.extract.unreadable import UnreadableFile

HEADER_SEARCH_ROWS = 30  # the default of source.header_search_rows
ENCODINGS = ["utf-8", "cp1258"]  # the default of source.encodings
_FIGURE = re.compile(r"^[-+]?[\d.,\s\u00a0]*\d[\d.,\s\u00a0]*%?$")
_DATE = re.compile(r"^\d{1,4}[/.-]\d{1,4}([/.-]\d{1,4})?([ T]\d{1,2}:\d{2}.*)?$")


class DraftError(Exception):
    """A sample that cannot be drafted from: the message names the file and says why."""


@dataclass
class Sample:
    """One sample file: its cells as text (what the platform lands), how it was read, where its header is."""

    path: Path
    rows: list[list[str | None]]  # every row, cells as text
    how: str
    grid: Grid  # for a form, read again by the form reader
    header_index: int = -1  # 0-based row of the table's header (a table's; a form finds its own)

    @property
    def header(self) -> list[str]:
        return [" ".join((c or "").split()) for c in self.rows[self.header_index]]

    def body(self):
        """The data rows under the header as the landing frame (text cells, the file's row numbers), blank rows
        left out."""
        start = self.header_index + 1
        kept = [
            (i + 1, row) for i, row in enumerate(self.rows[start:], start=start) if any((c or "").strip() for c in row)
        ]
        names = frame_columns(self.rows[self.header_index], [r for _, r in kept])
        columns = {name: [(r[j] or None) if j < len(r) else None for _, r in kept] for j, name in enumerate(names)}
        return pl.DataFrame(
            {**columns, SOURCE_ROW: [n for n, _ in kept]},
            schema={**{n: pl.String for n in names}, SOURCE_ROW: pl.Int64},
        ), names


def read_sample(path: Path, encodings: list[str] | None = None, limits: ReadLimits | None = None) -> Sample:
    """The file's cells, or DraftError saying why it cannot be read."""
    if not path.is_file():
        raise DraftError(f"{path}: no such file")
    data = path.read_bytes()
    try:
        grid = read_grid(path, data, encodings or ENCODINGS, None, limits or ReadLimits())
        if grid.how.startswith("CSV"):  # text already, in NFC: the lists of str the CSV reader made
            rows = cast("list[list[str | None]]", grid.rows)
        else:
            rows = [[as_text(c) for c in row] for row in itertools.chain(grid.rows, grid.rest)]
    except UnreadableFile as exc:
        detail = str(exc)
        if "encoding" in detail:
            detail = (
                f"its bytes are neither {' nor '.join(encodings or ENCODINGS)}; save it as CSV UTF-8, or name "
                f"its encoding with --encoding (e.g. --encoding utf-16)"
            )
        raise DraftError(f"{path.name}: {detail}") from None
    grid.rows, grid.rest = [list(r) for r in rows], iter(())  # read once: a form's reader takes them from here
    return Sample(path, rows, grid.how, grid)


def label_like(text: str) -> bool:
    return bool(text) and not _FIGURE.match(text) and not _DATE.match(text) and len(text) <= 120


def find_table_header(sample: Sample) -> int:
    """0-based row of the header: among the first rows, the one with the most text labels (at least two) that
    has a data row under it; DraftError when there is none."""
    best, best_count = -1, 1
    rows = sample.rows
    for i, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        labels = [c for c in row if c and label_like(c.strip())]
        filled = [c for c in row if c and c.strip()]
        if len(labels) > best_count and len(labels) == len(filled):
            best, best_count = i, len(labels)
    if best < 0:
        first = next((r for r in rows if any(r)), None)
        if first is None:
            raise DraftError(f"{sample.path.name}: the file holds no cells ({sample.how}); send a file with a table")
        shown = " | ".join(c or "" for c in first[:6])
        raise DraftError(
            f"{sample.path.name}: no table found ({sample.how}): no row of the first {HEADER_SEARCH_ROWS} "
            f"holds two or more column labels; the first non-empty row reads {shown!r}"
        )
    if not any(any((c or "").strip() for c in row) for row in rows[best + 1 :]):
        raise DraftError(
            f"{sample.path.name}: the header (row {best + 1}) has no data rows under it: a draft infers "
            f"each column's type from its values; send a sample with data"
        )
    return best
