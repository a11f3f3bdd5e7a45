"""Read a CSV file as a stream of Arrow chunks of text cells, with the source row of every record.

The file is never held in memory: Arrow's CSV reader parses it block by block, every column as text
(nothing is typed by guessing), on one thread so that it can tell the record number of a line that
does not parse. Such a line (too many or too few fields, a quote left open) is not dropped: it is
read again on its own and comes out as a row marked malformed, with its text and why, so that it is
quarantined with its row number. A line whose extra fields are all empty (a spreadsheet's trailing
delimiters) is an ordinary row. Row numbers count records as a spreadsheet does: a title block, the
header and blank lines count; a quoted value spanning lines is one row.
"""

from __future__ import annotations

import codecs
import csv
import io
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.declarations.models import ReadLimits
from pipelines.extract.landing import LINE, MALFORMED, SOURCE_ROW
from pipelines.extract.tabular import decode, sniff_delimiter
from pipelines.extract.unreadable import (
    UnreadableFile,
    binary_not_csv,
    empty_file,
    line_too_long,
    too_many_rows,
    undecodable,
)

SAMPLE_BYTES = 1 << 20  # what is read to find the encoding's first failure, the delimiter and the header
BLOCK_BYTES = 4 << 20  # Arrow's parse block


@dataclass
class CsvLayout:
    """How a CSV file is written: its encoding, delimiter and first records (to find the header)."""

    encoding: str
    delimiter: str
    head: list[list[str]]  # the first records, parsed
    how: str = ""
    nfc: bool = True  # the whole text is in Unicode NFC already (else every chunk is normalised)
    whole: bool = True  # encoding and nfc hold for the whole file (else they come from its first MiB)
    skip: int = 0  # bytes before the text (a BOM)


class Reread(Exception):
    """The whole-file check found what the first MiB did not (a byte the encoding cannot decode further on,
    text not in NFC): the file must be read again with layout(..., whole=True)."""


class WholeFileCheck:
    """Decodes the whole file in the encoding taken from its first MiB, in a thread of its own while the file
    is parsed (measured, 10M rows, 1.6 GB: 11 s that no longer come before the parse): whether every byte
    decodes, and whether the text is in NFC."""

    def __init__(self, path: Path, encoding: str, skip: int):
        self.stop = threading.Event()
        self.outcome: tuple[bool, bool] | None = None  # (decodes, nfc)
        self.thread = threading.Thread(target=self._run, args=(path, encoding, skip), name="csv-check", daemon=True)
        self.thread.start()

    def _run(self, path: Path, encoding: str, skip: int) -> None:
        try:
            nfc = _decoded_nfc(path, encoding, skip, self.stop)
        except UnicodeDecodeError:
            self.outcome = (False, False)
        else:
            self.outcome = (True, nfc)

    def result(self) -> tuple[bool, bool]:
        self.thread.join()
        return self.outcome or (False, False)

    def cancel(self) -> None:
        self.stop.set()


@dataclass
class MalformedLine:
    number: int
    text: str
    expected: int
    actual: int


@dataclass
class _Handler:
    """Arrow's invalid-row callback: remembers each bad line, skips it in the stream."""

    lines: list[MalformedLine] = field(default_factory=list)

    def __call__(self, row) -> str:
        self.lines.append(MalformedLine(row.number, row.text, row.expected_columns, row.actual_columns))
        return "skip"


def layout(path: Path, encodings: list[str], head_rows: int, whole: bool = False) -> CsvLayout:
    """The file's encoding (a UTF-8 BOM, else the first declared encoding the file decodes in), its delimiter
    and its first `head_rows` records. The encoding and the Unicode form are taken from the first MiB, and
    records checks them on the whole file while it reads it (raising Reread if they do not hold); with
    `whole`, the whole file is decoded first instead."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        sample = f.read(SAMPLE_BYTES)
    if not sample.strip():
        raise empty_file()
    cut = sample if size <= SAMPLE_BYTES else sample[: sample.rfind(b"\n") + 1] or sample
    nfc = True
    encoding: str | None  # None until a declared encoding decodes the sample
    if sample.startswith(codecs.BOM_UTF8):
        encoding, shown, skip = "utf-8", "utf-8 with BOM", 3
    else:
        encoding, skip = None, 0
        for candidate in encodings:
            try:
                if whole:
                    nfc = _decoded_nfc(path, candidate)
                else:
                    cut.decode(candidate)
            except UnicodeDecodeError:
                continue
            encoding = shown = candidate
            break
        if encoding is None:
            raise undecodable(encodings)
    if whole and skip:
        nfc = _decoded_nfc(path, encoding, skip=skip)
    text, _ = decode(cut, [encoding])
    if "\x00" in text:
        raise binary_not_csv()
    lines = text.splitlines()
    delimiter = sniff_delimiter(lines[:50])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    head = [row for _, row in zip(range(head_rows), reader, strict=False)]
    return CsvLayout(encoding, delimiter, head, f"CSV, {shown}, delimiter {delimiter!r}", nfc, whole, skip)


def _decoded_nfc(path: Path, encoding: str, skip: int = 0, stop: threading.Event | None = None) -> bool:
    """Decode the whole file in blocks (no text kept): raise UnicodeDecodeError where it fails, else say
    whether the text is in Unicode NFC already. Lines are checked whole (a tone mark written apart from
    its letter never straddles two blocks), and normalising, which costs more than reading, is then
    left to the files that need it (a cp1258 or macOS export). A set `stop` ends it early (the answer
    then does not matter)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    nfc, tail = True, ""  # tail: the last line decoded so far, which the next block may go on
    with open(path, "rb") as f:
        f.seek(skip)
        while block := f.read(BLOCK_BYTES):
            if stop is not None and stop.is_set():
                return True
            text = decoder.decode(block)
            if nfc:  # each block as it is (no copy), and the line across its start with the block before
                first_line = text.find("\n") + 1 or len(text)
                nfc = unicodedata.is_normalized("NFC", tail + text[:first_line]) and unicodedata.is_normalized(
                    "NFC", text
                )
            last_line = text.rfind("\n") + 1
            tail = text[last_line:] if last_line else tail + text
        tail += decoder.decode(b"", final=True)
    return nfc and unicodedata.is_normalized("NFC", tail)


def records(
    path: Path, fmt: CsvLayout, names: list[str], header_row: int, chunk_rows: int, limits: ReadLimits | None = None
) -> Iterator:
    """The records after the header row (1-based), as polars frames of at most chunk_rows rows: a
    text column per name (empty cells null), the record's row number in _source_row, and, for a line
    that is not a well-formed record, _malformed (why) and _line (its text). Unless the layout holds for
    the whole file, a WholeFileCheck runs beside the parser and Reread is raised, before the last chunk,
    if the layout does not hold."""
    import numpy as np  # lazy: numpy only when rows are read: the module imports light
    import polars as pl  # lazy: polars (0.3 s and more) only when rows are read: the module imports light
    import pyarrow as pa  # lazy: pyarrow only when rows are read: the module imports light
    import pyarrow.csv as pacsv  # lazy: pyarrow only when rows are read: the module imports light

    limits = limits or ReadLimits()
    check = None if fmt.whole else WholeFileCheck(path, fmt.encoding, fmt.skip)
    handler = _Handler()
    first = header_row + 1  # record number of the first body record
    emitted = 0  # well-formed records so far
    taken = 0  # malformed lines already turned into rows
    pending: list = []
    pending_rows = 0
    try:
        try:
            reader = pacsv.open_csv(  # parses its first block: a byte the encoding cannot decode may show here
                path,
                read_options=pacsv.ReadOptions(
                    skip_rows=header_row,
                    column_names=[f"c{i}" for i in range(len(names))],
                    encoding=fmt.encoding,
                    use_threads=False,
                    block_size=BLOCK_BYTES,
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=fmt.delimiter,
                    quote_char='"',
                    double_quote=True,
                    newlines_in_values=True,
                    ignore_empty_lines=False,
                    invalid_row_handler=handler,
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={f"c{i}": pa.string() for i in range(len(names))},
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                    null_values=[""],
                ),
            )
            for batch in reader:
                frame = pl.from_arrow(batch)
                assert isinstance(frame, pl.DataFrame)  # a record batch converts to a frame
                frame.columns = names
                # Record numbers: the k-th well-formed record sits after every malformed line that comes before it.
                bad = np.array([m.number - first for m in handler.lines], dtype=np.int64)  # 0-based body positions
                before = bad - np.arange(len(bad))  # well-formed records before each malformed line
                k = np.arange(emitted, emitted + frame.height, dtype=np.int64)
                rows = first + k + np.searchsorted(before, k, side="right")
                emitted += frame.height
                frame = frame.with_columns(pl.Series(SOURCE_ROW, rows, dtype=pl.Int64))
                fresh = handler.lines[taken:]
                taken = len(handler.lines)
                if fresh:
                    frame = pl.concat([frame, _malformed_rows(fresh, names, fmt.delimiter)], how="diagonal_relaxed")
                _within(frame, names, emitted + len(handler.lines), limits)
                pending.append(frame)
                pending_rows += frame.height
                while pending_rows >= chunk_rows:
                    whole = pl.concat(pending, how="diagonal_relaxed")
                    yield _finish(whole.head(chunk_rows), names, fmt.nfc)
                    rest = whole.slice(chunk_rows)
                    pending, pending_rows = [rest], rest.height
        except pa.ArrowInvalid as exc:
            if check is not None and not check.result()[0]:
                raise Reread() from None  # bytes further on are not in the encoding the first MiB was read in
            raise UnreadableFile(
                f"the CSV cannot be parsed ({exc}); export the table again as CSV",
                "không phân tích được tệp CSV; xuất lại bảng dạng CSV",
            ) from None
        fresh = handler.lines[taken:]
        if fresh:
            pending.append(_malformed_rows(fresh, names, fmt.delimiter))
        if check is not None and check.result() != (True, fmt.nfc):
            raise Reread()  # before the last chunk, so that the reader of the chunks cannot finish without it
        if pending and sum(p.height for p in pending):
            yield _finish(pl.concat(pending, how="diagonal_relaxed"), names, fmt.nfc)
    finally:
        if check is not None:
            check.cancel()  # the file was not read to its end: the answer no longer matters


def _within(frame, names: list[str], read: int, limits: ReadLimits) -> None:
    """Raise UnreadableFile if the records read so far are over the row limit, or one of this block's records
    is over the line limit (its cells' bytes, all columns)."""
    import polars as pl  # lazy: polars (0.3 s and more) only when rows are read: the module imports light

    if read > limits.max_rows:
        raise too_many_rows(limits)
    if not frame.height:
        return
    size = pl.sum_horizontal([pl.col(n).str.len_bytes().fill_null(0) for n in names])
    if frame.select(size.max()).item() > limits.max_line_bytes:
        raise line_too_long(limits, frame.filter(size > limits.max_line_bytes)[SOURCE_ROW][0])


def _finish(frame, names: list[str], nfc: bool):
    """Column order and types fixed, text in NFC; rows with no content at all (blank lines) left out."""
    import polars as pl  # lazy: polars (0.3 s and more) only when rows are read: the module imports light

    for column, dtype in ((MALFORMED, pl.String), (LINE, pl.String)):
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype).alias(column))
    # Text as the platform keeps it: Unicode NFC (a cp1258 or macOS export writes tone marks apart).
    cells = [pl.col(n) if nfc else pl.col(n).str.normalize("NFC") for n in names]
    frame = frame.select(*cells, SOURCE_ROW, MALFORMED, LINE)
    # A row whose first cell has text has content; only the others are looked at cell by cell (measured,
    # 1M rows: 0.20 s → 0.04 s).
    sure = frame.select(
        (pl.col(names[0]).str.strip_chars().str.len_bytes() > 0).fill_null(False) | pl.col(LINE).is_not_null()
    ).to_series()
    if sure.all():
        return frame
    others = (~sure).arg_true()
    content = pl.any_horizontal([pl.col(n).str.strip_chars().str.len_bytes() > 0 for n in names]).fill_null(False)
    return frame.filter(sure.scatter(others, frame[others].select(content).to_series()))


def _malformed_rows(lines: list[MalformedLine], names: list[str], delimiter: str):
    """Rows for lines that are not well-formed records, read again on their own: cells in the header's
    columns as far as they go; extra cells that are all empty make an ordinary row."""
    import polars as pl  # lazy: polars (0.3 s and more) only when rows are read: the module imports light

    rows = []
    for line in lines:
        cells = next(csv.reader(io.StringIO(line.text, newline=""), delimiter=delimiter), [])
        extra = cells[len(names) :]
        record: dict[str, str | int | None] = {
            name: (cell if cell != "" else None) for name, cell in zip(names, cells, strict=False)
        }
        record[SOURCE_ROW] = line.number
        if extra and not any(c.strip() for c in extra):
            record[MALFORMED] = record[LINE] = None
        else:
            if line.actual > line.expected:
                why = f"{line.expected} fields (one per header column), got {line.actual}: too many fields"
            else:
                why = f"{line.expected} fields (one per header column), got {line.actual}: too few fields"
            if line.text.count('"') % 2:
                why += " (a quote is left open)"
            record[MALFORMED], record[LINE] = why, line.text
        rows.append(record)
    schema = {n: pl.String for n in names} | {SOURCE_ROW: pl.Int64, MALFORMED: pl.String, LINE: pl.String}
    return pl.DataFrame(rows, schema=schema)
