"""The DuckLake's catalog as people see it and as it fails: named by its host and database (never a password), a lost
connection to it recognised in the words libpq uses (through DuckDB's postgres extension or psycopg), and the one-line
errors that say what was being done and that nothing was committed."""

from __future__ import annotations

import os

# How libpq says the server is gone, through DuckDB's postgres extension (a catalog read or write of the lake) or
# psycopg (the sessions that hold the locks) — seen with the catalog's sessions ended by pg_terminate_backend, and
# with the server stopped.
LOST_CONNECTION = {  # what libpq says → what we say (never the error's own text, which may quote a connection string)
    "server closed the connection unexpectedly": "the server closed the connection",
    "terminating connection due to administrator command": "its session was terminated",
    "no connection to the server": "no connection to the server",
    "could not receive data from server": "could not receive data from the server",
    "could not send data to server": "could not send data to the server",
    "could not connect to server": "could not connect to the server",
    "is the server running": "the server does not accept connections",  # libpq's hint after "Connection refused"
    "timeout expired": "a new connection timed out",
    "ssl syscall error": "the connection broke",
    "the connection is closed": "its session was closed",  # psycopg, on a session already found dead
    "consuming input failed": "its session ended",  # psycopg, a session ended under it
}
# DuckLake rolls its catalog transaction back when a commit fails; on a dead connection that ROLLBACK fails too, and
# its (empty) error is all DuckDB reports: 'Failed to commit: Failed to execute query "ROLLBACK": '.
ROLLBACK_FAILED = 'failed to execute query "rollback"'


class CatalogLost(Exception):
    """The connection to the DuckLake's catalog was lost while the warehouse was written: nothing of what was being
    done was committed. Its message is one line: the catalog, what was being done, what to do. (Its arguments are
    its parts, so that it pickles: a scheduler's worker may send it on.)"""

    def __init__(self, where: str, doing: str, reason: str) -> None:
        super().__init__(where, doing, reason)

    def __str__(self) -> str:
        where, doing, reason = self.args
        return (
            f"lost the DuckLake catalog ({where}) while {doing} ({reason}): nothing was committed; run it again "
            "once `ioc warehouse check` passes (Airflow retries a load by itself)"
        )


class LockLost(CatalogLost):
    """The session holding an exclusive() lock in the catalog was cut: the lock is no longer held, so what it
    guarded (a merge) must not go on. Nothing of it was committed."""

    def __init__(self, where: str, name: str, doing: str, reason: str) -> None:
        Exception.__init__(self, where, name, doing, reason)

    def __str__(self) -> str:
        where, name, doing, reason = self.args
        return (
            f"lost the lock {name!r} (its session in the DuckLake catalog, {where}, was cut: {reason}) while "
            f"{doing}: stopped there, as another writer may hold the lock now; nothing was committed; run it again "
            "(Airflow retries a load by itself)"
        )


def catalog_setting() -> str:
    """IOC_DUCKLAKE_CATALOG, the catalog's libpq connection string ('' when unset)."""
    return os.environ.get("IOC_DUCKLAKE_CATALOG", "").strip()


def catalog_named(catalog: str) -> str:
    """The catalog as people read it: its PostgreSQL host and database, from the connection string (or libpq's
    PGHOST and PGDATABASE) — never its password or any other part."""
    from psycopg import Error as PsycopgError  # lazy: psycopg only on DuckLake
    from psycopg.conninfo import conninfo_to_dict  # lazy: psycopg only on DuckLake

    try:
        parts = conninfo_to_dict(catalog)
    except PsycopgError:
        return "PostgreSQL, its connection string IOC_DUCKLAKE_CATALOG does not parse"
    host = str(parts.get("host") or os.environ.get("PGHOST") or "the local socket")
    port = parts.get("port") or os.environ.get("PGPORT")
    dbname = parts.get("dbname") or os.environ.get("PGDATABASE") or parts.get("user") or os.environ.get("PGUSER")
    return f"PostgreSQL host {host}{f':{port}' if port else ''}, database {dbname or '(libpq default)'}"


def lost_connection(exc: BaseException) -> str | None:
    """Why `exc` says the catalog's connection is gone (one of our own phrases, never the error's text, which may
    quote a connection string), or None if it says something else."""
    text = str(exc).lower()
    for phrase, said in LOST_CONNECTION.items():
        if phrase in text:
            return said
    if ROLLBACK_FAILED in text:
        return "the connection failed at the commit" if "failed to commit" in text else "a ROLLBACK on it failed"
    return None


# The libraries that speak to the catalog: an error of another (a socket of the validation service, say) is not its.
CATALOG_CLIENTS = ("duckdb", "_duckdb", "psycopg")


def catalog_lost(exc: BaseException, doing: str) -> CatalogLost | None:
    """`exc` as a CatalogLost if it is a lost connection to the lake's catalog (None otherwise, and always on the
    DuckDB file, which has no catalog)."""
    if isinstance(exc, CatalogLost):
        return exc
    catalog = catalog_setting()
    if not catalog or type(exc).__module__.split(".")[0] not in CATALOG_CLIENTS:
        return None
    reason = lost_connection(exc)
    if reason is None:
        return None
    return CatalogLost(catalog_named(catalog), doing, reason)
