"""Directive tasks against their due dates: overdue (calendar and working days), due soon (the
feed's declared horizon), done on time or late — per task, per assignee unit and overall. A task done
late stays visible as done late."""

from __future__ import annotations

from datetime import date, datetime

from pipelines.calendar.deadlines import TIMEZONE
from pipelines.calendar.workdays import register_working_days, working_days_after_sql
from pipelines.declarations.models import Feed
from pipelines.warehouse import columns_of, literal, quote


def task_rows_sql(feed: Feed) -> str:
    """SELECT of the columns task_status reads, with each row's lineage, from the tasks of clean.<feed> the
    source still lists (a task withdrawn from the export is no longer owed)."""
    t = feed.tasks
    assert t is not None  # a task feed: refresh passes only the feeds that declare their tasks
    key = feed.load.key[0]
    title = t.title_column or ("title" if feed.column("title") else key)
    optional = {"source_document": t.source_column, "assigned_by": t.assigned_by_column}
    described = "".join(
        f", CAST({quote(c)} AS VARCHAR) AS {alias}" if c else f", CAST(NULL AS VARCHAR) AS {alias}"
        for alias, c in optional.items()
    )
    return (
        f"SELECT {quote(key)} AS task_id, {quote(t.unit_column)} AS unit_code, {quote(title)} AS title, "
        f"CAST({quote(t.due_column)} AS DATE) AS due_on, CAST({quote(t.done_column)} AS DATE) AS done_on, "
        f"{quote(t.status_column)} AS status{described}, "
        f"_batch_id, _source_uri, _source_row, _received_at FROM clean.{quote(feed.id)} WHERE _withdrawn_at IS NULL"
    )


def task_status_sql(feed: Feed, today: date) -> str:
    """SELECT of one row per task of clean.<feed> with its state and how late it is (or was), computed where
    the tasks are (no row comes to Python). Working days are counted over workdays.TABLE, which
    register_task_calendar writes."""
    t = feed.tasks
    assert t is not None  # a task feed: refresh passes only the feeds that declare their tasks

    def among(values) -> str:
        return f"status IN ({', '.join(literal(v) for v in values)})" if values else "FALSE"

    day = f"DATE {literal(today.isoformat())}"
    joins, working = working_days_after_sql("l.due_on", "l._late_until")
    return f"""
        WITH t AS ({task_rows_sql(feed)}),
        s AS (SELECT *, CASE WHEN {among(t.cancelled_statuses)} THEN 'cancelled'
                             WHEN {among(t.done_statuses)} AND coalesce(done_on, due_on) <= due_on THEN 'done_on_time'
                             WHEN {among(t.done_statuses)} THEN 'done_late'
                             WHEN due_on < {day} THEN 'overdue'
                             WHEN due_on <= {day} + {int(t.due_soon_days)} THEN 'due_soon'
                             ELSE 'open' END AS state FROM t),
        l AS (SELECT *, CASE state WHEN 'overdue' THEN {day} WHEN 'done_late' THEN done_on END AS _late_until FROM s)
        SELECT l.* EXCLUDE (_late_until), date_diff('day', l.due_on, l._late_until) AS days_late,
               CASE WHEN l.state IN ('due_soon', 'open') THEN date_diff('day', {day}, l.due_on) END AS days_until_due,
               {working} AS working_days_late, {literal(feed.id)} AS feed
        FROM l {joins}"""


def task_status_view_sql(feeds: list[Feed], today: date, computed_at: datetime) -> str:
    """The SELECT of the view marts.task_status: every task of the feeds as of today."""
    stamp = f"{literal(computed_at.isoformat())}::TIMESTAMPTZ AS computed_at"
    return " UNION ALL BY NAME ".join(f"SELECT *, {stamp} FROM ({task_status_sql(feed, today)})" for feed in feeds)


def register_task_calendar(con, feeds: list[Feed], today: date) -> None:
    """The working-day table task_status_sql reads, covering the feeds' dates and today. A load that brings
    dates beyond it is followed by a refresh, which writes it again."""
    first, last = con.execute(
        f"SELECT least(min(due_on), min(done_on)), greatest(max(due_on), max(done_on)) "
        f"FROM ({' UNION ALL '.join(task_rows_sql(feed) for feed in feeds)})"
    ).fetchall()[0]
    register_working_days(con, first, max(last or today, today))


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


def described_columns(con) -> str:
    """SELECT list of the words a task carries besides its title (the assigning document, who assigned it),
    NULL where marts.task_status has no such column (a view written before it had them)."""
    columns = set(columns_of(con, "marts", "task_status"))
    return ", ".join(c if c in columns else f"NULL AS {c}" for c in ("source_document", "assigned_by"))
