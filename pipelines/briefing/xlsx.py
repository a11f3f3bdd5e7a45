"""The briefing as a workbook (openpyxl): one sheet per section, numbers as numbers (with their number
formats), dates as dates, so the leaders' staff can sort, filter and chart them; text as text, never a formula."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from pipelines import wording
from pipelines.briefing.content import Monthly
from pipelines.briefing.words import UNIT_VI, long_date
from pipelines.calendar.deadlines import TIMEZONE
from pipelines.spreadsheet_safe import save_workbook

SHEET_IDS = ("summary", "kpis", "reports", "tasks", "quality", "indicators")
SHEETS = tuple(wording.text(f"briefing.sheet.{sheet}") for sheet in SHEET_IDS)  # their names (briefing.sheet.*)
HEAD = Font(bold=True)
HEAD_FILL = PatternFill("solid", fgColor="DDE4F0")
STATUS_FILL = {"green": "C6EFCE", "amber": "FFEB9C", "red": "FFC7CE", "no_data": "E7E6E6", "running": "DDEBF7"}


def write_xlsx(b: Monthly, target: Path) -> Path:
    book = Workbook()
    cover = book.active
    assert isinstance(cover, Worksheet), "a new workbook's active sheet is a worksheet"
    cover.title = SHEETS[0]
    for row in (
        [b.letterhead.issuer_parent],
        [b.letterhead.issuer],
        [wording.text("briefing.number", reference=b.reference)],
        [f"{b.letterhead.place}, {long_date(b.issued_on)}"],
        [],
        [wording.text("briefing.xlsx_title", month=b.month_words)],
        [wording.text("briefing.addressee", addressee=b.letterhead.addressee)],
        [],
        [_cover("period"), b.period.key],
        [_cover("from"), b.period.start],
        [_cover("to"), b.period.end],
        [_cover("as_of"), _local(b.as_of)],
        [_cover("unit"), f"{b.province} — {b.province_name}"],
        [_cover("red_kpis"), sum(k.status == "red" for k in b.kpis)],
        [_cover("reports"), len(b.reports)],
        [_cover("tasks"), len(b.tasks)],
    ):
        cover.append(row)
    for cell in ("A1", "A2", "A6"):
        cover[cell].font = HEAD
    for number, cells in enumerate(cover.iter_rows(min_row=10, max_row=12, min_col=2, max_col=2), start=10):
        cells[0].number_format = "dd/mm/yyyy" if number < 12 else "dd/mm/yyyy hh:mm"
    cover.column_dimensions["A"].width = 34
    cover.column_dimensions["B"].width = 28

    kpis = _sheet(
        book,
        SHEETS[1],
        _headers(
            "kpi_id",
            "kpi",
            "period",
            "value",
            "target",
            "unit_of_measure",
            "status",
            "previous",
            "change_amount",
            "degraded",
            "period_state",
            "to_date",
            "running_period",
            "running_value",
            "running_to_date",
            "running_status",
        ),
    )
    for k in b.kpis:
        kpis.append(
            [
                k.kpi_id,
                k.name,
                k.period,
                k.value,
                k.target,
                UNIT_VI[k.unit_of_measure].strip() or "số",
                wording.text(f"kpi.status.{k.status}"),
                k.previous_value,
                k.change,
                k.why_degraded or "",
                _period_state(k.period_state),
                k.to_date,
                k.running_period,
                k.running_value,
                k.running_to_date,
                wording.text(f"kpi.status.{k.running_status}") if k.running_status else None,
            ]
        )
        fmt = "#,##0" if k.decimals == 0 else "#,##0." + "0" * k.decimals
        for column in ("D", "E", "H", "I", "N"):
            kpis[f"{column}{kpis.max_row}"].number_format = fmt
        for column in ("L", "O"):
            kpis[f"{column}{kpis.max_row}"].number_format = "dd/mm/yyyy"
        kpis[f"G{kpis.max_row}"].fill = PatternFill("solid", fgColor=STATUS_FILL[k.status])

    reports = _sheet(
        book,
        SHEETS[2],
        _headers("unit_code", "unit", "report", "period", "report_status", "due_date", "received", "working_days_late"),
    )
    for r in b.reports:
        reports.append(
            [
                r.unit,
                r.unit_name,
                r.feed_name,
                r.period,
                wording.text(f"report.status.{r.status}"),
                r.due_date,
                _local(r.received_at) if r.received_at else None,
                r.working_days_late,
            ]
        )
        reports[f"F{reports.max_row}"].number_format = "dd/mm/yyyy"
        reports[f"G{reports.max_row}"].number_format = "dd/mm/yyyy hh:mm"

    tasks = _sheet(
        book,
        SHEETS[3],
        _headers(
            "unit_code", "lead_unit", "source_document", "task_id", "task", "assigned_by", "due_on", "days_overdue"
        ),
    )
    for t in b.tasks:
        tasks.append([t.unit, t.unit_name, t.source_document, t.task_id, t.title, t.assigned_by, t.due_on, t.days_late])
        tasks[f"G{tasks.max_row}"].number_format = "dd/mm/yyyy"

    quality = _sheet(
        book,
        SHEETS[4],
        _headers(
            "feed_id",
            "feed",
            "owner",
            "batches",
            "failed_batches",
            "rows_received",
            "rows_quarantined",
            "rows_held",
            "stale",
        ),
    )
    for q in b.quality:
        quality.append(
            [
                q.feed,
                q.feed_name,
                q.owner,
                q.batches,
                q.failed_batches,
                q.rows_received,
                q.rows_quarantined,
                q.quarantine_open,
                wording.text("briefing.yes") if q.stale else wording.text("briefing.no"),
            ]
        )
        for column in "DEFGH":
            quality[f"{column}{quality.max_row}"].number_format = "#,##0"
    indicators = _sheet(
        book,
        SHEETS[5],
        _headers(
            "kpi_id", "indicator", "reported_by", "period", "value", "target", "unit_of_measure", "status", "figures"
        ),
    )
    for k in b.indicators:
        indicators.append(
            [
                k.kpi_id,
                k.name,
                k.reported_by,
                k.period,
                k.value,
                k.target,
                UNIT_VI[k.unit_of_measure].strip() or "số",
                wording.text(f"kpi.status.{k.status}"),
                k.figures,
            ]
        )
        fmt = "#,##0" if k.decimals == 0 else "#,##0." + "0" * k.decimals
        for column in ("E", "F"):
            indicators[f"{column}{indicators.max_row}"].number_format = fmt
        indicators[f"H{indicators.max_row}"].fill = PatternFill("solid", fgColor=STATUS_FILL[k.status])
    target.parent.mkdir(parents=True, exist_ok=True)
    save_workbook(book, target)
    return target


def _period_state(state: str) -> str:
    """Whether the period shown has ended (a period still running is shown when none of the KPI's has)."""
    return (
        wording.text("briefing.period_state.running")
        if state == "running"
        else wording.text("briefing.period_state.complete")
    )


def _cover(label: str) -> str:
    """A label of the cover sheet (briefing.cover.*)."""
    return wording.text(f"briefing.cover.{label}")


def _headers(*columns: str) -> list[str]:
    """A sheet's column headers, by their ids (briefing.column.*, the PDF's tables share them)."""
    return [wording.text(f"briefing.column.{column}") for column in columns]


def _sheet(book: Workbook, title: str, header: list[str]):
    sheet = book.create_sheet(title)
    sheet.append(header)
    for i, cell in enumerate(sheet[1], start=1):
        cell.font, cell.fill = HEAD, HEAD_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        sheet.column_dimensions[get_column_letter(i)].width = max(12, min(48, len(header[i - 1]) + 6))
    sheet.freeze_panes = "A2"
    return sheet


def _local(moment):
    """A moment as Vietnam's wall-clock time (a workbook's cells have no time zone)."""
    return moment.astimezone(TIMEZONE).replace(tzinfo=None)
