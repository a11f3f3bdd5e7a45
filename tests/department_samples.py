"""Department files as the departments send them, for the tests of `ioc feeds draft` and `ioc feeds try`:
a Windows-1258 CSV with `;` and Vietnamese numbers, a workbook with a title block and date cells, a task
tracker's CSV export (UTF-8 with BOM, Vietnamese status labels, d/m/yyyy dates), a monthly figures form
("biểu số liệu") and files no reader can take.

Written with the csv module, str.encode and openpyxl only: nothing here imports the platform (`pipelines`) or
the simulator, so a reader bug cannot hide in a shared helper. Each generator is deterministic for its seed and
can plant bad rows; it returns where it put them as 1-based row numbers of the file or sheet, as a spreadsheet
numbers them (title block and header included), with the text each bad cell holds.
"""

from __future__ import annotations

import csv
import io
import random
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

# The five Vietnamese tone marks; Windows-1258 has them as combining characters (and no combining circumflex,
# breve or horn: those letters are precomposed, â ê ô ơ ư ă).
TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"
# Bytes Windows-1258 leaves undefined (and that cannot start a UTF-8 character either).
UNDECODABLE = b"\x81\x8d\x8f\x90"
UNKNOWN_UNIT = "SDL"  # no organisation unit has this code


@dataclass
class Written:
    """A written sample: its file, where its header is, how many data rows (for a form: figures) it holds and,
    if bad rows were planted, their 1-based file/sheet row numbers -> the bad text (None: a blank or a
    duplicate key). `labels`: the header as written; `cells`: for a form, the planted cells -> their text."""

    path: Path
    header_row: int
    data_rows: int
    labels: list[str]
    planted: dict[int, str | None] = field(default_factory=dict)
    cells: dict[str, str] = field(default_factory=dict)

    @property
    def would_load(self) -> int:
        return self.data_rows - (len(self.cells) if self.cells else len(self.planted))


# --- encodings ----------------------------------------------------------------------------------------------

def cp1258_bytes(text: str) -> bytes:
    """`text` in Windows-1258: each letter precomposed where the code page has it, else its base letter (â, ơ,
    ư… precomposed) followed by its tone mark. Raises ValueError unless the bytes decode back to the NFC text."""
    nfc = unicodedata.normalize("NFC", text)
    out = bytearray()
    for char in nfc:
        try:
            out += char.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        decomposed = unicodedata.normalize("NFD", char)
        base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in TONE_MARKS))
        tones = "".join(c for c in decomposed if c in TONE_MARKS)
        try:
            out += (base + tones).encode("cp1258")
        except UnicodeEncodeError as error:
            raise ValueError(f"{char!r} cannot be written in Windows-1258") from error
    data = bytes(out)
    if unicodedata.normalize("NFC", data.decode("cp1258")) != nfc:
        raise ValueError(f"Windows-1258 round trip changed {text[:60]!r}")
    return data


def csv_text(rows: list[list[str]], delimiter: str = ",") -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def vi_number(tenths: int, decimals: int = 1) -> str:
    """A number given in tenths (decimals=1) or units (decimals=0), the Vietnamese way: 1.234,5 / 1.050."""
    whole, fraction = divmod(abs(tenths), 10) if decimals else (abs(tenths), 0)
    text = f"{whole:,}".replace(",", ".")
    return ("-" if tenths < 0 else "") + text + (f",{fraction}" if decimals else "")


def vi_date(day: date, padded: bool = True) -> str:
    return f"{day:%d/%m/%Y}" if padded else f"{day.day}/{day.month}/{day.year}"


def _tenths(rng: random.Random, low: int, high: int) -> int:
    """A number of tenths whose last digit is never 0 (the column always shows a decimal part)."""
    value = rng.randrange(low, high)
    return value - value % 10 + rng.randrange(1, 10)


# --- (1) public investment projects: CSV, Windows-1258, ';', Vietnamese numbers -----------------------------

INVESTMENT_LABELS = ["Mã dự án", "Tên dự án", "Chủ đầu tư", "Tổng mức đầu tư (triệu đồng)",
                     "Kế hoạch vốn năm 2026 (triệu đồng)", "Số gói thầu", "Ngày phê duyệt", "Ghi chú"]
PROJECTS = ["Cải tạo, nâng cấp đường tỉnh 391", "Xây dựng Trường THCS Lê Thanh Nghị",
            "Nâng cấp Bệnh viện Đa khoa thành phố", "Kè chống sạt lở bờ sông Thái Bình",
            "Xây dựng Nhà văn hóa phường Việt Hòa", "Hệ thống xử lý nước thải khu đô thị phía Đông",
            "Chuyển đổi số trong quản lý đất đai", "Cải tạo chợ Thanh Hà", "Xây dựng cầu Ninh Giang mới",
            "Trung tâm giám sát, điều hành đô thị thông minh", "Trạm y tế xã Gia Lộc",
            "Đường trục trung tâm xã Kẻ Sặt"]
INVESTORS = ["BQLDA", "SXD", "SYT", "SGDDT", "SNNMT", "SKHCN"]
INVESTMENT_NOTES = ["", "Chậm giải phóng mặt bằng", "", "Đang thẩm định điều chỉnh", "", "Vướng thủ tục đất đai", ""]


def investment_rows(n: int, seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    totals = [_tenths(rng, 8_000, 950_000) for _ in range(11)]  # 800,1 .. 95.000,9 million đồng
    plans = [_tenths(rng, 3_000, 300_000) for _ in range(9)]
    approved = [date(2025, 3, 4) + timedelta(days=23 * k) for k in range(13)]
    return [[f"DA-2026-{seed}{i + 1:03d}", PROJECTS[i % len(PROJECTS)], INVESTORS[i % len(INVESTORS)],
             vi_number(totals[i % 11]), vi_number(plans[i % 9]), str(1 + (i * 5) % 14),
             vi_date(approved[i % 13]), INVESTMENT_NOTES[i % len(INVESTMENT_NOTES)]] for i in range(n)]


def investment_csv(path: Path, n: int = 60, seed: int = 1, plant: bool = False) -> Written:
    """Projects of the public investment plan, one row each (Mã dự án unique, every other column repeating),
    saved by Excel as CSV in Windows-1258 with `;`. Planted (n >= 32): an unparsable number, a word in the
    integer column, 31/02/2026, a blank project name, an unknown investor code, a duplicate project code."""
    rows = investment_rows(n, seed)
    planted: dict[int, str | None] = {}
    if plant:
        planted = _plant(rows, header_row=1, edits=[(3, 3, "12,3,4"), (8, 5, "abc"), (13, 6, "31/02/2026"),
                                                   (19, 1, ""), (24, 2, UNKNOWN_UNIT)],
                         duplicate=(6, 30, [0]))
    path.write_bytes(cp1258_bytes(csv_text([INVESTMENT_LABELS, *rows], delimiter=";")))
    return Written(path, 1, n, list(INVESTMENT_LABELS), planted)


def _plant(rows: list[list], header_row: int, edits: list[tuple[int, int, object]],
           duplicate: tuple[int, int, list[int]] | None) -> dict[int, str | None]:
    """Put each (row index, column index, value) of `edits` in `rows`; copy the key columns of row `duplicate[0]`
    into row `duplicate[1]`. Returns {file row: planted text} (1-based; data start under the header)."""
    planted: dict[int, str | None] = {}
    for i, j, value in edits:
        rows[i][j] = value
        planted[header_row + 1 + i] = str(value) if value not in ("", None) else None
    if duplicate:
        first, second, key = duplicate
        for j in key:
            rows[second][j] = rows[first][j]
        planted[header_row + 1 + first] = planted[header_row + 1 + second] = None
    return planted


# --- (2) food-safety inspections: XLSX, title block, date cells ----------------------------------------------

INSPECTION_LABELS = ["Số biên bản", "Ngày kiểm tra", "Tên cơ sở", "Địa chỉ", "Đơn vị kiểm tra", "Số lỗi vi phạm",
                     "Số tiền phạt (triệu đồng)", "Kết quả", "Ghi chú"]
PREMISES = ["Nhà hàng Hương Sen", "Bếp ăn tập thể Công ty May Việt Hòa", "Cửa hàng bánh mì Ngọc Lan",
            "Quán phở Thành Đông", "Bếp ăn Trường Tiểu học Lê Lợi", "Cơ sở sản xuất giò chả Đức Anh",
            "Siêu thị mini Hải Dương", "Nhà hàng tiệc cưới Phương Nam", "Cơ sở nước đá Gia Lộc",
            "Căng tin Bệnh viện Đa khoa thành phố", "Quán cơm bình dân Thanh Hà", "Cơ sở bún bánh Ninh Giang",
            "Khách sạn Hoàng Long", "Chợ đầu mối nông sản Kẻ Sặt"]
PLACES = ["Phường Hải Dương", "Phường Lê Thanh Nghị", "Phường Thành Đông", "Phường Việt Hòa", "Xã Gia Lộc",
          "Xã Thanh Hà"]
INSPECTORS = ["SYT", "SCT", "SNNMT", "CA"]
INSPECTION_NOTES = ["", "Tái kiểm tra sau 30 ngày", "", "", "Đã khắc phục tại chỗ"]
INSPECTION_TITLE = ["UBND THÀNH PHỐ HẢI PHÒNG", "DANH SÁCH CƠ SỞ ĐƯỢC KIỂM TRA AN TOÀN THỰC PHẨM",
                    "(Đợt kiểm tra Tết Trung thu và mùa lễ hội năm 2026)", None]


def inspection_rows(n: int, seed: int) -> list[list[object]]:
    rng = random.Random(seed)
    days = [date(2026, 9, 1) + timedelta(days=4 * k + rng.randrange(0, 3)) for k in range(15)]
    fines = [rng.randrange(1, 400) + 0.5 for _ in range(7)]  # 1,5 .. 399,5 million đồng
    rows = []
    for i in range(n):
        errors = (i * 7) % 6
        rows.append([f"BB-2026-{seed}{i + 1:03d}", days[i % 15], PREMISES[i % len(PREMISES)],
                     PLACES[i % len(PLACES)], INSPECTORS[i % len(INSPECTORS)], errors, fines[i % 7],
                     "Đạt" if errors == 0 else "Không đạt", INSPECTION_NOTES[i % len(INSPECTION_NOTES)] or None])
    return rows


def inspections_xlsx(path: Path, n: int = 45, seed: int = 1, plant: bool = False) -> Written:
    """Inspections, one row each, under a four-row title block (merged title cells, a blank row): the inspection
    day as a real date cell, errors as integer cells, fines as number cells. Planted (n >= 29): 31/02/2026 typed
    as text in the date column, a word in the integer column, an unparsable number, a blank premises name,
    an unknown inspecting unit, a duplicate record number."""
    rows = inspection_rows(n, seed)
    header_row = len(INSPECTION_TITLE) + 1
    planted: dict[int, str | None] = {}
    if plant:
        planted = _plant(rows, header_row, edits=[(1, 1, "31/02/2026"), (6, 5, "abc"), (11, 6, "12,3,4"),
                                                  (16, 2, None), (21, 4, UNKNOWN_UNIT)],
                         duplicate=(9, 28, [0]))
    book = Workbook()
    sheet = book.active
    sheet.title = "Danh sách"
    width = len(INSPECTION_LABELS)
    for r, text in enumerate(INSPECTION_TITLE, start=1):
        if text is None:
            continue
        sheet.cell(r, 1, text).font = Font(bold=r <= 2, italic=r == 3)
        sheet.cell(r, 1).alignment = Alignment(horizontal="center")
        sheet.merge_cells(start_row=r, start_column=1, end_row=r, end_column=3 if r == 1 else width)
    for j, label in enumerate(INSPECTION_LABELS, start=1):
        sheet.cell(header_row, j, label).font = Font(bold=True)
    for i, row in enumerate(rows):
        for j, value in enumerate(row, start=1):
            if value is None:
                continue
            cell = sheet.cell(header_row + 1 + i, j, value)
            if isinstance(value, date):
                cell.number_format = "DD/MM/YYYY"
            elif isinstance(value, float):
                cell.number_format = "#,##0.0"
    for j, w in enumerate((16, 13, 36, 22, 10, 9, 12, 11, 26), start=1):
        sheet.column_dimensions[get_column_letter(j)].width = w
    book.save(path)
    return Written(path, header_row, n, list(INSPECTION_LABELS), planted)


# --- (3) task tracker export: CSV, UTF-8 with BOM, status labels, d/m/yyyy ---------------------------------

# The labels of schemas/feeds/directive_tasks.yaml, in its order.
DIRECTIVE_TASK_LABELS = ["Mã nhiệm vụ", "Văn bản giao", "Người giao", "Đơn vị chủ trì", "Nội dung nhiệm vụ",
                         "Ngày giao", "Hạn hoàn thành", "Trạng thái", "Ngày hoàn thành", "Cập nhật lúc"]
# Another tracker's export of the same columns (the other labels directive_tasks.yaml knows, a new id label).
TRACKER_LABELS = ["Mã công việc", "Số văn bản", "Lãnh đạo giao", "Mã đơn vị", "Tên nhiệm vụ", "Ngày giao",
                  "Thời hạn", "Tình trạng", "Ngày hoàn thành", "Ngày cập nhật"]
STATUSES = ["Chưa thực hiện", "Đang thực hiện", "Hoàn thành", "Đã hủy"]
UNSEEN_STATUS = "Tạm dừng"
DOCUMENTS = ["Thông báo số 112/TB-UBND", "Thông báo số 145/TB-UBND", "Kết luận số 08/KL-UBND",
             "Công văn số 2310/UBND-VP", "Thông báo số 201/TB-UBND", "Chỉ thị số 05/CT-UBND"]
LEADERS = ["Nguyễn Văn Tùng", "Lê Ngọc Châu", "Trần Đức Thắng", "Phạm Thị Hằng"]
ASSIGNEES = ["SXD", "SYT", "STC", "SCT", "SNV", "SGDDT", "SNNMT", "CA"]
TASKS = ["Rà soát quy hoạch chi tiết khu công nghiệp phía Tây", "Đẩy nhanh giải ngân vốn đầu tư công",
         "Kiểm tra an toàn phòng cháy tại chợ truyền thống", "Hoàn thiện hồ sơ nâng hạng đô thị",
         "Triển khai tiêm chủng mở rộng đợt 2", "Xử lý dứt điểm phản ánh về ngập úng",
         "Chuẩn bị cơ sở vật chất năm học mới", "Tổng hợp báo cáo cải cách hành chính quý III",
         "Phòng chống dịch bệnh trên đàn gia cầm", "Rà soát thủ tục hành chính liên thông"]
TASK_TIME = datetime(2026, 10, 2, 8, 15, 0)


def task_rows(n: int, seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    assigned = [date(2026, 1, 5) + timedelta(days=19 * k + rng.randrange(0, 5)) for k in range(11)]
    updated = [TASK_TIME + timedelta(days=k, hours=3 * k, minutes=7 * k, seconds=k) for k in range(9)]
    rows = []
    for i in range(n):
        given = assigned[i % 11]
        status = STATUSES[i % 4]
        done = vi_date(given + timedelta(days=10 + i % 15)) if status == "Hoàn thành" else ""
        rows.append([f"NV-2026-{seed}{i + 1:03d}", DOCUMENTS[i % len(DOCUMENTS)], LEADERS[i % len(LEADERS)],
                     ASSIGNEES[i % len(ASSIGNEES)], TASKS[i % len(TASKS)], vi_date(given, padded=False),
                     vi_date(given + timedelta(days=(30, 45, 60)[i % 3])), status, done,
                     f"{updated[i % 9]:%d/%m/%Y %H:%M:%S}"])
    return rows


def task_export_csv(path: Path, n: int = 50, seed: int = 1, plant: bool = False,
                    labels: list[str] = DIRECTIVE_TASK_LABELS) -> Written:
    """A task tracker's export, one row per task (its code unique; every other column repeating), UTF-8 with BOM:
    the assignment day written d/m/yyyy without zeros (5/1/2026), the other days dd/mm/yyyy, the last update
    dd/mm/yyyy HH:MM:SS, the completion day blank unless done. Planted (n >= 34): 31/02/2026 as a deadline, a
    status label no first sample has, a blank task title, an unknown unit code, an impossible update time, a
    duplicate task (same code and same update time)."""
    if len(labels) != len(DIRECTIVE_TASK_LABELS):
        raise ValueError(f"labels must name the {len(DIRECTIVE_TASK_LABELS)} columns")
    rows = task_rows(n, seed)
    planted: dict[int, str | None] = {}
    if plant:
        planted = _plant(rows, header_row=1, edits=[(2, 6, "31/02/2026"), (7, 7, UNSEEN_STATUS), (12, 4, ""),
                                                   (17, 3, UNKNOWN_UNIT), (27, 9, "25/13/2026 08:15:00")],
                         duplicate=(21, 33, [0, 9]))
    path.write_bytes(csv_text([list(labels), *rows]).encode("utf-8-sig"))
    return Written(path, 1, n, list(labels), planted)


# --- (4) a monthly figures form ("biểu số liệu"), XLSX -------------------------------------------------------

FORM_WIDTH = 9  # A STT, B Chỉ tiêu, C Đơn vị tính, D plan, E month, F year to date, G vs plan, H vs last year, I note
MEASURE_COLUMNS = {"plan_year": 4, "month": 5, "ytd": 6, "vs_plan_pct": 7, "vs_last_year_pct": 8}
ALL_MEASURES = tuple(MEASURE_COLUMNS)


@dataclass(frozen=True)
class FormIndicator:
    stt: str | None
    label: str
    unit: str | None
    kind: str = "indicator"  # group (no figures), indicator, part ("Trong đó: …", of the indicator above)
    base: int = 0  # this indicator's typical month, in units (decimals=0) or tenths (decimals=1)
    decimals: int = 0
    measures: tuple[str, ...] = ALL_MEASURES
    rate: bool = False  # a level in % (plan and this month only)


# Culture, sports and tourism indicators: none is in schemas/indicators/kt_xh_thang.yaml.
TOURISM_FORM = (
    FormIndicator("I", "Du lịch", None, kind="group"),
    FormIndicator("1", "Tổng lượt khách du lịch", "lượt khách", base=385_000),
    FormIndicator(None, "Trong đó: Khách quốc tế", "lượt khách", kind="part", base=46_200),
    FormIndicator("2", "Tổng thu từ khách du lịch", "tỷ đồng", base=18_452, decimals=1),
    FormIndicator("3", "Số cơ sở lưu trú du lịch được công nhận mới", "cơ sở", base=6,
                  measures=("plan_year", "month", "ytd", "vs_plan_pct")),
    FormIndicator("II", "Văn hóa, thể thao", None, kind="group"),
    FormIndicator("4", "Số buổi biểu diễn nghệ thuật phục vụ nhân dân", "buổi", base=42),
    FormIndicator("5", "Số giải thể thao cấp thành phố được tổ chức", "giải", base=5),
    FormIndicator("6", "Tỷ lệ hộ gia đình đạt danh hiệu gia đình văn hóa", "%", base=905, decimals=1,
                  measures=("plan_year", "month"), rate=True),
)
FORM_TITLE_ROWS = 7  # nation/province, department/motto, blank, three title lines, blank
FORM_SIGNATURES = [
    {1: "Nơi nhận:", 3: "Người lập biểu", 7: "KT. GIÁM ĐỐC"},
    {1: "- Như trên;", 7: "PHÓ GIÁM ĐỐC"},
    {1: "- UBND thành phố (để b/c);"},
    {1: "- Lưu: VT.", 7: "(Đã ký)"},
    {3: "Đỗ Thị Lan", 7: "Vũ Minh Quang"},
]


def monthly(indicator: FormIndicator, month: int) -> int:
    """The indicator's figure for a month of 2026 (same series in every file: the year to date adds up)."""
    return indicator.base * (100 + (month * 37 % 11) * 2) // 100


def form_figures(indicator: FormIndicator, month: int, whole: FormIndicator | None) -> dict[str, str]:
    """The figures the form writes for this indicator, as Vietnamese text; parts stay below their whole
    (plan, month and year to date) and their percentages below the whole's."""
    d = indicator.decimals
    if indicator.rate:
        return {"plan_year": vi_number(925, 1), "month": vi_number(indicator.base + month, 1)}
    month_value = monthly(indicator, month)
    ytd = sum(monthly(indicator, m) for m in range(1, month + 1))
    plan = sum(monthly(indicator, m) for m in range(1, 13)) * 108 // 100
    if whole is not None:  # a part: its plan is a smaller share of the whole's than its months are
        plan = min(plan * 110 // 100, sum(monthly(whole, m) for m in range(1, 13)) * 108 // 100)
    figures = {"plan_year": vi_number(plan, d), "month": vi_number(month_value, d), "ytd": vi_number(ytd, d),
               "vs_plan_pct": vi_number(round(ytd * 1000 / plan), 1),
               "vs_last_year_pct": vi_number(1_035 + (month * 13) % 70 - (30 if whole is not None else 0), 1)}
    return {m: v for m, v in figures.items() if m in indicator.measures}


def form_xlsx(path: Path, period: str = "2026-10", unit_code: str = "SVHTTDL",
              unit_name: str = "Sở Văn hóa, Thể thao và Du lịch", plant: bool = False,
              indicators: tuple[FormIndicator, ...] = TOURISM_FORM) -> Written:
    """A department's form for `period` (YYYY-MM): a title block naming the month, a two-row header with
    `Thực hiện` merged over `Tháng M/YYYY` and `Lũy kế M tháng` and `So sánh %` over the two comparisons, the
    numbering row (1)…(9), group rows I and II, indicators and a "Trong đó:" part, figures as Vietnamese text,
    signatures below. `data_rows` counts the figures. Planted: `abc` and `12,3,4` in the vs-last-year column of
    indicators 2 and 4 (rows with other figures, outside every cross-cell rule)."""
    year, month = int(period[:4]), int(period[5:7])
    grid: list[dict[int, object]] = []
    merges: list[tuple[int, int, int, int]] = []

    def add(values: dict[int, object] | None = None) -> int:
        grid.append(values or {})
        return len(grid)

    for left, right in (("UBND THÀNH PHỐ HẢI PHÒNG", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"),
                        (unit_name.upper(), "Độc lập - Tự do - Hạnh phúc")):
        r = add({1: left, 4: right})
        merges += [(r, 1, r, 3), (r, 4, r, FORM_WIDTH)]
    add()
    for line in ("BIỂU SỐ LIỆU", f"Kết quả thực hiện các chỉ tiêu chủ yếu tháng {month} năm {year}",
                 f"(Kèm theo Báo cáo số {200 + month}/BC-{unit_code} của {unit_name})"):
        r = add({1: line})
        merges.append((r, 1, r, FORM_WIDTH))
    add()
    assert len(grid) == FORM_TITLE_ROWS
    top = add({1: "STT", 2: "Chỉ tiêu", 3: "Đơn vị tính", 4: f"Kế hoạch năm {year}", 5: "Thực hiện",
               7: "So sánh %", 9: "Ghi chú"})
    add({5: f"Tháng {month}/{year}", 6: f"Lũy kế {month} tháng", 7: "So với KH năm", 8: "So với cùng kỳ"})
    merges += [(top, c, top + 1, c) for c in (1, 2, 3, 4, 9)] + [(top, 5, top, 6), (top, 7, top, 8)]
    add({c: f"({c})" for c in range(1, FORM_WIDTH + 1)})
    figures_count, cells, whole = 0, {}, None
    for indicator in indicators:
        values: dict[int, object] = {1: indicator.stt, 2: indicator.label, 3: indicator.unit}
        if indicator.kind != "group":
            figures = form_figures(indicator, month, whole if indicator.kind == "part" else None)
            values.update({MEASURE_COLUMNS[m]: v for m, v in figures.items()})
            figures_count += len(figures)
            if indicator.kind == "indicator":
                whole = indicator
        r = add({c: v for c, v in values.items() if v is not None})
        if plant and indicator.stt in ("2", "4"):
            bad = "abc" if indicator.stt == "2" else "12,3,4"
            grid[r - 1][MEASURE_COLUMNS["vs_last_year_pct"]] = bad
            cells[f"{get_column_letter(MEASURE_COLUMNS['vs_last_year_pct'])}{r}"] = bad
    add()
    for values in FORM_SIGNATURES:
        r = add(values)
        if 7 in values:
            merges.append((r, 7, r, FORM_WIDTH))

    book = Workbook()
    sheet = book.active
    sheet.title = "Biểu số liệu"
    for r, values in enumerate(grid, start=1):
        for c, value in values.items():
            cell = sheet.cell(r, c, value)
            if top <= r <= top + 1 or r in (4, 5):
                cell.font = Font(bold=True)
                cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
            elif isinstance(value, str) and c in MEASURE_COLUMNS.values() and r > top + 2:
                cell.alignment = Alignment(horizontal="right")
    for merge in merges:
        sheet.merge_cells(start_row=merge[0], start_column=merge[1], end_row=merge[2], end_column=merge[3])
    for c, w in enumerate((6, 48, 11, 14, 13, 13, 12, 12, 16), start=1):
        sheet.column_dimensions[get_column_letter(c)].width = w
    book.save(path)
    planted = {int(cell[1:]): text for cell, text in cells.items()}
    labels = ["STT", "Chỉ tiêu", "Đơn vị tính", f"Kế hoạch năm {year}", f"Tháng {month}/{year}",
              f"Lũy kế {month} tháng", "So với KH năm", "So với cùng kỳ", "Ghi chú"]
    return Written(path, top, figures_count, labels, planted, cells)


def form_indicator_names(indicators: tuple[FormIndicator, ...] = TOURISM_FORM) -> list[str]:
    """The names of the form's indicators (groups left out, "Trong đó: " taken off a part)."""
    return [i.label.removeprefix("Trong đó: ") for i in indicators if i.kind != "group"]


# --- files no reader can take ---------------------------------------------------------------------------------

def empty_file(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def header_only_csv(path: Path) -> Path:
    path.write_bytes(csv_text([["Mã hồ sơ", "Tên thủ tục", "Ngày tiếp nhận", "Trạng thái"]]).encode("utf-8"))
    return path


def title_only_xlsx(path: Path) -> Path:
    """A workbook whose only sheet holds a merged title line and nothing else."""
    book = Workbook()
    sheet = book.active
    sheet.title = "Báo cáo"
    sheet["A1"] = "BÁO CÁO TÌNH HÌNH THỰC HIỆN NHIỆM VỤ THÁNG 10/2026"
    sheet.merge_cells("A1:F1")
    book.save(path)
    return path


def empty_sheet_xlsx(path: Path) -> Path:
    Workbook().save(path)
    return path


def undecodable_csv(path: Path) -> Path:
    """A UTF-8 CSV with four bytes inserted that neither UTF-8 nor Windows-1258 can decode."""
    text = csv_text([["Mã đơn vị", "Tên chỉ tiêu", "Giá trị"], ["SYT", "Số lượt khám", "1.234"],
                     ["SCT", "Kim ngạch xuất khẩu", "56,7"]])
    data = text.encode("utf-8")
    cut = data.index(b"SCT")
    data = data[:cut] + UNDECODABLE + data[cut:]
    for encoding in ("utf-8", "cp1258"):
        try:
            data.decode(encoding)
        except UnicodeDecodeError:
            continue
        raise AssertionError(f"the bytes decode as {encoding}")
    path.write_bytes(data)
    return path
