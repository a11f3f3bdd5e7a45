"""Compute KPIs into marts.kpi_values, with history.

For each KPI (those it builds on first): run its compiled query over the periods asked for, put the
values on the spine of units expected to have one (the others show no_data), derive value, target
and status, then replace those periods in marts.kpi_values in one transaction. Every change of a
value or status is appended to marts.kpi_history, so trends and "changed status" can be shown.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl

from pipelines.calendar.deadlines import TIMEZONE
from pipelines.calendar.periods import Period, any_period, period_of, recent_periods
from pipelines.declarations.kpis import Kpi, QueryMeasure, RatioOfKpis, TableMeasure
from pipelines.declarations.loading import Catalog
from pipelines.kpi.compile import ANCESTORS_VIEW, compile_kpi, substitute
from pipelines.kpi.completeness import check_rule, judged
from pipelines.kpi.pending import inputs_changed, periods_to_recompute, read_pending
from pipelines.kpi.status import status_expr, with_streaks
from pipelines.kpi.tree import ancestors, shown_units, spine, unit_kinds
from pipelines.kpi.trust import input_health
from pipelines.warehouse import committed, has_clean_table, table_exists
from pipelines.warehouse.pending import PENDING
from pipelines.warehouse.tables import KPI_DDL, ensure_clean_table

VALUE_COLUMNS = [
    "kpi_id",
    "unit_code",
    "period",
    "period_start",
    "period_end",
    "value",
    "numerator",
    "denominator",
    "target",
    "status",
    "previous_value",
    "previous_status",
    "streak",
    "escalated",
    "computed_at",
    "stale_feeds",
    "blocked_batches",
    "quarantined_rows",
    "inputs_degraded",
    "period_state",
]


@dataclass
class KpiRun:
    """What one computation did: rows per KPI, and KPIs left out (with why)."""

    values: pl.DataFrame
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    incremental: bool = False  # only what ops.kpi_pending made out of date was computed


def in_order(kpis: dict[str, Kpi], wanted: list[str] | None) -> list[Kpi]:
    """The wanted KPIs (all by default) and those they build on, inputs first."""
    order: list[Kpi] = []

    def visit(kpi_id: str) -> None:
        if any(k.id == kpi_id for k in order):
            return
        kpi = kpis[kpi_id]
        if isinstance(kpi.measure, RatioOfKpis):
            visit(kpi.measure.numerator)
            visit(kpi.measure.denominator)
        order.append(kpi)

    for kpi_id in wanted or list(kpis):
        if kpi_id not in kpis:
            raise KeyError(f"unknown KPI {kpi_id!r}; declared KPIs: {', '.join(sorted(kpis))}")
        visit(kpi_id)
    return order


def periods_for(kpi: Kpi, today, asked: Period | None) -> list[Period]:
    """The periods to compute: the KPI's recent history by default, or the period of its type that
    contains the asked period's first day. Snapshots only ever have the current period."""
    current = period_of(kpi.grain.period, today)
    if is_snapshot(kpi):
        return [current] if asked is None or period_of(kpi.grain.period, asked.start) == current else []
    if asked is None:
        return recent_periods(kpi.grain.period, today, kpi.grain.history_periods)
    try:
        return [period_of(kpi.grain.period, asked.start)]
    except ValueError:  # e.g. a nine-month KPI asked for October
        return []


def is_snapshot(kpi: Kpi) -> bool:
    return kpi.is_snapshot


def _has_inputs(con, kpi: Kpi, catalog: Catalog) -> bool:
    """Whether the tables the KPI reads exist yet (a feed that never loaded has no clean table)."""
    m = kpi.measure
    if isinstance(m, TableMeasure):
        schema, _, table = m.from_.rpartition(".")
        return table_exists(con, schema or "clean", table)
    return all(has_clean_table(con, feed) for feed in kpi.sources)


def _period_frame(periods: list[Period]) -> pl.DataFrame:
    """(period, period_start, period_end) of each period."""
    return pl.DataFrame(
        {
            "period": [p.key for p in periods],
            "period_start": [p.start for p in periods],
            "period_end": [p.end for p in periods],
        }
    )


def _targets(con, kpi: Kpi, periods: list[Period], now: datetime) -> pl.DataFrame:
    frame = _period_frame(periods)
    if kpi.target_sql is None:
        return frame.with_columns(target=pl.lit(kpi.target, pl.Float64)).select("period", "target")
    con.register("_kpi_periods", frame)
    try:
        return con.sql(
            f"SELECT period, CAST(({substitute(kpi.target_sql, now)}) AS DOUBLE) AS target FROM _kpi_periods"
        ).pl()
    finally:
        con.unregister("_kpi_periods")


FEEDS_VIEW = "decl_feeds"  # the declared feeds, for query measures: feed, owner, source_kind, schedule


def declared_feeds(catalog: Catalog) -> pl.DataFrame:
    feeds = catalog.feeds.values()
    return pl.DataFrame(
        {
            "feed": [f.id for f in feeds],
            "owner": [f.owner for f in feeds],
            "source_kind": [f.source.kind for f in feeds],
            "schedule": [f.schedule for f in feeds],
        },
        schema={"feed": pl.String, "owner": pl.String, "source_kind": pl.String, "schedule": pl.String},
    )


NUMBERS = pl.Schema({"unit_code": pl.String, "period": pl.String, "numerator": pl.Float64, "denominator": pl.Float64})


def _numbers(
    con,
    kpi: Kpi,
    catalog: Catalog,
    periods: list[Period],
    current: Period,
    now: datetime,
    done: dict[str, pl.DataFrame],
) -> pl.DataFrame:
    """(unit_code, period, numerator, denominator) of the KPI, rolled up."""
    m = kpi.measure
    if isinstance(m, RatioOfKpis):

        def values(kpi_id: str, name: str) -> pl.DataFrame:
            return done[kpi_id].select("unit_code", "period", pl.col("value").alias(name))

        return values(m.numerator, "numerator").join(
            values(m.denominator, "denominator"), on=["unit_code", "period"], how="full", coalesce=True
        )
    if not _has_inputs(con, kpi, catalog):
        return pl.DataFrame(schema=NUMBERS)
    sql = substitute(compile_kpi(kpi, periods, current, catalog.org_units.province), now)
    return con.sql(sql).pl().cast(NUMBERS)


def compute_kpi(
    con,
    kpi: Kpi,
    catalog: Catalog,
    periods: list[Period],
    now: datetime,
    done: dict[str, pl.DataFrame],
    redo: list[Period] | None = None,
    stored: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The rows of one KPI for these periods: every expected unit, with a value or no_data. With `redo`, the
    numbers are computed for those periods only, and taken for the others from `stored` (its rows as stored):
    the rest (targets, inputs' health, status) is derived for every period as when all are computed."""
    today = now.astimezone(TIMEZONE).date()
    current = period_of(kpi.grain.period, today)
    if redo is None or isinstance(kpi.measure, RatioOfKpis):
        numbers = _numbers(con, kpi, catalog, periods, current, now, done)
    else:
        kept = [p.key for p in periods if p not in redo]
        numbers = pl.concat(
            [
                _numbers(con, kpi, catalog, redo, current, now, done) if redo else pl.DataFrame(schema=NUMBERS),
                (stored if stored is not None else pl.DataFrame(schema=NUMBERS))
                .filter(pl.col("period").is_in(kept))
                .select(list(NUMBERS))
                .cast(NUMBERS),
            ]
        )
    expected = spine(kpi, periods, catalog.org_units)
    known = unit_kinds(catalog.org_units)
    # units the tree does not know keep their own rows; known units appear at the kinds the KPI shows
    shown = numbers.filter(
        ~pl.col("unit_code").is_in(list(known)) | pl.col("unit_code").is_in(shown_units(kpi, catalog.org_units))
    )
    extra = shown.join(expected, on=["unit_code", "period"], how="anti").join(_period_frame(periods), on="period")
    rows = pl.concat(
        [
            expected.join(shown, on=["unit_code", "period"], how="left"),
            extra.select(expected.columns + ["numerator", "denominator"]),
        ]
    )
    ratio = (
        isinstance(kpi.measure, RatioOfKpis)
        or (isinstance(kpi.measure, TableMeasure) and kpi.measure.denominator is not None)
        or (isinstance(kpi.measure, QueryMeasure) and kpi.measure.has_denominator)
    )
    value: pl.Expr
    if ratio:
        value = pl.when(pl.col("denominator") > 0).then(kpi.scale * pl.col("numerator") / pl.col("denominator"))
    else:
        value = pl.col("numerator")
    health = input_health(con, kpi, catalog, periods, current, now, is_snapshot(kpi), done)
    rows = (
        rows.join(health, on=["unit_code", "period"], how="left")
        .with_columns(
            pl.col("blocked_batches").fill_null(0),
            pl.col("quarantined_rows").fill_null(0),
            pl.col("stale_feeds").fill_null(pl.lit([], pl.List(pl.String))),
        )
        .with_columns(
            inputs_degraded=(pl.col("stale_feeds").list.len() > 0)
            | (pl.col("blocked_batches") > 0)
            | (pl.col("quarantined_rows") > 0)
        )
    )
    return (
        rows.join(_targets(con, kpi, periods, now), on="period", how="left")
        .with_columns(value=value, kpi_id=pl.lit(kpi.id))
        .with_columns(status=status_expr(kpi))  # on the exact value: one on its target is on target
        .with_columns(pl.col("value").round(6))
    )


def compute_kpis(
    con,
    catalog: Catalog,
    now: datetime | None = None,
    period: str | None = None,
    kpi_ids: list[str] | None = None,
    incremental: bool = False,
) -> KpiRun:
    """Compute the KPIs (all by default) for their recent periods, or for one period, and store them
    (its orchestrator records the run and publishes the snapshots: pipelines.snapshots).

    Every KPI for its recent periods (no `period`, no `kpi_ids`) consumes what ops.kpi_pending holds: all of
    it is then current. `incremental`: only the values what is pending makes out of date (kpi/pending.py) are
    computed and written; nothing pending, or no value stored yet, computes every KPI. What changes with time
    alone (a period complete once its deadline passed, a feed gone stale, a snapshot, a target of {today}) needs
    a full computation: see docs/kpis.md."""
    if incremental and (period or kpi_ids):
        raise ValueError("an incremental computation is of every KPI for its recent periods: no period or KPI ids")
    return _compute(con, catalog, now or datetime.now(UTC), period, kpi_ids, incremental)


def _compute(
    con, catalog: Catalog, now: datetime, period: str | None, kpi_ids: list[str] | None, incremental: bool
) -> KpiRun:
    asked = any_period(period) if period else None
    today = now.astimezone(TIMEZONE).date()
    run = KpiRun(values=pl.DataFrame())
    done: dict[str, pl.DataFrame] = {}
    whole = period is None and not kpi_ids  # every KPI's recent periods: what is pending is then current
    pending = read_pending(con) if whole and table_exists(con, "ops", "kpi_pending") else None
    stored = None
    if incremental and pending is not None and not pending.is_empty() and table_exists(con, "marts", "kpi_values"):
        stored = con.sql("SELECT * FROM marts.kpi_values").pl()
    run.incremental = stored is not None
    redone: list[tuple[str, str]] = []  # (kpi_id, period) whose numbers are computed now
    unchanged: set[str] = set()
    for kpi in in_order(catalog.kpis, kpi_ids):  # a rule that cannot apply stops the run before anything is written
        check_rule(kpi, catalog)
    for feed in catalog.feeds.values():  # clean tables from before a lineage column was added get it now
        if has_clean_table(con, feed.id):
            ensure_clean_table(con, feed)
    con.execute("SET TimeZone = 'Asia/Ho_Chi_Minh'")  # a timestamp's date, so its period, is the local one
    con.register(ANCESTORS_VIEW, ancestors(catalog.org_units))
    con.register(FEEDS_VIEW, declared_feeds(catalog))
    try:
        for kpi in in_order(catalog.kpis, kpi_ids):
            periods = periods_for(kpi, today, asked)
            if not periods:
                run.skipped[kpi.id] = (
                    "a snapshot of the current state: past periods keep their last value"
                    if is_snapshot(kpi)
                    else f"no {kpi.grain.period} period contains {period}"
                )
                done[kpi.id] = pl.DataFrame(schema={"unit_code": pl.String, "period": pl.String, "value": pl.Float64})
                continue
            t0 = time.perf_counter()
            if stored is None or pending is None:
                done[kpi.id] = compute_kpi(con, kpi, catalog, periods, now, done)
                redone += [(kpi.id, p.key) for p in periods]
            else:
                mine = stored.filter((pl.col("kpi_id") == kpi.id) & pl.col("period").is_in([p.key for p in periods]))
                redo = _periods_out_of_date(kpi, periods, pending, mine, redone)
                if not redo and not _inputs_changed(kpi, catalog, pending, unchanged):
                    done[kpi.id] = mine  # as stored: what a ratio of it reads
                    unchanged.add(kpi.id)
                    continue
                done[kpi.id] = compute_kpi(con, kpi, catalog, periods, now, done, redo, mine)
                redone += [(kpi.id, p.key) for p in redo]
            run.seconds[kpi.id] = time.perf_counter() - t0
    finally:
        con.unregister(ANCESTORS_VIEW)
        con.unregister(FEEDS_VIEW)
        con.execute("RESET TimeZone")
    computed = [frame for kpi_id, frame in done.items() if kpi_id not in run.skipped and kpi_id not in unchanged]
    run.values = store(
        con,
        catalog,
        pl.concat(computed, how="diagonal_relaxed") if computed else None,
        now,
        pl.DataFrame(redone, schema={"kpi_id": pl.String, "period": pl.String}, orient="row")
        if stored is not None
        else None,
        pending,
    )
    return run


def _periods_out_of_date(
    kpi: Kpi, periods: list[Period], pending: pl.DataFrame, stored: pl.DataFrame, redone: list[tuple[str, str]]
) -> list[Period]:
    """The KPI's periods to compute again: those the pending changes reach, those its inputs (a ratio's) were
    computed again for, and those it has no value stored for yet (a new KPI, a new period)."""
    out = set(periods_to_recompute(kpi, periods, pending))
    if isinstance(kpi.measure, RatioOfKpis):
        inputs = {kpi.measure.numerator, kpi.measure.denominator}
        again = {key for kpi_id, key in redone if kpi_id in inputs}
        out |= {p for p in periods if p.key in again}
    have = set(stored["period"].unique())
    out |= {p for p in periods if p.key not in have}
    return [p for p in periods if p in out]


def _inputs_changed(kpi: Kpi, catalog: Catalog, pending: pl.DataFrame, unchanged: set[str]) -> bool:
    if isinstance(kpi.measure, RatioOfKpis):  # either input computed (its health may differ)
        return any(k not in unchanged for k in (kpi.measure.numerator, kpi.measure.denominator))
    return inputs_changed(kpi, catalog, pending)


def store(
    con,
    catalog: Catalog,
    fresh: pl.DataFrame | None,
    now: datetime,
    redone: pl.DataFrame | None = None,
    pending: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Replace the computed periods of each KPI in marts.kpi_values; log changes in marts.kpi_history; consume
    the `pending` rows of ops.kpi_pending (those read before computing) in the same transaction.

    Each computed period gets its period_state as of `now` (complete, or running: then its value is not judged
    unless the KPI says it may be); a stored period not computed again keeps the state it was computed in (one
    stored before the column existed gets it now).

    `redone` (an incremental computation): the (kpi_id, period) whose numbers were computed now. Those rows are
    written with `now`; a row of another period keeps its computed_at and period_state, and is written only if
    something else of it changed (its inputs' health, its streak…). Without it, every row of the KPIs is."""
    con.execute(KPI_DDL)
    if fresh is None or fresh.is_empty():
        if pending is not None and not pending.is_empty():
            committed(con, lambda: _consume(con, pending))
        return pl.DataFrame()
    computed_at = now.astimezone(UTC)
    fresh = fresh.with_columns(
        computed_at=pl.lit(computed_at).cast(pl.Datetime("us", "UTC")), period_state=pl.lit(None, pl.String)
    )
    kpi_ids = fresh["kpi_id"].unique().to_list()
    con.register("_kpi_ids", pl.DataFrame({"kpi_id": kpi_ids}))
    stored = con.sql("SELECT * FROM marts.kpi_values WHERE kpi_id IN (SELECT kpi_id FROM _kpi_ids)").pl()
    con.unregister("_kpi_ids")
    stored = stored.with_columns(pl.col("computed_at").dt.convert_time_zone("UTC"))
    keys = ["kpi_id", "unit_code", "period"]
    if redone is not None:  # the periods not computed again keep the moment and state they were computed in
        fresh = (
            fresh.join(redone.with_columns(_redone=pl.lit(True)), on=["kpi_id", "period"], how="left")
            .join(
                stored.select(*keys, pl.col("computed_at").alias("_at"), pl.col("period_state").alias("_state")),
                on=keys,
                how="left",
            )
            .with_columns(
                computed_at=pl.when(pl.col("_redone"))
                .then(pl.col("computed_at"))
                .otherwise(pl.coalesce("_at", "computed_at")),
                period_state=pl.when(pl.col("_redone")).then(pl.col("period_state")).otherwise(pl.col("_state")),
            )
            .drop("_redone", "_at", "_state")
        )
    replaced = fresh.select("kpi_id", "period").unique()
    kept = stored.join(replaced, on=["kpi_id", "period"], how="anti")
    merged = pl.concat(
        [
            kept.select(VALUE_COLUMNS),
            fresh.with_columns(
                previous_value=pl.lit(None, pl.Float64),
                previous_status=pl.lit(None, pl.String),
                streak=pl.lit(None, pl.Int32),
                escalated=pl.lit(None, pl.Boolean),
            ).select(VALUE_COLUMNS),
        ],
        how="vertical_relaxed",
    )
    merged = pl.concat(
        [
            with_streaks(judged(catalog.kpis[k], catalog, merged.filter(pl.col("kpi_id") == k), now), catalog.kpis[k])
            for k in kpi_ids
        ]
    )
    fresh = merged.join(replaced, on=["kpi_id", "period"], how="semi")
    written = merged.select(VALUE_COLUMNS) if redone is None else _written(merged, stored, redone)
    removed = stored.select(keys).join(merged.select(keys), on=keys, how="anti")
    before = stored.select(*keys, pl.col("value").alias("_old_value"), pl.col("status").alias("_old_status"))
    changes = (
        written.join(replaced, on=["kpi_id", "period"], how="semi")
        .join(before, on=keys, how="left")
        .filter(
            pl.col("_old_status").is_null()
            | (pl.col("_old_status") != pl.col("status"))
            | ~pl.col("value").eq_missing(pl.col("_old_value"))
        )
        .select("kpi_id", "unit_code", "period", "value", "status", "computed_at")
    )
    con.register("_kpi_values", written)
    con.register("_kpi_changes", changes)
    con.register("_kpi_ids", pl.DataFrame({"kpi_id": kpi_ids}))
    con.register("_kpi_keys", pl.concat([written.select(keys), removed]))

    def write() -> None:  # run again if its commit conflicts with another writer's (DuckLake)
        if redone is None:
            con.execute("DELETE FROM marts.kpi_values WHERE kpi_id IN (SELECT kpi_id FROM _kpi_ids)")
        else:
            con.execute(
                "DELETE FROM marts.kpi_values AS v WHERE EXISTS (SELECT 1 FROM _kpi_keys AS k "
                "WHERE k.kpi_id = v.kpi_id AND k.unit_code = v.unit_code AND k.period = v.period)"
            )
        con.execute("INSERT INTO marts.kpi_values BY NAME SELECT * FROM _kpi_values")
        con.execute(
            "INSERT INTO marts.kpi_history (kpi_id, unit_code, period, value, status, computed_at) "
            "SELECT kpi_id, unit_code, period, value, status, computed_at FROM _kpi_changes"
        )
        if pending is not None:
            _consume(con, pending)

    try:
        committed(con, write, doing="writing the KPIs into marts.kpi_values")
    finally:
        for name in ("_kpi_values", "_kpi_changes", "_kpi_ids", "_kpi_keys"):
            con.unregister(name)
    return fresh.sort("kpi_id", "unit_code", "period")


def _written(merged: pl.DataFrame, stored: pl.DataFrame, redone: pl.DataFrame) -> pl.DataFrame:
    """The rows an incremental computation writes: those of the periods computed again, and any other that
    differs from the row stored (computed_at aside)."""
    keys = ["kpi_id", "unit_code", "period"]
    compared = [c for c in VALUE_COLUMNS if c not in keys and c != "computed_at"]

    def comparable(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.select(
            *keys,
            pl.col("stale_feeds").list.join("\x1f").alias("stale_feeds"),
            *(c for c in compared if c != "stale_feeds"),
        )

    old = comparable(stored).rename({c: f"_old_{c}" for c in compared})
    same = pl.all_horizontal([pl.col(c).eq_missing(pl.col(f"_old_{c}")) for c in compared])
    differs = (
        comparable(merged).join(old, on=keys, how="left").filter(~same | pl.col("_old_status").is_null()).select(keys)
    )
    again = merged.join(redone, on=["kpi_id", "period"], how="semi")
    return pl.concat(
        [
            again.select(VALUE_COLUMNS),
            merged.join(differs, on=keys, how="semi")
            .join(redone, on=["kpi_id", "period"], how="anti")
            .select(VALUE_COLUMNS),
        ]
    )


def _consume(con, pending: pl.DataFrame) -> None:
    """Delete the rows of ops.kpi_pending that were read before computing (a load committed since stays)."""
    con.register("_kpi_pending", pending.select("source", "batch_id", "what", "recorded_at"))
    try:
        con.execute(
            f"DELETE FROM {PENDING} AS p WHERE EXISTS (SELECT 1 FROM _kpi_pending AS r WHERE r.source = p.source "
            "AND r.batch_id IS NOT DISTINCT FROM p.batch_id AND r.what = p.what AND r.recorded_at = p.recorded_at)"
        )
    finally:
        con.unregister("_kpi_pending")
