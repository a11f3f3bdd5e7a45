"""The data the DAGs produce, as Airflow assets: feed DAGs update clean.<feed>, the deadline DAG the
deadline marts, the KPI DAG marts.kpi_values. The KPI DAG is scheduled on the others. (The pool every
warehouse writer shares, WRITER_POOL, is in pipelines.airflow_env, which creates it.)"""

from __future__ import annotations

from airflow.sdk import Asset


def clean_asset(feed_id: str) -> Asset:
    return Asset(name=f"clean.{feed_id}", uri=f"ioc://warehouse/clean/{feed_id}")


REPORT_STATUS = Asset(name="marts.report_status", uri="ioc://warehouse/marts/report_status")
TASK_STATUS = Asset(name="marts.task_status", uri="ioc://warehouse/marts/task_status")
KPI_VALUES = Asset(name="marts.kpi_values", uri="ioc://warehouse/marts/kpi_values")
