"""One DAG per feed declared under schemas/feeds/: extract (no lock) >> load (one warehouse writer); a file-drop
feed's run is one task, ingest (its files landed, then loaded, as one writer).

The schedule is the feed's cron in its local time zone; each run covers the interval since the
previous trigger, so Airflow's backfill (`airflow backfill create --dag-id feed_X --from-date …
--to-date …`) re-reads exactly those windows. Retries, retry delay, timeout and the failure
notification come from the feed's `run:` block. Wiring only: the work is in pipelines.ingest,
imported inside the tasks so that parsing this file reads the YAML declarations and nothing heavier.

A file-drop feed that watches its inbox (source.watch, the default) also runs as soon as a complete file
arrives: its DAG is scheduled on its inbox asset or its cron, whichever comes first, the cron being the
safety net. Landing a dropped file is local and quick, and a second task waited for the scheduler to
notice the first had finished (3–5 s of a report's way to the wall, measured): its one task lands and loads.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, get_current_context, task
from airflow.timetables.trigger import CronTriggerTimetable

from pipelines.declarations.base import duration_seconds
from pipelines.declarations.loading import catalog
from pipelines.scheduler.assets import clean_asset, inbox_asset
from pipelines.scheduler.callbacks import notify_failure
from pipelines.scheduler.environment import WRITER_POOL


def timetable(feed) -> CronTriggerTimetable | None:
    """The feed's cron in its time zone, each run's data interval reaching back to the previous trigger."""
    if not feed.schedule:
        return None
    from croniter import croniter

    fires = croniter(feed.schedule, datetime(2026, 1, 5))
    first, second = fires.get_next(datetime), fires.get_next(datetime)
    return CronTriggerTimetable(feed.schedule, timezone=feed.timezone, interval=second - first)


def schedule(feed):
    """The feed's cron; for a watched inbox, its inbox asset or the cron (the safety net)."""
    cron = timetable(feed)
    if not getattr(feed.source, "watch", False):
        return cron
    from airflow.timetables.assets import AssetOrTimeSchedule

    # Airflow takes the task SDK's Asset here (converted in AssetTriggeredTimetable.__init__, "so this class works
    # in dag files"), though its annotation names only the scheduler's serialized assets.
    assets = inbox_asset(feed)
    return AssetOrTimeSchedule(timetable=cron, assets=assets) if cron else [assets]  # type: ignore[arg-type]


def build_dag(feed) -> DAG:
    with DAG(
        dag_id=f"feed_{feed.id}",
        description=f"{feed.name.vi} / {feed.name.en}",
        schedule=schedule(feed),
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        tags=["feed", feed.source.kind, *feed.tags],
        default_args={
            "owner": feed.owner,
            "retries": feed.run.retries,
            "retry_delay": timedelta(seconds=duration_seconds(feed.run.retry_delay)),
            "execution_timeout": timedelta(seconds=duration_seconds(feed.run.timeout)),
            "on_failure_callback": notify_failure(feed.id, feed.run.notify_failure_env),
        },
        doc_md=f"Feed `{feed.id}` (owner {feed.owner}); declared in `schemas/feeds/{feed.id}.yaml`.",
    ) as dag:

        @task(task_id="extract")
        def extract(feed_id: str = feed.id) -> int:
            from pipelines.extract.pull import Window
            from pipelines.ingest import extract_feed

            context = get_current_context()
            ti = context["ti"]
            final_try = ti.try_number > ti.max_tries
            window = None
            incremental = getattr(catalog().feed(feed_id).source, "incremental", None)
            if context["dag_run"].run_type == "backfill" and incremental:  # re-read this run's interval
                start, end = context["data_interval_start"], context["data_interval_end"]
                assert start is not None and end is not None  # a backfill run is of its interval
                window = Window(start, end)
            return len(extract_feed(feed_id, record_failure=final_try, window=window))

        @task(task_id="load", pool=WRITER_POOL, trigger_rule="all_done", outlets=[clean_asset(feed.id)])
        def load(feed_id: str = feed.id) -> dict:
            from pipelines.ingest import load_feed, raise_for_source_failures

            summaries = load_feed(feed_id)
            raise_for_source_failures(summaries)
            return {s.batch_id: s.status for s in summaries}

        @task(task_id="ingest", pool=WRITER_POOL, outlets=[clean_asset(feed.id)])
        def ingest(feed_id: str = feed.id) -> dict:
            from pipelines.ingest import ingest_feed, raise_for_source_failures

            ti = get_current_context()["ti"]
            summaries, error = ingest_feed(feed_id, record_failure=ti.try_number > ti.max_tries)
            raise_for_source_failures(summaries)
            if error is not None:  # what landed before the inbox failed is loaded; the run fails, and is retried
                raise error
            return {s.batch_id: s.status for s in summaries}

        if feed.source.kind == "file_drop":
            ingest()
        else:
            extract() >> load()
    return dag


for _feed in catalog().feeds.values():
    build_dag(_feed)
