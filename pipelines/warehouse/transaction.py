"""Transactions that commit, on either backend.

DuckLake lets several writers commit side by side. A commit that conflicts with one another writer made
first (both changed rows of one table, or replaced one view) is rolled back by DuckLake; it is then run
again here, from its first statement, on the warehouse as it now is. On the DuckDB file one writer holds
the file, so a commit never conflicts.
"""

from __future__ import annotations

import logging
import random
import time

log = logging.getLogger(__name__)

CONFLICT = "Failed to commit DuckLake transaction"
ATTEMPTS = 8


def committed(con, work, attempts: int = ATTEMPTS):
    """Run work() in a transaction and commit it (again, up to `attempts` times, after a conflict); return
    what work() returned. work() must be safe to run again: a failed commit leaves nothing behind."""
    import duckdb  # lazy: DuckDB only when a connection opens: the warehouse package imports light (the validation service's forked workers, service._warm)

    for attempt in range(1, attempts + 1):
        con.execute("BEGIN TRANSACTION")
        try:
            result = work()
        except BaseException:
            con.execute("ROLLBACK")
            raise
        try:
            con.execute("COMMIT")
            return result
        except duckdb.TransactionException as exc:
            if CONFLICT not in str(exc) or attempt == attempts:
                raise
            pause = random.uniform(0.05, 0.25) * attempt
            log.info(
                "commit conflicted with another writer's (attempt %d of %d): again in %.2f s", attempt, attempts, pause
            )
            time.sleep(pause)
    raise AssertionError("unreachable")
