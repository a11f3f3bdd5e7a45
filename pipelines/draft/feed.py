"""`ioc feeds draft`: a feed's declaration (and a form's indicator catalogue) from sample files, with what was
decided and why; what could not be decided is marked `# TODO` on its line."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pipelines.declarations import indicators
from pipelines.declarations.loading import FORM_COLUMNS, DeclarationError, read_feed
from pipelines.draft.form import FormDraft, draft_form, looks_like_form
from pipelines.draft.samples import DraftError, Sample, find_table_header, read_sample
from pipelines.draft.table import TableDraft, draft_table
from pipelines.draft.table_yaml import write_checks, write_columns, write_load
from pipelines.draft.vocabulary import Vocabulary, vocabulary
from pipelines.draft.yaml_text import YamlText
from pipelines.settings import paths


@dataclass
class Drafted:
    """What `ioc feeds draft` wrote and decided."""

    kind: str  # table | form
    feed_file: Path
    catalogue_file: Path | None
    decisions: list[str] = field(default_factory=list)
    todos: list[str] = field(default_factory=list)  # "file:line: what"


def draft_feed(
    files: list[Path],
    feed_id: str,
    force: bool = False,
    kind: str = "auto",
    owner: str | None = None,
    encodings: list[str] | None = None,
) -> Drafted:
    """Write $IOC_SCHEMAS/feeds/<feed_id>.yaml (and a form's catalogue) from the sample files; DraftError when a
    sample cannot be drafted from or the feed exists (unless `force`). Nothing is written on an error."""
    words = vocabulary(leave_out=feed_id)
    schemas = paths().schemas
    feed_file = schemas / "feeds" / f"{feed_id}.yaml"
    if feed_file.exists() and not force:
        raise DraftError(f"{feed_file} exists: draft under another --id, or overwrite it with --force")
    samples, left_out = [], []
    for file in files:  # a sample that cannot be read is left out, if others can
        try:
            samples.append(read_sample(Path(file), encodings))
        except DraftError as exc:
            left_out.append(str(exc))
    if not samples:
        raise DraftError("; ".join(left_out))
    form_why = looks_like_form(samples[0], words) if kind != "table" else None
    if not form_why:
        samples, left_out = _with_tables(samples, left_out)
    if kind == "form" and form_why is None:
        raise DraftError(
            f"{samples[0].path.name}: no form header found (a column of indicators beside measure "
            "columns headed by periods)"
        )
    drafted = Drafted("form" if form_why else "table", feed_file, None)
    drafted.decisions += [f"left out {why}" for why in left_out]
    if words.problem:
        drafted.decisions.append(
            f"declarations of $IOC_SCHEMAS that do not load ({words.problem}) lend no names; run `ioc feeds check`"
        )
    out = YamlText()
    names = ", ".join(s.path.name for s in samples[:4]) + (f" and {len(samples) - 4} more" if len(samples) > 4 else "")
    out.comment(
        f"Drafted by `ioc feeds draft` on {date.today():%Y-%m-%d} from {names}.\nRead every line, above all "
        f"those marked TODO, then try it on a file: ioc feeds try {feed_id} --file FILE"
    )
    catalogue_text = None
    if form_why:
        drafted.decisions.append(f"a form: {form_why}")
        form = draft_form(feed_id, samples, words)
        _form_feed(out, feed_id, form, samples, words, owner, drafted)
        if form.catalogue_reused is None:
            catalogue = YamlText()
            _catalogue(catalogue, feed_id, form)
            catalogue_text = catalogue
            drafted.catalogue_file = schemas / "indicators" / f"{feed_id}.yaml"
            if drafted.catalogue_file.exists() and not force:
                raise DraftError(
                    f"{drafted.catalogue_file} exists: draft under another --id, or overwrite it with --force"
                )
    else:
        drafted.decisions.append(
            "a plain table: "
            + ("no indicator column beside period-headed measures" if kind == "auto" else "as asked (--kind table)")
        )
        table = draft_table(samples, words)
        _table_feed(out, feed_id, table, samples, words, owner, drafted)
    _write(drafted, out, catalogue_text, words)
    return drafted


def _with_tables(samples: list[Sample], left_out: list[str]) -> tuple[list[Sample], list[str]]:
    """The samples whose table is found (its header row set), and why the others are left out; DraftError if none."""
    kept, why = [], list(left_out)
    for sample in samples:
        try:
            sample.header_index = find_table_header(sample)
            kept.append(sample)
        except DraftError as exc:
            why.append(str(exc))
    if not kept:
        raise DraftError("; ".join(why))
    return kept, why


def _header(out: YamlText, feed_id: str, owner: str | None, units: list[str], words: Vocabulary, tags: list[str]):
    out.key(0, "id", feed_id)
    out.key(0, "name", {"vi": feed_id, "en": feed_id}, todo="the feed's name in Vietnamese and in English")
    if owner:
        out.key(0, "owner", owner)
    elif len(units) == 1:
        out.key(0, "owner", units[0], why="the unit the samples come from")
    else:
        out.key(0, "owner", words.org_units.province, todo="the unit that owns this feed (a code of org_units.yaml)")
    out.key(0, "schedule", "0 * * * *", why="a safety net: a file is loaded as soon as it lands in the inbox")
    out.key(0, "tags", tags)


def _source(
    out: YamlText,
    feed_id: str,
    samples: list[Sample],
    number_format: str | None = None,
    number_why: str | None = None,
    number_todo: str | None = None,
    pattern: str | None = None,
    totals: int = 0,
    header_rows: int = 0,
) -> None:
    out.key(0, "source")
    out.key(2, "kind", "file_drop")
    out.key(2, "inbox", feed_id, why=f"files are dropped into $IOC_HOME/inbox/{feed_id}/")
    out.key(2, "patterns", ["*.csv", "*.xlsx"])
    if any("cp1258" in s.how for s in samples):
        out.key(
            2,
            "encodings",
            ["utf-8", "cp1258"],
            why="samples in Windows-1258 (" + ", ".join(s.path.name for s in samples if "cp1258" in s.how)[:120] + ")",
        )
    if number_format:
        out.key(2, "number_format", number_format, why=number_why, todo=number_todo)
    if header_rows > 30:
        out.key(2, "header_search_rows", min(header_rows + 10, 200), why=f"the header is on row {header_rows}")
    if totals:
        out.key(
            2,
            "skip_rows",
            [{"matches": "^(tổng cộng|tổng|cộng|tổng số|total)$"}],
            why=f"{totals} totals rows in the samples",
        )
    if pattern:
        out.key(
            2,
            "file_name_pattern",
            pattern,
            why="the samples' names carry their unit and period (" + ", ".join(s.path.name for s in samples[:2]) + ")",
        )


def _reporting(out: YamlText, unit_column: str, period_column: str, units: list[str], words: Vocabulary) -> None:
    kinds = sorted({u.kind for code in units if (u := words.org_units.get(code)) is not None}) or ["department"]
    out.key(0, "reporting")
    out.key(2, "period_type", "monthly", why="the files' names carry a month")
    out.key(2, "period_column", period_column)
    out.key(2, "unit_column", unit_column)
    out.key(
        2,
        "expected_units",
        {"kinds": kinds, "codes": sorted(units)},
        todo="which units must send it each period (here: those of the samples)",
    )
    out.key(
        2,
        "deadline",
        {"rule": "after_cutoff", "days": 2, "day_kind": "working"},
        todo="when a period's file is due (here Decree 09/2019's: 2 working days after the cut-off on the 14th)",
    )


def _table_feed(
    out: YamlText,
    feed_id: str,
    table: TableDraft,
    samples: list[Sample],
    words: Vocabulary,
    owner: str | None,
    drafted: Drafted,
) -> None:
    names = table.file_names
    pattern = names.pattern if names else None
    units = sorted(set(names.units.values())) if names else []
    _header(out, feed_id, owner, units, words, ["file_drop", "report"] if pattern else ["file_drop"])
    _source(
        out,
        feed_id,
        samples,
        table.number_format,
        table.number_why,
        table.number_todo,
        pattern,
        table.totals,
        max(table.header_rows.values()),
    )
    write_columns(out, table)
    write_load(out, table)
    if pattern:
        assert names is not None and names.unit_column and names.period_column  # the columns the pattern names
        _reporting(out, names.unit_column, names.period_column, units, words)
    write_checks(out, table)
    for file, row in table.header_rows.items():
        drafted.decisions.append(
            f"header: row {row} of {file}" + (f" ({row - 1} title rows above it)" if row > 1 else "")
        )
    drafted.decisions.append(f"numbers: {table.number_format} ({table.number_why})")
    for slot in table.slots:
        drafted.decisions.append(
            f"  {' / '.join(slot.labels)!s} → {slot.name}: {slot.inferred.type}"
            + (f" {slot.inferred.formats}" if slot.inferred.formats else "")
            + (", references org_unit" if slot.inferred.references else "")
            + (f", enum {dict(slot.codes)}" if slot.codes else "")
            + (", nullable" if slot.inferred.nullable else "")
            + f" ({slot.inferred.why}; {slot.name_why})"
        )
    drafted.decisions.append(f"key: {table.key} ({table.key_why or 'undecided'})")
    if table.version:
        drafted.decisions.append(f"version: {table.version} (the latest version of a row wins)")
    if pattern:
        assert names is not None  # the pattern is theirs
        drafted.decisions.append(
            f"file names: {pattern} ({names.unit_column} and {names.period_column} of every row "
            "are those of its file's name); a file replaces its unit's period"
        )
    elif names:
        drafted.decisions.append(
            "file names carry a unit and a period, but no column holds them in every row: no file_name_pattern"
        )
    if table.totals:
        drafted.decisions.append(f"{table.totals} totals rows skipped (source.skip_rows)")


def _form_feed(
    out: YamlText,
    feed_id: str,
    form: FormDraft,
    samples: list[Sample],
    words: Vocabulary,
    owner: str | None,
    drafted: Drafted,
) -> None:
    pattern = r"^(?P<department_code>[A-Z][A-Z0-9_]*?)_(?P<period>\d{4}-\d{2}|\d{2}-\d{4})" if form.file_names else None
    _header(out, feed_id, owner, form.units, words, ["file_drop", "report", "form"])
    _source(out, feed_id, samples, "vi", "forms write 1.234,5", None, pattern)
    out.key(2, "form")
    out.key(
        4,
        "catalogue",
        form.catalogue,
        why=(
            "a declared catalogue that knows the forms' indicators"
            if form.catalogue_reused
            else f"schemas/indicators/{form.catalogue}.yaml, drafted beside this"
        ),
        todo=form.catalogue_todo,
    )
    out.key(4, "indicator", form.indicator_labels)
    out.key(4, "numbering", form.numbering_labels)
    out.key(4, "unit_of_measure", form.unit_labels)
    out.key(4, "note", form.note_labels)
    out.key(4, "measures")
    for m in form.measures:
        measure = {
            "measure": m.code,
            **({"unit_of_measure": m.unit_of_measure} if m.unit_of_measure else {}),
            "labels": m.labels,
        }
        out.item(6, measure, why=m.why, todo=m.todo)
    if not form.file_names:
        out.comment("the samples' names do not carry their unit and period: they are read from the title block", 2)
    out.key(0, "columns")
    for column in FORM_COLUMNS:
        if column["name"] == "measure":
            column = {**column, "enum": [m.code for m in form.measures]}
        out.item(2, column)
    out.key(0, "load")
    out.key(2, "key", ["department_code", "period", "indicator_code", "measure"], why="one figure per cell")
    out.key(2, "replace", ["department_code", "period"], why="a form sent again replaces its unit's period")
    _reporting(out, "department_code", "period", form.units, words)
    out.key(0, "checks")
    if pattern:
        out.item(2, {"check": "rows_match_file_name"})
    out.item(2, {"check": "unit_code_is_active", "column": "department_code", "as_of": "period"})
    for rule in form.rules:
        out.item(2, rule, why="a rule across the form's figures (DHIS2's validation rules)")
    drafted.decisions.append("measures: " + "; ".join(f"{m.code} ← {m.labels} ({m.why})" for m in form.measures))
    drafted.decisions.append(f"{len(form.indicators) or 'every'} indicator rows; reporting units {form.units}")
    drafted.decisions += form.notes


def _catalogue(out: YamlText, feed_id: str, form: FormDraft) -> None:
    out.comment(
        f"Drafted by `ioc feeds draft` for feed {feed_id}: one indicator per row of the sample forms.\n"
        "TODO: each indicator's English name (en), and its aggregation where marked."
    )
    out.key(0, "id", feed_id)
    out.key(0, "name", {"vi": feed_id, "en": feed_id}, todo="the data set's name in Vietnamese and in English")
    out.key(0, "measures", [m.code for m in form.measures])
    out.key(0, "indicators")
    for i in form.indicators:
        entry: dict[str, object] = {
            "code": i.code,
            "vi": i.vi,
            "en": i.vi,
            "unit": i.unit,
            "aggregation": i.aggregation,
        }
        if i.parent:
            entry["parent"] = i.parent
        entry["departments"] = i.departments
        if i.measures:
            entry["measures"] = i.measures
        out.item(2, entry, why=i.why or None, todo=i.todo)


def _write(drafted: Drafted, feed: YamlText, catalogue: YamlText | None, words: Vocabulary) -> None:
    """Write the catalogue, then the feed once it reads back as a valid declaration; on an error, every file is as
    it was."""

    before = drafted.catalogue_file.read_bytes() if drafted.catalogue_file and drafted.catalogue_file.exists() else None
    try:
        if catalogue is not None:
            assert drafted.catalogue_file is not None  # a drafted catalogue has its file
            _replace(drafted.catalogue_file, catalogue.render())
            indicators._read.cache_clear()
            drafted.todos += [f"{drafted.catalogue_file.name}:{n}: {what}" for n, what in catalogue.todos]
        with tempfile.TemporaryDirectory(prefix="ioc-draft-") as directory:
            staged = Path(directory) / drafted.feed_file.name
            staged.write_text(feed.render(), encoding="utf-8")
            try:
                read_feed(staged, words.org_units)
            except DeclarationError as exc:
                raise RuntimeError(f"the draft does not pass `ioc feeds check` (please report it): {exc}") from None
        _replace(drafted.feed_file, feed.render())
        drafted.todos[:0] = [f"{drafted.feed_file.name}:{n}: {what}" for n, what in feed.todos]
    except BaseException:
        if catalogue is not None and drafted.catalogue_file is not None:
            if before is None:
                drafted.catalogue_file.unlink(missing_ok=True)
            else:
                drafted.catalogue_file.write_bytes(before)
        raise


def _replace(target: Path, text: str) -> None:
    """Write the file through a temporary name beside it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.stem}-", suffix=".tmp", dir=target.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(name, target)
