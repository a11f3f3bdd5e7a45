"""Validate a batch with its feed's suite and decide, row by row and for the batch, what is published and
what is quarantined — with every reason, and one result row per check.

Chunk by chunk, each row-local check's own predicate finds the rows it fails (so memory follows the
chunk, not the batch) and the rows are staged as Parquet files; Great Expectations (in its worker
process) then validates the whole staged batch once through its SQL path, which gives each check's
result (and Data Docs); duplicate keys are found in SQL. The two must agree on every count, or the
batch says so. A row failing a blocking row check is quarantined; a warning check only records. The
batch is blocked (nothing published, the last good data keeps serving) when a blocking batch check
fails, or a blocking row check with `mostly` passes fewer rows than it asks.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from pipelines.conform.reasons import REASON_TYPE, REASONS, reason, reason_sql
from pipelines.conform.rows import ROW_ID, Conformed, map_headers, polars_type
from pipelines.declarations.checks import (
    CHECK_LABELS,
    INDICATOR_CHECK,
    TYPE_CHECK,
    WELL_FORMED_CHECK,
    WELL_FORMED_EXPECTED,
    ColumnPairInOrder,
    FormRule,
    KeyIsUnique,
    OutlierRule,
    UnitCodeIsActive,
    active_column,
    file_name_fields,
    file_parameter,
    outlier_column,
    rule_column,
)
from pipelines.declarations.models import Feed, OrgUnits
from pipelines.extract.landing import LINE, MALFORMED, SOURCE_ROW, SOURCE_URI, LandedBatch
from pipelines.settings import paths
from pipelines.validate import form_rules
from pipelines.validate import outliers as outlier_methods
from pipelines.validate.gx_worker import worker
from pipelines.validate.suite import SuiteCheck, expected_text, failing, suite_checks, type_check
from pipelines.warehouse import has_clean_table, literal, quote
from pipelines.warehouse.tables import record_key_sql

if TYPE_CHECKING:
    import duckdb

MAX_FAILING_KEYS = 20


@dataclass
class CheckResult:
    """A check's outcome on one batch."""

    check: SuiteCheck
    success: bool = True
    unexpected_count: int = 0
    failing_keys: list[str] = field(default_factory=list)
    unexpected_values: list = field(default_factory=list)
    observed: str | None = None
    error: str | None = None

    @property
    def blocks_batch(self) -> bool:
        if self.success or self.check.severity != "blocking":
            return False
        return self.check.scope == "batch" or self.check.mostly is not None or self.error is not None

    @property
    def quarantines_rows(self) -> bool:
        """A blocking row check quarantines every row it fails, even within its `mostly` tolerance
        (the tolerance decides only whether the whole batch is blocked)."""
        return self.check.severity == "blocking"


@dataclass
class Validation:
    """What validating a batch decided (its rows stay staged in DuckDB)."""

    published: int
    quarantined: int
    results: list[CheckResult]
    outliers: pl.DataFrame
    blocked: list[str]
    seconds: float
    blocked_vi: list[str] = field(default_factory=list)  # the same, in Vietnamese
    problems: list[str] = field(default_factory=list)  # the first quarantine messages, for the CLI
    disagreements: list[str] = field(default_factory=list)  # row checks whose predicate and GE count differently
    data_docs: list = field(default_factory=list)  # GE identifiers of the stored results, for Data Docs
    # Whether two rows without reasons share a load key, asked while GE validated (False: none do, and none of the
    # rows published can; True: some may; None: not asked)
    keys_repeat: bool | None = None


def unit_validity(units: OrgUnits) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "_code": [u.code for u in units.units],
            "_from": [u.valid_from for u in units.units],
            "_to": [u.valid_to for u in units.units],
        },
        schema={"_code": pl.String, "_from": pl.Date, "_to": pl.Date},
    )


def _as_of_interval(feed: Feed, column: str) -> tuple[pl.Expr, pl.Expr]:
    """The first and last day a row's `column` stands for (a month spans its days)."""
    declared = feed.column(column)
    assert declared is not None  # a column the declarations' checks name: one of the feed's
    kind = declared.type
    value = pl.col(column)
    if kind == "month":
        start = (value + "-01").str.to_date("%Y-%m-%d", strict=False)
        return start, start.dt.month_end()
    if kind == "timestamp":
        day = value.dt.convert_time_zone(feed.timezone).dt.date()
        return day, day
    return value, value


def _derive(con, feed: Feed, typed: pl.DataFrame, units: OrgUnits) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    """Columns the suite reads that a row does not carry: unit activity on a date, outlier flags."""
    derived = []
    for check in feed.checks:
        if isinstance(check, UnitCodeIsActive) and check.as_of:
            start, end = _as_of_interval(feed, check.as_of)
            active = (
                typed.select(ROW_ID, pl.col(check.column).alias("_code"), start.alias("_start"), end.alias("_end"))
                .join(unit_validity(units), on="_code", how="left")
                .select(
                    ROW_ID,
                    pl.when(pl.col("_code").is_null() | pl.col("_start").is_null())
                    .then(None)
                    .otherwise(
                        pl.col("_from").is_not_null()
                        & (pl.col("_from") <= pl.col("_end"))
                        & (pl.col("_to").is_null() | (pl.col("_to") >= pl.col("_start")))
                    )
                    .alias(active_column(check)),
                )
            )
            derived.append(active)
    for check in feed.checks:
        if isinstance(check, FormRule):
            derived.append(form_rules.broken(con, feed, check, typed, published=True))
    flags = []
    for i, rule in enumerate(feed.outliers):
        scored = outlier_methods.score(rule, typed, _history(con, feed, rule, typed))
        flags.append(scored)
        derived.append(scored.select(ROW_ID, (~pl.col("outlier")).alias(outlier_column(i))))
    for frame in derived:
        typed = typed.join(frame, on=ROW_ID, how="left")
    return typed, flags


def _history(con, feed: Feed, rule: OutlierRule, typed: pl.DataFrame) -> pl.DataFrame:
    """Published values of the series present in the batch."""
    wanted = [*rule.series, rule.order_by, rule.column]
    if not has_clean_table(con, feed.id):
        return typed.select(wanted).clear()
    series = typed.select(rule.series).unique().drop_nulls()
    con.register("_series", series)
    match = " AND ".join(f"h.{quote(c)} = s.{quote(c)}" for c in rule.series)
    history = con.sql(
        f"SELECT {', '.join('h.' + quote(c) for c in wanted)} FROM clean.{quote(feed.id)} AS h "
        f"WHERE EXISTS (SELECT 1 FROM _series AS s WHERE {match})"
    ).pl()
    con.unregister("_series")
    return history


def key_text(feed: Feed) -> pl.Expr:
    return pl.concat_str([pl.col(c).cast(pl.String).fill_null("?") for c in feed.load.key], separator="|")


class BatchValidator:
    """Validates one batch: add() each chunk of conformed rows in order (and add_malformed() a file's lines
    that are not records), then finish(), then close(). Every chunk's rows are written with their reasons
    and the columns the suite derives to a Parquet file of the batch's staging directory (memory follows
    the chunk); Great Expectations validates the well-formed ones there, and finish() makes them the
    warehouse connection's temporary view `staged`, with the reasons found on the whole batch."""

    def __init__(self, con, feed: Feed, batch: LandedBatch, units: OrgUnits, staged: str):
        self.con, self.feed, self.batch, self.units, self.staged = con, feed, batch, units, staged
        self.labels: dict[str, str] = {}
        self.checks = suite_checks(feed)
        self.results = {c.id: CheckResult(c) for c in self.checks}
        self.typing = CheckResult(type_check())
        # a form's rows name an indicator of the feed's catalogue (looked up while conforming)
        self.indicators = (
            CheckResult(
                SuiteCheck(
                    INDICATOR_CHECK,
                    INDICATOR_CHECK,
                    "source.form",
                    "blocking",
                    "row",
                    "rows",
                    ("indicator_code",),
                    None,
                )
            )
            if getattr(feed.source, "form", None) is not None
            else None
        )
        self.well_formed = CheckResult(
            SuiteCheck(WELL_FORMED_CHECK, WELL_FORMED_CHECK, "contract", "blocking", "row", "rows", (), None)
        )
        self.parameters = {"unit_codes": sorted(units.codes)}
        for name in file_name_fields(feed):
            value = batch.file_fields.get(name)
            self.parameters[file_parameter(name)] = [value] if value else []
        # Each row check's predicate, and how many failing rows it found (to compare with GE's count).
        self.predicates = {c.id: p for c in self.checks if (p := failing(c, feed, self.parameters)) is not None}
        self.found = dict.fromkeys(self.predicates, 0)
        self.outliers: list[pl.DataFrame] = []
        self.seconds = 0.0
        self.chunks = 0
        self.source_columns: list[str] = []
        self.columns_sent: list[str] | None = None  # the source columns GE's worker was asked to validate
        self.derived: list[str] = []  # columns the suite reads that rows do not carry (unit activity, outliers)
        root = paths().staging(feed.id)
        root.mkdir(parents=True, exist_ok=True)
        self.directory = Path(tempfile.mkdtemp(prefix=f"{batch.batch_id}-", dir=root))
        self.parts = 0
        self.well_formed_rows = 0
        self.extra = f"{staged}_reasons"  # reasons found on the whole batch (duplicate keys), by row
        worker().submit("prepare", feed)  # GE's context and checkpoints, while the first chunk is read

    def add(self, conformed: Conformed) -> None:
        """Run the row-local checks' predicates on one chunk and stage its rows."""
        started = time.monotonic()
        self.chunks += 1
        self.source_columns = conformed.source_columns
        if self.chunks == 1:
            self.labels = conformed.labels
            self._send_columns()  # validated by GE's worker while this process conforms and stages the rows
        typed, flags = _derive(self.con, self.feed, conformed.typed, self.units)
        row_checks = [c for c in self.checks if c.id in self.predicates]
        self._add_typing(typed)
        flagged = typed.with_columns(
            self.predicates[c.id].fill_null(False).alias(f"__fails__{i}") for i, c in enumerate(row_checks)
        )
        pieces = []
        for i, check in enumerate(row_checks):
            rows = flagged.filter(pl.col(f"__fails__{i}"))
            if rows.height == 0:
                continue
            self.found[check.id] += rows.height
            result = self.results[check.id]
            if len(result.failing_keys) < MAX_FAILING_KEYS:
                result.failing_keys += (
                    rows.head(MAX_FAILING_KEYS - len(result.failing_keys))
                    .select(key_text(self.feed))
                    .to_series()
                    .to_list()
                )
            if result.quarantines_rows:
                pieces.append(rows.select(ROW_ID, self._reason(check).alias("_reason")))
        self.derived = [c for c in typed.columns if c.startswith(("_active__", "_not_outlier__", "_rule__"))]
        staged = typed.select(*self.feed.column_names, *self.derived, ROW_ID, SOURCE_ROW, SOURCE_URI, REASONS)
        if pieces:
            # Only the rows a check failed get new reasons: lists are combined for those rows alone (doing it
            # for every row cost seconds per million rows), then put back in place by a join that keeps the
            # rows' order (sorting the chunk again cost more).
            suite_reasons = pl.concat(pieces).group_by(ROW_ID).agg(pl.col("_reason").alias("_suite"))
            failed = (
                staged.select(ROW_ID, REASONS)
                .join(suite_reasons, on=ROW_ID, how="inner")
                .select(
                    ROW_ID, _without_redundant_not_null(pl.col(REASONS).list.concat(pl.col("_suite"))).alias("_all")
                )
            )
            staged = (
                staged.join(failed, on=ROW_ID, how="left", maintain_order="left")
                .with_columns(pl.coalesce("_all", REASONS).alias(REASONS))
                .drop("_all")
            )
        self.outliers += [o for o in _outlier_rows(self.feed, typed, flags) if o.height]
        self.well_formed_rows += typed.height
        self._stage(
            staged.with_columns(pl.col(REASONS).cast(pl.List(REASON_TYPE)), pl.lit(None, pl.String).alias(MALFORMED))
        )
        self.seconds += time.monotonic() - started

    def add_malformed(self, rows: pl.DataFrame, first_row_id: int) -> None:
        """Stage a file's lines that are not well-formed records: quarantined with why, never checked further."""
        if not self.source_columns:  # the columns the file's header names, even when no line was a record
            mapping, unknown, _ = map_headers(self.feed, [c for c in rows.columns if not c.startswith("_")])
            self.source_columns = [c for c in self.feed.column_names if c in mapping] + unknown
        self.well_formed.unexpected_count += rows.height
        self.well_formed.success = self.well_formed.success and rows.height == 0
        if len(self.well_formed.failing_keys) < MAX_FAILING_KEYS:
            self.well_formed.failing_keys += [f"row {n}" for n in rows[SOURCE_ROW].head(MAX_FAILING_KEYS).to_list()]
        why = reason(
            self.feed.id,
            WELL_FORMED_CHECK,
            None,
            None,
            WELL_FORMED_EXPECTED["en"],
            pl.format("{}: {}", pl.col(MALFORMED), pl.col(LINE)),
        )
        columns = [pl.lit(None, polars_type(c.type)).alias(c.name) for c in self.feed.columns]
        self._stage(
            rows.with_row_index(ROW_ID, offset=first_row_id).select(
                *columns,
                ROW_ID,
                SOURCE_ROW,
                SOURCE_URI,
                pl.concat_list(why).cast(pl.List(REASON_TYPE)).alias(REASONS),
                MALFORMED,
            )
        )

    def _stage(self, frame: pl.DataFrame) -> None:
        """Write one chunk's rows, with their reasons, to the batch's staging directory."""
        frame.write_parquet(self.directory / f"part-{self.parts:06d}.parquet", compression="lz4")
        self.parts += 1

    @property
    def _staged_files(self) -> str:
        return f"read_parquet({literal(str(self.directory / '*.parquet'))}, union_by_name = true)"

    def _add_outcomes(self, outcomes) -> None:
        for outcome in outcomes:
            result = self.results[outcome.check_id]
            result.unexpected_count += outcome.unexpected_count or 0
            result.error = result.error or outcome.error
            result.success = result.success and outcome.success and outcome.error is None
            if not outcome.success:
                result.unexpected_values += outcome.unexpected_values[:MAX_FAILING_KEYS]
            if outcome.observed is not None:
                shown = outcome.observed
                result.observed = ", ".join(map(str, shown)) if isinstance(shown, (list, set, tuple)) else str(shown)

    def _add_typing(self, typed: pl.DataFrame) -> None:
        """Count the rows the conform stage gave a reason: a value not of its type, an unknown indicator."""
        given = typed.filter(pl.col(REASONS).list.len() > 0)  # few rows, if any: only they are looked into
        for result, check in ((self.typing, TYPE_CHECK), (self.indicators, INDICATOR_CHECK)):
            if result is None:
                continue
            failed = given.filter(
                pl.col(REASONS).list.eval(pl.element().struct.field("check_name") == check).list.any()
            )
            result.unexpected_count += failed.height
            result.success = result.success and failed.height == 0
            if len(result.failing_keys) < MAX_FAILING_KEYS:
                shown = (
                    pl.format("row {} {}", pl.col(SOURCE_ROW), pl.col("indicator_name"))
                    if check == INDICATOR_CHECK
                    else key_text(self.feed)
                )
                result.failing_keys += (
                    failed.head(MAX_FAILING_KEYS - len(result.failing_keys)).select(shown).to_series().to_list()
                )

    def _send_columns(self) -> None:
        self.columns_sent = list(self.source_columns)
        worker().submit("validate_columns", self.feed, self.parameters, self.columns_sent)

    def _reason(self, check: SuiteCheck) -> pl.Expr:
        return reason(
            self.feed.id,
            check.name,
            check.column,
            self.labels.get(check.column) if check.column is not None else None,
            expected_text(check, self.feed),
            _actual(check),
        )

    def finish(self) -> Validation:
        """Great Expectations on the whole batch, then the batch's decision; the staged rows, with their last
        reasons (duplicate keys, a blocked batch), are then the temporary view `staged`."""
        started = time.monotonic()
        con, feed = self.con, self.feed
        docs = []
        files = self._staged_files
        if self.columns_sent != self.source_columns:
            self._send_columns()
        outcomes, column_docs = worker().collect()  # (the last answer: the columns', after prepare's)
        self._add_outcomes(outcomes)
        keys_repeat = None
        if self.well_formed_rows:
            worker().submit("validate_rows", feed, f"{files} WHERE {MALFORMED} IS NULL", self.parameters)
            keys_repeat = self._keys_repeat()  # while GE's worker validates (the load waits for it otherwise)
            outcomes, docs = worker().collect()
            self._add_outcomes(outcomes)
        self._columns_present()
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {self.extra} AS "
            f"SELECT {ROW_ID}, unnest({REASONS}) AS reason FROM {files} LIMIT 0"
        )
        unique = next((self.results[c.id] for c in self.checks if c.name == "key_is_unique"), None)
        if unique is not None and not unique.success:
            self._mark_duplicates(unique)
        results = [
            *([self.well_formed] if self.batch.file_name else []),
            self.typing,
            *([self.indicators] if self.indicators is not None else []),
            *self.results.values(),
        ]
        blocked = [_blocking_text(r, feed) for r in results if r.blocks_batch]
        blocked_vi = [_blocking_text(r, feed, "vi") for r in results if r.blocks_batch]
        batch_reasons = ""
        if blocked:
            batch_reasons = (
                ", ["
                + reason_sql(
                    feed.id, "batch_is_publishable", "a batch that passes its blocking checks", "; ".join(blocked)
                )
                + "]"
            )
        if batch_reasons or con.execute(f"SELECT 1 FROM {self.extra} LIMIT 1").fetchall():
            con.execute(f"""
                CREATE OR REPLACE TEMP VIEW {self.staged} AS
                SELECT s.* REPLACE (list_concat(s.{REASONS}, coalesce(x.more, []){batch_reasons}) AS {REASONS})
                FROM {files} AS s
                LEFT JOIN (SELECT {ROW_ID}, list(reason ORDER BY reason.message) AS more FROM {self.extra}
                           GROUP BY ALL) AS x
                ON x.{ROW_ID} = s.{ROW_ID}""")
        else:  # nothing to add to any row's reasons: the staged files as they are (each later scan spares the join)
            con.execute(f"CREATE OR REPLACE TEMP VIEW {self.staged} AS SELECT * FROM {files}")
        published, quarantined = con.execute(
            f"SELECT count(*) FILTER (WHERE len({REASONS}) = 0), count(*) FILTER (WHERE len({REASONS}) > 0) "
            f"FROM {self.staged}"
        ).fetchall()[0]
        problems = [
            m
            for (m,) in con.execute(
                f"SELECT unnest({REASONS}).message FROM (SELECT {REASONS} FROM {self.staged} WHERE len({REASONS}) > 0 "
                f"ORDER BY {ROW_ID} LIMIT 5)"
            ).fetchall()
        ]
        outliers = pl.concat(self.outliers) if self.outliers else pl.DataFrame()
        self.seconds += time.monotonic() - started
        return Validation(
            published=published,
            quarantined=quarantined,
            results=results,
            outliers=outliers,
            blocked=blocked,
            blocked_vi=blocked_vi,
            seconds=self.seconds,
            problems=problems,
            data_docs=docs + column_docs,
            disagreements=self._disagreements(),
            keys_repeat=keys_repeat,
        )

    def _keys_repeat(self) -> bool | None:
        """Whether two staged rows without a reason yet share the feed's load key. The rows published are among
        them (GE's results, a duplicate key, a blocked batch only take rows away), so False holds for those too:
        the merge then spares its own look (a hash of every key, 1.3-1.7 s at 10M rows)."""
        if self.feed.load.replace:
            return None  # (a partition's rows replace it whole: nothing to ask)
        key = ", ".join(quote(k) for k in self.feed.load.key)
        threads = self.con.execute("SELECT current_setting('threads')").fetchall()[0][0]
        self.con.execute("SET threads = 1")  # one core: GE's queries have the others, and its memory the rest
        try:
            return bool(
                self.con.execute(
                    f"SELECT 1 FROM {self._staged_files} WHERE {MALFORMED} IS NULL AND len({REASONS}) = 0 "
                    f"GROUP BY {key} HAVING count(*) > 1 LIMIT 1"
                ).fetchall()
            )
        finally:
            self.con.execute(f"SET threads = {int(threads)}")

    def _disagreements(self) -> list[str]:
        """Row checks whose failing rows, found by their predicate, are not as many as GE counted."""
        return [
            f"{check_id}: Great Expectations counted {self.results[check_id].unexpected_count} failing rows, "
            f"the check's predicate found {found}"
            for check_id, found in self.found.items()
            if self.results[check_id].error is None and found != self.results[check_id].unexpected_count
        ]

    def close(self) -> None:
        """Drop what the batch staged (also after a failure)."""
        self.con.execute(f"DROP VIEW IF EXISTS {self.staged}")
        self.con.execute(f"DROP TABLE IF EXISTS {self.extra}")
        shutil.rmtree(self.directory, ignore_errors=True)

    def _columns_present(self) -> None:
        for result in self.results.values():
            if result.check.name == "required_columns_present":
                present = set(self.source_columns)
                result.unexpected_values = [
                    c.name for c in self.feed.columns if not c.nullable and c.name not in present
                ]
                result.unexpected_count = len(result.unexpected_values)

    def _mark_duplicates(self, result: CheckResult) -> None:
        """Rows whose key another row of the batch has too: their reason, kept in the `extra` table."""
        d, staged = result.check.declaration, self._staged_files
        assert isinstance(d, KeyIsUnique)  # the result of key_is_unique
        key = ", ".join(quote(c) for c in d.key)
        same = " AND ".join(f"s.{quote(c)} IS NOT DISTINCT FROM d.{quote(c)}" for c in d.key)
        rows = self.con.sql(f"""
            WITH d AS (SELECT {key} FROM {staged} WHERE {MALFORMED} IS NULL AND {_not_all_null(d.key)}
                       GROUP BY ALL HAVING count(*) > 1)
            SELECT s.* EXCLUDE ({REASONS}) FROM {staged} AS s JOIN d ON {same}
            WHERE s.{MALFORMED} IS NULL ORDER BY s.{ROW_ID}""").pl()
        result.failing_keys = rows.head(MAX_FAILING_KEYS).select(key_text(self.feed)).to_series().to_list()
        if not result.quarantines_rows or rows.height == 0:
            return
        reasons = rows.select(ROW_ID, self._reason(result.check).cast(REASON_TYPE).alias("_reason"))
        self.con.register("_duplicate_reasons", reasons)
        self.con.execute(f"INSERT INTO {self.extra} SELECT {ROW_ID}, _reason FROM _duplicate_reasons")
        self.con.unregister("_duplicate_reasons")


def _not_all_null(columns: list[str]) -> str:
    return "(" + " OR ".join(f"{quote(c)} IS NOT NULL" for c in columns) + ")"


BLOCKING_WORDS = {  # why a blocking check blocked a batch, in each language
    "en": {
        "not_run": "{what} could not run: {error}",
        "values": "{what}: {values}; expected {expected}",
        "count": "{what}: {observed} rows; expected {expected}",
        "rows": "{what}: {n} rows fail{share}; expected {expected}",
        "share": " (fewer than {mostly:.0%} passing)",
    },
    "vi": {
        "not_run": "{what}: phép kiểm tra không chạy được",
        "values": "{what}: {values}; cần {expected}",
        "count": "{what}: {observed} dòng; cần {expected}",
        "rows": "{what}: {n} dòng không đạt{share}; cần {expected}",
        "share": " (dưới {mostly:.0%} đạt)",
    },
}


def _blocking_text(result: CheckResult, feed: Feed, lang: str = "en") -> str:
    """Why a blocking check blocked the batch, in English (check id and origin, for the engineer) or in
    Vietnamese (the check's name, for the department)."""
    check, words = result.check, BLOCKING_WORDS[lang]
    what = (
        f"{check.id} ({check.origin})"
        if lang == "en"
        else CHECK_LABELS.get(check.name, {}).get("vi", check.name) + (f" (cột {check.column})" if check.column else "")
    )
    expected = expected_text(check, feed, lang)
    if result.error:
        return words["not_run"].format(what=what, error=result.error)
    if result.unexpected_values and check.frame == "columns":
        return words["values"].format(
            what=what, values=", ".join(map(str, result.unexpected_values)), expected=expected
        )
    if check.name == "row_count_between":
        return words["count"].format(what=what, observed=result.observed, expected=expected)
    share = words["share"].format(mostly=check.mostly) if check.mostly else ""
    return words["rows"].format(what=what, n=result.unexpected_count, share=share, expected=expected)


def _actual(check: SuiteCheck) -> pl.Expr:
    """The values a reason quotes for a failing row."""
    d = check.declaration
    if isinstance(d, ColumnPairInOrder):  # check.name is the declaration's own
        return pl.format(f"{d.greater}={{}}, {d.lesser}={{}}", pl.col(d.greater), pl.col(d.lesser))
    if isinstance(d, KeyIsUnique):
        return pl.concat_str([pl.col(c).cast(pl.String) for c in d.key], separator=" / ")
    if isinstance(d, UnitCodeIsActive) and d.as_of:
        return pl.format(f"{{}} on {d.as_of} {{}}", pl.col(d.column), pl.col(d.as_of))
    if isinstance(d, FormRule):
        return pl.col(rule_column(d))
    if check.column is not None:
        return pl.col(check.column).cast(pl.String)
    return pl.lit(None, pl.String)


def _without_redundant_not_null(reasons: pl.Expr) -> pl.Expr:
    """A value that did not parse is null too: its 'not null' reason would only repeat the type reason."""
    return reasons.list.eval(
        pl.element().filter(
            ~(
                (pl.element().struct.field("check_name") == "values_not_null")
                & pl.element()
                .struct.field("column_name")
                .is_in(
                    pl.element()
                    .filter(pl.element().struct.field("check_name").is_in([TYPE_CHECK, INDICATOR_CHECK]))
                    .struct.field("column_name")
                    .implode()
                )
                .fill_null(False)
            )
        )
    )


def quarantine_keys(feed: Feed, batch: LandedBatch) -> dict[str, str]:
    """SQL over a staged row: record_key (the row's key), partition_key (what a correction replaces),
    unit_code (whose row)."""

    def cell(column: str) -> str:
        from_file = batch.file_fields.get(column)
        return literal(from_file) if from_file else f"coalesce(CAST({quote(column)} AS VARCHAR), '?')"

    unit_column = (
        feed.reporting.unit_column
        if feed.reporting
        else next((c.name for c in feed.columns if c.references == "org_unit"), None)
    )
    unit = (
        literal(batch.file_fields[unit_column])
        if unit_column and batch.file_fields.get(unit_column)
        else f"CAST({quote(unit_column)} AS VARCHAR)"
        if unit_column
        else "NULL"
    )
    return {
        "record_key": record_key_sql(feed),
        "partition_key": " || '|' || ".join(cell(c) for c in feed.load.replace or feed.load.key),
        "unit_code": unit,
    }


def _outlier_rows(feed: Feed, typed: pl.DataFrame, flags: list[pl.DataFrame]) -> list[pl.DataFrame]:
    frames = []
    for rule, scored in zip(feed.outliers, flags, strict=False):
        flagged = scored.filter(pl.col("outlier"))
        if flagged.height == 0:
            continue
        unit_column = feed.reporting.unit_column if feed.reporting else rule.series[0]
        frames.append(
            flagged.join(typed, on=ROW_ID).select(
                pl.col(SOURCE_ROW).alias("source_row"),
                pl.col(unit_column).cast(pl.String).alias("unit_code"),
                pl.concat_str([pl.col(c).cast(pl.String) for c in rule.series], separator="|").alias("series"),
                pl.col(rule.order_by).cast(pl.String).alias("period"),
                pl.lit(rule.column).alias("column_name"),
                pl.col(rule.column).cast(pl.Float64).alias("value"),
                pl.lit(rule.method).alias("method"),
                pl.col("score"),
                pl.lit(rule.threshold).alias("threshold"),
                pl.col("expected_min"),
                pl.col("expected_max"),
                pl.col("baseline_size"),
            )
        )
    return frames


def result_rows(feed: Feed, batch: LandedBatch, validation: Validation, rows: int, run_at: datetime) -> pl.DataFrame:
    """One row per check for ops.validation_results."""
    out = []
    for r in validation.results:
        failing_keys = r.failing_keys or [str(v) for v in r.unexpected_values[:MAX_FAILING_KEYS]]
        expected = expected_text(r.check, feed)
        out.append(
            {
                "feed": feed.id,
                "batch_id": batch.batch_id,
                "check_id": r.check.id,
                "check_name": r.check.name,
                "origin": r.check.origin,
                "severity": r.check.severity,
                "scope": r.check.scope,
                "column_name": r.check.column,
                "success": r.success,
                "unexpected_count": r.unexpected_count,
                "unexpected_percent": (100.0 * r.unexpected_count / rows) if rows and r.check.scope == "row" else None,
                "failing_keys": failing_keys[:MAX_FAILING_KEYS],
                "observed": r.observed,
                "expected": expected,
                "error": r.error,
                "run_at": run_at,
                "suite_seconds": validation.seconds,
            }
        )
    return pl.DataFrame(
        out,
        schema={
            "feed": pl.String,
            "batch_id": pl.String,
            "check_id": pl.String,
            "check_name": pl.String,
            "origin": pl.String,
            "severity": pl.String,
            "scope": pl.String,
            "column_name": pl.String,
            "success": pl.Boolean,
            "unexpected_count": pl.Int64,
            "unexpected_percent": pl.Float64,
            "failing_keys": pl.List(pl.String),
            "observed": pl.String,
            "expected": pl.String,
            "error": pl.String,
            "run_at": pl.Datetime("us", "UTC"),
            "suite_seconds": pl.Float64,
        },
    )


RESULT_COLUMNS = (
    "feed, batch_id, check_id, check_name, origin, severity, scope, column_name, success, unexpected_count, "
    "unexpected_percent, failing_keys, observed, expected, error, run_at, suite_seconds"
)


def store_results(con: duckdb.DuckDBPyConnection, results: pl.DataFrame) -> None:
    """Append result_rows' frame to ops.validation_results (columns named: the table may grow more)."""
    con.register("_results", results)
    try:
        con.execute(f"INSERT INTO ops.validation_results ({RESULT_COLUMNS}) SELECT {RESULT_COLUMNS} FROM _results")
    finally:
        con.unregister("_results")
