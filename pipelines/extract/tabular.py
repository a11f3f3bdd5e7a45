"""Read a CSV or XLSX file into a grid of cells, detecting encoding and delimiter."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from pipelines.text import nfc

DELIMITERS = (",", ";", "\t", "|")


class UnreadableFile(Exception):
    """The file cannot be read as a table; the message says why and how to fix it, and `vi` says the same in
    Vietnamese (what the wall shows a department)."""

    def __init__(self, message: str, vi: str):
        super().__init__(message)
        self.vi = vi


def empty_file() -> UnreadableFile:
    return UnreadableFile("the file is empty (0 bytes or only blanks); ask the department to send it again",
                          "tệp rỗng (0 byte hoặc chỉ có khoảng trắng); đề nghị đơn vị gửi lại")


def undecodable(encodings: list[str]) -> UnreadableFile:
    shown = ", ".join(encodings)
    return UnreadableFile(f"the bytes are not valid in any declared encoding ({shown}); "
                          "save the file as CSV UTF-8 or declare its encoding under source.encodings",
                          f"nội dung không đúng bảng mã nào đã khai báo ({shown}); lưu tệp dạng CSV UTF-8 "
                          "hoặc khai báo bảng mã trong source.encodings")


def binary_not_csv() -> UnreadableFile:
    return UnreadableFile("the file holds binary data (NUL bytes), not CSV text; export the table again as CSV",
                          "tệp chứa dữ liệu nhị phân, không phải văn bản CSV; xuất lại bảng dạng CSV")


@dataclass
class Grid:
    """The cells of a file's first (or named) sheet, row by row, with how the file was read."""

    rows: list[list[object]]
    how: str  # e.g. "CSV, cp1258, delimiter ';'" or "XLSX, sheet 'Báo cáo'"


def read_grid(path: Path, data: bytes, encodings: list[str], sheet: str | None = None) -> Grid:
    suffix = path.suffix.lower()
    if not data.strip():
        raise empty_file()
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(data, sheet)
    if suffix in (".csv", ".txt"):
        return _read_csv(data, encodings)
    raise UnreadableFile(f"files of type {suffix or '(none)'} are not read; send .csv or .xlsx",
                         f"không đọc tệp loại {suffix or '(không có đuôi)'}; hãy gửi tệp .csv hoặc .xlsx")


def decode(data: bytes, encodings: list[str]) -> tuple[str, str]:
    """Text of the file and the encoding used: a UTF-8 BOM wins, then each declared encoding in order."""
    if data.startswith(b"\xef\xbb\xbf"):
        return nfc(data[3:].decode("utf-8")), "utf-8 with BOM"
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


def _read_csv(data: bytes, encodings: list[str]) -> Grid:
    text, encoding = decode(data, encodings)
    if "\x00" in text:
        raise binary_not_csv()
    lines = text.splitlines()
    delimiter = sniff_delimiter(lines[:50])
    rows = [list(row) for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
    return Grid(rows=rows, how=f"CSV, {encoding}, delimiter {delimiter!r}")


def _read_xlsx(data: bytes, sheet: str | None) -> Grid:
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        name = sheet or workbook.sheet_names[0]
        if name not in workbook.sheet_names:
            raise UnreadableFile(f"sheet {name!r} not found; sheets: {', '.join(workbook.sheet_names)}",
                                 f"không có trang tính {name!r}; các trang: {', '.join(workbook.sheet_names)}")
        rows = workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
    except UnreadableFile:
        raise
    except Exception as exc:  # calamine raises its own error types for corrupt files
        raise UnreadableFile(
            f"not a readable XLSX workbook ({type(exc).__name__}: {exc}); "
            "open it in Excel or LibreOffice and save it again as .xlsx",
            "không đọc được tệp XLSX; mở bằng Excel hoặc LibreOffice rồi lưu lại dạng .xlsx") from None
    return Grid(rows=[list(r) for r in rows], how=f"XLSX, sheet {name!r}")
