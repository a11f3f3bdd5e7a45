"""The maintenance DAG: each night, the warehouse's small files merged (every load of a report commits files of its
own on DuckLake) and its history older than $IOC_HISTORY_DAYS let go (pipelines.jobs.compact). Wiring only."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, task
from airflow.timetables.trigger import CronTriggerTimetable

from pipelines.scheduler.environment import WRITER_POOL

with DAG(
    dag_id="ioc_maintenance",
    description="Gộp tệp nhỏ của kho dữ liệu / the warehouse's small files merged",
    schedule=CronTriggerTimetable("30 2 * * *", timezone="Asia/Ho_Chi_Minh"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["maintenance"],
    default_args={"owner": "IOC", "retries": 2, "retry_delay": timedelta(minutes=5)},
    doc_md="Runs `ioc warehouse compact`: DuckLake's merge_adjacent_files, expire_snapshots and cleanup_old_files.",
):

    @task(task_id="compact", pool=WRITER_POOL)
    def compact() -> dict:
        from pipelines import jobs
        from pipelines.warehouse import connect

        with connect() as con:
            return jobs.compact(con)

    compact()
