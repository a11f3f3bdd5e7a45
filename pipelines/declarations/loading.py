"""Read declaration files into models; every problem names the file and the key at fault."""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from pydantic import ValidationError

from pipelines.declarations.base import read_yaml
from pipelines.declarations.briefing import Briefing
from pipelines.declarations.checks import CHECK_NAMES, FormRule
from pipelines.declarations.indicators import catalogue_file, indicator_catalogue
from pipelines.declarations.kpis import PLACEHOLDERS, Kpi, KpiFile, RatioOfKpis, TableMeasure, placeholders
from pipelines.declarations.models import Feed, FileDropSource, OrgUnits
from pipelines.settings import paths
from pipelines.text import label_key


@dataclass(frozen=True)
class DeclarationProblem:
    """One thing wrong in a declaration file."""

    file: Path
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.key}" if self.key else str(self.file)
        return f"{where}: {self.message}"


class DeclarationError(Exception):
    """Declarations that cannot be used; carries every problem found."""

    def __init__(self, problems: list[DeclarationProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


DISCRIMINATOR_TAGS = frozenset(
    {"http_json", "file_drop", "postgres", "page_number", "next_link", *CHECK_NAMES, "table", "query", "ratio_of_kpis"}
)


def _location(loc: tuple) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in DISCRIMINATOR_TAGS:
            continue  # the tags pydantic inserts into the path of a tagged union
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def _read_yaml(file: Path) -> tuple[object, list[DeclarationProblem]]:
    try:
        return read_yaml(file), []
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        return None, [DeclarationProblem(file, "", f"is not valid YAML: {exc}")]


def _validate(model, file: Path, data: object):
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            message = err["msg"]
            if err["type"] == "extra_forbidden":
                message = "unknown key (check its spelling against the declaration reference in docs/feeds.md)"
            elif "input" in err and err["type"] not in ("missing",) and not isinstance(err["input"], dict):
                message += f" (got {err['input']!r})"
            problems.append(DeclarationProblem(file, _location(err["loc"]), message))
        return None, problems


def read_org_units(file: Path | None = None) -> OrgUnits:
    """The organisation units, or DeclarationError."""
    units, problems = _org_units_and_problems(file or paths().org_units_file)
    if problems:
        raise DeclarationError(problems)
    assert units is not None  # read without a problem
    return units


def _org_units_and_problems(file: Path) -> tuple[OrgUnits | None, list[DeclarationProblem]]:
    data, problems = _read_yaml(file)
    units, more = _validate(OrgUnits, file, data) if not problems else (None, [])
    problems += more
    if units is not None:
        problems += _org_unit_problems(units, file)
    return units, problems


def _org_unit_problems(units: OrgUnits, file: Path) -> list[DeclarationProblem]:
    problems = []
    seen: set[str] = set()
    for i, unit in enumerate(units.units):
        if unit.code in seen:
            problems.append(DeclarationProblem(file, f"units[{i}].code", f"duplicate code {unit.code!r}"))
        seen.add(unit.code)
    for i, unit in enumerate(units.units):
        for key in ("parent", "successor"):
            ref = getattr(unit, key)
            if ref is not None and ref not in units.codes:
                problems.append(DeclarationProblem(file, f"units[{i}].{key}", f"unknown unit code {ref!r}"))
        if unit.valid_to and unit.valid_to < unit.valid_from:
            problems.append(DeclarationProblem(file, f"units[{i}].valid_to", "is before valid_from"))
    if units.province not in units.codes:
        problems.append(DeclarationProblem(file, "province", f"unknown unit code {units.province!r}"))
    return problems


def read_feed(file: Path, org_units: OrgUnits) -> Feed:
    """One feed declaration, checked against the organisation units, or DeclarationError."""
    data, problems = _read_yaml(file)
    feed, more = _validate(Feed, file, data) if not problems else (None, [])
    problems += more
    if feed is not None:
        problems += feed_problems(feed, file, org_units)
    if problems:
        raise DeclarationError(problems)
    return feed


def feed_problems(feed: Feed, file: Path, org_units: OrgUnits) -> list[DeclarationProblem]:
    """Cross-references inside a feed and to the organisation units."""
    problems: list[DeclarationProblem] = []

    def problem(key: str, message: str) -> None:
        problems.append(DeclarationProblem(file, key, message))

    if feed.id != file.stem:
        problem("id", f"{feed.id!r} must match the file name {file.stem!r}")
    if feed.owner not in org_units.codes:
        problem("owner", f"unknown organisation unit {feed.owner!r} (see {paths().org_units_file.name})")
    names = feed.column_names
    labels: dict[str, str] = {}
    for i, column in enumerate(feed.columns):
        if names.count(column.name) > 1:
            problem(f"columns[{i}].name", f"duplicate column {column.name!r}")
        for label in [column.name, *column.labels]:
            other = labels.setdefault(label_key(label), column.name)
            if other != column.name:
                problem(f"columns[{i}].labels", f"label {label!r} is also used by column {other!r}")
    known = set(names)

    def must_be_columns(key: str, cols: list[str] | None) -> None:
        for col in cols or []:
            if col not in known:
                problem(key, f"{col!r} is not a declared column (columns: {', '.join(names)})")

    must_be_columns("load.key", feed.load.key)
    must_be_columns("load.replace", feed.load.replace)
    for col in feed.load.key:
        declared = feed.column(col)
        if declared is not None and declared.nullable:
            problem("load.key", f"key column {col!r} must not be nullable")
    if feed.load.version:
        must_be_columns("load.version", [feed.load.version])
        declared = feed.column(feed.load.version)
        if declared is not None and declared.type not in ("timestamp", "date", "integer"):
            problem("load.version", f"version column {declared.name!r} must be a timestamp, date or integer")
    incremental = getattr(feed.source, "incremental", None)
    if incremental is not None:
        must_be_columns("source.incremental.cursor_field", [incremental.cursor_field])
    withdrawals = feed.withdrawals
    if withdrawals is not None and withdrawals.kind == "status":
        must_be_columns("withdrawals.column", [withdrawals.column])
    if withdrawals is not None and withdrawals.kind == "snapshot" and feed.source.kind == "file_drop":
        problem(
            "withdrawals",
            "a snapshot re-reads a source that is pulled (http_json, postgres); a file drop's "
            "withdrawals are declared by status, or by a department's corrected report",
        )
    if withdrawals is not None and withdrawals.kind == "tombstones":
        wanted = {"http_json": "url", "postgres": "query"}.get(feed.source.kind)
        if wanted is None:
            problem("withdrawals", "tombstones are read from a pulled source (http_json: url, postgres: query)")
        elif getattr(withdrawals, wanted) is None:
            problem(f"withdrawals.{wanted}", f"a {feed.source.kind} source's tombstones need {wanted!r}")
    if feed.reconcile is not None and feed.reconcile.by == "key_scan":
        if withdrawals is None or withdrawals.kind != "snapshot":
            problem("reconcile", "a key scan is what a snapshot does: declare withdrawals: {kind: snapshot}")
    elif feed.reconcile is not None:
        if feed.source.kind == "file_drop":
            problem("reconcile", "only a pulled source (http_json, postgres) says how many records it holds")
        elif feed.source.kind == "http_json" and not getattr(feed.source.pagination, "total_path", None):
            problem("reconcile", "the API's count is read at source.pagination.total_path: declare it (e.g. total)")
    for i, rule in enumerate(getattr(feed.source, "skip_rows", [])):
        must_be_columns(f"source.skip_rows[{i}].column", [rule.column] if rule.column else [])
    for i, check in enumerate(feed.checks):
        must_be_columns(f"checks[{i}]", check.columns())
        if check.check == "rows_match_file_name" and not getattr(feed.source, "file_name_pattern", None):
            problem(f"checks[{i}]", "rows_match_file_name needs source.file_name_pattern (a file_drop source)")
        if check.check == "column_pair_in_order":
            kinds = {declared.type for c in check.columns() if (declared := feed.column(c)) is not None}
            if len(kinds) > 1 and not kinds <= {"date", "timestamp"} and not kinds <= {"integer", "number"}:
                problem(f"checks[{i}]", f"cannot compare columns of types {sorted(kinds)}")
    for i, rule in enumerate(feed.outliers):
        must_be_columns(f"outliers[{i}]", rule.columns())
        declared = feed.column(rule.column)
        if declared is not None and declared.type not in ("integer", "number"):
            problem(f"outliers[{i}].column", f"{rule.column!r} is {declared.type}; outliers need a number column")
    source = feed.source
    if isinstance(source, FileDropSource) and source.submissions is not None:  # only files are submitted
        groups = set(re.compile(source.file_name_pattern).groupindex) if source.file_name_pattern else set()
        if feed.reporting is None or feed.reporting.unit_column not in groups:
            problem(
                "source.submissions",
                "a department submits its own unit's files: declare reporting.unit_column "
                "and a source.file_name_pattern with a group of that name",
            )
    problems += [DeclarationProblem(file, key, message) for key, message in _form_problems(feed)]
    pattern = getattr(feed.source, "file_name_pattern", None)
    if pattern:
        must_be_columns("source.file_name_pattern", list(re.compile(pattern).groupindex))
    if feed.tasks is not None:
        t = feed.tasks
        must_be_columns(
            "tasks",
            [t.unit_column, t.due_column, t.done_column, t.status_column]
            + [c for c in (t.title_column, t.source_column, t.assigned_by_column) if c],
        )
    if feed.reporting is not None:
        must_be_columns("reporting.period_column", [feed.reporting.period_column])
        must_be_columns("reporting.unit_column", [feed.reporting.unit_column])
    try:
        ZoneInfo(feed.timezone)
    except Exception:
        problem("timezone", f"unknown time zone {feed.timezone!r} (e.g. Asia/Ho_Chi_Minh)")
    return problems


# What a form's figures land as (pipelines.extract.form reads all but indicator_code, which the catalogue gives
# each: pipelines.conform.indicators), with the type and nullability a feed's columns declare for them.
FORM_COLUMNS: tuple[dict, ...] = (
    {"name": "department_code", "type": "string", "references": "org_unit"},
    {"name": "period", "type": "month"},
    {"name": "indicator_code", "type": "string"},
    {"name": "indicator_name", "type": "string"},
    {"name": "part_of", "type": "string", "nullable": True},
    {"name": "stt", "type": "string", "nullable": True},
    {"name": "measure", "type": "string"},
    {"name": "value", "type": "number"},
    {"name": "unit_of_measure", "type": "string", "nullable": True},
    {"name": "note", "type": "string", "nullable": True},
    {"name": "source_cell", "type": "string"},
)
FORM_CONTRACT = tuple(c["name"] for c in FORM_COLUMNS)


def _form_problems(feed: Feed) -> list[tuple[str, str]]:
    """A form's feed declares the columns its figures land in, an indicator catalogue that exists, and the
    measures its layout finds; form rules are for forms only."""

    form = getattr(feed.source, "form", None)
    if form is None:
        return [
            (f"checks[{i}]", f"{check.check} is a rule across a form's cells: the feed's source declares no form")
            for i, check in enumerate(feed.checks)
            if isinstance(check, FormRule)
        ]
    problems = []
    missing = [c for c in FORM_CONTRACT if feed.column(c) is None]
    if missing:
        problems.append(
            (
                "columns",
                f"a form's figures land in the columns {', '.join(FORM_CONTRACT)}: declare {', '.join(missing)}",
            )
        )
    if feed.reporting is None or (feed.reporting.unit_column, feed.reporting.period_column) != (
        "department_code",
        "period",
    ):
        problems.append(
            (
                "reporting",
                "a form is reported by a unit for a period: declare reporting with "
                "unit_column: department_code and period_column: period",
            )
        )
    measure = feed.column("measure")
    codes = [m.measure for m in form.measures]
    if measure is not None and measure.enum and set(codes) - set(measure.enum):
        problems.append(
            (
                "source.form.measures",
                f"measures {sorted(set(codes) - set(measure.enum))} are not in the enum of column 'measure'",
            )
        )
    file = catalogue_file(form.catalogue)
    if not file.exists():
        problems.append(("source.form.catalogue", f"no indicator catalogue {file}"))
        return problems
    try:
        catalogue = indicator_catalogue(form.catalogue)
    except (ValueError, OSError, yaml.YAMLError) as exc:
        problems.append(("source.form.catalogue", f"{file}: {exc}"))
        return problems
    unknown = sorted(set(catalogue.measures) - set(codes))
    if unknown:
        problems.append(
            (
                "source.form.measures",
                f"catalogue {catalogue.id} reports measures {unknown} that the form declares no column for",
            )
        )
    return problems


@dataclass(frozen=True)
class Catalog:
    """Every declaration of the project."""

    org_units: OrgUnits
    feeds: dict[str, Feed]
    kpis: dict[str, Kpi]
    briefing: Briefing | None = None  # schemas/briefing.yaml; None: Briefing.default(org_units)

    @property
    def letterhead(self) -> Briefing:
        return self.briefing or Briefing.default(self.org_units)

    def feed(self, feed_id: str) -> Feed:
        try:
            return self.feeds[feed_id]
        except KeyError:
            known = ", ".join(sorted(self.feeds)) or "none"
            raise KeyError(f"unknown feed {feed_id!r}; declared feeds: {known}") from None


def feed_files(schemas: Path | None = None) -> list[Path]:
    folder = (schemas or paths().schemas) / "feeds"
    return sorted(folder.glob("*.yaml"))


def kpi_files(schemas: Path | None = None) -> list[Path]:
    folder = (schemas or paths().schemas) / "kpis"
    return sorted(folder.glob("*.yaml"))


# Warehouse tables a KPI may read besides clean.<feed>: the deadline marts and the batch log.
KPI_TABLES = frozenset(
    {
        "marts.report_status",
        "marts.reporting_rates",
        "marts.task_status",
        "marts.task_rates",
        "ops.batches",
        "ops.quarantine",
        "ops.validation_results",
        "ops.outliers",
    }
)


def read_kpis(
    files: list[Path], org_units: OrgUnits, feeds: dict[str, Feed]
) -> tuple[dict[str, Kpi], list[DeclarationProblem]]:
    """Every KPI of the files, and the problems found (each naming file and key)."""
    kpis: dict[str, Kpi] = {}
    where: dict[str, tuple[Path, int]] = {}
    problems: list[DeclarationProblem] = []
    for file in files:
        data, more = _read_yaml(file)
        parsed, more2 = _validate(KpiFile, file, data) if not more else (None, [])
        problems += more + more2
        if parsed is None:
            continue
        for i, kpi in enumerate(parsed.kpis):
            if kpi.id in kpis:
                problems.append(
                    DeclarationProblem(
                        file, f"kpis[{i}].id", f"duplicate KPI id {kpi.id!r} (also in {where[kpi.id][0].name})"
                    )
                )
                continue
            kpis[kpi.id] = kpi
            where[kpi.id] = (file, i)
    for kpi_id, kpi in kpis.items():
        file, i = where[kpi_id]
        for key, message in kpi_problems(kpi, kpis, org_units, feeds):
            problems.append(DeclarationProblem(file, f"kpis[{i}]" + (f".{key}" if key else ""), message))
    return kpis, problems


def kpi_problems(kpi: Kpi, kpis: dict[str, Kpi], org_units: OrgUnits, feeds: dict[str, Feed]) -> list[tuple[str, str]]:
    """Cross-references of one KPI: owner, sources, tables, placeholders, the KPIs it builds on."""
    problems = []
    if kpi.owner not in org_units.codes:
        problems.append(("owner", f"unknown organisation unit {kpi.owner!r}"))
    if kpi.indicator is not None:
        problems += _indicator_problems(kpi, feeds)
    for source in kpi.sources:
        if source not in feeds:
            problems.append(("sources", f"unknown feed {source!r} (declared feeds: {', '.join(sorted(feeds))})"))
    measure = kpi.measure
    if isinstance(measure, TableMeasure):
        table = measure.from_
        if "." not in table:
            if table not in feeds:
                problems.append(
                    (
                        "measure.from",
                        f"{table!r} is not a declared feed; name a feed id or one of {', '.join(sorted(KPI_TABLES))}",
                    )
                )
        elif table.startswith("clean."):
            if table.removeprefix("clean.") not in feeds:
                problems.append(("measure.from", f"{table!r}: no feed {table.removeprefix('clean.')!r} is declared"))
        elif table not in KPI_TABLES:
            problems.append(
                (
                    "measure.from",
                    f"{table!r} is not a table KPIs can read; name a feed id or one of {', '.join(sorted(KPI_TABLES))}",
                )
            )
    if isinstance(measure, RatioOfKpis):
        for key in ("numerator", "denominator"):
            other = kpis.get(getattr(measure, key))
            if other is None:
                problems.append((f"measure.{key}", f"unknown KPI {getattr(measure, key)!r}"))
            elif other.grain.period != kpi.grain.period:
                problems.append(
                    (
                        f"measure.{key}",
                        f"KPI {other.id!r} is {other.grain.period}, this KPI is {kpi.grain.period}: they must match",
                    )
                )
        if kpi.id in _inputs(kpi.id, kpis, set()):
            problems.append(("measure", "builds on itself (a cycle of ratio_of_kpis)"))
    for text in kpi.sql_texts():
        unknown = placeholders(text) - set(PLACEHOLDERS)
        if unknown:
            problems.append(
                (
                    "measure",
                    f"unknown placeholder(s) {sorted(unknown)} in {text!r}; "
                    f"known: {', '.join('{' + p + '}' for p in PLACEHOLDERS)}",
                )
            )
    return problems


def _indicator_problems(kpi: Kpi, feeds: dict[str, Feed]) -> list[tuple[str, str]]:
    """A KPI on an indicator names a form's feed and an indicator of its catalogue that has the value's measures."""
    ref = kpi.indicator
    assert ref is not None  # asked of a KPI on an indicator only
    feed = feeds.get(ref.feed)
    form = getattr(feed.source, "form", None) if feed is not None else None
    if form is None:
        return [("indicator.feed", f"{ref.feed!r} is not a feed whose source is a form")]
    if not catalogue_file(form.catalogue).exists():
        return []  # the feed's own problems say so
    catalogue = indicator_catalogue(form.catalogue)
    indicator = catalogue.get(ref.code)
    if indicator is None:
        return [("indicator.code", f"{ref.code!r} is not an indicator of catalogue {catalogue.id}")]
    needed = {
        "month": ["month"],
        "ytd": ["ytd"],
        "plan_year": ["plan_year"],
        "ytd_vs_plan": ["ytd", "plan_year"],
        "month_vs_plan": ["month", "plan_year"],
        "vs_last_year": ["ytd"],
    }[ref.value]
    missing = sorted(set(needed) - set(catalogue.measures_of(indicator)))
    if missing:
        return [
            (
                "indicator.value",
                f"{ref.value} needs the measures {needed}; {ref.code} is reported with "
                f"{catalogue.measures_of(indicator)}",
            )
        ]
    if ref.value in ("ytd", "ytd_vs_plan", "vs_last_year") and indicator.aggregation != "flow":
        return [
            (
                "indicator.value",
                f"{ref.code} is a {indicator.aggregation}: its year to date is not a sum; use month or month_vs_plan",
            )
        ]
    return []


def _inputs(kpi_id: str, kpis: dict[str, Kpi], seen: set[str]) -> set[str]:
    """Every KPI that kpi_id builds on, directly or not."""
    measure = kpis[kpi_id].measure if kpi_id in kpis else None
    if not isinstance(measure, RatioOfKpis):
        return set()
    found = set()
    for other in (measure.numerator, measure.denominator):
        found.add(other)
        if other not in seen:
            found |= _inputs(other, kpis, seen | {other})
    return found


def read_catalog(schemas: Path | None = None) -> Catalog:
    """All declarations, or DeclarationError listing every problem in every file."""
    schemas = schemas or paths().schemas
    org_units, problems = _org_units_and_problems(schemas / "org_units.yaml")
    if org_units is None:
        raise DeclarationError(problems)
    feeds: dict[str, Feed] = {}
    for file in feed_files(schemas):
        try:
            feed = read_feed(file, org_units)
        except DeclarationError as exc:
            problems += exc.problems
            continue
        feeds[feed.id] = feed
    kpis, more = read_kpis(kpi_files(schemas), org_units, feeds)
    problems += more
    briefing = None
    if (schemas / "briefing.yaml").exists():
        data, more = _read_yaml(schemas / "briefing.yaml")
        briefing, more2 = _validate(Briefing, schemas / "briefing.yaml", data) if not more else (None, [])
        problems += more + more2
    if problems:
        raise DeclarationError(problems)
    return Catalog(org_units=org_units, feeds=feeds, kpis=kpis, briefing=briefing)


@lru_cache(maxsize=4)
def _cached_catalog(schemas: Path, fingerprint: tuple) -> Catalog:
    return read_catalog(schemas)


def _fingerprint(schemas: Path) -> tuple:
    """Every file of the schemas folder with its size and modification time: declarations read again once any
    changes (a long-lived process, or the warm runner's children, which inherit what it read)."""
    found = []
    for folder, _, names in os.walk(schemas):
        for name in names:
            with contextlib.suppress(OSError):
                st = os.stat(os.path.join(folder, name))
                found.append((folder, name, st.st_size, st.st_mtime_ns))
    return tuple(sorted(found))


def catalog() -> Catalog:
    """The project's declarations (read once per schemas folder and process, and again when a file changes)."""
    schemas = paths().schemas
    return _cached_catalog(schemas, _fingerprint(schemas))
