"""Shared fixtures: a fresh $IOC_HOME per test, warehouse queries, PostgreSQL, the simulator, Airflow."""

from __future__ import annotations

import os
import re
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


# The test files whose tests run on either warehouse backend: with `--warehouse both` (what `make test` runs), each
# of their tests runs on the DuckDB file and on DuckLake, in one session; the Celery test (scale-out: its workers
# share a lake) on DuckLake only.
LAKE_FILES = frozenset({"test_file_drop.py", "test_validation.py", "test_changing_sources.py", "test_deadlines.py",
                        "test_kpis.py", "test_warehouse_schema.py"})
LAKE_ONLY_FILES = frozenset({"test_celery.py"})


def pytest_addoption(parser):
    parser.addoption("--warehouse", choices=("duckdb", "ducklake", "both"), default="duckdb",
                     help="the warehouse backend the tests run on (ducklake: each test gets a catalog database "
                          "of its own on the local PostgreSQL, its data under its $IOC_HOME; both: every test on "
                          "the file, and those of the warehouse's files (LAKE_FILES) on DuckLake too)")


def pytest_generate_tests(metafunc):
    """With --warehouse both, a warehouse file's tests are run once per backend (`[duckdb]`, `[ducklake]` in
    their ids)."""
    if metafunc.config.getoption("--warehouse") != "both":
        return
    name = metafunc.definition.path.name
    if name in LAKE_FILES or name in LAKE_ONLY_FILES:
        metafunc.parametrize("warehouse_backend", ["ducklake"] if name in LAKE_ONLY_FILES else ["duckdb", "ducklake"])


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


# The slowest test files first, each on each backend (`file` on the DuckDB file, `file@ducklake` on DuckLake;
# measured, 4 December: `make test` prints the slowest tests): pytest-xdist hands a file at a time to the next free
# worker in collection order (`--no-loadscope-reorder`: by default it puts the files with the most tests first), so
# the long ones start at once and the short ones fill in around them, instead of one long file running alone at the
# end. test_wall.py comes well after test_api_fuzz.py: both wait for the one demo warehouse the first builds.
SLOWEST_FIRST = ("test_event_driven.py", "test_changing_sources.py", "test_kpis.py", "test_file_drop.py@ducklake",
                 "test_kpis.py@ducklake", "test_api_fuzz.py", "test_deadlines.py@ducklake", "test_dags.py",
                 "test_validation.py@ducklake", "test_changing_sources.py@ducklake", "test_celery.py@ducklake",
                 "test_feed_drafts.py", "test_validation_service.py", "test_bench.py", "test_warehouse.py",
                 "test_deadlines.py", "test_period_state.py", "test_file_drop.py", "test_validation.py",
                 "test_catalog_faults.py", "test_submissions.py", "test_wall.py", "test_alerting.py",
                 "test_http_json.py", "test_forms.py", "test_warehouse_schema.py@ducklake")


def _unparametrized_backend(config) -> str:
    """The backend of a test that pytest_generate_tests did not parametrize: --warehouse's, the file's with `both`."""
    option = config.getoption("--warehouse")
    return "duckdb" if option == "both" else option


def _backend_of(item) -> str:
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "warehouse_backend" in callspec.params:
        return callspec.params["warehouse_backend"]
    return _unparametrized_backend(item.config)


def pytest_collection_modifyitems(config, items):
    """The slowest files first; on DuckLake, tests marked duckdb_only are deselected (reported as such, never
    silently skipped)."""
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}

    def slowest_first(item) -> int:
        backend = _backend_of(item)
        return rank.get(item.path.name if backend == "duckdb" else f"{item.path.name}@{backend}", len(rank))

    items.sort(key=slowest_first)  # stable: each file keeps its order
    dropped = [item for item in items if _backend_of(item) == "ducklake" and item.get_closest_marker("duckdb_only")]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        gone = set(dropped)
        items[:] = [item for item in items if item not in gone]


def pytest_xdist_make_scheduler(config, log):
    """With --warehouse both, pytest-xdist hands a worker a test file's tests on one backend at a time (they share
    fixtures, as under --dist loadfile), the same file's tests on the other backend going to whichever worker is
    free. (pytest-xdist's own `--dist loadgroup` does not group under pytest 9.2: its workers set a node id
    attribute pytest no longer reads.)"""
    if config.getoption("--warehouse") != "both" or config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class ByFileAndBackend(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            backend = "ducklake" if re.search(r"\[ducklake[-\]]", nodeid) else "duckdb"
            return f"{super()._split_scope(nodeid)}@{backend}"

    return ByFileAndBackend(config, log)


@pytest.fixture
def warehouse_backend(request) -> str:
    """The warehouse backend this test runs on: --warehouse's (with `both`, each of a warehouse file's tests is
    parametrized with it, pytest_generate_tests; the others run on the file)."""
    return _unparametrized_backend(request.config)


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch, request, warehouse_backend) -> Path:
    """Every test gets its own $IOC_HOME (warehouse, inboxes, landing zone, cursors), and its own warehouse
    on the backend the run was asked for."""
    path = tmp_path / "ioc-home"
    path.mkdir()
    monkeypatch.setenv("IOC_HOME", str(path))
    if warehouse_backend == "ducklake":
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
