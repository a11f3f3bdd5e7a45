"""Every table of the warehouse is defined here: the operational record (ops.*: the tables as first created,
INITIAL, and the columns added since, MIGRATIONS, which connect() applies once each, in order: migrations.py),
the published rows of each feed (clean.<feed>, from the feed's contract) and the KPI marts (marts.kpi_values,
marts.kpi_history: KPI_DDL, in their current shape, made when first needed). Raw history's views (raw.<feed>,
load/raw.py) and the deadline marts (built whole by each refresh, deadlines/refresh.py) are made by the stages
that fill them.

No table declares a PRIMARY KEY or UNIQUE constraint: DuckLake has none, and both backends run the same
statements. What must be unique (a batch id, a feed's raw column) is kept so by the statements that write
it (an insert of what is not there yet).
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.declarations.models import Feed
from pipelines.warehouse.sql import columns_of, quote

# Version 1 of the warehouse: its tables as first created (IF NOT EXISTS: a warehouse from before the migrations
# has some or all of them). Never changed: a column is added by a migration below.
INITIAL = """
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
CREATE TABLE IF NOT EXISTS ops.schema_migrations (
    version INTEGER NOT NULL,
    name VARCHAR NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL
);
"""

# The KPI marts, in their current shape, made when KPIs are first computed (until then a warehouse has none: "no KPI
# has been computed yet"); a migration that adds a column to one changes this text too, and its ALTER runs only
# where the table exists already.
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
    computed_at TIMESTAMPTZ NOT NULL,
    -- can the value be trusted: its feeds' state when it was computed (pipelines/kpi/trust.py; migration 5)
    stale_feeds VARCHAR[],
    blocked_batches BIGINT,
    quarantined_rows BIGINT,
    inputs_degraded BOOLEAN,
    -- complete (shown and judged by default) or running (shown labelled "to date"; status 'running' unless the
    -- KPI may judge it): pipelines/kpi/completeness.py. NULL: stored before the column existed (migration 8)
    period_state VARCHAR
);
CREATE TABLE IF NOT EXISTS marts.kpi_history (
    kpi_id VARCHAR NOT NULL,
    unit_code VARCHAR NOT NULL,
    period VARCHAR NOT NULL,
    value DOUBLE,
    status VARCHAR NOT NULL,
    computed_at TIMESTAMPTZ NOT NULL
);
"""


@dataclass(frozen=True)
class Migration:
    """One version of the warehouse's schema: statements run in one transaction, then recorded in
    ops.schema_migrations. Every one after the first adds columns, each by a plain ALTER TABLE … ADD COLUMN, or
    adds an ops table (CREATE TABLE)."""

    version: int
    name: str
    statements: tuple[str, ...]


# In order, once each (migrations.py). To change a fixed table, append a Migration with the next version; never
# edit one a warehouse may have applied.
MIGRATIONS = (
    Migration(1, "the tables as first created", (INITIAL,)),
    Migration(
        2,
        "ops.batches: the fields a file's name gives, and the validation's seconds",
        (
            "ALTER TABLE ops.batches ADD COLUMN file_fields JSON",
            "ALTER TABLE ops.batches ADD COLUMN validation_seconds DOUBLE",
        ),
    ),
    Migration(
        3,
        "ops.quarantine: each row's record key, partition and unit, and the batch that superseded it",
        (
            "ALTER TABLE ops.quarantine ADD COLUMN record_key VARCHAR",
            "ALTER TABLE ops.quarantine ADD COLUMN partition_key VARCHAR",
            "ALTER TABLE ops.quarantine ADD COLUMN unit_code VARCHAR",
            "ALTER TABLE ops.quarantine ADD COLUMN superseded_by VARCHAR",
        ),
    ),
    Migration(
        4,
        "ops.batches: valid rows the warehouse held already",
        ("ALTER TABLE ops.batches ADD COLUMN rows_repeated BIGINT DEFAULT 0",),
    ),
    Migration(
        5,
        "marts.kpi_values: its inputs' state when computed (can the value be trusted)",
        (
            "ALTER TABLE marts.kpi_values ADD COLUMN stale_feeds VARCHAR[]",
            "ALTER TABLE marts.kpi_values ADD COLUMN blocked_batches BIGINT",
            "ALTER TABLE marts.kpi_values ADD COLUMN quarantined_rows BIGINT",
            "ALTER TABLE marts.kpi_values ADD COLUMN inputs_degraded BOOLEAN",
        ),
    ),
    Migration(6, "ops.batches: the error in Vietnamese", ("ALTER TABLE ops.batches ADD COLUMN error_vi VARCHAR",)),
    Migration(
        7,
        "ops.submissions: the client's address and the HTTP status answered",
        (
            "ALTER TABLE ops.submissions ADD COLUMN client VARCHAR",
            "ALTER TABLE ops.submissions ADD COLUMN http_status INTEGER",
        ),
    ),
    Migration(
        8,
        "marts.kpi_values: the period's state (complete or running)",
        ("ALTER TABLE marts.kpi_values ADD COLUMN period_state VARCHAR",),
    ),
    Migration(
        9,
        "ops.kpi_pending: what each load and deadline refresh changed, for the KPIs to recompute",
        (
            # written in the load's (the refresh's) own transaction, consumed in the KPI computation's:
            # pipelines/warehouse/pending.py writes it, pipelines/kpi/pending.py reads it. IF NOT EXISTS: a
            # warehouse made by DDL outside connect() (the KPI harness, the benchmarks) has it, and is adopted
            """CREATE TABLE IF NOT EXISTS ops.kpi_pending (
    source VARCHAR NOT NULL,
    batch_id VARCHAR,
    what VARCHAR NOT NULL,
    unit_code VARCHAR,
    first_day DATE,
    last_day DATE,
    recorded_at TIMESTAMPTZ NOT NULL
)""",
        ),
    ),
)
# The tables KPI_DDL makes when first needed: a migration's ALTER of one runs only where it exists.
MADE_WHEN_NEEDED = ("marts.kpi_values", "marts.kpi_history")


def _statements_without(tables: tuple[str, ...]) -> str:
    return ";\n".join(
        s.strip().rstrip(";")
        for m in MIGRATIONS
        for s in m.statements
        if not any(s.startswith(f"ALTER TABLE {t} ") for t in tables)
    )


# The fixed ops tables in their current shape, for a database made outside connect() (the KPI tests' harness, the
# benchmarks): every migration's statements on an empty database (without recording them: connect() adopts it).
DDL = _statements_without(MADE_WHEN_NEEDED) + ";\n"


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
    existing = set(columns_of(con, "clean", feed.id))
    for name, kind in columns.items():
        if name not in existing:
            con.execute(f"ALTER TABLE {clean_table(feed)} ADD COLUMN {quote(name)} {kind}")


def record_key_sql(feed: Feed, alias: str | None = None) -> str:
    """SQL of a row's key as one text (columns joined by '|', a missing value '?'), as ops tables keep it."""
    prefix = f"{alias}." if alias else ""
    return " || '|' || ".join(f"coalesce(CAST({prefix}{quote(c)} AS VARCHAR), '?')" for c in feed.load.key)
