"""Departments' monthly figures forms ("biểu số liệu", Decree 09/2019 report regimes): a form as data, written
as the XLSX workbook a department sends or as the CSV Excel saves of it, and the figure each cell holds.

A form is one sheet: the title block, a header of one to three rows (merged groups such as `Thực hiện` over
the month and the year to date), an optional numbering row `(1) … (9)`, the indicator rows (group headings,
indicators, "Trong đó:" parts) and the signatures below. Nothing here reads forms: the platform's reader is
checked against `expected_figures`.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter

from simulator.cp1258 import encode_cp1258

if TYPE_CHECKING:
    from simulator.world import World

MEASURES = ("plan_year", "month", "ytd", "vs_plan_pct", "vs_last_year_pct")
# Columns: A STT, B Chỉ tiêu, C unit, D–H the five measures (order per header variant), I Ghi chú.
WIDTH = 9
FIRST_MEASURE_COLUMN = 4
NOTE_COLUMN = 9
# The one-row header lists what was done before the plan; the merged headers put the plan first.
MEASURE_ORDER = {
    1: ("month", "ytd", "plan_year", "vs_plan_pct", "vs_last_year_pct"),
    2: ("plan_year", "month", "ytd", "vs_plan_pct", "vs_last_year_pct"),
    3: ("plan_year", "month", "ytd", "vs_plan_pct", "vs_last_year_pct"),
}
XLSX, CSV, CSV_CP1258 = "xlsx", "csv", "csv_cp1258"
LAYOUTS = (XLSX, CSV, CSV_CP1258)
PROVINCE = "UBND THÀNH PHỐ HẢI PHÒNG"
NATION = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO = "Độc lập - Tự do - Hạnh phúc"
FORM_TITLE = "BIỂU SỐ LIỆU"
RECIPIENTS = ("- Như trên;", "- UBND thành phố (để b/c);", "- Lưu: VT.")

Figure = int | float | str | None


@dataclass(frozen=True)
class FormRow:
    """One row of the table. `kind`: `group` (a heading, no figures), `indicator`, or `part` (a "Trong đó:" row,
    part of the indicator row above). `indicator_code` is the catalogue code, None for groups and unknown rows."""

    stt: str | None
    label: str
    unit: str | None
    figures: dict[str, Figure] = field(default_factory=dict)
    note: str | None = None
    kind: str = "indicator"
    indicator_code: str | None = None


@dataclass(frozen=True)
class FormSpec:
    """One department's form for one period `YYYY-MM`. `header_rows`: 1, 2 or 3; `top_group` (3 rows only):
    `year` puts `Năm {year}` over plan, month and year to date, `results` puts `Kết quả thực hiện` over all
    five measures. `text_numbers`: figures typed as Vietnamese text (`16.340,2`) instead of numeric cells."""

    department_code: str
    department_name_vi: str
    period: str
    header_rows: int
    numbering_row: bool
    text_numbers: bool
    unit_label: str
    rows: tuple[FormRow, ...]
    report_number: int
    sheet_name: str = "Biểu số liệu"
    report_date: date | None = None
    top_group: str = "year"
    signer: str = ""
    preparer: str = ""

    @property
    def year(self) -> int:
        return int(self.period[:4])

    @property
    def month(self) -> int:
        return int(self.period[5:7])


class FormFile(NamedTuple):
    """A form as dropped: its name (`SYT_2026-10.xlsx`), layout (one of LAYOUTS) and submission moment."""

    spec: FormSpec
    name: str
    layout: str
    submitted_at: datetime


@dataclass
class FormGrid:
    """The sheet as cells (1-based `cells[row - 1][column - 1]`), its merged ranges, where the table's parts start,
    and the sheet row of each of the spec's rows."""

    cells: list[list[object]] = field(default_factory=list)
    merges: list[str] = field(default_factory=list)
    header_first: int = 0
    table_first: int = 0
    table_last: int = 0
    row_numbers: list[int] = field(default_factory=list)

    def append(self, values: dict[int, object] | None = None) -> int:
        """Add a row with the given {column: value}; returns its row number."""
        row: list[object] = [None] * WIDTH
        for column, value in (values or {}).items():
            row[column - 1] = value
        self.cells.append(row)
        return len(self.cells)

    def merge(self, first_row: int, first_column: int, last_row: int, last_column: int) -> None:
        self.merges.append(f"{cell_ref(first_row, first_column)}:{cell_ref(last_row, last_column)}")


def cell_ref(row: int, column: int) -> str:
    """`F12` for row 12, column 6."""
    return f"{get_column_letter(column)}{row}"


def vi_number(value: int | float) -> str:
    """`16.340,2`, `1.050`, `87,5`: thousands with dots, one decimal after a comma for non-integers."""
    text = f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"
    return text.replace(",", " ").replace(".", ",").replace(" ", ".")


def measure_columns(spec: FormSpec) -> dict[str, int]:
    """The column (1-based) of each measure in this form's header variant."""
    return {m: FIRST_MEASURE_COLUMN + i for i, m in enumerate(MEASURE_ORDER[spec.header_rows])}


def measure_labels(spec: FormSpec) -> dict[str, str]:
    """Each measure's label as the lowest header row writes it (under its merged group, if any)."""
    year, month = spec.year, spec.month
    if spec.header_rows == 1:
        return {
            "month": f"Thực hiện tháng {month}/{year}", "ytd": f"Lũy kế {month} tháng",
            "plan_year": f"Kế hoạch năm {year}", "vs_plan_pct": "So với KH năm (%)",
            "vs_last_year_pct": "So với cùng kỳ (%)",
        }
    return {
        "plan_year": f"Kế hoạch năm {year}", "month": f"Tháng {month}/{year}", "ytd": f"Lũy kế {month} tháng",
        "vs_plan_pct": "So với KH năm", "vs_last_year_pct": "So với cùng kỳ",
    }


def form_grid(spec: FormSpec) -> FormGrid:
    """The whole sheet of `spec`, cell by cell."""
    if spec.header_rows not in MEASURE_ORDER:
        raise ValueError(f"header_rows must be 1, 2 or 3, got {spec.header_rows}")
    grid = FormGrid()
    _title_block(grid, spec)
    grid.header_first = len(grid.cells) + 1
    _header(grid, spec)
    if spec.numbering_row:
        grid.append(_numbering(spec))
    grid.table_first = len(grid.cells) + 1
    columns = measure_columns(spec)
    for row in spec.rows:
        values: dict[int, object] = {1: row.stt, 2: row.label, 3: row.unit, NOTE_COLUMN: row.note}
        values.update({columns[m]: v for m, v in row.figures.items() if v is not None})
        grid.row_numbers.append(grid.append(values))
    grid.table_last = len(grid.cells)
    grid.append()
    _signatures(grid, spec)
    return grid


def _title_block(grid: FormGrid, spec: FormSpec) -> None:
    """Province and nation, department and motto, a blank row, the form's title lines, a blank row."""
    for left, right in ((PROVINCE, NATION), (spec.department_name_vi.upper(), MOTTO)):
        row = grid.append({1: left, 4: right})
        grid.merge(row, 1, row, 3)
        grid.merge(row, 4, row, WIDTH)
    grid.append()
    dated = f" ngày {spec.report_date:%d/%m/%Y}" if spec.report_date else ""
    for line in (
        FORM_TITLE,
        f"Kết quả thực hiện các chỉ tiêu chủ yếu tháng {spec.month} năm {spec.year}",
        f"(Kèm theo Báo cáo số {spec.report_number}/BC-{spec.department_code}{dated} của {spec.department_name_vi})",
    ):
        row = grid.append({1: line})
        grid.merge(row, 1, row, WIDTH)
    grid.append()


def _header(grid: FormGrid, spec: FormSpec) -> None:
    labels, columns = measure_labels(spec), measure_columns(spec)
    fixed = {1: "STT", 2: "Chỉ tiêu", 3: spec.unit_label, NOTE_COLUMN: "Ghi chú"}
    if spec.header_rows == 1:
        grid.append(fixed | {columns[m]: labels[m] for m in MEASURES})
        return
    plan, month, ytd = columns["plan_year"], columns["month"], columns["ytd"]
    vs_plan, vs_last_year = columns["vs_plan_pct"], columns["vs_last_year_pct"]
    lowest = {month: labels["month"], ytd: labels["ytd"], vs_plan: labels["vs_plan_pct"],
              vs_last_year: labels["vs_last_year_pct"]}
    if spec.header_rows == 2:
        top = grid.append(fixed | {plan: labels["plan_year"], month: "Thực hiện", vs_plan: "So sánh %"})
        grid.append(lowest)
        for column in (*fixed, plan):
            grid.merge(top, column, top + 1, column)
        grid.merge(top, month, top, ytd)
        grid.merge(top, vs_plan, top, vs_last_year)
        return
    if spec.top_group == "results":
        top = grid.append(fixed | {plan: "Kết quả thực hiện"})
        grid.append({plan: labels["plan_year"], month: "Thực hiện", vs_plan: "So sánh %"})
        grid.merge(top, plan, top, vs_last_year)
        grid.merge(top + 1, vs_plan, top + 1, vs_last_year)
    else:
        top = grid.append(fixed | {plan: f"Năm {spec.year}", vs_plan: "So sánh %"})
        grid.append({plan: labels["plan_year"], month: "Thực hiện"})
        grid.merge(top, plan, top, ytd)
        grid.merge(top, vs_plan, top + 1, vs_last_year)
    grid.append(lowest)
    for column in fixed:
        grid.merge(top, column, top + 2, column)
    grid.merge(top + 1, plan, top + 2, plan)
    grid.merge(top + 1, month, top + 1, ytd)


def _numbering(spec: FormSpec) -> dict[int, object]:
    """`(1) … (9)`, the vs-plan column as its formula: `(7)=(6)/(4)`."""
    columns = measure_columns(spec)
    numbers: dict[int, object] = {c: f"({c})" for c in range(1, WIDTH + 1)}
    numbers[columns["vs_plan_pct"]] = f"({columns['vs_plan_pct']})=({columns['ytd']})/({columns['plan_year']})"
    return numbers


def _signatures(grid: FormGrid, spec: FormSpec) -> None:
    """`Nơi nhận:` and its lines on the left, the preparer in the middle, the deputy director on the right."""
    right = 7
    lines = [
        {1: "Nơi nhận:", 3: "Người lập biểu", right: "KT. GIÁM ĐỐC"},
        {1: RECIPIENTS[0], right: "PHÓ GIÁM ĐỐC"},
        {1: RECIPIENTS[1]},
        {1: RECIPIENTS[2], right: "(Đã ký)"},
        {3: spec.preparer or None, right: spec.signer or None},
    ]
    for values in lines:
        row = grid.append(values)
        if right in values:
            grid.merge(row, right, row, WIDTH)


def expected_figures(spec: FormSpec) -> dict[tuple[str, str], tuple[int | float, str]]:
    """(indicator code, measure) → (value, cell such as `F12`) of every numeric figure of a catalogue indicator,
    in the file written from `spec` (XLSX or CSV: a CSV's row n is its n-th record)."""
    grid = form_grid(spec)
    columns = measure_columns(spec)
    expected = {}
    for row, number in zip(spec.rows, grid.row_numbers):
        if row.indicator_code is None:
            continue
        for measure, value in row.figures.items():
            if isinstance(value, (int, float)):
                expected[row.indicator_code, measure] = (value, cell_ref(number, columns[measure]))
    return expected


def write_form_xlsx(path: Path, spec: FormSpec) -> None:
    """The form as a one-sheet workbook: merged title and header cells, figures as numbers or as Vietnamese text."""
    grid = form_grid(spec)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = spec.sheet_name
    header_last = grid.table_first - 1
    thin = Side(style="thin")
    for row_number, row in enumerate(grid.cells, start=1):
        in_table = grid.header_first <= row_number <= grid.table_last
        for column, value in enumerate(row, start=1):
            if value is None and not in_table:
                continue
            cell = sheet.cell(row_number, column)
            if in_table:
                cell.border = Border(left=thin, right=thin, top=thin, bottom=thin)
            if value is None:
                continue
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if spec.text_numbers:
                    cell.value = vi_number(value)
                    cell.alignment = Alignment(horizontal="right")
                else:
                    cell.value = value
                    cell.number_format = "#,##0" if isinstance(value, int) else "#,##0.0"
            else:
                cell.value = value
            if row_number <= header_last:
                cell.font = Font(bold=True, italic=row_number == grid.header_first - 2)
                cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for kind_row, number in zip(spec.rows, grid.row_numbers):
        if kind_row.kind == "group":
            for column in (1, 2):
                sheet.cell(number, column).font = Font(bold=True)
    for merged in grid.merges:
        sheet.merge_cells(merged)
    for column, width in zip(range(1, WIDTH + 1), (6, 50, 11, 14, 14, 14, 13, 13, 18)):
        sheet.column_dimensions[get_column_letter(column)].width = width
    workbook.save(path)


def form_csv_bytes(spec: FormSpec, encoding: str = "utf-8-sig", delimiter: str = ";") -> bytes:
    """The form as Excel's "Save as CSV" writes it: every sheet row a record of WIDTH fields, a merged range's
    text in its first cell, figures as Vietnamese text. `encoding`: `utf-8-sig` (with BOM) or `cp1258`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    for row in form_grid(spec).cells:
        writer.writerow(["" if v is None else vi_number(v) if isinstance(v, (int, float)) else v for v in row])
    text = buffer.getvalue()
    if encoding == "cp1258":
        return encode_cp1258(text)
    if encoding == "utf-8-sig":
        return text.encode("utf-8-sig")
    raise ValueError(f"encoding must be 'utf-8-sig' or 'cp1258', got {encoding!r}")


def write_form_file(inbox: Path, form: FormFile) -> Path:
    """Write one form into `inbox` in its layout, with its submission time as mtime."""
    path = inbox / form.name
    if form.layout == XLSX:
        write_form_xlsx(path, form.spec)
    elif form.layout == CSV:
        path.write_bytes(form_csv_bytes(form.spec, "utf-8-sig", delimiter=";"))
    elif form.layout == CSV_CP1258:
        path.write_bytes(form_csv_bytes(form.spec, "cp1258", delimiter=","))
    else:
        raise ValueError(f"unknown form layout {form.layout!r}; known: {', '.join(LAYOUTS)}")
    stamp = form.submitted_at.timestamp()
    os.utime(path, (stamp, stamp))
    return path


def write_form_files(world: World, inbox: Path) -> list[Path]:
    """Write every department's figures form of the world into `inbox` (e.g. $IOC_HOME/inbox/dept_indicators)."""
    inbox.mkdir(parents=True, exist_ok=True)
    return [write_form_file(inbox, form) for form in world.form_files]
