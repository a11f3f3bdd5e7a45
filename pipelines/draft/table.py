"""The draft of a plain table's feed: its columns (label, name, type, labels), key, version, file names."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

import polars as pl

from pipelines.draft.names import snake_name, unique
from pipelines.draft.samples import Sample, find_table_header
from pipelines.draft.types import Inferred, infer, number_format
from pipelines.draft.vocabulary import Vocabulary
from pipelines.text import label_key

TOTALS = ("tổng cộng", "tổng", "cộng", "tổng số", "total")
UPDATE_WORDS = ("cập nhật", "sửa đổi", "thay đổi", "updated", "modified", "last change")
FILE_NAME = re.compile(r"^(?P<unit>[A-Z][A-Z0-9_]*?)_(?P<period>\d{4}-\d{2}|\d{2}-\d{4})(?![0-9])")
MAX_KEY_COLUMNS = 3


@dataclass
class Slot:
    """One column of the feed, as the sample files write it."""

    labels: list[str]  # as written, distinct by label key, first seen first
    values: list[pl.Series] = field(default_factory=list)  # one per sample that has it
    per_sample: dict[int, pl.Series] = field(default_factory=dict)  # sample index -> its values
    name: str = ""
    inferred: Inferred = field(init=False)  # set by draft_table for every slot, before anything reads it
    name_why: str = ""
    todo: list[str] = field(default_factory=list)
    codes: dict[str, str] = field(default_factory=dict)  # an enum's label -> code

    @property
    def label(self) -> str:
        return self.labels[0]


@dataclass
class FileNames:
    """What the sample files' names carry: a unit code and a period (SYT_2026-10.xlsx)."""

    units: dict[int, str]  # sample -> unit code
    periods: dict[int, str]  # sample -> YYYY-MM
    unit_column: str | None = None
    period_column: str | None = None

    @property
    def columns(self) -> list[str] | None:
        """The unit and period columns, once both are found (the groups of the pattern)."""
        if not (self.unit_column and self.period_column):
            return None
        return [self.unit_column, self.period_column]

    @property
    def pattern(self) -> str | None:
        if not (self.unit_column and self.period_column):
            return None
        return rf"^(?P<{self.unit_column}>[A-Z][A-Z0-9_]*?)_(?P<{self.period_column}>\d{{4}}-\d{{2}}|\d{{2}}-\d{{4}})"


@dataclass
class TableDraft:
    slots: list[Slot]
    number_format: str
    number_why: str
    number_todo: str | None
    key: list[str]
    key_why: str
    key_todo: str | None
    version: str | None
    replace: list[str] | None
    file_names: FileNames | None
    totals: int  # totals rows seen (skipped)
    header_rows: dict[str, int]  # file -> 1-based header row
    notes: list[str] = field(default_factory=list)


def draft_table(samples: list[Sample], words: Vocabulary) -> TableDraft:
    header_rows = {}
    frames = []
    totals = 0
    for sample in samples:
        if sample.header_index < 0:
            sample.header_index = find_table_header(sample)
        header_rows[sample.path.name] = sample.header_index + 1
        frame, names = sample.body()
        is_total = pl.any_horizontal(
            [pl.col(n).str.strip_chars().str.to_lowercase().is_in(list(TOTALS)).fill_null(False) for n in names]
        )
        totals += int(frame.select(is_total.sum()).item())
        frames.append((frame.filter(~is_total), names))
    slots = _slots(samples, frames, words)
    fmt, number_why, number_todo = number_format([pl.concat(s.values) for s in slots])
    units = words.org_units.codes
    taken: set[str] = set()
    for slot in slots:
        values = pl.concat(slot.values)
        if len(slot.per_sample) < len(samples):  # a file without the column: its rows have none
            values = pl.concat([values, pl.Series([None], dtype=pl.String)])
        slot.inferred = infer(slot.label, values, units, fmt)
        known = words.column_name(slot.label)
        if known is not None and known[0] not in taken:
            slot.name, slot.name_why = unique(known[0], taken), f"the name feed {known[1]} gives {slot.label!r}"
        else:
            slot.name = unique(snake_name(slot.label), taken)
            slot.name_why = f"from the header {slot.label!r}"
        if slot.inferred.labels:
            made = []
            for label in slot.inferred.labels:
                code = words.value_code(label)
                if code is None:
                    code = snake_name(label)
                    made.append(label)
                slot.codes[label] = code
            if made:
                slot.todo.append(
                    f"codes made from the labels {', '.join(made)}: use the codes your KPIs and alerts expect"
                )
        if slot.inferred.todo:
            slot.todo.append(slot.inferred.todo)
    file_names = _file_names(samples, slots, units)
    key, key_why, key_todo = _key(slots, len(samples), file_names)
    version = _version(slots) if not (file_names and file_names.pattern) else None
    replace = file_names.columns if file_names else None
    return TableDraft(
        slots, fmt, number_why, number_todo, key, key_why, key_todo, version, replace, file_names, totals, header_rows
    )


def _slots(samples: list[Sample], frames, words: Vocabulary) -> list[Slot]:
    """The columns of every sample matched to one another: by label, then by the name the project gives the label,
    then by position (files of the same width), else a column of its own."""
    slots: list[Slot] = []
    widths = []
    for i, (frame, names) in enumerate(frames):
        labels = [n for n in names]
        widths.append(len(labels))
        used: set[int] = set()
        for j, label in enumerate(labels):
            values = frame[label]
            if label.startswith("(column ") and values.null_count() == values.len():
                continue  # an unlabelled, empty column (a spreadsheet's trailing cells)
            found = next(
                (
                    k
                    for k, s in enumerate(slots)
                    if k not in used and label_key(label) in {label_key(x) for x in s.labels}
                ),
                None,
            )
            if found is None:
                name = words.column_name(label)
                found = next(
                    (
                        k
                        for k, s in enumerate(slots)
                        if k not in used and name is not None and words.column_name(s.label) == name
                    ),
                    None,
                )
            if (
                found is None
                and i
                and widths[0] == len(labels)
                and j < len(slots)
                and j not in used
                and j not in _matched(slots, labels, used)
                and len(slots[j].per_sample) == i
            ):
                found = j
                slots[j].todo.append(
                    f"{label!r} ({samples[i].path.name}) taken as the same column as {slots[j].label!r} by its position"
                )
            if found is None:
                slots.append(Slot([label]))
                found = len(slots) - 1
            slot = slots[found]
            if label_key(label) not in {label_key(x) for x in slot.labels}:
                slot.labels.append(label)
            slot.values.append(values)
            slot.per_sample[i] = values
            used.add(found)
    for slot in slots:
        if slot.label.startswith("(column "):
            slot.todo.append("no header label over this column: name it, and ask the department to label it")
    return slots


def _matched(slots: list[Slot], labels: list[str], used: set[int]) -> set[int]:
    """Slots another label of this sample will match by its label (not to be taken by position)."""
    keys = {label_key(x) for x in labels}
    return {k for k, s in enumerate(slots) if k not in used and keys & {label_key(x) for x in s.labels}}


def unit_and_period(name: str, codes: frozenset[str]) -> tuple[str, str] | None:
    """The unit code (of org_units.yaml) and the month (YYYY-MM) a file's name starts with: SYT_2026-10.xlsx,
    STC_10-2026.csv."""
    found = FILE_NAME.match(name)
    if not found or found["unit"] not in codes:
        return None
    period = month_key(found["period"])
    assert period is not None  # FILE_NAME's periods are months as month_key reads them
    return found["unit"], period


def _file_names(samples: list[Sample], slots: list[Slot], codes: frozenset[str]) -> FileNames | None:
    """The unit and period every sample's name carries, and the columns that hold them (every row of a file
    the same as its name)."""
    units, periods = {}, {}
    for i, sample in enumerate(samples):
        found = unit_and_period(sample.path.name, codes)
        if found is None:
            return None
        units[i], periods[i] = found
    names = FileNames(units, periods)
    for slot in slots:
        kind = slot.inferred.type
        if slot.inferred.references and names.unit_column is None and _agrees(slot, units, lambda v: v):
            names.unit_column = slot.name
        elif kind == "month" and names.period_column is None and _agrees(slot, periods, month_key):
            names.period_column = slot.name
    return names


def month_key(text: str) -> str | None:
    """YYYY-MM of a month as files and cells write it: 2026-10, 10-2026, 10/2026."""
    found = re.fullmatch(r"(\d{4})-(\d{1,2})|(\d{1,2})[/.-](\d{4})", text)
    if not found:
        return None
    year, month = (found[1], found[2]) if found[1] else (found[4], found[3])
    return f"{int(year):04d}-{int(month):02d}"


def _agrees(slot: Slot, wanted: dict[int, str], key) -> bool:
    """Most samples' rows carry their file name's value: a sample whose rows mostly do agrees, and at least three
    in four agree (a file named for another unit or month is an error of the samples: its rows are quarantined)."""
    if len(slot.per_sample) != len(wanted):
        return False
    agreeing = 0
    for i, values in slot.per_sample.items():
        seen = values.drop_nulls().str.strip_chars().to_list()
        agreeing += bool(seen) and sum(1 for v in seen if key(v) == wanted[i]) * 2 > len(seen)
    return agreeing == len(wanted) or (agreeing >= 2 and agreeing * 4 >= len(wanted) * 3)


def _key(slots: list[Slot], samples: int, names: FileNames | None) -> tuple[list[str], str, str | None]:
    """The smallest set of columns unique in every sample: identifiers (a code, a number) first."""
    fixed = (names.columns or []) if names else []
    candidates = [
        s
        for s in slots
        if not s.inferred.nullable
        and s.name not in fixed
        and len(s.per_sample) == samples
        and s.inferred.type not in ("number", "boolean")
    ]
    candidates.sort(key=_key_rank)
    for size in range(1, MAX_KEY_COLUMNS + 1):
        for chosen in itertools.combinations(candidates, size):
            if all(_unique([s.per_sample[i] for s in chosen]) for i in range(samples)):
                names_ = [s.name for s in chosen]
                why = "unique in " + ("the sample" if samples == 1 else f"each of the {samples} samples")
                if fixed:
                    why += f"; with {' and '.join(fixed)} from the file's name"
                return fixed + names_, why, None
    shown = [s.name for s in candidates[:MAX_KEY_COLUMNS]] or [slots[0].name]
    return (
        fixed + shown,
        "",
        (f"no set of up to {MAX_KEY_COLUMNS} columns is unique in the samples: name the columns that identify a row"),
    )


def _key_rank(slot: Slot) -> tuple:
    key = label_key(slot.label)
    identifier = any(w in key for w in ("mã", "số hiệu", "id", "code", "stt"))
    order = {"string": 0, "integer": 1, "month": 2, "date": 3, "timestamp": 4}.get(slot.inferred.type, 5)
    return (not identifier, bool(slot.inferred.labels), order, -slot.inferred.distinct)


def _unique(columns: list[pl.Series]) -> bool:
    frame = pl.DataFrame({str(i): c for i, c in enumerate(columns)})
    return frame.height > 0 and frame.n_unique() == frame.height


def _version(slots: list[Slot]) -> str | None:
    """A timestamp (or date) column whose header says it is when the row last changed."""
    for slot in slots:
        if (
            slot.inferred.type in ("timestamp", "date")
            and not slot.inferred.nullable
            and any(w in label_key(slot.label) for w in UPDATE_WORDS)
        ):
            return slot.name
    return None
