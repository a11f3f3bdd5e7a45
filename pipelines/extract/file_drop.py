"""File-drop extractor: CSV and XLSX files from a department's inbox, one landed batch per file.

The header row is found under any title block by matching the contract's labels; blank rows and
rows matched by the feed's skip rules (totals such as "Tổng cộng") are left out. A read file moves
to $IOC_HOME/archive/<feed>/, an unreadable one to $IOC_HOME/rejected/<feed>/ with a .reason.txt.
"""

from __future__ import annotations

import fnmatch
import itertools
import os
import re
import shutil
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pipelines.declarations.models import Feed, FileDropSource
from pipelines.extract.csv_stream import Reread, layout, records
from pipelines.extract.form import read_form
from pipelines.extract.landing import (
    SOURCE_ROW,
    SOURCE_URI,
    LandedBatch,
    checksum_bytes,
    checksum_file,
    land,
    new_batch_id,
)
from pipelines.extract.records import as_text, rows_frame
from pipelines.extract.tabular import Grid, read_grid
from pipelines.extract.unreadable import UnreadableFile, over_limit
from pipelines.failpoints import failpoint
from pipelines.settings import paths
from pipelines.text import column_letter, label_key, vi_number

MAX_ROWS_NAMED = 20  # row numbers a warning lists before it says how many more
NO_ROWS = (
    "the file has a header row but no data rows; ask the department to send the report with its figures",
    "tệp có dòng tiêu đề nhưng không có dòng số liệu; đề nghị đơn vị gửi báo cáo có số liệu",
)


def inbox_files(feed: Feed) -> list[Path]:
    """Files waiting in the feed's inbox, oldest first."""
    source = feed.source_as(FileDropSource)
    inbox = paths().inbox(source.inbox)
    if not inbox.exists():
        return []
    files = [
        p
        for p in inbox.iterdir()
        if p.is_file()
        and not p.name.startswith(".")
        and any(fnmatch.fnmatch(p.name.lower(), pat.lower()) for pat in source.patterns)
    ]
    return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))


def file_name_fields(feed: Feed, name: str) -> dict[str, str]:
    """The contract values a file's name carries (e.g. department_code and period of SKHCN_2026-10.xlsx);
    empty when the feed declares no file_name_pattern or the name does not follow it."""
    pattern = feed.source_as(FileDropSource).file_name_pattern
    match = re.match(pattern, name) if pattern else None
    return {k: v for k, v in match.groupdict().items() if v} if match else {}


def extract(feed: Feed, files: list[Path] | None = None) -> list[LandedBatch]:
    """Land every inbox file (or the given files) as one batch each."""
    explicit = files is not None
    return [
        extract_file(feed, path, keep_original=explicit) for path in (files if files is not None else inbox_files(feed))
    ]


def extract_file(feed: Feed, path: Path, keep_original: bool = False) -> LandedBatch:
    """Read one file into a landed batch, then archive it (or reject it with a reason file).

    A CSV file streams through in chunks of the feed's max_batch_rows; a workbook is read whole (a
    sheet holds at most 1,048,576 rows)."""
    source = feed.source_as(FileDropSource)
    received_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    file_checksum = checksum_file(path)
    batch = LandedBatch(
        batch_id=new_batch_id(),
        feed=feed.id,
        source_uri="",
        checksum=file_checksum,
        received_at=received_at,
        file_name=path.name,
        file_fields=file_name_fields(feed, path.name),
    )
    destination = paths().archive(feed.id) / archived_name(file_checksum, path.name)
    batch.source_uri = str(destination)
    # A file named on the command line stays where it is: its copy into the archive is made while it is read
    # (measured, 1.6 GB: 2.8 s that no longer come after the read).
    copy = ArchiveCopy(path, destination) if keep_original else None
    try:
        if source.form is not None:  # a report form: read whole (a form is small; the limits hold it so)
            data = workbook_bytes(feed, path)
            grid = read_grid(path, data, source.encodings, source.sheet, source.limits)
            read = read_form(feed, grid, batch.file_fields, sheet_of(grid))
            # what the file says of itself: its name, else its title block (a form named otherwise)
            reporting = feed.reporting
            assert reporting is not None  # a form declares it (the declarations' checks)
            batch.file_fields = {
                reporting.unit_column: read.unit,
                reporting.period_column: read.period,
                **batch.file_fields,
            }
            batch.checksum = checksum_bytes(read.frame.write_csv().encode())
            _land_file(feed, batch, [read.frame], grid.how, read.header_row, read.warnings)
        elif path.suffix.lower() in (".csv", ".txt"):
            try:
                _land_file(feed, batch, *csv_chunks(feed, path))
            except Reread:  # the whole file is not what its first MiB said (rare): read it again, decoded first
                _land_file(feed, batch, *csv_chunks(feed, path, whole=True))
        else:
            data = workbook_bytes(feed, path)
            grid = read_grid(path, data, source.encodings, source.sheet, source.limits)
            frame, header_row = table_frame(feed, grid)
            # The checksum of what the workbook says (header and cells), not of its bytes: a workbook saved
            # again with the same figures carries new timestamps inside, yet is the same report.
            batch.checksum = checksum_bytes(frame.drop(SOURCE_ROW).write_csv().encode())
            _land_file(feed, batch, [frame], grid.how, header_row)
    except UnreadableFile as exc:
        if copy is not None:
            copy.abandon()
        destination = paths().rejected(feed.id) / f"{file_checksum[:16]}__{path.name}"
        batch.status, batch.source_uri, batch.checksum = "failed", str(destination), file_checksum
        batch.error = f"feed {feed.id}, file {path.name}: {exc}"
        batch.error_vi = f"nguồn {feed.id}, tệp {path.name}: {exc.vi}"
        land(batch)
        failpoint("extract.after_land")
        _move(path, destination, keep_original)
        destination.with_name(destination.name + ".reason.txt").write_text(batch.error + "\n", encoding="utf-8")
        return batch
    except BaseException:
        if copy is not None:
            copy.abandon()
        raise
    # Only once the batch is landed does the file leave the inbox: a crash in between leaves it there
    # to be read again (its second batch then loads as a duplicate).
    failpoint("extract.after_land")
    if copy is not None:
        copy.finish()
    else:
        _move(path, destination, keep_original)
    return batch


class ArchiveCopy:
    """A copy of a file into the archive, made in a thread of its own under a temporary name; finish() waits
    for it and gives it its name, abandon() removes it."""

    def __init__(self, path: Path, destination: Path):
        destination.parent.mkdir(parents=True, exist_ok=True)
        self.destination = destination
        self.partial = destination.with_name(f".{destination.name}.partial")
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._copy, args=(path,), name="archive-copy", daemon=True)
        self.thread.start()

    def _copy(self, path: Path) -> None:
        try:
            shutil.copy2(path, self.partial)
        except BaseException as exc:  # raised by finish()
            self.error = exc

    def finish(self) -> None:
        self.thread.join()
        if self.error is not None:
            self.partial.unlink(missing_ok=True)
            raise self.error
        os.replace(self.partial, self.destination)

    def abandon(self) -> None:
        self.thread.join()
        self.partial.unlink(missing_ok=True)


def sheet_of(grid: Grid) -> str:
    """The sheet's name in how a workbook was read ("XLSX, sheet 'Biểu số liệu'"); empty for a CSV file."""
    found = re.search(r"sheet '(.*)'$", grid.how)
    return found[1] if found else ""


def file_frame(feed: Feed, grid: Grid, file_fields: dict[str, str]):
    """A file's rows as the feed lands them (a table's rows, or a form's figures), and its header row."""
    if feed.form is not None:
        read = read_form(feed, grid, file_fields, sheet_of(grid))
        return read.frame, read.header_row
    return table_frame(feed, grid)


def workbook_bytes(feed: Feed, path: Path) -> bytes:
    """The workbook's bytes, unless the file alone is over what any one part of it may unpack to."""
    limit = feed.source_as(FileDropSource).limits.max_unpacked_bytes
    size = path.stat().st_size
    if size > limit:
        raise over_limit(
            "max_unpacked_bytes", limit, f"the workbook is {size:,} bytes", f"tệp XLSX có {vi_number(size)} byte"
        )
    return path.read_bytes()


def _land_file(
    feed: Feed, batch: LandedBatch, chunks, how: str, header_row: int, warnings: list[str] | None = None
) -> None:
    """Land a file's chunks (without the rows the skip rules match) as the batch, saying how it was read."""
    batch.header_row, batch.warnings = header_row, [f"read as {how}", *(warnings or [])]
    land(batch, kept_rows(feed, batch, chunks), require_rows=NO_ROWS)


def kept_rows(feed: Feed, batch: LandedBatch, chunks):
    """The chunks without the rows the feed's skip rules match, with their lineage; once all are read,
    a warning names the rows skipped."""
    import polars as pl  # lazy: polars (0.3 s and more) only when rows are read: the module imports light

    skipped: list[int] = []
    for chunk in chunks:
        yield without_skipped(feed, chunk, skipped).with_columns(pl.lit(batch.source_uri).alias(SOURCE_URI))
    if skipped:
        more = len(skipped) - MAX_ROWS_NAMED
        shown = ", ".join(map(str, skipped[:MAX_ROWS_NAMED])) + (f" and {more} more" if more > 0 else "")
        batch.warnings.append(f"rows skipped by the feed's skip_rows rules (e.g. totals): {shown}")


def csv_chunks(feed: Feed, path: Path, whole: bool = False):
    """A CSV file's records as chunks of the landing frame (streamed), how it was read, and its
    1-based header row. The chunks raise Reread if the file must be read again with `whole`."""
    source = feed.source_as(FileDropSource)
    fmt = layout(path, source.encodings, source.header_search_rows, whole=whole)
    header_index = find_header(feed, Grid(rows=fmt.head, how=fmt.how))
    header = frame_columns(fmt.head[header_index], fmt.head[header_index + 1 :])
    return (
        records(path, fmt, header, header_index + 1, feed.source.max_batch_rows, source.limits),
        fmt.how,
        header_index + 1,
    )


def _move(path: Path, destination: Path, keep_original: bool) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    if keep_original:
        shutil.copy2(path, destination)
    else:
        shutil.move(path, destination)


def label_index(feed: Feed) -> dict[str, str]:
    return {label_key(label): col.name for col in feed.columns for label in (col.name, *col.labels)}


def find_header(feed: Feed, grid: Grid) -> int:
    """0-based index of the header row: the row among the first rows matching most contract labels."""
    source = feed.source_as(FileDropSource)
    labels = label_index(feed)
    needed = min(2, len(feed.columns))
    best_row, best_count = -1, 0
    for i, row in enumerate(grid.rows[: source.header_search_rows]):
        matched = {labels[k] for k in (label_key(as_text(c) or "") for c in row) if k in labels}
        if len(matched) > best_count:
            best_row, best_count = i, len(matched)
    if best_count < needed:
        first = next((r for r in grid.rows if any(as_text(c) for c in r)), [])
        shown = " | ".join(as_text(c) or "" for c in first[:8])
        examples = ", ".join(repr(c.labels[0] if c.labels else c.name) for c in feed.columns[:4])
        raise UnreadableFile(
            f"no header row found in the first {source.header_search_rows} rows; expected column labels such as "
            f"{examples}; the first non-empty row reads: {shown!r}. Put the header row above the data, or add the "
            f"labels this department uses to schemas/feeds/{feed.id}.yaml",
            f"không tìm thấy dòng tiêu đề trong {source.header_search_rows} dòng đầu; cần các nhãn cột như {examples}; "
            f"dòng đầu tiên có dữ liệu là: {shown!r}. Đặt dòng tiêu đề phía trên số liệu, hoặc thêm các nhãn đơn vị "
            f"này dùng vào schemas/feeds/{feed.id}.yaml",
        )
    return best_row


def table_frame(feed: Feed, grid: Grid, chunk_rows: int = 50_000):
    """A workbook's data rows as a landing frame keyed by the file's own header labels (blank rows
    left out; _source_uri still empty), and the 1-based header row. The rows are taken from the grid as
    they come and turned into text columns a chunk at a time: only one chunk is ever held as Python objects."""
    import polars as pl  # lazy: polars (0.3 s and more) only when rows are read: the module imports light

    header_row = find_header(feed, grid)
    labels = grid.rows[header_row]
    rows = enumerate(itertools.chain(grid.rows[header_row + 1 :], grid.rest), start=header_row + 2)
    chunks, names = [], frame_columns(labels, [])
    while taken := list(itertools.islice(rows, chunk_rows)):
        chunk = [(n, row) for n, row in taken if _has_content(row)]
        if not chunk:
            continue
        header = frame_columns(labels, [row for _, row in chunk])
        names = max(names, header, key=len)
        chunks.append(rows_frame(header, [row for _, row in chunk], [n for n, _ in chunk]))
    if not chunks:
        return rows_frame(names, [], []), header_row + 1
    return pl.concat(chunks, how="diagonal").select(*names, SOURCE_ROW), header_row + 1


def without_skipped(feed: Feed, frame, skipped: list[int]):
    """The frame without the rows the feed's skip rules match (totals...); their row numbers go to skipped."""
    if not feed.source_as(FileDropSource).skip_rows or not frame.height:
        return frame
    header = [c for c in frame.columns if not c.startswith("_")]
    skip = _skip_mask(feed, header)
    skipped += frame.filter(skip)[SOURCE_ROW].to_list()
    return frame.filter(~skip)


def _has_content(row: Sequence[object]) -> bool:
    return any(cell is not None and (not isinstance(cell, str) or cell.strip()) for cell in row)


def _skip_mask(feed: Feed, header: list[str]):
    """True for rows a skip rule matches: its regex, case-insensitive, against the cell's text with
    spacing collapsed (one column's cell, or any cell)."""
    import polars as pl  # lazy: polars (0.3 s and more) only when rows are read: the module imports light

    labels = label_index(feed)
    column_of = {labels[label_key(h)]: h for h in header if label_key(h) in labels}
    conditions = []
    for rule in feed.source_as(FileDropSource).skip_rows:
        names = [column_of.get(rule.column)] if rule.column else header
        cells = [pl.col(n).str.replace_all(r"\s+", " ").str.strip_chars().str.to_lowercase() for n in names if n]
        conditions.append(pl.any_horizontal([c.str.contains(f"(?i){rule.matches}").fill_null(False) for c in cells]))
    return pl.any_horizontal(conditions)


def frame_columns(row: Sequence[object], body: Sequence[Sequence[object]]) -> list[str]:
    """The header's labels, and a name for each column of the body beyond them."""
    header = _header_names(row)
    width = max([len(header), *(len(r) for r in body)])
    return header + [f"(column {column_letter(j)})" for j in range(len(header), width)]


def _header_names(row: Sequence[object]) -> list[str]:
    names: list[str] = []
    for j, cell in enumerate(row):
        text = " ".join((as_text(cell) or "").split())
        name = text or f"(column {column_letter(j)})"
        if name in names:
            name = f"{name} ({column_letter(j)})"
        names.append(name)
    return names


def archived_name(checksum: str, name: str) -> str:
    """A file's name in the feed's archive: the start of its bytes' sha256, then its own name (the same file
    sent twice is archived once; two files of one name are both kept)."""
    return f"{checksum[:16]}__{name}"
