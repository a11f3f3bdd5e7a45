"""Republishing the snapshots between pipeline runs, so that time-based values (a report now late, a task
now overdue, a feed now stale) stay current when no data arrives; started beside `ioc serve` by the command
line. It never waits for a writer: a writer at work publishes when it is done."""

from __future__ import annotations

import logging
import threading
import time

from pipelines.declarations.loading import catalog
from pipelines.snapshots import publish
from pipelines.snapshots.files import state_file, wall_file
from pipelines.warehouse import WarehouseBusy, connect

log = logging.getLogger(__name__)
REFRESH_AFTER_SECONDS = 60  # the snapshots are republished when older than this


class Refresher(threading.Thread):
    """Republishes the snapshots when they are older than REFRESH_AFTER_SECONDS and the warehouse is free."""

    def __init__(self, interval: float = 15.0):
        super().__init__(name="ioc-snapshot-refresher", daemon=True)
        self.interval, self.stopping = interval, threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            refresh_if_stale()
            self.stopping.wait(self.interval)

    def stop(self) -> None:
        self.stopping.set()


def refresh_if_stale(max_age: float = REFRESH_AFTER_SECONDS) -> bool:
    """Publish the snapshots (metrics state, wall) now if one is missing or old and the warehouse lock is
    free; True if it did."""
    try:
        oldest = min(state_file().stat().st_mtime, wall_file().stat().st_mtime)
        if time.time() - oldest < max_age:
            return False
    except FileNotFoundError:
        pass
    try:
        with connect(timeout=0) as con:
            publish(con, catalog())
        return True
    except WarehouseBusy:
        return False  # a writer is at work and will publish when it is done
    except Exception:
        log.exception("could not refresh the published snapshots")
        return False
