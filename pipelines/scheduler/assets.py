"""The data the DAGs produce, as Airflow assets: feed DAGs update clean.<feed>, the deadline DAG the
deadline marts, the KPI DAG marts.kpi_values. The KPI DAG is scheduled on the others. A file-drop feed's
inbox is an asset too, watched (pipelines.scheduler.inbox_watch): a complete file arriving starts the feed's
DAG. (The pool every warehouse writer shares, WRITER_POOL, is in pipelines.scheduler.environment, which creates it.)"""

from __future__ import annotations

from airflow.sdk import Asset, AssetWatcher

from pipelines.scheduler.inbox_watch import InboxTrigger
from pipelines.settings import paths


def clean_asset(feed_id: str) -> Asset:
    return Asset(name=f"clean.{feed_id}", uri=f"ioc://warehouse/clean/{feed_id}")


REPORT_STATUS = Asset(name="marts.report_status", uri="ioc://warehouse/marts/report_status")
TASK_STATUS = Asset(name="marts.task_status", uri="ioc://warehouse/marts/task_status")
KPI_VALUES = Asset(name="marts.kpi_values", uri="ioc://warehouse/marts/kpi_values")


def inbox_asset(feed) -> Asset:
    """A file-drop feed's inbox, with the watcher that updates it when complete files arrive."""

    source = feed.source
    trigger = InboxTrigger(
        feed=feed.id,
        directory=str(paths().inbox(source.inbox)),
        patterns=source.patterns,
        poke_interval=source.watch_interval_seconds,
    )
    return Asset(
        name=f"inbox.{feed.id}",
        uri=f"ioc://inbox/{feed.id}",
        watchers=[AssetWatcher(name=f"inbox_{feed.id}", trigger=trigger)],
    )
