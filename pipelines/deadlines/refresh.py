"""Recompute the deadline marts as of now: marts.report_status, marts.reporting_rates,
marts.task_status, marts.task_rates. Run on a schedule, so lateness grows even when no data arrives,
and after every load of a reporting or task feed, so who is late follows the data at once: then only that
feed's rows of the marts are computed again (the others' are as the last refresh left them).

A task's state depends only on its row and on today's date: marts.task_status is a view over the tasks'
clean tables that computes it where they are (working days through marts.working_days, a table of the
calendar), for the day of the last refresh. A load therefore writes nothing for it: its tasks show in
the view at once (copying 10M tasks into a table cost 13 s; computing every state where it is read,
0.6 s). Each refresh replaces the view (a new day) and the per-unit rates in one transaction.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl

from pipelines.calendar.periods import any_period
from pipelines.deadlines.report_status import report_status, reporting_rates
from pipelines.deadlines.task_status import (
    TASK_RATES_SQL,
    register_task_calendar,
    task_status_view_sql,
    today_in,
)
from pipelines.declarations.loading import Catalog
from pipelines.declarations.models import Feed
from pipelines.warehouse import columns_of, committed, has_clean_table, is_view, literal, table_exists
from pipelines.warehouse.pending import ROWS, record_all, record_spans


def refresh_deadlines(
    con, catalog: Catalog, now: datetime | None = None, feed: Feed | None = None
) -> dict[str, pl.DataFrame]:
    """Compute and store the marts (its orchestrator records the run and publishes the snapshots:
    pipelines.snapshots); with `feed` (after its load), only that feed's part of them. Returns report_status,
    reporting_rates and task_rates, whole or that feed's (task_status is a view: it has a row per task)."""
    return _refresh(con, catalog, now or datetime.now(UTC), feed)


def _refresh(con, catalog: Catalog, now: datetime, only: Feed | None) -> dict[str, pl.DataFrame]:
    today = today_in(now)
    computed_at = now.astimezone(UTC)
    if only is not None and not table_exists(con, "marts", "report_status"):
        only = None  # the marts' first time: every feed's part of them, the expected reports not yet sent too
    feeds = [only] if only is not None else list(catalog.feeds.values())
    reports = [report_status(con, f, catalog.org_units, now) for f in feeds if f.reporting]
    status = pl.concat(reports) if reports else None
    task_feeds = (
        [f for f in catalog.feeds.values() if f.tasks and has_clean_table(con, f.id)]
        if only is None or only.tasks
        else []
    )
    marts = {"report_status": status, "reporting_rates": reporting_rates(status) if status is not None else None}
    stamp = _stamp(computed_at)

    def write() -> None:  # run again if its commit conflicts with another writer's (DuckLake)
        con.execute("CREATE SCHEMA IF NOT EXISTS marts")
        for name, frame in marts.items():
            if frame is None:
                continue
            con.register("_mart", frame.with_columns(stamp))
            partial = only is not None and columns_of(con, "marts", name) == con.sql("SELECT * FROM _mart").columns
            if {"unit_code", "period"} <= set(frame.columns):  # the KPIs read it: what changed is pending
                record_changes(con, f"marts.{name}", frame, datetime.now(UTC), only.id if partial and only else None)
            if partial and only is not None:
                con.execute(f"DELETE FROM marts.{name} WHERE feed = ?", [only.id])
                con.execute(f"INSERT INTO marts.{name} BY NAME SELECT * FROM _mart")
            else:  # the whole mart (or its first time, or its columns changed)
                con.execute(f"CREATE OR REPLACE TABLE marts.{name} AS SELECT * FROM _mart")
            con.unregister("_mart")
        if task_feeds:
            register_task_calendar(con, task_feeds, today)
            if table_exists(con, "marts", "task_status") and not is_view(con, "marts", "task_status"):
                # written as a table before it became a view
                con.execute("DROP TABLE marts.task_status")
            con.execute(
                f"CREATE OR REPLACE VIEW marts.task_status AS {task_status_view_sql(task_feeds, today, computed_at)}"
            )
            con.execute(f"CREATE OR REPLACE TABLE marts.task_rates AS {TASK_RATES_SQL}", [computed_at])

    committed(con, write, doing="refreshing the deadline marts")
    if task_feeds:
        marts["task_rates"] = con.sql("SELECT * FROM marts.task_rates").pl()
    return {k: v for k, v in marts.items() if v is not None}


def record_changes(con, mart: str, frame: pl.DataFrame, at: datetime, feed: str | None = None) -> None:
    """Record in ops.kpi_pending the (unit, period) rows of a mart that its rebuild (registered as _mart) adds,
    removes or changes (computed_at aside): the KPIs reading it recompute those periods (warehouse/pending.py).
    With `feed`, _mart holds that feed's rows only, compared with the mart's rows of that feed. A mart made for
    the first time, or whose columns changed, is recorded whole."""
    schema, _, table = mart.partition(".")
    before = {r[0] for r in con.execute(f"DESCRIBE {mart}").fetchall()} if table_exists(con, schema, table) else set()
    columns = [c for c in frame.columns if c != "computed_at"]
    if before != {*columns, "computed_at"}:
        record_all(con, mart, None, ROWS, at)
        return
    names = ", ".join(f'"{c}"' for c in columns)
    where = f" WHERE feed = {literal(feed)}" if feed is not None else ""
    changed = con.execute(f"""
        SELECT DISTINCT CAST(unit_code AS VARCHAR), CAST(period AS VARCHAR) FROM (
            (SELECT {names} FROM {mart}{where} EXCEPT ALL SELECT {names} FROM _mart)
            UNION ALL (SELECT {names} FROM _mart EXCEPT ALL SELECT {names} FROM {mart}{where}))""").fetchall()
    spans: list[tuple[str, date | None, date | None]] = []
    for unit, key in changed:
        try:
            period = any_period(key)
        except (TypeError, ValueError):  # no period key: any day
            spans.append((unit, None, None))
            continue
        spans.append((unit, period.start, period.end))
    record_spans(
        con,
        mart,
        None,
        pl.DataFrame(spans, schema={"unit_code": pl.String, "first_day": pl.Date, "last_day": pl.Date}, orient="row"),
        at,
    )


def _stamp(computed_at: datetime) -> pl.Expr:
    return pl.lit(computed_at).cast(pl.Datetime("us", "UTC")).alias("computed_at")
