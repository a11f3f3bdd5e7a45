"""The DuckDB warehouse: one connection at a time across processes, and its fixed tables.

DuckDB lets one process open the file at a time and fails at once when another holds it. Every
process of the platform (Airflow tasks, the CLI, tests) takes the same file lock first and waits
for it, so parallel tasks queue instead of failing; an outside process holding DuckDB's own lock
is retried until the timeout.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

from filelock import FileLock, Timeout

from pipelines.settings import paths

DEFAULT_TIMEOUT_SECONDS = 600.0

DDL = """
CREATE SCHEMA IF NOT EXISTS ops;
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS clean;
CREATE TABLE IF NOT EXISTS ops.batches (
    batch_id VARCHAR PRIMARY KEY,
    feed VARCHAR NOT NULL,
    source_uri VARCHAR,
    file_name VARCHAR,
    checksum VARCHAR,
    received_at TIMESTAMPTZ,
    loaded_at TIMESTAMPTZ,
    rows_received BIGINT NOT NULL,
    rows_loaded BIGINT NOT NULL,
    rows_quarantined BIGINT NOT NULL,
    status VARCHAR NOT NULL,
    error VARCHAR,
    warnings VARCHAR[],
    duplicate_of VARCHAR
);
CREATE TABLE IF NOT EXISTS ops.quarantine (
    feed VARCHAR NOT NULL,
    batch_id VARCHAR NOT NULL,
    source_uri VARCHAR,
    source_row BIGINT,
    reasons STRUCT(check_name VARCHAR, column_name VARCHAR, expected VARCHAR, actual VARCHAR, message VARCHAR)[],
    record JSON,
    quarantined_at TIMESTAMPTZ NOT NULL,
    status VARCHAR NOT NULL DEFAULT 'open'
);
ALTER TABLE ops.batches ADD COLUMN IF NOT EXISTS file_fields JSON;
ALTER TABLE ops.batches ADD COLUMN IF NOT EXISTS validation_seconds DOUBLE;
ALTER TABLE ops.quarantine ADD COLUMN IF NOT EXISTS record_key VARCHAR;
ALTER TABLE ops.quarantine ADD COLUMN IF NOT EXISTS partition_key VARCHAR;
ALTER TABLE ops.quarantine ADD COLUMN IF NOT EXISTS unit_code VARCHAR;
ALTER TABLE ops.quarantine ADD COLUMN IF NOT EXISTS superseded_by VARCHAR;
ALTER TABLE ops.batches ADD COLUMN IF NOT EXISTS rows_repeated BIGINT DEFAULT 0;
CREATE TABLE IF NOT EXISTS ops.repeated_records (
    feed VARCHAR NOT NULL,
    batch_id VARCHAR NOT NULL,
    source_uri VARCHAR,
    source_row BIGINT,
    record_key VARCHAR,
    first_batch_id VARCHAR
);
CREATE TABLE IF NOT EXISTS ops.snapshot_keys (
    feed VARCHAR NOT NULL,
    snapshot VARCHAR NOT NULL,
    record_key VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS ops.withdrawals (
    feed VARCHAR NOT NULL,
    record_key VARCHAR NOT NULL,
    withdrawn_at TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ,
    learned_by VARCHAR NOT NULL,
    batch_id VARCHAR
);
CREATE TABLE IF NOT EXISTS ops.reconciliations (
    feed VARCHAR NOT NULL,
    batch_id VARCHAR,
    checked_at TIMESTAMPTZ NOT NULL,
    method VARCHAR NOT NULL,
    source_count BIGINT,
    warehouse_count BIGINT,
    difference BIGINT
);
CREATE TABLE IF NOT EXISTS ops.validation_results (
    feed VARCHAR NOT NULL,
    batch_id VARCHAR NOT NULL,
    check_id VARCHAR NOT NULL,
    check_name VARCHAR NOT NULL,
    origin VARCHAR,
    severity VARCHAR NOT NULL,
    scope VARCHAR NOT NULL,
    column_name VARCHAR,
    success BOOLEAN NOT NULL,
    unexpected_count BIGINT,
    unexpected_percent DOUBLE,
    failing_keys VARCHAR[],
    observed VARCHAR,
    expected VARCHAR,
    error VARCHAR,
    run_at TIMESTAMPTZ NOT NULL,
    suite_seconds DOUBLE
);
CREATE TABLE IF NOT EXISTS ops.raw_columns (
    feed VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    PRIMARY KEY (feed, name)
);
CREATE TABLE IF NOT EXISTS ops.runs (
    pipeline VARCHAR NOT NULL,
    feed VARCHAR,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL,
    seconds DOUBLE NOT NULL,
    success BOOLEAN NOT NULL,
    detail VARCHAR
);
CREATE TABLE IF NOT EXISTS ops.outliers (
    feed VARCHAR NOT NULL,
    batch_id VARCHAR NOT NULL,
    source_row BIGINT,
    unit_code VARCHAR,
    series VARCHAR,
    period VARCHAR,
    column_name VARCHAR,
    value DOUBLE,
    method VARCHAR,
    score DOUBLE,
    threshold DOUBLE,
    expected_min DOUBLE,
    expected_max DOUBLE,
    baseline_size INTEGER,
    flagged_at TIMESTAMPTZ NOT NULL
);
"""


class WarehouseBusy(Exception):
    """The warehouse stayed locked by another process past the timeout."""


@contextmanager
def connect(timeout: float = DEFAULT_TIMEOUT_SECONDS):
    """A DuckDB connection to $IOC_HOME/warehouse.duckdb, held under the platform's file lock."""
    import duckdb

    p = paths()
    p.home.mkdir(parents=True, exist_ok=True)
    lock = FileLock(p.warehouse_lock)
    started = time.monotonic()
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        raise WarehouseBusy(
            f"{p.warehouse} stayed locked for {timeout:.0f} s by another process of the platform; "
            f"see which one holds {p.warehouse_lock}"
        ) from None
    try:
        con = _open(duckdb, str(p.warehouse), deadline=started + timeout)
        try:
            con.execute(DDL)
            yield con
        finally:
            con.close()
    finally:
        lock.release()


def _open(duckdb, path: str, deadline: float):
    delay = 0.05
    while True:
        try:
            return duckdb.connect(path)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def table_exists(con, schema: str, table: str) -> bool:
    return bool(con.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                            [schema, table]).fetchall())


def has_clean_table(con, feed_id: str) -> bool:
    """Whether clean.<feed> exists (a feed that never published has none)."""
    return table_exists(con, "clean", feed_id)


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"
