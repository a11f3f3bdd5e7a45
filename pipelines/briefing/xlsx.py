"""The briefing as a workbook (openpyxl): one sheet per section, numbers as numbers (with their number
formats), dates as dates, so the leaders' staff can sort, filter and chart them; text as text, never a formula."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from pipelines.briefing.content import REPORT_STATUS_VI, STATUS_VI, Monthly
from pipelines.briefing.words import UNIT_VI, long_date
from pipelines.spreadsheet_safe import save_workbook

SHEETS = ("Tổng hợp", "Chỉ số KPI", "Báo cáo định kỳ", "Nhiệm vụ quá hạn", "Chất lượng dữ liệu", "Chỉ tiêu KT-XH")
HEAD = Font(bold=True)
HEAD_FILL = PatternFill("solid", fgColor="DDE4F0")
STATUS_FILL = {"green": "C6EFCE", "amber": "FFEB9C", "red": "FFC7CE", "no_data": "E7E6E6", "running": "DDEBF7"}


def write_xlsx(b: Monthly, target: Path) -> Path:
    book = Workbook()
    cover = book.active
    cover.title = SHEETS[0]
    for row in (
        [b.letterhead.issuer_parent],
        [b.letterhead.issuer],
        [f"Số: {b.reference}"],
        [f"{b.letterhead.place}, {long_date(b.issued_on)}"],
        [],
        [f"BÁO CÁO tình hình vận hành, chỉ đạo điều hành {b.month_words}"],
        [f"Kính gửi: {b.letterhead.addressee}"],
        [],
        ["Kỳ báo cáo", b.period.key],
        ["Từ ngày", b.period.start],
        ["Đến ngày", b.period.end],
        ["Số liệu tính đến", _local(b.as_of)],
        ["Đơn vị", f"{b.province} — {b.province_name}"],
        ["Số chỉ số KPI không đạt", sum(k.status == "red" for k in b.kpis)],
        ["Số báo cáo nộp trễ, chưa nộp", len(b.reports)],
        ["Số nhiệm vụ quá hạn", len(b.tasks)],
    ):
        cover.append(row)
    for cell in ("A1", "A2", "A6"):
        cover[cell].font = HEAD
    for row in cover.iter_rows(min_row=10, max_row=12, min_col=2, max_col=2):
        row[0].number_format = "dd/mm/yyyy" if row[0].row < 12 else "dd/mm/yyyy hh:mm"
    cover.column_dimensions["A"].width = 34
    cover.column_dimensions["B"].width = 28

    kpis = _sheet(
        book,
        SHEETS[1],
        [
            "Mã chỉ số",
            "Chỉ số",
            "Kỳ",
            "Giá trị",
            "Mục tiêu",
            "Đơn vị tính",
            "Trạng thái",
            "Kỳ trước",
            "Thay đổi",
            "Số liệu chưa đủ tin cậy",
            "Tình trạng kỳ",
            "Số liệu đến ngày",
            "Kỳ chưa kết thúc",
            "Giá trị tạm tính",
            "Tạm tính đến ngày",
            "Trạng thái tạm tính",
        ],
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
                STATUS_VI[k.status],
                k.previous_value,
                k.change,
                k.why_degraded or "",
                "Chưa kết thúc" if k.period_state == "running" else "Đã kết thúc",
                k.to_date,
                k.running_period,
                k.running_value,
                k.running_to_date,
                STATUS_VI[k.running_status] if k.running_status else None,
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
        ["Mã đơn vị", "Đơn vị", "Báo cáo", "Kỳ", "Tình trạng", "Hạn nộp", "Ngày nhận", "Số ngày làm việc trễ"],
    )
    for r in b.reports:
        reports.append(
            [
                r.unit,
                r.unit_name,
                r.feed_name,
                r.period,
                REPORT_STATUS_VI[r.status],
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
        [
            "Mã đơn vị",
            "Đơn vị chủ trì",
            "Văn bản giao",
            "Mã nhiệm vụ",
            "Nhiệm vụ",
            "Người giao",
            "Hạn",
            "Số ngày quá hạn",
        ],
    )
    for t in b.tasks:
        tasks.append([t.unit, t.unit_name, t.source_document, t.task_id, t.title, t.assigned_by, t.due_on, t.days_late])
        tasks[f"G{tasks.max_row}"].number_format = "dd/mm/yyyy"

    quality = _sheet(
        book,
        SHEETS[4],
        [
            "Mã nguồn",
            "Nguồn dữ liệu",
            "Đơn vị quản lý",
            "Số lô trong tháng",
            "Số lô không nạp được",
            "Số dòng nhận",
            "Số dòng bị cách ly",
            "Số dòng đang cách ly",
            "Chậm cập nhật",
        ],
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
                "Có" if q.stale else "Không",
            ]
        )
        for column in "DEFGH":
            quality[f"{column}{quality.max_row}"].number_format = "#,##0"
    indicators = _sheet(
        book,
        SHEETS[5],
        [
            "Mã chỉ số",
            "Chỉ tiêu",
            "Đơn vị báo cáo",
            "Kỳ",
            "Giá trị",
            "Mục tiêu",
            "Đơn vị tính",
            "Trạng thái",
            "Số liệu",
        ],
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
                STATUS_VI[k.status],
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
    from pipelines.calendar.deadlines import TIMEZONE

    return moment.astimezone(TIMEZONE).replace(tzinfo=None)
