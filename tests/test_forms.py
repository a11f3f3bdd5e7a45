"""Department forms ("biểu số liệu") end to end on real DuckDB and Great Expectations: files written by the
simulator's form generator (openpyxl and the csv module; it shares no code with the reader) are read figure by
figure into clean.dept_indicators, each with its indicator, measure, unit, period and cell; the catalogue match,
the validation rules across cells and periods, and the refusals of forms that cannot be read."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from pipelines.ingest import ingest_feed
from tests.conftest import ioc
from simulator.forms import FormRow, FormSpec, expected_figures, form_csv_bytes, form_grid, write_form_file, \
    write_form_xlsx

FEED = "dept_indicators"


def inbox(home: Path) -> Path:
    path = home / "inbox" / FEED
    path.mkdir(parents=True, exist_ok=True)
    return path


def figures(query) -> dict[tuple[str, str, str, str], tuple[float, str, str]]:
    return {(d, p, c, m): (v, cell, unit) for d, p, c, m, v, cell, unit in query(
        "SELECT department_code, period, indicator_code, measure, value, source_cell, unit_of_measure "
        "FROM clean.dept_indicators")}


def quarantined(query) -> list[tuple[str, str, str, str]]:
    """(file, cell, check, actual) of every open quarantine reason."""
    rows = query("SELECT source_uri, record, reasons FROM ops.quarantine WHERE status = 'open'")
    out = []
    for uri, record, reasons in rows:
        cell = json.loads(record)["source_cell"]
        out += [(Path(uri).name.split("__", 1)[1], cell, r["check_name"], r["actual"]) for r in reasons]
    return sorted(out)


def same_figures(landed: dict, expected: dict) -> None:
    """Every expected figure landed, no other, each in its cell with its value (the text parsed exactly)."""
    assert sorted(landed) == sorted(expected)
    assert {k: v[1] for k, v in landed.items()} == {k: v[1] for k, v in expected.items()}
    assert {k: v[0] for k, v in landed.items()} == pytest.approx({k: v[0] for k, v in expected.items()})


def spec(period: str = "2026-10", rows: tuple[FormRow, ...] | None = None, **changes) -> FormSpec:
    """A small health form: dengue cases with its deaths as a part, visits, immunisation (a rate)."""
    rows = rows or (
        FormRow("I", "Phòng, chống dịch bệnh", None, kind="group"),
        FormRow("1", "Số ca mắc sốt xuất huyết", "ca", {"month": 130, "ytd": 1050}, indicator_code="YT_SXH"),
        FormRow(None, "Trong đó: Số ca tử vong", "ca", {"month": 1, "ytd": 3}, kind="part",
                indicator_code="YT_SXH_TUVONG"),
        FormRow("2", "Số lượt khám chữa bệnh", "lượt",
                {"plan_year": 1_200_000, "month": 110_500, "ytd": 1_010_000, "vs_plan_pct": 84.2},
                indicator_code="YT_KCB"),
        FormRow("3", "Tỷ lệ trẻ em dưới 1 tuổi được tiêm chủng đầy đủ", "%",
                {"plan_year": 95, "month": 93.5}, indicator_code="YT_TIEMCHUNG"),
    )
    base = FormSpec(department_code="SYT", department_name_vi="Sở Y tế", period=period, header_rows=2,
                    numbering_row=True, text_numbers=False, unit_label="Đơn vị tính", rows=rows, report_number=110)
    return replace(base, **changes)


def test_every_form_of_the_simulated_departments_lands_figure_by_figure(home, world, query):
    """Four departments' forms (XLSX with one- to three-row merged headers, number cells and Vietnamese number
    text, a UTF-8 CSV department and a Windows-1258 CSV): every figure lands in its indicator, measure, unit,
    period and cell; group rows, numbering rows and signatures never become data; only what was planted is
    quarantined."""
    files = world.form_files
    for form in files:
        write_form_file(inbox(home), form)
    assert {f.layout for f in files} == {"xlsx", "csv", "csv_cp1258"}
    assert {f.spec.header_rows for f in files} == {1, 2, 3}

    summaries, error = ingest_feed(FEED)

    assert error is None
    assert [s.status for s in summaries if s.status == "failed"] == []
    planted = world.planted[FEED]
    part = planted["part_above_whole"][0]
    unknown = planted["unknown_indicators"][0]
    expected = {}
    for form in files:
        for (code, measure), (value, cell) in expected_figures(form.spec).items():
            if (form.name, cell) != (part["file"], part["cell"]):
                expected[form.spec.department_code, form.spec.period, code, measure] = (value, cell)
    landed = figures(query)
    same_figures(landed, expected)
    units = {k: v[2] for k, v in landed.items()}
    assert units["SYT", files[0].spec.period, "YT_SXH", "month"] == "ca"
    assert {u for (_, _, _, m), u in units.items() if m.endswith("_pct")} == {"%"}
    reasons = quarantined(query)
    assert [(f, c, check) for f, c, check, _ in reasons if check != "indicator_in_catalogue"] == [
        (part["file"], part["cell"], "part_not_above_whole")]
    assert {(f, check) for f, _, check, _ in reasons if check == "indicator_in_catalogue"} == {
        (unknown["file"], "indicator_in_catalogue")}
    assert {int(c[1:]) for f, c, check, _ in reasons if check == "indicator_in_catalogue"} == {unknown["row"]}


def test_an_unknown_indicator_row_is_quarantined_with_its_two_nearest_names(home, query):
    rows = spec().rows + (FormRow("4", "Số ca mắc sởi", "ca", {"month": 3, "ytd": 12}),)
    write_form_xlsx(inbox(home) / "SYT_2026-10.xlsx", spec(rows=rows))

    (summary,), _ = ingest_feed(FEED)

    assert summary.rows_quarantined == 2 and summary.status == "partial"
    reasons = quarantined(query)
    row = form_grid(spec(rows=rows)).row_numbers[-1]
    assert [(c, check) for _, c, check, _ in reasons] == [(f"E{row}", "indicator_in_catalogue"),
                                                          (f"F{row}", "indicator_in_catalogue")]
    actual = reasons[0][3]
    assert actual.startswith("Số ca mắc sởi → ")
    assert "Số ca mắc tay chân miệng (YT_TCM)" in actual and "Số ca mắc sốt xuất huyết (YT_SXH)" in actual
    warnings = query("SELECT warnings FROM ops.batches")[0][0]
    assert any("does not carry" in w and "YT_TCM" in w for w in warnings), "a catalogue indicator the form lacks is listed"


def test_names_match_whatever_the_case_tone_placement_numbering_and_spacing(home, query):
    rows = (
        FormRow("1.", "SỐ CA MẮC  SỐT XUẤT HUYẾT", "ca", {"month": 130, "ytd": 1050}, indicator_code="YT_SXH"),
        FormRow("a)", "trong đó:  số ca tử vong", "ca", {"month": 1, "ytd": 3}, kind="part",
                indicator_code="YT_SXH_TUVONG"),
        FormRow("2", "Số ca mắc tay chân miệng", "ca", {"month": 12, "ytd": 80}, indicator_code="YT_TCM"),
        FormRow("-", "Trong đó: Số ca tử vong", "ca", {"month": 0, "ytd": 0}, kind="part", indicator_code="YT_TCM_TUVONG"),
        FormRow("3", "Tỷ lệ trẻ em dưới 1 tuổi được tiêm chủng đầy đủ", "%", {"month": 93.5},
                indicator_code="YT_TIEMCHUNG"),
    )
    write_form_xlsx(inbox(home) / "SYT_2026-10.xlsx", spec(rows=rows))

    (summary,), _ = ingest_feed(FEED)

    assert summary.rows_quarantined == 0, quarantined(query)
    landed = figures(query)
    # the same name "Số ca tử vong" is two indicators: each is told apart by the row it is part of
    assert landed["SYT", "2026-10", "YT_SXH_TUVONG", "ytd"][0] == 3
    assert landed["SYT", "2026-10", "YT_TCM_TUVONG", "month"][0] == 0


def test_each_validation_rule_catches_its_planted_case_and_nothing_else(home, query):
    september = spec("2026-09", rows=(
        FormRow("1", "Số ca mắc sốt xuất huyết", "ca", {"month": 100, "ytd": 920}, indicator_code="YT_SXH"),
        FormRow("2", "Số lượt khám chữa bệnh", "lượt", {"plan_year": 1_200_000, "month": 100_000, "ytd": 900_000,
                                                        "vs_plan_pct": 75.0}, indicator_code="YT_KCB"),
        FormRow("3", "Số ca mắc tay chân miệng", "ca", {"month": 30, "ytd": 300}, indicator_code="YT_TCM"),
    ))
    october = spec("2026-10", rows=(
        FormRow("1", "Số ca mắc sốt xuất huyết", "ca", {"month": 130, "ytd": 1050}, indicator_code="YT_SXH"),
        # part above its whole (month 140 > 130)
        FormRow(None, "Trong đó: Số ca tử vong", "ca", {"month": 140, "ytd": 141}, kind="part",
                indicator_code="YT_SXH_TUVONG"),
        # ratio off: 100 × 1,010,000 ÷ 1,200,000 = 84.2, not 90.0; ytd adds up (900,000 + 110,000)
        FormRow("2", "Số lượt khám chữa bệnh", "lượt", {"plan_year": 1_200_000, "month": 110_000,
                                                        "ytd": 1_010_000, "vs_plan_pct": 90.0}, indicator_code="YT_KCB"),
        # year to date below the month (20 < 35); it cannot add up either (300 + 35 ≠ 20)
        FormRow("3", "Số ca mắc tay chân miệng", "ca", {"month": 35, "ytd": 20}, indicator_code="YT_TCM"),
        # a rate: its year to date is not a sum, and no ratio is reported
        FormRow("4", "Tỷ lệ trẻ em dưới 1 tuổi được tiêm chủng đầy đủ", "%", {"plan_year": 95, "month": 93.5},
                indicator_code="YT_TIEMCHUNG"),
    ))
    write_form_xlsx(inbox(home) / "SYT_2026-09.xlsx", september)
    ingest_feed(FEED)
    assert quarantined(query) == []
    # the year to date of YT_SXH does not add up: 920 + 130 = 1,050 would, 1,060 does not
    october_rows = list(october.rows)
    october_rows[0] = replace(october_rows[0], figures={"month": 130, "ytd": 1060})
    october = replace(october, rows=tuple(october_rows))
    write_form_xlsx(inbox(home) / "SYT_2026-10.xlsx", october)

    ingest_feed(FEED)

    numbers = form_grid(october).row_numbers
    found = {(cell, check) for _, cell, check, _ in quarantined(query)}
    assert found == {
        (f"F{numbers[0]}", "ytd_adds_up"),  # 1,060 ≠ 920 + 130
        (f"E{numbers[1]}", "part_not_above_whole"),  # 140 > 130 (its own year to date: no September to add to)
        (f"G{numbers[2]}", "ratio_matches"),  # 90.0 ≠ 84.2
        (f"F{numbers[3]}", "ytd_not_below_month"),  # 20 < 35
        (f"F{numbers[3]}", "ytd_adds_up"),  # 20 ≠ 300 + 35
    }
    why = {(cell, check): actual for _, cell, check, actual in quarantined(query)}
    assert why[f"E{numbers[1]}", "part_not_above_whole"] == (
        f"E{numbers[1]} (YT_SXH_TUVONG, month) = 140 > E{numbers[0]} (YT_SXH, month) = 130")
    assert why[f"F{numbers[0]}", "ytd_adds_up"].startswith(f"F{numbers[0]} (ytd) = 1060 ≠ 2026-09 ytd F")
    assert why[f"G{numbers[2]}", "ratio_matches"].endswith("= 84.1667")
    # `ioc quality` lists each broken rule with its cells, its name in both languages
    listed = json.loads(ioc("quality", "--json", check=True).stdout)["rules_broken"]
    assert {(r["file"], r["cells"]) for r in listed} == {("SYT_2026-10.xlsx", w) for w in why.values()}
    assert any(r["rule"] == "Phần lớn hơn tổng / Part larger than its whole" for r in listed)


def test_a_csv_export_in_windows_1258_reads_as_its_workbook(home, query):
    form = spec(text_numbers=True)
    (inbox(home) / "SYT_2026-10.csv").write_bytes(form_csv_bytes(form, "cp1258", delimiter=","))

    (summary,), _ = ingest_feed(FEED)

    assert summary.status == "loaded", summary.error
    landed = figures(query)
    same_figures({k[2:]: v for k, v in landed.items()}, expected_figures(form))


@pytest.mark.parametrize("case", ["header moved one column", "two tables", "month of another period",
                                  "another department's form", "no measure column"])
def test_a_form_that_cannot_be_read_is_refused_naming_where_and_kept(home, query, case):
    from openpyxl import load_workbook

    path = inbox(home) / "SYT_2026-10.xlsx"
    form = spec()
    write_form_xlsx(path, form)
    grid = form_grid(form)
    workbook = load_workbook(path)
    sheet = workbook.active
    header = grid.header_first
    for merged in list(sheet.merged_cells.ranges):  # the texts stay in their first cells, as the reader sees them
        sheet.unmerge_cells(str(merged))
    if case == "header moved one column":
        sheet.insert_cols(1)
        for row in range(grid.table_first, grid.table_last + 1):  # the data stays where it was
            for column in range(1, 11):
                sheet.cell(row, column).value = sheet.cell(row, column + 1).value
        expected = ["column C", "no indicator names", "moved one column"]
    elif case == "two tables":
        first = grid.table_last + 1
        sheet.insert_rows(first, amount=3)
        sheet.cell(first + 1, 1).value, sheet.cell(first + 1, 2).value = "STT", "Chỉ tiêu"
        sheet.cell(first + 2, 1).value, sheet.cell(first + 2, 2).value = "1", "Số ca mắc sốt xuất huyết"
        sheet.cell(first + 2, 5).value = 7
        expected = [f"row {first + 1}, column B", "second table", "sheet 'Biểu số liệu'"]
    elif case == "month of another period":
        sheet.cell(header + 1, 5).value = "Tháng 9/2026"
        expected = ["column E", "Tháng 9/2026", "2026-10"]
    elif case == "another department's form":
        sheet.cell(2, 1).value = "SỞ CÔNG THƯƠNG"
        expected = ["SCT", "SYT"]
    else:
        for row in (header, header + 1):
            for column in range(4, 9):
                sheet.cell(row, column).value = None
        expected = [f"rows {header}–", "no measure column", "source.form.measures"]
    workbook.save(path)

    (summary,), _ = ingest_feed(FEED)

    assert summary.status == "failed"
    error = query("SELECT error, error_vi FROM ops.batches")[0]
    assert all(part in error[0] for part in expected), error[0]
    assert "SYT_2026-10.xlsx" in error[0] and "SYT_2026-10.xlsx" in error[1]
    kept = list((home / "rejected" / FEED).iterdir())
    assert sorted(p.suffix for p in kept) == [".txt", ".xlsx"], "the file is kept beside its reason"
    assert query("SELECT count(*) FROM clean.dept_indicators")[0][0] == 0 if query(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'dept_indicators' "
        "AND table_schema = 'clean'")[0][0] else True


def test_a_header_split_differently_reads_the_same_figures(home, query):
    """The month's group split otherwise: "Thực hiện" over the month alone, "Lũy kế" over "10 tháng"."""
    from openpyxl import load_workbook

    path = inbox(home) / "SYT_2026-10.xlsx"
    form = spec()
    write_form_xlsx(path, form)
    header = form_grid(form).header_first
    workbook = load_workbook(path)
    sheet = workbook.active
    for merged in list(sheet.merged_cells.ranges):
        if merged.min_row == header and merged.min_col == 5:
            sheet.unmerge_cells(str(merged))
    sheet.cell(header, 6).value = "Lũy kế"
    sheet.cell(header + 1, 6).value = "10 tháng"
    workbook.save(path)

    (summary,), _ = ingest_feed(FEED)

    assert summary.status == "loaded", summary.error
    same_figures({k[2:]: v for k, v in figures(query).items()}, expected_figures(form))


def test_an_empty_measure_column_is_named_and_the_rest_loads(home, query):
    rows = tuple(replace(r, figures={m: v for m, v in r.figures.items() if m != "vs_plan_pct"}) for r in spec().rows)
    write_form_xlsx(inbox(home) / "SYT_2026-10.xlsx", spec(rows=rows))

    (summary,), _ = ingest_feed(FEED)

    assert summary.status == "loaded"
    warnings = query("SELECT warnings FROM ops.batches")[0][0]
    assert any("column G" in w and "vs_plan_pct" in w and "no figures" in w for w in warnings), warnings


@pytest.fixture
def client(home, monkeypatch):
    from fastapi.testclient import TestClient

    from pipelines.serve.app import create_app

    monkeypatch.setenv("IOC_SUBMIT_TOKEN_SYT", SYT_TOKEN)
    monkeypatch.setenv("IOC_SUBMIT_TOKEN_SCT", SCT_TOKEN)
    with TestClient(create_app()) as test_client:
        yield test_client


SYT_TOKEN, SCT_TOKEN = "token-of-syt-0123456789", "token-of-sct-9876543210"


def submit(client, name: str, body: bytes, token: str):
    return client.post(f"/api/submissions/{FEED}", files={"file": (name, body, "application/octet-stream")},
                       headers={"Authorization": f"Bearer {token}"})


def xlsx_bytes(tmp_path: Path, form: FormSpec) -> bytes:
    path = tmp_path / "form.xlsx"
    write_form_xlsx(path, form)
    return path.read_bytes()


def test_a_department_submits_its_form_and_reads_each_broken_rule_in_its_outcome(client, home, tmp_path):
    rows = list(spec().rows)
    rows[2] = replace(rows[2], figures={"month": 140, "ytd": 141})  # dengue deaths above the cases (130)
    answer = submit(client, "SYT_2026-10.xlsx", xlsx_bytes(tmp_path, spec(rows=tuple(rows))), SYT_TOKEN)
    assert answer.status_code == 202, answer.text
    assert answer.json()["rows"] == 10  # its figures

    ingest_feed(FEED)

    found = client.get(answer.json()["outcome"], headers={"Authorization": f"Bearer {SYT_TOKEN}"}).json()
    assert found["status"] == "partial" and found["rows_quarantined"] == 1
    (reason,) = found["reasons"]
    row = form_grid(spec()).row_numbers[2]
    assert f"E{row} (YT_SXH_TUVONG, month) = 140 > E{row - 1} (YT_SXH, month) = 130" in reason["en"]
    assert f"tệp SYT_2026-10.xlsx dòng {row}" in reason["vi"] and "không lớn hơn" in reason["vi"]


def test_another_departments_form_sent_with_a_departments_token_is_refused(client, home, tmp_path):
    """SCT's token, a file named for SCT, and inside it the health department's form."""
    answer = submit(client, "SCT_2026-10.xlsx", xlsx_bytes(tmp_path, spec()), SCT_TOKEN)

    assert answer.status_code == 422, answer.text
    reason = answer.json()["reason"]
    assert "names SYT but the file's name says SCT" in reason["en"] and "SYT" in reason["vi"]
    assert not [p for p in (home / "inbox").rglob("*") if p.is_file()]


def test_a_form_named_otherwise_is_the_department_and_month_its_title_block_says(home, query):
    write_form_xlsx(inbox(home) / "bieu so lieu thang muoi.xlsx", spec())

    (summary,), _ = ingest_feed(FEED)

    assert summary.status == "loaded", summary.error
    assert {(d, p) for d, p, _, _ in figures(query)} == {("SYT", "2026-10")}
    said = query("SELECT file_fields FROM ops.batches")[0][0]
    assert json.loads(said) == {"department_code": "SYT", "period": "2026-10"}, "the title block speaks for the file"
