"""Can a KPI value be trusted? Beside each value (unit × period), the state of the feeds it reads when it was
computed (what the warehouse held then): those that were stale, their blocked batches not since replaced,
and their rows still in quarantine — so that a green computed on half the data is visibly not a plain green.

A value reads the feeds its KPI declares as sources (and the feed whose clean table it reads). What counts
for a value:
- a stale feed: one past its declared stale_after without a successful load, for every period that ends
  after its last success (a month closed before the feed went quiet is not affected);
- a blocked batch (refused whole, or unreadable) that no later batch of the same report (unit and period,
  for a reporting feed) or, for other feeds, no later successful batch replaced;
- a quarantined row still open.
A batch or row counts for its unit and every unit above it (the unit it names, or, when it names none or
one the tree does not know, the watched province), and for its period: the period the row itself names
(the KPI's period or time column, read from the record as received; a report file's period) when it can be
read, otherwise the day it was received or quarantined. A snapshot KPI counts all of them.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from pipelines.calendar.deadlines import TIMEZONE
from pipelines.calendar.periods import Period
from pipelines.declarations.base import duration_seconds
from pipelines.declarations.kpis import Kpi, RatioOfKpis, TableMeasure
from pipelines.declarations.loading import Catalog
from pipelines.declarations.models import Feed
from pipelines.kpi.compile import ANCESTORS_VIEW, period_key_sql
from pipelines.warehouse.sql import literal

HEALTH = pl.Schema(
    {
        "unit_code": pl.String(),
        "period": pl.String(),
        "stale_feeds": pl.List(pl.String),
        "blocked_batches": pl.Int64(),
        "quarantined_rows": pl.Int64(),
    }
)
SUCCESS = "('loaded', 'partial', 'duplicate', 'empty')"
BLOCKED = "('quarantined', 'failed')"


def read_feeds(kpi: Kpi, catalog: Catalog) -> list[Feed]:
    """The feeds a KPI's values read: its declared sources, and the feed whose clean table it reads."""
    ids = list(kpi.sources)
    m = kpi.measure
    if isinstance(m, TableMeasure) and m.from_.rpartition(".")[0] in ("", "clean"):
        ids.append(m.from_.rpartition(".")[2])
    return [catalog.feeds[i] for i in dict.fromkeys(ids) if i in catalog.feeds]


def input_health(
    con,
    kpi: Kpi,
    catalog: Catalog,
    periods: list[Period],
    current: Period,
    now: datetime,
    snapshot: bool,
    done: dict[str, pl.DataFrame],
) -> pl.DataFrame:
    """(unit_code, period, stale_feeds, blocked_batches, quarantined_rows) of every unit and period with any.
    Run where compute runs: the session in local time, the ancestors view registered."""
    if isinstance(kpi.measure, RatioOfKpis):  # what either input had (the two usually read the same feeds)
        inputs = [
            done[k].select(list(HEALTH))
            for k in (kpi.measure.numerator, kpi.measure.denominator)
            if k in done and "stale_feeds" in done[k].columns
        ]
        if not inputs:
            return pl.DataFrame(schema=HEALTH)
        return (
            pl.concat(inputs)
            .group_by("unit_code", "period")
            .agg(
                pl.col("stale_feeds").list.explode(keep_nulls=False, empty_as_null=False).unique().sort(),
                pl.col("blocked_batches").max(),
                pl.col("quarantined_rows").max(),
            )
        )
    feeds = read_feeds(kpi, catalog)
    if not feeds:
        return pl.DataFrame(schema=HEALTH)
    province = literal(catalog.org_units.province)
    keys = ", ".join(literal(p.key) for p in periods)
    counted = []
    for feed in feeds:
        name = literal(feed.id)
        row_period = _period_sql(kpi, feed, current, periods, snapshot, "CAST(q.quarantined_at AS DATE)", "q.record")
        counted.append(f"""
            SELECT coalesce(a.ancestor, {province}) AS unit_code, {row_period} AS period, 0 AS blocked, 1 AS quarantined
            FROM ops.quarantine AS q LEFT JOIN {ANCESTORS_VIEW} AS a ON a.unit_code = q.unit_code
            WHERE q.feed = {name} AND q.status = 'open'""")
        reporting = feed.reporting
        unit = f"(b.file_fields->>{literal(reporting.unit_column)})" if reporting else "NULL"
        named = f"(b.file_fields->>{literal(reporting.period_column)})" if reporting else "NULL"
        batch_period = (
            f"CASE WHEN {named} IN ({keys}) THEN {named} "
            f"ELSE {_day_key(kpi, current, snapshot, 'CAST(b.received_at AS DATE)')} END"
            if reporting and reporting.period_type == kpi.grain.period and not snapshot
            else _day_key(kpi, current, snapshot, "CAST(b.received_at AS DATE)")
        )
        same = (
            " AND ".join(
                f"(l.file_fields->>{literal(c)}) = (b.file_fields->>{literal(c)})"
                for c in (reporting.unit_column, reporting.period_column)
            )
            if reporting
            else "TRUE"
        )
        counted.append(f"""
            SELECT coalesce(a.ancestor, {province}) AS unit_code, {batch_period} AS period, 1 AS blocked, 0 AS quarantined
            FROM ops.batches AS b LEFT JOIN {ANCESTORS_VIEW} AS a ON a.unit_code = {unit}
            WHERE b.feed = {name} AND b.status IN {BLOCKED}
              AND NOT EXISTS (SELECT 1 FROM ops.batches AS l WHERE l.feed = b.feed AND l.status IN {SUCCESS}
                              AND l.received_at > b.received_at AND {same})""")
    counts = con.sql(f"""
        SELECT unit_code, period, sum(blocked) AS blocked_batches, sum(quarantined) AS quarantined_rows
        FROM ({" UNION ALL ".join(counted)}) WHERE period IN ({keys}) GROUP BY ALL""").pl()
    stale = _stale(con, feeds, periods, now)
    units = pl.DataFrame({"unit_code": sorted({u.code for u in catalog.org_units.units})})
    frame = (
        units.join(pl.DataFrame({"period": [p.key for p in periods]}), how="cross")
        .join(
            counts.cast({"blocked_batches": pl.Int64, "quarantined_rows": pl.Int64}),
            on=["unit_code", "period"],
            how="left",
        )
        .join(stale, on="period", how="left")
        .with_columns(
            pl.col("blocked_batches").fill_null(0),
            pl.col("quarantined_rows").fill_null(0),
            pl.col("stale_feeds").fill_null(pl.lit([], pl.List(pl.String))),
        )
    )
    extra = counts.join(units, on="unit_code", how="anti")  # units the tree does not know keep their own
    if not extra.is_empty():
        frame = pl.concat(
            [
                frame,
                extra.join(stale, on="period", how="left").with_columns(
                    pl.col("stale_feeds").fill_null(pl.lit([], pl.List(pl.String)))
                ),
            ],
            how="diagonal_relaxed",
        )
    return frame.select(list(HEALTH)).cast(HEALTH)


def _day_key(kpi: Kpi, current: Period, snapshot: bool, day: str) -> str:
    return literal(current.key) if snapshot else period_key_sql(kpi.grain.period, day)


def _period_sql(
    kpi: Kpi, feed: Feed, current: Period, periods: list[Period], snapshot: bool, day: str, record: str
) -> str:
    """The period a quarantined row counts for: the one it names, when it can be read from the record (a
    period written otherwise than as a key, say 08/2026, counts for the day it was quarantined)."""
    fallback = _day_key(kpi, current, snapshot, day)
    if snapshot:
        return fallback
    keys = ", ".join(literal(p.key) for p in periods)

    def named(value: str) -> str:
        return f"CASE WHEN {value} IN ({keys}) THEN {value} ELSE {fallback} END"

    m = kpi.measure
    if isinstance(m, TableMeasure) and m.from_.rpartition(".")[2] == feed.id:
        if m.period and feed.column(m.period):
            return named(_field(feed, m.period, record))
        if m.time and feed.column(m.time):
            moment = f"TRY_CAST({_field(feed, m.time, record)} AS TIMESTAMPTZ)"
            return f"coalesce({period_key_sql(kpi.grain.period, f'CAST({moment} AS DATE)')}, {fallback})"
    reporting = feed.reporting
    if reporting and reporting.period_type == kpi.grain.period and feed.column(reporting.period_column):
        return named(_field(feed, reporting.period_column, record))
    return fallback


def _field(feed: Feed, column: str, record: str) -> str:
    """A contract column's value in a record as received (its name, or one of its header labels)."""
    c = feed.column(column)
    assert c is not None  # its callers ask only for a column the feed declares (feed.column first)
    names = [c.name, *c.labels]
    return f"coalesce({', '.join(f'({record}->>{literal(n)})' for n in names)})"


def _stale(con, feeds: list[Feed], periods: list[Period], now: datetime) -> pl.DataFrame:
    """(period, stale_feeds): the feeds past their stale_after at `now`, for each period ending after their
    last success (every period, for a feed that never loaded)."""
    watched = [f for f in feeds if f.stale_after]
    last = dict(
        con.execute(
            f"SELECT feed, max(loaded_at) FROM ops.batches WHERE status IN {SUCCESS} "
            f"AND feed IN ({', '.join(literal(f.id) for f in watched) or 'NULL'}) GROUP BY feed"
        ).fetchall()
    )
    rows = []
    for period in periods:
        stale = []
        for feed in watched:
            success = last.get(feed.id)
            assert feed.stale_after is not None  # watched: the feeds that declare it
            if success is None or (now - success).total_seconds() > duration_seconds(feed.stale_after):
                if success is None or period.end >= success.astimezone(TIMEZONE).date():
                    stale.append(feed.id)
        rows.append({"period": period.key, "stale_feeds": stale})
    return pl.DataFrame(rows, schema={"period": pl.String, "stale_feeds": pl.List(pl.String)})
