"""Transactions that commit, on either backend.

DuckLake lets several writers commit side by side. A commit that conflicts with one another writer made
first (both changed rows of one table, or replaced one view) is rolled back by DuckLake; it is then run
again here, from its first statement, on the warehouse as it now is. On the DuckDB file one writer holds
the file, so a commit never conflicts.

A transaction that fails is rolled back and its error raised — the error itself, also when the ROLLBACK fails
too (on DuckLake, a lost catalog connection fails both). A lost connection to the lake's catalog is raised as
CatalogLost, one line: the catalog, what was being done, and that nothing was committed.
"""

from __future__ import annotations

import logging
import random
import time

from pipelines.warehouse.catalog import catalog_lost

log = logging.getLogger(__name__)

CONFLICT = "Failed to commit DuckLake transaction"
ATTEMPTS = 8


def committed(con, work, attempts: int = ATTEMPTS, doing: str = "writing to the warehouse"):
    """Run work() in a transaction and commit it (again, up to `attempts` times, after a conflict); return
    what work() returned. work() must be safe to run again: a failed commit leaves nothing behind. `doing` says
    what the transaction does, for the error if the lake's catalog is lost meanwhile."""
    import duckdb  # lazy: DuckDB only when a connection opens: the warehouse package imports light (the validation service's forked workers, service._warm)

    for attempt in range(1, attempts + 1):
        con.execute("BEGIN TRANSACTION")
        try:
            result = work()
        except BaseException as exc:
            rolled_back(con, exc)
            if (lost := catalog_lost(exc, doing)) is not None and lost is not exc:
                raise lost from exc
            raise
        try:
            con.execute("COMMIT")
            return result
        except duckdb.Error as exc:
            if isinstance(exc, duckdb.TransactionException) and CONFLICT in str(exc) and attempt < attempts:
                pause = random.uniform(0.05, 0.25) * attempt
                log.info(
                    "commit conflicted with another writer's (attempt %d of %d): again in %.2f s",
                    attempt,
                    attempts,
                    pause,
                )
                time.sleep(pause)
                continue
            if (lost := catalog_lost(exc, f"{doing}: committing")) is not None:
                raise lost from exc
            raise
    raise AssertionError("unreachable")


def rolled_back(con, cause: BaseException) -> None:
    """Roll the open transaction back after `cause`. If the ROLLBACK fails too (the connection it needs is gone), the
    cause stays the error raised: the ROLLBACK's failure is noted on it and logged, never put in its place."""
    import duckdb  # lazy: DuckDB only when a connection opens: the warehouse package imports light (the validation service's forked workers, service._warm)

    try:
        con.execute("ROLLBACK")
    except duckdb.Error as failed:
        said = str(failed).strip().splitlines()[0] if str(failed).strip() else type(failed).__name__
        cause.add_note(f"(its ROLLBACK failed too: {said})")
        log.info("ROLLBACK failed after %s: %s", type(cause).__name__, said)
