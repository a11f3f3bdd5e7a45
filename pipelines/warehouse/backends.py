"""The warehouse's two backends, one interface (Backend): what differs between them is here, each backend a class;
connection.py picks one from IOC_WAREHOUSE and every stage calls it through the same functions.

- DuckDBFile (`duckdb`, the default): one DuckDB file, $IOC_HOME/warehouse.duckdb. DuckDB lets one process open
  the file at a time and fails at once when another holds it, so every process of the platform (Airflow tasks,
  the CLI, tests) takes the same file lock first and waits for it: parallel tasks queue instead of failing;
  an outside process holding DuckDB's own lock is retried until the timeout.
- DuckLake (`ducklake`): a DuckLake, its catalog in PostgreSQL (`IOC_DUCKLAKE_CATALOG`, a libpq connection string
  such as `dbname=ioc host=127.0.0.1 user=ioc`; a password comes from libpq's own `PGPASSWORD` or `~/.pgpass`,
  never from a file of ours) and its data as Parquet files under `IOC_DUCKLAKE_DATA` (a directory every
  worker mounts; default $IOC_HOME/lake/). Each connection is an in-memory DuckDB (its temporary tables stay
  in the process) with the lake attached and in use, so every statement reads and writes the same names as
  on the file. Writers commit side by side (a conflicting commit runs again: transaction.py); what must run
  once at a time (the commits of one feed's batches) takes exclusive(), and a landed batch that several
  workers could load is claimed() by one of them: PostgreSQL advisory locks, which hold across machines.

Either way a connection comes with the warehouse's schema at its latest version (migrations.py): on the file at
each connection, on DuckLake at the process's first.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import tempfile
import time
import uuid
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path

from filelock import FileLock, Timeout

from pipelines.settings import paths
from pipelines.warehouse.catalog import LockLost, catalog_named, catalog_setting, lost_connection
from pipelines.warehouse.migrations import migrate
from pipelines.warehouse.sql import columns_of, literal
from pipelines.warehouse.transaction import committed

DEFAULT_TIMEOUT_SECONDS = 600.0


class WarehouseBusy(Exception):
    """The warehouse stayed locked by another process past the timeout."""


class NoTimeTravel(ValueError):
    """The warehouse cannot show an earlier state (the DuckDB file keeps none, or not from that time)."""


class Held:
    """A lock exclusive() holds for its block. confirm() says, before what it guards goes on, that it still is
    held: here always (the DuckDB file is the process's until it closes it)."""

    def confirm(self, doing: str) -> None:
        """Raise LockLost if the lock is no longer held; `doing` says what was about to go on."""


Check = tuple[bool, str]  # one line of `ioc warehouse check`: whether it is fine, and what was found


class Backend(ABC):
    """What a warehouse backend does; the module-level functions of connection.py call the chosen one's."""

    name: str
    writers: int  # the slots of Airflow's writer pool (scheduler/environment.py)
    writers_description: str

    @abstractmethod
    def connect(self, timeout: float) -> AbstractContextManager:
        """A DuckDB connection to the warehouse (its schema current), for the block."""
        raise NotImplementedError

    @abstractmethod
    def as_of(self, moment: datetime, timeout: float) -> AbstractContextManager:
        """A read-only connection to the warehouse as it stood at `moment`, or NoTimeTravel."""
        raise NotImplementedError

    @abstractmethod
    def exclusive(self, name: str, timeout: float) -> AbstractContextManager[Held]:
        """One process at a time, on any machine, for what `name` names, for the block: the lock, held."""
        raise NotImplementedError

    @abstractmethod
    def claimed(self, names: list[str]) -> AbstractContextManager:
        """What this process may take of `names`: the set no other process holds, each held for the block."""
        raise NotImplementedError

    @abstractmethod
    def initialise(self) -> str:
        """Make the warehouse ready for its writers (its schema current); say where it is."""
        raise NotImplementedError

    @abstractmethod
    def compact(self, con, keep_days: int) -> dict[str, int]:
        """Merge the warehouse's small files and let go of its history older than `keep_days` days (its time
        travel stops there); what it did, counted."""
        raise NotImplementedError

    @abstractmethod
    def check(self) -> list[Check]:
        """Whether what the warehouse needs answers and can be written, one line each, without waiting for a writer
        and without opening the warehouse (`ioc warehouse check`)."""
        raise NotImplementedError

    def table_exists(self, con, schema: str, table: str) -> bool:
        """Whether schema.table (a table or a view) is in the warehouse (the catalog the connection uses, either
        backend): see columns_of()."""
        return bool(columns_of(con, schema, table, limit=1))


class DuckDBFile(Backend):
    """One DuckDB file, opened by one process at a time under the platform's file lock."""

    name = "duckdb"
    writers = 1
    writers_description = "One writer of the DuckDB warehouse at a time"

    @contextmanager
    def connect(self, timeout: float):
        import duckdb  # lazy: DuckDB only when a connection opens: the warehouse package imports light (the validation service's forked workers, service._warm)

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
            con = self._open(duckdb, str(p.warehouse), deadline=started + timeout)
            try:
                if is_object_storage(p.raw_history):  # raw history in object storage: its views read s3:// files
                    use_object_storage(con)
                migrate(con)  # one process at a time holds the file: no other migrates it meanwhile
                yield con
            finally:
                con.close()
        finally:
            lock.release()

    @staticmethod
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

    def as_of(self, moment: datetime, timeout: float):
        raise NoTimeTravel(
            "the warehouse is a DuckDB file, which keeps no earlier states: what a KPI was as "
            "reported on a date needs the DuckLake warehouse (IOC_WAREHOUSE=ducklake)"
        )

    @contextmanager
    def exclusive(self, name: str, timeout: float):
        yield Held()  # connect() is exclusive already: nothing more is taken

    @contextmanager
    def claimed(self, names: list[str]):
        yield set(names)  # connect() is exclusive already: every name is this process's

    def initialise(self) -> str:
        with self.connect(DEFAULT_TIMEOUT_SECONDS):
            pass
        return f"DuckDB file {paths().warehouse}"

    def compact(self, con, keep_days: int) -> dict[str, int]:
        """The file keeps no history and compacts itself as it commits: a CHECKPOINT writes its log into it."""
        con.execute("CHECKPOINT")
        return {}

    def check(self) -> list[Check]:
        """The file (or, before it is made, its directory) and raw history's directory, writable by this user. The
        file is not opened: a load holding it would make the check wait."""
        p = paths()
        file = p.warehouse
        if file.exists():
            ok = os.access(file, os.R_OK | os.W_OK) and os.access(file.parent, os.W_OK)  # (and its .wal beside it)
            said = f"writable, {file.stat().st_size / 1e6:.1f} MB" if ok else "not writable by this user"
            found = [(ok, f"DuckDB file {file}: {said}")]
        else:
            ok, said = directory_check("directory", file.parent, made_by="`ioc warehouse init` or the first load")
            found = [(ok, f"DuckDB file {file}: not made yet; its {said}")]
        return [*found, storage_check("raw history", p.raw_history)]


LAKE = "warehouse"  # the name the lake is attached under (the catalog every statement reads)
WRITER = "ioc-warehouse-writer"  # the advisory lock of the lake's first attach in a process (its catalog, its schema)
SETTINGS_A_CONNECTION_MAY_CHANGE = ("memory_limit", "preserve_insertion_order")


class DuckLake(Backend):
    """A DuckLake: its catalog in PostgreSQL, its data Parquet files; writers side by side, each process with the
    lake attached once (an in-memory DuckDB), each connection a cursor of it."""

    name = "ducklake"
    writers = 4  # loads commit side by side (one feed's merges one at a time)
    writers_description = "Loads side by side on the DuckLake warehouse (the merges of one feed one at a time)"

    def __init__(self) -> None:
        self._lake: tuple | None = None  # (pid, catalog, data path, the in-memory database with the lake attached)

    @contextmanager
    def connect(self, timeout: float):
        catalog, data = lake_settings()
        database = self._database(catalog, data, timeout)
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
    def as_of(self, moment: datetime, timeout: float):
        """The lake as it stood at `moment`, attached read-only for this connection alone."""
        import duckdb  # lazy: DuckDB only when a connection opens: the warehouse package imports light (the validation service's forked workers, service._warm)

        if moment.tzinfo is None:
            raise ValueError("as_of must carry its time zone")
        catalog, data = lake_settings()
        database = self._database(catalog, data, timeout)
        name = f"as_of_{uuid.uuid4().hex}"
        try:
            database.execute(
                f"ATTACH {literal('ducklake:postgres:' + catalog)} AS {name} (DATA_PATH "
                f"{literal(data)}, SNAPSHOT_TIME {literal(moment.isoformat())}, READ_ONLY)"
            )
        except duckdb.Error as exc:
            if "no snapshot found" not in str(exc).lower():
                raise
            first = database.execute(f"SELECT min(snapshot_time) FROM ducklake_snapshots({literal(LAKE)})").fetchall()[
                0
            ][0]
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
    def exclusive(self, name: str, timeout: float):
        """A PostgreSQL advisory lock in the lake's catalog database, held until the block ends (or the process
        dies, or its session is cut: AdvisoryLock.confirm() finds out)."""
        import psycopg  # lazy: psycopg only on DuckLake

        catalog, _ = lake_settings()
        with psycopg.connect(catalog, autocommit=True) as guard:
            advisory_lock(guard, catalog, timeout, name)
            yield AdvisoryLock(guard, catalog, name)

    @contextmanager
    def claimed(self, names: list[str]):
        """PostgreSQL advisory locks in the lake's catalog database, taken without waiting, all in one session."""
        if not names:
            yield set()
            return
        import psycopg  # lazy: psycopg only on DuckLake

        catalog, _ = lake_settings()
        with psycopg.connect(catalog, autocommit=True) as guard:

            def taken(name: str) -> bool:
                row = guard.execute("SELECT pg_try_advisory_lock(%s)", [lock_key(name)]).fetchone()
                assert row is not None  # a SELECT of one value: one row
                return bool(row[0])

            yield {name for name in names if taken(name)}

    def compact(self, con, keep_days: int) -> dict[str, int]:
        """DuckLake's own maintenance (ducklake.select/docs/stable/duckdb/maintenance): every load commits Parquet
        files of its own, small for a report; adjacent small files of a table are merged into larger ones,
        snapshots older than `keep_days` expired (time travel before them ends), and the files nothing refers to
        any more deleted once a day old (a query that began before may still read them)."""
        lake = literal(LAKE)

        def data_files() -> int:
            tables = con.execute(
                "SELECT table_schema, table_name FROM information_schema.tables WHERE table_catalog = ? "
                "AND table_type = 'BASE TABLE'",
                [LAKE],
            ).fetchall()
            return sum(
                con.execute(
                    f"SELECT count(*) FROM ducklake_list_files({lake}, ?, schema => ?)", [table, schema]
                ).fetchall()[0][0]
                for schema, table in tables
            )

        before = data_files()
        # Each a commit of its own, run again if a load's commit conflicted with it (transaction.committed). Rows
        # inlined in the catalog (a commit of a few rows writes no file) are written out to files first.
        committed(con, lambda: con.execute(f"CALL ducklake_flush_inlined_data({lake})").fetchall())
        merged = committed(con, lambda: con.execute(f"CALL ducklake_merge_adjacent_files({lake})").fetchall())
        expired = committed(
            con,
            lambda: con.execute(
                f"CALL ducklake_expire_snapshots({lake}, older_than => now() - to_days(?))", [keep_days]
            ).fetchall(),
        )
        removed = committed(
            con,
            lambda: con.execute(
                f"CALL ducklake_cleanup_old_files({lake}, older_than => now() - INTERVAL 1 DAY)"
            ).fetchall(),
        )
        return {
            "data_files_before": before,
            "data_files_after": data_files(),
            "merge_steps": len(merged),
            "snapshots_expired": len(expired),
            "files_deleted": len(removed),
        }

    def initialise(self) -> str:
        """The catalog's PostgreSQL database created if the server lacks it, then the lake's own tables and the
        warehouse's — once, before parallel writers start (two initialising one empty catalog at once collide)."""
        import psycopg  # lazy: psycopg only on DuckLake
        from psycopg import sql  # lazy: psycopg only on DuckLake
        from psycopg.conninfo import conninfo_to_dict, make_conninfo  # lazy: psycopg only on DuckLake

        catalog, data = lake_settings()
        parts = conninfo_to_dict(catalog)
        dbname = parts.get("dbname")
        if isinstance(dbname, str) and dbname:  # (a parsed connection string's values are strings)
            with psycopg.connect(make_conninfo("", **{**parts, "dbname": "postgres"}), autocommit=True) as admin:
                if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone():
                    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        with self.connect(DEFAULT_TIMEOUT_SECONDS):
            pass
        shown = make_conninfo("", **{k: v for k, v in parts.items() if k != "password"})
        return f"DuckLake: catalog {shown}, data {data}"

    def check(self) -> list[Check]:
        """The catalog answers (a session of its own, 5 s at most), and the data path and raw history's can be
        written. The lake is not attached: nothing waits for a writer."""
        catalog = catalog_setting()
        if not catalog:
            return [
                (
                    False,
                    "DuckLake catalog: IOC_DUCKLAKE_CATALOG is not set (the PostgreSQL catalog's libpq "
                    "connection string, e.g. 'dbname=ioc host=127.0.0.1 user=ioc')",
                )
            ]
        _, data = lake_settings()
        return [
            catalog_check(catalog),
            storage_check("DuckLake data", data),
            storage_check("raw history", paths().raw_history),
        ]

    def _database(self, catalog: str, data: str, timeout: float):
        """This process's in-memory DuckDB with the extensions loaded, the lake attached and its schema current:
        done once per process (0.3 s), each connection a cursor of it. A forked child makes its own."""
        if self._lake is not None and self._lake[:3] == (os.getpid(), catalog, data):
            return self._lake[3]
        import psycopg  # lazy: psycopg only on DuckLake

        # The lake's first attach writes its catalog, and a migration must run once: one process at a time.
        with psycopg.connect(catalog, autocommit=True) as guard:
            advisory_lock(guard, catalog, timeout, WRITER)
            database = self._attach(catalog, data)
        self._lake = (os.getpid(), catalog, data, database)
        return database

    @staticmethod
    def _attach(catalog: str, data: str):
        import duckdb  # lazy: DuckDB only when a connection opens: the warehouse package imports light (the validation service's forked workers, service._warm)

        database = duckdb.connect(config=EXTENSIONS_CONFIG)
        for name in ("postgres_scanner", "ducklake"):
            database.execute(f"LOAD {literal(str(extension_file(name)))}")
        if is_object_storage(data) or is_object_storage(paths().raw_history):
            use_object_storage(database)
        if not is_object_storage(data):
            Path(data).mkdir(parents=True, exist_ok=True)
        database.execute(f"ATTACH {literal('ducklake:postgres:' + catalog)} AS {LAKE} (DATA_PATH {literal(data)})")
        database.execute(f"USE {LAKE}")
        migrate(database)
        return database


def lake_settings() -> tuple[str, str]:
    """The DuckLake catalog's connection string and the data path (a directory, or an s3:// URL), ending in '/'."""
    catalog = catalog_setting()
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


# The databases that load extensions load them from the files of their `duckdb-extension-*` packages alone
# (extension_file(): installed by uv from the lockfile, whose hashes it checked), never from a repository. DuckDB
# would check each file's signature again at every load: hashing the 40 MB of `postgres_scanner` and the 36 MB of
# `ducklake` cost every process 0.2–0.45 s before its first query (measured, 4 December: 0.10–0.11 s an extension,
# 0.001–0.003 s without the check). Whoever could replace those files could replace DuckDB's own library beside
# them: the check adds nothing here. The setting holds for that database only; the DuckDB file loads none.
EXTENSIONS_CONFIG: dict[str, str | bool | int | float | list[str]] = {"allow_unsigned_extensions": True}


def extension_file(name: str) -> Path:
    """The extension file a `duckdb-extension-*` package installs for this duckdb version."""
    import duckdb  # lazy: DuckDB only when a connection opens: the warehouse package imports light (the validation service's forked workers, service._warm)

    package = importlib.import_module(f"duckdb_extension_{name}")
    assert package.__file__ is not None  # a regular package: installed with its files
    file = Path(package.__file__).parent / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not file.exists():
        raise RuntimeError(
            f"{file} is missing: duckdb-extension-{name.replace('_', '-')} must match "
            f"duckdb {duckdb.__version__} (pyproject.toml pins both)"
        )
    return file


class AdvisoryLock(Held):
    """A PostgreSQL advisory lock held by a session of its own (`guard`) in the lake's catalog database."""

    def __init__(self, guard, catalog: str, name: str) -> None:
        self.guard, self.catalog, self.name = guard, catalog, name

    def confirm(self, doing: str) -> None:
        """The guard session still answers and still holds the lock; else LockLost (a session cut by the server, an
        administrator or the network has lost its locks with it: another writer may hold this one now)."""
        import psycopg  # lazy: psycopg only on DuckLake

        # pg_advisory_lock(bigint) shows in pg_locks as classid (its high 32 bits) and objid (its low ones), objsubid 1
        key = lock_key(self.name) & 0xFFFF_FFFF_FFFF_FFFF
        try:
            row = self.guard.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
                "AND granted AND classid = %s::bigint::oid AND objid = %s::bigint::oid AND objsubid = 1)",
                [key >> 32, key & 0xFFFF_FFFF],
            ).fetchone()
        except psycopg.Error as exc:
            raise LockLost(
                catalog_named(self.catalog), self.name, doing, lost_connection(exc) or type(exc).__name__
            ) from exc
        if not (row and row[0]):
            raise LockLost(catalog_named(self.catalog), self.name, doing, "its session no longer holds it")


def catalog_check(catalog: str) -> Check:
    """Whether the lake's catalog answers, and whether the lake's tables are in it."""
    import psycopg  # lazy: psycopg only on DuckLake

    where = f"DuckLake catalog ({catalog_named(catalog)})"
    try:
        with psycopg.connect(catalog, autocommit=True, connect_timeout=5) as session:
            row = session.execute(
                "SELECT current_setting('server_version'), to_regclass('ducklake_metadata') IS NOT NULL"
            ).fetchone()
    except psycopg.Error as exc:
        return False, f"{where}: does not answer ({first_line(exc, catalog)})"
    assert row is not None  # a SELECT of values: one row
    version, made = row
    lake = "the lake's tables are there" if made else "no lake in it yet: `ioc warehouse init` makes it"
    return True, f"{where}: answers (PostgreSQL {version}); {lake}"


def storage_check(what: str, path: str) -> Check:
    """Whether a directory takes a file (or could be made, as a writer would), or an object storage prefix answers."""
    if is_object_storage(path):
        return object_storage_check(what, path)
    return directory_check(what, Path(path), made_by="the first load")


def directory_check(what: str, directory: Path, made_by: str) -> Check:
    """Whether `directory` takes a file (one written and removed), or, not made yet, whether the nearest directory
    above it that exists is writable (`made_by` makes the rest)."""
    if directory.is_dir():
        probe = directory / f".ioc-check-{uuid.uuid4().hex}"
        try:
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            return False, f"{what} {directory}: not writable ({exc.strerror})"
        return True, f"{what} {directory}: writable"
    existing = next(p for p in directory.parents if p.exists())
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".ioc-check-", dir=existing))
    except OSError as exc:
        return False, f"{what} {directory}: missing, and {existing} takes no directory to make it in ({exc.strerror})"
    return True, f"{what} {directory}: not made yet, {existing} writable ({made_by} makes it)"


def object_storage_check(what: str, url: str) -> Check:
    """Whether an s3:// prefix answers a listing (DuckDB's httpfs, the keys from the environment)."""
    import duckdb  # lazy: DuckDB only when a connection opens: the warehouse package imports light (the validation service's forked workers, service._warm)

    try:
        with duckdb.connect(config=EXTENSIONS_CONFIG) as database:
            use_object_storage(database)
            count = database.execute(f"SELECT count(*) FROM glob({literal(url.rstrip('/') + '/*')})").fetchall()[0][0]
    except (duckdb.Error, ValueError, RuntimeError) as exc:
        return False, f"{what} {url}: does not answer ({first_line(exc)})"
    return True, f"{what} {url}: answers ({count} objects at its top)"


def first_line(exc: BaseException, secret_of: str = "") -> str:
    """An error's first line, with the password of the connection string `secret_of` (if any) masked."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    password = catalog_password(secret_of) if secret_of else ""
    return text.replace(password, "***") if password else text


def catalog_password(catalog: str) -> str:
    from psycopg import Error as PsycopgError  # lazy: psycopg only on DuckLake
    from psycopg.conninfo import conninfo_to_dict  # lazy: psycopg only on DuckLake

    try:
        return str(conninfo_to_dict(catalog).get("password") or "")
    except PsycopgError:
        return ""


def lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def advisory_lock(guard, catalog: str, timeout: float, name: str) -> None:
    """Wait for the PostgreSQL advisory lock `name` in session `guard` (held until the session ends)."""
    key = lock_key(name)
    deadline = time.monotonic() + timeout
    delay = 0.05
    while not guard.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone()[0]:
        if time.monotonic() > deadline:
            raise WarehouseBusy(
                f"{name!r} stayed locked for {timeout:.0f} s by another process of the platform "
                f"(DuckLake catalog, {catalog_named(catalog)}); see pg_locks where locktype = 'advisory'"
            )
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


BACKENDS: dict[str, Backend] = {b.name: b for b in (DuckDBFile(), DuckLake())}
