"""Load one landed batch into the warehouse in a single transaction: the batch record, its raw
history, its quarantined rows and its published rows all commit together, or none of them do."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

import polars as pl

from pipelines.conform.rows import conform
from pipelines.declarations.models import Feed, OrgUnits
from pipelines.extract.landing import RAW, SOURCE_ROW, SOURCE_URI, LandedBatch, discard, read_records
from pipelines.failpoints import failpoint
from pipelines.load.publish import publish
from pipelines.load.warehouse import quote
from pipelines.validate.batch import result_rows, validate_batch

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
    outliers: int = 0
    data_docs: list = field(default_factory=list)  # GE result identifiers to render


def raw_table(feed: Feed) -> str:
    return f"raw.{quote(feed.id)}"


def ensure_raw_table(con, feed: Feed) -> None:
    con.execute(f"""
        CREATE TABLE IF NOT EXISTS {raw_table(feed)} (
            batch_id VARCHAR NOT NULL, feed VARCHAR NOT NULL, source_uri VARCHAR, checksum VARCHAR,
            received_at TIMESTAMPTZ, source_row BIGINT, record JSON)""")


def _record(con, summary: BatchSummary, batch: LandedBatch, loaded_at: datetime,
            validation_seconds: float | None = None) -> None:
    con.execute(
        "INSERT INTO ops.batches (batch_id, feed, source_uri, file_name, checksum, received_at, loaded_at, "
        "rows_received, rows_loaded, rows_quarantined, status, error, warnings, duplicate_of, file_fields, "
        "validation_seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [summary.batch_id, summary.feed, summary.source_uri, summary.file_name, batch.checksum,
         batch.received_at, loaded_at, summary.rows_received, summary.rows_loaded, summary.rows_quarantined,
         summary.status, summary.error, summary.warnings, summary.duplicate_of,
         json.dumps(batch.file_fields, ensure_ascii=False) if batch.file_fields else None, validation_seconds],
    )


def load_batch(con, feed: Feed, batch: LandedBatch, units: OrgUnits) -> BatchSummary:
    """Commit one landed batch, then remove it from the landing zone. Safe to run again."""
    summary = BatchSummary(batch.batch_id, feed.id, batch.source_uri, batch.file_name, status=batch.status,
                           error=batch.error, warnings=list(batch.warnings))
    if con.execute("SELECT 1 FROM ops.batches WHERE batch_id = ?", [batch.batch_id]).fetchall():
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
        "ORDER BY loaded_at LIMIT 1", [feed.id, batch.checksum]).fetchall()
    if earlier and records.height:
        summary.status, summary.duplicate_of = "duplicate", earlier[0][0]
        summary.warnings.append(f"same content as batch {earlier[0][0]} ({records.height} rows); nothing added")
        _commit(con, lambda: _record(con, summary, batch, loaded_at))
        discard(batch)
        return summary
    number_format = getattr(feed.source, "number_format", "en")
    where = f"file {batch.file_name}" if batch.file_name else batch.source_uri
    conformed = conform(feed, records, number_format, where, batch.header_row)
    summary.warnings += conformed.warnings
    validation = validate_batch(con, feed, conformed, batch, units) if records.height else None
    summary.rows_received = records.height
    if validation is not None:
        summary.rows_loaded = validation.published.height
        summary.rows_quarantined = validation.quarantined.height
        summary.problems = [r["message"] for row in validation.quarantined.head(5).iter_rows(named=True)
                            for r in row["reasons"]]
        summary.warnings += [f"warning check {r.check.id} failed on {r.unexpected_count} rows"
                             for r in validation.results if not r.success and r.check.severity == "warning"]
        summary.outliers = validation.outliers.height
        summary.data_docs = validation.data_docs
        if validation.blocked:
            summary.error = f"feed {feed.id}: {where}: validation blocked publication (the last good data keeps " \
                            f"serving): " + "; ".join(validation.blocked)
    summary.status = _status(summary, blocked=bool(validation and validation.blocked))

    def write() -> None:
        _record(con, summary, batch, loaded_at, validation.seconds if validation else None)
        ensure_raw_table(con, feed)
        con.register("_records", records)
        con.execute(
            f"INSERT INTO {raw_table(feed)} SELECT ?, ?, {quote(SOURCE_URI)}, ?, ?, {quote(SOURCE_ROW)}, "
            f"{quote(RAW)}::JSON FROM _records", [batch.batch_id, feed.id, batch.checksum, batch.received_at])
        con.unregister("_records")
        failpoint("load.after_raw")
        if validation is None:
            return
        if validation.quarantined.height:
            con.register("_rejected", validation.quarantined)
            con.execute(
                f"INSERT INTO ops.quarantine (feed, batch_id, source_uri, source_row, reasons, record, quarantined_at, "
                f"status, record_key, partition_key, unit_code) SELECT ?, ?, {quote(SOURCE_URI)}, {quote(SOURCE_ROW)}, "
                f"reasons, {quote(RAW)}::JSON, ?, 'open', record_key, partition_key, unit_code FROM _rejected",
                [feed.id, batch.batch_id, loaded_at])
            con.unregister("_rejected")
        results = result_rows(feed, batch, validation, conformed.typed, loaded_at)
        con.register("_results", results)
        con.execute("INSERT INTO ops.validation_results SELECT * FROM _results")
        con.unregister("_results")
        if validation.outliers.height:
            con.register("_outliers", validation.outliers)
            con.execute(
                "INSERT INTO ops.outliers SELECT ?, ?, source_row, unit_code, series, period, column_name, value, "
                "method, score, threshold, expected_min, expected_max, baseline_size, ? FROM _outliers",
                [feed.id, batch.batch_id, loaded_at])
            con.unregister("_outliers")
        if validation.published.height and not validation.blocked:
            valid = validation.published.with_columns(
                pl.lit(batch.batch_id).alias("_batch_id"),
                pl.lit(batch.received_at).cast(pl.Datetime("us", "UTC")).alias("_received_at"),
                pl.lit(loaded_at).cast(pl.Datetime("us", "UTC")).alias("_loaded_at"),
            )
            con.register("_valid", valid)
            publish(con, feed, "_valid")
            supersede(con, feed, batch, "_valid")
            con.unregister("_valid")
        failpoint("load.before_commit")

    _commit(con, write)
    discard(batch)
    return summary


def supersede(con, feed: Feed, batch: LandedBatch, published: str) -> None:
    """Quarantined rows that this batch's data replaces — the same partition (a department's corrected
    report for that period) or the same key (a later version of the record) — are marked superseded."""
    columns = feed.load.replace or feed.load.key
    key = " || '|' || ".join(f"CAST(p.{quote(c)} AS VARCHAR)" for c in columns)
    column = "partition_key" if feed.load.replace else "record_key"
    con.execute(
        f"UPDATE ops.quarantine SET status = 'superseded', superseded_by = ? "
        f"WHERE feed = ? AND status = 'open' AND batch_id <> ? "
        f"AND {column} IN (SELECT DISTINCT {key} FROM {published} AS p)",
        [batch.batch_id, feed.id, batch.batch_id])


def _status(summary: BatchSummary, blocked: bool = False) -> str:
    if blocked:
        return "failed"
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
