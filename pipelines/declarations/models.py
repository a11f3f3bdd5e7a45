"""Typed models of feed and organisation-unit declarations; unknown keys are rejected."""

from __future__ import annotations

import codecs
import re
from datetime import date
from typing import Annotated, Literal, TypeVar

from pydantic import Field, field_validator, model_validator

from pipelines.declarations.base import Duration, Regex, Strict
from pipelines.declarations.checks import DeclaredCheck, OutlierRule

IDENTIFIER = r"^[a-z][a-z0-9_]*$"
ENV_NAME = r"^[A-Z][A-Z0-9_]*$"


class Names(Strict):
    """A label in Vietnamese and English."""

    vi: str
    en: str


# --- organisation units -------------------------------------------------------------------

UnitKind = Literal["nation", "province", "department", "centre", "district", "commune"]


class OrgUnit(Strict):
    """An organisation unit (the nation, a province, department, centre, district, commune) with its validity."""

    code: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")]
    kind: UnitKind
    vi: str
    en: str
    parent: str | None = None
    valid_from: date
    valid_to: date | None = None
    successor: str | None = None

    def active_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


class OrgUnits(Strict):
    """The organisation tree: the nation, its provinces and what is under them.

    `province` is the unit this centre watches, the top of its wall and of its KPIs: a province centre names
    its province (units above it are not computed), a national centre names the nation."""

    province: str
    units: list[OrgUnit]

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(u.code for u in self.units)

    def get(self, code: str) -> OrgUnit | None:
        return next((u for u in self.units if u.code == code), None)


# --- columns ------------------------------------------------------------------------------

ColumnType = Literal["string", "integer", "number", "boolean", "date", "timestamp", "month"]


class Column(Strict):
    """One column of a feed's contract: its name, type, header labels and allowed values."""

    name: Annotated[str, Field(pattern=IDENTIFIER)]
    type: ColumnType
    description: str | None = None
    nullable: bool = False
    labels: list[str] = []
    enum: list[str] | None = None
    values: dict[str, str] = {}
    references: Literal["org_unit"] | None = None
    formats: list[str] | None = None

    @model_validator(mode="after")
    def _values_map_into_enum(self) -> Column:
        if self.values and not self.enum:
            raise ValueError("'values' maps labels to codes and needs 'enum' listing those codes")
        if self.enum:
            unknown = sorted({v for v in self.values.values() if v not in self.enum})
            if unknown:
                raise ValueError(f"'values' maps to {unknown}, which are not in enum {self.enum}")
        if self.formats and self.type not in ("date", "timestamp"):
            raise ValueError(f"'formats' applies to date and timestamp columns, not {self.type}")
        if self.enum and self.type != "string":
            raise ValueError("'enum' applies to string columns")
        return self


# --- sources ------------------------------------------------------------------------------


class BearerAuth(Strict):
    """Bearer-token auth; the token is read from the named environment variable."""

    bearer_token_env: Annotated[str, Field(pattern=ENV_NAME)]


class _Paged(Strict):
    """What every pagination kind declares: how many records a page asks for, and where an answer says how
    many records the query matches in all (e.g. total), if it does."""

    size_param: str = "page_size"
    page_size: Annotated[int, Field(gt=0, le=10_000)] = 100
    total_path: str | None = None


class PageNumberPagination(_Paged):
    """Pages numbered from 1; the last page is the first one shorter than page_size."""

    kind: Literal["page_number"]
    page_param: str = "page"


class OffsetPagination(_Paged):
    """Pages by the number of records to skip; the last page is the first one shorter than page_size."""

    kind: Literal["offset"]
    offset_param: str = "offset"
    size_param: str = "limit"


class NextLinkPagination(_Paged):
    """The response body names the next page's URL (null on the last page)."""

    kind: Literal["next_link"]
    next_path: str = "next"


class CursorPagination(_Paged):
    """The response body holds a token for the next page (null on the last), sent back in cursor_param."""

    kind: Literal["cursor"]
    cursor_param: str = "cursor"
    next_cursor_path: str = "next_cursor"


Pagination = Annotated[
    PageNumberPagination | OffsetPagination | NextLinkPagination | CursorPagination, Field(discriminator="kind")
]


class HttpIncremental(Strict):
    """Ask only for records changed after the highest cursor value already landed (less the lookback).

    keyset: the API answers in ascending cursor order, so a pull pages by the cursor itself — each request
    asks again from the last value seen (that value included, the records seen twice dropped) — and a
    record that moves while the pull runs cannot be skipped. Set it false for an API that sorts otherwise:
    pages are then turned, and a read whose pages shifted (the declared total changing, fewer distinct
    records than it) is read again until stable.
    lookback: how far before the cursor each pull starts again, for records committed late with an older
    cursor value (a long transaction in the department's system); what comes again is not counted twice.
    """

    cursor_field: str
    param: str
    initial: str | None = None
    keyset: bool = True
    lookback: Duration | None = None


class HttpJsonSource(Strict):
    """A paginated JSON API."""

    kind: Literal["http_json"]
    url: str
    auth: BearerAuth | None = None
    records_path: str = "data"
    pagination: Pagination | None = None
    incremental: HttpIncremental | None = None
    timeout_seconds: Annotated[float, Field(gt=0)] = 30
    max_retries: Annotated[int, Field(ge=0, le=20)] = 5
    requests_per_second: Annotated[float, Field(gt=0)] | None = None
    max_batch_rows: Annotated[int, Field(gt=0)] = 100_000


class SkipRowRule(Strict):
    """Rows to ignore, such as totals rows: a regex matched (case-insensitively) against a cell."""

    matches: Regex
    column: str | None = None


class ReadLimits(Strict):
    """What a file may hold before it is refused unread (a zip bomb, a runaway export): every workbook's archive
    is checked against these before it is parsed, and a CSV file's records as they stream. The defaults take
    any genuine department report; a feed with larger files raises them in its declaration."""

    max_rows: Annotated[int, Field(gt=0)] = 20_000_000  # records of a CSV file, rows of a sheet
    max_cells: Annotated[int, Field(gt=0)] = 5_000_000  # cells of a sheet (what a workbook read holds in memory)
    # one CSV record (its cells' text, all columns); at most the CSV parser's block (4 MiB)
    max_line_bytes: Annotated[int, Field(gt=0, le=4 << 20)] = 1 << 20
    max_unpacked_bytes: Annotated[int, Field(gt=0)] = 256 << 20  # any one member of a workbook's archive
    max_compression_ratio: Annotated[float, Field(gt=1)] = 200  # unpacked / packed, for a member over 1 MiB
    max_members: Annotated[int, Field(gt=0)] = 1_000  # files inside a workbook's archive


class Submissions(Strict):
    """Departments may send the feed's files themselves (POST /api/submissions/<feed> on `ioc serve`).

    Each department authenticates with a token of its own, never stored in the repository: the environment
    variable `<tokens_env_prefix><UNIT CODE>` (e.g. IOC_SUBMIT_TOKEN_SKHCN), or the YAML file (UNIT: token)
    that the variable `tokens_file_env` names. A token submits only for its own unit: the unit in the file's
    name (the reporting unit column, a group of file_name_pattern) and in every row must be it."""

    max_bytes: Annotated[int, Field(gt=0, le=200_000_000)] = 10_000_000
    file_types: list[Literal["csv", "xlsx"]] = ["csv", "xlsx"]
    tokens_env_prefix: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")] = "IOC_SUBMIT_TOKEN_"
    tokens_file_env: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")] = "IOC_SUBMIT_TOKENS_FILE"


MEASURE_PLACEHOLDERS = {
    "month": r"(?P<month>\d{1,2})",
    "year": r"(?P<year>\d{4})",
    "n": r"(?P<n>\d{1,2})",
    "last_year": r"(?P<last_year>\d{4})",
}


class FormMeasure(Strict):
    """A measure column of a form: its code (e.g. month, ytd, plan_year) and the header labels it goes by.
    A label may hold {month}, {year}, {last_year} and {n} (numbers the reader checks against the form's period:
    "Tháng {month}/{year}", "Lũy kế {n} tháng", "Cùng kỳ năm {last_year}"); under a merged group ("Thực hiện", "So sánh %") it matches
    with or without the group's words before it."""

    measure: Annotated[str, Field(pattern=IDENTIFIER)]
    labels: list[str]
    unit_of_measure: str | None = None  # the measure's own unit (e.g. % of a comparison), else the row's unit

    @field_validator("labels")
    @classmethod
    def _known_placeholders(cls, labels: list[str]) -> list[str]:
        for label in labels:
            unknown = set(re.findall(r"\{([^}]*)\}", label)) - set(MEASURE_PLACEHOLDERS)
            if unknown:
                raise ValueError(
                    f"label {label!r}: unknown placeholder(s) {sorted(unknown)}; known: "
                    + ", ".join("{" + p + "}" for p in MEASURE_PLACEHOLDERS)
                )
        return labels


class FormLayout(Strict):
    """A report form as departments write it ("biểu số liệu"): a title block, a header of one to three merged
    rows, indicators as rows (group rows, "Trong đó:" parts), one column per measure, signatures below. Each
    figure becomes one row of the feed's contract: unit, period, indicator, measure, value, unit of measure and
    its cell. Rows are told apart by rule, never by position: the header by its labels, a numbering row
    ("(1) (2) … (7)=(6)/(4)") by its cells, a group row by having no figures, the end of the table by
    `end_of_table` (the signature block)."""

    catalogue: Annotated[str, Field(pattern=IDENTIFIER)]  # schemas/indicators/<catalogue>.yaml
    indicator: list[str]  # labels of the indicator-name column
    numbering: list[str] = ["STT", "TT"]
    unit_of_measure: list[str] = ["Đơn vị tính", "ĐVT"]
    note: list[str] = ["Ghi chú"]
    measures: list[FormMeasure]
    header_rows_max: Annotated[int, Field(ge=1, le=3)] = 3
    # the period in the title block, when the file's name does not say it ("… tháng 10 năm 2026")
    period_in_title: Regex | None = r"tháng\s+(?P<month>\d{1,2})\s+năm\s+(?P<year>\d{4})"
    numbering_row: Regex = r"^\(?[0-9]{1,2}\)?(\s*=.*)?$|^\(?[A-Z]\)?$"
    part_prefix: Regex = r"^trong\s+đó\s*[:,.-]?\s*"
    end_of_table: list[Regex] = [
        r"^nơi\s+nhận",
        r"^người\s+lập",
        r"^(kt\.?\s*)?(phó\s+)?giám\s+đốc",
        r"^thủ\s+trưởng",
        r"^\((đã\s+)?ký",
    ]

    @model_validator(mode="after")
    def _distinct_measures(self) -> FormLayout:
        codes = [m.measure for m in self.measures]
        if not codes:
            raise ValueError("declare at least one measure column")
        twice = sorted({c for c in codes if codes.count(c) > 1})
        if twice:
            raise ValueError(f"measures declared twice: {twice}")
        if self.period_in_title and not {"month", "year"} <= set(re.compile(self.period_in_title).groupindex):
            raise ValueError("period_in_title needs the groups (?P<month>…) and (?P<year>…)")
        return self


class FileDropSource(Strict):
    """Files (CSV or XLSX) that departments drop into an inbox folder under $IOC_HOME/inbox."""

    kind: Literal["file_drop"]
    inbox: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    patterns: list[str] = ["*.csv", "*.xlsx"]
    encodings: list[str] = ["utf-8", "cp1258"]
    number_format: Literal["vi", "en"] = "vi"
    header_search_rows: Annotated[int, Field(gt=0, le=200)] = 30
    sheet: str | None = None
    skip_rows: list[SkipRowRule] = []
    file_name_pattern: Regex | None = None  # its named groups are contract columns, e.g. (?P<period>...)
    max_batch_rows: Annotated[int, Field(gt=0)] = 100_000  # a file is read, checked and loaded in chunks this big
    # load a file as soon as it is complete in the inbox (Airflow's event-driven scheduling); the feed's
    # schedule stays as a safety net
    watch: bool = True
    watch_interval_seconds: Annotated[float, Field(gt=0, le=300)] = 1.0
    submissions: Submissions | None = None  # departments may upload their files through the API
    limits: ReadLimits = ReadLimits()  # what a file may hold before it is refused unread
    form: FormLayout | None = None  # a report form (indicators as rows, measures as columns), not a table

    @field_validator("file_name_pattern")
    @classmethod
    def _named_groups(cls, pattern: str | None) -> str | None:
        if pattern is not None and not re.compile(pattern).groupindex:
            raise ValueError("needs named groups, e.g. ^(?P<department_code>[A-Z]+)_(?P<period>\\d{4}-\\d{2})")
        return pattern

    @field_validator("encodings")
    @classmethod
    def _known_encodings(cls, encodings: list[str]) -> list[str]:
        for name in encodings:
            try:
                codecs.lookup(name)
            except LookupError as exc:
                raise ValueError(f"unknown encoding {name!r}") from exc
        return encodings


class PostgresIncremental(Strict):
    """Read only rows whose cursor column is above the highest value already landed (less the lookback:
    how far before it each read starts again, for rows committed late with an older value)."""

    cursor_field: str
    initial: str | None = None
    lookback: Duration | None = None


class PostgresSource(Strict):
    """A table or query of a department's PostgreSQL database."""

    kind: Literal["postgres"]
    dsn: str
    table: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")] | None = None
    query: str | None = None
    incremental: PostgresIncremental | None = None
    batch_size: Annotated[int, Field(gt=0)] = 5000
    timeout_seconds: Annotated[float, Field(gt=0)] = 30
    max_batch_rows: Annotated[int, Field(gt=0)] = 100_000

    @model_validator(mode="after")
    def _table_or_query(self) -> PostgresSource:
        if (self.table is None) == (self.query is None):
            raise ValueError("declare exactly one of 'table' or 'query'")
        return self


Source = Annotated[HttpJsonSource | FileDropSource | PostgresSource, Field(discriminator="kind")]
SourceKind = TypeVar("SourceKind", HttpJsonSource, FileDropSource, PostgresSource)


# --- loading and reporting ----------------------------------------------------------------


class LoadRule(Strict):
    """How received rows become current data in clean.<feed>.

    key: identifies a row. version: the latest version per key wins (e.g. updated_at).
    replace: a batch replaces all current rows of the partitions it carries (e.g. a department's
    resubmitted monthly report replaces its earlier one for that period).
    """

    key: list[str]
    version: str | None = None
    replace: list[str] | None = None

    @model_validator(mode="after")
    def _one_mode(self) -> LoadRule:
        if self.version and self.replace:
            raise ValueError("declare either 'version' (latest per key) or 'replace' (partitions), not both")
        if self.replace and not set(self.replace) <= set(self.key):
            raise ValueError(f"'replace' columns {self.replace} must be part of 'key' {self.key}")
        return self


class DeadlineRule(Strict):
    """When a period's report is due: N calendar or working days after the period end or the
    Decree 09/2019 data cut-off, or a fixed day of the following month."""

    rule: Literal["after_period_end", "after_cutoff", "day_of_next_month"]
    days: Annotated[int, Field(ge=0, le=366)] = 0
    day_kind: Literal["calendar", "working"] = "calendar"
    day: Annotated[int, Field(ge=1, le=31)] | None = None

    @model_validator(mode="after")
    def _day_for_fixed_rule(self) -> DeadlineRule:
        if (self.rule == "day_of_next_month") != (self.day is not None):
            raise ValueError("'day' is required with rule day_of_next_month and only there")
        return self


class ExpectedUnits(Strict):
    """Which organisation units must send a report each period: the active units of these kinds, or only the
    units named in `codes` (a form only some departments report), while they are active."""

    kinds: list[UnitKind]
    codes: list[str] | None = None

    def expects(self, unit: OrgUnit, day: date) -> bool:
        return unit.kind in self.kinds and (self.codes is None or unit.code in self.codes) and unit.active_on(day)


class Reporting(Strict):
    """The reporting calendar of a periodic feed."""

    period_type: Literal["daily", "weekly", "monthly", "quarterly", "half_year", "nine_month", "yearly"]
    period_column: str
    unit_column: str
    expected_units: ExpectedUnits
    deadline: DeadlineRule
    history_periods: Annotated[int, Field(ge=1, le=120)] = 12  # how many past periods are tracked
    remind_days_before: Annotated[int, Field(ge=0, le=60)] = 3  # alert: due within N days, not received
    escalate_after_working_days: Annotated[int, Field(ge=1, le=120)] = 5  # alert: overdue → critical


class TaskTracking(Strict):
    """The feed holds tasks with due dates: which columns say whose task, when due, when done."""

    unit_column: str
    due_column: str
    done_column: str
    status_column: str
    title_column: str | None = None  # what the task is; the wall and `ioc late` show it (default: the key)
    source_column: str | None = None  # the document that assigned it (e.g. a conclusion notice number)
    assigned_by_column: str | None = None  # the leader who assigned it
    done_statuses: list[str] = ["done"]
    cancelled_statuses: list[str] = ["cancelled"]
    due_soon_days: Annotated[int, Field(ge=1, le=90)] = 7
    escalate_after_days: Annotated[int, Field(ge=1, le=365)] = 14  # alert: overdue this long → critical


class RunSettings(Strict):
    """How the scheduler runs the feed's DAG: retries, the wait between them, a timeout per task, and
    where to send a failure (the environment variable holding a webhook URL; the URL is never here)."""

    retries: Annotated[int, Field(ge=0, le=10)] = 2
    retry_delay: Duration = "1m"
    timeout: Duration = "30m"
    notify_failure_env: Annotated[str, Field(pattern=ENV_NAME)] | None = "IOC_FAILURE_WEBHOOK_URL"


class StatusWithdrawal(Strict):
    """A record whose `column` holds one of `values` is withdrawn: kept in clean data, marked withdrawn."""

    kind: Literal["status"]
    column: str
    values: list[str]


class SnapshotWithdrawal(Strict):
    """At most `every` so long, a pull reads the whole source (not only what changed): a record the warehouse
    holds that this read does not bring was withdrawn (a deleted row, a dossier gone from the API) and is
    marked so, with when it was seen last."""

    kind: Literal["snapshot"]
    every: Duration = "1d"


class TombstoneWithdrawal(Strict):
    """The source lists the records it deleted, read after each pull from where the last read ended: an API
    (`url`, answering records with the feed's key fields and `at_field` under `records_path`, asked with
    `param` = the last deletion time seen) or, for a database, a `query` of the key columns and `at_field`
    (`%(after)s`: the last deletion time seen)."""

    kind: Literal["tombstones"]
    url: str | None = None
    records_path: str = "data"
    param: str = "deleted_after"
    query: str | None = None
    at_field: str = "deleted_at"


Withdrawal = Annotated[StatusWithdrawal | SnapshotWithdrawal | TombstoneWithdrawal, Field(discriminator="kind")]


class Reconcile(Strict):
    """After each pull, what the source says it holds is compared with what the warehouse holds for the feed.

    by count: an API's total for the unfiltered query (at pagination.total_path), a database's count(*).
    by key_scan: the feed's snapshots (withdrawals kind snapshot) compare every key the source holds.
    """

    by: Literal["count", "key_scan"] = "count"


class Feed(Strict):
    """A department feed: where its records come from, their contract, and how they load."""

    id: Annotated[str, Field(pattern=IDENTIFIER)]
    name: Names
    owner: str
    description: str | None = None
    schedule: str | None = None
    stale_after: Duration | None = None  # alert when no successful load for this long (e.g. 2h)
    run: RunSettings = RunSettings()
    tags: list[str] = []
    source: Source
    columns: list[Column]
    load: LoadRule
    reporting: Reporting | None = None
    tasks: TaskTracking | None = None
    checks: list[DeclaredCheck] = []
    outliers: list[OutlierRule] = []
    withdrawals: Withdrawal | None = None  # how the feed learns that the source withdrew a record
    reconcile: Reconcile | None = None
    timezone: str = "Asia/Ho_Chi_Minh"

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def source_as(self, kind: type[SourceKind]) -> SourceKind:
        """The feed's source, for the reader of that kind (the file readers, the API's, the database's): each is
        only given feeds of its kind, so another is a caller's mistake (TypeError)."""
        if not isinstance(self.source, kind):
            raise TypeError(f"feed {self.id!r} has a {self.source.kind} source, not {kind.__name__}")
        return self.source

    @property
    def form(self) -> FormLayout | None:
        """The report form the feed's files follow (a file_drop source's `form`); None for any other feed."""
        return self.source.form if isinstance(self.source, FileDropSource) else None
