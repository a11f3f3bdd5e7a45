"""`ioc feeds try`: a feed's whole read, conform and validate path on one file, writing nothing — not the warehouse,
the inbox, the archive, raw history, nor Great Expectations' results — and what it would do: the header and the
label → column mapping, per column how many values parse (with examples of those that do not), the rows that
would be quarantined with their reasons, the checks' outcome and whether the batch would be blocked."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipelines.conform.rows import map_headers
from pipelines.declarations.checks import INDICATOR_CHECK, TYPE_CHECK
from pipelines.declarations.loading import catalog
from pipelines.declarations.models import Feed, FileDropSource
from pipelines.extract.file_drop import csv_chunks, file_name_fields, kept_rows, sheet_of, table_frame, workbook_bytes
from pipelines.extract.form import read_form
from pipelines.extract.landing import LINEAGE_COLUMNS, SOURCE_ROW, LandedBatch, new_batch_id
from pipelines.extract.tabular import read_grid
from pipelines.load.batch import STAGED, BatchSummary, validated
from pipelines.text import column_letter
from pipelines.validate import service
from pipelines.validate.batch import BatchValidator
from pipelines.warehouse import quote

PARSE_CHECKS = (TYPE_CHECK, "values_in_set", INDICATOR_CHECK)  # a value that is not of its column's kind
MAX_EXAMPLES = 5


@dataclass
class ColumnTrial:
    column: str
    type: str
    values: int  # cells with a value
    parsed: int
    failed: int
    examples: list[str] = field(default_factory=list)  # values that did not parse


@dataclass
class Trial:
    """What loading the file would do."""

    feed: str
    file: str
    read_as: str = ""
    header_row: int | None = None
    mapping: list[dict] = field(default_factory=list)  # {label, column}
    unmapped_labels: list[str] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)
    columns: list[ColumnTrial] = field(default_factory=list)
    rows: int = 0
    would_load: int = 0
    quarantined: int = 0
    quarantine: list[dict] = field(default_factory=list)  # {row, cell, reasons}
    checks: list[dict] = field(default_factory=list)  # {check, severity, success, failing}
    blocked: bool = False
    blocked_because: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.blocked and self.quarantined == 0 and self.rows > 0


@contextlib.contextmanager
def _nothing_written():
    """Everything the platform writes goes to a temporary $IOC_HOME for the trial (removed after it); a running
    validation service of the real $IOC_HOME still validates (its worker writes under the temporary home too)."""
    saved = {k: os.environ.get(k) for k in ("IOC_HOME", "IOC_VALIDATION_SOCKET", "IOC_RAW_DATA", "IOC_WAREHOUSE")}
    home = Path(tempfile.mkdtemp(prefix="ioc-try-"))
    os.environ["IOC_VALIDATION_SOCKET"] = str(service.socket_path())
    os.environ["IOC_HOME"] = str(home)
    os.environ.pop("IOC_RAW_DATA", None)
    os.environ["IOC_WAREHOUSE"] = "duckdb"
    try:
        yield home
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(home, ignore_errors=True)


def try_file(feed: Feed, path: Path) -> Trial:
    """Read, conform and validate the file as the feed's load would; UnreadableFile if it cannot be read."""

    trial = Trial(feed.id, path.name)
    with _nothing_written() as home:
        batch = LandedBatch(
            batch_id=new_batch_id(),
            feed=feed.id,
            source_uri=str(home / f"try__{path.name}"),
            checksum="",
            received_at=datetime.fromtimestamp(path.stat().st_mtime, UTC),
            file_name=path.name,
            file_fields=file_name_fields(feed, path.name),
        )
        chunks, trial.read_as, trial.header_row, layout = _read(feed, path, batch)
        con = duckdb.connect()
        summary = BatchSummary(batch.batch_id, feed.id, batch.source_uri, path.name, status="received")
        validator = BatchValidator(con, feed, batch, catalog().org_units, STAGED)
        try:
            validation = validated(con, feed, batch, validator, summary, _first_seen(chunks, trial, feed, layout))
            trial.rows = summary.rows_received
            trial.warnings = [w for w in (*batch.warnings, *summary.warnings) if not w.startswith("read as ")]
            if validation is not None:
                _outcome(con, feed, trial, validation, STAGED)
        finally:
            validator.close()
            con.close()
    return trial


def _read(feed: Feed, path: Path, batch):
    """The file's landing frames as the feed's extractor reads them, how, its header row, and a form's layout."""

    source = feed.source_as(FileDropSource)  # a file is tried against a file_drop feed
    if source.form is None and path.suffix.lower() in (".csv", ".txt"):
        chunks, how, header_row = csv_chunks(feed, path, whole=True)  # decoded whole first: no second read
        return kept_rows(feed, batch, chunks), how, header_row, None
    grid = read_grid(
        path,
        workbook_bytes(feed, path) if path.suffix.lower() in (".xlsx", ".xlsm") else path.read_bytes(),
        source.encodings,
        source.sheet,
        source.limits,
    )
    if source.form is not None:
        read = read_form(feed, grid, batch.file_fields, sheet_of(grid))
        reporting = feed.reporting
        assert reporting is not None  # a form declares it (the declarations' checks)
        batch.file_fields = {
            reporting.unit_column: read.unit,
            reporting.period_column: read.period,
            **batch.file_fields,
        }
        batch.warnings = list(read.warnings)
        return kept_rows(feed, batch, [read.frame]), grid.how, read.header_row, read.columns
    frame, header_row = table_frame(feed, grid)
    return kept_rows(feed, batch, [frame]), grid.how, header_row, None


def _first_seen(chunks, trial: Trial, feed: Feed, layout):
    """The chunks, noting the header's mapping from the first (a form's from its layout)."""

    for i, chunk in enumerate(chunks):
        if i == 0:
            if layout is not None:
                parts = {
                    layout.indicator: "indicator_name",
                    layout.numbering: "stt",
                    layout.unit: "unit_of_measure",
                    layout.note: "note",
                }
                for j, label in sorted(layout.labels.items()):
                    column = parts.get(j) or (f"measure {layout.measures[j]}" if j in layout.measures else None)
                    if column:
                        trial.mapping.append({"label": label, "column": column, "at": column_letter(j)})
                    else:
                        trial.unmapped_labels.append(label)
            else:
                labels = [c for c in chunk.columns if c not in LINEAGE_COLUMNS]
                mapping, unknown, _ = map_headers(feed, labels)
                by_label = {v: k for k, v in mapping.items()}
                trial.mapping = [
                    {"label": label, "column": by_label[label], "at": column_letter(j)}
                    for j, label in enumerate(labels)
                    if label in by_label
                ]
                trial.unmapped_labels = [label for label in unknown if not label.startswith("(column ")]
                trial.missing_columns = [c.name for c in feed.columns if c.name not in mapping]
        yield chunk


def _outcome(con, feed: Feed, trial: Trial, validation, staged: str) -> None:

    trial.would_load = 0 if validation.blocked else validation.published
    trial.quarantined = validation.quarantined
    trial.blocked, trial.blocked_because = bool(validation.blocked), list(validation.blocked)
    form = getattr(feed.source, "form", None) is not None
    cell = "source_cell" if form else "NULL"
    rows = con.execute(
        f"SELECT {quote(SOURCE_ROW)}, {cell}, list_transform(reasons, r -> r.message), "
        f"list_transform(reasons, r -> {{'check': r.check_name, 'column': r.column_name, 'actual': r.actual}}) "
        f"FROM {staged} WHERE len(reasons) > 0 ORDER BY _row_id"
    ).fetchall()
    trial.quarantine = [{"row": row, "cell": at, "reasons": messages} for row, at, messages, _ in rows]
    failed: dict[str, list[str | None]] = {}
    for *_, reasons in rows:
        for r in reasons:
            if r["check"] in PARSE_CHECKS and r["column"]:
                failed.setdefault(r["column"], []).append(r["actual"])
    mapped = {m["column"] for m in trial.mapping}
    for column in feed.columns:
        if not form and column.name not in mapped:
            continue
        present = con.execute(f"SELECT count({quote(column.name)}) FROM {staged}").fetchone()[0]
        bad = failed.get(column.name, [])
        enum_kept = column.enum is not None  # an unknown label keeps its text (counted among the present)
        values = present + (0 if enum_kept else len(bad))
        examples = list(dict.fromkeys(str(v) for v in bad if v is not None))[:MAX_EXAMPLES]
        trial.columns.append(ColumnTrial(column.name, column.type, values, values - len(bad), len(bad), examples))
    trial.checks = [
        {"check": r.check.id, "severity": r.check.severity, "success": r.success, "failing": r.unexpected_count}
        for r in validation.results
    ]
