"""Connecting to the warehouse, on the backend `IOC_WAREHOUSE` names: `duckdb` (the default, one DuckDB file) or
`ducklake` (a DuckLake, its catalog in PostgreSQL). Each backend is a class (backends.py: DuckDBFile, DuckLake);
chosen() is the one place that picks it, and the functions here, which every stage imports, call its methods.

Either way a connection comes with the warehouse's schema at its latest version (migrations.py).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from datetime import datetime

from pipelines.warehouse.backends import (
    BACKENDS,
    DEFAULT_TIMEOUT_SECONDS,
    LAKE,
    S3_SETTINGS,
    SETTINGS_A_CONNECTION_MAY_CHANGE,
    WRITER,
    Backend,
    Check,
    Held,
    NoTimeTravel,
    WarehouseBusy,
    extension_file,
    is_object_storage,
    lake_settings,
    use_object_storage,
)
from pipelines.warehouse.sql import columns_of, view_sql

__all__ = [
    "BACKENDS",
    "DEFAULT_TIMEOUT_SECONDS",
    "LAKE",
    "S3_SETTINGS",
    "SETTINGS_A_CONNECTION_MAY_CHANGE",
    "WRITER",
    "Backend",
    "Check",
    "Held",
    "NoTimeTravel",
    "WarehouseBusy",
    "backend",
    "check",
    "chosen",
    "compact",
    "claimed",
    "columns_of",
    "connect",
    "exclusive",
    "extension_file",
    "has_clean_table",
    "initialise",
    "is_view",
    "is_object_storage",
    "lake_settings",
    "table_exists",
    "use_object_storage",
    "view_sql",
]


def backend() -> str:
    """The backend IOC_WAREHOUSE names (duckdb unless set)."""
    name = os.environ.get("IOC_WAREHOUSE", "duckdb").strip().lower() or "duckdb"
    if name not in BACKENDS:
        raise ValueError(f"IOC_WAREHOUSE={name!r}: expected one of {', '.join(BACKENDS)}")
    return name


def chosen() -> Backend:
    """The backend IOC_WAREHOUSE names, as the object that does what differs between the backends."""
    return BACKENDS[backend()]


@contextmanager
def connect(timeout: float = DEFAULT_TIMEOUT_SECONDS, as_of: datetime | None = None):
    """A DuckDB connection to the warehouse, held under the platform's writer lock; or, with `as_of`, a
    read-only connection to the warehouse as it stood at that moment (DuckLake keeps every snapshot; the DuckDB
    file none: NoTimeTravel)."""
    warehouse = chosen()
    with warehouse.as_of(as_of, timeout) if as_of is not None else warehouse.connect(timeout) as con:
        yield con


@contextmanager
def exclusive(name: str, timeout: float = DEFAULT_TIMEOUT_SECONDS):
    """One process at a time, on any machine, for what `name` names (e.g. the commits of one feed's batches, which
    merge into one clean table): a PostgreSQL advisory lock in the lake's catalog database, held until the block
    ends (or the process dies). On the DuckDB file, connect() is exclusive already: nothing more is taken.

    It yields the lock held: `confirm(doing)` before what it guards goes on (a merge, its commit) raises LockLost
    if the lock's session was cut meanwhile (its lock gone with it, maybe to another process)."""
    with chosen().exclusive(name, timeout) as held:
        yield held


@contextmanager
def claimed(names: list[str]):
    """What this process may take of `names` (e.g. landed batches that several workers could load): the set of
    those no other process holds, each held until the block ends (or the process dies) — PostgreSQL advisory
    locks in the lake's catalog database, taken without waiting, all in one session. On the DuckDB file,
    connect() is exclusive already: every name is this process's."""
    with chosen().claimed(names) as mine:
        yield mine


def check() -> list[Check]:
    """Whether what the warehouse needs answers and can be written, one line each (`ioc warehouse check`): the DuckDB
    file; or the DuckLake's catalog and data path; and raw history's path."""
    return chosen().check()


def initialise() -> str:
    """Make the warehouse ready for its writers and say where it is: the DuckDB file with its tables, or the
    DuckLake catalog (its PostgreSQL database created if the server lacks it, then the lake's own tables) —
    once, before parallel writers start (two initialising one empty catalog at once collide)."""
    return chosen().initialise()


def compact(con, keep_days: int) -> dict[str, int]:
    """The warehouse's small files merged, its history older than `keep_days` let go (Backend.compact)."""
    return chosen().compact(con, keep_days)


def is_view(con, schema: str, name: str) -> bool:
    """Whether schema.name is a view."""
    return view_sql(con, schema, name) is not None


def table_exists(con, schema: str, table: str) -> bool:
    return chosen().table_exists(con, schema, table)


def has_clean_table(con, feed_id: str) -> bool:
    """Whether clean.<feed> exists (a feed that never published has none)."""
    return table_exists(con, "clean", feed_id)
