"""Faults of the DuckLake's catalog, said plainly (issue 29, point 4): a catalog connection lost mid-load ends the load
with one line (the catalog's host and database, never a password; what was being done; nothing committed) and the
next run loads the batch once; a writer whose merge lock's session is cut stops before it merges or commits;
`ioc warehouse check` says whether the catalog and the data path answer.

Each load here is a real `ioc ingest` process stopped at a failpoint's barrier (IOC_BARRIER, one party more than
the load: the test is the other) while the test ends PostgreSQL sessions of the test's own catalog database with
pg_terminate_backend, then lets it go on."""

from __future__ import annotations

import os
import subprocess
import time
import uuid

import duckdb
import psycopg
import pytest

from pipelines.warehouse.backends import lock_key
from pipelines.warehouse.transaction import committed
from tests.conftest import VENV_BIN, ioc
from tests.helpers import REPORT_FEED, ROWS, write_csv

PASSWORD = f"not-shown-{uuid.uuid4().hex[:8]}"  # trust auth ignores it; no output may show it

# The sessions of the test's catalog database to end, with {db} its name: the lake's own (DuckLake's catalog reads and
# writes: every session that holds no advisory lock), or the one holding the feed's merge lock (exclusive()).
LAKE_SESSIONS = "pid NOT IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory')"
MERGE_LOCK = lock_key(f"commit:{REPORT_FEED}") & 0xFFFF_FFFF_FFFF_FFFF
MERGE_LOCK_SESSION = (
    "pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s::bigint::oid "
    f"AND objid = %s::bigint::oid AND objsubid = 1)"
)


@pytest.fixture
def lake(lake_catalog, monkeypatch, home):
    """The test's lake, made once before its writer starts, its catalog's connection string carrying a password."""
    monkeypatch.setenv("IOC_DUCKLAKE_CATALOG", f"{os.environ['IOC_DUCKLAKE_CATALOG']} password={PASSWORD}")
    ioc("warehouse", "init", check=True)
    return lake_catalog


def load_cut_at(point: str, sessions: str, params: list, dbname: str, file, barrier) -> subprocess.CompletedProcess:
    """`ioc ingest` of `file`, stopped at failpoint `point` while the `sessions` of the catalog database `dbname` are
    ended, then let go on; what it answered."""
    env = {**os.environ, "IOC_BARRIER": point, "IOC_BARRIER_DIR": str(barrier)}
    args = [str(VENV_BIN / "ioc"), "ingest", REPORT_FEED, "--file", str(file)]
    load = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (barrier.is_dir() and any(barrier.iterdir())):
            assert load.poll() is None, f"the load ended before {point}: {load.communicate()}"
            assert time.monotonic() < deadline, f"the load never reached {point}"
            time.sleep(0.05)
        with psycopg.connect("dbname=postgres host=127.0.0.1 user=postgres", autocommit=True) as admin:
            ended = admin.execute(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND {sessions}",
                [dbname, *params],
            ).fetchall()
        assert ended and all(ok for (ok,) in ended), f"no session of {dbname} to end: {sessions}"
        (barrier / "the test").touch()  # the barrier's second party: the load goes on
        out, err = load.communicate(timeout=120)
    finally:
        if load.poll() is None:
            load.kill()
            load.communicate()
    return subprocess.CompletedProcess(args, load.returncode, out, err)


def assert_said_in_one_line(answer: subprocess.CompletedProcess, dbname: str, *words: str) -> str:
    lines = [line for line in answer.stderr.splitlines() if line.strip()]
    assert answer.returncode == 1 and len(lines) == 1, answer.stderr[-3000:]
    (line,) = lines
    assert "Traceback" not in answer.stderr and "ROLLBACK" not in line
    assert f"host 127.0.0.1:5432, database {dbname}" in line and "nothing was committed" in line, line
    assert PASSWORD not in answer.stderr + answer.stdout and "password" not in line
    for said in words:
        assert said in line, line
    return line


def assert_loaded_once_on_the_next_run(query) -> None:
    again = ioc("ingest", REPORT_FEED)  # the batch stayed landed: the next try takes it
    assert again.returncode == 0, again.stderr[-3000:]
    assert query("SELECT status, rows_loaded FROM ops.batches") == [("loaded", 3)]
    assert query(f"SELECT count(*), count(DISTINCT indicator_code) FROM clean.{REPORT_FEED}") == [(3, 3)]


def nothing_committed(query) -> bool:
    return query("SELECT count(*) FROM ops.batches") == [(0,)] and not query(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = 'clean' AND table_name = ?", [REPORT_FEED]
    )


def test_a_catalog_connection_lost_mid_load_ends_it_with_one_line_and_the_next_run_loads_it_once(
        lake, tmp_path, query):
    """The lake's catalog session is ended inside the load's transaction (raw history written, the merge next): the
    load's next catalog read fails, its ROLLBACK fails on the same dead connection, and the load ends with the lost
    catalog's one line — not the ROLLBACK's error with the cause in a 140-line traceback."""
    file = write_csv(tmp_path / "SKHCN_2026-10.csv", ROWS)

    answer = load_cut_at("load.after_raw", LAKE_SESSIONS, [], lake, file, tmp_path / "barrier")

    assert_said_in_one_line(answer, lake, "lost the DuckLake catalog",
                            f"while loading feed {REPORT_FEED} batch ", f"merging into clean.{REPORT_FEED}",
                            "`ioc warehouse check`")
    assert nothing_committed(query)
    assert_loaded_once_on_the_next_run(query)


@pytest.mark.parametrize("point, before", [("load.after_raw", "merging"), ("load.before_commit", "committing")])
def test_a_writer_whose_merge_lock_session_is_cut_stops_before_it_merges_or_commits(
        lake, tmp_path, query, point, before):
    """The session holding the feed's merge lock (exclusive(), an advisory lock) is ended while the load holds it:
    the lock is gone with it — another writer of the feed could take it and merge — so the writer, which still has
    its own connection to the lake, must find out and stop before it merges (or, cut later, before it commits),
    not merge without the lock."""
    file = write_csv(tmp_path / "SKHCN_2026-10.csv", ROWS)

    answer = load_cut_at(point, MERGE_LOCK_SESSION, [MERGE_LOCK >> 32, MERGE_LOCK & 0xFFFF_FFFF], lake, file,
                         tmp_path / "barrier")

    line = assert_said_in_one_line(answer, lake, f"lost the lock 'commit:{REPORT_FEED}'",
                                   f"merging into clean.{REPORT_FEED}")
    assert line.split("merging into", 1)[1].startswith(f" clean.{REPORT_FEED}: committing") == (before == "committing")
    assert nothing_committed(query)
    assert_loaded_once_on_the_next_run(query)


def test_a_failed_rollback_leaves_the_transactions_own_error_raised():
    """committed() rolls back after work() fails; when the ROLLBACK fails too, the error raised is work()'s, with the
    ROLLBACK's failure noted on it, not the ROLLBACK's error in its place."""

    class Connection:  # a DuckDB connection whose ROLLBACK fails, as on a lost DuckLake catalog
        def execute(self, sql):
            if sql == "ROLLBACK":
                raise duckdb.Error('Failed to execute query "ROLLBACK": ')

    def work():
        raise duckdb.CatalogException("the statement's own error")

    with pytest.raises(duckdb.CatalogException, match="the statement's own error") as raised:
        committed(Connection(), work)
    assert any("ROLLBACK failed too" in note for note in raised.value.__notes__)


def test_the_lost_catalog_errors_cross_processes_whole():
    """A scheduler's worker may send a task's error to another process: it pickles, and says the same there."""
    import pickle

    from pipelines.warehouse import CatalogLost, LockLost

    for error in (CatalogLost("PostgreSQL host db, database ioc", "loading feed f batch b", "its session ended"),
                  LockLost("PostgreSQL host db, database ioc", "commit:f", "loading feed f batch b", "its session ended")):
        again = pickle.loads(pickle.dumps(error))
        assert type(again) is type(error) and str(again) == str(error) and "\n" not in str(error)
        assert "nothing was committed" in str(error)


def test_warehouse_check_says_the_lake_catalog_and_data_path_answer(lake, home):
    answer = ioc("warehouse", "check")

    assert answer.returncode == 0, answer.stdout + answer.stderr
    lines = answer.stdout.splitlines()
    assert lines[0].startswith(f"✓ DuckLake catalog (PostgreSQL host 127.0.0.1:5432, database {lake}): answers")
    assert "the lake's tables are there" in lines[0]
    assert lines[1] == f"✓ DuckLake data {home / 'lake'}: writable"
    assert PASSWORD not in answer.stdout + answer.stderr


def test_warehouse_check_says_plainly_what_does_not_answer(lake_catalog, tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    catalog = f"dbname={lake_catalog} host=127.0.0.1 port=1 user=postgres password={PASSWORD}"  # nothing listens there

    answer = ioc("warehouse", "check", env={"IOC_DUCKLAKE_CATALOG": catalog,
                                            "IOC_DUCKLAKE_DATA": str(blocked / "lake")})

    assert answer.returncode == 1 and "Traceback" not in answer.stderr, answer.stdout + answer.stderr
    lines = answer.stdout.splitlines()
    assert lines[0].startswith(f"✗ DuckLake catalog (PostgreSQL host 127.0.0.1:1, database {lake_catalog}): does not "
                               "answer")
    assert lines[1].startswith(f"✗ DuckLake data {blocked / 'lake'}: missing, and {blocked} takes no directory")
    assert PASSWORD not in answer.stdout + answer.stderr


@pytest.mark.duckdb_only
def test_warehouse_check_says_whether_the_duckdb_file_can_be_written(home, tmp_path):
    fine = ioc("warehouse", "check", env={"IOC_WAREHOUSE": "duckdb"})
    assert fine.returncode == 0, fine.stdout + fine.stderr
    assert fine.stdout.splitlines()[0] == (f"✓ DuckDB file {home / 'warehouse.duckdb'}: not made yet; its directory "
                                           f"{home}: writable")

    blocked = tmp_path / "a-file"
    blocked.write_text("")
    refused = ioc("warehouse", "check", env={"IOC_WAREHOUSE": "duckdb", "IOC_HOME": str(blocked / "home")})
    assert refused.returncode == 1 and "Traceback" not in refused.stderr, refused.stdout + refused.stderr
    assert refused.stdout.splitlines()[0].startswith(f"✗ DuckDB file {blocked / 'home' / 'warehouse.duckdb'}: "
                                                     "not made yet; its directory")
