"""Every CSV and XLSX handed out (the explain CSV of `ioc kpi explain --csv` and of the wall's API, the monthly
briefing workbook) opens in a spreadsheet as data: text that would start a formula is not one, numbers stay
numbers (OWASP CSV injection)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timezone
from decimal import Decimal

import polars as pl
import pytest

from tests.conftest import TEST_NOW, ioc
from tests.helpers import TASK_HEADER

FORMULAS = ['=HYPERLINK("http://x","y")', "+1", "-1+2", "@SUM(A1)", "\tx", "\rx"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def live_formulas(text: str, numeric: set[str]) -> list[tuple[int, str, str]]:
    """The cells of text columns a spreadsheet would take for a formula (row, column, cell)."""
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    head = rows[0]
    return [(i, name, cell) for i, row in enumerate(rows) for name, cell in zip(head, row)
            if name not in numeric and cell.startswith(FORMULA_STARTS)]


def column(text: str, name: str) -> list[str]:
    return [row[name] for row in csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""))]


@pytest.mark.parametrize("text", FORMULAS)
def test_safe_value_quotes_text_that_would_start_a_formula(text):
    from pipelines.spreadsheet_safe import safe_value

    assert safe_value(text) == "'" + text
    assert safe_value("Sở Xây dựng") == "Sở Xây dựng" and safe_value("a=b") == "a=b"
    assert (safe_value(-5), safe_value(-1.5), safe_value(Decimal("-2.25")), safe_value(None)) == \
        (-5, -1.5, Decimal("-2.25"), None)


def test_safe_frame_quotes_every_text_column_and_leaves_numeric_columns_numbers():
    from pipelines.spreadsheet_safe import safe_frame

    n = len(FORMULAS)
    frame = pl.DataFrame({"title": FORMULAS, "note": list(reversed(FORMULAS)), "count": [-5] * n,
                          "rate": [-1.5] * n, "amount": [Decimal("-2.25")] * n},
                         schema_overrides={"amount": pl.Decimal(10, 2)})

    text = safe_frame(frame).write_csv()

    assert live_formulas(text, {"count", "rate", "amount"}) == []
    assert [c.removeprefix("'") for c in column(text, "title")] == FORMULAS
    assert set(column(text, "count")) == {"-5"} and set(column(text, "rate")) == {"-1.5"}
    assert set(column(text, "amount")) == {"-2.25"}


def test_the_explain_csv_holds_no_live_formula_and_keeps_negative_numbers():
    from pipelines.kpi.explain import Explanation, write_csv

    records = [{"unit_code": "SXD", "numerator": -5, "denominator": 3.0, "impact": -2.5, "against": True,
                "fields": {"title": text, "assigned_by": "Lãnh đạo", "delta": -5, "ratio": Decimal("-1.25")},
                "lineage": {"feed": "directive_tasks", "batch_id": "b1", "source_uri": text, "source_row": i + 2,
                            "received_at": datetime(2026, 11, 20, 3, tzinfo=timezone.utc)}}
               for i, text in enumerate(FORMULAS)]
    e = Explanation(kpi_id="tasks_overdue", unit="HP", period="2026-11", as_of=datetime.now(timezone.utc),
                    value=None, combine="sum", records=records, records_total=len(records))
    out = io.StringIO(newline="")

    assert write_csv(e, out) == len(FORMULAS)

    text = out.getvalue()
    numeric = {"impact", "numerator", "denominator", "delta", "ratio", "lineage_source_row"}
    assert live_formulas(text, numeric) == []
    assert [c.removeprefix("'") for c in column(text, "title")] == FORMULAS
    assert [c.removeprefix("'") for c in column(text, "lineage_source_uri")] == FORMULAS
    for name, value in (("numerator", -5), ("denominator", 3.0), ("impact", -2.5), ("delta", -5), ("ratio", -1.25)):
        assert [float(c) for c in column(text, name)] == [value] * len(FORMULAS), name
    assert set(column(text, "delta")) == {"-5"}, "a negative number is written as a number, not as '-5"


def test_the_briefing_workbook_stores_formula_text_as_text_and_numbers_as_numbers(tmp_path):
    from openpyxl import load_workbook

    from pipelines.briefing.content import KpiLine, Monthly, QualityLine, ReportLine, TaskLine
    from pipelines.briefing.xlsx import write_xlsx
    from pipelines.calendar.periods import parse_period
    from pipelines.declarations.briefing import Briefing

    texts = FORMULAS[:5]  # a carriage return comes back from XML as a line feed: still text, not the same text
    letterhead = Briefing(issuer_parent=texts[0], place=texts[3])
    b = Monthly(period=parse_period("monthly", "2026-11"), number=1, issued_on=date(2026, 11, 30),
                as_of=datetime(2026, 11, 30, 3, tzinfo=timezone.utc), letterhead=letterhead, province="HP",
                province_name=texts[1])
    b.kpis = [KpiLine(f"k{i}", text, "count", 0, "2026-11", -5, -1.5, "red", 3, True, text)
              for i, text in enumerate(texts)]
    b.reports = [ReportLine("SXD", text, text, "2026-11", "late", date(2026, 11, 16), None, -5) for text in texts]
    b.tasks = [TaskLine("SXD", text, text, f"NV-{i}", text, text, date(2026, 11, 2), -5)
               for i, text in enumerate(texts)]
    b.quality = [QualityLine(text, text, text, -5, 0, 1, 0, 0, False) for text in texts]

    book = load_workbook(write_xlsx(b, tmp_path / "briefing.xlsx"))

    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row if cell.value is not None]
    assert [c.coordinate for c in cells if c.data_type == "f"] == [], "no cell is a formula"
    assert set(texts) <= {c.value for c in cells if c.data_type == "s"}, "the text comes back as it was, as text"
    kpis = list(book["Chỉ số KPI"].iter_rows(min_row=2, values_only=True))
    assert [(row[3], row[4], row[8]) for row in kpis] == [(-5, -1.5, -8)] * len(texts)
    tasks = list(book["Nhiệm vụ quá hạn"].iter_rows(min_row=2))
    assert [(row[4].value, row[4].data_type, row[7].value, row[7].data_type) for row in tasks] == \
        [(text, "s", -5, "n") for text in texts]


def test_the_cli_and_api_explain_csv_and_briefing_workbook_of_a_real_load_hold_no_live_formula(home):
    """Tasks whose texts start formulas, loaded through the task tracker's CSV export: `ioc kpi explain --csv`,
    GET /api/kpis/tasks_overdue/explain?format=csv and GET /api/briefings/monthly?format=xlsx."""
    from fastapi.testclient import TestClient
    from openpyxl import load_workbook

    from pipelines.ingest import ingest_feed
    from pipelines.serve.app import create_app

    texts = FORMULAS[:4]  # the loader trims a leading tab or carriage return (the writers' own tests cover them)
    folder = home / "inbox" / "directive_tasks"
    folder.mkdir(parents=True)
    with open(folder / "nhiem_vu.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(TASK_HEADER)
        for i, text in enumerate(texts):
            writer.writerow([f"NV-{i}", text, text, "SXD", text, "01/09/2026", "02/11/2026", "Đang thực hiện", "",
                             "20/11/2026 08:00:00"])
    (summary,), _ = ingest_feed("directive_tasks")
    assert summary.status == "loaded" and summary.rows_loaded == len(texts), summary
    ioc("kpi", "compute", "--kpi", "tasks_overdue", "--now", TEST_NOW.isoformat(), check=True)
    numeric = {"impact", "numerator", "denominator", "days_late", "days_until_due", "working_days_late",
               "lineage_source_row"}

    table = home / "overdue.csv"
    ioc("kpi", "explain", "tasks_overdue", "-u", "HP", "--csv", str(table), check=True)
    written = table.read_text(encoding="utf-8-sig")
    assert live_formulas(written, numeric) == []
    assert sorted(c.removeprefix("'") for c in column(written, "title")) == sorted(texts)
    assert set(column(written, "numerator")) == {"1.0"}

    with TestClient(create_app()) as api:
        answer = api.get("/api/kpis/tasks_overdue/explain", params={"unit": "HP", "format": "csv"})
        assert answer.status_code == 200, answer.text
        assert live_formulas(answer.text, numeric) == []
        assert sorted(c.removeprefix("'") for c in column(answer.text, "title")) == sorted(texts)

        workbook = api.get("/api/briefings/monthly", params={"period": "2026-11", "format": "xlsx"})
        assert workbook.status_code == 200, workbook.text
    tasks = list(load_workbook(io.BytesIO(workbook.content))["Nhiệm vụ quá hạn"].iter_rows(min_row=2))
    assert sorted((row[4].value, row[4].data_type) for row in tasks) == sorted((t, "s") for t in texts)
    assert all(row[2].data_type == row[5].data_type == "s" for row in tasks), "document and assigner: text"
    assert all(row[7].data_type == "n" and row[7].value > 0 for row in tasks), "days late: numbers"
