"""The briefing as a printable PDF (fpdf2) laid out as a Vietnamese administrative report (Nghị định
30/2020/NĐ-CP): the issuing unit and the national heading side by side, the number and the place and date,
the title and its summary, the addressee, the five sections (KPIs, the socio-economic indicators from the forms, reports, tasks, data quality), then the recipients and the signature.

The font is Liberation Serif (metric-compatible with Times New Roman, which the decree names), embedded
with every Vietnamese glyph; it comes from the Debian package fonts-liberation2 (`make` installs it).
"""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from pipelines.briefing.content import REPORT_STATUS_VI, STATUS_VI, Monthly
from pipelines.briefing.words import change, long_date, number, period_words, short_date, to_date, value

FONT_DIRS = (Path("/usr/share/fonts/truetype/liberation2"), Path("/usr/share/fonts/truetype/liberation"))
FONT_FILES = {
    "": "LiberationSerif-Regular.ttf",
    "B": "LiberationSerif-Bold.ttf",
    "I": "LiberationSerif-Italic.ttf",
    "BI": "LiberationSerif-BoldItalic.ttf",
}
FONT = "LiberationSerif"
BODY = 13  # points: the decree's 13–14
TABLE = 10.5
HEADINGS = FontFace(emphasis="BOLD", fill_color=(230, 234, 242))


def font_dir() -> Path:
    for folder in FONT_DIRS:
        if all((folder / f).exists() for f in FONT_FILES.values()):
            return folder
    raise FileNotFoundError(
        "Liberation Serif is not installed (it renders the briefing's Vietnamese): "
        "run `make install`, or `apt-get install fonts-liberation2`"
    )


class Document(FPDF):
    def header(self) -> None:
        if self.page_no() > 1:  # pages from the second are numbered at the top, centred
            self.set_font(FONT, "", 12)
            self.set_y(10)
            self.cell(0, 6, str(self.page_no()), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.set_y(self.t_margin)


def write_pdf(b: Monthly, target: Path) -> Path:
    pdf = Document(orientation="P", unit="mm", format="A4")
    folder = font_dir()
    for style, file in FONT_FILES.items():
        pdf.add_font(FONT, style, str(folder / file))
    pdf.set_margins(30, 20, 15)  # left 30–35 mm, top 20–25, right 15–20
    pdf.set_auto_page_break(True, margin=20)
    pdf.set_title(f"Báo cáo {b.month_words}")
    pdf.set_author(b.letterhead.issuer)
    pdf.set_creator("IOC data platform")
    pdf.add_page()
    _heading(pdf, b)
    _title(pdf, b)
    _kpis(pdf, b)
    _indicators(pdf, b)
    _reports(pdf, b)
    _tasks(pdf, b)
    _quality(pdf, b)
    _closing(pdf, b)
    target.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(target))
    return target


def _heading(pdf: FPDF, b: Monthly) -> None:
    left_w, gap = 78, 2
    right_w = pdf.epw - left_w - gap
    top = pdf.get_y()
    x_left, x_right = pdf.l_margin, pdf.l_margin + left_w + gap
    pdf.set_xy(x_left, top)
    for style, text in (("", b.letterhead.issuer_parent), ("B", b.letterhead.issuer)):
        pdf.set_font(FONT, style, 12)
        pdf.multi_cell(
            left_w, 5.5, "\n".join(_balanced(pdf, text, left_w - 2)), align="C", new_x=XPos.LEFT, new_y=YPos.NEXT
        )
    left_bottom = pdf.get_y()
    pdf.line(x_left + left_w / 2 - 15, left_bottom + 0.8, x_left + left_w / 2 + 15, left_bottom + 0.8)
    pdf.set_xy(x_right, top)
    pdf.set_font(FONT, "B", 12)
    pdf.cell(right_w, 5.5, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_font(FONT, "B", 13)
    pdf.cell(right_w, 6, "Độc lập - Tự do - Hạnh phúc", align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
    motto = pdf.get_string_width("Độc lập - Tự do - Hạnh phúc")
    right_bottom = pdf.get_y()
    pdf.line(x_right + (right_w - motto) / 2, right_bottom + 0.8, x_right + (right_w + motto) / 2, right_bottom + 0.8)
    row = max(left_bottom, right_bottom) + 4
    pdf.set_xy(x_left, row)
    pdf.set_font(FONT, "", 13)
    pdf.cell(left_w, 6, f"Số: {b.reference}", align="C")
    pdf.set_xy(x_right, row)
    pdf.set_font(FONT, "I", 13)
    pdf.cell(
        right_w, 6, f"{b.letterhead.place}, {long_date(b.issued_on)}", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    pdf.ln(8)


def _balanced(pdf: FPDF, text: str, width: float) -> list[str]:
    """A heading on one line if it fits, else on two of about the same length (ỦY BAN NHÂN DÂN / THÀNH PHỐ
    HẢI PHÒNG), as the decree's examples break them, rather than a last line of one word."""
    words = text.split()
    if pdf.get_string_width(text) <= width or len(words) < 2:
        return [text]
    best = min(
        range(1, len(words)),
        key=lambda i: max(pdf.get_string_width(" ".join(words[:i])), pdf.get_string_width(" ".join(words[i:]))),
    )
    return [" ".join(words[:best]), " ".join(words[best:])]


def _title(pdf: FPDF, b: Monthly) -> None:
    pdf.set_font(FONT, "B", 14)
    pdf.cell(0, 7, "BÁO CÁO", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "B", 13)
    pdf.multi_cell(
        0, 6.5, f"Tình hình vận hành, chỉ đạo điều hành {b.month_words}", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    summary_w = 40
    pdf.line(
        pdf.l_margin + (pdf.epw - summary_w) / 2,
        pdf.get_y() + 1,
        pdf.l_margin + (pdf.epw + summary_w) / 2,
        pdf.get_y() + 1,
    )
    pdf.ln(5)
    pdf.set_font(FONT, "", BODY)
    pdf.cell(0, 7, f"Kính gửi: {b.letterhead.addressee}.", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    red = sum(k.status == "red" for k in b.kpis)
    _paragraph(
        pdf,
        f"{b.letterhead.issuer.capitalize()} báo cáo tình hình vận hành, chỉ đạo điều hành "
        f"{b.month_words} của {b.province_name} (số liệu tính đến {b.as_of.astimezone(_zone()):%H} giờ "
        f"{b.as_of.astimezone(_zone()):%M} {long_date(b.as_of.astimezone(_zone()).date())}): "
        f"{red} trong {len(b.kpis)} chỉ số không đạt, {len(b.reports)} báo cáo định kỳ nộp trễ hoặc "
        f"chưa nộp, {len(b.tasks)} nhiệm vụ quá hạn. Cụ thể như sau:",
    )


def _zone():
    from pipelines.calendar.deadlines import TIMEZONE

    return TIMEZONE


def _section(pdf: FPDF, title: str) -> None:
    pdf.ln(2)
    pdf.set_font(FONT, "B", BODY)
    pdf.multi_cell(0, 7, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _paragraph(pdf: FPDF, text: str, style: str = "") -> None:
    pdf.set_font(FONT, style, BODY)
    pdf.multi_cell(0, 6.5, "        " + text, align="J", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _table(pdf: FPDF, header: list[str], rows: list[list[str]], widths: tuple, align: tuple) -> None:
    pdf.set_font(FONT, "", TABLE)
    with pdf.table(
        col_widths=widths,
        text_align=align,
        line_height=5,
        headings_style=HEADINGS,
        width=pdf.epw,
        align="LEFT",
        repeat_headings=1,
        padding=1,
    ) as table:
        heading = table.row()
        for text in header:
            heading.cell(text, align="CENTER")
        for data in rows:
            row = table.row()
            for text in data:
                row.cell(text)
    pdf.ln(2)


def _kpi_value(k, month: str) -> str:
    """A KPI's value, with its period when it is not the month's (the latest complete one before it) and "to
    date" when its period is still running."""
    text = value(k.value, k.unit_of_measure, k.decimals)
    if k.period and k.period != month:
        text += f"\n({period_words(k.period)}" + (f", {to_date(k.to_date)})" if k.period_state == "running" else ")")
    elif k.period_state == "running":
        text += f"\n({to_date(k.to_date)})"
    return text


def _kpis(pdf: FPDF, b: Monthly) -> None:
    _section(pdf, "I. CÁC CHỈ SỐ KPI")
    rows = [
        [
            str(i),
            k.name + (" (*)" if k.degraded else "") + (" (**)" if k.running_period else ""),
            _kpi_value(k, b.period.key),
            value(k.target, k.unit_of_measure, k.decimals),
            STATUS_VI[k.status],
            change(k.change, k.unit_of_measure, k.decimals),
        ]
        for i, k in enumerate(b.kpis, start=1)
    ]
    _table(
        pdf,
        ["TT", "Chỉ số", "Giá trị", "Mục tiêu", "Trạng thái", "So với kỳ trước"],
        rows,
        (7, 53, 24, 24, 20, 27),
        ("CENTER", "LEFT", "RIGHT", "RIGHT", "CENTER", "RIGHT"),
    )
    degraded = [k for k in b.kpis if k.degraded]
    if degraded:
        pdf.set_font(FONT, "I", 11)
        pdf.multi_cell(
            0,
            5.5,
            "(*) Số liệu chưa đủ tin cậy: " + "; ".join(f"{k.name}: {k.why_degraded}" for k in degraded) + ".",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
    running = [k for k in b.kpis if k.running_period]
    if running:  # a period still running is shown to date and, unless the KPI may be, not judged
        pdf.set_font(FONT, "I", 11)
        pdf.multi_cell(
            0,
            5.5,
            "(**) Kỳ chưa kết thúc, số liệu tạm tính: "
            + "; ".join(
                f"{k.name}: {period_words(k.running_period)} {to_date(k.running_to_date)}: "
                f"{value(k.running_value, k.unit_of_measure, k.decimals)}"
                + (" (chưa đánh giá)" if k.running_status == "running" else f" ({STATUS_VI[k.running_status].lower()})")
                for k in running
            )
            + ".",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )


def _indicators(pdf: FPDF, b: Monthly) -> None:
    """The province's main socio-economic indicators, as the departments reported them on their forms."""
    _section(pdf, "II. CHỈ TIÊU KINH TẾ - XÃ HỘI CHỦ YẾU")
    reported = [k for k in b.indicators if k.value is not None]
    if not reported:
        _paragraph(pdf, "Chưa có số liệu chỉ tiêu kinh tế - xã hội do các sở báo cáo cho kỳ này.")
        return
    rows = [
        [
            str(i),
            k.name + (" (*)" if k.degraded else ""),
            k.reported_by or "",
            _kpi_value(k, b.period.key),
            value(k.target, k.unit_of_measure, k.decimals),
            STATUS_VI[k.status],
        ]
        for i, k in enumerate(reported, start=1)
    ]
    _table(
        pdf,
        ["TT", "Chỉ tiêu", "Đơn vị báo cáo", "Giá trị", "Mục tiêu", "Trạng thái"],
        rows,
        (7, 58, 32, 24, 24, 20),
        ("CENTER", "LEFT", "LEFT", "RIGHT", "RIGHT", "CENTER"),
    )
    pdf.set_font(FONT, "I", 11)
    pdf.multi_cell(
        0,
        5.5,
        "Số liệu theo biểu của các sở: " + "; ".join(f"{k.name}: {k.figures}" for k in reported if k.figures) + ".",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    missing = [k for k in b.indicators if k.value is None]
    if missing:
        _paragraph(pdf, "Chưa có số liệu: " + "; ".join(k.name for k in missing) + ".")


def _reports(pdf: FPDF, b: Monthly) -> None:
    _section(pdf, "III. BÁO CÁO ĐỊNH KỲ NỘP TRỄ, CHƯA NỘP")
    if not b.reports:
        _paragraph(pdf, "Các đơn vị đã nộp đầy đủ, đúng hạn báo cáo định kỳ trong tháng.")
        return
    rows = [
        [
            str(i),
            r.unit_name,
            r.feed_name,
            f"Tháng {r.period[5:]}/{r.period[:4]}",
            REPORT_STATUS_VI[r.status],
            short_date(r.due_date),
            number(r.working_days_late),
        ]
        for i, r in enumerate(b.reports, start=1)
    ]
    _table(
        pdf,
        ["TT", "Đơn vị", "Báo cáo", "Kỳ", "Tình trạng", "Hạn nộp", "Số ngày làm việc trễ"],
        rows,
        (7, 45, 38, 20, 18, 21, 16),
        ("CENTER", "LEFT", "LEFT", "CENTER", "CENTER", "CENTER", "RIGHT"),
    )


def _tasks(pdf: FPDF, b: Monthly) -> None:
    _section(pdf, "IV. NHIỆM VỤ ĐƯỢC GIAO QUÁ HẠN")
    if not b.tasks:
        _paragraph(pdf, "Không có nhiệm vụ quá hạn.")
        return
    rows = [
        [
            str(i),
            t.unit_name,
            t.source_document or "—",
            f"{t.title} ({t.task_id})",
            short_date(t.due_on),
            number(t.days_late),
        ]
        for i, t in enumerate(b.tasks, start=1)
    ]
    _table(
        pdf,
        ["TT", "Đơn vị chủ trì", "Văn bản giao", "Nhiệm vụ", "Hạn", "Số ngày quá hạn"],
        rows,
        (7, 35, 30, 61, 19, 13),
        ("CENTER", "LEFT", "LEFT", "LEFT", "CENTER", "RIGHT"),
    )


def _quality(pdf: FPDF, b: Monthly) -> None:
    _section(pdf, "V. GHI CHÚ VỀ CHẤT LƯỢNG DỮ LIỆU")
    notes = []
    for q in b.quality:
        said = (
            ([f"{number(q.failed_batches)} lô dữ liệu không nạp được"] if q.failed_batches else [])
            + ([f"{number(q.rows_quarantined)} dòng bị cách ly trong tháng"] if q.rows_quarantined else [])
            + ([f"{number(q.quarantine_open)} dòng đang chờ đơn vị sửa"] if q.quarantine_open else [])
            + (["nguồn đang chậm cập nhật"] if q.stale else [])
        )
        if said:
            notes.append(f"- {q.feed_name} ({q.owner}): {', '.join(said)}.")
    if not notes:
        notes = ["- Các nguồn dữ liệu được cập nhật đúng nhịp, không có dòng dữ liệu bị cách ly."]
    pdf.set_font(FONT, "", BODY)
    for note in notes:
        pdf.multi_cell(0, 6.5, note, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    _paragraph(pdf, f"{b.letterhead.issuer.capitalize()} kính báo cáo {b.letterhead.addressee}./.")


def _closing(pdf: FPDF, b: Monthly) -> None:
    pdf.ln(4)
    if pdf.get_y() > pdf.h - 70:
        pdf.add_page()
    top = pdf.get_y()
    left_w = pdf.epw * 0.52
    pdf.set_font(FONT, "BI", 12)
    pdf.cell(left_w, 6, "Nơi nhận:", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 11)
    for recipient in b.letterhead.recipients:
        pdf.multi_cell(left_w, 5, f"- {recipient};", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_xy(pdf.l_margin + left_w, top)
    pdf.set_font(FONT, "B", 13)
    pdf.cell(pdf.epw - left_w, 6.5, b.letterhead.signer_title, align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
    if b.letterhead.signer_name:
        pdf.ln(22)
        pdf.cell(pdf.epw - left_w, 6.5, b.letterhead.signer_name, align="C")
