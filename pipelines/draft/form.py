"""The draft of a report form's feed ("biểu số liệu"): its layout (the indicator, numbering, unit and note columns,
the measures under label patterns) and an indicator catalogue entry per indicator row."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import polars as pl

from pipelines.declarations.checks import FormRule
from pipelines.declarations.indicators import NUMBERING, PART_PREFIX, IndicatorCatalogue, tone_key
from pipelines.declarations.models import Feed, FormLayout, FormMeasure, Names
from pipelines.draft.names import ascii_words, snake_name, unique, upper_code
from pipelines.draft.samples import HEADER_SEARCH_ROWS, DraftError, Sample, label_like
from pipelines.draft.table import FILE_NAME, month_key, unit_and_period
from pipelines.draft.vocabulary import (
    FORM_RULES,
    INDICATOR_LABELS,
    MEASURE_ROLES,
    NOTE_LABELS,
    NUMBERING_LABELS,
    UNIT_LABELS,
    Vocabulary,
)
from pipelines.extract.file_drop import sheet_of
from pipelines.extract.form import figure_like, find_column, header_labels, is_numbering, measure_of, read_form
from pipelines.extract.unreadable import UnreadableFile
from pipelines.text import label_key

PERIOD_IN_TITLE = re.compile(r"tháng\s+(\d{1,2})\s+năm\s+(\d{4})", re.IGNORECASE)
RATE_WORDS = ("tỷ lệ", "chỉ số", "tốc độ")
KNOWN_SHARE = 0.9  # a declared catalogue that knows this share of a form's rows is the form's (the rest: errors)


@dataclass
class MeasureDraft:
    code: str
    labels: list[str]  # patterns ({month}, {year}, {n}, {last_year}), as the forms write them
    unit_of_measure: str | None
    why: str
    todo: str | None = None


@dataclass
class IndicatorDraft:
    code: str
    vi: str
    unit: str
    aggregation: str
    parent: str | None
    departments: list[str]
    measures: list[str]
    todo: str | None = None
    why: str = ""


@dataclass
class FormDraft:
    indicator_labels: list[str]
    numbering_labels: list[str]
    unit_labels: list[str]
    note_labels: list[str]
    measures: list[MeasureDraft]
    indicators: list[IndicatorDraft]
    catalogue: str  # the catalogue the feed names
    catalogue_reused: IndicatorCatalogue | None  # an existing catalogue that knows every row, if one does
    units: list[str]  # reporting units seen
    file_names: bool  # the samples' names carry the unit and period
    rules: list[dict] = field(default_factory=list)  # form rules reused from a declared form with these measures
    catalogue_todo: str | None = None  # rows a reused catalogue does not know
    notes: list[str] = field(default_factory=list)


def looks_like_form(sample: Sample, words: Vocabulary) -> str | None:
    """Why the sample reads as a form (an indicator column, and measures whose headers carry a period), or None."""
    wanted = {tone_key(x) for x in words.form_labels("indicator", INDICATOR_LABELS)}
    for i, row in enumerate(sample.rows[:HEADER_SEARCH_ROWS]):
        cells = [c.strip() for c in row if c and c.strip()]
        found = next((c for c in cells if tone_key(c) in wanted), None)
        if found is None:
            continue
        header = [row]  # the rows under it that hold only labels (a merged header's lower rows)
        for below_row in sample.rows[i + 1 : i + 3]:
            if not all(label_like(c.strip()) for c in below_row if c and c.strip()):
                break
            header.append(below_row)
        below = [c.strip() for r in header for c in r if c and c.strip()]
        dated = [c for c in below if re.search(r"\b(19|20)\d{2}\b|\btháng\b|\blũy kế\b|\bkế hoạch\b", c, re.IGNORECASE)]
        if dated:
            return (
                f"row {i + 1} has an indicator column ({found!r}) and measure columns headed by periods ({dated[0]!r})"
            )
    return None


def draft_form(feed_id: str, samples: list[Sample], words: Vocabulary) -> FormDraft:
    indicator_vocab = words.form_labels("indicator", INDICATOR_LABELS)
    numbering_vocab = words.form_labels("numbering", NUMBERING_LABELS)
    unit_vocab = words.form_labels("unit_of_measure", UNIT_LABELS)
    note_vocab = words.form_labels("note", NOTE_LABELS)
    default = FormLayout(
        catalogue="draft", indicator=indicator_vocab, measures=[FormMeasure(measure="x", labels=["x"])]
    )
    seen_labels: dict[str, list[str]] = {"indicator": [], "numbering": [], "unit": [], "note": []}
    measures: dict[str, MeasureDraft] = {}
    for sample in samples:
        top = next(
            (
                i
                for i, row in enumerate(sample.rows[:HEADER_SEARCH_ROWS])
                if any(c and tone_key(c) in {tone_key(x) for x in indicator_vocab} for c in row)
            ),
            None,
        )
        if top is None:
            raise DraftError(f"{sample.path.name}: no form header: no column labelled {', '.join(indicator_vocab)}")
        depth = 1
        while depth < 3 and top + depth < len(sample.rows):
            cells = [(c or "").strip() for c in sample.rows[top + depth]]
            if is_numbering(default, cells) or any(figure_like(c) for c in cells if c):
                break
            depth += 1
        labels = header_labels(sample.rows[top : top + depth])
        year, month = _period(sample)
        for part, vocab in (
            ("indicator", indicator_vocab),
            ("numbering", numbering_vocab),
            ("unit", unit_vocab),
            ("note", note_vocab),
        ):
            j = find_column(labels, vocab)
            if j is not None and labels[j][-1] not in seen_labels[part]:
                seen_labels[part].append(labels[j][-1])
        taken = {find_column(labels, v) for v in (indicator_vocab, numbering_vocab, unit_vocab, note_vocab)}
        lasts = Counter(tone_key(parts[-1]) for parts in labels.values())
        for j, parts in labels.items():
            if j in taken:
                continue
            text = parts[-1] if lasts[tone_key(parts[-1])] == 1 else " ".join(parts)
            pattern = generalise(text, year, month)
            code, unit_of_measure, why, todo = _measure_code(words, parts, pattern, year, month)
            same = next(
                (m for m in measures.values() if m.todo and todo and _core(pattern) in map(_core, m.labels)), None
            )  # "Thực hiện tháng {month}/{year}" and "Tháng {month}/{year}": one measure
            if same is not None:
                code = same.code
            found = measures.setdefault(code, MeasureDraft(code, [], unit_of_measure, why, todo))
            if tone_key(pattern) not in {tone_key(x) for x in found.labels}:
                found.labels.append(pattern)
    if not measures:
        raise DraftError(
            f"{samples[0].path.name}: the form's header has no measure columns beside its indicator column"
        )
    draft = FormDraft(
        seen_labels["indicator"],
        _with(seen_labels["numbering"], ["STT", "TT"]),
        _with(seen_labels["unit"], ["Đơn vị tính", "ĐVT"]),
        _with(seen_labels["note"], ["Ghi chú"]),
        list(measures.values()),
        [],
        feed_id,
        None,
        [],
        all(unit_and_period(s.path.name, words.org_units.codes) for s in samples),
    )
    _indicators(draft, feed_id, samples, words)
    reused = draft.catalogue_reused.indicators if draft.catalogue_reused is not None else []
    draft.rules = _rules(words, set(measures), any(i.parent for i in draft.indicators) or any(i.parent for i in reused))
    return draft


def _core(label: str) -> str:
    """A measure label without the words forms put before it or not ("Thực hiện", "Ước thực hiện", "Ước")."""
    return re.sub(r"^(ước\s+)?(thực\s+hiện\s+|tính\s+)?", "", tone_key(label))


def _with(seen: list[str], defaults: list[str]) -> list[str]:
    return seen + [d for d in defaults if label_key(d) not in {label_key(s) for s in seen}]


def _period(sample: Sample) -> tuple[int | None, int | None]:
    """The form's year and month: from its file name (SYT_2026-10.xlsx), else its title ('tháng 10 năm 2026')."""
    found = FILE_NAME.match(sample.path.name)
    if found:  # the period, whoever the name's first part is
        period = month_key(found["period"])
        assert period is not None  # FILE_NAME's periods are months as month_key reads them
        year, month = period.split("-")
        return int(year), int(month)
    for row in sample.rows[:HEADER_SEARCH_ROWS]:
        for cell in row:
            titled = PERIOD_IN_TITLE.search(cell or "")
            if titled:
                return int(titled[2]), int(titled[1])
    return None, None


def generalise(text: str, year: int | None, month: int | None) -> str:
    """A header label with its period's numbers as placeholders: `Tháng 10/2026` → `Tháng {month}/{year}`,
    `Lũy kế 10 tháng` → `Lũy kế {n} tháng`, `Kế hoạch năm 2026` → `Kế hoạch năm {year}`."""
    text = " ".join(text.split())
    if month is not None and year is not None:
        text = re.sub(rf"\b0?{month}\s*/\s*{year}\b", "{month}/{year}", text)
        text = re.sub(rf"\b(tháng)\s+0?{month}\s+(năm)\s+{year}\b", r"\1 {month} \2 {year}", text, flags=re.IGNORECASE)
        text = re.sub(rf"\b0?{month}\s+(tháng)\b", r"{n} \1", text, flags=re.IGNORECASE)
        text = re.sub(rf"\b(tháng)\s+0?{month}\b(?!\s*[/}}])", r"\1 {month}", text, flags=re.IGNORECASE)
    if year is not None:
        text = re.sub(rf"(?<![{{\d]){year - 1}\b", "{last_year}", text)
        text = re.sub(rf"(?<![{{\d]){year}\b", "{year}", text)
    return text


def _measure_code(
    words: Vocabulary, parts: list[str], pattern: str, year: int | None, month: int | None
) -> tuple[str, str | None, str, str | None]:
    """The code a declared form gives the column's label, or one made from it (TODO)."""
    for feed, form in words.forms:
        code = measure_of(form, parts)
        if code is not None:
            declared = next(m for m in form.measures if m.measure == code)
            return code, declared.unit_of_measure, f"the measure feed {feed.id} reads under {' / '.join(parts)!r}", None
    words_of = ascii_words(" ".join(generalise(p, year, month) for p in parts[:-1]) + " " + pattern).lower()
    for code, regex, unit in MEASURE_ROLES:
        if re.search(regex, words_of):
            return code, unit, f"a figures form's usual measure, by the words of {' / '.join(parts)!r}", None
    code = snake_name(re.sub(r"\{\w+\}", " ", pattern)) or "measure"
    percent = "%" if any("%" in p for p in parts) else None
    return code, percent, f"from the header {' / '.join(parts)!r}", "a code made from the header: name the measure"


def _draft_feed(feed_id: str, draft: FormDraft) -> Feed:
    """The form's feed as far as the reader needs it, to read the samples' figures."""
    layout = {
        "catalogue": "draft",
        "indicator": draft.indicator_labels,
        "numbering": draft.numbering_labels,
        "unit_of_measure": draft.unit_labels,
        "note": draft.note_labels,
        "measures": [
            {"measure": m.code, "labels": m.labels, "unit_of_measure": m.unit_of_measure} for m in draft.measures
        ],
    }
    return Feed.model_validate(
        {
            "id": feed_id,
            "name": {"vi": feed_id, "en": feed_id},
            "owner": "draft",
            "source": {"kind": "file_drop", "inbox": feed_id, "form": layout},
            "columns": [{"name": "department_code", "type": "string"}, {"name": "period", "type": "month"}],
            "load": {"key": ["department_code", "period"]},
            "reporting": {
                "period_type": "monthly",
                "period_column": "period",
                "unit_column": "department_code",
                "expected_units": {"kinds": ["department"]},
                "deadline": {"rule": "after_cutoff"},
            },
        }
    )


def _indicators(draft: FormDraft, feed_id: str, samples: list[Sample], words: Vocabulary) -> None:
    """Every indicator row of the samples, matched to a declared catalogue or given a code of its own."""

    feed = _draft_feed(feed_id, draft)
    empty = IndicatorCatalogue(
        id="draft", name=Names(vi="-", en="-"), measures=[m.code for m in draft.measures], indicators=[]
    )
    frames = []
    for sample in samples:
        found = unit_and_period(sample.path.name, words.org_units.codes)
        fields = {"department_code": found[0], "period": found[1]} if found else {}
        try:
            read = read_form(feed, sample.grid, fields, sheet_of(sample.grid), catalogue=empty)
        except UnreadableFile as exc:
            raise DraftError(f"{sample.path.name}: {exc}") from None
        frames.append(read.frame)
    figures = pl.concat(frames)
    if figures.height == 0:
        raise DraftError(f"{samples[0].path.name}: the form has no figures under its measure columns")
    draft.units = figures["department_code"].unique(maintain_order=True).to_list()
    rows = figures.group_by(["indicator_name", "part_of"], maintain_order=True).agg(
        pl.col("department_code").unique(maintain_order=True).alias("units"),
        pl.col("measure").unique(maintain_order=True).alias("measures"),
        pl.col("unit_of_measure")
        .filter(~pl.col("measure").is_in([m.code for m in draft.measures if m.unit_of_measure]))
        .drop_nulls()
        .mode()
        .first()
        .alias("unit"),
    )
    matches = [
        (
            c,
            sum(
                1
                for r in rows.iter_rows(named=True)
                if c.matcher.match(r["indicator_name"], r["part_of"], r["units"][0]).code
            ),
        )
        for c in words.catalogues
    ]
    best = max(matches, key=lambda m: m[1], default=(None, 0))
    declared = {m.code for m in draft.measures}
    if best[0] is not None and best[1] >= rows.height * KNOWN_SHARE and set(best[0].measures) <= declared:
        draft.catalogue, draft.catalogue_reused = best[0].id, best[0]
        unknown = [
            r["indicator_name"]
            for r in rows.iter_rows(named=True)
            if not best[0].matcher.match(r["indicator_name"], r["part_of"], r["units"][0]).code
        ]
        draft.notes.append(f"catalogue {best[0].id} knows {best[1]} of {rows.height} indicator rows: reused")
        if unknown:
            draft.catalogue_todo = (
                f"rows no indicator of {best[0].id} matches: {', '.join(map(repr, unknown[:5]))}; "
                "their figures will be quarantined: add them (or an alias) to the catalogue if "
                "they are indicators of it"
            )
        return
    known = best[0] if best[1] else None
    if known is not None:
        draft.notes.append(f"catalogue {known.id} knows {best[1]} of {rows.height} indicator rows: their codes reused")
    all_measures = [m.code for m in draft.measures]
    codes: dict[tuple[str, str | None], str] = {}
    taken: set[str] = set()
    for row in rows.iter_rows(named=True):
        name, part_of = row["indicator_name"], row["part_of"]
        if not name:  # figures beside no name: quarantined when loaded (no indicator to match)
            draft.notes.append(f"figures without an indicator name: {row['measures']}")
            continue
        matched = known.matcher.match(name, part_of, row["units"][0]).code if known is not None else None
        parent = codes.get(next((k for k in codes if k[0] == part_of), ("", None))) if part_of else None
        vi = _clean(name)
        code = matched or upper_code(vi)
        if matched is None and (code in taken or parent):
            code = f"{parent}_{code}" if parent and not code.startswith(parent) else code
        code = unique(code, taken)
        codes[(name, part_of)] = code
        unit = row["unit"] or ""
        rate = unit == "%" or any(label_key(vi).startswith(w) for w in RATE_WORDS)
        if matched is not None:
            assert known is not None  # the catalogue it matched in
            indicator = known.get(matched)
            assert indicator is not None  # the code it matched
            aggregation, todo = indicator.aggregation, None
        else:
            aggregation = "rate" if rate else "flow"
            todo = None if rate else "flow assumed (a monthly amount that adds up): stock if it is a level at a date"
        measures = [m for m in all_measures if m in row["measures"]]
        draft.indicators.append(
            IndicatorDraft(
                code,
                vi,
                unit,
                aggregation,
                parent,
                row["units"],
                measures if len(measures) < len(all_measures) else [],
                todo,
                why=f"code of catalogue {known.id}" if matched and known is not None else "",
            )
        )


def _clean(name: str) -> str:
    """An indicator's name as a catalogue writes it: without its numbering and a 'Trong đó:' prefix."""
    text = " ".join(name.split())
    for _ in range(3):
        before = text
        text = PART_PREFIX.sub("", NUMBERING.sub("", text, count=1), count=1)
        if text == before:
            break
    return text.rstrip(" :.;") or name


def _rules(words: Vocabulary, measures: set[str], parts: bool) -> list[dict]:
    """The form rules of a declared form whose measures these are (the same codes mean the same figures), else the
    usual rules of a figures form whose measures are here."""
    for feed, _ in words.forms:
        rules = [c for c in feed.checks if isinstance(c, FormRule)]
        if rules and all(_measures_of(rule) <= measures for rule in rules):
            return [rule.model_dump(exclude_defaults=True) | {"check": rule.check} for rule in rules]
    return [
        rule for rule, reads in FORM_RULES if reads <= measures and (rule["check"] != "part_not_above_whole" or parts)
    ]


def _measures_of(rule) -> set[str]:
    dumped = rule.model_dump()
    return {
        dumped[k] for k in ("month", "ytd", "measure", "numerator", "denominator") if isinstance(dumped.get(k), str)
    }
