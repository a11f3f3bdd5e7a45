"""Expected vs received reports and directive tasks on real DuckDB: units opening, closing and
merging mid-year, lateness growing without new data, and `ioc late` naming what the simulator planted."""

from __future__ import annotations

import csv
import json
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
import yaml

from pipelines.declarations.loading import read_catalog
from pipelines.deadlines.refresh import refresh_deadlines
from pipelines.ingest import ingest_feed
from pipelines.warehouse import connect
from pipelines.settings import REPO_ROOT
from simulator.files import write_report_files, write_task_export
from tests.conftest import TEST_NOW, ioc
from tests.helpers import TASK_HEADER, report, write_csv

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
FEED = "dept_monthly_report"


@pytest.fixture
def province(tmp_path, monkeypatch) -> Path:
    """A small province: A reports all year; B merges into C on 1 July; D opens on 1 September."""
    copy = tmp_path / "schemas"
    shutil.copytree(REPO_ROOT / "schemas", copy, ignore=shutil.ignore_patterns("kpis"))  # KPIs read other feeds
    units = yaml.safe_load((copy / "org_units.yaml").read_text(encoding="utf-8"))
    for unit in units["units"]:  # the province's own departments closed before the year looked at
        if unit["kind"] == "department" and not unit.get("valid_to"):
            unit["valid_to"] = "2025-12-31"
    units["units"] += [
        {"code": "SA", "kind": "department", "parent": "HP", "vi": "Sở A", "en": "A", "valid_from": "2020-01-01"},
        {"code": "SB", "kind": "department", "parent": "HP", "vi": "Sở B", "en": "B", "valid_from": "2020-01-01",
         "valid_to": "2026-06-30", "successor": "SC"},
        {"code": "SC", "kind": "department", "parent": "HP", "vi": "Sở C", "en": "C", "valid_from": "2026-07-01"},
        {"code": "SD", "kind": "department", "parent": "HP", "vi": "Sở D", "en": "D", "valid_from": "2026-09-01"},
    ]
    for feed in ("directive_tasks", "public_investment", "tthc_dossiers", "citizen_feedback", "security_incidents",
                 "air_quality"):
        (copy / "feeds" / f"{feed}.yaml").unlink()
    (copy / "org_units.yaml").write_text(yaml.safe_dump(units, allow_unicode=True), encoding="utf-8")
    feed_file = copy / "feeds" / f"{FEED}.yaml"
    feed = yaml.safe_load(feed_file.read_text(encoding="utf-8"))
    feed["owner"] = "VPUBND"
    feed["reporting"]["history_periods"] = 10  # 2026-01 … 2026-10
    feed_file.write_text(yaml.safe_dump(feed, allow_unicode=True, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv("IOC_SCHEMAS", str(copy))
    return copy


def test_units_opening_closing_and_merging_give_rates_never_above_100(province, home):
    for month in range(1, 11):
        report(home, "SA", f"2026-{month:02d}", f"2026-{month:02d}-10T09:00:00+07:00")
    for month in range(1, 7):
        report(home, "SB", f"2026-{month:02d}", f"2026-{month:02d}-12T09:00:00+07:00")
    report(home, "SB", "2026-08", "2026-08-12T09:00:00+07:00")  # after B closed: not expected, not counted
    for month in (7, 8, 9):
        report(home, "SC", f"2026-{month:02d}", f"2026-{month:02d}-20T09:00:00+07:00")  # late: due the 16th/17th
    report(home, "SD", "2026-09", "2026-09-11T09:00:00+07:00")
    ingest_feed(FEED)
    catalog = read_catalog(province)

    with connect() as con:
        marts = refresh_deadlines(con, catalog, datetime(2026, 10, 30, 12, tzinfo=HCM))

    status = marts["report_status"]
    expected = {u: sorted(status.filter(pl.col("unit_code") == u)["period"].to_list()) for u in ("SA", "SB", "SC", "SD")}
    assert expected["SA"] == [f"2026-{m:02d}" for m in range(1, 11)]
    assert expected["SB"] == [f"2026-{m:02d}" for m in range(1, 7)], "not expected after valid_to"
    assert expected["SC"] == ["2026-07", "2026-08", "2026-09", "2026-10"], "the successor is, from its start"
    assert expected["SD"] == ["2026-09", "2026-10"]
    rates = {r["unit_code"]: r for r in marts["reporting_rates"].to_dicts()}
    assert all(r["reporting_rate"] <= 100 and r["reporting_on_time_rate"] <= 100 for r in rates.values())
    assert (rates["SA"]["expected"], rates["SA"]["reporting_rate"]) == (10, 100.0)
    assert (rates["SB"]["expected"], rates["SB"]["received"], rates["SB"]["reporting_rate"]) == (6, 6, 100.0)
    assert (rates["SC"]["received"], rates["SC"]["received_on_time"], rates["SC"]["expected"]) == (3, 0, 4)
    assert rates["SD"]["reporting_rate"] == 50.0
    late = status.filter((pl.col("unit_code") == "SC") & (pl.col("period") == "2026-07")).row(0, named=True)
    assert (late["status"], late["due_date"].isoformat(), late["lateness_working_days"]) == ("late", "2026-07-16", 2)


def test_lateness_of_a_missing_report_grows_without_new_data(province, home):
    report(home, "SA", "2026-09", "2026-09-10T09:00:00+07:00")
    ingest_feed(FEED)
    catalog = read_catalog(province)

    def missing(now: datetime) -> dict:
        with connect() as con:
            status = refresh_deadlines(con, catalog, now)["report_status"]
        return status.filter((pl.col("unit_code") == "SC") & (pl.col("period") == "2026-09")).row(0, named=True)

    before = missing(datetime(2026, 9, 16, 23, 59, tzinfo=HCM))
    just_after = missing(datetime(2026, 9, 17, 0, 1, tzinfo=HCM))
    week_later = missing(datetime(2026, 9, 24, 10, tzinfo=HCM))
    assert (before["status"], before["lateness_working_days"]) == ("pending", 0)
    assert just_after["status"] == "missing"
    assert week_later["lateness_working_days"] == 6  # 17, 18, 21, 22, 23, 24 September


def test_task_states_and_rates(home, query):
    rows = [  # task, unit, due, done, status
        ("NV-1", "SXD", "15/10/2026", "14/10/2026", "Hoàn thành"),
        ("NV-2", "SXD", "15/10/2026", "20/10/2026", "Hoàn thành"),  # done late: stays visible as late
        ("NV-3", "SXD", "02/11/2026", "", "Đang thực hiện"),  # overdue
        ("NV-4", "SYT", "25/11/2026", "", "Chưa thực hiện"),  # due within 7 days
        ("NV-5", "SYT", "30/12/2026", "", "Đang thực hiện"),  # open
        ("NV-6", "SYT", "01/10/2026", "", "Đã hủy"),  # cancelled: not due
    ]
    header = TASK_HEADER
    lines = [[t, "TB 1/TB-VP", "Lãnh đạo", u, f"Nhiệm vụ {t}", "01/09/2026", due, status, done, "20/11/2026 08:00:00"]
             for t, u, due, done, status in rows]
    folder = home / "inbox" / "directive_tasks"
    folder.mkdir(parents=True)
    write_csv(folder / "nhiem_vu.csv", lines, header=header)
    (summary,), _ = ingest_feed("directive_tasks")
    assert summary.status == "loaded"

    with connect() as con:
        marts = refresh_deadlines(con, read_catalog(REPO_ROOT / "schemas"), datetime(2026, 11, 20, 10, tzinfo=HCM))

    states = dict(query("SELECT task_id, state FROM marts.task_status"))
    assert states == {"NV-1": "done_on_time", "NV-2": "done_late", "NV-3": "overdue", "NV-4": "due_soon",
                      "NV-5": "open", "NV-6": "cancelled"}
    assert query("SELECT days_late, working_days_late FROM marts.task_status WHERE task_id = 'NV-3'") == [(18, 14)]
    rates = {r["unit_code"]: r for r in marts["task_rates"].to_dicts()}
    assert (rates["SXD"]["tasks_due"], rates["SXD"]["done_on_time"], rates["SXD"]["on_time_rate"]) == (
        3, 1, pytest.approx(100 / 3))
    assert (rates["*"]["overdue"], rates["*"]["due_soon"], rates["*"]["tasks_due"]) == (1, 1, 3)
    assert query("SELECT count(*) FROM marts.task_status") == [(6,)]


def test_a_task_load_shows_in_the_marts_without_copying_its_tasks(home, query):
    """marts.task_status is a view over the tasks where they are: a load writes no row of it, yet its tasks
    show at once with their states, and the per-unit rates follow; a full refresh gives the same states."""
    header = TASK_HEADER

    def line(task: str, due: str, status: str, done: str = "", updated: str = "20/11/2026 08:00:00") -> list[str]:
        return [task, "TB 1/TB-VP", "Lãnh đạo", "SXD", f"Nhiệm vụ {task}", "01/09/2026", due, status, done, updated]

    folder = home / "inbox" / "directive_tasks"
    folder.mkdir(parents=True)
    write_csv(folder / "nhiem_vu_1.csv", [line(f"NV-{i}", "15/10/2026", "Đang thực hiện") for i in range(50)],
              header=header)
    ingest_feed("directive_tasks")
    assert query("SELECT table_type FROM information_schema.tables WHERE table_schema = 'marts' "
                 "AND table_name = 'task_status'") == [("VIEW",)]
    assert len(dict(query("SELECT task_id, state FROM marts.task_status"))) == 50
    assert set(dict(query("SELECT task_id, state FROM marts.task_status")).values()) == {"overdue"}

    later = f"{date.today() + timedelta(days=60):%d/%m/%Y}"
    write_csv(folder / "nhiem_vu_2.csv", [line("NV-1", "15/10/2026", "Hoàn thành", "10/10/2026", "21/11/2026 08:00:00"),
                                          line("NV-100", later, "Chưa thực hiện")], header=header)
    ingest_feed("directive_tasks")
    states = dict(query("SELECT task_id, state FROM marts.task_status"))
    assert len(states) == 51
    assert (states["NV-1"], states["NV-100"], states["NV-2"]) == ("done_on_time", "open", "overdue")
    assert query("SELECT tasks_due, done_on_time, overdue FROM marts.task_rates WHERE unit_code = '*'") == [(50, 1, 49)]
    assert query("SELECT count(DISTINCT computed_at) FROM marts.task_status") == [(1,)]

    with connect() as con:  # a full refresh (the schedule's) gives the same states
        refresh_deadlines(con, read_catalog(REPO_ROOT / "schemas"))
    assert dict(query("SELECT task_id, state FROM marts.task_status")) == states


def test_a_warehouse_with_the_task_mart_as_a_table_gets_the_view(home, query):
    """A warehouse written when marts.task_status was a table: the next refresh replaces it with the view,
    with every task's state, in one transaction."""
    header = TASK_HEADER
    folder = home / "inbox" / "directive_tasks"
    folder.mkdir(parents=True)
    write_csv(folder / "nhiem_vu.csv", [["NV-1", "TB 1", "Lãnh đạo", "SXD", "Nhiệm vụ 1", "01/09/2026", "15/10/2026",
                                         "Đang thực hiện", "", "20/11/2026 08:00:00"]], header=header)
    ingest_feed("directive_tasks")
    with connect() as con:  # as an earlier version left it
        con.execute("DROP VIEW marts.task_status")
        con.execute("CREATE TABLE marts.task_status AS SELECT 'directive_tasks' AS feed, 'NV-OLD' AS task_id, "
                    "'overdue' AS state")
        refresh_deadlines(con, read_catalog(REPO_ROOT / "schemas"), datetime(2026, 11, 20, 10, tzinfo=HCM))
    assert query("SELECT table_type FROM information_schema.tables WHERE table_schema = 'marts' "
                 "AND table_name = 'task_status'") == [("VIEW",)]
    assert query("SELECT task_id, state, days_late FROM marts.task_status") == [("NV-1", "overdue", 36)]


def test_ioc_late_names_the_planted_late_departments_and_overdue_tasks(world, home):
    write_report_files(world, home / "inbox" / FEED)
    write_task_export(world, home / "inbox" / "directive_tasks")
    ingest_feed(FEED)
    ingest_feed("directive_tasks")

    result = ioc("late", "--json", "--now", TEST_NOW.isoformat())

    assert result.returncode == 0, result.stderr
    late = json.loads(result.stdout)
    first_period = min(f.period for f in world.report_files)  # the months the simulated world covers
    missing = {(r["unit_code"], r["period"]) for r in late["reports_missing"]
               if r["period"] >= first_period and r["feed"] == FEED}
    planted = world.planted[FEED]
    never_sent = {(m["department_code"], m["period"]) for m in planted["missing"]}
    rejected = {tuple(f.split(".")[0].split("_")[:2]) for f in planted["garbage_files"]} | {
        tuple(f["file"].split(".")[0].split("_")[:2]) for f in planted["unknown_department_files"]}
    assert never_sent <= missing
    assert missing == never_sent | rejected, "every missing report is one the simulator planted"
    assert {t["task_id"] for t in late["tasks_overdue"]} == set(world.planted["directive_tasks"]["overdue"])
    lateness = [r["lateness_working_days"] for r in late["reports_missing"]]
    assert lateness == sorted(lateness, reverse=True), "most late first"

    # `ioc kpi explain`: the records behind the province's overdue-task count are the planted overdue tasks,
    # each with the batch and row it came in (the CSV a department is handed)
    assert ioc("kpi", "compute", "--kpi", "tasks_overdue", "--now", TEST_NOW.isoformat()).returncode == 0
    shown = ioc("kpi", "explain", "tasks_overdue", "-u", "HP", "-n", "3")
    assert shown.returncode == 0, shown.stderr
    assert f"{len(world.planted['directive_tasks']['overdue'])} bản ghi / records" in shown.stdout
    assert "✖" in shown.stdout and "directive_tasks" in shown.stdout
    table = home / "overdue.csv"
    written = ioc("kpi", "explain", "tasks_overdue", "-u", "HP", "--csv", str(table))
    assert written.returncode == 0, written.stderr
    rows = list(csv.DictReader(table.open(encoding="utf-8-sig")))
    assert {r["task_id"] for r in rows} == set(world.planted["directive_tasks"]["overdue"])
    assert all(r["against"] == "True" and r["lineage_batch_id"] and r["lineage_source_row"] for r in rows)


def test_a_load_refreshes_its_own_feeds_part_of_the_marts_as_a_whole_refresh_would(home):
    """After a load, only that feed's rows of the report marts are computed again: the same rows a whole refresh
    gives them, the other feeds' rows left as they were."""
    for month in range(5, 11):
        report(home, "SYT", f"2026-{month:02d}", f"2026-{month:02d}-10T09:00:00+07:00")
    report(home, "SCT", "2026-09", "2026-09-20T09:00:00+07:00")
    ingest_feed(FEED)
    catalog = read_catalog(REPO_ROOT / "schemas")
    other = catalog.feeds["dept_indicators"]
    earlier, now = datetime(2026, 9, 1, 12, tzinfo=HCM), datetime(2026, 10, 30, 12, tzinfo=HCM)

    def marts(con) -> dict[str, pl.DataFrame]:
        return {name: con.sql(f"SELECT * EXCLUDE (computed_at) FROM marts.{name}").pl().sort(pl.all())
                for name in ("report_status", "reporting_rates")}

    with connect() as con:
        refresh_deadlines(con, catalog, earlier)
        before = marts(con)
        refresh_deadlines(con, catalog, now, feed=catalog.feeds[FEED])
        partly = marts(con)
        refresh_deadlines(con, catalog, now)
        whole = marts(con)

    for name in ("report_status", "reporting_rates"):
        ours = pl.col("feed") == FEED
        assert partly[name].filter(ours).equals(whole[name].filter(ours)), name
        assert partly[name].filter(~ours).equals(before[name].filter(~ours)), f"{name}: other feeds untouched"
        assert not before[name].filter(ours).equals(whole[name].filter(ours)), f"{name}: the refresh changed it"
    assert before["report_status"].filter(pl.col("feed") == other.id).height > 0, "the other feed has rows"
