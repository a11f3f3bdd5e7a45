"""File drops end to end on real DuckDB: encodings, XLSX title blocks, bad inputs, corrections,
idempotent re-runs, a crash mid-batch, and parallel writers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import unicodedata
from pathlib import Path

import pytest
from openpyxl import Workbook

from pipelines.ingest import ingest_feed
from simulator.cp1258 import encode_cp1258
from tests.conftest import VENV_BIN, ioc
from tests.helpers import HEADER, ROWS, inbox, write_csv

FEED = "dept_monthly_report"


def batches(query):
    return query("SELECT file_name, status, rows_received, rows_loaded, rows_quarantined, error, warnings "
                 "FROM ops.batches ORDER BY received_at, batch_id")


def clean_rows(query):
    return query("SELECT department_code, period, indicator_code, indicator_name, value, unit, note "
                 "FROM clean.dept_monthly_report ORDER BY indicator_code")


@pytest.mark.parametrize("encoding,delimiter", [("utf-8", ","), ("utf-8-sig", ";"), ("cp1258", ","), ("utf-8 NFD", ",")])
def test_csv_in_each_encoding_loads_names_intact(home, query, encoding, delimiter):
    rows = ROWS if delimiter == ";" else [r[:4] + [r[4].replace(".", "").replace(",", ".")] + r[5:] for r in ROWS]
    if encoding == "utf-8 NFD":  # a macOS export writes tone marks apart from their letters
        rows, encoding = [[unicodedata.normalize("NFD", c) for c in r] for r in rows], "utf-8"
    write_csv(inbox(home) / "SKHCN_2026-10.csv", rows, encoding, delimiter)

    summaries, error = ingest_feed(FEED)

    assert error is None
    assert [(s.status, s.rows_received, s.rows_loaded) for s in summaries] == [("loaded", 3, 3)]
    loaded = {r[2]: r for r in clean_rows(query)}
    assert loaded["TIN_BAI"][3] == "Số tin, bài đăng tải"
    assert loaded["TIN_BAI"][6] == "Cổng thông tin điện tử"
    assert loaded["KINH_PHI"][4] == pytest.approx(1234.5)
    assert loaded["KINH_PHI"][5] == "triệu đồng"
    assert all(unicodedata.is_normalized("NFC", r[3]) for r in loaded.values())
    assert not list(inbox(home).iterdir()), "a processed file leaves the inbox"
    assert len(list((home / "archive" / FEED).iterdir())) == 1


def write_xlsx(path: Path, rows: list[list[object]], title_rows: int = 4, header: list[str] | None = None,
               totals: bool = True) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = "Báo cáo"
    titles = ["ỦY BAN NHÂN DÂN THÀNH PHỐ HẢI PHÒNG", "SỞ KHOA HỌC VÀ CÔNG NGHỆ", "BÁO CÁO CÔNG TÁC THÁNG 10/2026", None]
    for text in titles[:title_rows]:
        ws.append([text])
    ws.append(header or ["MÃ ĐƠN VỊ", "Kỳ  báo cáo", unicodedata.normalize("NFD", "Mã chỉ tiêu"), "tên chỉ tiêu",
                         "Giá trị", "Đơn vị tính", "Ghi chú"])
    for row in rows:
        ws.append(row)
    if totals:
        ws.append(["Tổng cộng", None, None, None, sum(r[4] for r in rows if isinstance(r[4], (int, float)))])
    wb.save(path)
    return path


def test_xlsx_with_title_block_and_vietnamese_headers(home, query):
    rows = [
        ["SKHCN", "10/2026", "GP_CAP", unicodedata.normalize("NFD", "Số giấy phép được cấp"), 11, "giấy phép", None],
        ["SKHCN", "10/2026", "BAI_BAO", "Số bài báo tổng hợp", 395, "bài", None],
        ["SKHCN", "10/2026", "KINH_PHI", "Kinh phí đã giải ngân", 1.234, "tỷ đồng", None],
    ]
    write_xlsx(inbox(home) / "SKHCN_2026-10.xlsx", rows)

    summaries, _ = ingest_feed(FEED)

    assert [(s.status, s.rows_received, s.rows_loaded, s.rows_quarantined) for s in summaries] == [("loaded", 3, 3, 0)]
    loaded = {r[2]: r for r in clean_rows(query)}
    assert loaded["GP_CAP"][3] == "Số giấy phép được cấp"  # NFD in the file, NFC in the warehouse
    assert loaded["BAI_BAO"][4] == 395
    assert loaded["KINH_PHI"][4] == pytest.approx(1.234)  # a numeric cell is never read as 1.234 thousand
    assert {r[1] for r in loaded.values()} == {"2026-10"}
    assert any("totals" in w for w in summaries[0].warnings), "the Tổng cộng row is skipped by rule"


def _assert_counts_add_up(query):
    for file_name, status, received, loaded, quarantined, *_ in batches(query):
        assert received == loaded + quarantined, (file_name, status)


BAD_FILES = {
    "empty file": ("SKHCN_2026-10.csv", lambda p: p.write_bytes(b"")),
    "header only": ("SKHCN_2026-10.csv", lambda p: write_csv(p, [])),
    "garbage bytes named .xlsx": ("SKHCN_2026-10.xlsx", lambda p: p.write_bytes(os.urandom(2048))),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_unreadable_file_is_rejected_with_reason_and_nothing_lost(home, query, case):
    name, write = BAD_FILES[case]
    write(inbox(home) / name)

    summaries, _ = ingest_feed(FEED)

    (summary,) = summaries
    assert summary.status == "failed"
    assert f"feed {FEED}" in summary.error and f"file {name}" in summary.error
    assert "send" in summary.error or "save" in summary.error, "the error says how to fix it"
    _assert_counts_add_up(query)
    rejected = home / "rejected" / FEED
    (reason,) = rejected.glob("*.reason.txt")
    assert name in reason.read_text(encoding="utf-8")
    assert len(list(rejected.iterdir())) == 2, "the file itself is kept beside its reason"
    assert not list(inbox(home).iterdir())


BAD_ROWS = {
    # case: (rows, column in the message, row number in the message, rows quarantined)
    "wrong type": ([ROWS[0], ["SKHCN", "10/2026", "TIN_BAI", "Tin", "không có", "tin", ""]], "value", 3, 1),
    # another department's row in SKHCN's file also fails rows_match_file_name: the whole report is held
    "unknown org unit": ([ROWS[0], ["SXXX", "10/2026", "TIN_BAI", "Tin", "28", "tin", ""]], "department_code", 3, 2),
    "duplicate key": ([ROWS[0], ROWS[1], ["SKHCN", "10/2026", "GP_CAP", "x", "12", "giấy phép", ""]],
                      "department_code", 4, 2),
    "bad month": ([ROWS[0], ["SKHCN", "13/2026", "TIN_BAI", "Tin", "28", "tin", ""]], "period", 3, 1),
}


@pytest.mark.parametrize("case", BAD_ROWS)
def test_bad_rows_are_quarantined_with_feed_file_row_and_column(home, query, case):
    rows, column, row, quarantined = BAD_ROWS[case]
    write_csv(inbox(home) / "SKHCN_2026-10.csv", rows)

    (summary,), _ = ingest_feed(FEED)

    assert summary.rows_received == len(rows)
    assert summary.rows_quarantined == quarantined
    _assert_counts_add_up(query)
    messages = [m for (m,) in query("SELECT unnest(reasons).message FROM ops.quarantine")]
    match = [m for m in messages if f"row {row}," in m]
    assert match, messages
    assert f"feed {FEED}" in match[0] and "file SKHCN_2026-10.csv" in match[0] and f"column '{column}'" in match[0]
    records = query("SELECT record->>'Mã đơn vị' FROM ops.quarantine")
    assert len(records) == quarantined and all(r[0] for r in records), "the original record is kept"
    assert query("SELECT count(*) FROM raw.dept_monthly_report")[0][0] == len(rows)


def test_unknown_column_is_kept_in_raw_and_named_in_a_warning(home, query):
    header = [*HEADER, "Người lập biểu"]
    write_csv(inbox(home) / "SKHCN_2026-10.csv", [r + ["Nguyễn Văn An"] for r in ROWS[:2]], header=header)

    (summary,), _ = ingest_feed(FEED)

    assert (summary.status, summary.rows_received, summary.rows_loaded) == ("loaded", 2, 2)
    _assert_counts_add_up(query)
    (warning,) = [w for w in summary.warnings if "Người lập biểu" in w]
    assert f"feed {FEED}" in warning and "file SKHCN_2026-10.csv" in warning and "row 1, column H" in warning
    raw = query("SELECT record->>'Người lập biểu' FROM raw.dept_monthly_report")
    assert raw == [("Nguyễn Văn An",), ("Nguyễn Văn An",)]


def test_missing_required_column_blocks_the_batch_and_quarantines_every_row(home, query):
    header = [h for h in HEADER if h != "Giá trị"]
    write_csv(inbox(home) / "SKHCN_2026-10.csv", [r[:4] + r[5:] for r in ROWS], header=header)

    (summary,), _ = ingest_feed(FEED)

    assert (summary.status, summary.rows_received, summary.rows_quarantined) == ("failed", 3, 3)
    assert "required_columns_present" in summary.error and ": value;" in summary.error
    assert "file SKHCN_2026-10.csv" in summary.error
    checks = {c for (c,) in query("SELECT DISTINCT unnest(reasons).check_name FROM ops.quarantine")}
    assert checks == {"batch_is_publishable", "values_not_null"}


def test_resubmitted_report_replaces_the_earlier_one(home, query):
    first = write_csv(inbox(home) / "SKHCN_2026-10.csv", ROWS)
    os.utime(first, (1_790_000_000, 1_790_000_000))
    other = write_csv(inbox(home) / "SYT_2026-10.csv", [["SYT"] + r[1:] for r in ROWS[:1]])
    os.utime(other, (1_790_000_000, 1_790_000_000))
    ingest_feed(FEED)
    corrected = [["SKHCN", "10/2026", "GP_CAP", "Số giấy phép được cấp", "12", "giấy phép", "Đã sửa"],
                 ["SKHCN", "10/2026", "TIN_BAI", "Số tin, bài đăng tải", "30", "tin", ""]]
    write_csv(inbox(home) / "SKHCN_2026-10_v2.csv", corrected)

    ingest_feed(FEED)

    skhcn = [r for r in clean_rows(query) if r[0] == "SKHCN"]
    assert [(r[2], r[4], r[6]) for r in skhcn] == [("GP_CAP", 12, "Đã sửa"), ("TIN_BAI", 30, None)]
    assert [r[0] for r in clean_rows(query) if r[0] == "SYT"] == ["SYT"], "other departments are untouched"
    assert query("SELECT count(*) FROM raw.dept_monthly_report WHERE record->>'Mã đơn vị' = 'SKHCN'")[0][0] == 5


def test_an_older_file_arriving_late_does_not_replace_newer_data(home, query):
    write_csv(inbox(home) / "SKHCN_2026-10_v2.csv", [ROWS[0][:4] + ["12"] + ROWS[0][5:]])
    ingest_feed(FEED)
    older = write_csv(inbox(home) / "SKHCN_2026-10.csv", ROWS)
    archived_newer = next((home / "archive" / FEED).iterdir())
    os.utime(older, (archived_newer.stat().st_mtime - 3600,) * 2)

    ingest_feed(FEED)

    assert [(r[2], r[4]) for r in clean_rows(query)] == [("GP_CAP", 12)]


def test_loading_the_same_file_twice_adds_nothing(home, query, tmp_path):
    original = write_csv(tmp_path / "SKHCN_2026-10.csv", ROWS)
    shutil.copy(original, inbox(home) / original.name)
    ingest_feed(FEED)
    before = (query("SELECT count(*) FROM raw.dept_monthly_report"), clean_rows(query))
    shutil.copy(original, inbox(home) / original.name)

    (summary,), _ = ingest_feed(FEED)
    assert ingest_feed(FEED) == ([], None), "an empty inbox loads nothing"

    assert summary.status == "duplicate" and summary.rows_loaded == 0
    assert (query("SELECT count(*) FROM raw.dept_monthly_report"), clean_rows(query)) == before
    assert query("SELECT count(*) FROM ops.quarantine") == [(0,)]


def test_ingest_command_prints_counts_and_takes_explicit_files(home, tmp_path):
    path = write_csv(tmp_path / "SKHCN_2026-10.csv", [*ROWS, ["SKHCN", "10/2026", "X", "x", "một", "", ""]])

    result = ioc("ingest", FEED, "--file", str(path))
    again = ioc("ingest", FEED, "--file", str(path), "--json")

    assert result.returncode == 0, result.stderr
    table_row = next(line for line in result.stdout.splitlines() if "SKHCN_2026-10.csv" in line)
    assert [cell.strip() for cell in table_row.split("│")[3:7]] == ["partial", "4", "3", "1"]
    assert "'một'" in result.stdout and "row 5" in result.stdout
    assert path.exists(), "an explicit file outside the inbox is copied, not moved"
    (duplicate,) = json.loads(again.stdout)
    assert (duplicate["status"], duplicate["rows_loaded"]) == ("duplicate", 0)


def test_crash_mid_batch_leaves_the_last_good_state(home, query):
    write_csv(inbox(home) / "SKHCN_2026-10.csv", ROWS)
    ioc("ingest", FEED, check=True)
    good = (batches(query), clean_rows(query), query("SELECT count(*) FROM raw.dept_monthly_report"))
    write_csv(inbox(home) / "SKHCN_2026-10_v2.csv", [ROWS[0][:4] + ["99"] + ROWS[0][5:]])

    for failpoint in ("load.after_raw", "load.before_commit"):
        crashed = ioc("ingest", FEED, env={"IOC_FAILPOINTS": failpoint})
        assert crashed.returncode == 77, crashed.stdout + crashed.stderr
        assert (batches(query), clean_rows(query), query("SELECT count(*) FROM raw.dept_monthly_report")) == good
        assert len(list((home / "landing" / FEED).iterdir())) == 1, "the landed batch waits for the next load"

    ioc("ingest", FEED, check=True)

    assert [(r[2], r[4]) for r in clean_rows(query)] == [("GP_CAP", 99)]
    assert query("SELECT count(*) FROM raw.dept_monthly_report") == [(4,)]
    assert [b[1] for b in batches(query)] == ["loaded", "loaded"]


def test_parallel_writers_queue_on_the_warehouse_instead_of_failing(home, query, tmp_path):
    files = []
    for code in ("SKHCN", "SYT", "SXD", "SCT"):
        files.append(write_csv(tmp_path / f"{code}_2026-10.csv", [[code] + r[1:] for r in ROWS]))
    processes = [subprocess.Popen([str(VENV_BIN / "ioc"), "ingest", FEED, "--file", str(f)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for f in files]
    results = [p.communicate(timeout=300) + (p.returncode,) for p in processes]

    assert [rc for *_, rc in results] == [0, 0, 0, 0], results
    assert query("SELECT count(*) FROM clean.dept_monthly_report") == [(12,)]


def test_a_workbook_saved_again_with_the_same_figures_is_a_duplicate(home, query):
    rows = [["SKHCN", "10/2026", "GP_CAP", "Số giấy phép được cấp", 11, "giấy phép", None]]
    first = write_xlsx(inbox(home) / "SKHCN_2026-10.xlsx", rows)
    first_bytes = first.read_bytes()
    ingest_feed(FEED)
    time.sleep(1.1)  # openpyxl stamps the save time into the workbook
    again = write_xlsx(inbox(home) / "SKHCN_2026-10.xlsx", rows)
    assert again.read_bytes() != first_bytes

    (summary,), _ = ingest_feed(FEED)

    assert summary.status == "duplicate"
    assert query("SELECT count(*) FROM raw.dept_monthly_report") == [(1,)]


def test_a_crash_after_landing_leaves_the_file_in_the_inbox_and_loses_nothing(home, query):
    write_csv(inbox(home) / "SKHCN_2026-10.csv", ROWS)

    crashed = ioc("ingest", FEED, env={"IOC_FAILPOINTS": "extract.after_land"})

    assert crashed.returncode == 77
    assert [p.name for p in inbox(home).iterdir()] == ["SKHCN_2026-10.csv"], "the file waits to be read again"
    ioc("ingest", FEED, check=True)
    assert [b[1] for b in batches(query)] == ["loaded", "duplicate"]
    assert query("SELECT count(*) FROM raw.dept_monthly_report") == [(3,)]
    assert len(clean_rows(query)) == 3
    assert not list(inbox(home).iterdir())
    (archived,) = (home / "archive" / FEED).iterdir()
    assert archived.name.endswith("__SKHCN_2026-10.csv")
    assert query("SELECT DISTINCT source_uri FROM raw.dept_monthly_report") == [(str(archived),)]


@pytest.fixture
def small_chunks(tmp_path, monkeypatch) -> Path:
    """The declarations with dept_monthly_report read in chunks of 1,000 rows (and allowed 100,000 rows)."""
    import yaml

    from pipelines.settings import REPO_ROOT

    copy = tmp_path / "schemas"
    shutil.copytree(REPO_ROOT / "schemas", copy)
    file = copy / "feeds" / f"{FEED}.yaml"
    data = yaml.safe_load(file.read_text(encoding="utf-8"))
    data["source"]["max_batch_rows"] = 1000
    for check in data["checks"]:
        if check["check"] == "row_count_between":
            check["max"] = 100_000
    file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv("IOC_SCHEMAS", str(copy))
    return copy


def write_large_report(path: Path) -> dict:
    """SKHCN's report with 2,600 lines over three chunks: bad values in each chunk, lines that are not
    records, a blank line, a value spanning two lines and a line with trailing empty fields. Returns the
    row (as a spreadsheet numbers it: the header is row 1) of each planted line, and the counts."""
    lines, planted, row = [",".join(HEADER)], {}, 1

    def add(text: str, name: str | None = None, spans: int = 1) -> None:
        nonlocal row
        row += 1
        lines.append(text)
        if name:
            planted[name] = row

    for i in range(2600):
        code = f"CT{i:05d}"
        if i == 300:
            add(f"SKHCN,10/2026,{code},Thừa cột,5,tin,,THỪA", "too many fields")
        elif i == 1200:
            add(f"SKHCN,10/2026,{code}", "too few fields")
        elif i == 1300:
            add(f'SKHCN,10/2026,{code},"Nhiều dòng\ntrong một ô",7,tin,', "spans two lines")
        elif i == 1301:
            add("")  # a blank line: a row, but no record
            add(f"SKHCN,10/2026,{code},Sau dòng trống,8,tin,", "after the blank line")
        elif i == 2000:
            add(f"SKHCN,10/2026,{code},Ô trống thừa,9,tin,,,,", "trailing empty fields")
        elif i in (5, 1500, 2500):
            add(f"SKHCN,10/2026,{code},Sai kiểu,abc,tin,", f"bad value {i}")
        else:
            add(f"SKHCN,10/2026,{code},Chỉ tiêu {i},{i},tin,")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return planted


def test_a_file_larger_than_a_chunk_keeps_every_row_and_its_number(home, query, small_chunks):
    planted = write_large_report(inbox(home) / "SKHCN_2026-10.csv")

    (summary,), _ = ingest_feed(FEED)

    assert (summary.status, summary.rows_received, summary.rows_quarantined) == ("partial", 2600, 5), summary.error
    _assert_counts_add_up(query)
    assert query("SELECT count(*) FROM raw.dept_monthly_report") == [(2600,)]
    quarantined = dict(query("SELECT source_row, reasons[1].message FROM ops.quarantine"))
    for name in ("too many fields", "too few fields"):
        message = quarantined[planted[name]]
        assert f"file SKHCN_2026-10.csv row {planted[name]}:" in message and name in message, message
    for i in (5, 1500, 2500):  # one bad value in each chunk
        message = quarantined[planted[f"bad value {i}"]]
        assert "column 'value' (header 'Giá trị')" in message and "'abc'" in message, message
    rows = dict(query("SELECT indicator_code, _source_row FROM clean.dept_monthly_report "
                      "WHERE indicator_code IN ('CT01300', 'CT01301', 'CT02000')"))
    assert rows == {"CT01300": planted["spans two lines"], "CT01301": planted["after the blank line"],
                    "CT02000": planted["trailing empty fields"]}
    assert query("SELECT record->>'_line' FROM raw.dept_monthly_report WHERE source_row = ?",
                 [planted["too many fields"]])[0][0].endswith(",THỪA"), "the malformed line is kept as received"


def test_a_crash_between_chunks_leaves_the_last_good_state_and_loads_the_batch_once(home, query, small_chunks):
    write_csv(inbox(home) / "SKHCN_2026-09.csv", [[c.replace("10/2026", "09/2026") for c in r] for r in ROWS])
    ioc("ingest", FEED, check=True)
    good = (batches(query), clean_rows(query), query("SELECT count(*) FROM raw.dept_monthly_report"))
    write_large_report(inbox(home) / "SKHCN_2026-10.csv")

    crashed = ioc("ingest", FEED, env={"IOC_FAILPOINTS": "load.between_chunks"})

    assert crashed.returncode == 77, crashed.stdout + crashed.stderr
    assert (batches(query), clean_rows(query), query("SELECT count(*) FROM raw.dept_monthly_report")) == good
    ioc("ingest", FEED, check=True)
    assert [b[1:5] for b in batches(query)] == [("loaded", 3, 3, 0), ("partial", 2600, 2595, 5)]
    assert query("SELECT count(*) FROM raw.dept_monthly_report") == [(2603,)]
    assert query("SELECT count(*) FROM ops.quarantine") == [(5,)]


@pytest.mark.parametrize("after_the_first_mib", ["cp1258", "utf-8 NFD"])
def test_a_file_whose_encoding_shows_only_after_its_first_mib_is_read_again_whole(home, query, small_chunks,
                                                                                  after_the_first_mib):
    """The encoding and the Unicode form are taken from the first MiB and checked on the whole file while it
    is parsed: when bytes further on say otherwise, the file is read again, decoded first, and nothing is
    lost or garbled."""
    plain = [f"SKHCN,10/2026,CT{i:05d},Chi tieu so {i},{i},tin," for i in range(25_000)]  # ASCII: fits any encoding
    assert len("\n".join(plain).encode()) > 1 << 20
    late = [f"SKHCN,10/2026,CT9{i:04d},Số tin, bài đăng tải {i},{i},tin,Cổng thông tin" for i in range(50)]
    late = [line.replace("Số tin, bài", '"Số tin, bài').replace(f" {i},", f' {i}",', 1) for i, line in enumerate(late)]
    header = "department_code,period,indicator_code,indicator_name,value,unit,note"  # the contract's names: ASCII
    head = ("\n".join([header, *plain]) + "\n").encode()
    if after_the_first_mib == "cp1258":
        tail = encode_cp1258("\n".join(late) + "\n")
    else:
        tail = unicodedata.normalize("NFD", "\n".join(late) + "\n").encode()
    (inbox(home) / "SKHCN_2026-10.csv").write_bytes(head + tail)

    (summary,), error = ingest_feed(FEED)

    assert error is None and (summary.status, summary.rows_received, summary.rows_loaded) == ("loaded", 25_050, 25_050)
    expected = "cp1258" if after_the_first_mib == "cp1258" else "utf-8"
    assert any(f"CSV, {expected}," in w for w in summary.warnings), summary.warnings
    names = dict(query("SELECT indicator_code, indicator_name FROM clean.dept_monthly_report "
                       "WHERE indicator_code IN ('CT90007', 'CT00007')"))
    assert names == {"CT90007": "Số tin, bài đăng tải 7", "CT00007": "Chi tieu so 7"}
    assert unicodedata.is_normalized("NFC", names["CT90007"])
    assert query("SELECT count(*) FROM raw.dept_monthly_report") == [(25_050,)]


def test_more_quarantined_rows_than_a_chunk_each_keep_their_record(home, query, small_chunks):
    """Quarantined rows are joined to their records in slices of a chunk: with 2,500 of them over chunks of
    1,000, each still carries its own record as received, once."""
    lines = [",".join(HEADER)] + [f"SKHCN,10/2026,CT{i:05d},Sai kiểu {i},abc{i},tin," if i % 5 else
                                  f"SKHCN,10/2026,CT{i:05d},Đúng {i},{i},tin," for i in range(3125)]
    (inbox(home) / "SKHCN_2026-10.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    (summary,), _ = ingest_feed(FEED)

    assert (summary.rows_received, summary.rows_loaded, summary.rows_quarantined) == (3125, 625, 2500)
    rows = query("SELECT source_row, record->>'Giá trị', record->>'Tên chỉ tiêu' FROM ops.quarantine ORDER BY source_row")
    assert len(rows) == 2500 and len({r[0] for r in rows}) == 2500
    assert all(value == f"abc{row - 2}" and name == f"Sai kiểu {row - 2}" for row, value, name in rows)
