"""Expected vs received reports of every periodic feed — DHIS2's REPORTING_RATE and
REPORTING_RATE_ON_TIME — from the reporting calendar and the organisation units.

A unit is expected to report for a period when it is active on the period's last day: a unit that
closed or merged is not expected after its valid_to, and its successor is. A report is received when
a batch carrying that unit and period was published (a blocked or unreadable file does not count);
its time is the first such receipt. Lateness grows while a report is missing.
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from pipelines.calendar.deadlines import TIMEZONE, deadline_at, due_date
from pipelines.calendar.periods import recent_periods
from pipelines.calendar.workdays import working_days_after
from pipelines.declarations.models import Feed, OrgUnits
from pipelines.warehouse import has_clean_table, quote

STATUS_SCHEMA: dict[str, pl.DataType] = {
    "feed": pl.String(),
    "unit_code": pl.String(),
    "period_type": pl.String(),
    "period": pl.String(),
    "period_start": pl.Date(),
    "period_end": pl.Date(),
    "due_date": pl.Date(),
    "deadline_at": pl.Datetime("us", "UTC"),
    "received_at": pl.Datetime("us", "UTC"),
    "status": pl.String(),
    "on_time": pl.Boolean(),
    "lateness_working_days": pl.Int64(),
    # the lineage of the first receipt: its batch, and the file (or the source) it came in
    "_batch_id": pl.String(),
    "_source_uri": pl.String(),
}


def expected_reports(feed: Feed, units: OrgUnits, now: datetime) -> pl.DataFrame:
    """(unit, period) pairs the feed expects, with each period's due date and deadline."""
    reporting = feed.reporting
    assert reporting is not None  # a reporting feed: refresh passes only the feeds that declare their reporting
    today = now.astimezone(TIMEZONE).date()
    rows = []
    for period in recent_periods(reporting.period_type, today, reporting.history_periods):
        due, deadline = due_date(period, reporting.deadline), deadline_at(period, reporting.deadline)
        for unit in units.units:
            if reporting.expected_units.expects(unit, period.end):
                rows.append(
                    {
                        "feed": feed.id,
                        "unit_code": unit.code,
                        "period_type": period.type,
                        "period": period.key,
                        "period_start": period.start,
                        "period_end": period.end,
                        "due_date": due,
                        "deadline_at": deadline.astimezone(UTC),
                    }
                )
    return pl.DataFrame(
        rows,
        schema={
            k: STATUS_SCHEMA[k]
            for k in (
                "feed",
                "unit_code",
                "period_type",
                "period",
                "period_start",
                "period_end",
                "due_date",
                "deadline_at",
            )
        },
    )


def received_reports(con, feed: Feed) -> pl.DataFrame:
    """The first receipt of each (unit, period), with its batch and file: from published file batches named
    for them, and from the current data itself."""
    reporting = feed.reporting
    assert reporting is not None  # a reporting feed: refresh passes only the feeds that declare their reporting
    unit, period = reporting.unit_column, reporting.period_column
    sources = [
        f"""
        SELECT file_fields->>'{unit}' AS unit_code, file_fields->>'{period}' AS period, received_at,
               batch_id, source_uri
        FROM ops.batches
        WHERE feed = '{feed.id}' AND status IN ('loaded', 'partial') AND (file_fields->>'{unit}') IS NOT NULL"""
    ]
    if has_clean_table(con, feed.id):
        sources.append(f"""
            SELECT CAST({quote(unit)} AS VARCHAR), CAST({quote(period)} AS VARCHAR), min(_received_at),
                   arg_min(_batch_id, _received_at), arg_min(_source_uri, _received_at)
            FROM clean.{quote(feed.id)} GROUP BY ALL""")
    return (
        con.sql(
            f"SELECT unit_code, period, min(received_at) AS received_at, "
            f"arg_min(batch_id, received_at) AS _batch_id, arg_min(source_uri, received_at) AS _source_uri "
            f"FROM ({' UNION ALL '.join(sources)}) GROUP BY ALL"
        )
        .pl()
        .with_columns(pl.col("received_at").dt.convert_time_zone("UTC"))
    )


def report_status(con, feed: Feed, units: OrgUnits, now: datetime) -> pl.DataFrame:
    """One row per expected report: received on time, late, missing (past its deadline) or pending."""
    expected = expected_reports(feed, units, now)
    received = received_reports(con, feed)
    joined = expected.join(received, on=["unit_code", "period"], how="left")
    now_utc = now.astimezone(UTC)
    rows = []
    for row in joined.iter_rows(named=True):
        received_at, deadline = row["received_at"], row["deadline_at"]
        if received_at is not None:
            on_time = received_at < deadline
            status = "on_time" if on_time else "late"
            seen = received_at
        else:
            on_time = None if now_utc < deadline else False
            status = "pending" if now_utc < deadline else "missing"
            seen = now_utc
        lateness = (
            0 if on_time in (True, None) else working_days_after(row["due_date"], seen.astimezone(TIMEZONE).date())
        )
        rows.append({**row, "status": status, "on_time": on_time, "lateness_working_days": lateness})
    return pl.DataFrame(rows, schema=STATUS_SCHEMA)


def reporting_rates(status: pl.DataFrame) -> pl.DataFrame:
    """Per feed and unit, over the periods whose deadline has passed: reports expected, received,
    received on time, and the two rates (never above 100 %: only expected reports count)."""
    due = status.filter(pl.col("status") != "pending")
    return (
        due.group_by("feed", "unit_code")
        .agg(
            expected=pl.len(),
            received=pl.col("status").is_in(["on_time", "late"]).sum(),
            received_on_time=(pl.col("status") == "on_time").sum(),
            max_lateness_working_days=pl.col("lateness_working_days").max(),
        )
        .with_columns(
            reporting_rate=100.0 * pl.col("received") / pl.col("expected"),
            reporting_on_time_rate=100.0 * pl.col("received_on_time") / pl.col("expected"),
        )
        .sort("feed", "unit_code")
    )
