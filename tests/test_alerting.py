"""Metrics and alerting with the real tools: the exporter's scrape passes `promtool check metrics` and
stays complete while a load runs; the generated rules pass `promtool check rules`, match the
declarations and their unit tests; the Alertmanager routing passes `amtool check-config`, routes by unit
and severity, and inhibits consequences by causes in a running Alertmanager; and end to end, a planted
late report's alert reaches a webhook through Prometheus and Alertmanager, then resolves when the
report is loaded."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from pipelines.alerting.rules import render_rules, rules_file
from pipelines.declarations.loading import catalog, read_catalog
from pipelines.settings import REPO_ROOT
from tests.conftest import ioc
from tests.stack import (Webhook, start_alertmanager, start_exporter, start_prometheus, wait_until)
from tests.helpers import report

ALERTS = REPO_ROOT / "alerts"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


# --- rules --------------------------------------------------------------------------------------

def test_committed_rules_are_what_the_declarations_give():
    assert rules_file(REPO_ROOT).read_text(encoding="utf-8") == render_rules(catalog()), \
        "alerts/rules/ioc.rules.yml is stale: run `ioc alerts generate`"
    assert ioc("alerts", "generate", "--check").returncode == 0


def test_a_changed_threshold_in_a_declaration_changes_the_rules(tmp_path):
    copy = tmp_path / "schemas"
    shutil.copytree(REPO_ROOT / "schemas", copy)
    feed = copy / "feeds" / "tthc_dossiers.yaml"
    feed.write_text(feed.read_text(encoding="utf-8").replace("stale_after: 1h", "stale_after: 3h"), encoding="utf-8")
    kpis = copy / "kpis" / "tthc.yaml"
    kpis.write_text(kpis.read_text(encoding="utf-8").replace("red_periods: 2, amber_periods: 3",
                                                             "red_periods: 4, amber_periods: 6"), encoding="utf-8")
    rules = render_rules(read_catalog(copy))
    assert "ioc_feed_last_success_timestamp_seconds{feed=\"tthc_dossiers\"}) > 10800" in rules
    assert "ioc_kpi_status_periods{kpi=\"dossier_on_time_rate\"} >= 4" in rules
    assert "ioc_kpi_status_periods{kpi=\"dossier_on_time_rate\"} >= 6" in rules


def test_promtool_checks_the_rules_and_runs_their_unit_tests():
    checked = run("promtool", "check", "rules", *map(str, sorted((ALERTS / "rules").glob("*.yml"))))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = run("promtool", "test", "rules", *map(str, sorted((ALERTS / "tests").glob("*.yml"))))
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_has_unit_tests_firing_and_not_firing_and_complete_labels():
    rules = yaml.safe_load(rules_file(REPO_ROOT).read_text(encoding="utf-8"))
    alerts = [r for g in rules["groups"] for r in g["rules"] if "alert" in r]
    for rule in alerts:
        assert rule["labels"]["severity"] in ("info", "warning", "critical")
        assert set(rule["annotations"]) == {"summary_vi", "summary_en", "description_vi", "description_en",
                                            "runbook_url"}
    runbook = (REPO_ROOT / "docs" / "alerts.md").read_text(encoding="utf-8")
    for name in {r["alert"] for r in alerts}:
        assert f'<a id="runbook-{name.lower()}"></a>' in runbook, f"docs/alerts.md has no runbook for {name}"
    fired, quiet = set(), set()
    for file in (ALERTS / "tests").glob("*.yml"):
        for test in yaml.safe_load(file.read_text(encoding="utf-8"))["tests"]:
            series = [s["series"] for s in test["input_series"]]
            for case in test.get("alert_rule_test", []):
                expected = case.get("exp_alerts") or []
                for alert in expected:  # what reaches people: severity, the responsible unit, feed or kpi
                    labels = alert["exp_labels"]
                    assert labels.get("severity") and labels.get("unit"), (case["alertname"], labels)
                    assert labels["unit"] == "IOC" or labels.get("feed") or labels.get("kpi"), labels
                if expected:
                    fired.add(case["alertname"])
                # promtool compares the exact set: a unit in the input that fires nothing is asserted quiet
                units = {x.split('unit="')[1].split('"')[0] for x in series if 'unit="' in x}
                if not expected or units - {e["exp_labels"].get("unit") for e in expected}:
                    quiet.add(case["alertname"])
    names = {r["alert"] for r in alerts}
    assert names <= fired, f"alerts never tested firing: {sorted(names - fired)}"
    assert names <= quiet, f"alerts never tested not firing: {sorted(names - quiet)}"


# --- routing ------------------------------------------------------------------------------------

@pytest.fixture
def alertmanager_config(tmp_path) -> Path:
    out = tmp_path / "alertmanager.yml"
    ioc("alerts", "config", "alertmanager", "--out", str(out), check=True)
    return out


def test_amtool_checks_the_rendered_routing(alertmanager_config):
    checked = run("amtool", "check-config", str(alertmanager_config))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "${" not in alertmanager_config.read_text(), "every placeholder is filled"


@pytest.mark.parametrize("labels, receivers", [
    (["alertname=ReportOverdue", "severity=warning", "unit=SXD"], "departments"),
    (["alertname=ReportOverdue", "severity=critical", "unit=SXD"], "ioc-oncall,departments"),
    (["alertname=KpiRed", "severity=warning", "unit=SOC"], "soc"),
    (["alertname=FeedStale", "severity=warning", "unit=TTPVHCC"], "data-engineering"),
    (["alertname=SchedulerDown", "severity=critical", "unit=IOC"], "ioc-oncall,data-engineering"),
    (["alertname=Unknown", "severity=info", "unit=IOC"], "ioc-operations"),
])
def test_routing_by_unit_and_severity(alertmanager_config, labels, receivers):
    routed = run("amtool", "config", "routes", "test", f"--config.file={alertmanager_config}", *labels)
    assert routed.returncode == 0, routed.stderr
    assert routed.stdout.strip() == receivers


# --- the exporter -------------------------------------------------------------------------------

def _tasks_and_kpis(home: Path) -> None:
    """A small warehouse: tasks ingested (their deadlines refreshed), KPIs computed."""
    from tests.helpers import TASKS_NOW, ingest_tasks

    ingest_tasks(home)
    ioc("kpi", "compute", "--now", TASKS_NOW, check=True)


def scrape(address: str) -> tuple[str, float]:
    started = time.perf_counter()
    response = httpx.get(f"http://{address}/metrics", timeout=10)
    response.raise_for_status()
    return response.text, time.perf_counter() - started


def test_a_real_scrape_passes_promtool_check_metrics(home, tmp_path):
    _tasks_and_kpis(home)
    exporter, address = start_exporter(home, tmp_path)
    try:
        text, _ = scrape(address)
    finally:
        exporter.stop()
    linted = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    assert linted.returncode == 0 and not linted.stdout.strip() and not linted.stderr.strip(), \
        linted.stdout + linted.stderr
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in ("ioc_kpi_value", "ioc_kpi_status", "ioc_kpi_target", "ioc_report_received", "ioc_tasks_overdue",
                 "ioc_feed_last_success_timestamp_seconds", "ioc_feed_rows_loaded", "ioc_feed_validation_failures",
                 "ioc_pipeline_last_run_duration_seconds", "ioc_feed_last_batch_status", "ioc_state_up"):
        assert name in families, name
    overdue = {s.labels["unit"]: s.value for s in families["ioc_tasks_overdue"].samples}
    assert overdue["SXD"] == 1, "NV-3 is overdue (as of the real now)"
    red = {(s.labels["kpi"], s.labels["unit"]) for s in families["ioc_kpi_status"].samples
           if s.labels["status"] == "red" and s.value == 1}
    # SXD's latest complete month for the on-time rate is October: NV-1 on time, NV-2 late, 50 % < amber 70
    assert ("tasks_on_time_rate", "SXD") in red, red
    # its overdue count (a snapshot of 20 November) is 1: amber (green 0, amber 2), not red
    assert ("tasks_overdue", "SXD") not in red, red
    units, feeds = catalog().org_units.codes, set(catalog().feeds)
    for family in families.values():
        for sample in family.samples:
            assert sample.labels.get("unit", "IOC") in units, sample
            assert sample.labels.get("feed", "directive_tasks") in feeds | {""}, sample


def test_a_scrape_during_a_parallel_load_is_complete_and_consistent(home, tmp_path):
    """A load of 100,000 tasks holds the warehouse for seconds; meanwhile every scrape answers at once
    with a whole state — for every feed, rows received = loaded + quarantined — before or after it."""
    from tests.helpers import TASK_HEADER, ingest_tasks, write_csv

    ingest_tasks(home)
    rows = [[f"NV-{i:06d}", "TB 1/TB-VP", "Lãnh đạo", "SYT", f"Nhiệm vụ {i}", "01/09/2026", "30/12/2026",
             "Đang thực hiện", "", "20/11/2026 08:00:00"] for i in range(100_000)]
    write_csv(home / "inbox" / "directive_tasks" / "nhiem_vu_lon.csv", rows, header=TASK_HEADER)
    exporter, address = start_exporter(home, tmp_path)
    results, slowest, scrapes = [], 0.0, 0
    loader = threading.Thread(target=lambda: results.append(ioc("ingest", "directive_tasks")))
    try:
        loader.start()
        while loader.is_alive():
            scrapes += 1
            text, seconds = scrape(address)
            slowest = max(slowest, seconds)
            families = {f.name: f for f in text_string_to_metric_families(text)}
            assert families["ioc_state_up"].samples[0].value == 1

            def total(name: str) -> float:
                return sum(s.value for s in families[name].samples
                           if s.name.endswith("_total") and s.labels["feed"] == "directive_tasks")

            assert total("ioc_feed_rows_received") == total("ioc_feed_rows_loaded") + total("ioc_feed_rows_quarantined")
            time.sleep(0.05)
        loader.join()
        assert results[0].returncode == 0, results[0].stdout + results[0].stderr
        text, _ = scrape(address)
    finally:
        exporter.stop()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    loaded = [s.value for s in families["ioc_feed_rows_loaded"].samples
              if s.name.endswith("_total") and s.labels["feed"] == "directive_tasks"]
    assert loaded == [100_005], "the next state, after the load, is served at once"
    assert scrapes >= 5, "scrapes ran while the load held the warehouse"
    assert slowest < 5.0, f"a scrape waited for the writer ({slowest:.2f} s): it must never wait for the lock"


# --- a running Alertmanager: inhibition -----------------------------------------------------------

@pytest.fixture
def webhook():
    hook = Webhook()
    yield hook
    hook.stop()


def post_alerts(address: str, alerts: list[dict]) -> None:
    now = datetime.now(timezone.utc)
    body = [{"labels": labels, "annotations": {}, "startsAt": now.isoformat(),
             "endsAt": (now + timedelta(minutes=10)).isoformat()} for labels in alerts]
    httpx.post(f"http://{address}/api/v2/alerts", json=body, timeout=10).raise_for_status()


def test_alertmanager_inhibits_consequences_by_their_causes(tmp_path, webhook):
    am, address = start_alertmanager(tmp_path, webhook)
    try:
        post_alerts(address, [
            {"alertname": "FeedStale", "feed": "tthc_dossiers", "unit": "TTPVHCC", "severity": "warning"},
            {"alertname": "KpiRed", "kpi": "dossier_on_time_rate", "feed": "tthc_dossiers", "unit": "SYT",
             "severity": "warning"},
            {"alertname": "KpiRed", "kpi": "feedback_on_time_rate", "feed": "citizen_feedback", "unit": "SYT",
             "severity": "warning"},
            {"alertname": "ReportOverdue", "feed": "dept_monthly_report", "unit": "SXD", "period": "2026-10",
             "severity": "critical"},
            {"alertname": "ReportOverdue", "feed": "dept_monthly_report", "unit": "SXD", "period": "2026-10",
             "severity": "warning"},
            {"alertname": "ReportOverdue", "feed": "dept_monthly_report", "unit": "SCT", "period": "2026-10",
             "severity": "warning"},
        ])

        def states() -> dict:
            alerts = httpx.get(f"http://{address}/api/v2/alerts", timeout=10).json()
            return {(a["labels"]["alertname"], a["labels"]["unit"], a["labels"].get("kpi", ""),
                     a["labels"]["severity"]): a["status"]["state"] for a in alerts}

        got = wait_until(lambda: (s := states()) and s.get(("KpiRed", "SYT", "dossier_on_time_rate", "warning"))
                         == "suppressed" and s, what="inhibition to apply")
        assert got[("KpiRed", "SYT", "feedback_on_time_rate", "warning")] == "active", "another feed's KPI stays"
        assert got[("ReportOverdue", "SXD", "", "warning")] == "suppressed", "the critical form silences the warning"
        assert got[("ReportOverdue", "SXD", "", "critical")] == "active"
        assert got[("ReportOverdue", "SCT", "", "warning")] == "active"

        post_alerts(address, [{"alertname": "SchedulerDown", "unit": "IOC", "severity": "critical"}])
        got = wait_until(lambda: (s := states()) and s.get(("ReportOverdue", "SCT", "", "warning")) == "suppressed"
                         and s, what="the scheduler's inhibition")
        assert got[("ReportOverdue", "SXD", "", "critical")] == "suppressed"
        assert got[("FeedStale", "TTPVHCC", "", "warning")] == "suppressed"
        assert got[("SchedulerDown", "IOC", "", "critical")] == "active"
    finally:
        am.stop()


# --- end to end ----------------------------------------------------------------------------------

def test_a_late_report_alert_reaches_the_webhook_and_resolves_when_the_report_is_loaded(home, tmp_path, webhook):
    """Nothing received: every department's monthly report past its deadline is overdue. Prometheus
    scrapes `ioc serve`, evaluates the generated rules and sends to Alertmanager, which notifies the
    webhook; SXD's report then arrives, is loaded, and the alert resolves."""
    from pipelines import jobs
    from pipelines.warehouse import connect

    with connect() as con:
        status = jobs.deadlines(con, catalog())["report_status"]
    missing = status.filter((status["unit_code"] == "SXD") & (status["status"] == "missing")
                            & (status["feed"] == "dept_monthly_report"))
    period = missing["period"].max()
    assert period, "the planted case: SXD's latest report due is missing"

    exporter, exporter_address = start_exporter(home, tmp_path)
    am, am_address = start_alertmanager(tmp_path, webhook)
    prometheus, _ = start_prometheus(tmp_path, exporter_address, am_address)
    try:
        def ours(status_: str):
            return [a for a in webhook.alerts("/departments") if a["status"] == status_
                    and a["labels"].get("alertname") == "ReportOverdue" and a["labels"].get("unit") == "SXD"
                    and a["labels"].get("period") == period and a["labels"].get("feed") == "dept_monthly_report"]

        fired = wait_until(lambda: ours("firing"), timeout=90, what=f"ReportOverdue for SXD {period}")[0]
        labels = fired["labels"]
        assert labels["feed"] == "dept_monthly_report" and labels["severity"] in ("warning", "critical")
        assert labels["job"] == "ioc"
        assert {"summary_vi", "summary_en", "description_vi", "description_en", "runbook_url"} <= set(
            fired["annotations"])
        assert "SXD" in fired["annotations"]["summary_vi"] and period in fired["annotations"]["summary_en"]

        report(home, "SXD", period, datetime.now(timezone.utc).isoformat())
        ioc("ingest", "dept_monthly_report", check=True)
        resolved = wait_until(lambda: ours("resolved"), timeout=90, what=f"the resolution of SXD {period}")[0]
        assert resolved["labels"]["severity"] == labels["severity"]
        other = [a for a in webhook.alerts("/departments") if a["labels"].get("unit") == "SCT"]
        assert other, "the other departments' overdue reports are notified too"
    finally:
        for process in (prometheus, am, exporter):
            process.stop()
