"""Every table of the warehouse is defined here: the operational record (ops.*, created with every
connection), the published rows of each feed (clean.<feed>, from the feed's contract) and the KPI marts
(marts.kpi_values, marts.kpi_history). Raw history's views (raw.<feed>, load/raw.py) and the deadline marts
(built whole by each refresh, deadlines/refresh.py) are made by the stages that fill them.

No table declares a PRIMARY KEY or UNIQUE constraint: DuckLake has none, and both backends run the same
statements. What must be unique (a batch id, a feed's raw column) is kept so by the statements that write
it (an insert of what is not there yet).
"""

from __future__ import annotations

from pipelines.declarations.models import Feed
from pipelines.warehouse.sql import quote

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
ALTER TABLE ops.batches ADD COLUMN IF NOT EXISTS error_vi VARCHAR;
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
CREATE TABLE IF NOT EXISTS ops.submissions (
    submission_id VARCHAR NOT NULL,
    feed VARCHAR NOT NULL,
    unit VARCHAR,
    file_name VARCHAR,
    bytes BIGINT,
    checksum VARCHAR,
    submitted_at TIMESTAMPTZ NOT NULL,
    status VARCHAR NOT NULL,
    reason_vi VARCHAR,
    reason_en VARCHAR,
    rows BIGINT
);
ALTER TABLE ops.submissions ADD COLUMN IF NOT EXISTS client VARCHAR;
ALTER TABLE ops.submissions ADD COLUMN IF NOT EXISTS http_status INTEGER;
CREATE TABLE IF NOT EXISTS ops.briefings (
    kind VARCHAR NOT NULL,
    period VARCHAR NOT NULL,
    number INTEGER NOT NULL,
    issued_on DATE NOT NULL,
    generated_at TIMESTAMPTZ NOT NULL
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

KPI_DDL = """
CREATE SCHEMA IF NOT EXISTS marts;
CREATE TABLE IF NOT EXISTS marts.kpi_values (
    kpi_id VARCHAR NOT NULL,
    unit_code VARCHAR NOT NULL,
    period VARCHAR NOT NULL,
    period_start DATE,
    period_end DATE,
    value DOUBLE,
    numerator DOUBLE,
    denominator DOUBLE,
    target DOUBLE,
    status VARCHAR NOT NULL,
    previous_value DOUBLE,
    previous_status VARCHAR,
    streak INTEGER,
    escalated BOOLEAN,
    computed_at TIMESTAMPTZ NOT NULL
);
-- can the value be trusted: its feeds' state when it was computed (pipelines/kpi/trust.py)
ALTER TABLE marts.kpi_values ADD COLUMN IF NOT EXISTS stale_feeds VARCHAR[];
ALTER TABLE marts.kpi_values ADD COLUMN IF NOT EXISTS blocked_batches BIGINT;
ALTER TABLE marts.kpi_values ADD COLUMN IF NOT EXISTS quarantined_rows BIGINT;
ALTER TABLE marts.kpi_values ADD COLUMN IF NOT EXISTS inputs_degraded BOOLEAN;
-- complete (shown and judged by default) or running (shown labelled "to date"; status 'running' unless the KPI
-- may judge it): pipelines/kpi/completeness.py. NULL: stored before the column existed
ALTER TABLE marts.kpi_values ADD COLUMN IF NOT EXISTS period_state VARCHAR;
CREATE TABLE IF NOT EXISTS marts.kpi_history (
    kpi_id VARCHAR NOT NULL,
    unit_code VARCHAR NOT NULL,
    period VARCHAR NOT NULL,
    value DOUBLE,
    status VARCHAR NOT NULL,
    computed_at TIMESTAMPTZ NOT NULL
);
"""

# The DuckDB type of each contract type.
DUCKDB_TYPES = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "number": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMPTZ",
    "month": "VARCHAR",
}

LINEAGE = {
    "_batch_id": "VARCHAR",
    "_source_uri": "VARCHAR",
    "_source_row": "BIGINT",
    "_received_at": "TIMESTAMPTZ",
    "_loaded_at": "TIMESTAMPTZ",
    # when the source last had the record (its receipt, or a snapshot that listed it), and when it was
    # found withdrawn (deleted at the source, or a status that says so); current rows have no _withdrawn_at
    "_last_seen_at": "TIMESTAMPTZ",
    "_withdrawn_at": "TIMESTAMPTZ",
}


def clean_table(feed: Feed) -> str:
    return f"clean.{quote(feed.id)}"


def ensure_clean_table(con, feed: Feed) -> None:
    """Create clean.<feed> from the contract; add columns the contract gained since."""
    columns = {c.name: DUCKDB_TYPES[c.type] for c in feed.columns} | LINEAGE
    body = ", ".join(f"{quote(n)} {t}" for n, t in columns.items())
    con.execute(f"CREATE TABLE IF NOT EXISTS {clean_table(feed)} ({body})")
    existing = {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_catalog = current_database() "
            "AND table_schema = 'clean' AND table_name = ?",
            [feed.id],
        ).fetchall()
    }
    for name, kind in columns.items():
        if name not in existing:
            con.execute(f"ALTER TABLE {clean_table(feed)} ADD COLUMN {quote(name)} {kind}")


def record_key_sql(feed: Feed, alias: str | None = None) -> str:
    """SQL of a row's key as one text (columns joined by '|', a missing value '?'), as ops tables keep it."""
    prefix = f"{alias}." if alias else ""
    return " || '|' || ".join(f"coalesce(CAST({prefix}{quote(c)} AS VARCHAR), '?')" for c in feed.load.key)
