"""Recompute the deadline marts as of now: marts.report_status, marts.reporting_rates,
marts.task_status, marts.task_rates. Run on a schedule, so lateness grows even when no data arrives."""

from __future__ import annotations

from datetime import datetime, timezone

import polars as pl

from pipelines.declarations.loading import Catalog
from pipelines.deadlines.report_status import report_status, reporting_rates
from pipelines.deadlines.task_status import task_rates, task_status, today_in
from pipelines.load.warehouse import has_clean_table

MARTS = ("report_status", "reporting_rates", "task_status", "task_rates")


def refresh_deadlines(con, catalog: Catalog, now: datetime | None = None) -> dict[str, pl.DataFrame]:
    """Compute and store the four marts in one transaction (recorded in ops.runs, metrics published)."""
    from pipelines.metrics.runs import recorded_run

    with recorded_run(con, catalog, "deadlines"):
        return _refresh(con, catalog, now or datetime.now(timezone.utc))


def _refresh(con, catalog: Catalog, now: datetime) -> dict[str, pl.DataFrame]:
    reports = [report_status(con, f, catalog.org_units, now) for f in catalog.feeds.values() if f.reporting]
    tasks = [task_status(con, f, today_in(now)) for f in catalog.feeds.values()
             if f.tasks and has_clean_table(con, f.id)]
    status = pl.concat(reports) if reports else None
    task_frame = pl.concat(tasks, how="diagonal") if tasks else None
    marts = {
        "report_status": status, "reporting_rates": reporting_rates(status) if status is not None else None,
        "task_status": task_frame, "task_rates": task_rates(task_frame) if task_frame is not None else None,
    }
    computed_at = pl.lit(now.astimezone(timezone.utc)).cast(pl.Datetime("us", "UTC")).alias("computed_at")
    con.execute("BEGIN")
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS marts")
        for name, frame in marts.items():
            if frame is None:
                continue
            con.register("_mart", frame.with_columns(computed_at))
            con.execute(f"CREATE OR REPLACE TABLE marts.{name} AS SELECT * FROM _mart")
            con.unregister("_mart")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return {k: v for k, v in marts.items() if v is not None}
