"""A period shows when it means something (issue 26, point 5): on 3 December, with data for November and
December, every surface shows each KPI's latest complete period — reporting_rate's November (its reports are
past their deadline) with its real status, not December's three days; a KPI over dated records its November; a
snapshot its December, judged as now — and shows a running period only labelled "đến ngày 03/12" / "to date
03/12" and unjudged, unless the KPI declares judge_running. The alerts never fire on a running period.

A small province on a real warehouse: four departments (SA…SD) owe the monthly report; reports are ingested
from the inbox, dossiers written to the feed's clean table; `ioc kpi compute` refreshes the deadlines and
computes the KPIs as of 3 December 10:00."""

from __future__ import annotations

import shutil
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import polars as pl
import pytest
import yaml

from pipelines.declarations.loading import read_catalog
from pipelines.settings import paths
from tests.conftest import ioc
from tests.stack import free_port, start_exporter, start_prometheus, wait_until
from tests.helpers import report

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = "2026-12-03T10:00:00+07:00"
DEPARTMENTS = ("SA", "SB", "SC", "SD")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
def province(tmp_path, monkeypatch) -> Path:
    """The declarations with the province's departments replaced by SA…SD, and the monthly report tracked for
    November and December only."""
    copy = tmp_path / "schemas"
    shutil.copytree(paths().schemas, copy)
    units = yaml.safe_load((copy / "org_units.yaml").read_text(encoding="utf-8"))
    for unit in units["units"]:
        if unit["kind"] == "department" and not unit.get("valid_to"):
            unit["valid_to"] = "2025-12-31"
    units["units"] += [{"code": code, "kind": "department", "parent": "HP", "vi": f"Sở {code[1]}", "en": code[1],
                        "valid_from": "2020-01-01"} for code in DEPARTMENTS]
    (copy / "org_units.yaml").write_text(yaml.safe_dump(units, allow_unicode=True), encoding="utf-8")
    feed_file = copy / "feeds" / "dept_monthly_report.yaml"
    feed = yaml.safe_load(feed_file.read_text(encoding="utf-8"))
    feed["owner"] = "VPUBND"
    feed["reporting"]["history_periods"] = 2  # November and December
    feed_file.write_text(yaml.safe_dump(feed, allow_unicode=True, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv("IOC_SCHEMAS", str(copy))
    return copy


DOSSIERS = [  # (id, agency, received, due, completed or None)
    # SA in November: 3 of 4 on time (D4 still open, past due since 20 November) → 75 % red
    ("D1", "SA", "2026-11-02T08:00", "2026-11-09T17:00", "2026-11-06T10:00"),
    ("D2", "SA", "2026-11-03T08:00", "2026-11-10T17:00", "2026-11-07T10:00"),
    ("D3", "SA", "2026-11-04T08:00", "2026-11-11T17:00", "2026-11-08T10:00"),
    ("D4", "SA", "2026-11-10T08:00", "2026-11-20T17:00", None),
    # SA in December: 2 of 2 so far (D5 open, not yet due; D6 done the same day) → 100 %, three days in
    ("D5", "SA", "2026-12-01T08:00", "2026-12-10T17:00", None),
    ("D6", "SA", "2026-12-02T08:00", "2026-12-09T17:00", "2026-12-02T15:00"),
    # SB in November: 2 of 2 on time → 100 % green; in December 0 of 1 so far (D9 due 2 December, open) → 0 %
    ("D7", "SB", "2026-11-05T08:00", "2026-11-12T17:00", "2026-11-10T10:00"),
    ("D8", "SB", "2026-11-06T08:00", "2026-11-13T17:00", "2026-11-12T10:00"),
    ("D9", "SB", "2026-12-01T08:00", "2026-12-02T17:00", None),
]


def build(home: Path, judge_running: bool = False) -> None:
    """November's reports from SA, SB and SC on time (SD's missing: 75 %), December's from SA early (due
    16 December: 1 of 1 so far); the dossiers above; the KPIs computed as of 3 December."""
    from pipelines.ingest import ingest_feed
    from pipelines.warehouse import connect
    from pipelines.warehouse.tables import clean_table, ensure_clean_table

    if judge_running:
        kpis = paths().schemas / "kpis" / "tthc.yaml"
        data = yaml.safe_load(kpis.read_text(encoding="utf-8"))
        next(k for k in data["kpis"] if k["id"] == "dossier_on_time_rate")["judge_running"] = True
        kpis.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    for unit in ("SA", "SB", "SC"):
        report(home, unit, "2026-11", "2026-11-12T09:00:00+07:00")
    report(home, "SA", "2026-12", "2026-12-02T09:00:00+07:00")
    _, error = ingest_feed("dept_monthly_report")
    assert error is None
    cat = read_catalog()
    feed = cat.feed("tthc_dossiers")
    rows = pl.DataFrame([{"dossier_id": d, "agency_code": unit, "procedure_code": "P1", "channel": "online",
                          "status": "completed" if done else "processing", "received_at": at(received + ":00+07:00"),
                          "due_at": at(due + ":00+07:00"), "completed_at": at(done + ":00+07:00") if done else None,
                          "updated_at": at("2026-12-03T08:00:00+07:00")} for d, unit, received, due, done in DOSSIERS])
    with connect() as con:
        ensure_clean_table(con, feed)
        con.register("_dossiers", rows)
        con.execute(f"INSERT INTO {clean_table(feed)} BY NAME SELECT * FROM _dossiers")
        con.unregister("_dossiers")
    ioc("kpi", "compute", "--now", NOW, check=True)


def stored(kpi: str, unit: str, period: str) -> dict:
    from pipelines.warehouse import connect

    with connect() as con:
        rows = con.sql("SELECT * FROM marts.kpi_values WHERE kpi_id = ? AND unit_code = ? AND period = ?",
                       params=[kpi, unit, period]).pl().to_dicts()
    assert len(rows) == 1, (kpi, unit, period, rows)
    return rows[0]


def test_each_kpi_is_stored_with_its_period_state_and_a_running_period_is_not_judged(province, home):
    build(home)
    # reporting_rate: November's reports were due on 18 November (cut-off 14th + 2 working days) → complete
    november = stored("reporting_rate", "HP", "2026-11")
    assert (november["value"], november["status"], november["period_state"]) == (75, "red", "complete")
    # December's are due on 16 December: SA's early report makes "100 %" of the reports received so far
    december = stored("reporting_rate", "HP", "2026-12")
    assert (december["value"], december["status"], december["period_state"]) == (100, "running", "running")
    assert stored("reporting_rate", "SD", "2026-12")["status"] == "no_data", "no data stays no data, running or not"
    # a KPI over dated records: November has ended, December has not
    assert [stored("dossier_on_time_rate", "SA", p)[k] for p in ("2026-11", "2026-12") for k in ("value", "status",
            "period_state")] == [75, "red", "complete", 100, "running", "running"]
    # a snapshot: the current period is the value, judged as now (D4 and D9 open past due)
    overdue = stored("dossiers_overdue_open", "HP", "2026-12")
    assert (overdue["value"], overdue["status"], overdue["period_state"]) == (2, "amber", "complete")
    # a ratio of two report-based KPIs follows its inputs' deadline
    assert stored("report_timeliness_rate", "HP", "2026-12")["period_state"] == "running"
    assert stored("report_timeliness_rate", "HP", "2026-11")["period_state"] == "complete"


def test_ioc_kpi_show_shows_the_latest_complete_period_and_a_running_one_only_on_request_labelled(province, home):
    import json

    build(home)
    shown = {r["kpi_id"]: r for r in json.loads(ioc("kpi", "show", "--json", check=True).stdout)}
    assert (shown["reporting_rate"]["period"], shown["reporting_rate"]["status"]) == ("2026-11", "red")
    assert shown["dossier_on_time_rate"]["period"] == "2026-11"
    assert (shown["dossiers_overdue_open"]["period"], shown["dossiers_overdue_open"]["status"]) == ("2026-12", "amber")
    for r in shown.values():  # a KPI none of whose periods is complete (nothing ever reported) shows its latest
        assert r["period_state"] == "complete" or r["status"] == "no_data", r
    table = ioc("kpi", "show", check=True).stdout
    for kpi in ("reporting_rate", "dossier_on_time_rate", "dossiers_overdue_open"):
        line = next(line for line in table.splitlines() if f"{kpi} — " in line)
        assert "đến ngày" not in line, line
    assert "--period 2026-12" in table, "the running period is offered, not shown"

    running = {r["kpi_id"]: r for r in json.loads(ioc("kpi", "show", "--period", "2026-12", "--json",
                                                      check=True).stdout)}
    rate = running["reporting_rate"]
    assert (rate["period"], rate["value"], rate["status"], rate["period_state"], rate["to_date"]) == (
        "2026-12", 100, "running", "running", "2026-12-03")
    assert running["dossiers_overdue_open"]["status"] == "amber", "a snapshot is judged as now"
    table = " ".join(ioc("kpi", "show", "reporting_rate", "--period", "2026-12", check=True).stdout.split())
    assert "2026-12 (đến ngày 03/12 / to date 03/12)" in table
    assert "Chưa đánh giá (kỳ chưa kết thúc) / not judged (period running)" in table
    assert "Đạt / on target" not in table, "a running rate of 100 % is not on target"
    trend = " ".join(ioc("kpi", "show", "reporting_rate", "--unit", "HP", check=True).stdout.replace("│", " ").split())
    assert "2026-11 75.0%" in trend and "2026-12 (đến ngày 03/12 / to date 03/12) 100.0%" in trend

    # `ioc kpi explain` explains the value shown: November's
    explained = json.loads(ioc("kpi", "explain", "reporting_rate", "--json", check=True).stdout)
    assert explained["period"] == "2026-11" and explained["records_total"] == 4


def test_the_wall_api_shows_the_complete_period_with_the_running_one_beside_it(province, home):
    from fastapi.testclient import TestClient

    from pipelines.briefing.content import latest_complete_month
    from pipelines.serve.app import create_app

    build(home)
    with TestClient(create_app()) as api:
        tiles = {t["id"]: t for t in api.get("/api/kpis").json()["kpis"]}
        summary = api.get("/api/summary").json()
        drill = api.get("/api/kpis/dossier_on_time_rate", params={"unit": "HP"}).json()
        briefing = api.get("/api/briefings/monthly", params={"format": "xlsx"})

    rate = tiles["reporting_rate"]
    assert (rate["latest_period"], rate["running_period"], rate["period_complete"]) == ("2026-11", "2026-12", "deadline")
    assert (rate["current"]["period"], rate["current"]["value"], rate["current"]["status"]) == ("2026-11", 75, "red")
    assert (rate["running"]["period"], rate["running"]["value"], rate["running"]["status"],
            rate["running"]["to_date"]) == ("2026-12", 100, "running", "2026-12-03")
    assert [p["period"] for p in rate["history"]][-1] == "2026-11", "the sparkline ends at the period shown"
    assert tiles["dossier_on_time_rate"]["current"]["period"] == "2026-11"
    assert tiles["dossier_on_time_rate"]["period_complete"] == "period_end"
    snapshot = tiles["dossiers_overdue_open"]
    assert (snapshot["current"]["period"], snapshot["current"]["status"], snapshot["running"]) == ("2026-12", "amber",
                                                                                                  None)
    assert snapshot["period_complete"] == "now"
    assert summary["kpis"]["running"] == 0 and summary["kpis"]["red"] >= 2
    children = {c["unit"]: c for c in drill["children"]}
    assert (children["SB"]["current"]["status"], children["SB"]["running"]["value"],
            children["SB"]["running"]["status"]) == ("green", 0, "running")
    # the wall's briefing button: the latest month that has ended (on 3 December, November)
    assert briefing.status_code == 200
    assert f"bao-cao-thang-{latest_complete_month()}.xlsx" in briefing.headers["content-disposition"]


def test_the_briefing_shows_complete_periods_and_a_running_month_to_date(province, home):
    from pipelines.briefing.content import latest_complete_month, monthly
    from pipelines.declarations.loading import read_catalog
    from pipelines.warehouse import connect

    build(home)
    assert latest_complete_month(at(NOW)) == "2026-11"
    with connect() as con:
        november = {k.kpi_id: k for k in monthly(con, read_catalog(), "2026-11", at(NOW)).kpis}
        december = {k.kpi_id: k for k in monthly(con, read_catalog(), "2026-12", at(NOW)).kpis}
    line = november["reporting_rate"]
    assert (line.period, line.value, line.status, line.period_state, line.running_period) == (
        "2026-11", 75, "red", "complete", None)
    line = december["reporting_rate"]  # December's briefing on 3 December: November, and December to date
    assert (line.period, line.status) == ("2026-11", "red")
    assert (line.running_period, line.running_value, line.running_status, line.running_to_date) == (
        "2026-12", 100, "running", date(2026, 12, 3))
    assert december["dossiers_overdue_open"].period == "2026-12", "a snapshot is its current period"


def test_a_kpi_declaring_judge_running_is_judged_in_its_running_period(province, home):
    from fastapi.testclient import TestClient

    from pipelines.serve.app import create_app

    build(home, judge_running=True)
    sa, sb = stored("dossier_on_time_rate", "SA", "2026-12"), stored("dossier_on_time_rate", "SB", "2026-12")
    assert (sa["status"], sa["period_state"]) == ("green", "running")
    assert (sb["status"], sb["period_state"]) == ("red", "running")
    assert stored("reporting_rate", "HP", "2026-12")["status"] == "running", "only the KPI that declares it"
    with TestClient(create_app()) as api:
        drill = api.get("/api/kpis/dossier_on_time_rate", params={"unit": "HP"}).json()
    children = {c["unit"]: c for c in drill["children"]}
    assert children["SB"]["current"]["period"] == "2026-11", "the period shown is still the latest complete one"
    assert children["SB"]["running"]["status"] == "red"


def test_the_exporter_and_the_alerts_never_fire_on_a_running_period(province, home, tmp_path):
    """SB's dossiers: November 100 % (green), December 0 % so far. SA's: November 75 % (red). Through the
    exporter and a real Prometheus evaluating the committed rules, KpiRed fires for SA and never for SB — even
    when the KPI declares judge_running and December is judged red."""
    from prometheus_client.parser import text_string_to_metric_families

    build(home, judge_running=True)
    assert stored("dossier_on_time_rate", "SB", "2026-12")["status"] == "red", "judged: red so far"
    exporter, address = start_exporter(home, tmp_path)
    prometheus = None
    try:
        text = httpx.get(f"http://{address}/metrics", timeout=10).text
        families = {f.name: f for f in text_string_to_metric_families(text)}
        status = {(s.labels["unit"], s.labels["status"]): s.value for s in families["ioc_kpi_status"].samples
                  if s.labels["kpi"] == "dossier_on_time_rate"}
        assert status[("SB", "green")] == 1 and status[("SB", "red")] == 0, "November, the complete period"
        assert status[("SA", "red")] == 1
        assert "running" not in {s.labels["status"] for s in families["ioc_kpi_status"].samples}
        ends = {s.labels["unit"]: s.value for s in families["ioc_kpi_period_end_timestamp_seconds"].samples
                if s.labels["kpi"] == "reporting_rate"}
        assert ends["HP"] == datetime(2026, 12, 1, tzinfo=HCM).timestamp(), "the end of November"

        prometheus, prom = start_prometheus(tmp_path, address, f"127.0.0.1:{free_port()}")

        def alerts() -> dict:
            body = httpx.get(f"http://{prom}/api/v1/query", params={"query": 'ALERTS{alertname="KpiRed"}'},
                             timeout=10).json()
            return {(r["metric"]["kpi"], r["metric"]["unit"]): r["metric"] for r in body["data"]["result"]}

        fired = wait_until(lambda: (a := alerts()) and ("dossier_on_time_rate", "SA") in a and a, timeout=90,
                           what="KpiRed for SA's November")
        assert ("dossier_on_time_rate", "SB") not in fired
        assert ("reporting_rate", "HP") in fired, "November's reporting rate, 75 %, is red"
        time.sleep(3)  # a few more scrapes and evaluations (every second)
        assert ("dossier_on_time_rate", "SB") not in alerts(), "never on a running period"
    finally:
        if prometheus is not None:
            prometheus.stop()
        exporter.stop()


def test_declarations_of_the_rule_are_checked(province):
    from pipelines.declarations.loading import DeclarationError
    from pipelines.kpi.completeness import check_rule, completion_rule

    catalog = read_catalog()
    rules = {k: completion_rule(kpi, catalog) for k, kpi in catalog.kpis.items()}
    assert rules["reporting_rate"] == rules["report_timeliness_rate"] == "deadline"
    assert rules["dossier_on_time_rate"] == rules["investment_disbursement_rate"] == "period_end"
    assert rules["dossiers_overdue_open"] == rules["tasks_overdue"] == rules["feed_freshness_seconds"] == "now"
    for kpi in catalog.kpis.values():
        check_rule(kpi, catalog)  # every shipped KPI's rule applies

    file = province / "kpis" / "tthc.yaml"
    data = yaml.safe_load(file.read_text(encoding="utf-8"))
    data["kpis"][0]["period_complete"] = "now"  # dossier_on_time_rate is no snapshot
    file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(DeclarationError, match="period_complete 'now' is for a snapshot"):
        read_catalog(province)
    data["kpis"][0]["period_complete"] = "deadline"  # its feed declares no reporting deadline
    file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(ValueError, match="needs a source feed that declares `reporting:`"):
        check_rule(read_catalog(province).kpis["dossier_on_time_rate"], read_catalog(province))
    refused = ioc("kpi", "compute", "--now", NOW)
    assert refused.returncode == 2 and "period_complete 'deadline'" in refused.stderr
