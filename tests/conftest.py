"""Shared fixtures: a fresh $IOC_HOME per test, warehouse queries, PostgreSQL, the simulator, Airflow."""

from __future__ import annotations

import os
import secrets
import subprocess
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pipelines.scheduler.environment import airflow_environ

# Airflow reads its configuration when first imported: point it at a throwaway home before any test
# module imports it.
SESSION_HOME = Path(tempfile.mkdtemp(prefix="ioc-tests-"))
os.environ.update(airflow_environ(SESSION_HOME))

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = REPO / ".venv" / "bin"
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
TEST_NOW = datetime(2026, 11, 20, 10, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))


def pytest_addoption(parser):
    parser.addoption("--warehouse", choices=("duckdb", "ducklake"), default="duckdb",
                     help="the warehouse backend the tests run on (ducklake: each test gets a catalog database "
                          "of its own on the local PostgreSQL, its data under its $IOC_HOME)")


def pytest_configure(config):
    """One warm validation service for the whole run, as `ioc up` runs one for the stack: every load of the
    tests (in a test's process, in an `ioc` subprocess, in Airflow's task runner) connects to it instead of
    importing Great Expectations itself. Started by the run's first process, before pytest-xdist starts its
    workers (they inherit $IOC_VALIDATION_SOCKET). The cold path, and the service's fallbacks, are tested in
    test_validation_service.py."""
    if hasattr(config, "workerinput") or os.environ.get("IOC_VALIDATION_SOCKET"):
        return
    from pipelines.validate.service import running_at

    directory = Path(tempfile.mkdtemp(prefix="ioc-v-"))  # mode 0700, and short: a socket's path holds 107 bytes
    path, log = directory / "v.sock", directory / "service.log"
    process = subprocess.Popen([str(VENV_BIN / "ioc"), "validation-service", "--socket", str(path)],
                               stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while not running_at(path):
        if process.poll() is not None or time.monotonic() > deadline:
            raise pytest.UsageError(f"the validation service did not start: {log.read_text()}")
        time.sleep(0.2)
    config.stash[VALIDATION_SERVICE] = (process, directory)
    os.environ["IOC_VALIDATION_SOCKET"] = str(path)


def pytest_unconfigure(config):
    import shutil
    import signal

    process, directory = config.stash.get(VALIDATION_SERVICE, (None, None))
    if process is None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    os.environ.pop("IOC_VALIDATION_SOCKET", None)
    shutil.rmtree(directory, ignore_errors=True)


VALIDATION_SERVICE = pytest.StashKey[tuple]()


# The slowest test files first (measured: `make test` prints each pass's slowest tests): pytest-xdist hands a
# file at a time to the next free worker in collection order, so the long ones start at once and the short
# ones fill in around them, instead of one long file running alone at the end.
SLOWEST_FIRST = ("test_event_driven.py", "test_dags.py", "test_wall.py", "test_kpis.py", "test_changing_sources.py",
                 "test_file_drop.py", "test_celery.py", "test_deadlines.py", "test_bench.py", "test_api_fuzz.py",
                 "test_warehouse.py", "test_validation.py", "test_feed_drafts.py", "test_validation_service.py",
                 "test_period_state.py", "test_alerting.py")


def pytest_collection_modifyitems(config, items):
    """The slowest files first; on DuckLake, tests marked duckdb_only are deselected (reported as such, never
    silently skipped)."""
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: each file keeps its order
    if config.getoption("--warehouse") != "ducklake":
        return
    dropped = [item for item in items if item.get_closest_marker("duckdb_only")]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if not item.get_closest_marker("duckdb_only")]


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch, request) -> Path:
    """Every test gets its own $IOC_HOME (warehouse, inboxes, landing zone, cursors), and its own warehouse
    on the backend the run was asked for."""
    path = tmp_path / "ioc-home"
    path.mkdir()
    monkeypatch.setenv("IOC_HOME", str(path))
    if request.config.getoption("--warehouse") == "ducklake":
        request.getfixturevalue("lake_catalog")
    else:
        monkeypatch.delenv("IOC_WAREHOUSE", raising=False)
    return path


@pytest.fixture
def lake_catalog(postgres, monkeypatch):
    """A DuckLake warehouse: an empty catalog database on the local PostgreSQL, dropped after the test."""
    import psycopg

    dbname = f"ioc_test_lake_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{dbname}"')
    monkeypatch.setenv("IOC_WAREHOUSE", "ducklake")
    monkeypatch.setenv("IOC_DUCKLAKE_CATALOG", f"dbname={dbname} host=127.0.0.1 port=5432 user=postgres")
    yield dbname
    with psycopg.connect(postgres, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


@pytest.fixture
def query(home):
    """Run SQL against the test's warehouse (under the platform's lock) and return the rows."""
    from pipelines.warehouse import connect

    def run(sql: str, params: list | None = None) -> list[tuple]:
        with connect() as con:
            return con.execute(sql, params or []).fetchall()

    return run


@pytest.fixture
def tokens(monkeypatch) -> dict[str, str]:
    """A fresh secret in each API token variable the feeds declare."""
    from pipelines.runtime import token_envs

    values = {name: secrets.token_urlsafe(16) for name in token_envs()}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def world():
    from simulator.world import World

    return World(seed=7, now=TEST_NOW, months=3, scale=0.1)


@pytest.fixture
def simulator(world, tokens, monkeypatch):
    """The department APIs on a free loopback port, with the feeds pointed at them."""
    from simulator.http_api import SimulatorServer

    server = SimulatorServer(world).start()
    monkeypatch.setenv("IOC_SIM_URL", server.url)
    yield server
    server.stop()


def _postgres_ready() -> bool:
    return subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"]).returncode == 0


@pytest.fixture(scope="session")
def postgres() -> str:
    """The machine's PostgreSQL on 127.0.0.1:5432, started if it is down."""
    if not _postgres_ready():
        clusters = sorted(os.listdir("/etc/postgresql"))
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", clusters[-1], "main", "start"], check=False)
        for _ in range(30):
            if _postgres_ready():
                break
            time.sleep(1)
    assert _postgres_ready(), "PostgreSQL does not answer on 127.0.0.1:5432"
    return ADMIN_DSN


@pytest.fixture
def finance_db(postgres, world, monkeypatch):
    """A throwaway finance database filled by the simulator, with the feed pointed at it."""
    import psycopg

    from simulator.finance_db import fill_finance_db

    dbname = f"ioc_test_finance_{uuid.uuid4().hex[:8]}"
    dsn = fill_finance_db(world, admin_dsn=postgres, dbname=dbname)
    monkeypatch.setenv("IOC_FINANCE_DSN", dsn)
    yield dbname
    with psycopg.connect(postgres, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated Airflow metadata database with the warehouse writer pool, for Airflow's test runner."""
    from pipelines.scheduler.environment import prepare_airflow

    with open(SESSION_HOME / "airflow-setup.log", "w") as log:
        prepare_airflow(dict(os.environ), log)
    return SESSION_HOME


def ioc(*args: str, env: dict | None = None, check: bool = False) -> subprocess.CompletedProcess:
    """Run the installed `ioc` command in a subprocess (its own process, as a user or a task would)."""
    result = subprocess.run([str(VENV_BIN / "ioc"), *args], capture_output=True, text=True,
                            env={**os.environ, **(env or {})}, timeout=300)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result
