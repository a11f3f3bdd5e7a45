"""Validate one conformed batch with its feed's suite and decide, row by row and for the batch, what
is published and what is quarantined — with every reason, and one result row per check.

A row failing a blocking row check is quarantined; a warning check only records. The batch is
blocked (nothing published, the last good data keeps serving) when a blocking batch check fails, or
a blocking row check with `mostly` passes fewer rows than it asks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from pipelines.conform.reasons import REASON_TYPE, REASONS, reason
from pipelines.conform.rows import ROW_ID, Conformed
from pipelines.declarations.checks import TYPE_CHECK, OutlierRule, UnitCodeIsActive
from pipelines.declarations.models import Feed, OrgUnits
from pipelines.extract.landing import RAW, SOURCE_ROW, SOURCE_URI, LandedBatch
from pipelines.load.warehouse import has_clean_table, quote
from pipelines.validate import outliers as outlier_methods
from pipelines.validate.suite import (
    SuiteCheck,
    active_column,
    expected_text,
    file_name_fields,
    file_parameter,
    outlier_column,
    suite_checks,
    type_check,
)

MAX_FAILING_KEYS = 20


@dataclass
class CheckResult:
    """A check's outcome on one batch."""

    check: SuiteCheck
    success: bool = True
    unexpected_count: int = 0
    row_ids: set[int] = field(default_factory=set)
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
        return self.check.severity == "blocking" and bool(self.row_ids)


@dataclass
class Validation:
    """What validating a batch decided."""

    published: pl.DataFrame
    quarantined: pl.DataFrame  # lineage, reasons, record_key, partition_key, unit_code
    results: list[CheckResult]
    outliers: pl.DataFrame
    blocked: list[str]
    seconds: float
    data_docs: list = field(default_factory=list)  # GE identifiers of the stored results, for Data Docs


def unit_validity(units: OrgUnits) -> pl.DataFrame:
    return pl.DataFrame(
        {"_code": [u.code for u in units.units], "_from": [u.valid_from for u in units.units],
         "_to": [u.valid_to for u in units.units]},
        schema={"_code": pl.String, "_from": pl.Date, "_to": pl.Date})


def _as_of_interval(feed: Feed, column: str) -> tuple[pl.Expr, pl.Expr]:
    """The first and last day a row's `column` stands for (a month spans its days)."""
    kind = feed.column(column).type
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
                .select(ROW_ID, pl.when(pl.col("_code").is_null() | pl.col("_start").is_null()).then(None)
                        .otherwise(pl.col("_from").is_not_null() & (pl.col("_from") <= pl.col("_end"))
                                   & (pl.col("_to").is_null() | (pl.col("_to") >= pl.col("_start"))))
                        .alias(active_column(check)))
            )
            derived.append(active)
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
        f"WHERE EXISTS (SELECT 1 FROM _series AS s WHERE {match})").pl()
    con.unregister("_series")
    return history


def validate_batch(con, feed: Feed, conformed: Conformed, batch: LandedBatch, units: OrgUnits) -> Validation:
    """Run the feed's suite on the batch and decide what is published and what is quarantined."""
    from pipelines.validate.gx import run_suites

    started = time.monotonic()
    typed, flags = _derive(con, feed, conformed.typed, units)
    checks = suite_checks(feed)
    derived = [c for c in typed.columns if c.startswith(("_active__", "_not_outlier__"))]
    rows = typed.select(*feed.column_names, *derived, ROW_ID).to_pandas()
    columns = pl.DataFrame({"column": conformed.source_columns}, schema={"column": pl.String}).to_pandas()
    parameters = {"unit_codes": sorted(units.codes)}
    for name in file_name_fields(feed):
        value = batch.file_fields.get(name)
        parameters[file_parameter(name)] = [value] if value else []
    outcomes, docs = run_suites(feed, rows, columns, parameters)
    results = _results(feed, checks, outcomes, conformed)
    blocked = [_blocking_text(r, feed) for r in results if r.blocks_batch]
    decided = _decide(feed, typed, results, blocked, conformed.labels)
    published = decided.filter(pl.col(REASONS).list.len() == 0).select(
        *feed.column_names, SOURCE_ROW, SOURCE_URI)
    quarantined = decided.filter(pl.col(REASONS).list.len() > 0).select(
        SOURCE_ROW, SOURCE_URI, RAW, REASONS, *_quarantine_keys(feed, batch))
    return Validation(published=published, quarantined=quarantined, results=results,
                      outliers=_outlier_rows(feed, typed, flags), blocked=blocked,
                      seconds=time.monotonic() - started, data_docs=docs)


def _results(feed: Feed, checks: list[SuiteCheck], outcomes, conformed: Conformed) -> list[CheckResult]:
    by_id = {c.id: CheckResult(c) for c in checks}
    for outcome in outcomes:
        result = by_id[outcome.check_id]
        result.success = result.success and outcome.success and outcome.error is None
        result.unexpected_count += outcome.unexpected_count or 0
        result.row_ids.update(outcome.row_ids)
        result.unexpected_values += outcome.unexpected_values
        if isinstance(outcome.observed, (list, set, tuple)):
            result.observed = ", ".join(map(str, outcome.observed))
        elif outcome.observed is not None:
            result.observed = str(outcome.observed)
        result.error = result.error or outcome.error
    for result in by_id.values():
        if result.check.name == "required_columns_present":
            present = set(conformed.source_columns)
            result.unexpected_values = [c.name for c in feed.columns if not c.nullable and c.name not in present]
            result.unexpected_count = len(result.unexpected_values)
    typing = CheckResult(type_check())
    failed = conformed.typed.filter(pl.col(REASONS).list.len() > 0)[ROW_ID].to_list()
    typing.row_ids, typing.unexpected_count, typing.success = set(failed), len(failed), not failed
    return [typing, *by_id.values()]


def _blocking_text(result: CheckResult, feed: Feed) -> str:
    check = result.check
    what = f"{check.id} ({check.origin})"
    if result.error:
        return f"{what} could not run: {result.error}"
    if result.unexpected_values and check.frame == "columns":
        return f"{what}: {', '.join(map(str, result.unexpected_values))}; expected {expected_text(check, feed)}"
    if check.name == "row_count_between":
        return f"{what}: {result.observed} rows; expected {expected_text(check, feed)}"
    share = f" (fewer than {check.mostly:.0%} passing)" if check.mostly else ""
    return f"{what}: {result.unexpected_count} rows fail{share}; expected {expected_text(check, feed)}"


def _actual(check: SuiteCheck) -> pl.Expr:
    """The values a reason quotes for a failing row."""
    d = check.declaration
    if check.name == "column_pair_in_order":
        return pl.format(f"{d.greater}={{}}, {d.lesser}={{}}", pl.col(d.greater), pl.col(d.lesser))
    if check.name == "key_is_unique":
        return pl.concat_str([pl.col(c).cast(pl.String) for c in d.key], separator=" / ")
    if check.name == "unit_code_is_active" and d.as_of:
        return pl.format(f"{{}} on {d.as_of} {{}}", pl.col(d.column), pl.col(d.as_of))
    if check.column is not None:
        return pl.col(check.column).cast(pl.String)
    return pl.lit(None, pl.String)


def _decide(feed: Feed, typed: pl.DataFrame, results: list[CheckResult], blocked: list[str],
            labels: dict[str, str]) -> pl.DataFrame:
    """Every row with all its reasons (the type reasons of conform, then the suite's); labels are the
    headers the source used for the contract columns, quoted in messages."""
    pieces = []
    for result in results:
        if result.check.name == TYPE_CHECK or not result.quarantines_rows:
            continue
        check = result.check
        pieces.append(
            typed.filter(pl.col(ROW_ID).is_in(sorted(result.row_ids)))
            .select(ROW_ID, reason(feed.id, check.name, check.column, labels.get(check.column), expected_text(check, feed),
                                   _actual(check)).alias("_reason"))
        )
    decided = typed
    if pieces:
        suite_reasons = pl.concat(pieces).group_by(ROW_ID).agg(pl.col("_reason").alias("_suite"))
        decided = decided.join(suite_reasons, on=ROW_ID, how="left").with_columns(
            pl.col(REASONS).list.concat(pl.col("_suite").fill_null([])).alias(REASONS)).drop("_suite")
        decided = decided.with_columns(_without_redundant_not_null(pl.col(REASONS)))
    if blocked:
        because = "; ".join(blocked)
        batch_reason = reason(feed.id, "batch_is_publishable", None, None, "a batch that passes its blocking checks",
                              pl.lit(because))
        decided = decided.with_columns(pl.col(REASONS).list.concat(pl.concat_list(batch_reason)).alias(REASONS))
    return decided.with_columns(pl.col(REASONS).cast(pl.List(REASON_TYPE)))


def _without_redundant_not_null(reasons: pl.Expr) -> pl.Expr:
    """A value that did not parse is null too: its 'not null' reason would only repeat the type reason."""
    return reasons.list.eval(
        pl.element().filter(
            ~((pl.element().struct.field("check_name") == "values_not_null")
              & pl.element().struct.field("column_name").is_in(
                  pl.element().filter(pl.element().struct.field("check_name") == TYPE_CHECK)
                  .struct.field("column_name").implode()).fill_null(False))
        )
    )


def _quarantine_keys(feed: Feed, batch: LandedBatch) -> list[pl.Expr]:
    """record_key (the row's key), partition_key (what a correction replaces), unit_code (whose row)."""
    def joined(columns: list[str]) -> pl.Expr:
        values = []
        for c in columns:
            from_file = batch.file_fields.get(c)
            values.append(pl.lit(from_file) if from_file else pl.col(c).cast(pl.String).fill_null("?"))
        return pl.concat_str(values, separator="|")

    unit_column = (feed.reporting.unit_column if feed.reporting else
                   next((c.name for c in feed.columns if c.references == "org_unit"), None))
    unit = pl.lit(batch.file_fields.get(unit_column)) if unit_column and batch.file_fields.get(unit_column) else (
        pl.col(unit_column) if unit_column else pl.lit(None, pl.String))
    return [
        pl.concat_str([pl.col(c).cast(pl.String).fill_null("?") for c in feed.load.key], separator="|").alias("record_key"),
        joined(feed.load.replace or feed.load.key).alias("partition_key"),
        unit.cast(pl.String).alias("unit_code"),
    ]


def _outlier_rows(feed: Feed, typed: pl.DataFrame, flags: list[pl.DataFrame]) -> pl.DataFrame:
    frames = []
    for rule, scored in zip(feed.outliers, flags):
        flagged = scored.filter(pl.col("outlier"))
        if flagged.height == 0:
            continue
        unit_column = feed.reporting.unit_column if feed.reporting else rule.series[0]
        frames.append(flagged.join(typed, on=ROW_ID).select(
            pl.col(SOURCE_ROW).alias("source_row"),
            pl.col(unit_column).cast(pl.String).alias("unit_code"),
            pl.concat_str([pl.col(c).cast(pl.String) for c in rule.series], separator="|").alias("series"),
            pl.col(rule.order_by).cast(pl.String).alias("period"),
            pl.lit(rule.column).alias("column_name"),
            pl.col(rule.column).cast(pl.Float64).alias("value"),
            pl.lit(rule.method).alias("method"),
            pl.col("score"), pl.lit(rule.threshold).alias("threshold"),
            pl.col("expected_min"), pl.col("expected_max"), pl.col("baseline_size"),
        ))
    return pl.concat(frames) if frames else pl.DataFrame()


def result_rows(feed: Feed, batch: LandedBatch, validation: Validation, typed: pl.DataFrame,
                run_at: datetime) -> pl.DataFrame:
    """One row per check for ops.validation_results."""
    key_text = typed.select(ROW_ID, pl.concat_str([pl.col(c).cast(pl.String).fill_null("?") for c in feed.load.key],
                                                  separator="|").alias("_key"))
    keys_by_row = dict(zip(key_text[ROW_ID].to_list(), key_text["_key"].to_list()))
    total = typed.height
    rows = []
    for r in validation.results:
        failing = [keys_by_row[i] for i in sorted(r.row_ids)[:MAX_FAILING_KEYS]] if r.row_ids else \
            [str(v) for v in r.unexpected_values[:MAX_FAILING_KEYS]]
        rows.append({
            "feed": feed.id, "batch_id": batch.batch_id, "check_id": r.check.id, "check_name": r.check.name,
            "origin": r.check.origin, "severity": r.check.severity, "scope": r.check.scope,
            "column_name": r.check.column, "success": r.success, "unexpected_count": r.unexpected_count,
            "unexpected_percent": (100.0 * r.unexpected_count / total) if total and r.check.scope == "row" else None,
            "failing_keys": failing, "observed": r.observed, "expected": expected_text(r.check, feed)
            if r.check.declaration is not None else "a value of the column's type",
            "error": r.error, "run_at": run_at, "suite_seconds": validation.seconds,
        })
    return pl.DataFrame(rows, schema={
        "feed": pl.String, "batch_id": pl.String, "check_id": pl.String, "check_name": pl.String,
        "origin": pl.String, "severity": pl.String, "scope": pl.String, "column_name": pl.String,
        "success": pl.Boolean, "unexpected_count": pl.Int64, "unexpected_percent": pl.Float64,
        "failing_keys": pl.List(pl.String), "observed": pl.String, "expected": pl.String, "error": pl.String,
        "run_at": pl.Datetime("us", "UTC"), "suite_seconds": pl.Float64})
