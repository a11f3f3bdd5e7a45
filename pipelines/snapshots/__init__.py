"""Snapshots of the warehouse published as files, for the readers that must never wait for its writer.

DuckDB lets one process open the warehouse at a time, and a load can hold it for minutes, while Prometheus
scrapes and the wall screen must keep answering. So whoever runs a writing stage (ingest, a DAG task, the
command line: the orchestrators, never the stages themselves) publishes, once its stages are done and under
the same warehouse connection, the metrics state (`metrics/state.json`, metrics.py) and the wall's data
(`serve/wall.json`, wall.py), each replaced atomically (files.py). `ioc serve` reads them only; its refresher
(refresh.py) republishes them when they grow old between runs, so that time-based values stay current.

    with connect() as con, published_after(con, catalog):
        with recorded_run(con, "kpis"):
            compute_kpis(con, catalog)
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

from pipelines.declarations.loading import Catalog
from pipelines.snapshots.files import read_state, read_wall, state_file, wall_file, write_json_atomically
from pipelines.snapshots.metrics import collect_state
from pipelines.snapshots.runs import recorded_run
from pipelines.snapshots.wall import collect_wall

log = logging.getLogger(__name__)

__all__ = [
    "publish",
    "published_after",
    "read_state",
    "read_wall",
    "recorded_run",
    "state_file",
    "wall_file",
]


def publish(con, catalog: Catalog) -> None:
    """Publish every snapshot from the open warehouse connection."""
    write_json_atomically(state_file(), collect_state(con, catalog))
    write_json_atomically(wall_file(), collect_wall(con, catalog))


@contextmanager
def published_after(con, catalog: Catalog):
    """Run the block, then publish the snapshots, whether the block succeeded or not (a failed run is news
    too: its batch, its error and the feed's freshness show on the wall and in the metrics)."""
    try:
        yield
    finally:
        try:
            publish(con, catalog)
        except Exception:  # a failed publication must not hide the run's own outcome
            log.exception("could not publish the snapshots")
