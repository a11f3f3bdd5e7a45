"""Read a CSV or XLSX file into a grid of cells, detecting encoding and delimiter, within the feed's limits."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.declarations.models import ReadLimits
from pipelines.extract.archive import check_workbook
from pipelines.extract.unreadable import (
    UnreadableFile,
    binary_not_csv,
    corrupt_workbook,
    empty_file,
    line_too_long,
    too_many_rows,
    undecodable,
)
from pipelines.text import nfc

DELIMITERS = (",", ";", "\t", "|")
# The csv module's own cap on one field (128 KiB) would end a read with csv.Error; records are held to the
# feed's source.limits.max_line_bytes instead, by the readers, with a reason that names it.
csv.field_size_limit(1 << 30)


@dataclass
class Grid:
    """The cells of a file's first (or named) sheet, row by row, with how the file was read: `rows` are the
    rows read so far (at least the first `head` rows asked for, where the header is looked for), `rest` the
    rows after them, read only as they are asked for (a workbook's rows are never all held as Python objects)."""

    rows: Sequence[Sequence[object]]
    how: str  # e.g. "CSV, cp1258, delimiter ';'" or "XLSX, sheet 'Báo cáo'"
    rest: Iterator[list[object]] = field(default_factory=lambda: iter(()))


def read_grid(
    path: Path,
    data: bytes,
    encodings: list[str],
    sheet: str | None = None,
    limits: ReadLimits | None = None,
    head: int = 200,
) -> Grid:
    """The file's cells; a workbook's archive is checked against `limits` before it is parsed, and a CSV
    file's records as they are read."""
    limits = limits or ReadLimits()
    suffix = path.suffix.lower()
    if not data.strip():
        raise empty_file()
    if suffix in (".xlsx", ".xlsm"):
        check_workbook(data, limits)
        return _read_xlsx(data, sheet, head)
    if suffix in (".csv", ".txt"):
        return _read_csv(data, encodings, limits)
    raise UnreadableFile(
        f"files of type {suffix or '(none)'} are not read; send .csv or .xlsx",
        f"không đọc tệp loại {suffix or '(không có đuôi)'}; hãy gửi tệp .csv hoặc .xlsx",
    )


def decode(data: bytes, encodings: list[str]) -> tuple[str, str]:
    """Text of the file and the encoding used: a UTF-8 BOM wins, then each declared encoding in order."""
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return nfc(data[3:].decode("utf-8")), "utf-8 with BOM"
        except UnicodeDecodeError:
            raise undecodable(["utf-8, as its byte-order mark says"]) from None
    for encoding in encodings:
        try:
            return nfc(data.decode(encoding)), encoding
        except UnicodeDecodeError:
            continue
    raise undecodable(encodings)


def sniff_delimiter(lines: list[str]) -> str:
    """The delimiter that splits the most lines into the same number (≥ 2) of fields."""
    best, best_score = ",", (-1, -1)
    for delimiter in DELIMITERS:
        counts = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        counts = [n for n in counts if n >= 2]
        if not counts:
            continue
        width, lines_with_width = Counter(counts).most_common(1)[0]
        score = (lines_with_width, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _read_csv(data: bytes, encodings: list[str], limits: ReadLimits) -> Grid:
    text, encoding = decode(data, encodings)
    if "\x00" in text:
        raise binary_not_csv()
    delimiter = sniff_delimiter(_first_lines(text, 50, limits))
    rows: list[list[str]] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for row in reader:
            if len(rows) >= limits.max_rows:
                raise too_many_rows(limits)
            if sum(map(len, row)) > limits.max_line_bytes:
                raise line_too_long(limits, reader.line_num)
            rows.append(row)
    except csv.Error as exc:
        raise UnreadableFile(
            f"the CSV cannot be parsed (line {reader.line_num}: {exc}); export the table again as CSV",
            "không phân tích được tệp CSV; xuất lại bảng dạng CSV",
        ) from None
    return Grid(rows=rows, how=f"CSV, {encoding}, delimiter {delimiter!r}")


def _first_lines(text: str, count: int, limits: ReadLimits) -> list[str]:
    """The first lines of the text (to find its delimiter), each within the line limit."""
    lines: list[str] = []
    for line in io.StringIO(text, newline=""):
        if len(line) > limits.max_line_bytes:
            raise line_too_long(limits, len(lines) + 1)
        lines.append(line.rstrip("\r\n"))
        if len(lines) >= count:
            break
    return lines


def _read_xlsx(data: bytes, sheet: str | None, head: int) -> Grid:
    """The sheet's first `head` rows, and the others as they are asked for: cells from the first column (A)
    and the first row, as the sheet numbers them."""
    from python_calamine import CalamineWorkbook  # lazy: the workbook reader only for a workbook

    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        name = sheet or workbook.sheet_names[0]
        if name not in workbook.sheet_names:
            raise UnreadableFile(
                f"sheet {name!r} not found; sheets: {', '.join(workbook.sheet_names)}",
                f"không có trang tính {name!r}; các trang: {', '.join(workbook.sheet_names)}",
            )
        cells = workbook.get_sheet_by_name(name)
        rows = _sheet_rows(cells)
        first = [row for _, row in zip(range(head), rows, strict=False)]
    except UnreadableFile:
        raise
    except Exception as exc:  # calamine raises its own error types for corrupt files
        raise corrupt_workbook(f"{type(exc).__name__}: {exc}") from None
    return Grid(rows=first, how=f"XLSX, sheet {name!r}", rest=rows)


def _sheet_rows(cells) -> Iterator[list[object]]:
    """The sheet's rows from row 1, each from column A (calamine's rows start at the first column used)."""
    pad = [""] * cells.start[1] if cells.start else []
    for row in cells.iter_rows():
        yield pad + row if pad else row
