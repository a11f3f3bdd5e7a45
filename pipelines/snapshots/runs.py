"""Each run of a warehouse-writing stage (load, deadlines, KPIs) is recorded in ops.runs by the orchestrator
that runs it (ingest, a DAG task, the command line), success or not: pipeline durations and failures are
metrics. The stage itself knows nothing of it."""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

log = logging.getLogger(__name__)


@dataclass
class Run:
    """What the block may say of its run: ops.runs.detail when it succeeds (a failure's is its error)."""

    detail: str | None = None


@contextmanager
def recorded_run(con, pipeline: str, feed: str | None = None):
    """Time the block and record it in ops.runs, whether it succeeds or raises; yields a Run whose detail the
    block may set."""
    started, t0 = datetime.now(UTC), time.perf_counter()
    success, detail = False, None
    run = Run()
    try:
        yield run
        success, detail = True, run.detail
    except Exception as exc:
        detail = f"{type(exc).__name__}: {exc}"[:2000]
        raise
    finally:
        try:
            con.execute(
                "INSERT INTO ops.runs (pipeline, feed, started_at, finished_at, seconds, success, detail) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [pipeline, feed, started, datetime.now(UTC), time.perf_counter() - t0, success, detail],
            )
        except Exception:  # a failed recording must not hide the run's own outcome
            log.exception("could not record the %s run", pipeline)
