"""The warehouse-writing jobs besides a feed's load (pipelines.ingest), as the scheduler's tasks, the command
line and the demo run them: each stage's run recorded in ops.runs, then the snapshots published for the wall
and the exporter (pipelines.snapshots), even when a stage fails. The stages themselves only compute and store."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import polars as pl

from pipelines.deadlines.refresh import refresh_deadlines
from pipelines.declarations.loading import Catalog
from pipelines.kpi.compute import KpiRun, compute_kpis
from pipelines.snapshots import published_after, recorded_run
from pipelines.warehouse import compact as compact_warehouse

HISTORY_DAYS = 400  # the warehouse's history kept for time travel (a year's reports as they stood, and a month)

# An incremental KPI computation leaves alone what changes with time alone (a period complete once its reports
# are due, a feed gone stale, a snapshot's state, a target of {today}): a full one runs when the last is older.
FULL_EVERY = timedelta(hours=1)
FULL, INCREMENTAL = "full", "incremental"


def deadlines(con, catalog: Catalog, now: datetime | None = None) -> dict[str, pl.DataFrame]:
    """Who is late as of `now`: the deadline marts refreshed (refresh_deadlines' result)."""
    with published_after(con, catalog), recorded_run(con, "deadlines"):
        return refresh_deadlines(con, catalog, now)


def kpis(
    con,
    catalog: Catalog,
    now: datetime | None = None,
    period: str | None = None,
    kpi_ids: list[str] | None = None,
    full: bool | None = None,
) -> KpiRun:
    """The deadline marts refreshed, then the KPIs (all, or `kpi_ids` and those they build on) computed.

    Every KPI for its recent periods: incrementally (only the values what the loads since recorded made out of
    date: pipelines/kpi/pending.py) unless `full`, or — `full` None — unless `now` is given or no full
    computation succeeded within FULL_EVERY (ops.runs: a kpis run whose detail is 'full'). Its run's detail says
    which it was."""
    with published_after(con, catalog):
        with recorded_run(con, "deadlines"):
            refresh_deadlines(con, catalog, now)
        with recorded_run(con, "kpis") as recorded:
            whole = period is None and not kpi_ids
            if full is None:  # an instant given (a replay, a test) may be any distance from the values stored
                full = not whole or now is not None or not _full_since(con, datetime.now(UTC) - FULL_EVERY)
            run = compute_kpis(con, catalog, now, period, kpi_ids, incremental=whole and not full)
            if whole:
                recorded.detail = INCREMENTAL if run.incremental else FULL
            return run


def _full_since(con, moment: datetime) -> bool:
    """Whether a full computation of every KPI succeeded since `moment`."""
    found = con.execute(
        "SELECT count(*) FROM ops.runs WHERE pipeline = 'kpis' AND success AND detail = ? AND finished_at >= ?",
        [FULL, moment],
    ).fetchall()
    return bool(found[0][0])


def compact(con, keep_days: int | None = None) -> dict[str, int]:
    """The warehouse's small files merged and its history older than `keep_days` (default $IOC_HISTORY_DAYS, else
    HISTORY_DAYS) let go; the DAG ioc_maintenance runs it each night."""
    days = keep_days if keep_days is not None else int(os.environ.get("IOC_HISTORY_DAYS") or HISTORY_DAYS)
    with recorded_run(con, "compact"):
        return compact_warehouse(con, days)
