"""Versioned schema migrations: the warehouse records in ops.schema_migrations each version of its schema
applied (tables.MIGRATIONS: version 1 the tables as first created, each later one columns added), and a
connection brings it to the latest — each migration once, in order, in a transaction of its own with its row.

When the warehouse is current, one query runs (VERSION). The backends see that no two processes migrate at once:
the DuckDB file is one process's at a time; DuckLake migrates under the advisory lock of its first attach.

A warehouse from before the migrations (its ops tables, some or all of the added columns, no migrations recorded)
is adopted: every migration is applied and recorded, but a column of versions 2 to BEFORE_MIGRATIONS — those the
ALTER … IF NOT EXISTS lines of then added — that it has already is not added again (the one place the columns
are looked up before adding them; an adoption cut short resumes the same way). Later migrations are plain. An
ALTER of a table made only when first needed (tables.MADE_WHEN_NEEDED: the KPI marts) runs only where the table
exists; KPI_DDL makes it in its current shape.
"""

from __future__ import annotations

import logging
import re

from pipelines.warehouse.sql import literal
from pipelines.warehouse.tables import MADE_WHEN_NEEDED, MIGRATIONS, Migration
from pipelines.warehouse.transaction import committed

log = logging.getLogger(__name__)

VERSION = "SELECT max(version) FROM ops.schema_migrations"
LATEST = MIGRATIONS[-1].version
# The last version whose columns a warehouse from before the migrations may have (each connection then ran
# ALTER TABLE … ADD COLUMN IF NOT EXISTS for them).
BEFORE_MIGRATIONS = 8
ADDS_COLUMN = re.compile(r"ALTER TABLE (\S+) ADD COLUMN (\S+) ", re.IGNORECASE)


def applied_version(con) -> int | None:
    """The latest version the warehouse records, or None (no migration recorded: a new warehouse, or one from
    before the migrations)."""
    import duckdb  # lazy: DuckDB only when a connection opens: the warehouse package imports light (the validation service's forked workers, service._warm)

    try:
        return con.execute(VERSION).fetchall()[0][0]
    except duckdb.CatalogException:  # no ops.schema_migrations (no ops schema either, on a new warehouse)
        return None


def migrate(con) -> list[int]:
    """Bring the warehouse to the latest version; returns the versions applied (none when it was current, and
    then VERSION is all that ran). The caller makes sure no other process migrates the same warehouse at once."""
    applied = applied_version(con)
    if applied is not None and applied >= LATEST:
        return []
    columns = _columns(con)
    if applied is None and columns:  # e.g. ops.batches there, no migration recorded
        log.info("the warehouse has tables but no migrations recorded (from before them): adopting it")
    done = []
    for migration in MIGRATIONS:
        if applied is not None and migration.version <= applied:
            continue
        committed(
            con,
            lambda m=migration: _apply(con, m, columns),
            doing=f"applying the warehouse schema's migration {migration.version}",
        )
        log.info("warehouse schema migration %d applied: %s", migration.version, migration.name)
        done.append(migration.version)
    return done


def _apply(con, migration: Migration, columns: dict[str, set[str]]) -> None:
    for statement in migration.statements:
        adds = ADDS_COLUMN.match(statement.strip())
        if adds:
            table, column = adds.group(1).lower(), adds.group(2).lower()
            if table in MADE_WHEN_NEEDED and table not in columns:
                continue  # KPI_DDL makes it with this column when it is first needed
            if migration.version <= BEFORE_MIGRATIONS and column in columns.get(table, set()):
                continue  # a warehouse from before the migrations that has it already
        con.execute(statement)
    con.execute(  # literals, not parameters: binding one makes duckdb import pandas (0.5 s)
        "INSERT INTO ops.schema_migrations (version, name, applied_at) "
        f"VALUES ({int(migration.version)}, {literal(migration.name)}, now())"
    )


def _columns(con) -> dict[str, set[str]]:
    """The columns of every table of the fixed schemas, by schema.table (one query)."""
    found: dict[str, set[str]] = {}
    for table, column in con.execute(
        "SELECT table_schema || '.' || table_name, column_name FROM information_schema.columns "
        "WHERE table_catalog = current_database() AND table_schema IN ('ops', 'marts')"
    ).fetchall():
        found.setdefault(table.lower(), set()).add(column.lower())
    return found
