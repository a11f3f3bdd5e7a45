"""The deadline DAG: re-evaluates expected vs received reports and directive tasks every hour, so
lateness grows and reminders fall due even when no data arrives. Wiring only."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, task

from pipelines.scheduler.assets import REPORT_STATUS, TASK_STATUS
from pipelines.scheduler.environment import WRITER_POOL

with DAG(
    dag_id="ioc_deadlines",
    description="Báo cáo và nhiệm vụ trễ hạn / late reports and overdue tasks",
    schedule="15 * * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["deadlines"],
    default_args={"owner": "IOC", "retries": 2, "retry_delay": timedelta(minutes=1)},
    doc_md="Writes marts.report_status, marts.reporting_rates, marts.task_status and marts.task_rates.",
):

    @task(task_id="refresh", pool=WRITER_POOL, outlets=[REPORT_STATUS, TASK_STATUS])
    def refresh() -> dict:
        from pipelines import jobs
        from pipelines.declarations.loading import catalog
        from pipelines.warehouse import connect

        with connect() as con:
            marts = jobs.deadlines(con, catalog())
        return {name: frame.height for name, frame in marts.items()}  # task_status: see marts.task_status

    refresh()
