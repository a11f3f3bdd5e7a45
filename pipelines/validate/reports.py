"""Data-quality views over the warehouse: quarantined rows, quality per feed and per department, and
re-validating a loaded batch with the feed's current suite."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import polars as pl

from pipelines.conform.rows import conform
from pipelines.declarations.checks import CHECK_CLASSES, CHECK_LABELS, INDICATOR_CHECK, FormRule, check_name
from pipelines.declarations.models import Feed, OrgUnits
from pipelines.extract.landing import LandedBatch
from pipelines.extract.records import records_frame
from pipelines.validate.batch import BatchValidator, Validation, result_rows, store_results
from pipelines.validate.gx_worker import worker
from pipelines.warehouse import quote


def quarantined_rows(con, feed: str, include_closed: bool = False, limit: int = 200) -> list[dict]:
    """Quarantined rows of a feed, newest first, each with its reasons."""
    rows = con.execute(
        "SELECT batch_id, source_uri, source_row, unit_code, status, superseded_by, "
        "strftime(quarantined_at AT TIME ZONE 'Asia/Ho_Chi_Minh', '%Y-%m-%d %H:%M'), reasons, record::VARCHAR "
        "FROM ops.quarantine WHERE feed = ? AND (? OR status = 'open') "
        "ORDER BY quarantined_at DESC, batch_id, source_row LIMIT ?",
        [feed, include_closed, limit],
    ).fetchall()
    keys = [
        "batch_id",
        "source_uri",
        "source_row",
        "unit_code",
        "status",
        "superseded_by",
        "quarantined_at",
        "reasons",
        "record",
    ]
    result = []
    for row in rows:
        item = dict(zip(keys, row, strict=False))
        item["record"] = json.loads(item["record"]) if item["record"] else None
        result.append(item)
    return result


def quality_by_feed(con) -> list[dict]:
    """Per feed: batches, rows, quarantine, failed checks, outliers, and the last batch's status."""
    return _dicts(
        con,
        """
        WITH b AS (
            SELECT feed, count(*) AS batches, count(*) FILTER (WHERE status = 'failed') AS failed_batches,
                   sum(rows_received) AS received, sum(rows_loaded) AS loaded, sum(rows_quarantined) AS quarantined,
                   arg_max(status, loaded_at) AS last_status, max(loaded_at) AS last_loaded_at
            FROM ops.batches GROUP BY feed),
        q AS (SELECT feed, count(*) FILTER (WHERE status = 'open') AS open_quarantine FROM ops.quarantine GROUP BY feed),
        v AS (SELECT feed, count(*) FILTER (WHERE NOT success AND severity = 'blocking') AS blocking_failures,
                     count(*) FILTER (WHERE NOT success AND severity = 'warning') AS warning_failures
              FROM ops.validation_results GROUP BY feed),
        o AS (SELECT feed, count(*) AS outliers FROM ops.outliers GROUP BY feed)
        SELECT b.feed, batches, failed_batches, received, loaded, quarantined,
               round(100.0 * quarantined / nullif(received, 0), 2) AS quarantined_percent,
               coalesce(open_quarantine, 0) AS open_quarantine, coalesce(blocking_failures, 0) AS blocking_failures,
               coalesce(warning_failures, 0) AS warning_failures, coalesce(outliers, 0) AS outliers, last_status,
               strftime(last_loaded_at AT TIME ZONE 'Asia/Ho_Chi_Minh', '%Y-%m-%d %H:%M') AS last_loaded_at
        FROM b LEFT JOIN q USING (feed) LEFT JOIN v USING (feed) LEFT JOIN o USING (feed) ORDER BY b.feed""",
    )


def rules_broken(con, limit: int = 100) -> list[dict]:
    """The open failures of rules across cells (a form's validation rules, its unknown indicators), each with the
    cells involved and their values as its reason quotes them, newest first."""
    names = sorted({n for n, cls in _check_classes().items() if issubclass(cls, FormRule)} | {INDICATOR_CHECK})
    rows = _dicts(
        con,
        f"""
        SELECT q.feed, q.unit_code, regexp_extract(q.source_uri, '__([^/]+)$', 1) AS file, q.source_row AS row,
               r.check_name AS "check", r.actual AS cells
        FROM ops.quarantine AS q, unnest(q.reasons) AS u(r)
        WHERE q.status = 'open' AND r.check_name IN ({", ".join("'" + n + "'" for n in names)})
        ORDER BY q.quarantined_at DESC, q.feed, q.source_row LIMIT {int(limit)}""",
    )
    for row in rows:
        labels = CHECK_LABELS.get(row["check"], {})
        row["rule"] = f"{labels.get('vi', row['check'])} / {labels.get('en', row['check'])}"
    return [{k: row[k] for k in ("feed", "unit_code", "file", "row", "rule", "cells")} for row in rows]


def _check_classes() -> dict:
    return {check_name(cls): cls for cls in CHECK_CLASSES}


def quality_by_unit(con) -> list[dict]:
    """Per feed and organisation unit: open and superseded quarantined rows, failed files, outliers."""
    return _dicts(
        con,
        """
        WITH q AS (
            SELECT feed, coalesce(unit_code, '?') AS unit_code,
                   count(*) FILTER (WHERE status = 'open') AS open_quarantine,
                   count(*) FILTER (WHERE status = 'superseded') AS superseded
            FROM ops.quarantine GROUP BY ALL),
        f AS (
            SELECT feed, coalesce(file_fields->>'department_code', '?') AS unit_code,
                   count(*) FILTER (WHERE status = 'failed') AS failed_files
            FROM ops.batches WHERE file_fields IS NOT NULL GROUP BY ALL),
        o AS (SELECT feed, coalesce(unit_code, '?') AS unit_code, count(*) AS outliers FROM ops.outliers GROUP BY ALL)
        SELECT feed, unit_code, coalesce(open_quarantine, 0) AS open_quarantine, coalesce(superseded, 0) AS superseded,
               coalesce(failed_files, 0) AS failed_files, coalesce(outliers, 0) AS outliers
        FROM q FULL JOIN f USING (feed, unit_code) FULL JOIN o USING (feed, unit_code)
        WHERE coalesce(open_quarantine, 0) + coalesce(superseded, 0) + coalesce(failed_files, 0) + coalesce(outliers, 0) > 0
        ORDER BY feed, open_quarantine DESC, unit_code""",
    )


def _dicts(con, sql: str, params: list | None = None) -> list[dict]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=False)) for row in cursor.fetchall()]


def revalidate(con, feed: Feed, units: OrgUnits, batch_id: str | None = None) -> tuple[LandedBatch, Validation]:
    """Run the feed's current suite again on a loaded batch's raw records and record the results.

    Nothing is republished: this shows what the current checks say of data already received (after
    a check was added or changed, say).
    """
    found = con.execute(
        "SELECT batch_id, source_uri, checksum, received_at, file_name, file_fields::VARCHAR FROM ops.batches "
        "WHERE feed = ? AND (? IS NULL OR batch_id = ?) AND rows_received > 0 ORDER BY loaded_at DESC LIMIT 1",
        [feed.id, batch_id, batch_id],
    ).fetchall()
    if not found:
        which = f"batch {batch_id}" if batch_id else "a batch with rows"
        raise LookupError(f"feed {feed.id} has no {which} in ops.batches (see `ioc batches {feed.id}`)")
    batch_id, source_uri, checksum, received_at, file_name, file_fields = found[0]
    batch = LandedBatch(
        batch_id=batch_id,
        feed=feed.id,
        source_uri=source_uri,
        checksum=checksum,
        received_at=received_at,
        file_name=file_name,
        file_fields=json.loads(file_fields) if file_fields else {},
    )
    raw = con.execute(
        f"SELECT source_row, source_uri, record::VARCHAR FROM raw.{quote(feed.id)} "
        "WHERE batch_id = ? ORDER BY source_uri, source_row",
        [batch_id],
    ).fetchall()
    records = records_frame([json.loads(r[2]) for r in raw], [r[0] for r in raw], [r[1] for r in raw])
    where = f"file {file_name}" if file_name else source_uri
    conformed = conform(feed, records, getattr(feed.source, "number_format", "en"), where)
    validator = BatchValidator(con, feed, batch, units, "_revalidated")
    try:
        validator.add(conformed)
        validation = validator.finish()
    finally:
        validator.close()
    worker().call("build_data_docs", validation.data_docs)
    results = result_rows(feed, batch, validation, records.height, datetime.now(UTC))
    store_results(con, results)
    return batch, validation


def results_table(validation: Validation) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "check": r.check.id,
                "severity": r.check.severity,
                "passed": r.success,
                "failing rows": r.unexpected_count,
                "blocks batch": r.blocks_batch,
            }
            for r in validation.results
        ]
    )
