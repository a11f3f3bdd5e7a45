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
    from tests.helpers import ROWS, TASK_HEADER, write_csv

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


@pytest.fixture
def world():
    """A larger one-stop shop than the suite's (some 12,000 dossiers): a pull worth splitting."""
    from simulator.world import World
    from tests.conftest import TEST_NOW

    return World(seed=7, now=TEST_NOW, months=3, scale=2.0)


DOSSIER_COLUMNS = "dossier_id, agency_code, procedure_code, channel, received_at, due_at, completed_at, status, " \
                  "paid_online, fee_vnd, updated_at"
KPI_COLUMNS = "kpi_id, unit_code, period, value, numerator, denominator, target, status"


def same_rows(left: list[tuple], right: list[tuple]) -> bool:
    """Equal rows, a real number within 1e-9 of the other's (a sum of durations in days added in another order
    differs in its last bits: 840.5090625 and 840.5090624999999)."""
    import math

    def same(a, b) -> bool:
        return math.isclose(a, b, rel_tol=1e-9) if isinstance(a, float) and isinstance(b, float) else a == b

    return len(left) == len(right) and all(len(a) == len(b) and all(map(same, a, b)) for a, b in zip(left, right))


def test_a_large_pull_split_across_two_workers_loads_side_by_side_and_equals_one_pull_into_the_file(
        home, lake_catalog, tmp_path, query, simulator, world):
    """`ioc backfill --part 1/2` and `--part 2/2` (what the backfill_split DAG's mapped tasks run, one per worker)
    pull, validate and stage their halves of the window at the same time — each waits, staged, until the other
    is staged too — then both merge. The lake then holds what one whole pull into the DuckDB file holds: the same
    dossiers, the same quarantine, the same KPIs."""
    import json
    import subprocess

    import duckdb

    from tests.conftest import VENV_BIN

    window = ("--from", "2026-08-01", "--to", "2026-11-30")
    ioc("warehouse", "init", check=True)
    barrier = tmp_path / "barrier"
    env = {**os.environ, "IOC_BARRIER": "load.staged", "IOC_BARRIER_DIR": str(barrier)}
    workers = [subprocess.Popen([str(VENV_BIN / "ioc"), "backfill", "tthc_dossiers", *window, "--part", part, "--json"],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for part in ("1/2", "2/2")]
    results = [w.communicate(timeout=300) + (w.returncode,) for w in workers]
    assert [rc for *_, rc in results] == [0, 0], [e[-3000:] for _, e, _ in results]
    assert len(list(barrier.iterdir())) == 2, "both parts were staged at the same moment"
    parts = [json.loads(out) for out, _, _ in results]
    received = [sum(s["rows_received"] for s in part) for part in parts]
    assert all(r > 1000 for r in received), f"each worker pulled its share: {received}"
    assert sum(received) == len(world.dossiers), "the halves meet: no dossier lost or read twice"
    assert query("SELECT count(DISTINCT batch_id), sum(rows_received) FROM ops.batches") == \
        [(sum(len(p) for p in parts), len(world.dossiers))]
    ioc("kpi", "compute", "--now", "2026-11-20T10:00:00+07:00", check=True)

    embedded = tmp_path / "embedded"
    one = {"IOC_WAREHOUSE": "duckdb", "IOC_HOME": str(embedded)}
    whole = json.loads(ioc("backfill", "tthc_dossiers", *window, "--json", env=one, check=True).stdout)
    assert sum(s["rows_received"] for s in whole) == len(world.dossiers)
    ioc("kpi", "compute", "--now", "2026-11-20T10:00:00+07:00", env=one, check=True)

    checks = {
        "dossiers": f"SELECT {DOSSIER_COLUMNS}, _withdrawn_at FROM clean.tthc_dossiers ORDER BY dossier_id",
        # the same records quarantined for the same checks (where they came from, a page of one pull or another, differs)
        "quarantine": "SELECT record_key, list_transform(reasons, r -> r.check_name || '/' || coalesce(r.column_name, "
                      "''))::VARCHAR AS why, record::VARCHAR, status FROM ops.quarantine ORDER BY ALL",
        "kpis": f"SELECT {KPI_COLUMNS} FROM marts.kpi_values WHERE kpi_id IN (SELECT kpi_id FROM marts.kpi_values "
                f"WHERE numerator IS NOT NULL) ORDER BY ALL",
    }
    with duckdb.connect(str(embedded / "warehouse.duckdb"), read_only=True) as file:
        for name, sql in checks.items():
            lake, one_file = query(sql), file.execute(sql).fetchall()
            assert lake, f"{name}: nothing to compare"
            assert same_rows(lake, one_file), f"{name} differ between the split pull on DuckLake and one pull into the file"


@pytest.fixture
def object_storage(monkeypatch):
    """An S3-compatible server on loopback (moto's, over real HTTP) with an empty bucket, and the S3 settings
    every process of the platform reads from the environment."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    keys = {"AWS_ACCESS_KEY_ID": f"ioc-{uuid.uuid4().hex[:8]}", "AWS_SECRET_ACCESS_KEY": uuid.uuid4().hex,
            "AWS_REGION": "us-east-1"}
    for name, value in {**keys, "IOC_S3_ENDPOINT": f"{host}:{port}", "IOC_S3_URL_STYLE": "path",
                        "IOC_S3_USE_SSL": "false"}.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=f"http://{host}:{port}", aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1")
    client.create_bucket(Bucket="ioc-lake")
    monkeypatch.setenv("IOC_DUCKLAKE_DATA", "s3://ioc-lake/data")
    monkeypatch.setenv("IOC_RAW_DATA", "s3://ioc-lake/raw")
    yield lambda prefix: [o["Key"] for o in client.list_objects_v2(Bucket="ioc-lake", Prefix=prefix).get("Contents", [])]
    server.stop()


def test_a_ducklake_keeps_its_data_and_raw_history_in_object_storage(home, lake_catalog, object_storage, tmp_path,
                                                                      query):
    """IOC_DUCKLAKE_DATA and IOC_RAW_DATA as s3:// URLs: a load writes the lake's Parquet files and the batch's raw
    record file as objects (through DuckDB's httpfs, the keys from the environment), nothing on local disk, and
    the warehouse reads them back — clean rows, raw history, the deadline marts."""
    from tests.helpers import TASK_HEADER, write_csv

    ioc("warehouse", "init", check=True)
    rows = [[f"NV-{i}", "TB 1/TB-VP", "Lãnh đạo", "SXD", f"Nhiệm vụ {i}", "01/09/2026", "02/11/2026",
             "Đang thực hiện", "", "20/11/2026 08:00:00"] for i in range(1, 41)]
    file = write_csv(tmp_path / "nhiem_vu.csv", rows, header=TASK_HEADER)
    loaded = ioc("ingest", "directive_tasks", "--file", str(file))
    assert loaded.returncode == 0, loaded.stderr[-3000:]

    assert query("SELECT count(*) FROM clean.directive_tasks") == [(40,)]
    (batch,) = query("SELECT batch_id FROM ops.batches")
    assert query("SELECT count(*), count(DISTINCT record->>'Mã nhiệm vụ') FROM raw.directive_tasks") == [(40, 40)]
    assert object_storage("raw/directive_tasks/") == [f"raw/directive_tasks/{batch[0]}.parquet"]
    assert any(k.startswith("data/clean/directive_tasks/") and k.endswith(".parquet") for k in object_storage("data/")), \
        object_storage("data/")
    assert query("SELECT count(*) FROM marts.task_status WHERE state = 'overdue'") == [(40,)]
    assert not (home / "lake").exists() and not (home / "raw").exists(), "nothing of the lake on local disk"


def test_object_storage_without_its_keys_is_refused_naming_them(home, lake_catalog, object_storage, monkeypatch):
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    refused = ioc("warehouse", "init")
    assert refused.returncode != 0
    assert "AWS_SECRET_ACCESS_KEY" in refused.stderr and "object storage" in refused.stderr


def test_compaction_merges_a_lakes_small_files_keeps_its_rows_and_its_history_within_the_kept_days(
        home, lake_catalog, tmp_path, query):
    """Every report's load commits small Parquet files of its own; `ioc warehouse compact` merges them (DuckLake's
    own merge_adjacent_files), the rows as they were, time travel kept to the history asked for."""
    from datetime import UTC, datetime

    from pipelines.warehouse import connect
    from tests.helpers import write_csv

    ioc("warehouse", "init", check=True)
    for month in ("09", "10"):  # 40 rows each: more than DuckLake inlines into its catalog (10)
        rows = [["SKHCN", f"{month}/2026", f"CT_{i:02d}", f"Chỉ tiêu {i}", str(i), "cái", ""] for i in range(40)]
        ioc("ingest", "dept_monthly_report", "--file", str(write_csv(tmp_path / f"SKHCN_2026-{month}.csv", rows)),
            check=True)
    after_loads = datetime.now(UTC)
    clean = "SELECT * FROM clean.dept_monthly_report ORDER BY ALL"
    before, files = query(clean), "SELECT count(*) FROM ducklake_list_files('warehouse', 'dept_monthly_report', " \
                                  "schema => 'clean')"
    assert query(files)[0][0] >= 2, "a file per load at least"

    done = ioc("warehouse", "compact", "--keep-days", "400")

    assert done.returncode == 0, done.stderr
    assert query(files) == [(1,)], done.stdout
    assert "data files" in done.stdout and "→" in done.stdout
    assert query(clean) == before
    with connect(as_of=after_loads) as past:  # history within the kept days: time travel still answers
        assert past.execute(clean).fetchall() == before
    assert query("SELECT success FROM ops.runs WHERE pipeline = 'compact'") == [(True,)]

    assert ioc("warehouse", "compact", "--keep-days", "0").returncode == 0  # no history kept: only now
    from pipelines.warehouse import NoTimeTravel

    with pytest.raises(NoTimeTravel), connect(as_of=after_loads):
        pass
    assert query(clean) == before
