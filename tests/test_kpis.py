"""KPIs: every shipped KPI against YAML fixtures on a real DuckDB (no data, roll-up of ratios, status
bounds in both directions), the compiler, declaration errors and the CLI."""

from __future__ import annotations

import pytest

from pipelines.declarations.loading import catalog
from tests.kpi_harness import cases, run_case

CASES = cases()


@pytest.mark.duckdb_only  # an in-memory DuckDB of its own: the same on either warehouse backend
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_kpi_fixture(case):
    _, problems = run_case(case, catalog())
    assert not problems, "\n".join(problems)


def test_fixtures_cover_every_kpi_no_data_rollup_and_both_directions():
    kpis = catalog().kpis
    expectations = [want for case in CASES for want in case.spec["expect"] if "absent" not in want]
    statuses: dict[str, set[str]] = {}
    for want in expectations:
        statuses.setdefault(want["kpi"], set()).add(want.get("status"))
    missing = sorted(set(kpis) - set(statuses))
    assert not missing, f"KPIs without a fixture: {missing}"
    for kpi_id, seen in statuses.items():
        assert "no_data" in seen, f"{kpi_id}: no fixture expects no_data"
        assert seen & {"green", "amber", "red"}, f"{kpi_id}: no fixture expects a value with a status"
    for direction in ("higher_is_better", "lower_is_better"):
        seen = set().union(*(statuses[k] for k, kpi in kpis.items() if kpi.direction == direction))
        assert {"green", "amber", "red"} <= seen, f"{direction}: statuses covered {sorted(seen)}"
    province = catalog().org_units.province
    ratio_rollups = {w["kpi"] for w in expectations if w["unit"] == province and "denominator" in w
                     and kpis[w["kpi"]].rollup == "add"}
    assert ratio_rollups, "no fixture checks a ratio rolled up to the province"


# --- declarations -----------------------------------------------------------------------------

import json  # noqa: E402
import shutil  # noqa: E402

import yaml  # noqa: E402

from pipelines.declarations.loading import DeclarationError, read_catalog  # noqa: E402
from pipelines.settings import REPO_ROOT  # noqa: E402
from tests.conftest import ioc  # noqa: E402
from tests.helpers import TASKS_NOW, ingest_tasks  # noqa: E402

BROKEN_KPIS = {
    "unknown table": (lambda k: k["measure"].update({"from": "tthc_dosiers"}), "kpis[0].measure.from",
                      "is not a declared feed"),
    "bounds against the direction": (lambda k: k["thresholds"].update(green=80, amber=90), "kpis[0]",
                                     "must be ≥ amber"),
    "unknown placeholder": (lambda k: k["measure"].update(where="received_at < {yesterday}"), "kpis[0].measure",
                            "unknown placeholder"),
    "two period sources": (lambda k: k["measure"].update(snapshot=True), "kpis[0].measure",
                           "exactly one of 'time', 'period' or 'snapshot"),
    "unknown owner": (lambda k: k.update(owner="SXYZ"), "kpis[0].owner", "unknown organisation unit"),
    "ratio of an unknown KPI": (lambda k: k.update(measure={"kind": "ratio_of_kpis", "numerator": "dossier_online_rate",
                                                            "denominator": "no_such_kpi"}, explain={}),
                                "kpis[0].measure.denominator", "unknown KPI"),
}


@pytest.mark.parametrize("name", BROKEN_KPIS)
def test_a_broken_kpi_declaration_names_file_key_and_fix(tmp_path, name):
    change, key, message = BROKEN_KPIS[name]
    copy = tmp_path / "schemas"
    shutil.copytree(REPO_ROOT / "schemas", copy)
    file = copy / "kpis" / "tthc.yaml"
    data = yaml.safe_load(file.read_text(encoding="utf-8"))
    change(data["kpis"][0])
    file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(DeclarationError) as err:
        read_catalog(copy)
    problems = [str(p) for p in err.value.problems]
    assert any(f"tthc.yaml: {key}" in p and message in p for p in problems), problems


def test_a_cycle_of_kpis_building_on_each_other_is_rejected(tmp_path):
    copy = tmp_path / "schemas"
    shutil.copytree(REPO_ROOT / "schemas", copy)
    file = copy / "kpis" / "reporting.yaml"
    data = yaml.safe_load(file.read_text(encoding="utf-8"))
    data["kpis"][1]["measure"] = {"kind": "ratio_of_kpis", "numerator": "report_timeliness_rate",
                                  "denominator": "reporting_rate"}  # on-time rate ← timeliness ← on-time rate
    file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(DeclarationError, match="cycle"):
        read_catalog(copy)


def test_every_shipped_kpi_of_the_domain_is_declared():
    domain = {"dossier_on_time_rate", "dossier_online_rate", "dossier_online_payment_rate",
              "dossier_avg_processing_days", "dossiers_overdue_open", "feedback_on_time_rate",
              "feedback_satisfaction_rate", "reporting_rate", "reporting_on_time_rate", "report_lateness_working_days",
              "tasks_overdue", "tasks_due_soon", "tasks_on_time_rate", "investment_disbursement_rate",
              "security_incidents_open_critical", "aqi_unhealthy_hours", "feed_freshness_seconds"}
    kpis = catalog().kpis
    assert domain <= set(kpis)
    for kpi in kpis.values():
        assert kpi.name.vi and kpi.name.en and kpi.description.vi and kpi.description.en
        assert kpi.owner in catalog().org_units.codes


# --- the CLI on a real warehouse ----------------------------------------------------------------

def test_kpi_compute_and_show_over_ingested_tasks_with_history(home):
    ingest_tasks(home)
    out = ioc("kpi", "compute", "--now", TASKS_NOW, "--json", check=True)
    values = {(v["kpi_id"], v["unit_code"], v["period"]): v for v in json.loads(out.stdout)["values"]}
    assert values[("tasks_overdue", "SXD", "2026-11")]["value"] == 1
    assert values[("tasks_overdue", "SXD", "2026-11")]["status"] == "amber"
    assert values[("tasks_overdue", "HP", "2026-11")]["value"] == 1
    assert values[("tasks_due_soon", "SYT", "2026-11")]["value"] == 1
    october = values[("tasks_on_time_rate", "SXD", "2026-10")]
    assert (october["numerator"], october["denominator"], october["value"], october["status"]) == (1, 2, 50, "red")
    assert values[("tasks_on_time_rate", "SYT", "2026-10")]["status"] == "no_data"
    assert values[("dossier_on_time_rate", "HP", "2026-11")]["status"] == "no_data", "a feed never loaded is grey"

    def counts() -> tuple[int, int]:
        from pipelines.warehouse import connect

        with connect() as con:
            return (con.execute("SELECT count(*) FROM marts.kpi_values").fetchall()[0][0],
                    con.execute("SELECT count(*) FROM marts.kpi_history").fetchall()[0][0])

    first = counts()
    ioc("kpi", "compute", "--now", TASKS_NOW, check=True)
    assert counts() == first, "recomputing the same state adds no row and no history"

    later = ioc("kpi", "compute", "--now", "2026-11-27T10:00:00+07:00", "--kpi", "tasks_overdue", "--json", check=True)
    sxd = [v for v in json.loads(later.stdout)["values"] if v["unit_code"] == "SYT" and v["period"] == "2026-11"][0]
    assert (sxd["value"], sxd["status"]) == (1, "amber"), "NV-4 fell overdue on 26 November"
    assert counts()[1] > first[1], "the change is in marts.kpi_history"

    shown = json.loads(ioc("kpi", "show", "tasks_overdue", "--json", check=True).stdout)
    assert {r["unit_code"] for r in shown} >= {"HP", "SXD", "SYT"}
    table = ioc("kpi", "show", check=True).stdout
    assert "tasks_overdue" in table and "Cảnh báo / warning" in table and "Không có dữ liệu / no data" in table
    trend = ioc("kpi", "show", "tasks_on_time_rate", "--unit", "SXD", check=True).stdout
    assert "2026-10" in trend and "50.0%" in trend

    bad = ioc("kpi", "show", "no_such_kpi")
    assert bad.returncode == 2 and "declared KPIs" in bad.stderr
    bad = ioc("kpi", "compute", "--period", "October")
    assert bad.returncode == 2 and "is not a period key" in bad.stderr


def test_kpi_show_as_of_gives_the_values_as_reported_then_on_ducklake(home, lake_catalog):
    """DuckLake keeps every snapshot: an auditor asks what a KPI said at a moment, after it changed."""
    import time as clock
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    ingest_tasks(home)
    ioc("kpi", "compute", "--now", TASKS_NOW, check=True)
    before = json.loads(ioc("kpi", "show", "tasks_overdue", "--json", check=True).stdout)
    clock.sleep(0.5)
    reported = datetime.now(timezone.utc)
    clock.sleep(0.5)
    ioc("kpi", "compute", "--now", "2026-11-27T10:00:00+07:00", "--kpi", "tasks_overdue", check=True)
    now = json.loads(ioc("kpi", "show", "tasks_overdue", "--json", check=True).stdout)
    assert now != before, "NV-4 fell overdue on 26 November: the KPI changed"

    then = json.loads(ioc("kpi", "show", "tasks_overdue", "--json", "--as-of", reported.isoformat(), check=True).stdout)

    assert then == before
    day = reported.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date().isoformat()
    vietnam_date = ioc("kpi", "show", "tasks_overdue", "--json", "--as-of", day)
    assert vietnam_date.returncode == 0, "a date means its last instant, after both computations"
    too_early = ioc("kpi", "show", "--as-of", "2000-01-01")
    assert too_early.returncode == 2 and "no state as of" in too_early.stderr and "history starts at" in too_early.stderr

    from fastapi.testclient import TestClient

    from pipelines.serve.app import create_app

    with TestClient(create_app()) as api:
        answer = api.get("/api/kpis/tasks_overdue/as-of", params={"at": reported.isoformat()})
        assert answer.status_code == 200, answer.text
        assert [(v["unit_code"], v["value"]) for v in answer.json()["values"]] == \
            [(v["unit_code"], v["value"]) for v in before]
        one = api.get("/api/kpis/tasks_overdue/as-of", params={"at": reported.isoformat(), "unit": "SYT"}).json()
        assert [v["unit_code"] for v in one["values"]] == ["SYT"]
        assert api.get("/api/kpis/tasks_overdue/as-of", params={"at": "2000-01-01"}).status_code == 409
        assert api.get("/api/kpis/tasks_overdue/as-of", params={"at": "yesterday"}).status_code == 400
        assert api.get("/api/kpis/no_such_kpi/as-of", params={"at": "2026-11-20"}).status_code == 404


def test_kpi_show_as_of_on_the_duckdb_file_says_it_needs_ducklake(home, monkeypatch):
    monkeypatch.delenv("IOC_WAREHOUSE", raising=False)
    ioc("kpi", "compute", "--now", TASKS_NOW, check=True)
    refused = ioc("kpi", "show", "--as-of", "2026-11-20")
    assert refused.returncode == 2 and "IOC_WAREHOUSE=ducklake" in refused.stderr
    wrong = ioc("kpi", "show", "--as-of", "20/11/2026")
    assert wrong.returncode == 2 and "expected a date" in wrong.stderr
    from fastapi.testclient import TestClient

    from pipelines.serve.app import create_app

    with TestClient(create_app()) as api:
        answer = api.get("/api/kpis/tasks_overdue/as-of", params={"at": "2026-11-20"})
    assert answer.status_code == 409 and "IOC_WAREHOUSE=ducklake" in answer.json()["detail"]


def test_kpi_compute_for_one_period_leaves_the_others_and_snapshots_alone(home):
    ioc("kpi", "compute", "--now", TASKS_NOW, check=True)
    out = json.loads(ioc("kpi", "compute", "--now", TASKS_NOW, "--period", "2026-10", "--json", check=True).stdout)
    assert {v["period"] for v in out["values"]} == {"2026-10"}
    assert "tasks_overdue" in out["skipped"], "a snapshot of now is not recomputed for a past period"


def test_an_exporter_limited_to_a_unit_serves_only_its_subtree(home):
    """One exporter per province at national scale: `ioc serve --units P` serves P's subtree on /metrics."""
    import re

    from prometheus_client import generate_latest
    from prometheus_client.registry import CollectorRegistry

    from pipelines.metrics.exporter import StateCollector, subtree

    ingest_tasks(home)
    ioc("kpi", "compute", "--now", TASKS_NOW, check=True)

    def units_served(collector) -> set[str]:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(collector)
        return set(re.findall(r'[{,]unit="([^"]*)"', generate_latest(registry).decode()))

    everything = units_served(StateCollector("http://127.0.0.1:9/none"))
    sxd = units_served(StateCollector("http://127.0.0.1:9/none", subtree("SXD")))

    assert {"SXD", "SYT", "HP"} <= everything
    assert sxd and sxd <= subtree("SXD") and "SYT" not in sxd and "HP" not in sxd
    assert subtree("HP") >= {"HP", "SXD", "SYT"}
    refused = ioc("serve", "--units", "NOPE", "--port", "9")
    assert refused.returncode == 2 and "unknown organisation unit 'NOPE'" in refused.stderr


# --- incremental KPIs: after each load, the values a full recomputation gives ---------------------------------

import random  # noqa: E402
from datetime import datetime as _datetime  # noqa: E402
from datetime import timedelta as _timedelta  # noqa: E402

import polars as pl  # noqa: E402

from tests.helpers import TASK_HEADER, inbox, write_csv  # noqa: E402

INCREMENTAL_NOW = _datetime.fromisoformat("2026-11-20T10:00:00+07:00")
DEPARTMENTS = ("SKHCN", "SYT", "SXD", "STC", "SCT")
MONTHS = ("2026-07", "2026-08", "2026-09", "2026-10", "2026-11")


def _random_report(home, rng: random.Random, n: int) -> None:
    """A department's monthly report (a resubmission replaces the earlier one), on time, late, or early."""
    unit, period = rng.choice(DEPARTMENTS), rng.choice(MONTHS)
    path = write_csv(inbox(home) / f"{unit}_{period}_{n}.csv",
                     [[unit, period, f"CT{j}", "Chỉ tiêu", str(rng.randint(1, 99)), "", ""] for j in range(2)])
    year, month = map(int, period.split("-"))
    received = _datetime(year + month // 12, month % 12 + 1, 1, 9) + _timedelta(days=rng.randint(0, 12))
    moment = min(received.timestamp(), INCREMENTAL_NOW.timestamp() - 3600)
    import os

    os.utime(path, (moment, moment))
    _ingest("dept_monthly_report", [path])


def _random_tasks(home, rng: random.Random, n: int) -> None:
    """The task tracker's export: a few tasks of a small pool (a task seen again is a later version of it)."""
    folder = home / "inbox" / "directive_tasks"
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for task in rng.sample(range(5), rng.randint(1, 2)):
        due = _datetime(2026, rng.randint(7, 12), rng.randint(1, 28))
        done = rng.random() < 0.5
        finished = (due + _timedelta(days=rng.randint(-5, 5))) if done else None
        rows.append([f"NV-{task}", "TB 1/TB-VP", "Lãnh đạo", rng.choice(DEPARTMENTS), f"Nhiệm vụ {task}", "01/06/2026",
                     due.strftime("%d/%m/%Y"), "Hoàn thành" if done else rng.choice(["Đang thực hiện", "Chưa thực hiện"]),
                     finished.strftime("%d/%m/%Y") if finished and finished < _datetime(2026, 11, 20) else "",
                     f"20/11/2026 0{n % 10}:{rng.randint(10, 59)}:00"])
    rows = [r for r in rows if r[7] != "Hoàn thành" or r[8]]
    path = write_csv(folder / f"nhiem_vu_{n}.csv", rows, header=TASK_HEADER)
    _ingest("directive_tasks", [path])


def _random_dossiers(rng: random.Random, n: int) -> None:
    """A page of the dossier API: dossiers of a small pool (one seen again is its later version)."""
    from pipelines.extract.landing import LandedBatch, land, new_batch_id
    from pipelines.extract.records import records_frame
    from pipelines.ingest import load_feed

    records = []
    for dossier in rng.sample(range(3), rng.randint(1, 2)):
        received = _datetime(2026, rng.randint(7, 11), rng.randint(1, 19), 9, tzinfo=INCREMENTAL_NOW.tzinfo)
        due = received + _timedelta(days=rng.randint(3, 12))
        completed = received + _timedelta(days=rng.randint(1, 15)) if rng.random() < 0.6 else None
        if completed and completed > INCREMENTAL_NOW:
            completed = None
        records.append({"dossier_id": f"HS-{dossier}", "agency_code": rng.choice(DEPARTMENTS),
                        "procedure_code": "1.000001", "channel": rng.choice(["online", "direct"]),
                        "received_at": received.isoformat(), "due_at": due.isoformat(),
                        "completed_at": completed.isoformat() if completed else None,
                        "status": "completed" if completed else "processing",
                        "paid_online": rng.random() < 0.5, "fee_vnd": rng.choice([0, 50000]),
                        "updated_at": (INCREMENTAL_NOW - _timedelta(hours=24 - n)).isoformat()})
    batch = LandedBatch(batch_id=new_batch_id(), feed="tthc_dossiers", source_uri="test://dossiers", checksum=f"c{n}",
                        received_at=INCREMENTAL_NOW)
    land(batch, records_frame(records, list(range(1, len(records) + 1)), ["test://dossiers"] * len(records)))
    load_feed("tthc_dossiers")


def _ingest(feed_id: str, files) -> None:
    from pipelines.ingest import extract_feed, load_feed

    extract_feed(feed_id, files)
    load_feed(feed_id)


COMPARED_VALUES = ["kpi_id", "unit_code", "period", "period_start", "period_end", "value", "numerator", "denominator",
                   "target", "status", "previous_value", "previous_status", "streak", "escalated", "stale_feeds",
                   "blocked_batches", "quarantined_rows", "inputs_degraded", "period_state"]


def _kpis(full: bool):
    """Compute as the KPI DAG does; return (the run, marts.kpi_values but computed_at, kpi_history's rows, what is
    pending after)."""
    from pipelines import jobs
    from pipelines.warehouse import connect

    with connect() as con:
        run = jobs.kpis(con, catalog(), INCREMENTAL_NOW, full=full)
        values = con.sql("SELECT * FROM marts.kpi_values").pl().select(COMPARED_VALUES) \
            .sort("kpi_id", "unit_code", "period")
        history = con.execute("SELECT count(*) FROM marts.kpi_history").fetchall()[0][0]
        pending = con.execute("SELECT count(*) FROM ops.kpi_pending").fetchall()[0][0]
    return run, values, history, pending


# A full computation costs some 10 s on DuckLake (2 s on the file): there, one seed (the one that catches a load not
# recording the rows it replaces, on the file) and its first three loads (a report, dossiers, tasks).
@pytest.mark.parametrize("seed", [pytest.param(1, marks=pytest.mark.duckdb_only), 2])
def test_incremental_kpis_after_random_loads_equal_a_full_recomputation(home, warehouse_backend, seed):
    """After each random load (reports, tasks, dossiers; new, corrected, late), the KPIs computed incrementally —
    only what the load made out of date — are exactly those a full recomputation gives then (every column but
    computed_at), the full one finds nothing to log in the history, and nothing stays pending."""
    from polars.testing import assert_frame_equal

    rng = random.Random(seed)
    _kpis(full=True)
    loads = [_random_report, _random_dossiers, _random_tasks, _random_dossiers, rng.choice([_random_report, _random_tasks]),
             _random_dossiers]  # a dossier sent again may move to another month: the month it left is recomputed too
    if warehouse_backend == "ducklake":
        loads = loads[:3]
    for n, load in enumerate(loads):
        if load is _random_dossiers:
            load(rng, n)
        else:
            load(home, rng, n)
        run, incremental, history, pending = _kpis(full=False)
        assert run.incremental, f"load {n} ({load.__name__}): computed incrementally"
        assert pending == 0, "what was pending is consumed with the values"
        recomputed = set(run.seconds)
        assert recomputed < set(catalog().kpis), f"load {n}: only the KPIs it reaches ({sorted(recomputed)})"
        _, full, full_history, _ = _kpis(full=True)
        assert_frame_equal(incremental, full, check_exact=True,
                           check_dtypes=True), f"load {n} ({load.__name__}): incremental ≠ full"
        assert full_history == history, f"load {n}: the full recomputation logged changes the incremental one missed"
    assert incremental.filter(pl.col("kpi_id") == "dossier_on_time_rate", pl.col("denominator") > 0).height, \
        "the dossiers counted"
    assert incremental.filter(pl.col("kpi_id") == "reporting_rate", pl.col("numerator") > 0).height, "reports counted"
