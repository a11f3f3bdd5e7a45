"""Recompute the deadline marts as of now: marts.report_status, marts.reporting_rates,
marts.task_status, marts.task_rates. Run on a schedule, so lateness grows even when no data arrives,
and after every load of a reporting or task feed, so who is late follows the data at once.

A task's state depends only on its row and on today's date, and is computed in SQL where the tasks are
(working days through a table of the calendar). So after a load, when marts.task_status was computed
today, only the tasks of the batches just loaded are computed again: a load costs in proportion to what
it brought, not to every task the warehouse holds. Otherwise (a new day, a scheduled refresh) the mart
is rebuilt from clean data into a table of its own that then replaces it, so readers never see it half
done.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import polars as pl

from pipelines.declarations.loading import Catalog
from pipelines.declarations.models import Feed
from pipelines.deadlines.report_status import report_status, reporting_rates
from pipelines.deadlines.task_status import (
    TASK_RATES_SQL,
    register_task_calendar,
    task_rows_sql,
    task_status_sql,
    today_in,
)
from pipelines.load.warehouse import has_clean_table, literal, table_exists

MARTS = ("report_status", "reporting_rates", "task_status", "task_rates")
NEXT = "marts._task_status_next"


def refresh_deadlines(con, catalog: Catalog, now: datetime | None = None,
                      changed: dict[str, list[str]] | None = None) -> dict[str, pl.DataFrame]:
    """Compute and store the marts (recorded in ops.runs, metrics published). `changed` names, per feed,
    the batches a load just committed: only their tasks are computed again when that is enough. Returns
    report_status, reporting_rates and task_rates (task_status stays in the warehouse: it has a row per task)."""
    from pipelines.metrics.runs import recorded_run

    with recorded_run(con, catalog, "deadlines"):
        return _refresh(con, catalog, now or datetime.now(timezone.utc), changed)


def _refresh(con, catalog: Catalog, now: datetime, changed: dict[str, list[str]] | None) -> dict[str, pl.DataFrame]:
    today = today_in(now)
    computed_at = now.astimezone(timezone.utc)
    reports = [report_status(con, f, catalog.org_units, now) for f in catalog.feeds.values() if f.reporting]
    status = pl.concat(reports) if reports else None
    task_feeds = [f for f in catalog.feeds.values() if f.tasks and has_clean_table(con, f.id)]
    changes = _task_changes(con, task_feeds, today, changed)
    if changes is None:
        _rebuild_tasks(con, task_feeds, today, computed_at)
    marts = {"report_status": status, "reporting_rates": reporting_rates(status) if status is not None else None}
    stamp = _stamp(computed_at)
    con.execute("BEGIN")
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS marts")
        for name, frame in marts.items():
            if frame is not None:
                con.register("_mart", frame.with_columns(stamp))
                con.execute(f"CREATE OR REPLACE TABLE marts.{name} AS SELECT * FROM _mart")
                con.unregister("_mart")
        if changes is None and task_feeds:
            con.execute("DROP TABLE IF EXISTS marts.task_status")
            con.execute(f"ALTER TABLE {NEXT} RENAME TO task_status")
        for feed, where in changes or []:
            con.execute(f"DELETE FROM marts.task_status WHERE feed = ? AND task_id IN "
                        f"(SELECT task_id FROM ({task_rows_sql(feed)} {where}))", [feed.id])
            register_task_calendar(con, feed, today, where)
            con.execute(f"INSERT INTO marts.task_status BY NAME SELECT *, ?::TIMESTAMPTZ AS computed_at "
                        f"FROM ({task_status_sql(feed, today, where)})", [computed_at])
        if task_feeds:
            con.execute(f"CREATE OR REPLACE TABLE marts.task_rates AS {TASK_RATES_SQL}",
                        [computed_at])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    if task_feeds:
        marts["task_rates"] = con.sql("SELECT * FROM marts.task_rates").pl()
    return {k: v for k, v in marts.items() if v is not None}


def _task_changes(con, feeds: list[Feed], today: date, changed: dict[str, list[str]] | None):
    """Each task feed with tasks just loaded, with the WHERE clause that selects them; None when the mart must be
    rebuilt (no mart yet, computed on another day, a refresh not after a load, a feed whose loads replace
    partitions)."""
    if changed is None or not feeds or not table_exists(con, "marts", "task_status"):
        return None
    stamped = con.execute("SELECT max(computed_at) FROM marts.task_status").fetchall()[0][0]
    if stamped is None or today_in(stamped) != today:
        return None
    wheres = []
    for feed in feeds:
        batches = changed.get(feed.id)
        if not batches:
            continue
        if feed.load.replace:
            return None
        wheres.append((feed, f"WHERE _batch_id IN ({', '.join(literal(b) for b in batches)})"))
    return wheres


def _rebuild_tasks(con, feeds: list[Feed], today: date, computed_at: datetime) -> None:
    """Every task of every task feed, computed into NEXT (committed, then swapped in by the caller)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    con.execute(f"DROP TABLE IF EXISTS {NEXT}")
    for i, feed in enumerate(feeds):
        register_task_calendar(con, feed, today)
        tasks = f"SELECT *, ?::TIMESTAMPTZ AS computed_at FROM ({task_status_sql(feed, today)})"
        con.execute(f"INSERT INTO {NEXT} BY NAME {tasks}" if i else f"CREATE TABLE {NEXT} AS {tasks}", [computed_at])


def _stamp(computed_at: datetime) -> pl.Expr:
    return pl.lit(computed_at).cast(pl.Datetime("us", "UTC")).alias("computed_at")
