"""Readers with limits: a workbook's archive is checked before it is parsed (a zip bomb, a lying header, too
many rows or cells, too compressed), a CSV's records as they stream (too long, too many); each refusal names
the cap it passed, in Vietnamese and English, and the file goes to rejected/ with its reason. A workbook's
rows are read a chunk at a time, and give the frame a whole read gives."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import pytest
from openpyxl import Workbook

from pipelines.declarations.models import ReadLimits
from pipelines.extract.tabular import read_grid
from pipelines.extract.unreadable import UnreadableFile
from pipelines.ingest import ingest_feed
from tests.hostile_files import bomb, lying

FEED = "dept_monthly_report"
HEADER = ["Mã đơn vị", "Kỳ báo cáo", "Mã chỉ tiêu", "Tên chỉ tiêu", "Giá trị", "Đơn vị tính", "Ghi chú"]


@pytest.fixture(scope="session")
def bomb_file(tmp_path_factory) -> Path:
    return bomb(tmp_path_factory.mktemp("bomb") / "SKHCN_2026-10.xlsx")


def workbook(path: Path, rows: int) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.append(["SỞ KHOA HỌC VÀ CÔNG NGHỆ"])
    sheet.append(HEADER)
    for i in range(rows):
        sheet.append(["SKHCN", "10/2026", f"CT_{i:03d}", f"Chỉ tiêu {i}", i, "cái", None])
    book.save(path)
    return path


def refusal(path: Path, limits: ReadLimits) -> UnreadableFile:
    with pytest.raises(UnreadableFile) as refused:
        read_grid(path, path.read_bytes(), ["utf-8"], None, limits)
    return refused.value


def test_a_zip_bomb_in_the_inbox_is_refused_unread_and_rejected_with_the_cap_named(home, query, bomb_file):
    """3.6 MB that inflate to 1 GiB: refused from its archive's sizes in well under a second, the process's peak
    memory not moved by it, the file kept in rejected/ with a reason that names the cap in both languages."""
    inbox = home / "inbox" / FEED
    inbox.mkdir(parents=True)
    workbook(inbox / "SKHCN_2026-10_v0.xlsx", rows=3)
    ingest_feed(FEED)  # the ingest's own imports and warehouse, before the peak is taken
    (inbox / bomb_file.name).write_bytes(bomb_file.read_bytes())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    (summary,), _ = ingest_feed(FEED)
    assert time.monotonic() - started < 5
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak) / 1024
    assert grown_mib < 100, f"the peak RSS grew by {grown_mib:.0f} MiB"
    assert summary.status == "failed"
    assert "source.limits.max_unpacked_bytes" in summary.error and "xl/worksheets/sheet1.xml" in summary.error
    (vi,) = query("SELECT error_vi FROM ops.batches WHERE error LIKE '%max_unpacked_bytes%'")[0]
    assert "vượt giới hạn source.limits.max_unpacked_bytes" in vi
    (reason,) = (home / "rejected" / FEED).glob("*.reason.txt")
    assert "max_unpacked_bytes" in reason.read_text(encoding="utf-8")
    assert not list(inbox.iterdir())


def test_a_header_that_lies_about_the_sheets_size_does_not_help(tmp_path):
    """The archive says 1,000 bytes; the sheet inflates to 300 MB: unpacking stops where the header said, and
    the file is refused as corrupt before the parser sees it."""
    path = lying(tmp_path / "SKHCN_2026-10.xlsx")
    started = time.monotonic()
    refused = refusal(path, ReadLimits())
    assert time.monotonic() - started < 5
    assert "xl/worksheets/sheet1.xml cannot be unpacked" in str(refused) and refused.vi


@pytest.mark.parametrize("cap,limits", [
    ("max_rows", ReadLimits(max_rows=20)),
    ("max_cells", ReadLimits(max_cells=100)),
    ("max_unpacked_bytes", ReadLimits(max_unpacked_bytes=2_000)),
    ("max_members", ReadLimits(max_members=3)),
])
def test_each_cap_on_a_workbook_is_named_when_passed(tmp_path, cap, limits):
    path = workbook(tmp_path / "SKHCN_2026-10.xlsx", rows=30)  # 32 rows, 188 cells
    refused = refusal(path, limits)
    assert f"source.limits.{cap}" in str(refused) and f"source.limits.{cap}" in refused.vi
    assert read_grid(path, path.read_bytes(), ["utf-8"], None, ReadLimits()).rows[1] == HEADER


def test_a_compression_ratio_over_the_cap_is_refused(tmp_path):
    path = bomb(tmp_path / "SKHCN_2026-10.xlsx", unpacked_mb=64)
    refused = refusal(path, ReadLimits())
    assert "source.limits.max_compression_ratio" in str(refused), refused
    assert "max_cells" in str(refusal(path, ReadLimits(max_compression_ratio=10_000, max_cells=1_000_000))), \
        "with the ratio allowed, the sheet's cells (counted as it streams) still stop it"


def test_a_workbook_read_a_chunk_at_a_time_gives_the_frame_a_whole_read_gives(tmp_path):
    from pipelines.declarations.loading import catalog
    from pipelines.extract.file_drop import table_frame

    feed = catalog().feeds[FEED]
    path = workbook(tmp_path / "SKHCN_2026-10.xlsx", rows=25)
    whole, header_row = table_frame(feed, read_grid(path, path.read_bytes(), ["utf-8"], head=200))
    chunked, _ = table_frame(feed, read_grid(path, path.read_bytes(), ["utf-8"], head=5), chunk_rows=4)
    assert header_row == 2 and whole.height == 25
    assert chunked.equals(whole)
    assert whole["_source_row"].to_list() == list(range(3, 28))


def test_a_csv_record_over_the_line_cap_is_refused_by_the_inbox_with_its_row(home, query):
    inbox = home / "inbox" / FEED
    inbox.mkdir(parents=True)
    long_note = "x" * (1 << 20)
    lines = [",".join(HEADER), "SKHCN,10/2026,GP_CAP,Giấy phép,5,giấy phép,", f"SKHCN,10/2026,TIN,Tin,3,tin,{long_note}"]
    (inbox / "SKHCN_2026-10.csv").write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    (summary,), _ = ingest_feed(FEED)
    assert summary.status == "failed"
    assert "record 3" in summary.error and "source.limits.max_line_bytes = 1,048,576" in summary.error
    assert list((home / "rejected" / FEED).glob("*.reason.txt"))


def test_a_csv_over_the_row_cap_is_refused_both_read_whole_and_streamed(tmp_path):
    from pipelines.extract.csv_stream import layout, records

    path = tmp_path / "SKHCN_2026-10.csv"
    path.write_text("\n".join([",".join(HEADER)] + [f"SKHCN,10/2026,C{i},T,{i},c," for i in range(50)]) + "\n")
    refused = refusal(path, ReadLimits(max_rows=10))
    assert "source.limits.max_rows = 10" in str(refused)
    fmt = layout(path, ["utf-8"], 5)
    with pytest.raises(UnreadableFile, match="source.limits.max_rows"):
        list(records(path, fmt, HEADER, 1, 1000, ReadLimits(max_rows=10)))
    assert sum(f.height for f in records(path, fmt, HEADER, 1, 1000, ReadLimits(max_rows=50))) == 50


@pytest.mark.parametrize("block", [7, 33, 1 << 20])
def test_rows_and_cells_are_counted_exactly_across_block_boundaries(tmp_path, monkeypatch, block):
    """The sheet's tags counted as it streams in blocks of any size: exactly at each cap it passes, one under
    it is refused (32 rows, 188 cells: the title, the header of 7 and 30 rows of 6 with a value)."""
    from pipelines.extract import archive

    monkeypatch.setattr(archive, "BLOCK", block)
    path = workbook(tmp_path / "SKHCN_2026-10.xlsx", rows=30)
    data = path.read_bytes()
    archive.check_workbook(data, ReadLimits(max_rows=32, max_cells=188))
    for cap, limits in (("max_rows", ReadLimits(max_rows=31)), ("max_cells", ReadLimits(max_cells=187))):
        with pytest.raises(UnreadableFile, match=f"source.limits.{cap}"):
            archive.check_workbook(data, limits)
