"""One DAG per feed declared under schemas/feeds/: extract (no lock) >> load (one warehouse writer).

Wiring only: the work is in pipelines.ingest, imported inside the tasks so that parsing this file
reads the YAML declarations and nothing heavier.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, get_current_context, task

from pipelines.assets import WRITER_POOL, clean_asset
from pipelines.declarations.loading import catalog


def build_dag(feed) -> DAG:
    with DAG(
        dag_id=f"feed_{feed.id}",
        description=f"{feed.name.vi} / {feed.name.en}",
        schedule=feed.schedule,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        tags=["feed", feed.source.kind, *feed.tags],
        default_args={"owner": feed.owner, "retries": 2, "retry_delay": timedelta(minutes=1)},
        doc_md=f"Feed `{feed.id}` (owner {feed.owner}); declared in `schemas/feeds/{feed.id}.yaml`.",
    ) as dag:

        @task(task_id="extract")
        def extract(feed_id: str = feed.id) -> int:
            from pipelines.ingest import extract_feed

            ti = get_current_context()["ti"]
            final_try = ti.try_number > ti.max_tries
            return len(extract_feed(feed_id, record_failure=final_try))

        @task(task_id="load", pool=WRITER_POOL, trigger_rule="all_done", outlets=[clean_asset(feed.id)])
        def load(feed_id: str = feed.id) -> dict:
            from pipelines.ingest import load_feed, raise_for_source_failures

            summaries = load_feed(feed_id)
            raise_for_source_failures(summaries)
            return {s.batch_id: s.status for s in summaries}

        extract() >> load()
    return dag


for _feed in catalog().feeds.values():
    build_dag(_feed)
