"""Load one landed batch into the warehouse in a single transaction: the batch record, its raw
history, its quarantined rows and its published rows all commit together, or none of them do."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl

from pipelines.conform.rows import ROW_ID, conform
from pipelines.declarations.models import Feed, OrgUnits
from pipelines.extract.landing import (
    LINE,
    MALFORMED,
    SOURCE_ROW,
    SOURCE_URI,
    LandedBatch,
    discard,
    record_chunks,
    records_file,
    release_arrow_memory,
)
from pipelines.failpoints import failpoint
from pipelines.load.merge import merge_into_clean
from pipelines.load.raw import keep_raw, parquet_columns, raw_file, record_sql
from pipelines.load.reconcile import reconcile
from pipelines.load.withdrawals import (
    apply_snapshot,
    apply_tombstones,
    record_snapshot_keys,
    withdrawn_at_sql,
)
from pipelines.read_ahead import read_ahead
from pipelines.validate.batch import (
    BatchValidator,
    Validation,
    quarantine_keys,
    result_rows,
    store_results,
)
from pipelines.warehouse import committed, exclusive, has_clean_table, literal, quote
from pipelines.warehouse.pending import INPUTS, ROWS, record_all, record_rows
from pipelines.warehouse.tables import clean_table, ensure_clean_table, record_key_sql

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
    rows_repeated: int = 0  # valid rows the warehouse held already (the same key, version and values): not loaded again
    error: str | None = None
    error_vi: str | None = None  # the same in Vietnamese (the wall's words)
    warnings: list[str] = field(default_factory=list)
    duplicate_of: str | None = None
    problems: list[str] = field(default_factory=list)  # the first quarantine reasons, for the CLI
    outliers: int = 0
    data_docs: list = field(default_factory=list)  # GE result identifiers to render
    data_docs_requested: bool = False  # rendering them was asked of GE's worker already (the run's last batch)


def _record(
    con, summary: BatchSummary, batch: LandedBatch, loaded_at: datetime, validation_seconds: float | None = None
) -> None:
    con.execute(
        "INSERT INTO ops.batches (batch_id, feed, source_uri, file_name, checksum, received_at, loaded_at, "
        "rows_received, rows_loaded, rows_quarantined, rows_repeated, status, error, warnings, duplicate_of, "
        "file_fields, validation_seconds, error_vi) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            summary.batch_id,
            summary.feed,
            summary.source_uri,
            summary.file_name,
            batch.checksum,
            batch.received_at,
            loaded_at,
            summary.rows_received,
            summary.rows_loaded,
            summary.rows_quarantined,
            summary.rows_repeated,
            summary.status,
            summary.error,
            summary.warnings,
            summary.duplicate_of,
            json.dumps(batch.file_fields, ensure_ascii=False) if batch.file_fields else None,
            validation_seconds,
            summary.error_vi,
        ],
    )
    # the KPIs reading the feed judge their inputs again (its status, quarantine, freshness): kpi/pending.py
    record_all(con, summary.feed, summary.batch_id, INPUTS, loaded_at)


STAGED = "_staged"  # the batch's typed rows with their reasons: a temporary view over its staged Parquet files
REPEATS = "_repeats"  # the batch's valid rows that the warehouse held already


def load_batch(
    con, feed: Feed, batch: LandedBatch, units: OrgUnits, on_validated: Callable[[list], bool] | None = None
) -> BatchSummary:
    """Commit one landed batch, then remove it from the landing zone. Safe to run again.

    `on_validated`, if given, is called with the batch's Data Docs identifiers once it is validated and before
    it commits (the orchestrator may then let GE's worker go: pipelines.ingest); if it returns True, the Data
    Docs were asked for (summary.data_docs_requested).

    The batch is read, conformed, validated and staged in chunks of the feed's max_batch_rows, so memory
    follows the chunk size; its raw records, batch record, quarantine, results and published rows then
    commit in one transaction, so a crash at any point leaves the last good state and the batch is taken
    again, once."""
    summary = BatchSummary(
        batch.batch_id,
        feed.id,
        batch.source_uri,
        batch.file_name,
        status=batch.status,
        error=batch.error,
        error_vi=batch.error_vi,
        warnings=list(batch.warnings),
    )
    if con.execute("SELECT 1 FROM ops.batches WHERE batch_id = ?", [batch.batch_id]).fetchall():
        discard(batch)  # committed before a crash that left the landing copy behind
        summary.status = "already_loaded"
        return summary
    loaded_at = datetime.now(UTC)
    doing = f"loading feed {feed.id} batch {batch.batch_id}"
    if batch.status == "failed" or records_file(batch) is None:
        summary.status = "failed"
        _commit(con, lambda: _record(con, summary, batch, loaded_at), f"{doing}: recording it failed")
        discard(batch)
        return summary
    earlier = con.execute(
        f"SELECT batch_id FROM ops.batches WHERE feed = ? AND checksum = ? AND status IN {PUBLISHED_STATUSES} "
        "ORDER BY loaded_at LIMIT 1",
        [feed.id, batch.checksum],
    ).fetchall()
    if earlier and batch.rows and not batch.snapshot:  # a snapshot's keys are needed even when nothing changed
        summary.status, summary.duplicate_of = "duplicate", earlier[0][0]
        summary.warnings.append(f"same content as batch {earlier[0][0]} ({batch.rows} rows); nothing added")
        _commit(con, lambda: _record(con, summary, batch, loaded_at), f"{doing}: recording it a duplicate")
        discard(batch)
        return summary

    # Rows are staged chunk by chunk in Parquet files outside the warehouse (memory follows the chunk);
    # only the batch's outcome is one transaction. A crash while staging leaves nothing in the warehouse.
    validator = BatchValidator(con, feed, batch, units, STAGED)
    try:
        validation = validated(con, feed, batch, validator, summary)
        if on_validated is not None and validation is not None:
            summary.data_docs_requested = on_validated(validation.data_docs)
        summary.status = _status(summary, blocked=bool(validation and validation.blocked))

        warnings = list(summary.warnings)
        merging = f"{doing}: merging into clean.{feed.id}"

        def write() -> None:  # run again from the start if its commit conflicts with another writer's (DuckLake)
            summary.warnings = list(warnings)
            keep_raw(con, feed, batch)
            failpoint("load.after_raw")
            # the merge lock's session may have been cut since it was taken: confirmed before clean.<feed> is read
            # for repeats, merged into, or its withdrawn records marked
            lock.confirm(merging)
            if validation is not None and validation.published and not validation.blocked:
                summary.rows_repeated = _find_repeats(con, feed, batch)
                summary.rows_loaded = validation.published - summary.rows_repeated
            if validation is not None:
                _write_outcome(con, feed, batch, validation, summary, loaded_at)
                if batch.snapshot:
                    record_snapshot_keys(con, feed, batch, STAGED)
            withdrawn = 0
            if batch.snapshot_complete:
                withdrawn += apply_snapshot(con, feed, batch, batch.received_at)
            if batch.tombstones:
                withdrawn += apply_tombstones(con, feed, batch)
            if withdrawn:  # which rows is not worth finding: the KPIs reading the feed recompute every period
                record_all(con, feed.id, batch.batch_id, ROWS, loaded_at)
                summary.warnings.append(f"{withdrawn} records the source no longer holds are marked withdrawn")
            if batch.source_count is not None:
                difference = reconcile(con, feed, batch, loaded_at)
                if difference:
                    summary.warnings.append(
                        f"the source says it holds {batch.source_count} records; the warehouse "
                        f"holds {batch.source_count - difference}"
                    )
            _record(con, summary, batch, loaded_at, validation.seconds if validation else None)
            failpoint("load.before_commit")
            lock.confirm(f"{merging}: committing")  # still ours as the commit begins: no other writer merged meanwhile

        failpoint("load.staged")
        # Batches of one feed are read, validated and staged side by side (the parts of a split pull, on several
        # workers) but merge into its clean table one at a time: a merge reads what the others committed. If the
        # lock's session is cut (on DuckLake: a PostgreSQL session of its own), the lock is gone with it: write()
        # confirms it is still held before it merges and before the commit, and stops (LockLost) otherwise.
        with exclusive(f"commit:{feed.id}") as lock:
            _commit(con, write, merging)
    finally:
        validator.close()
    discard(batch)
    return summary


def validated(
    con, feed: Feed, batch: LandedBatch, validator: BatchValidator, summary: BatchSummary, records=None
) -> Validation | None:
    """The batch's rows (its landed records, or the landing frames `records`) conformed, checked and staged chunk
    by chunk, then its validation (None for a batch with no rows)."""
    received = 0
    # The next chunk is read and conformed in a thread of its own while this one is checked and staged.
    for i, (well_formed, malformed, rows) in enumerate(read_ahead(_conformed_chunks(feed, batch, records))):
        if i:
            failpoint("load.between_chunks")
        if well_formed is not None:
            if not validator.chunks:
                summary.warnings += well_formed.warnings
            validator.add(well_formed)
        if malformed.height:
            validator.add_malformed(malformed, received + rows - malformed.height)
        received += rows
    summary.rows_received = received
    release_arrow_memory()
    if received == 0:
        return None
    validation = validator.finish()
    summary.rows_loaded = validation.published
    summary.rows_quarantined = validation.quarantined
    summary.problems = validation.problems
    summary.warnings += [
        f"warning check {r.check.id} failed on {r.unexpected_count} rows"
        for r in validation.results
        if not r.success and r.check.severity == "warning"
    ]
    summary.warnings += [f"checks disagree, please report: {d}" for d in validation.disagreements]
    summary.outliers = validation.outliers.height
    summary.data_docs = validation.data_docs
    if validation.blocked:
        where = f"file {batch.file_name}" if batch.file_name else batch.source_uri
        summary.error = (
            f"feed {feed.id}: {where}: validation blocked publication (the last good data keeps "
            f"serving): " + "; ".join(validation.blocked)
        )
        where_vi = f"tệp {batch.file_name}" if batch.file_name else batch.source_uri
        summary.error_vi = (
            f"nguồn {feed.id}: {where_vi}: bị chặn công bố (số liệu tốt gần nhất vẫn được dùng): "
            + "; ".join(validation.blocked_vi)
        )
    return validation


def _conformed_chunks(feed: Feed, batch: LandedBatch, records=None):
    """The batch's chunks (or those of `records`), each as (its well-formed records conformed or None, its
    malformed lines, its row count)."""
    number_format = getattr(feed.source, "number_format", "en")
    where = f"file {batch.file_name}" if batch.file_name else batch.source_uri
    received = 0
    for chunk in records if records is not None else record_chunks(batch, feed.source.max_batch_rows):
        if chunk.height == 0:
            continue
        malformed = chunk.filter(pl.col(MALFORMED).is_not_null()) if MALFORMED in chunk.columns else chunk.clear()
        well_formed = chunk.filter(pl.col(MALFORMED).is_null()) if MALFORMED in chunk.columns else chunk
        conformed = None
        if well_formed.height:
            conformed = conform(
                feed,
                well_formed.drop(MALFORMED, LINE, strict=False),
                number_format,
                where,
                batch.header_row,
                first_row_id=received,
            )
        yield conformed, malformed, chunk.height
        received += chunk.height


def _write_outcome(
    con, feed: Feed, batch: LandedBatch, validation: Validation, summary: BatchSummary, loaded_at: datetime
) -> None:
    """Quarantine, check results, outliers and the published rows, from the staged batch."""
    if validation.quarantined:
        keys = quarantine_keys(feed, batch)
        kept = raw_file(feed, batch.batch_id)
        # The quarantined rows are taken first, then joined to their records in raw history in slices of at most
        # a chunk of rows by source row (the raw file's row groups outside a slice are skipped): the join's
        # table and what it inserts then fit the load's memory (10M rows with 450k quarantined: 21 s in one
        # join, spilling; 6 s in slices). The raw rows read are only those quarantined (a semi-join: 6.2 s → 4.4 s at
        # 10M rows). The record's JSON is built after the join, for them only.
        # a form's sheet row holds several figures: its record is the figure of the same cell
        form = getattr(feed.source, "form", None) is not None
        cell = ", source_cell AS _cell" if form else ""
        same_cell = " AND r.source_cell IS NOT DISTINCT FROM q._cell" if form else ""
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _quarantined AS SELECT {quote(SOURCE_URI)} AS _uri, {quote(SOURCE_ROW)} "
            f"AS _row, reasons, {keys['record_key']} AS _record_key, {keys['partition_key']} AS _partition_key, "
            f"{keys['unit_code']} AS _unit_code{cell} FROM {STAGED} WHERE len(reasons) > 0"
        )
        record = record_sql(parquet_columns(con, kept), "r")
        for within in _slices(con, "_quarantined", "_row", feed.source.max_batch_rows):
            con.execute(
                f"INSERT INTO ops.quarantine (feed, batch_id, source_uri, source_row, reasons, record, "
                f"quarantined_at, status, record_key, partition_key, unit_code) "
                f"SELECT ?, ?, q._uri, q._row, q.reasons, {record}, ?, 'open', q._record_key, q._partition_key, "
                f"q._unit_code FROM (SELECT * FROM _quarantined WHERE _row {within}) AS q "
                f"LEFT JOIN (SELECT * FROM read_parquet({literal(str(kept))}) WHERE {quote(SOURCE_ROW)} {within} "
                f"AND {quote(SOURCE_ROW)} IN (SELECT _row FROM _quarantined WHERE _row {within})) AS r "
                f"ON r.{quote(SOURCE_URI)} = q._uri AND r.{quote(SOURCE_ROW)} = q._row{same_cell}",
                [feed.id, batch.batch_id, loaded_at],
            )
        con.execute("DROP TABLE _quarantined")
    results = result_rows(feed, batch, validation, summary.rows_received, loaded_at)
    store_results(con, results)
    if validation.outliers.height:
        con.register("_outliers", validation.outliers)
        con.execute(
            "INSERT INTO ops.outliers (feed, batch_id, source_row, unit_code, series, period, column_name, value, "
            "method, score, threshold, expected_min, expected_max, baseline_size, flagged_at) "
            "SELECT ?, ?, source_row, unit_code, series, period, column_name, value, "
            "method, score, threshold, expected_min, expected_max, baseline_size, ? FROM _outliers",
            [feed.id, batch.batch_id, loaded_at],
        )
        con.unregister("_outliers")
    if validation.published and not validation.blocked:
        received = f"{literal(batch.received_at.isoformat())}::TIMESTAMPTZ"
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW _valid AS SELECT {', '.join(quote(c) for c in feed.column_names)}, "
            f"{quote(SOURCE_ROW)}, {quote(SOURCE_URI)}, {literal(batch.batch_id)} AS _batch_id, "
            f"{received} AS _received_at, {literal(loaded_at.isoformat())}::TIMESTAMPTZ AS _loaded_at, "
            f"{received} AS _last_seen_at, {withdrawn_at_sql(feed, received)} AS _withdrawn_at FROM {STAGED} "
            f"WHERE len(reasons) = 0 AND {ROW_ID} NOT IN (SELECT {ROW_ID} FROM {REPEATS})"
        )
        record_published(con, feed, batch.batch_id, "_valid", loaded_at)
        merge_into_clean(con, feed, "_valid", validation.keys_repeat)
        supersede(con, feed, batch, "_valid")
        con.execute("DROP VIEW _valid")
        con.execute(f"DROP TABLE {REPEATS}")


def record_published(con, feed: Feed, batch_id: str, published: str, at: datetime) -> None:
    """Record in ops.kpi_pending the rows a batch publishes and those of clean.<feed> they replace (the same key,
    or the same partition), by unit and the days their dated columns name (warehouse/pending.py). Run before
    the merge, in the load's transaction."""
    unit = (
        feed.reporting.unit_column
        if feed.reporting
        else next((c.name for c in feed.columns if c.references == "org_unit"), None)
    )
    spans = []
    for c in feed.columns:
        if c.type in ("date", "timestamp"):
            spans.append((f"CAST(r.{quote(c.name)} AS DATE)",) * 2)
        elif c.type == "month":  # '2026-10': its first and last day
            first = f"TRY_CAST(r.{quote(c.name)} || '-01' AS DATE)"
            spans.append((first, f"last_day({first})"))
    unit_sql = f"r.{quote(unit)}" if unit else None
    record_rows(con, feed.id, batch_id, published, unit_sql, spans, at)
    if has_clean_table(con, feed.id):
        match = " AND ".join(f"c.{quote(k)} = i.{quote(k)}" for k in feed.load.replace or feed.load.key)
        replaced = (
            f"(SELECT * FROM {clean_table(feed)} AS c WHERE EXISTS (SELECT 1 FROM {published} AS i WHERE {match}))"
        )
        record_rows(con, feed.id, batch_id, replaced, unit_sql, spans, at)


def _slices(con, table: str, column: str, rows: int) -> list[str]:
    """Conditions on an integer column that split a table's rows into slices of about `rows` rows each
    (e.g. 'BETWEEN 1 AND 99999', then '>= 100000'); a value many rows share (the row of each page of an
    API's pull) makes its slice larger."""
    starts = sorted(
        {
            v
            for (v,) in con.execute(
                f"SELECT {column} FROM (SELECT {column}, row_number() OVER (ORDER BY {column}) AS n FROM {table}) "
                f"WHERE n % {int(rows)} = 1"
            ).fetchall()
        }
    )
    return (
        [f"BETWEEN {lo} AND {hi - 1}" for lo, hi in zip(starts, starts[1:], strict=False)] + [f">= {starts[-1]}"]
        if starts
        else []
    )


def _find_repeats(con, feed: Feed, batch: LandedBatch) -> int:
    """Valid rows that clean.<feed> holds already with the same key, version and values (a record read again:
    a pull's lookback, an overlap): recorded in ops.repeated_records with the batch that first brought them,
    kept in raw history (whose repeat_of names that batch), neither published nor counted again. Their
    _row_id go to the temporary table REPEATS."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {REPEATS} ({ROW_ID} BIGINT)")
    if feed.load.replace or not has_clean_table(con, feed.id):
        return 0
    ensure_clean_table(con, feed)
    same = " AND ".join(
        f"c.{quote(c)} = s.{quote(c)}" if c in feed.load.key else f"c.{quote(c)} IS NOT DISTINCT FROM s.{quote(c)}"
        for c in feed.column_names
    )
    record_key = record_key_sql(feed, "s")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {REPEATS} AS
        SELECT s.{ROW_ID}, s.{quote(SOURCE_URI)} AS source_uri, s.{quote(SOURCE_ROW)} AS source_row,
               {record_key} AS record_key,
               c._batch_id AS first_batch_id
        FROM {STAGED} AS s JOIN {clean_table(feed)} AS c ON {same}
        WHERE len(s.reasons) = 0 AND c._withdrawn_at IS NULL""")
    return con.execute(
        "INSERT INTO ops.repeated_records (feed, batch_id, source_uri, source_row, record_key, first_batch_id) "
        f"SELECT ?, ?, source_uri, source_row, record_key, first_batch_id FROM {REPEATS}",
        [feed.id, batch.batch_id],
    ).fetchall()[0][0]


def supersede(con, feed: Feed, batch: LandedBatch, published: str) -> None:
    """Quarantined rows that this batch's data replaces — the same partition (a department's corrected
    report for that period) or the same key (a later version of the record) — are marked superseded."""
    if not con.execute(
        "SELECT 1 FROM ops.quarantine WHERE feed = ? AND status = 'open' AND batch_id <> ? LIMIT 1",
        [feed.id, batch.batch_id],
    ).fetchall():
        return  # nothing open to supersede: the published rows need not be read again
    columns = feed.load.replace or feed.load.key
    key = " || '|' || ".join(f"CAST(p.{quote(c)} AS VARCHAR)" for c in columns)
    column = "partition_key" if feed.load.replace else "record_key"
    con.execute(
        f"UPDATE ops.quarantine SET status = 'superseded', superseded_by = ? "
        f"WHERE feed = ? AND status = 'open' AND batch_id <> ? "
        f"AND {column} IN (SELECT DISTINCT {key} FROM {published} AS p)",
        [batch.batch_id, feed.id, batch.batch_id],
    )


def _status(summary: BatchSummary, blocked: bool = False) -> str:
    if blocked:
        return "failed"
    if summary.rows_received == 0:
        return "empty"
    if summary.rows_quarantined == 0:
        return "loaded"
    return "partial" if summary.rows_loaded else "quarantined"


def _commit(con, work, doing: str) -> None:
    committed(con, work, doing=doing)
