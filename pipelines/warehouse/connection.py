"""Connecting to the warehouse, on the backend `IOC_WAREHOUSE` names.

- `duckdb` (the default): one DuckDB file, $IOC_HOME/warehouse.duckdb. DuckDB lets one process open the
  file at a time and fails at once when another holds it, so every process of the platform (Airflow tasks,
  the CLI, tests) takes the same file lock first and waits for it: parallel tasks queue instead of failing;
  an outside process holding DuckDB's own lock is retried until the timeout.
- `ducklake`: a DuckLake, its catalog in PostgreSQL (`IOC_DUCKLAKE_CATALOG`, a libpq connection string such
  as `dbname=ioc host=127.0.0.1 user=ioc`; a password comes from libpq's own `PGPASSWORD` or `~/.pgpass`,
  never from a file of ours) and its data as Parquet files under `IOC_DUCKLAKE_DATA` (a directory every
  worker mounts; default $IOC_HOME/lake/). Each connection is an in-memory DuckDB (its temporary tables stay
  in the process) with the lake attached and in use, so every statement reads and writes the same names as
  on the file. Writers commit side by side (a conflicting commit runs again: transaction.py); what must run
  once at a time (the commits of one feed's batches) takes exclusive(), and a landed batch that several
  workers could load is claimed() by one of them: PostgreSQL advisory locks, which hold across machines.

Either way a connection comes with the fixed tables created (tables.py).
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from filelock import FileLock, Timeout

from pipelines.settings import paths
from pipelines.warehouse.sql import literal
from pipelines.warehouse.tables import DDL

DEFAULT_TIMEOUT_SECONDS = 600.0
BACKENDS = ("duckdb", "ducklake")
LAKE = "warehouse"  # the name the lake is attached under (the catalog every statement reads)


class WarehouseBusy(Exception):
    """The warehouse stayed locked by another process past the timeout."""


def backend() -> str:
    """The backend IOC_WAREHOUSE names (duckdb unless set)."""
    name = os.environ.get("IOC_WAREHOUSE", "duckdb").strip().lower() or "duckdb"
    if name not in BACKENDS:
        raise ValueError(f"IOC_WAREHOUSE={name!r}: expected one of {', '.join(BACKENDS)}")
    return name


class NoTimeTravel(ValueError):
    """The warehouse cannot show an earlier state (the DuckDB file keeps none, or not from that time)."""


@contextmanager
def connect(timeout: float = DEFAULT_TIMEOUT_SECONDS, as_of: datetime | None = None):
    """A DuckDB connection to the warehouse, held under the platform's writer lock; or, with `as_of`, a
    read-only connection to the warehouse as it stood at that moment (DuckLake keeps every snapshot)."""
    if as_of is not None:
        with _lake_as_of(as_of, timeout) as con:
            yield con
        return
    if backend() == "ducklake":
        with _lake_connection(timeout) as con:
            yield con
        return
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
            if is_object_storage(p.raw_history):  # raw history in object storage: its views read s3:// files
                use_object_storage(con)
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


def lake_settings() -> tuple[str, str]:
    """The DuckLake catalog's connection string and the data path (a directory, or an s3:// URL), ending in '/'."""
    catalog = os.environ.get("IOC_DUCKLAKE_CATALOG", "").strip()
    if not catalog:
        raise ValueError(
            "IOC_WAREHOUSE=ducklake needs IOC_DUCKLAKE_CATALOG, the PostgreSQL catalog's libpq "
            "connection string (e.g. 'dbname=ioc host=127.0.0.1 user=ioc'; its password in PGPASSWORD)"
        )
    data = os.environ.get("IOC_DUCKLAKE_DATA", "").strip() or str(paths().home / "lake")
    if not is_object_storage(data):
        data = str(Path(data).resolve())
    return catalog, data.rstrip("/") + "/"


def is_object_storage(path: str) -> bool:
    """Whether a data path is in S3-compatible object storage (s3://bucket/prefix) rather than a directory."""
    return str(path).startswith("s3://")


S3_SETTINGS = {  # the S3 secret's parameters, from the environment (the keys are never written anywhere)
    "KEY_ID": "AWS_ACCESS_KEY_ID",
    "SECRET": "AWS_SECRET_ACCESS_KEY",
    "SESSION_TOKEN": "AWS_SESSION_TOKEN",
    "REGION": "AWS_REGION",
    "ENDPOINT": "IOC_S3_ENDPOINT",
    "URL_STYLE": "IOC_S3_URL_STYLE",
    "USE_SSL": "IOC_S3_USE_SSL",
}


def use_object_storage(database) -> None:
    """Let a DuckDB database read and write s3:// paths: the httpfs extension (PyPI's duckdb-extension-httpfs) and
    a temporary S3 secret made from the environment — AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and
    AWS_SESSION_TOKEN, AWS_REGION) as every S3 client reads them, and for storage other than AWS (MinIO, Ceph…)
    IOC_S3_ENDPOINT (host:port), IOC_S3_URL_STYLE (path) and IOC_S3_USE_SSL (false for plain HTTP)."""
    database.execute(f"LOAD {literal(str(extension_file('httpfs')))}")
    missing = [v for v in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if not os.environ.get(v)]
    if missing:
        raise ValueError(
            f"a data path in object storage (s3://…) needs {' and '.join(missing)} in the environment "
            "(the storage's access key; never in a file of the project)"
        )
    parameters = ["TYPE s3"]
    for key, variable in S3_SETTINGS.items():
        value = os.environ.get(variable, "").strip()
        if value and key == "USE_SSL":
            parameters.append(f"USE_SSL {'false' if value.lower() in ('0', 'false', 'no') else 'true'}")
        elif value:
            parameters.append(f"{key} {literal(value)}")
    database.execute(f"CREATE OR REPLACE TEMPORARY SECRET ioc_s3 ({', '.join(parameters)})")


def extension_file(name: str) -> Path:
    """The extension file a `duckdb-extension-*` package installs for this duckdb version."""
    import importlib

    import duckdb

    package = importlib.import_module(f"duckdb_extension_{name}")
    file = Path(package.__file__).parent / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not file.exists():
        raise RuntimeError(
            f"{file} is missing: duckdb-extension-{name.replace('_', '-')} must match "
            f"duckdb {duckdb.__version__} (pyproject.toml pins both)"
        )
    return file


@contextmanager
def _lake_as_of(moment: datetime, timeout: float):
    """The lake as it stood at `moment`, attached read-only for this connection alone."""
    if backend() != "ducklake":
        raise NoTimeTravel(
            "the warehouse is a DuckDB file, which keeps no earlier states: what a KPI was as "
            "reported on a date needs the DuckLake warehouse (IOC_WAREHOUSE=ducklake)"
        )
    import duckdb

    if moment.tzinfo is None:
        raise ValueError("as_of must carry its time zone")
    catalog, data = lake_settings()
    database = _lake_database(catalog, data, timeout)
    name = f"as_of_{uuid.uuid4().hex}"
    try:
        database.execute(
            f"ATTACH {literal('ducklake:postgres:' + catalog)} AS {name} (DATA_PATH "
            f"{literal(data)}, SNAPSHOT_TIME {literal(moment.isoformat())}, READ_ONLY)"
        )
    except duckdb.Error as exc:
        if "no snapshot found" not in str(exc).lower():
            raise
        first = database.execute(f"SELECT min(snapshot_time) FROM ducklake_snapshots({literal(LAKE)})").fetchall()[0][0]
        raise NoTimeTravel(
            f"the warehouse has no state as of {moment.isoformat()}: its history starts at "
            f"{first.isoformat() if first else 'its first load'}"
        ) from None
    con = database.cursor()
    try:
        con.execute(f"USE {name}")
        yield con
    finally:
        con.close()
        database.execute(f"DETACH {name}")


@contextmanager
def _lake_connection(timeout: float):
    catalog, data = lake_settings()
    database = _lake_database(catalog, data, timeout)
    # No lock: writers commit side by side (a conflicting commit is run again, transaction.py); what must not
    # run twice at once (one feed's commits) takes exclusive().
    con = database.cursor()
    try:
        for setting in SETTINGS_A_CONNECTION_MAY_CHANGE:  # the lake's database outlives this connection
            con.execute(f"RESET {setting}")
        con.execute(f"USE {LAKE}")
        yield con
    finally:
        con.close()


@contextmanager
def exclusive(name: str, timeout: float = DEFAULT_TIMEOUT_SECONDS):
    """One process at a time, on any machine, for what `name` names (e.g. the commits of one feed's batches, which
    merge into one clean table): a PostgreSQL advisory lock in the lake's catalog database, held until the block ends (or
    the process dies). On the DuckDB file, connect() is exclusive already: nothing more is taken."""
    if backend() != "ducklake":
        yield
        return
    import psycopg

    catalog, _ = lake_settings()
    with psycopg.connect(catalog, autocommit=True) as guard:
        _advisory_lock(guard, catalog, timeout, name)
        yield


@contextmanager
def claimed(names: list[str]):
    """What this process may take of `names` (e.g. landed batches that several workers could load): the set of
    those no other process holds, each held until the block ends (or the process dies) — PostgreSQL advisory
    locks in the lake's catalog database, taken without waiting, all in one session. On the DuckDB file,
    connect() is exclusive already: every name is this process's."""
    if backend() != "ducklake" or not names:
        yield set(names)
        return
    import psycopg

    catalog, _ = lake_settings()
    with psycopg.connect(catalog, autocommit=True) as guard:
        yield {
            name for name in names if guard.execute("SELECT pg_try_advisory_lock(%s)", [_lock_key(name)]).fetchone()[0]
        }


SETTINGS_A_CONNECTION_MAY_CHANGE = ("memory_limit", "preserve_insertion_order")
_lake: tuple | None = None  # (pid, catalog, data path, the in-memory database with the lake attached)


def _lake_database(catalog: str, data: str, timeout: float):
    """This process's in-memory DuckDB with the extensions loaded, the lake attached and its tables made: done
    once per process (0.3 s), each connection a cursor of it. A forked child makes its own."""
    if _lake is not None and _lake[:3] == (os.getpid(), catalog, data):
        return _lake[3]
    import psycopg

    with psycopg.connect(catalog, autocommit=True) as guard:  # the lake's first attach writes its catalog
        _advisory_lock(guard, catalog, timeout, WRITER)
        return _attach_lake(catalog, data)


def _attach_lake(catalog: str, data: str):
    global _lake
    import duckdb

    database = duckdb.connect()
    for name in ("postgres_scanner", "ducklake"):
        database.execute(f"LOAD {literal(str(extension_file(name)))}")
    if is_object_storage(data) or is_object_storage(paths().raw_history):
        use_object_storage(database)
    if not is_object_storage(data):
        Path(data).mkdir(parents=True, exist_ok=True)
    # The first ATTACH creates the catalog's tables (under the writer lock: two at once collide).
    database.execute(f"ATTACH {literal('ducklake:postgres:' + catalog)} AS {LAKE} (DATA_PATH {literal(data)})")
    database.execute(f"USE {LAKE}")
    database.execute(DDL)
    _lake = (os.getpid(), catalog, data, database)
    return database


def initialise() -> str:
    """Make the warehouse ready for its writers and say where it is: the DuckDB file with its tables, or the
    DuckLake catalog (its PostgreSQL database created if the server lacks it, then the lake's own tables) —
    once, before parallel writers start (two initialising one empty catalog at once collide)."""
    if backend() == "ducklake":
        import psycopg
        from psycopg import sql
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        catalog, data = lake_settings()
        parts = conninfo_to_dict(catalog)
        dbname = parts.get("dbname")
        if dbname:
            with psycopg.connect(make_conninfo(**{**parts, "dbname": "postgres"}), autocommit=True) as admin:
                if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone():
                    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        with connect():
            pass
        return f"DuckLake: catalog {make_conninfo(**{k: v for k, v in parts.items() if k != 'password'})}, data {data}"
    with connect():
        pass
    return f"DuckDB file {paths().warehouse}"


WRITER = "ioc-warehouse-writer"  # the advisory lock the lake's first attach (its catalog's creation) takes


def _lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def _advisory_lock(guard, catalog: str, timeout: float, name: str) -> None:
    key = _lock_key(name)
    deadline = time.monotonic() + timeout
    delay = 0.05
    while not guard.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone()[0]:
        if time.monotonic() > deadline:
            raise WarehouseBusy(
                f"{name!r} stayed locked for {timeout:.0f} s by another process of the platform "
                f"(DuckLake catalog {catalog}); see pg_locks where locktype = 'advisory'"
            )
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


def table_exists(con, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_catalog = current_database() "
            "AND table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchall()
    )


def has_clean_table(con, feed_id: str) -> bool:
    """Whether clean.<feed> exists (a feed that never published has none)."""
    return table_exists(con, "clean", feed_id)
