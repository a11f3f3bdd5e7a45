"""Directive tasks against their due dates: overdue (calendar and working days), due soon (the
feed's declared horizon), done on time or late — per task, per assignee unit and overall. A task done
late stays visible as done late."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl

from pipelines.calendar.deadlines import TIMEZONE
from pipelines.calendar.workdays import working_days_after_each
from pipelines.declarations.models import Feed
from pipelines.load.warehouse import quote

TASK_STATES = ("done_on_time", "done_late", "overdue", "due_soon", "open", "cancelled")


def task_rows_sql(feed: Feed) -> str:
    """SELECT of the columns task_status reads, from clean.<feed> (add a WHERE to narrow it)."""
    t = feed.tasks
    key = feed.load.key[0]
    title = t.title_column or ("title" if feed.column("title") else key)
    optional = {"source_document": t.source_column, "assigned_by": t.assigned_by_column}
    described = "".join(f", CAST({quote(c)} AS VARCHAR) AS {alias}" if c else f", CAST(NULL AS VARCHAR) AS {alias}"
                        for alias, c in optional.items())
    return (f"SELECT {quote(key)} AS task_id, {quote(t.unit_column)} AS unit_code, {quote(title)} AS title, "
            f"CAST({quote(t.due_column)} AS DATE) AS due_on, CAST({quote(t.done_column)} AS DATE) AS done_on, "
            f"{quote(t.status_column)} AS status{described} FROM clean.{quote(feed.id)}")


def task_status(tasks: pl.DataFrame, feed: Feed, today: date) -> pl.DataFrame:
    """One row per task (rows as task_rows_sql selects them) with its state and how late it is (or was)."""
    t = feed.tasks
    done = pl.col("status").is_in(t.done_statuses)
    cancelled = pl.col("status").is_in(t.cancelled_statuses)
    finished_on = pl.coalesce(pl.col("done_on"), pl.col("due_on"))
    state = (
        pl.when(cancelled).then(pl.lit("cancelled"))
        .when(done & (finished_on <= pl.col("due_on"))).then(pl.lit("done_on_time"))
        .when(done).then(pl.lit("done_late"))
        .when(pl.col("due_on") < today).then(pl.lit("overdue"))
        .when(pl.col("due_on") <= pl.lit(today) + pl.duration(days=t.due_soon_days)).then(pl.lit("due_soon"))
        .otherwise(pl.lit("open"))
    )
    tasks = tasks.with_columns(state.alias("state"))
    late_until = pl.when(pl.col("state") == "overdue").then(pl.lit(today)).when(pl.col("state") == "done_late") \
        .then(pl.col("done_on"))
    tasks = tasks.with_columns(
        days_late=(late_until - pl.col("due_on")).dt.total_days(),
        days_until_due=pl.when(pl.col("state").is_in(["due_soon", "open"]))
        .then((pl.col("due_on") - pl.lit(today)).dt.total_days()),
    )
    working = working_days_after_each(tasks["due_on"], tasks.select(late_until).to_series())
    return tasks.with_columns(working.alias("working_days_late"), pl.lit(feed.id).alias("feed"))


# Per assignee unit, and overall (unit_code '*'): tasks due, done on time, on-time rate, overdue, due soon.
# Its one parameter is computed_at.
TASK_RATES_SQL = """
    SELECT feed, CASE WHEN grouping(unit_code) = 1 THEN '*' ELSE unit_code END AS unit_code,
           count(*) FILTER (WHERE state IN ('done_on_time', 'done_late', 'overdue')) AS tasks_due,
           count(*) FILTER (WHERE state = 'done_on_time') AS done_on_time,
           count(*) FILTER (WHERE state = 'done_late') AS done_late,
           count(*) FILTER (WHERE state = 'overdue') AS overdue,
           count(*) FILTER (WHERE state = 'due_soon') AS due_soon,
           CASE WHEN tasks_due > 0 THEN 100.0 * done_on_time / tasks_due END AS on_time_rate,
           ?::TIMESTAMPTZ AS computed_at
    FROM marts.task_status GROUP BY GROUPING SETS ((feed, unit_code), (feed)) ORDER BY 1, 2"""


def today_in(now: datetime) -> date:
    """The local (Asia/Ho_Chi_Minh) day of an instant."""
    return now.astimezone(TIMEZONE).date()
