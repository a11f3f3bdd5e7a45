"""Department file drops: monthly report files in every layout departments use, and the task tracker's export."""

from __future__ import annotations

import csv
import io
import os
import random
import unicodedata
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

from simulator.cp1258 import encode_cp1258
from simulator.feeds.dept_monthly_report import GARBAGE, ReportFile
from simulator.vocabulary import PROVINCE_TITLE, TASK_STATUS_LABELS
from simulator.world import World

REPORT_HEADERS = ("Mã đơn vị", "Kỳ báo cáo", "Mã chỉ tiêu", "Tên chỉ tiêu", "Giá trị", "Đơn vị tính", "Ghi chú")
# Other labels the feed file accepts for the same columns.
REPORT_HEADERS_ALTERNATIVE = (
    "Đơn vị báo cáo", "Kỳ báo cáo", "Mã chỉ tiêu", "Tên chỉ tiêu", "Số liệu", "ĐVT", "Ghi chú",
)
REPORT_HEADERS_SPACED = (
    " Mã đơn vị", "Kỳ  báo cáo", "Mã chỉ  tiêu", "Tên chỉ tiêu ", "Giá trị", "Đơn vị  tính", "Ghi chú ",
)
TOTALS_LABEL = "Tổng cộng"
TASK_HEADERS = (
    "Mã nhiệm vụ", "Văn bản giao", "Người giao", "Đơn vị chủ trì", "Nội dung nhiệm vụ",
    "Ngày giao", "Hạn hoàn thành", "Trạng thái", "Ngày hoàn thành", "Cập nhật lúc",
)


def write_report_files(world: World, inbox: Path) -> list[Path]:
    """Write every department report file into `inbox`, each with its submission time as mtime."""
    inbox.mkdir(parents=True, exist_ok=True)
    paths = []
    xlsx_written = 0
    for report in world.report_files:
        path = inbox / report.name
        if report.layout == GARBAGE:
            path.write_bytes(_garbage_bytes(world.seed, report.name))
        elif report.layout == "xlsx":
            _write_xlsx(path, report, world.units.get(report.department_code).name_vi, variant=xlsx_written)
            xlsx_written += 1
        else:
            path.write_bytes(_csv_bytes(report))
        _set_mtime(path, report.submitted_at)
        paths.append(path)
    return paths


def write_task_export(world: World, inbox: Path) -> Path:
    """Write the task tracker's full export (UTF-8 with BOM, Vietnamese labels, dd/mm/yyyy dates) into `inbox`."""
    inbox.mkdir(parents=True, exist_ok=True)
    path = inbox / f"nhiem_vu_{world.now:%Y%m%d_%H%M}.csv"
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(TASK_HEADERS)
    for task in sorted(world.tasks, key=lambda t: t["task_id"]):
        writer.writerow((
            task["task_id"], task["source_document"], task["assigned_by"], task["assignee_code"], task["title"],
            f"{task['assigned_on']:%d/%m/%Y}", f"{task['due_on']:%d/%m/%Y}", TASK_STATUS_LABELS[task["status"]],
            f"{task['done_on']:%d/%m/%Y}" if task["done_on"] else "", f"{task['updated_at']:%d/%m/%Y %H:%M:%S}",
        ))
    path.write_bytes(buffer.getvalue().encode("utf-8-sig"))
    _set_mtime(path, world.now)
    return path


def _set_mtime(path: Path, moment: datetime) -> None:
    stamp = moment.timestamp()
    os.utime(path, (stamp, stamp))


def _garbage_bytes(seed: int, name: str) -> bytes:
    """A truncated upload: a ZIP signature followed by noise, which no spreadsheet reader can open."""
    return b"PK\x03\x04" + random.Random(f"{seed}:{name}").randbytes(2048)


def format_number(value: int | float | str, vietnamese: bool) -> str:
    """`1234.5` plainly, or `1.234,5` with Vietnamese separators; text (a bad value) is written as it is."""
    if isinstance(value, str):
        return value
    text = f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"
    if vietnamese:
        return text.replace(",", " ").replace(".", ",").replace(" ", ".")
    return text.replace(",", "")


def _period_label(period: str, slash: bool) -> str:
    year, month = period.split("-")
    return f"{month}/{year}" if slash else period


def _csv_bytes(report: ReportFile) -> bytes:
    """`csv`: UTF-8 and commas; `csv_vi`: UTF-8 with BOM, semicolons, Vietnamese numbers, `MM/YYYY` periods;
    `csv_cp1258`: Windows-1258 and commas."""
    vietnamese = report.layout == "csv_vi"
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if vietnamese else ",")
    writer.writerow(REPORT_HEADERS)
    for row in report.rows:
        writer.writerow((
            row.department_code, _period_label(row.period, slash=vietnamese), row.indicator_code, row.indicator_name,
            format_number(row.value, vietnamese), row.unit, row.note or "",
        ))
    text = buffer.getvalue()
    if report.layout == "csv_cp1258":
        return encode_cp1258(text)
    return text.encode("utf-8-sig" if vietnamese else "utf-8")


def _header_labels(variant: int) -> tuple[str, ...]:
    """Header labels as departments type them: as in the contract, in capitals, with stray spaces,
    or the alternative labels in NFD."""
    style = variant % 4
    if style == 1:
        return tuple(label.upper() for label in REPORT_HEADERS)
    if style == 2:
        return REPORT_HEADERS_SPACED
    if style == 3:
        return tuple(unicodedata.normalize("NFD", label) for label in REPORT_HEADERS_ALTERNATIVE)
    return REPORT_HEADERS


def _title_block(report: ReportFile, department_name: str, variant: int) -> list[str | None]:
    """Three to five rows above the table: the province, the department, a document number, the title, a blank row."""
    month_year = _period_label(report.period, slash=True)
    lines: list[str | None] = [PROVINCE_TITLE, department_name.upper()]
    if variant % 3 == 1:
        lines.append(f"Số: {100 + variant}/BC-{report.department_code}")
    lines.append(f"BÁO CÁO CÔNG TÁC THÁNG {month_year}")
    if variant % 3 != 2:
        lines.append(None)
    return lines


def _write_xlsx(path: Path, report: ReportFile, department_name: str, variant: int) -> None:
    """An XLSX report whose title block, header labels, period form and totals row vary with `variant`."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Báo cáo"
    columns = len(REPORT_HEADERS)
    for line in _title_block(report, department_name, variant):
        sheet.append([line])
        if line:
            sheet.cell(sheet.max_row, 1).font = Font(bold=True)
            sheet.merge_cells(start_row=sheet.max_row, start_column=1, end_row=sheet.max_row, end_column=columns)
    sheet.append(_header_labels(variant))
    slash = variant % 2 == 0
    for row in report.rows:
        sheet.append([
            row.department_code, _period_label(row.period, slash), row.indicator_code, row.indicator_name,
            row.value, row.unit, row.note,
        ])
    if variant % 3 == 0:
        total = sum(r.value for r in report.rows if not isinstance(r.value, str))
        sheet.append([TOTALS_LABEL, None, None, None, round(total, 1), None, None])
    for letter, width in zip("ABCDEFG", (14, 12, 14, 34, 12, 14, 26)):
        sheet.column_dimensions[letter].width = width
    workbook.save(path)
