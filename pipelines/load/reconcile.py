"""Reconciliation: after a pull, what the source says it holds against what the warehouse holds for the
feed, recorded per pull in ops.reconciliations (exported as ioc_feed_reconciliation_difference, alerted
on when it stays non-zero longer than the feed's freshness, shown on the wall's data-quality panel).

The warehouse holds a record when its key is current in clean.<feed> (not withdrawn by a snapshot) or
its latest version waits in quarantine.
"""

from __future__ import annotations

from datetime import datetime

from pipelines.declarations.models import Feed
from pipelines.extract.landing import LandedBatch
from pipelines.warehouse.tables import clean_table, ensure_clean_table, record_key_sql


def warehouse_count(con, feed: Feed) -> int:
    ensure_clean_table(con, feed)
    # Rows withdrawn by a status are still listed by the source; those it deleted are not.
    current = "WHERE _withdrawn_at IS NULL" if feed.withdrawals and feed.withdrawals.kind != "status" else ""
    return con.execute(
        f"""
        SELECT count(*) FROM (
            SELECT {record_key_sql(feed)} AS record_key FROM {clean_table(feed)} {current}
            UNION SELECT record_key FROM ops.quarantine WHERE feed = ? AND status = 'open')""",
        [feed.id],
    ).fetchall()[0][0]


def reconcile(con, feed: Feed, batch: LandedBatch, at: datetime) -> int:
    """Record the comparison for the pull this batch ended; returns source − warehouse."""
    assert batch.source_count is not None  # asked for a pull whose source said its count (load_batch checks)
    held = warehouse_count(con, feed)
    difference = batch.source_count - held
    con.execute(
        "INSERT INTO ops.reconciliations (feed, batch_id, checked_at, method, source_count, warehouse_count, "
        "difference) VALUES (?, ?, ?, 'count', ?, ?, ?)",
        [feed.id, batch.batch_id, at, batch.source_count, held, difference],
    )
    return difference
