"""The warehouse's fixed tables: the operational record (ops), raw history's views (raw) and the published
rows (clean) live in these schemas; ops' tables are created here.

No table declares a PRIMARY KEY or UNIQUE constraint: DuckLake has none, and both backends run the same
statements. What must be unique (a batch id, a feed's raw column) is kept so by the statements that write
it (an insert of what is not there yet).
"""

from __future__ import annotations

DDL = """
CREATE SCHEMA IF NOT EXISTS ops;
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS clean;
CREATE TABLE IF NOT EXISTS ops.batches (
    batch_id VARCHAR NOT NULL,
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
    name VARCHAR NOT NULL
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
