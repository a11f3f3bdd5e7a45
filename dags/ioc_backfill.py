"""A large pull split across workers: re-read a window of an incremental feed in `parts` equal windows,
one mapped task each, so that on DuckLake (the writer pool has more than one slot) several workers pull,
validate and stage their parts side by side, and each merges its own batches. Triggered by hand:

    airflow dags trigger backfill_split --conf '{"feed": "tthc_dossiers", "start": "2026-08-01",
                                                   "end": "2026-11-30", "parts": 4}'

Wiring only: the work is in pipelines.ingest.backfill_part (`ioc backfill --part K/N` runs the same).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param, get_current_context, task

from pipelines.declarations.loading import catalog
from pipelines.scheduler.environment import WRITER_POOL

_incremental = sorted(f.id for f in catalog().feeds.values() if getattr(f.source, "incremental", None))

with DAG(
    dag_id="backfill_split",
    description="Đọc lại một khoảng thời gian, chia phần cho nhiều worker / Backfill a window, split across workers",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["feed", "backfill"],
    params={
        "feed": Param(_incremental[0], enum=_incremental, description="An incremental feed."),
        "start": Param("2026-11-01", type="string", description="Start of the window (ISO date or instant)."),
        "end": Param("2026-11-30", type="string", description="End of the window, inclusive (a date: its whole day)."),
        "parts": Param(2, type="integer", minimum=1, maximum=64, description="Parts, run side by side."),
    },
    default_args={
        "owner": "IOC",
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "execution_timeout": timedelta(hours=2),
    },
    doc_md=__doc__,
):

    @task(task_id="parts")
    def parts() -> list[int]:
        return list(range(1, int(get_current_context()["params"]["parts"]) + 1))

    @task(task_id="backfill_part", pool=WRITER_POOL)
    def backfill_part(part: int) -> dict:
        from pipelines.extract.pull import whole_days
        from pipelines.ingest import backfill_part, raise_for_source_failures

        params = get_current_context()["params"]
        feed = catalog().feed(params["feed"])
        window = whole_days(params["start"], params["end"], feed.timezone)
        summaries = backfill_part(feed.id, window, part, int(params["parts"]))
        raise_for_source_failures(summaries)
        return {s.batch_id: s.status for s in summaries}

    backfill_part.expand(part=parts())
