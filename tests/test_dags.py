"""The Airflow DAGs: every feed file gives one DAG that imports cleanly, is wired as declared, and
runs green under Airflow's own test runner against the simulator."""

from __future__ import annotations

import pytest

from pipelines.declarations.loading import catalog
from simulator.files import write_report_files, write_task_export
from simulator.forms import write_form_files



@pytest.fixture(scope="module")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    from pipelines.settings import REPO_ROOT

    return DagBag(dag_folder=str(REPO_ROOT / "dags"))  # examples are off: AIRFLOW__CORE__LOAD_EXAMPLES


def test_dags_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert sorted(dagbag.dag_ids) == sorted([f"feed_{f}" for f in catalog().feeds] +
                                            ["backfill_split", "ioc_deadlines", "ioc_kpis", "ioc_maintenance"])


def test_kpi_dag_runs_when_a_feed_it_reads_has_new_data(dagbag):
    dag = dagbag.get_dag("ioc_kpis")
    condition = dag.timetable.asset_condition
    uris = {asset.uri for asset in condition.objects}
    read = {feed for kpi in catalog().kpis.values() for feed in kpi.sources}
    assert uris == {f"ioc://warehouse/clean/{f}" for f in read} | {
        "ioc://warehouse/marts/report_status", "ioc://warehouse/marts/task_status"}
    assert type(condition).__name__ == "AssetAny", "any one feed's new data triggers a recomputation"
    assert dag.get_task("compute").pool == "duckdb_writer"
    assert [o.uri for o in dag.get_task("compute").outlets] == ["ioc://warehouse/marts/kpi_values"]
    deadlines = dagbag.get_dag("ioc_deadlines")
    assert type(deadlines.timetable).__name__ == "CronTriggerTimetable", \
        "the deadline DAG runs on a schedule, so lateness grows even without new data"
    maintenance = dagbag.get_dag("ioc_maintenance")
    assert type(maintenance.timetable).__name__ == "CronTriggerTimetable"
    assert maintenance.get_task("compact").pool == "duckdb_writer"


@pytest.mark.parametrize("feed_id", sorted(catalog().feeds))
def test_dag_is_wired_from_its_declaration(dagbag, feed_id):
    feed = catalog().feed(feed_id)
    dag = dagbag.get_dag(f"feed_{feed_id}")
    if feed.source.kind == "file_drop":  # landing a dropped file is local: one task lands and loads it
        assert dag.task_ids == ["ingest"]
        tasks = [load := dag.get_task("ingest")]
    else:  # a source read over the network: read with no lock held, then loaded by one writer
        extract, load = dag.get_task("extract"), dag.get_task("load")
        assert extract.downstream_task_ids == {"load"}
        tasks = [extract, load]
    assert load.pool == "duckdb_writer", "loads queue on one writer slot"
    assert tasks[0].owner == feed.owner and tasks[0].retries >= 1
    assert set(feed.tags) <= set(dag.tags)
    assert [o.uri for o in load.outlets] == [f"ioc://warehouse/clean/{feed_id}"]
    assert dag.max_active_runs == 1
    from pipelines.declarations.base import duration_seconds

    for task in tasks:  # run settings come from the feed's `run:` block
        assert task.retries == feed.run.retries
        assert task.retry_delay.total_seconds() == duration_seconds(feed.run.retry_delay)
        assert task.execution_timeout.total_seconds() == duration_seconds(feed.run.timeout)
        assert task.on_failure_callback
    timetable = dag.timetable
    if getattr(feed.source, "watch", False):  # a watched inbox: its asset, or the cron as a safety net
        assert type(timetable).__name__ == "AssetOrTimeSchedule"
        inbox = timetable.asset_condition
        assert inbox.uri == f"ioc://inbox/{feed_id}" and len(inbox.watchers) == 1
        trigger = inbox.watchers[0].trigger
        assert trigger["classpath"] == "pipelines.scheduler.inbox_watch.InboxTrigger"
        assert trigger["kwargs"]["directory"].endswith(f"/inbox/{feed.source.inbox}")  # under the parser's $IOC_HOME
        assert trigger["kwargs"]["patterns"] == feed.source.patterns
        timetable = timetable.timetable
    assert type(timetable).__name__ == "CronTriggerTimetable" and str(timetable._timezone.name) == feed.timezone
    assert timetable._interval.total_seconds() > 0, "a run covers the interval since the previous trigger"


def test_every_dag_runs_green_under_airflows_test_runner(airflow_db, dagbag, simulator, finance_db, world, home,
                                                         query):
    write_report_files(world, home / "inbox" / "dept_monthly_report")
    write_task_export(world, home / "inbox" / "directive_tasks")
    write_form_files(world, home / "inbox" / "dept_indicators")

    states = {}
    order = {"ioc_deadlines": 1, "ioc_kpis": 2, "ioc_maintenance": 3}  # the feeds, deadlines, KPIs, compaction
    scheduled = [d for d in dagbag.dag_ids if d != "backfill_split"]  # run by hand, with its window (test below)
    for dag_id in sorted(scheduled, key=lambda d: order.get(d, 0)):
        run = dagbag.get_dag(dag_id).test()
        states[dag_id] = str(run.state)

    assert states == {dag_id: "success" for dag_id in scheduled}
    for feed_id in catalog().feeds:
        loaded = query(f'SELECT count(*) FROM clean."{feed_id}"')[0][0]
        assert loaded > 0, feed_id
    assert query("SELECT count(*) > 0 FROM marts.report_status") == [(True,)], "the deadline DAG ran"
    assert query("SELECT count(*) FROM marts.task_status") == [(len(world.tasks),)]
    computed = dict(query("SELECT kpi_id, count(*) FILTER (WHERE status <> 'no_data') FROM marts.kpi_values "
                          "GROUP BY ALL"))
    assert set(computed) == set(catalog().kpis), "the KPI DAG computed every KPI"
    assert all(n > 0 for n in computed.values()), computed
    failed = dict(query("SELECT file_name, error FROM ops.batches WHERE status = 'failed'"))
    planted = world.planted["dept_monthly_report"]
    garbage = set(planted["garbage_files"])
    wrong_unit = {p["file"] for p in planted["unknown_department_files"]}
    assert set(failed) == garbage | wrong_unit, "only the planted bad files fail, and the DAGs stay green"
    assert all("not a readable XLSX" in failed[f] for f in garbage)
    assert all("validation blocked publication" in failed[f] and "rows_match_file_name" in failed[f]
               for f in wrong_unit)
    totals = query("SELECT sum(rows_received), sum(rows_loaded) + sum(rows_quarantined) FROM ops.batches")
    assert totals[0][0] == totals[0][1]


def test_the_backfill_dag_splits_a_window_into_mapped_parts_that_together_load_it_once(airflow_db, dagbag, simulator,
                                                                                      world, query):
    """backfill_split maps one task per part of the window (on DuckLake, each part may run on its own worker:
    tests/test_warehouse.py shows two side by side); together they load every dossier of the window, once."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    dag = dagbag.get_dag("backfill_split")
    assert dag.get_task("backfill_part").pool == "duckdb_writer"
    run = dag.test(run_conf={"feed": "tthc_dossiers", "start": "2026-10-01", "end": "2026-11-30", "parts": 3})
    assert str(run.state) == "success"
    parts = query("SELECT count(*) FROM ops.batches WHERE feed = 'tthc_dossiers'")[0][0]
    assert parts == 3, "one batch per part"
    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    start, end = datetime(2026, 10, 1, tzinfo=zone), datetime(2026, 12, 1, tzinfo=zone)
    in_window = {r["dossier_id"] for r in world.dossiers
                 if isinstance(r["updated_at"], datetime) and start <= r["updated_at"] < end}
    assert query("SELECT sum(rows_received) FROM ops.batches") == [(len(in_window),)], "no record read twice"
    assert query("SELECT count(DISTINCT record->>'dossier_id') FROM raw.tthc_dossiers") == [(len(in_window),)]


def test_parsing_the_dag_file_imports_no_heavy_library():
    """The scheduler parses dags/ often: it must read YAML, not load DuckDB, polars or drivers."""
    import subprocess
    import sys

    from pipelines.settings import REPO_ROOT

    code = (  # what our DAG files add to what Airflow itself loads (its metadata driver, say)
        "import runpy, sys, airflow.sdk; before = set(sys.modules); [runpy.run_path(f) for f in sys.argv[1:]]; "
        "print(','.join(m for m in ('duckdb', 'polars', 'pyarrow', 'psycopg', 'python_calamine', 'openpyxl') "
        "if m in sys.modules and m not in before))"
    )
    result = subprocess.run([sys.executable, "-c", code, *map(str, sorted((REPO_ROOT / "dags").glob("*.py")))],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_the_dag_suite_passes_with_metadata_on_postgresql(postgres):
    """A DAG run with Airflow's metadata in a PostgreSQL database this test creates and drops: the split backfill, its
    mapped parts' task instances written there (every DAG's run again on PostgreSQL doubled this file's 90 s of
    DAG runs on SQLite for nothing more: the metadata is written by the same code for each)."""
    import os
    import subprocess
    import sys
    import uuid

    import psycopg

    from pipelines.settings import REPO_ROOT

    name = f"ioc_test_airflow_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        env = {**os.environ, "IOC_AIRFLOW_DB_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"}
        env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(REPO_ROOT / "tests" / "test_dags.py"),
             "-k", "backfill_dag_splits"], env=env, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
        assert "1 passed" in result.stdout and "failed" not in result.stdout
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}") as conn:
            runs = conn.execute("SELECT dag_id, state FROM dag_run").fetchall()
            parts = conn.execute("SELECT count(*) FROM task_instance WHERE task_id = 'backfill_part' "
                                 "AND state = 'success'").fetchone()
        assert runs == [("backfill_split", "success")], f"the DAG run was recorded in PostgreSQL: {runs}"
        assert parts == (3,), "its three mapped parts too"
    finally:
        with psycopg.connect(postgres, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_feed_task_failing_for_good_notifies_the_webhook_its_feed_declares(dagbag, monkeypatch):
    """The wired on_failure_callback posts the feed, task, run and error to the URL in the environment
    variable the feed names (run.notify_failure_env); the URL itself is never in a file."""
    from types import SimpleNamespace

    from tests.stack import Webhook, wait_until

    hook = Webhook()
    try:
        feed = catalog().feed("tthc_dossiers")
        monkeypatch.setenv(feed.run.notify_failure_env, f"{hook.url}/failures")
        callbacks = dagbag.get_dag("feed_tthc_dossiers").get_task("extract").on_failure_callback
        callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
        ti = SimpleNamespace(dag_id="feed_tthc_dossiers", task_id="extract", run_id="scheduled__x", try_number=3)
        for callback in callbacks:
            callback({"ti": ti, "exception": RuntimeError("feed tthc_dossiers: the API answered 500")})
        path, body = wait_until(lambda: hook.notifications, timeout=10, what="the notification")[0]
        assert path == "/failures"
        assert body["feed"] == "tthc_dossiers" and body["task_id"] == "extract" and "500" in body["error"]
    finally:
        hook.stop()
