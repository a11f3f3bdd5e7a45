"""Records the source withdrew: kept in clean.<feed>, marked with _withdrawn_at (and _last_seen_at, when
the source last had them), never silently current, and logged in ops.withdrawals.

A feed learns it as it declares (withdrawals:): a status value (the row says so when it loads); a
snapshot: a pull that reads the whole source lands its keys batch by batch (ops.snapshot_keys), and when
its last batch loads, every current row of the feed whose key it did not bring is withdrawn, in that
batch's transaction (and the key scan is recorded as a reconciliation); or tombstones: the deleted
records the source lists, read after each pull and applied with the pull's last batch. A withdrawn record
that comes back is published again, current.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from pipelines.declarations.models import Feed
from pipelines.extract.landing import LandedBatch
from pipelines.load.reconcile import warehouse_count
from pipelines.warehouse import literal, quote
from pipelines.warehouse.tables import clean_table, ensure_clean_table, record_key_sql


def withdrawn_at_sql(feed: Feed, received_at: str) -> str:
    """SQL of a loading row's _withdrawn_at: its receipt when its status says it is withdrawn, else null."""
    w = feed.withdrawals
    if w is None or w.kind != "status":
        return "NULL::TIMESTAMPTZ"
    values = ", ".join(literal(v) for v in w.values)
    return f"CASE WHEN CAST({quote(w.column)} AS VARCHAR) IN ({values}) THEN {received_at} END"


def record_snapshot_keys(con, feed: Feed, batch: LandedBatch, staged: str) -> None:
    """The keys a snapshot's batch brought (every row received, valid or not)."""
    con.execute(
        f"INSERT INTO ops.snapshot_keys (feed, snapshot, record_key) SELECT ?, ?, {record_key_sql(feed)} FROM {staged}",
        [feed.id, batch.snapshot],
    )


def apply_snapshot(con, feed: Feed, batch: LandedBatch, at: datetime) -> int:
    """The snapshot ended with this batch: rows it listed were seen at `at`; current rows it did not list are
    withdrawn. Returns how many were withdrawn."""
    ensure_clean_table(con, feed)
    table, key = clean_table(feed), record_key_sql(feed)
    listed = "(SELECT record_key FROM ops.snapshot_keys WHERE feed = ? AND snapshot = ?)"
    con.execute(
        f"UPDATE {table} SET _last_seen_at = ? WHERE (_last_seen_at IS NULL OR _last_seen_at < ?) "
        f"AND {key} IN {listed}",
        [at, at, feed.id, batch.snapshot],
    )
    gone = f"_withdrawn_at IS NULL AND {key} NOT IN {listed}"
    withdrawn = con.execute(
        f"UPDATE {table} SET _withdrawn_at = ? WHERE {gone}", [at, feed.id, batch.snapshot]
    ).fetchall()[0][0]
    con.execute(
        f"INSERT INTO ops.withdrawals (feed, record_key, withdrawn_at, last_seen_at, learned_by, batch_id) "
        f"SELECT ?, {key}, ?, _last_seen_at, 'snapshot', ? FROM {table} "
        f"WHERE _withdrawn_at = ? AND {key} NOT IN {listed}",
        [feed.id, at, batch.batch_id, at, feed.id, batch.snapshot],
    )
    listed_count = con.execute(
        "SELECT count(DISTINCT record_key) FROM ops.snapshot_keys WHERE feed = ? AND snapshot = ?",
        [feed.id, batch.snapshot],
    ).fetchall()[0][0]
    held = warehouse_count(con, feed)
    con.execute(
        "INSERT INTO ops.reconciliations (feed, batch_id, checked_at, method, source_count, warehouse_count, "
        "difference) VALUES (?, ?, ?, 'key_scan', ?, ?, ?)",
        [feed.id, batch.batch_id, at, listed_count, held, listed_count - held],
    )
    con.execute("DELETE FROM ops.snapshot_keys WHERE feed = ? AND snapshot <= ?", [feed.id, batch.snapshot])
    return withdrawn


def apply_tombstones(con, feed: Feed, batch: LandedBatch) -> int:
    """The deleted records the source listed: current rows with those keys are withdrawn when it says."""
    ensure_clean_table(con, feed)
    table, key = clean_table(feed), record_key_sql(feed)
    # A record the list names twice (deleted, restored, deleted again) is withdrawn once, when it last says.
    listed = pl.DataFrame(batch.tombstones, schema={"record_key": pl.String, "at": pl.String}, orient="row")
    con.register("_tombstones", listed.unique(subset="record_key", keep="last", maintain_order=True))
    try:
        withdrawn = con.execute(
            f"INSERT INTO ops.withdrawals (feed, record_key, withdrawn_at, last_seen_at, learned_by, batch_id) "
            f"SELECT ?, {key}, t.at::TIMESTAMPTZ, _last_seen_at, 'tombstone', ? "
            f"FROM {table} JOIN _tombstones AS t ON t.record_key = {key} WHERE _withdrawn_at IS NULL",
            [feed.id, batch.batch_id],
        ).fetchall()[0][0]
        con.execute(
            f"UPDATE {table} AS c SET _withdrawn_at = t.at::TIMESTAMPTZ FROM _tombstones AS t "
            f"WHERE c._withdrawn_at IS NULL AND t.record_key = {record_key_sql(feed, 'c')}"
        )
    finally:
        con.unregister("_tombstones")
    return withdrawn
