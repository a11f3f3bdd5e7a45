"""Report forms ("biểu số liệu") read as the departments write them: each figure becomes one row.

A form has a title block, a header of one to three rows (a group label such as "Thực hiện" merged over the
labels under it), a numbering row ("(1) (2) … (7)=(6)/(4)"), indicators as rows — group rows without figures,
"Trong đó:" rows that are parts of the row above — and a signature block below. The reader finds each part by
rule (labels, the shape of a row), never by position, and lands one row per figure: the unit and period (from
the file's name, else its title), the indicator as the form names it and the row it is part of, the measure,
the value as written, its unit of measure and its cell ("F12"). Which indicator a name means is decided when
the rows are conformed (pipelines/conform), against the feed's indicator catalogue.
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pipelines.declarations.indicators import IndicatorCatalogue, indicator_catalogue, tone_key
from pipelines.declarations.loading import FORM_CONTRACT, read_org_units
from pipelines.declarations.models import MEASURE_PLACEHOLDERS, Feed, FileDropSource, FormLayout
from pipelines.extract.landing import SOURCE_ROW
from pipelines.extract.records import as_text
from pipelines.extract.tabular import Grid
from pipelines.extract.unreadable import UnreadableFile
from pipelines.text import column_letter, label_key

if TYPE_CHECKING:
    import polars as pl

# The columns a form's rows land with: the contract's names (all but the code the catalogue gives), so that
# they map onto the feed's columns as they are.
FORM_COLUMNS = tuple(c for c in FORM_CONTRACT if c != "indicator_code")
MAX_NAMED = 12  # rows a warning names before it says how many more


@dataclass
class FormColumns:
    """Where each part of the form is: 0-based columns, and the header's rows (1-based, first and last)."""

    indicator: int
    measures: dict[int, str]  # column -> measure code
    labels: dict[int, str]  # column -> its header label, as the form writes it (group words included)
    numbering: int | None = None
    unit: int | None = None
    note: int | None = None
    first_row: int = 0
    last_row: int = 0


@dataclass
class FormRead:
    """The figures of one form (a landing frame), where its header is, and what was left out and why."""

    frame: pl.DataFrame  # FORM_COLUMNS and _source_row
    header_row: int
    columns: FormColumns
    unit: str  # the reporting unit and the period, from the file's name or its title block
    period: str
    warnings: list[str] = field(default_factory=list)


def read_form(
    feed: Feed, grid: Grid, file_fields: dict[str, str], sheet: str = "", catalogue: IndicatorCatalogue | None = None
) -> FormRead:
    """The form's figures as long rows, or UnreadableFile naming the sheet, row and column at fault and the fix.
    `catalogue` stands for the form's declared one (a draft reads a form before its catalogue exists)."""
    try:
        return _read(feed, grid, file_fields, sheet, catalogue)
    except UnreadableFile as exc:
        if not sheet:  # a CSV file has no sheet
            raise
        raise UnreadableFile(f"sheet {sheet!r}: {exc}", f"trang tính {sheet!r}: {exc.vi}") from None


def _read(
    feed: Feed, grid: Grid, file_fields: dict[str, str], sheet: str, catalogue: IndicatorCatalogue | None
) -> FormRead:
    import polars as pl  # lazy: polars (0.3 s and more) only when rows are read: the module imports light

    form = feed.form
    assert form is not None  # a form's feed: its readers ask source.form first
    rows = [[as_text(c) for c in row] for row in itertools.chain(grid.rows, grid.rest)]
    top = _header_top(feed, form, rows)
    columns = _columns(feed, form, rows, top)
    unit, period = _unit_and_period(feed, form, rows[:top], file_fields)
    _labels_agree(feed, columns, period)
    where = f"sheet {sheet!r}, " if sheet else ""  # for the warnings
    records: list[dict] = []
    left_out: dict[str, list[int]] = {"group": [], "numbering": [], "skipped": []}
    whole: str | None = None
    catalogue = catalogue if catalogue is not None else indicator_catalogue(form.catalogue)
    units = {m.measure: m.unit_of_measure for m in form.measures}
    end = len(rows)
    for i in range(columns.last_row, len(rows)):
        row = rows[i]
        cells = [c.strip() if c else "" for c in row]
        if not any(cells):
            continue
        number = i + 1
        if is_numbering(form, cells):  # "(1) (2) … (7)=(6)/(4)", wherever it is
            left_out["numbering"].append(number)
            continue
        if not any(figure_like(_cell(cells, j)) for j in columns.measures):  # a heading, a signature, a header
            if _ends_table(form, cells):
                end = i
                break
            _second_table(form, cells, columns, number)
        label = _cell(cells, columns.indicator)
        if _skipped(feed, cells):
            left_out["skipped"].append(number)
            continue
        figures = {j: _cell(cells, j) for j in columns.measures if _cell(cells, j)}
        if not figures:
            left_out["group"].append(number)
            continue
        is_part = bool(re.match(form.part_prefix, label or "", re.IGNORECASE)) or (
            whole is not None and bool(label) and label.lstrip()[:1] in "-+•" and not _cell(cells, columns.numbering)
        )
        if not is_part:
            whole = label
        for j, value in figures.items():
            records.append(
                {
                    "department_code": unit,
                    "period": period,
                    "indicator_name": label or None,
                    "part_of": whole if is_part else None,
                    "stt": _cell(cells, columns.numbering) or None,
                    "measure": columns.measures[j],
                    "value": value,
                    "unit_of_measure": units.get(columns.measures[j]) or _cell(cells, columns.unit) or None,
                    "note": _cell(cells, columns.note) or None,
                    "source_cell": f"{column_letter(j)}{number}",
                    SOURCE_ROW: number,
                }
            )
    warnings = _left_out_warnings(left_out, rows, end)
    empty = [j for j, measure in columns.measures.items() if not any(r["measure"] == measure for r in records)]
    warnings += [
        f"{where}column {column_letter(j)} ({columns.labels[j]!r}, measure {columns.measures[j]}) has no figures"
        for j in empty
    ]
    warnings += _missing_indicators(catalogue, records, unit)
    frame = pl.DataFrame(records, schema={**{c: pl.String for c in FORM_COLUMNS}, SOURCE_ROW: pl.Int64})
    return FormRead(frame=frame, header_row=top + 1, columns=columns, unit=unit, period=period, warnings=warnings)


def _cell(cells: list[str], j: int | None) -> str:
    return cells[j] if j is not None and j < len(cells) else ""


# --- the header -------------------------------------------------------------------------------


def _header_top(feed: Feed, form: FormLayout, rows: list[list[str | None]]) -> int:
    """0-based row of the header's first row: the first row with the indicator column's label."""
    wanted = {tone_key(label) for label in form.indicator}
    limit = feed.source_as(FileDropSource).header_search_rows
    for i, row in enumerate(rows[:limit]):
        if any(tone_key(c) in wanted for c in row if c):
            return i
    first = next((r for r in rows if any(r)), [])
    shown = " | ".join(c or "" for c in first[:8])
    labels = ", ".join(repr(label) for label in form.indicator)
    raise UnreadableFile(
        f"no form header found in the first {limit} rows: expected a column labelled {labels} (the indicators); "
        f"the first non-empty row reads {shown!r}. Send the form with its header row, or add the label this "
        f"department uses to source.form.indicator in schemas/feeds/{feed.id}.yaml",
        f"không tìm thấy dòng tiêu đề của biểu trong {limit} dòng đầu: cần cột có nhãn {labels} (chỉ tiêu); dòng đầu "
        f"có dữ liệu là {shown!r}. Gửi biểu có dòng tiêu đề, hoặc thêm nhãn đơn vị dùng vào source.form.indicator "
        f"trong schemas/feeds/{feed.id}.yaml",
    )


def _columns(feed: Feed, form: FormLayout, rows: list[list[str | None]], top: int) -> FormColumns:
    """The header of one to header_rows_max rows that finds the most measures (the fewest rows on a tie)."""
    best: FormColumns | None = None
    for depth in range(1, form.header_rows_max + 1):
        if top + depth > len(rows):
            break
        if depth > 1 and is_numbering(form, [c or "" for c in rows[top + depth - 1]]):
            break
        found = _columns_of(form, header_labels(rows[top : top + depth]), top, depth)
        if found is not None and (best is None or len(found.measures) > len(best.measures)):
            best = found
    if best is None or not best.measures:
        labels = header_labels(rows[top : top + form.header_rows_max])
        shown = "; ".join(f"{column_letter(j)}: {' / '.join(parts)!r}" for j, parts in sorted(labels.items()))
        expected = "; ".join(f"{m.measure}: {m.labels[0]!r}" for m in form.measures)
        raise UnreadableFile(
            f"the form's header (rows {top + 1}–{top + form.header_rows_max}) names no measure column: it reads "
            f"{shown}; expected labels such as {expected}. Add the labels this department uses to "
            f"source.form.measures in schemas/feeds/{feed.id}.yaml",
            f"dòng tiêu đề của biểu (dòng {top + 1}–{top + form.header_rows_max}) không có cột số liệu nào: {shown}; "
            f"cần các nhãn như {expected}. Thêm nhãn đơn vị dùng vào source.form.measures trong "
            f"schemas/feeds/{feed.id}.yaml",
        )
    _indicator_has_names(feed, form, rows, best)
    return best


def header_labels(header: list[list[str | None]]) -> dict[int, list[str]]:
    """Each column's label parts, top to bottom. A group label merged over several columns is written in its
    first column only: it is carried right over the columns that have a label under it, while the column
    before them did too."""
    width = max((len(r) for r in header), default=0)
    grid = [[(row[j] or "").strip() if j < len(row) else "" for j in range(width)] for row in header]
    for r in range(len(grid) - 1):
        for j in range(1, width):
            below = any(grid[k][j] for k in range(r + 1, len(grid)))
            left_below = any(grid[k][j - 1] for k in range(r + 1, len(grid)))
            if not grid[r][j] and grid[r][j - 1] and below and left_below:
                grid[r][j] = grid[r][j - 1]
    return {j: parts for j in range(width) if (parts := _distinct([grid[r][j] for r in range(len(grid))]))}


def _distinct(parts: list[str]) -> list[str]:
    """A column's label parts without blanks and without a part repeated from the row above (a vertical merge
    exported as repeated text)."""
    out: list[str] = []
    for part in parts:
        if part and (not out or label_key(out[-1]) != label_key(part)):
            out.append(part)
    return out


def _columns_of(form: FormLayout, labels: dict[int, list[str]], top: int, depth: int) -> FormColumns | None:
    indicator = find_column(labels, form.indicator)
    if indicator is None:
        return None
    measures: dict[int, str] = {}
    for j, parts in labels.items():
        if j == indicator:
            continue
        measure = measure_of(form, parts)
        if measure is not None:
            measures[j] = measure
    return FormColumns(
        indicator=indicator,
        measures=measures,
        labels={j: " ".join(p) for j, p in labels.items()},
        numbering=find_column(labels, form.numbering),
        unit=find_column(labels, form.unit_of_measure),
        note=find_column(labels, form.note),
        first_row=top,
        last_row=top + depth,
    )


def find_column(labels: dict[int, list[str]], wanted: list[str]) -> int | None:
    keys = {tone_key(w) for w in wanted}
    return next(
        (j for j, parts in labels.items() if tone_key(parts[-1]) in keys or tone_key(" ".join(parts)) in keys), None
    )


def measure_of(form: FormLayout, parts: list[str]) -> str | None:
    """The measure whose label matches the column's label, whole or without its group words."""
    texts = [tone_key(" ".join(parts[k:])) for k in range(len(parts))]
    for measure in form.measures:
        for label in measure.labels:
            pattern = _pattern(label)
            if any(pattern.fullmatch(t) for t in texts):
                return measure.measure
    return None


@functools.lru_cache(maxsize=512)
def _pattern(label: str) -> re.Pattern:
    """A measure label as a regex over tone_key text: its words literal, {month} {year} {n} numbers."""
    marked = re.sub(r"\{([a-z_]+)\}", lambda m: f" qq{m[1]}qq ", label)
    regex = re.escape(tone_key(marked))
    for name, group in MEASURE_PLACEHOLDERS.items():
        regex = regex.replace(f"qq{name}qq", group)
    return re.compile(regex.replace(r"\ ", r"\s*"))


def _labels_agree(feed: Feed, columns: FormColumns, period: str) -> None:
    """A measure's label that names a month or a year names the form's period (a form of 2026-10 says
    "Tháng 10/2026", "Lũy kế 10 tháng", "Kế hoạch năm 2026")."""
    year, month = (int(x) for x in period.split("-"))
    form = feed.form
    assert form is not None  # a form's feed
    for j, measure in columns.measures.items():
        text = tone_key(columns.labels[j])
        for label in next(m for m in form.measures if m.measure == measure).labels:
            found = next(
                (
                    m
                    for k in range(len(text.split(" ")))
                    if (m := _pattern(label).fullmatch(" ".join(text.split(" ")[k:])))
                ),
                None,
            )
            if found is None:
                continue
            said = found.groupdict()
            wrong = [
                (name, int(value), want)
                for name, value, want in (
                    ("month", said.get("month"), month),
                    ("n", said.get("n"), month),
                    ("year", said.get("year"), year),
                    ("last_year", said.get("last_year"), year - 1),
                )
                if value is not None and int(value) != want
            ]
            if wrong:
                cell = f"{column_letter(j)}{columns.first_row + 1}–{columns.last_row}"
                raise UnreadableFile(
                    f"column {column_letter(j)}'s header ({cell}) reads {columns.labels[j]!r}, which is not the "
                    f"form's period {period} (from its file name or title): correct the header's month and year, "
                    f"or name the file for the period it reports",
                    f"tiêu đề cột {column_letter(j)} ({cell}) ghi {columns.labels[j]!r}, không đúng kỳ báo cáo "
                    f"{period} (theo tên tệp hoặc tiêu đề biểu): sửa tháng, năm ở tiêu đề cột, hoặc đặt tên tệp "
                    f"theo đúng kỳ báo cáo",
                )
            break


def _indicator_has_names(feed: Feed, form: FormLayout, rows: list[list[str | None]], columns: FormColumns) -> None:
    """The indicator column holds names: a header moved one column over the data puts numbering or figures
    under 'Chỉ tiêu' and the names beside it."""
    body = []
    for r in rows[columns.last_row : columns.last_row + 60]:
        cells = [(c or "").strip() for c in r]
        if _ends_table(form, cells) and not any(figure_like(_cell(cells, j)) for j in columns.measures):
            break
        body.append(cells)
    filled = [r for r in body if any(figure_like(_cell(r, j)) for j in columns.measures)]
    if len(filled) < 2:
        return
    named = sum(1 for r in filled if re.search(r"[^\W\d_]{3,}", _cell(r, columns.indicator)))
    if named * 2 >= len(filled):
        return
    j = columns.indicator
    beside = next(
        (
            k
            for k in (j + 1, j - 1)
            if k >= 0 and sum(1 for r in filled if re.search(r"[^\W\d_]{3,}", _cell(r, k))) * 2 >= len(filled)
        ),
        None,
    )
    example = next((_cell(r, j) for r in filled if _cell(r, j)), "")
    hint = (
        f"; the names are in column {column_letter(beside)}: the header seems moved one column"
        if beside is not None
        else ""
    )
    hint_vi = (
        f"; tên chỉ tiêu nằm ở cột {column_letter(beside)}: dòng tiêu đề có vẻ bị lệch một cột"
        if beside is not None
        else ""
    )
    raise UnreadableFile(
        f"column {column_letter(j)} is headed {columns.labels[j]!r} (row {columns.first_row + 1}) but its rows hold "
        f"no indicator names (e.g. {example!r}){hint}. Put each label over its own column and send the form again",
        f"cột {column_letter(j)} có tiêu đề {columns.labels[j]!r} (dòng {columns.first_row + 1}) nhưng không chứa tên "
        f"chỉ tiêu (ví dụ {example!r}){hint_vi}. Đặt mỗi nhãn đúng trên cột của nó rồi gửi lại biểu",
    )


# --- rows -------------------------------------------------------------------------------------


def is_numbering(form: FormLayout, cells: list[str]) -> bool:
    """A row of column numbers: "(1) (2) … (7)=(6)/(4)" (or A, B, C…; or 1 2 3 … counting up), every cell of it."""
    filled = [c for c in cells if c]
    if len(filled) < 3 or not all(re.match(form.numbering_row, c) for c in filled):
        return False
    if any("(" in c for c in filled):
        return True
    numbers = [int(c) for c in filled if c.isdigit()]  # bare numbers: a numbering row counts the columns
    return len(numbers) < len(filled) or numbers == list(range(numbers[0], numbers[0] + len(numbers)))


def figure_like(text: str) -> bool:
    """A cell that reads as a figure (1.234,5 · 87.5 · -3 · 12%), as opposed to a signature's words."""
    return bool(re.fullmatch(r"[-+]?[\d.,\s\u00a0]*\d[\d.,\s\u00a0]*%?", text))


def _ends_table(form: FormLayout, cells: list[str]) -> bool:
    return any(re.match(rule, label_key(c), re.IGNORECASE) for c in cells if c for rule in form.end_of_table)


def _skipped(feed: Feed, cells: list[str]) -> bool:
    return any(
        re.search(f"(?i){rule.matches}", " ".join(c.split()).lower())
        for rule in feed.source_as(FileDropSource).skip_rows
        for c in cells
        if c
    )


def _second_table(form: FormLayout, cells: list[str], columns: FormColumns, number: int) -> None:
    """A header in the body starts a second table: a sheet holds one form."""
    wanted = {tone_key(label) for label in form.indicator}
    j = next((j for j, c in enumerate(cells) if c and tone_key(c) in wanted), None)
    if j is None:
        return
    raise UnreadableFile(
        f"row {number}, column {column_letter(j)} reads {cells[j]!r}: a second table starts under the first "
        f"(header at row {columns.first_row + 1}). Send one form per sheet (or per file), or remove the second table",
        f"dòng {number}, cột {column_letter(j)} ghi {cells[j]!r}: có bảng thứ hai bên dưới bảng đầu (tiêu đề ở "
        f"dòng {columns.first_row + 1}). Mỗi trang tính (hoặc mỗi tệp) chỉ một biểu, hoặc xóa bảng thứ hai",
    )


def _unit_and_period(
    feed: Feed, form: FormLayout, title: list[list[str | None]], file_fields: dict[str, str]
) -> tuple[str, str]:
    """The reporting unit and period: from the file's name, else from the title block (the period as
    period_in_title finds it, the unit by its name)."""
    unit_column = feed.reporting.unit_column if feed.reporting else "department_code"
    period_column = feed.reporting.period_column if feed.reporting else "period"
    unit, period = file_fields.get(unit_column), _month(file_fields.get(period_column))
    texts = [c for row in title for c in row if c]
    title_period = None
    if form.period_in_title:
        for text in texts:
            found = re.search(form.period_in_title, label_key(text), re.IGNORECASE)
            if found:
                title_period = f"{int(found['year']):04d}-{int(found['month']):02d}"
                break
    if period and title_period and title_period != period:
        raise UnreadableFile(
            f"the title says the form is for {title_period} but the file's name says {period}: name the file for "
            f"the period it reports, or correct the title",
            f"tiêu đề biểu ghi kỳ {title_period} nhưng tên tệp ghi kỳ {period}: đặt tên tệp theo đúng kỳ báo cáo, "
            f"hoặc sửa tiêu đề",
        )
    period = period or title_period
    titled = _unit_in_title(texts)
    if unit is not None and titled is not None and titled != unit:
        raise UnreadableFile(
            f"the title block names {titled} but the file's name says {unit}: a department sends its own form, "
            f"named for it (e.g. {titled}_{period or '2026-10'}.xlsx)",
            f"phần tiêu đề của biểu ghi đơn vị {titled} nhưng tên tệp ghi {unit}: mỗi đơn vị gửi biểu của chính mình, "
            f"đặt tên tệp theo mã đơn vị (ví dụ {titled}_{period or '2026-10'}.xlsx)",
        )
    unit = unit or titled
    missing = [name for name, value in ((unit_column, unit), (period_column, period)) if not value]
    if missing:
        raise UnreadableFile(
            f"the form's {' and '.join(missing)} is neither in its file name (source.file_name_pattern, e.g. "
            f"SYT_2026-10.xlsx) nor in its title block (e.g. '… tháng 10 năm 2026', the department's name): "
            f"name the file for its department and period",
            f"không xác định được {' và '.join(missing)} của biểu từ tên tệp (ví dụ SYT_2026-10.xlsx) hay phần tiêu đề "
            f"(ví dụ '… tháng 10 năm 2026', tên sở): đặt tên tệp theo mã đơn vị và kỳ báo cáo",
        )
    assert unit and period  # neither is missing
    return unit, period


def _month(text: str | None) -> str | None:
    """A period key (2026-10) from what a file's name says (2026-10, 10-2026)."""
    if not text:
        return None
    found = re.fullmatch(r"(\d{4})-(\d{1,2})|(\d{1,2})-(\d{4})", text)
    if not found:
        return text
    year, month = (found[1], found[2]) if found[1] else (found[4], found[3])
    return f"{int(year):04d}-{int(month):02d}"


def _unit_in_title(texts: list[str]) -> str | None:
    names = {tone_key(u.vi): u.code for u in read_org_units().units if u.kind == "department"}
    return next((names[tone_key(t)] for t in texts if tone_key(t) in names), None)


def _left_out_warnings(left_out: dict[str, list[int]], rows: list[list[str | None]], end: int) -> list[str]:
    def named(numbers: list[int]) -> str:
        more = len(numbers) - MAX_NAMED
        return ", ".join(map(str, numbers[:MAX_NAMED])) + (f" and {more} more" if more > 0 else "")

    warnings = []
    if left_out["group"]:
        warnings.append(f"group rows without figures left out (headings): rows {named(left_out['group'])}")
    if left_out["numbering"]:
        warnings.append(f"numbering rows left out: rows {named(left_out['numbering'])}")
    if left_out["skipped"]:
        warnings.append(f"rows skipped by the feed's skip_rows rules (e.g. totals): {named(left_out['skipped'])}")
    below = [i + 1 for i in range(end, len(rows)) if any(rows[i])]
    if below:
        warnings.append(f"the signature block below the table left out: rows {below[0]}–{below[-1]}")
    return warnings


def _missing_indicators(catalogue, records: list[dict], unit: str) -> list[str]:
    """The catalogue's indicators the unit reports that the form does not carry."""
    matcher = catalogue.matcher
    rows = {(r["indicator_name"], r["part_of"]) for r in records}  # a row's figures share its name: matched once
    found = {matcher.match(name, part_of, unit).code for name, part_of in rows}
    missing = [i for i in catalogue.reported_by(unit) if i.code not in found]
    if not missing:
        return []
    return [
        f"indicators of catalogue {catalogue.id} that {unit} reports but this form does not carry: "
        + ", ".join(f"{i.code} ({i.vi})" for i in missing)
    ]
