"""The warehouse's schema in versions (pipelines/warehouse/migrations.py), on the backend the run is asked for: a new
warehouse is made at the latest version, a current one runs only the version query, and a warehouse from before the
migrations — whole or half-altered — opens, migrates and keeps its rows; two processes opening a new warehouse at
once migrate it once."""

from __future__ import annotations

import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest

from pipelines.warehouse import backend, connect
from pipelines.warehouse.migrations import LATEST, VERSION, migrate
from pipelines.warehouse.tables import DDL, KPI_DDL, MIGRATIONS
from tests.conftest import REPO

# The fixed tables as they were before the migrations (commit 581554f: pipelines/warehouse/tables.py, its DDL and
# KPI_DDL without their ALTER lines), which every connection ran then.
OLD_DDL = """
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
"""

OLD_KPI_DDL = """
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
CREATE TABLE IF NOT EXISTS marts.kpi_history (
    kpi_id VARCHAR NOT NULL,
    unit_code VARCHAR NOT NULL,
    period VARCHAR NOT NULL,
    value DOUBLE,
    status VARCHAR NOT NULL,
    computed_at TIMESTAMPTZ NOT NULL
);
"""

# ... and the ALTER lines they had, in their order: a warehouse of then had some or all of them applied.
OLD_ALTERS = [
    "ALTER TABLE ops.batches ADD COLUMN IF NOT EXISTS file_fields JSON",
    "ALTER TABLE ops.batches ADD COLUMN IF NOT EXISTS validation_seconds DOUBLE",
    "ALTER TABLE ops.quarantine ADD COLUMN IF NOT EXISTS record_key VARCHAR",
    "ALTER TABLE ops.quarantine ADD COLUMN IF NOT EXISTS partition_key VARCHAR",
    "ALTER TABLE ops.quarantine ADD COLUMN IF NOT EXISTS unit_code VARCHAR",
    "ALTER TABLE ops.quarantine ADD COLUMN IF NOT EXISTS superseded_by VARCHAR",
    "ALTER TABLE ops.batches ADD COLUMN IF NOT EXISTS rows_repeated BIGINT DEFAULT 0",
    "ALTER TABLE ops.batches ADD COLUMN IF NOT EXISTS error_vi VARCHAR",
    "ALTER TABLE ops.submissions ADD COLUMN IF NOT EXISTS client VARCHAR",
    "ALTER TABLE ops.submissions ADD COLUMN IF NOT EXISTS http_status INTEGER",
]
OLD_KPI_ALTERS = [
    "ALTER TABLE marts.kpi_values ADD COLUMN IF NOT EXISTS stale_feeds VARCHAR[]",
    "ALTER TABLE marts.kpi_values ADD COLUMN IF NOT EXISTS blocked_batches BIGINT",
    "ALTER TABLE marts.kpi_values ADD COLUMN IF NOT EXISTS quarantined_rows BIGINT",
    "ALTER TABLE marts.kpi_values ADD COLUMN IF NOT EXISTS inputs_degraded BOOLEAN",
    "ALTER TABLE marts.kpi_values ADD COLUMN IF NOT EXISTS period_state VARCHAR",
]
COLUMNS = ("SELECT table_schema || '.' || table_name, column_name, data_type FROM information_schema.columns "
           "WHERE table_catalog = current_database() AND table_schema IN ('ops', 'marts')")
RECORDED = "SELECT version, count(*) FROM ops.schema_migrations GROUP BY version ORDER BY version"
EVERY_VERSION_ONCE = [(m.version, 1) for m in MIGRATIONS]
LOADED_AT = datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc)


def columns_of(con) -> set[tuple[str, str, str]]:
    return set(con.execute(COLUMNS).fetchall())


def current_schema() -> set[tuple[str, str, str]]:
    """Every fixed table's columns at the latest version: the ops tables as tables.DDL makes them on an empty
    database, the KPI marts as KPI_DDL makes them."""
    reference = duckdb.connect()
    reference.execute(DDL)
    reference.execute(KPI_DDL)
    return columns_of(reference)


@contextmanager
def unmigrated():
    """The test's warehouse opened as a process before the migrations would (no connect(): nothing migrated)."""
    from pipelines.warehouse.backends import LAKE, extension_file, lake_settings
    from pipelines.warehouse.sql import literal
    from pipelines.settings import paths

    if backend() == "duckdb":
        paths().home.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(paths().warehouse))
    else:
        catalog, data = lake_settings()
        Path(data).mkdir(parents=True, exist_ok=True)
        con = duckdb.connect()
        for name in ("postgres_scanner", "ducklake"):
            con.execute(f"LOAD {literal(str(extension_file(name)))}")
        con.execute(f"ATTACH {literal('ducklake:postgres:' + catalog)} AS {LAKE} (DATA_PATH {literal(data)})")
        con.execute(f"USE {LAKE}")
    try:
        yield con
    finally:
        con.close()


class Recording:
    """A connection that notes each statement it is given."""

    def __init__(self, con, statements: list[str]):
        self.con, self.statements = con, statements

    def execute(self, sql, *args):
        self.statements.append(" ".join(sql.split()))
        return self.con.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self.con, name)


@pytest.fixture
def watch(monkeypatch):
    """watch() -> the statements the migrations of the next connections run, noted from then on (on DuckLake the
    process attaches the lake again, as a new process would, and migrates then: not at each connection)."""
    import pipelines.warehouse.backends as backends

    def start() -> list[str]:
        seen: list[str] = []
        monkeypatch.setattr(backends, "migrate", lambda con: migrate(Recording(con, seen)))
        monkeypatch.setattr(backends.BACKENDS["ducklake"], "_lake", None)
        return seen

    return start


def test_a_new_warehouse_is_made_at_the_latest_version_with_every_migration_recorded_once(watch):
    statements = watch()
    with connect() as con:
        recorded = con.execute(RECORDED).fetchall()
        names = con.execute("SELECT version, name FROM ops.schema_migrations ORDER BY version").fetchall()
        columns = columns_of(con)

    assert recorded == EVERY_VERSION_ONCE and recorded[-1][0] == LATEST
    assert names == [(m.version, m.name) for m in MIGRATIONS]
    assert columns == {c for c in current_schema() if not c[0].startswith("marts.")}, \
        "the ops tables as tables.DDL makes them; the KPI marts are made when KPIs are first computed"
    assert statements[0] == VERSION
    assert sum(s.startswith("INSERT INTO ops.schema_migrations") for s in statements) == len(MIGRATIONS)
    assert not [s for s in statements if s.startswith("ALTER TABLE marts.")], "no KPI marts yet: nothing to alter"


def test_connecting_again_applies_nothing_and_runs_only_the_version_query(watch):
    with connect() as con:
        pass
    seen = watch()
    for _ in range(2):
        with connect() as con:
            assert con.execute("SELECT count(*) FROM ops.schema_migrations").fetchall() == [(len(MIGRATIONS),)]
    assert seen == [VERSION] * (2 if backend() == "duckdb" else 1), \
        "the file checks at each connection, the lake at its attach in the process; the version query is all"


@pytest.mark.parametrize("altered", ["none", "some"])
def test_a_warehouse_from_before_the_migrations_opens_migrates_and_keeps_its_rows(watch, altered):
    """Before the migrations every connection ran the DDL and its ALTER … IF NOT EXISTS lines: a warehouse of then
    has the tables with all of the added columns, or (from an older version) only some: here none of them, or the
    first five of the ops tables' and two of the KPI values' (versions 3 and 5 in part)."""
    with unmigrated() as old:
        old.execute(OLD_DDL)
        old.execute(OLD_KPI_DDL)
        for alter in (OLD_ALTERS[:5] + OLD_KPI_ALTERS[:2]) if altered == "some" else []:
            old.execute(alter)
        old.execute("INSERT INTO ops.batches (batch_id, feed, source_uri, received_at, loaded_at, rows_received, "
                    "rows_loaded, rows_quarantined, status, warnings) VALUES ('b-1', 'dept_monthly_report', "
                    "'file:///inbox/SKHCN_2026-10.csv', ?, ?, 3, 2, 1, 'partial', ['a warning'])",
                    [LOADED_AT, LOADED_AT])
        old.execute("INSERT INTO marts.kpi_values (kpi_id, unit_code, period, value, status, computed_at) "
                    "VALUES ('tasks_overdue', 'HP', '2026-10', 4, 'red', ?)", [LOADED_AT])
        before = columns_of(old)
        assert not [c for c in before if c[0] == "ops.schema_migrations"]

    statements = watch()
    with connect() as con:
        recorded = con.execute(RECORDED).fetchall()
        columns = columns_of(con)
        batches = con.execute("SELECT batch_id, feed, source_uri, received_at, rows_received, rows_loaded, "
                              "rows_quarantined, rows_repeated, status, warnings, file_fields, error_vi "
                              "FROM ops.batches").fetchall()
        kpis = con.execute("SELECT kpi_id, unit_code, period, value, status, period_state FROM marts.kpi_values").fetchall()
        con.execute(KPI_DDL)  # as the KPI stages still run it: nothing to make
        assert columns_of(con) == columns

    assert recorded == EVERY_VERSION_ONCE
    assert columns == current_schema(), "every column of the latest version, none twice"
    assert before < columns
    assert batches == [("b-1", "dept_monthly_report", "file:///inbox/SKHCN_2026-10.csv", LOADED_AT, 3, 2, 1, 0,
                        "partial", ["a warning"], None, None)], "its row kept, rows_repeated its default"
    assert kpis == [("tasks_overdue", "HP", "2026-10", 4.0, "red", None)]
    added = [s.split()[2] + "." + s.split()[5] for s in statements if s.startswith("ALTER TABLE")]
    present = {f"{table}.{column}" for table, column, _ in before}
    assert added and not set(added) & present, "a column the warehouse had is not added again"
    assert len(added) == len(set(added))


def test_an_adoption_cut_short_resumes_without_adding_a_column_twice(watch):
    """A warehouse from before the migrations with every column, whose adoption stopped after version 3."""
    with unmigrated() as old:
        old.execute(OLD_DDL)
        old.execute(OLD_KPI_DDL)
        for alter in OLD_ALTERS + OLD_KPI_ALTERS:
            old.execute(alter)
        old.execute(MIGRATIONS[0].statements[0])  # version 1 makes ops.schema_migrations
        for m in MIGRATIONS[:3]:
            old.execute("INSERT INTO ops.schema_migrations VALUES (?, ?, now())", [m.version, m.name])

    statements = watch()
    with connect() as con:
        assert con.execute(RECORDED).fetchall() == EVERY_VERSION_ONCE
        assert columns_of(con) == current_schema()
    assert not [s for s in statements if s.startswith("ALTER TABLE")], "every column was there"


def test_a_warehouse_made_by_ddl_outside_connect_is_adopted(home):
    """The KPI tests' harness and the benchmarks make the ops tables with tables.DDL, recording no version."""
    with unmigrated() as con:
        con.execute(DDL)
        assert con.execute(RECORDED).fetchall() == []
    with connect() as con:
        assert con.execute(RECORDED).fetchall() == EVERY_VERSION_ONCE
        assert columns_of(con) == {c for c in current_schema() if not c[0].startswith("marts.")}


CONNECT_AT_ONCE = """
import logging, sys, time
from pathlib import Path

logging.basicConfig(level=logging.INFO, format="%(message)s")
from pipelines.warehouse import connect

gate = Path(sys.argv[1])
(gate / sys.argv[2]).touch()
while not (gate / "go").exists():
    time.sleep(0.005)
with connect() as con:
    print(con.execute("SELECT count(*) FROM ops.schema_migrations").fetchall()[0][0])
"""


def test_two_processes_opening_a_new_warehouse_at_once_both_succeed_and_migrate_it_once(tmp_path):
    gate = tmp_path / "gate"
    gate.mkdir()
    processes = [subprocess.Popen([sys.executable, "-c", CONNECT_AT_ONCE, str(gate), f"ready-{n}"], cwd=REPO,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in (1, 2)]
    deadline = time.monotonic() + 120
    while len(list(gate.glob("ready-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    (gate / "go").touch()  # both imported and waiting: they connect at once
    results = [p.communicate(timeout=240) + (p.returncode,) for p in processes]

    assert [rc for *_, rc in results] == [0, 0], [err[-3000:] for _, err, _ in results]
    assert [out.split() for out, _, _ in results] == [[str(len(MIGRATIONS))]] * 2
    applied = [line for _, err, _ in results for line in err.splitlines() if "schema migration" in line]
    assert sorted(applied) == sorted(f"warehouse schema migration {m.version} applied: {m.name}" for m in MIGRATIONS), \
        "each migration applied by one of the two"
    with connect() as con:
        assert con.execute(RECORDED).fetchall() == EVERY_VERSION_ONCE
