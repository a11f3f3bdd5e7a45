"""The KPI DAG: recomputes the KPIs whenever a feed they read has new data (Airflow assets), or the
deadline DAG has re-evaluated lateness — incrementally, and in full once an hour (pipelines.jobs.kpis). Wiring
only: the work is in pipelines.kpi."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, AssetAny, task

from pipelines.declarations.loading import catalog
from pipelines.scheduler.assets import KPI_VALUES, REPORT_STATUS, TASK_STATUS, clean_asset
from pipelines.scheduler.environment import WRITER_POOL

_catalog = catalog()
_feeds = sorted({feed for kpi in _catalog.kpis.values() for feed in kpi.sources} & set(_catalog.feeds))

with DAG(
    dag_id="ioc_kpis",
    description="Chỉ số KPI / KPIs of the operations centre",
    schedule=AssetAny(*[clean_asset(f) for f in _feeds], REPORT_STATUS, TASK_STATUS),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["kpi"],
    default_args={
        "owner": "IOC",
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "execution_timeout": timedelta(minutes=20),
    },
    doc_md="Refreshes the deadline marts, then writes marts.kpi_values and marts.kpi_history "
    "from the declarations in `schemas/kpis/`: only the values the loads since made out of date "
    "(ops.kpi_pending), or every value when no full computation ran within the hour (docs/kpis.md).",
):

    @task(task_id="compute", pool=WRITER_POOL, outlets=[KPI_VALUES])
    def compute() -> dict:
        from pipelines import jobs
        from pipelines.warehouse import connect

        with connect() as con:
            run = jobs.kpis(con, catalog())
        red = run.values.filter(run.values["status"] == "red") if not run.values.is_empty() else run.values
        return {"rows": run.values.height, "red": red.height, "skipped": run.skipped}

    compute()
