"""The file readers under fire: generated CSVs (bad encodings, ragged rows, quotes left open, NUL bytes,
huge cells) and workbooks (random cells, truncated or corrupted archives, missing or duplicated parts,
deeply nested XML, sheets that are not XML) thrown at the reads the inbox and the submissions use. Each ends
in a table or in a clean refusal (UnreadableFile, with a reason in both languages), never another exception,
within a time bound per file and a memory bound over the run. Derandomised: a failure reproduces."""

from __future__ import annotations

import io
import resource
import sys
import warnings
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.declarations.models import ReadLimits
from pipelines.extract.tabular import read_grid
from pipelines.extract.unreadable import UnreadableFile

FEED = "dept_monthly_report"
HEADER = ["Mã đơn vị", "Kỳ báo cáo", "Mã chỉ tiêu", "Tên chỉ tiêu", "Giá trị", "Đơn vị tính", "Ghi chú"]
LIMITS = ReadLimits(max_rows=2_000, max_cells=20_000, max_line_bytes=16_384, max_unpacked_bytes=2 << 20)
EXAMPLES = 300
FUZZ = settings(max_examples=EXAMPLES, deadline=5_000, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
COUNTS: dict[str, int] = {}

CELL_TEXT = st.one_of(st.text(st.sampled_from(list('abcĐđươ ,;|\t"\'\r\n')), max_size=30),
                      st.sampled_from(["Tổng cộng", "1.234,5", "=SUM(A1)", '"open quote']))
CELLS = st.one_of(CELL_TEXT, st.sampled_from(["SKHCN", "10/2026", "GP_CAP"]), st.integers().map(str))
HUGE_CELL = st.integers(15_000, 20_000).map(lambda n: "ư" * n)  # a cell over the line limit


@pytest.fixture(scope="module")
def feed():
    from pipelines.declarations.loading import catalog

    return catalog().feeds[FEED]


def outcome(run) -> str:
    """'read' or 'refused'; anything else raised fails the test (with the example that raised it)."""
    try:
        run()
    except UnreadableFile as refused:
        assert str(refused) and refused.vi, "a refusal says why in both languages"
        return "refused"
    return "read"


def read_csv_file(feed, path: Path) -> None:
    """The inbox's streamed read of a CSV file (and its whole re-read when the first MiB misled it)."""
    from pipelines.extract.csv_stream import Reread
    from pipelines.extract.file_drop import csv_chunks

    source = feed.source.model_copy(update={"limits": LIMITS})
    limited = feed.model_copy(update={"source": source})
    try:
        chunks, _, _ = csv_chunks(limited, path)
        for _ in chunks:
            pass
    except Reread:
        chunks, _, _ = csv_chunks(limited, path, whole=True)
        for _ in chunks:
            pass


def read_table(feed, name: str, data: bytes) -> None:
    """The submissions' read: the grid, then the table under the feed's header."""
    from pipelines.extract.file_drop import table_frame

    table_frame(feed, read_grid(Path(name), data, feed.source.encodings, None, LIMITS))


@st.composite
def csv_files(draw) -> bytes:
    # Each harm now and then (hypothesis leans to small numbers: 0 is no harm), so that most files get past the
    # header to their rows.
    header = draw(st.lists(CELL_TEXT, max_size=8)) if draw(st.integers(0, 4)) == 4 else HEADER
    rows = draw(st.lists(st.lists(CELLS, max_size=10), max_size=40))  # ragged: any number of cells
    if rows and draw(st.integers(0, 9)) == 9:
        rows[draw(st.integers(0, len(rows) - 1))].append(draw(HUGE_CELL))
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    text = "\r\n".join(delimiter.join(row) for row in [header, *rows])
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-8-sig", "cp1258", "utf-16", "latin-1"]))
    data = text.encode(encoding, errors="replace")
    if draw(st.integers(0, 3)) == 3:  # bytes no encoding takes (a NUL now and then), here or there
        cut = draw(st.integers(0, len(data)))
        data = data[:cut] + draw(st.binary(min_size=1, max_size=8)) + data[cut:]
    return data


def _workbook(rows: list[list[object]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _rezip(data: bytes, change) -> bytes:
    """The workbook's archive again, each member (name, bytes) passed through `change` (None drops it)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a duplicated member is the point
        for info in source.infolist():
            for name, body in change(info.filename, source.read(info)):
                target.writestr(name, body)
    return out.getvalue()


XLSX_CELLS = st.one_of(st.none(), st.integers(-10**12, 10**12), st.floats(allow_nan=False, allow_infinity=False),
                       st.text(st.characters(blacklist_categories=["Cs", "Cc"]), max_size=40),
                       st.sampled_from(["SKHCN", "10/2026", "Tổng cộng", "=1+1"]))


@st.composite
def workbooks(draw) -> bytes:
    rows = draw(st.lists(st.lists(XLSX_CELLS, max_size=9), max_size=30))
    if draw(st.integers(0, 4)) != 4:
        rows = [["BÁO CÁO"], HEADER, *rows]
    data = _workbook(rows)
    harm = draw(st.sampled_from(["none", "truncate", "flip", "drop", "duplicate", "nest", "not xml", "huge"]))
    # where to cut or flip, as a share of the length (a saved workbook's length varies with its timestamps)
    at = int(draw(st.floats(0, 1, exclude_max=True)) * len(data))
    if harm == "truncate":
        return data[:at]
    if harm == "flip":
        return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]
    sheet = "xl/worksheets/sheet1.xml"
    if harm == "drop":
        gone = draw(st.sampled_from([sheet, "xl/workbook.xml", "[Content_Types].xml", "xl/_rels/workbook.xml.rels"]))
        return _rezip(data, lambda n, b: [] if n == gone else [(n, b)])
    if harm == "duplicate":
        return _rezip(data, lambda n, b: [(n, b), (n, b[: len(b) // 2])] if n == sheet else [(n, b)])
    if harm == "nest":  # XML nested thousands deep inside a cell's row
        depth = draw(st.integers(100, 20_000))
        deep = b"<is>" * depth + b"<t>x</t>" + b"</is>" * depth
        cell = b'<row r="1"><c r="A1" t="inlineStr">' + deep + b"</c></row>"
        return _rezip(data, lambda n, b: [(n, b.replace(b"<sheetData/>", b"<sheetData>" + cell + b"</sheetData>")
                                           .replace(b"<sheetData>", b"<sheetData>" + cell, 1))]
                      if n == sheet else [(n, b)])
    if harm == "not xml":
        junk = draw(st.binary(max_size=2_000))
        return _rezip(data, lambda n, b: [(n, junk)] if n == sheet else [(n, b)])
    if harm == "huge":  # a cell of megabytes, over the unpacked limit
        cell = b'<row r="1"><c r="A1" t="inlineStr"><is><t>' + b"x" * (3 << 20) + b"</t></is></c></row>"
        return _rezip(data, lambda n, b: [(n, b.replace(b"<sheetData>", b"<sheetData>" + cell, 1)
                                           .replace(b"<sheetData/>", b"<sheetData>" + cell + b"</sheetData>"))]
                      if n == sheet else [(n, b)])
    return data


@pytest.fixture(scope="module")
def memory(feed, tmp_path_factory):
    """The process's peak RSS before the module's examples (once the readers' libraries are loaded by a read of
    each kind), and the bound on what they may add to it."""
    path = tmp_path_factory.mktemp("warm") / "SKHCN_2026-10.csv"
    path.write_text("\n".join([",".join(HEADER), "SKHCN,10/2026,A,B,1,c,"]) + "\n", encoding="utf-8")
    read_csv_file(feed, path)
    read_table(feed, path.name, path.read_bytes())
    read_table(feed, "SKHCN_2026-10.xlsx", _workbook([HEADER, ["SKHCN", "10/2026", "A", "B", 1, "c", None]]))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    yield
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(f"\n{__name__}: the fuzzed reads grew the peak RSS by {grown_mib:.0f} MiB", file=sys.stderr)
    assert grown_mib < 200, f"the fuzzed reads grew the peak RSS by {grown_mib:.0f} MiB"


def _show(capsys, prefix: str) -> None:
    """The outcomes' counts, to the terminal (with pytest-xdist too)."""
    counts = " ".join(f"{k.removeprefix(prefix + ' ')}×{v}" for k, v in sorted(COUNTS.items()) if k.startswith(prefix))
    with capsys.disabled():
        print(f"\n{__name__}: {prefix}: {counts}", file=sys.stderr)


def _count(key: str, result: str) -> None:
    COUNTS[f"{key} {result}"] = COUNTS.get(f"{key} {result}", 0) + 1


def test_generated_csv_files_are_read_or_refused_cleanly_streamed_and_whole(feed, tmp_path, memory, capsys):
    path = tmp_path / "SKHCN_2026-10.csv"

    @FUZZ
    @given(csv_files())
    def run(data: bytes) -> None:
        path.write_bytes(data)
        _count("csv streamed", outcome(lambda: read_csv_file(feed, path)))
        _count("csv whole", outcome(lambda: read_table(feed, path.name, data)))

    run()
    _show(capsys, "csv")
    assert sum(v for k, v in COUNTS.items() if k.startswith("csv streamed")) >= EXAMPLES
    assert COUNTS.get("csv streamed read") and COUNTS.get("csv streamed refused"), COUNTS


def test_generated_and_broken_workbooks_are_read_or_refused_cleanly(feed, memory, capsys):
    @FUZZ
    @given(workbooks())
    def run(data: bytes) -> None:
        _count("xlsx", outcome(lambda: read_table(feed, "SKHCN_2026-10.xlsx", data)))

    run()
    _show(capsys, "xlsx")
    assert COUNTS.get("xlsx read", 0) + COUNTS.get("xlsx refused", 0) >= EXAMPLES
    assert COUNTS.get("xlsx read") and COUNTS.get("xlsx refused"), COUNTS
