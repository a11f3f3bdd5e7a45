"""Load one landed batch into the warehouse in a single transaction: the batch record, its raw
history, its quarantined rows and its published rows all commit together, or none of them do."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import polars as pl

from pipelines.conform.rows import conform
from pipelines.declarations.models import Feed
from pipelines.extract.landing import RAW, SOURCE_ROW, SOURCE_URI, LandedBatch, discard, read_records
from pipelines.failpoints import failpoint
from pipelines.load.publish import publish
from pipelines.load.warehouse import quote

PUBLISHED_STATUSES = ("loaded", "partial", "quarantined")


@dataclass
class BatchSummary:
    """What loading one batch did, as recorded in ops.batches."""

    batch_id: str
    feed: str
    source_uri: str
    file_name: str | None
    status: str
    rows_received: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    duplicate_of: str | None = None
    problems: list[str] = field(default_factory=list)  # the first quarantine reasons, for the CLI


def raw_table(feed: Feed) -> str:
    return f"raw.{quote(feed.id)}"


def ensure_raw_table(con, feed: Feed) -> None:
    con.execute(f"""
        CREATE TABLE IF NOT EXISTS {raw_table(feed)} (
            batch_id VARCHAR NOT NULL, feed VARCHAR NOT NULL, source_uri VARCHAR, checksum VARCHAR,
            received_at TIMESTAMPTZ, source_row BIGINT, record JSON)""")


def _record(con, summary: BatchSummary, batch: LandedBatch, loaded_at: datetime) -> None:
    con.execute(
        "INSERT INTO ops.batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [summary.batch_id, summary.feed, summary.source_uri, summary.file_name, batch.checksum,
         batch.received_at, loaded_at, summary.rows_received, summary.rows_loaded, summary.rows_quarantined,
         summary.status, summary.error, summary.warnings, summary.duplicate_of],
    )


def load_batch(con, feed: Feed, batch: LandedBatch, unit_codes: frozenset[str]) -> BatchSummary:
    """Commit one landed batch, then remove it from the landing zone. Safe to run again."""
    summary = BatchSummary(batch.batch_id, feed.id, batch.source_uri, batch.file_name, status=batch.status,
                           error=batch.error, warnings=list(batch.warnings))
    if con.execute("SELECT 1 FROM ops.batches WHERE batch_id = ?", [batch.batch_id]).fetchone():
        discard(batch)  # committed before a crash that left the landing copy behind
        summary.status = "already_loaded"
        return summary
    loaded_at = datetime.now(timezone.utc)
    records = read_records(batch)
    if batch.status == "failed" or records is None:
        summary.status = "failed"
        _commit(con, lambda: _record(con, summary, batch, loaded_at))
        discard(batch)
        return summary
    earlier = con.execute(
        f"SELECT batch_id FROM ops.batches WHERE feed = ? AND checksum = ? AND status IN {PUBLISHED_STATUSES} "
        "ORDER BY loaded_at LIMIT 1", [feed.id, batch.checksum]).fetchone()
    if earlier and records.height:
        summary.status, summary.duplicate_of = "duplicate", earlier[0]
        summary.warnings.append(f"same content as batch {earlier[0]} ({records.height} rows); nothing added")
        _commit(con, lambda: _record(con, summary, batch, loaded_at))
        discard(batch)
        return summary
    number_format = getattr(feed.source, "number_format", "en")
    where = f"file {batch.file_name}" if batch.file_name else batch.source_uri
    conformed = conform(feed, records, unit_codes, number_format, where, batch.header_row)
    summary.rows_received = records.height
    summary.rows_loaded = conformed.valid.height
    summary.rows_quarantined = conformed.rejected.height
    summary.warnings += conformed.warnings
    summary.status = _status(summary)
    summary.problems = [r["message"] for row in conformed.rejected.head(5).iter_rows(named=True) for r in row["reasons"]]

    def write() -> None:
        _record(con, summary, batch, loaded_at)
        ensure_raw_table(con, feed)
        con.register("_records", records)
        con.execute(
            f"INSERT INTO {raw_table(feed)} SELECT ?, ?, {quote(SOURCE_URI)}, ?, ?, {quote(SOURCE_ROW)}, "
            f"{quote(RAW)}::JSON FROM _records", [batch.batch_id, feed.id, batch.checksum, batch.received_at])
        con.unregister("_records")
        failpoint("load.after_raw")
        if conformed.rejected.height:
            con.register("_rejected", conformed.rejected)
            con.execute(
                f"INSERT INTO ops.quarantine SELECT ?, ?, {quote(SOURCE_URI)}, {quote(SOURCE_ROW)}, reasons, "
                f"{quote(RAW)}::JSON, ?, 'open' FROM _rejected", [feed.id, batch.batch_id, loaded_at])
            con.unregister("_rejected")
        if conformed.valid.height:
            valid = conformed.valid.drop(RAW).with_columns(
                pl.lit(batch.batch_id).alias("_batch_id"),
                pl.lit(batch.received_at).cast(pl.Datetime("us", "UTC")).alias("_received_at"),
                pl.lit(loaded_at).cast(pl.Datetime("us", "UTC")).alias("_loaded_at"),
            )
            con.register("_valid", valid)
            publish(con, feed, "_valid")
            con.unregister("_valid")
        failpoint("load.before_commit")

    _commit(con, write)
    discard(batch)
    return summary


def _status(summary: BatchSummary) -> str:
    if summary.rows_received == 0:
        return "empty"
    if summary.rows_quarantined == 0:
        return "loaded"
    return "partial" if summary.rows_loaded else "quarantined"


def _commit(con, work) -> None:
    con.execute("BEGIN TRANSACTION")
    try:
        work()
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
