"""Each run of a warehouse-writing stage (load, deadlines, KPIs) is recorded in ops.runs, and the
snapshots (metrics state, wall) are published right after, under the same lock — so a scrape or the
wall sees the new state as soon as it is committed, and pipeline durations are metrics."""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from datetime import UTC, datetime

log = logging.getLogger(__name__)


@contextmanager
def recorded_run(con, catalog, pipeline: str, feed: str | None = None, publish_after: bool = True):
    """Time the block; record it in ops.runs (success or not) and publish the snapshots — after a
    success without publish_after, the caller runs another recorded stage right away, which publishes."""
    from pipelines.published import publish

    started, t0 = datetime.now(UTC), time.perf_counter()
    success, detail = False, None
    try:
        yield
        success = True
    except Exception as exc:
        detail = f"{type(exc).__name__}: {exc}"[:2000]
        raise
    finally:
        try:
            con.execute(
                "INSERT INTO ops.runs VALUES (?, ?, ?, ?, ?, ?, ?)",
                [pipeline, feed, started, datetime.now(UTC), time.perf_counter() - t0, success, detail],
            )
            if publish_after or not success:
                publish(con, catalog)
        except Exception:  # a failed recording must not hide the run's own outcome
            log.exception("could not record the %s run or publish the snapshots", pipeline)
