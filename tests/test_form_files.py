"""The department simulator's figures forms (feed dept_indicators), read back with openpyxl and the csv module
only: what the generator writes is what `expected_figures` says, and the figures hang together."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from openpyxl import load_workbook
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string

from simulator.clock import TZ, report_deadline
from simulator.cp1258 import decode_cp1258
from simulator.forms import (
    CSV, CSV_CP1258, XLSX, FormFile, FormRow, FormSpec, expected_figures, form_csv_bytes, vi_number, write_form_files,
    write_form_xlsx,
)
from simulator.world import World

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=TZ)
NEW_YEAR = datetime(2026, 3, 20, 10, 0, tzinfo=TZ)  # its history runs from October 2025 to March 2026
REPO = Path(__file__).resolve().parents[1]
CATALOGUE = yaml.safe_load((REPO / "schemas/indicators/kt_xh_thang.yaml").read_text(encoding="utf-8"))
INDICATORS = {entry["code"]: entry for entry in CATALOGUE["indicators"]}
VI_NUMBER = re.compile(r"^\d{1,3}(\.\d{3})*(,\d+)?$")
DEPARTMENTS = {"SYT", "SCT", "SXD", "STC"}


@pytest.fixture(scope="module")
def world() -> World:
    return World(seed=7, now=NOW, scale=0.1)


@pytest.fixture(scope="module")
def inbox(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dept_indicators")
    write_form_files(world, path)
    return path


def parse_vi(text: str) -> float:
    """`16.340,2` → 16340.2 (the test's own parsing, independent of the platform's reader)."""
    assert VI_NUMBER.match(text), text
    return float(text.replace(".", "").replace(",", "."))


def sheet_rows(path: Path, layout: str) -> list[list]:
    """Every row of the form's only sheet, or every record of its CSV, as a list of cell values."""
    if layout == XLSX:
        workbook = load_workbook(path)
        assert len(workbook.worksheets) == 1
        return [list(row) for row in workbook.active.iter_rows(values_only=True)]
    data = path.read_bytes()
    text = data.decode("utf-8-sig") if layout == CSV else decode_cp1258(data)
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";" if layout == CSV else ","))


def cell(rows: list[list], ref: str):
    letters, number = coordinate_from_string(ref)
    return rows[number - 1][column_index_from_string(letters) - 1]


def figure(value) -> float:
    return parse_vi(value) if isinstance(value, str) else value


def read_figures(inbox: Path, form: FormFile) -> dict[tuple[str, str], float]:
    """(indicator, measure) → the number found in the written file at the cell `expected_figures` names."""
    rows = sheet_rows(inbox / form.name, form.layout)
    return {key: figure(cell(rows, ref)) for key, (_, ref) in expected_figures(form.spec).items()}


def header_text(rows: list[list], first: int = 7, last: int = 12) -> list[str]:
    return [str(v) for row in rows[first:last] for v in row if v not in (None, "")]


def test_every_department_sends_every_month_but_sxd_its_latest(world: World, inbox: Path):
    planted = world.planted["dept_indicators"]
    periods = sorted({f.spec.period for f in world.form_files})
    assert periods == ["2026-06", "2026-07", "2026-08", "2026-09", "2026-10", "2026-11"]
    sent = {(f.spec.department_code, f.spec.period) for f in world.form_files}
    assert planted["missing"] == [{"department_code": "SXD", "period": "2026-11"}]
    assert sent == {(d, p) for d in DEPARTMENTS for p in periods} - {("SXD", "2026-11")}
    assert sorted(p.name for p in inbox.iterdir()) == sorted(f.name for f in world.form_files)
    for form in world.form_files:
        extension = "xlsx" if form.layout == XLSX else "csv"
        assert form.name == f"{form.spec.department_code}_{form.spec.period}.{extension}"
    assert {f.layout for f in world.form_files} == {XLSX, CSV, CSV_CP1258}
    assert {f.spec.department_code for f in world.form_files if f.layout == CSV} == {"STC"}
    assert [f.name for f in world.form_files if f.layout == CSV_CP1258] == planted["csv_cp1258_files"]


def test_file_mtimes_are_submission_times(world: World, inbox: Path):
    for form in world.form_files:
        assert (inbox / form.name).stat().st_mtime == form.submitted_at.timestamp()
    late = world.planted["dept_indicators"]["late"]
    assert late and all(3 <= entry["days_late"] <= 10 for entry in late)
    by_name = {f.name: f for f in world.form_files}
    for entry in late:
        assert by_name[entry["file"]].submitted_at > report_deadline(entry["period"])
    on_time = [f for f in world.form_files if f.name not in {e["file"] for e in late}]
    assert all(f.submitted_at <= report_deadline(f.spec.period) for f in on_time)


def test_layouts_vary_across_departments(world: World):
    specs = {f.spec.department_code: f.spec for f in world.form_files if f.spec.period == "2026-10"}
    assert {s.header_rows for s in specs.values()} == {1, 2, 3}
    assert {s.text_numbers for s in specs.values()} == {True, False}
    assert "ĐVT" in {s.unit_label for s in specs.values()} and "Đơn vị tính" in {s.unit_label for s in specs.values()}
    assert [code for code, s in specs.items() if not s.numbering_row] == ["SXD"]
    assert {s.top_group for s in specs.values() if s.header_rows == 3} == {"year", "results"}


def test_xlsx_forms_have_the_title_block_and_the_period_in_their_labels(world: World, inbox: Path):
    for form in (f for f in world.form_files if f.layout == XLSX):
        rows = sheet_rows(inbox / form.name, XLSX)
        year, month = form.spec.year, form.spec.month
        assert rows[0][0] == "UBND THÀNH PHỐ HẢI PHÒNG" and "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in rows[0][1:]
        assert rows[1][0] == form.spec.department_name_vi.upper() and "Độc lập - Tự do - Hạnh phúc" in rows[1][1:]
        assert rows[3][0] == "BIỂU SỐ LIỆU"
        title = re.search(r"tháng\s+(\d{1,2})\s+năm\s+(\d{4})", rows[4][0])
        assert title and (int(title[1]), int(title[2])) == (month, year)
        assert rows[5][0].startswith(f"(Kèm theo Báo cáo số {form.spec.report_number}/BC-{form.spec.department_code}")
        labels = header_text(rows)
        month_label = f"Thực hiện tháng {month}/{year}" if form.spec.header_rows == 1 else f"Tháng {month}/{year}"
        for label in (month_label, f"Lũy kế {month} tháng", f"Kế hoạch năm {year}", "STT", "Ghi chú"):
            assert label in labels, (form.name, label)
        assert form.spec.unit_label in labels
        signatures = [v for row in rows[-6:] for v in row if v]
        for text in ("Nơi nhận:", "- Như trên;", "- Lưu: VT.", "KT. GIÁM ĐỐC", "PHÓ GIÁM ĐỐC", "(Đã ký)",
                     "Người lập biểu", form.spec.signer):
            assert text in signatures, (form.name, text)


def test_merged_headers_span_their_groups(world: World, inbox: Path):
    two_rows = next(f for f in world.form_files if f.spec.header_rows == 2 and f.layout == XLSX)
    merged = {str(r) for r in load_workbook(inbox / two_rows.name).active.merged_cells.ranges}
    assert {"A8:A9", "B8:B9", "C8:C9", "D8:D9", "E8:F8", "G8:H8", "I8:I9", "A4:I4", "A5:I5"} <= merged
    rows = sheet_rows(inbox / two_rows.name, XLSX)
    assert rows[7][3:7] == ["Kế hoạch năm 2026", "Thực hiện", None, "So sánh %"]
    assert rows[9][:3] == ["(1)", "(2)", "(3)"] and rows[9][6] == "(7)=(6)/(4)"
    three_rows = next(f for f in world.form_files if f.spec.header_rows == 3 and f.layout == XLSX)
    merged = {str(r) for r in load_workbook(inbox / three_rows.name).active.merged_cells.ranges}
    assert {"A8:A10", "D8:F8", "G8:H9", "D9:D10", "E9:F9"} <= merged
    assert cell(sheet_rows(inbox / three_rows.name, XLSX), "D8") == "Năm 2026"


def test_numbers_are_text_written_the_vietnamese_way_where_the_department_types_them(world: World, inbox: Path):
    seen_text, seen_numeric = 0, 0
    for form in world.form_files:
        rows = sheet_rows(inbox / form.name, form.layout)
        for value, ref in expected_figures(form.spec).values():
            found = cell(rows, ref)
            if form.layout != XLSX or form.spec.text_numbers:
                assert isinstance(found, str) and VI_NUMBER.match(found), (form.name, ref, found)
                assert found == vi_number(value)
                seen_text += 1
            else:
                assert isinstance(found, (int, float)) and found == value, (form.name, ref, found)
                seen_numeric += 1
    assert seen_text and seen_numeric
    assert vi_number(16340.2) == "16.340,2" and vi_number(1050) == "1.050" and vi_number(87.5) == "87,5"


def test_only_the_catalogue_measures_are_filled(world: World):
    for form in world.form_files:
        for row in form.spec.rows:
            if row.kind == "group":
                assert not row.figures and row.unit is None
            elif row.indicator_code:
                measures = INDICATORS[row.indicator_code].get("measures", CATALOGUE["measures"])
                assert set(row.figures) == set(measures), (form.name, row.indicator_code)
                assert form.spec.department_code in INDICATORS[row.indicator_code]["departments"]
                assert row.unit == INDICATORS[row.indicator_code]["unit"]
                if INDICATORS[row.indicator_code].get("parent"):
                    assert row.kind == "part" and row.label.startswith("Trong đó: ")


@pytest.mark.parametrize("now", [NOW, NEW_YEAR], ids=["autumn", "across_new_year"])
def test_flow_figures_add_up_over_the_months(now: datetime, tmp_path: Path):
    world = World(seed=11, now=now, scale=0.05)
    write_form_files(world, tmp_path)
    series: dict[tuple[str, str], dict[str, dict[str, float]]] = defaultdict(dict)
    for form in world.form_files:
        for (code, measure), value in read_figures(tmp_path, form).items():
            series[form.spec.department_code, code].setdefault(form.spec.period, {})[measure] = value
    checked = 0
    for (_, code), by_period in series.items():
        aggregation = INDICATORS[code]["aggregation"]
        periods = sorted(by_period)
        for period in periods:
            figures = by_period[period]
            if "plan_year" in figures and "vs_plan_pct" in figures:
                achieved = figures["ytd"] if aggregation == "flow" else figures["month"]
                assert figures["vs_plan_pct"] == pytest.approx(round(100 * achieved / figures["plan_year"], 1))
            if aggregation == "flow" and period.endswith("-01"):
                assert figures["ytd"] == figures["month"]
        for previous, period in zip(periods, periods[1:]):
            if previous[:4] != period[:4]:
                continue
            if "plan_year" in by_period[period]:
                assert by_period[period]["plan_year"] == by_period[previous]["plan_year"], (code, period)
            if aggregation == "flow" and int(period[5:]) == int(previous[5:]) + 1:
                expected = by_period[previous]["ytd"] + by_period[period]["month"]
                assert by_period[period]["ytd"] == pytest.approx(expected, abs=0.051), (code, period)
                checked += 1
    assert checked >= 40
    if now == NEW_YEAR:
        assert any(period.endswith("-01") for by_period in series.values() for period in by_period)


def test_parts_stay_below_their_whole_but_in_the_planted_form(world: World, inbox: Path):
    planted = world.planted["dept_indicators"]["part_above_whole"]
    assert len(planted) == 1
    slip = planted[0]
    assert slip["period"] < "2026-11" and slip["measure"] == "month"
    assert INDICATORS[slip["indicator_code"]]["parent"] == slip["parent_code"]
    form = next(f for f in world.form_files if f.name == slip["file"])
    rows = sheet_rows(inbox / form.name, form.layout)
    assert figure(cell(rows, slip["cell"])) == slip["value"] > slip["parent_value"]
    assert figure(cell(rows, slip["parent_cell"])) == slip["parent_value"]
    part_row, whole_row = int(slip["cell"][1:]), int(slip["parent_cell"][1:])
    assert part_row == whole_row + 1 and rows[part_row - 1][1].startswith("Trong đó:")
    above = []
    for form in world.form_files:
        figures = read_figures(inbox, form)
        for (code, measure), value in figures.items():
            parent = INDICATORS[code].get("parent")
            if parent and measure in ("month", "ytd", "plan_year") and value >= figures[parent, measure]:
                above.append((form.name, code, measure))
    assert above == [(slip["file"], slip["indicator_code"], "month")]


def test_planted_unknown_indicator_row(world: World, inbox: Path):
    unknown = world.planted["dept_indicators"]["unknown_indicators"]
    assert len(unknown) == 1 and unknown[0]["name"] == "Số ca mắc sởi" and unknown[0]["unit"] == "ca"
    form = next(f for f in world.form_files if f.name == unknown[0]["file"])
    row = sheet_rows(inbox / form.name, form.layout)[unknown[0]["row"] - 1]
    assert row[:3] == [unknown[0]["stt"], "Số ca mắc sởi", "ca"]
    known = {e["vi"] for e in INDICATORS.values()} | {a for e in INDICATORS.values() for a in e.get("aliases", ())}
    assert "Số ca mắc sởi" not in known
    assert all(code is not None for code, _ in expected_figures(form.spec))


def test_figures_are_of_a_realistic_size(world: World):
    months = defaultdict(list)
    for form in world.form_files:
        for (code, measure), (value, _) in expected_figures(form.spec).items():
            if measure == "month":
                months[code].append(value)
    assert all(1_000 <= v <= 100_000 for v in months["CT_BANLE"])
    assert all(1 <= v <= 1_000 for v in months["YT_SXH"])
    assert all(50 <= v <= 100 for v in months["YT_TIEMCHUNG"] + months["YT_BHYT"])


def test_windows_1258_csv_decodes_to_the_form(world: World, inbox: Path):
    form = next(f for f in world.form_files if f.layout == CSV_CP1258)
    data = (inbox / form.name).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    rows = sheet_rows(inbox / form.name, CSV_CP1258)
    assert rows[0][0] == "UBND THÀNH PHỐ HẢI PHÒNG" and rows[1][0] == "SỞ CÔNG THƯƠNG"
    assert {len(row) for row in rows} == {9}
    assert [row[1] for row in rows if row[1].startswith("Trong đó")] == ["Trong đó: Khu vực có vốn đầu tư nước ngoài"]
    assert f"Lũy kế {form.spec.month} tháng" in header_text(rows)


def test_utf8_csv_is_what_excel_saves(world: World, inbox: Path):
    form = next(f for f in world.form_files if f.layout == CSV)
    data = (inbox / form.name).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and data.count(b"\r\n") == len(sheet_rows(inbox / form.name, CSV))
    rows = sheet_rows(inbox / form.name, CSV)
    assert {len(row) for row in rows} == {9}
    assert rows[0] == ["UBND THÀNH PHỐ HẢI PHÒNG", "", "", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "", "", "", "", ""]
    assert rows[7][3] == "Kết quả thực hiện" and rows[7][4:8] == ["", "", "", ""]  # merged cells: empty


def test_one_spec_written_by_hand(tmp_path: Path):
    spec = FormSpec(
        department_code="SYT", department_name_vi="Sở Y tế", period="2026-10", header_rows=1, numbering_row=True,
        text_numbers=True, unit_label="ĐVT", report_number=110, rows=(
            FormRow("I", "Phòng, chống dịch bệnh", None, {}, kind="group"),
            FormRow("1", "Số ca mắc sốt xuất huyết", "ca", {"month": 1050, "ytd": 4200, "plan_year": 5000,
                                                          "vs_plan_pct": 84.0}, indicator_code="YT_SXH"),
        ),
    )
    write_form_xlsx(tmp_path / "SYT_2026-10.xlsx", spec)
    rows = sheet_rows(tmp_path / "SYT_2026-10.xlsx", XLSX)
    assert rows[7][:8] == ["STT", "Chỉ tiêu", "ĐVT", "Thực hiện tháng 10/2026", "Lũy kế 10 tháng",
                           "Kế hoạch năm 2026", "So với KH năm (%)", "So với cùng kỳ (%)"]
    assert rows[8][6] == "(7)=(5)/(6)"
    assert expected_figures(spec) == {
        ("YT_SXH", "month"): (1050, "D11"), ("YT_SXH", "ytd"): (4200, "E11"),
        ("YT_SXH", "plan_year"): (5000, "F11"), ("YT_SXH", "vs_plan_pct"): (84.0, "G11"),
    }
    assert [rows[10][i] for i in (3, 4, 5, 6)] == ["1.050", "4.200", "5.000", "84,0"]
    lines = decode_cp1258(form_csv_bytes(spec, "cp1258")).splitlines()
    assert lines[10] == "1;Số ca mắc sốt xuất huyết;ca;1.050;4.200;5.000;84,0;;"


def test_forms_are_deterministic_for_a_seed(world: World, inbox: Path, tmp_path: Path):
    again = World(seed=7, now=NOW, scale=0.1)
    assert again.form_files == world.form_files
    assert again.planted["dept_indicators"] == world.planted["dept_indicators"]
    write_form_files(again, tmp_path)
    for form in again.form_files:
        assert sheet_rows(tmp_path / form.name, form.layout) == sheet_rows(inbox / form.name, form.layout)
        if form.layout != XLSX:
            assert (tmp_path / form.name).read_bytes() == (inbox / form.name).read_bytes()
    other = World(seed=8, now=NOW, scale=0.1)
    assert [f.spec for f in other.form_files] != [f.spec for f in world.form_files]


def test_the_generator_imports_nothing_from_pipelines():
    code = ("import sys, simulator.forms, simulator.feeds.dept_indicators; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pipelines'))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert result.stdout.strip() == "[]"
