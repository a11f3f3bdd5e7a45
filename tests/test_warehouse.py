"""The warehouse's backends: the DuckDB file and DuckLake with its catalog on the local PostgreSQL."""

from __future__ import annotations

import os
import uuid

import psycopg
import pytest

from tests.conftest import ioc


def test_warehouse_init_creates_the_ducklake_catalog_once_and_is_safe_to_run_again(home, postgres, monkeypatch):
    dbname = f"ioc_test_init_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("IOC_WAREHOUSE", "ducklake")
    monkeypatch.setenv("IOC_DUCKLAKE_CATALOG", f"dbname={dbname} host=127.0.0.1 port=5432 user=postgres")
    try:
        first = ioc("warehouse", "init", check=True)
        again = ioc("warehouse", "init", check=True)

        assert f"dbname={dbname}" in first.stdout and str(home / "lake") in first.stdout
        assert again.stdout == first.stdout
        with psycopg.connect(f"dbname={dbname} host=127.0.0.1 user=postgres") as catalog:
            tables = {t for (t,) in catalog.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert "ducklake_snapshot" in tables and "ducklake_table" in tables
        from pipelines.warehouse import connect, table_exists

        with connect() as con:
            assert table_exists(con, "ops", "batches"), "the platform's own tables are in the lake"
    finally:
        with psycopg.connect(postgres, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


@pytest.mark.parametrize("env, words", [
    ({"IOC_WAREHOUSE": "sqlite"}, "expected one of duckdb, ducklake"),
    ({"IOC_WAREHOUSE": "ducklake", "IOC_DUCKLAKE_CATALOG": ""}, "needs IOC_DUCKLAKE_CATALOG"),
])
def test_a_warehouse_setting_that_cannot_work_is_refused_with_what_to_set(env, words):
    refused = ioc("warehouse", "init", env=env)
    assert refused.returncode == 2 and words in refused.stderr


def test_loads_of_two_feeds_hold_their_transactions_open_together_and_both_commit_on_ducklake(
        home, lake_catalog, tmp_path, query):
    """Each load waits just before its commit until the other has reached the same point: under one writer
    lock the first would wait there in vain (and fail after 60 s); on DuckLake both commit."""
    import subprocess

    from tests.conftest import VENV_BIN
    from tests.test_file_drop import ROWS, write_csv
    from tests.test_kpis import TASK_HEADER

    ioc("warehouse", "init", check=True)  # the catalog is made once, before the writers start
    reports = write_csv(tmp_path / "SKHCN_2026-10.csv", ROWS)
    tasks = write_csv(tmp_path / "nhiem_vu.csv",
                      [["NV-1", "TB 1/TB-VP", "Lãnh đạo", "SXD", "Nhiệm vụ 1", "01/09/2026", "02/11/2026",
                        "Đang thực hiện", "", "20/11/2026 08:00:00"]], header=TASK_HEADER)
    barrier = tmp_path / "barrier"
    env = {**os.environ, "IOC_BARRIER": "load.before_commit", "IOC_BARRIER_DIR": str(barrier)}
    processes = [subprocess.Popen([str(VENV_BIN / "ioc"), "ingest", feed, "--file", str(file)], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for feed, file in (("dept_monthly_report", reports), ("directive_tasks", tasks))]
    results = [p.communicate(timeout=240) + (p.returncode,) for p in processes]

    assert [rc for *_, rc in results] == [0, 0], [e[-3000:] for _, e, _ in results]
    assert len(list(barrier.iterdir())) == 2, "both transactions were open at the barrier at once"
    assert query("SELECT feed, status FROM ops.batches ORDER BY feed") == [("dept_monthly_report", "loaded"),
                                                                         ("directive_tasks", "loaded")]
    assert query("SELECT count(*) FROM clean.dept_monthly_report") == [(3,)]
    assert query("SELECT task_id FROM clean.directive_tasks") == [("NV-1",)]
    assert query("SELECT count(*) FROM marts.task_status WHERE state = 'overdue'") == [(1,)], \
        "the deadline refreshes of both loads committed (one of them again, after a conflict)"
