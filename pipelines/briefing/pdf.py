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

from pipelines import wording
from pipelines.briefing.content import Monthly
from pipelines.briefing.words import change, long_date, number, period_words, short_date, to_date, value
from pipelines.calendar.deadlines import TIMEZONE

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
    pdf.set_title(wording.text("briefing.pdf_title", month=b.month_words))
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
    pdf.cell(right_w, 5.5, wording.text("briefing.national_name"), align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_font(FONT, "B", 13)
    motto_words = wording.text("briefing.national_motto")
    pdf.cell(right_w, 6, motto_words, align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
    motto = pdf.get_string_width(motto_words)
    right_bottom = pdf.get_y()
    pdf.line(x_right + (right_w - motto) / 2, right_bottom + 0.8, x_right + (right_w + motto) / 2, right_bottom + 0.8)
    row = max(left_bottom, right_bottom) + 4
    pdf.set_xy(x_left, row)
    pdf.set_font(FONT, "", 13)
    pdf.cell(left_w, 6, wording.text("briefing.number", reference=b.reference), align="C")
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
    pdf.cell(0, 7, wording.text("briefing.kind"), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "B", 13)
    pdf.multi_cell(
        0,
        6.5,
        wording.text("briefing.subject", month=b.month_words),
        align="C",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
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
    addressee = wording.text("briefing.addressee", addressee=b.letterhead.addressee) + "."
    pdf.cell(0, 7, addressee, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    as_of = b.as_of.astimezone(_zone())
    _paragraph(
        pdf,
        wording.text(
            "briefing.summary",
            issuer=b.letterhead.issuer.capitalize(),
            month=b.month_words,
            province=b.province_name,
            hour=f"{as_of:%H}",
            minute=f"{as_of:%M}",
            date=long_date(as_of.date()),
            red=sum(k.status == "red" for k in b.kpis),
            kpis=len(b.kpis),
            reports=len(b.reports),
            tasks=len(b.tasks),
        ),
    )


def _zone():
    return TIMEZONE


def _section(pdf: FPDF, title: str) -> None:
    pdf.ln(2)
    pdf.set_font(FONT, "B", BODY)
    pdf.multi_cell(0, 7, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _paragraph(pdf: FPDF, text: str, style: str = "") -> None:
    pdf.set_font(FONT, style, BODY)
    pdf.multi_cell(0, 6.5, "        " + text, align="J", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _headers(*columns: str) -> list[str]:
    """A table's column headers, by their ids (briefing.column.*)."""
    return [wording.text(f"briefing.column.{column}") for column in columns]


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
    _section(pdf, wording.text("briefing.section.kpis"))
    rows = [
        [
            str(i),
            k.name + (" (*)" if k.degraded else "") + (" (**)" if k.running_period else ""),
            _kpi_value(k, b.period.key),
            value(k.target, k.unit_of_measure, k.decimals),
            wording.text(f"kpi.status.{k.status}"),
            change(k.change, k.unit_of_measure, k.decimals),
        ]
        for i, k in enumerate(b.kpis, start=1)
    ]
    _table(
        pdf,
        _headers("no", "kpi", "value", "target", "status", "change"),
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
            wording.text("briefing.note.degraded", items="; ".join(f"{k.name}: {k.why_degraded}" for k in degraded)),
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
    running = [k for k in b.kpis if k.running_period]
    if running:  # a period still running is shown to date and, unless the KPI may be, not judged
        pdf.set_font(FONT, "I", 11)
        pdf.multi_cell(
            0,
            5.5,
            wording.text(
                "briefing.note.running",
                items="; ".join(
                    f"{k.name}: {period_words(k.running_period)} {to_date(k.running_to_date)}: "
                    f"{value(k.running_value, k.unit_of_measure, k.decimals)} ({_judged(k.running_status)})"
                    for k in running
                ),
            ),
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )


def _judged(status: str | None) -> str:
    """A running period's status in the note (**): not judged, or judged as the KPI declares (in lower case)."""
    if status == "running":
        return wording.text("briefing.not_judged")
    return wording.text(f"kpi.status.{status}").lower()


def _indicators(pdf: FPDF, b: Monthly) -> None:
    """The province's main socio-economic indicators, as the departments reported them on their forms."""
    _section(pdf, wording.text("briefing.section.indicators"))
    reported = [k for k in b.indicators if k.value is not None]
    if not reported:
        _paragraph(pdf, wording.text("briefing.indicators.none"))
        return
    rows = [
        [
            str(i),
            k.name + (" (*)" if k.degraded else ""),
            k.reported_by or "",
            _kpi_value(k, b.period.key),
            value(k.target, k.unit_of_measure, k.decimals),
            wording.text(f"kpi.status.{k.status}"),
        ]
        for i, k in enumerate(reported, start=1)
    ]
    _table(
        pdf,
        _headers("no", "indicator", "reported_by", "value", "target", "status"),
        rows,
        (7, 58, 32, 24, 24, 20),
        ("CENTER", "LEFT", "LEFT", "RIGHT", "RIGHT", "CENTER"),
    )
    pdf.set_font(FONT, "I", 11)
    pdf.multi_cell(
        0,
        5.5,
        wording.text(
            "briefing.indicators.figures", items="; ".join(f"{k.name}: {k.figures}" for k in reported if k.figures)
        ),
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    missing = [k for k in b.indicators if k.value is None]
    if missing:
        _paragraph(pdf, wording.text("briefing.indicators.missing", items="; ".join(k.name for k in missing)))


def _reports(pdf: FPDF, b: Monthly) -> None:
    _section(pdf, wording.text("briefing.section.reports"))
    if not b.reports:
        _paragraph(pdf, wording.text("briefing.reports.none"))
        return
    rows = [
        [
            str(i),
            r.unit_name,
            r.feed_name,
            f"Tháng {r.period[5:]}/{r.period[:4]}",
            wording.text(f"report.status.{r.status}"),
            short_date(r.due_date),
            number(r.working_days_late),
        ]
        for i, r in enumerate(b.reports, start=1)
    ]
    _table(
        pdf,
        _headers("no", "unit", "report", "period", "report_status", "due_date", "working_days_late"),
        rows,
        (7, 45, 38, 20, 18, 21, 16),
        ("CENTER", "LEFT", "LEFT", "CENTER", "CENTER", "CENTER", "RIGHT"),
    )


def _tasks(pdf: FPDF, b: Monthly) -> None:
    _section(pdf, wording.text("briefing.section.tasks"))
    if not b.tasks:
        _paragraph(pdf, wording.text("briefing.tasks.none"))
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
        _headers("no", "lead_unit", "source_document", "task", "due_on", "days_overdue"),
        rows,
        (7, 35, 30, 61, 19, 13),
        ("CENTER", "LEFT", "LEFT", "LEFT", "CENTER", "RIGHT"),
    )


def _quality(pdf: FPDF, b: Monthly) -> None:
    _section(pdf, wording.text("briefing.section.quality"))
    notes = []
    for q in b.quality:
        said = [
            wording.text(f"briefing.quality.{what}", n=int(count), count=number(count))
            for what, count in (
                ("failed_batches", q.failed_batches),
                ("quarantined", q.rows_quarantined),
                ("held", q.quarantine_open),
            )
            if count
        ] + ([wording.text("briefing.quality.stale")] if q.stale else [])
        if said:
            notes.append(f"- {q.feed_name} ({q.owner}): {', '.join(said)}.")
    if not notes:
        notes = ["- " + wording.text("briefing.quality.none")]
    pdf.set_font(FONT, "", BODY)
    for note in notes:
        pdf.multi_cell(0, 6.5, note, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    _paragraph(
        pdf,
        wording.text("briefing.closing", issuer=b.letterhead.issuer.capitalize(), addressee=b.letterhead.addressee),
    )


def _closing(pdf: FPDF, b: Monthly) -> None:
    pdf.ln(4)
    if pdf.get_y() > pdf.h - 70:
        pdf.add_page()
    top = pdf.get_y()
    left_w = pdf.epw * 0.52
    pdf.set_font(FONT, "BI", 12)
    pdf.cell(left_w, 6, wording.text("briefing.recipients"), new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 11)
    for recipient in b.letterhead.recipients:
        pdf.multi_cell(left_w, 5, f"- {recipient};", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_xy(pdf.l_margin + left_w, top)
    pdf.set_font(FONT, "B", 13)
    pdf.cell(pdf.epw - left_w, 6.5, b.letterhead.signer_title, align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
    if b.letterhead.signer_name:
        pdf.ln(22)
        pdf.cell(pdf.epw - left_w, 6.5, b.letterhead.signer_name, align="C")
