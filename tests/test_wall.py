"""The operations-centre wall on the demo's warehouse: its JSON API (`ioc serve` on loopback), and the
page in headless Chromium (Debian's, driven by Playwright): the planted late departments and overdue
tasks are shown, the language switches, the KPIs drill down from the province to units, the page
refreshes itself, and it logs no console error. Screenshots go to tests/screenshots/."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from pipelines.calendar.workdays import working_days_after
from pipelines.declarations.loading import catalog
from tests.conftest import TEST_NOW
from tests.demo_warehouse import shared_demo_warehouse
from tests.helpers import CHROMIUM_FLAGS
from tests.stack import start_exporter, wait_until

SCREENSHOTS = Path(__file__).with_name("screenshots")
VN = ZoneInfo("Asia/Ho_Chi_Minh")
STATUS_WORDS = {"vi": {"Đạt", "Cảnh báo", "Không đạt", "Không có dữ liệu"},
                "en": {"On target", "Warning", "Off target", "No data"}}
STATUS_RANK = {"red": 0, "amber": 1, "no_data": 2, "green": 3}


@dataclass
class Demo:
    home: Path
    world: object
    url: str

    def api(self, path: str) -> dict:
        response = httpx.get(self.url + path, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def demo(tmp_path_factory, postgres):
    """The demo's warehouse and `ioc serve` over it."""
    home = tmp_path_factory.mktemp("demo") / "ioc-home"
    world = shared_demo_warehouse(tmp_path_factory, postgres, TEST_NOW, home)
    process, address = start_exporter(home, tmp_path_factory.mktemp("wall"))
    yield Demo(home, world, f"http://{address}")
    process.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is missing: `make test` installs it (apt-get install chromium)"
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


class Wall:
    """A browser tab on the wall that records every console error, page error and failed request."""

    def __init__(self, browser, url: str, width: int, height: int):
        # The screen's own time zone is not Vietnam's: the page must still show Vietnamese time.
        self.context = browser.new_context(viewport={"width": width, "height": height},
                                           timezone_id="America/New_York", locale="en-US")
        self.page = self.context.new_page()
        self.url, self.errors = url, []
        self.page.on("console", lambda m: self.errors.append(f"console.{m.type}: {m.text}")
                     if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("response", lambda r: self.errors.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)

    def open(self, path: str = "/") -> Wall:
        self.page.goto(self.url + path)
        self.page.wait_for_selector("body[data-ready='1']")
        return self

    def shot(self, name: str, full_page: bool = False) -> None:
        SCREENSHOTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)

    def no_horizontal_overflow(self) -> None:
        wide = self.page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert wide <= 0, f"the page is {wide}px wider than the screen"


@pytest.fixture
def open_wall(browser):
    walls: list[Wall] = []

    def make(url: str, width: int = 1920, height: int = 1080) -> Wall:
        walls.append(Wall(browser, url, width, height))
        return walls[-1]

    yield make
    errors = [e for w in walls for e in w.errors]
    for wall in walls:
        wall.context.close()
    assert errors == [], "the page logged errors"


MONTHLY = "table.report-grid[data-feed='dept_monthly_report']"  # the departments' monthly reports' grid


def monthly_grid(demo: Demo) -> dict:
    """The monthly reports' grid of /api/reports (the forms' grid is beside it)."""
    return next(g for g in demo.api("/api/reports")["feeds"] if g["feed"] == "dept_monthly_report")


def latest_due_period(demo: Demo, unit: str) -> str:
    grid = monthly_grid(demo)
    row = next(r for r in grid["units"] if r["unit"] == unit)
    return max(p for p, cell in row["cells"].items() if cell["status"] != "pending")


# ---- the API ------------------------------------------------------------------------------------

def test_the_api_shows_the_planted_late_reports_and_overdue_tasks(demo):
    planted_reports = demo.world.planted["dept_monthly_report"]
    planted_tasks = demo.world.planted["directive_tasks"]
    summary = demo.api("/api/summary")
    assert {m["department_code"] for m in planted_reports["missing"]} <= set(summary["reports"]["units_missing"])
    assert sum(summary["kpis"].values()) == len(catalog().kpis)

    grids = demo.api("/api/reports")["feeds"]
    assert sorted(g["feed"] for g in grids) == ["dept_indicators", "dept_monthly_report"]
    grid = monthly_grid(demo)
    assert "2 ngày làm việc" in grid["deadline_rule"]["vi"] and "2 working days" in grid["deadline_rule"]["en"]
    cells = {(row["unit"], period): cell for row in grid["units"] for period, cell in row["cells"].items()}
    due = {p["period"]: datetime.fromisoformat(p["due_date"]).date() for p in grid["periods"]}
    for missing in planted_reports["missing"]:
        cell = cells[missing["department_code"], missing["period"]]
        assert cell["status"] == "missing" and cell["received_at"] is None, missing
        assert cell["working_days_late"] == working_days_after(due[missing["period"]], TEST_NOW.date())
    late_seen = 0
    for late in planted_reports["late"]:
        if late["period"] not in due:
            continue  # older than the tracked periods
        cell = cells[late["department_code"], late["period"]]
        assert cell["status"] == "late" and cell["working_days_late"] > 0, late
        received = datetime.fromisoformat(late["submitted_at"]).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert cell["received_at"] == received
        late_seen += 1
    assert late_seen >= 2, "the tracked periods hold planted late reports"

    tasks = demo.api("/api/tasks")["tasks"]
    states = [t["state"] for t in tasks]
    assert states == sorted(states, key=lambda s: s != "overdue"), "overdue tasks come first"
    overdue = [t for t in tasks if t["state"] == "overdue"]
    assert set(planted_tasks["overdue"]) <= {t["task_id"] for t in overdue}
    assert [t["days_late"] for t in overdue] == sorted((t["days_late"] for t in overdue), reverse=True)
    soon = [t for t in tasks if t["state"] == "due_soon"]
    assert set(planted_tasks["due_soon"]) <= {t["task_id"] for t in soon}
    assert [t["days_until_due"] for t in soon] == sorted(t["days_until_due"] for t in soon)
    first = next(t for t in demo.world.tasks if t["task_id"] == overdue[0]["task_id"])
    assert (overdue[0]["unit"], overdue[0]["source_document"], overdue[0]["due_on"]) == (
        first["assignee_code"], first["source_document"], first["due_on"].isoformat())
    assert demo.api("/api/tasks?state=overdue&unit=" + overdue[0]["unit"])["tasks"] == [
        t for t in overdue if t["unit"] == overdue[0]["unit"]]


def test_the_api_kpis_match_the_warehouse_and_drill_down_through_the_tree(demo):
    import duckdb

    with duckdb.connect(str(demo.home / "warehouse.duckdb"), read_only=True) as con:
        # each KPI's latest complete period is the one shown (a running one is shown beside it, not judged)
        stored = {(k, u): (v, s) for k, u, v, s in con.execute(
            "SELECT kpi_id, unit_code, value, status FROM marts.kpi_values WHERE period_state = 'complete' "
            "QUALIFY period = max(period) OVER (PARTITION BY kpi_id)").fetchall()}
        running = {(k, u): (p, v, s) for k, u, p, v, s in con.execute(
            "SELECT kpi_id, unit_code, period, value, status FROM marts.kpi_values WHERE period_state = 'running' "
            "QUALIFY period = min(period) OVER (PARTITION BY kpi_id)").fetchall()}
    tiles = demo.api("/api/kpis")
    assert tiles["unit"]["code"] == "HP" and [p["code"] for p in tiles["path"]] == ["HP"]
    assert [t["id"] for t in tiles["kpis"]] == list(catalog().kpis)
    for tile in tiles["kpis"]:
        assert (tile["current"]["value"], tile["current"]["status"]) == stored[tile["id"], "HP"], tile["id"]
        assert tile["current"]["period_state"] == "complete", tile["id"]
        assert tile["history"][-1]["period"] == tile["current"]["period"] and len(tile["history"]) >= 1
        if tile["current"]["previous_value"] is not None and tile["current"]["value"] is not None:
            assert tile["change"] == pytest.approx(tile["current"]["value"] - tile["current"]["previous_value"])
        if (tile["id"], "HP") in running:
            pending = tile["running"]
            assert (pending["period"], pending["value"], pending["status"]) == running[tile["id"], "HP"], tile["id"]
            assert pending["period"] > tile["current"]["period"] and pending["to_date"] == TEST_NOW.date().isoformat()
            judged = catalog().kpis[tile["id"]].judge_running  # its target follows the days (public investment)
            assert pending["status"] in ("running", "no_data") or judged, f"{tile['id']} judges a running period"
        else:
            assert tile["running"] is None, tile["id"]
    # on 20 November: dossiers show October (November runs until its end), reports November (due on the 18th),
    # a snapshot its November as of now
    by_id = {t["id"]: t for t in tiles["kpis"]}
    assert by_id["dossier_on_time_rate"]["current"]["period"] == "2026-10"
    assert by_id["dossier_on_time_rate"]["running"]["period"] == "2026-11"
    assert by_id["reporting_rate"]["current"]["period"] == "2026-11" and by_id["reporting_rate"]["running"] is None
    assert by_id["dossiers_overdue_open"]["current"]["period"] == "2026-11"

    units = {u["code"]: u for u in demo.api("/api/units")["units"]}
    drill = demo.api("/api/kpis/dossier_on_time_rate?unit=HP")
    children = drill["children"]
    assert children and all(units[c["unit"]]["parent"] == "HP" for c in children)
    assert {c["unit"] for c in children} == {u for (k, u) in stored if k == "dossier_on_time_rate"
                                             and units[u]["parent"] == "HP"}
    ranks = [STATUS_RANK[c["current"]["status"]] for c in children]
    assert ranks == sorted(ranks), "worst first"
    for child in children:
        assert (child["current"]["value"], child["current"]["status"]) == stored["dossier_on_time_rate", child["unit"]]
    parent = next(c for c in children if c["has_children"])
    deeper = demo.api(f"/api/kpis/dossier_on_time_rate?unit={parent['unit']}")
    assert [p["code"] for p in deeper["path"]] == ["HP", parent["unit"]]
    assert deeper["children"] and all(units[c["unit"]]["parent"] == parent["unit"] for c in deeper["children"])

    scoped = demo.api(f"/api/kpis?unit={parent['unit']}")
    by_id = {t["id"]: t for t in scoped["kpis"]}
    assert by_id["dossier_on_time_rate"]["current"]["value"] == stored["dossier_on_time_rate", parent["unit"]][0]

    for path, words in (("/api/kpis/no_such_kpi", "unknown KPI 'no_such_kpi'"),
                        ("/api/kpis?unit=NOPE", "unknown organisation unit 'NOPE'"),
                        ("/api/tasks?unit=NOPE", "unknown organisation unit 'NOPE'")):
        response = httpx.get(demo.url + path, timeout=10)
        assert response.status_code == 404 and words in response.json()["detail"], path


def test_the_api_feeds_show_freshness_failing_checks_and_their_reasons(demo):
    import duckdb

    body = demo.api("/api/feeds")
    feeds = {f["id"]: f for f in body["feeds"]}
    assert set(feeds) == set(catalog().feeds)
    for feed in feeds.values():
        assert feed["last_success_at"] and not feed["stale"] and feed["success_age_seconds"] < 3600, feed["id"]
        for check in feed["failing_checks"] + feed["quarantine_reasons"]:
            assert check["check"] in body["checks"], check
    planted = demo.world.planted["dept_monthly_report"]
    failed = {b["file"]: b["error"] for b in feeds["dept_monthly_report"]["failed_batches"]}
    with duckdb.connect(str(demo.home / "warehouse.duckdb"), read_only=True) as con:
        failures = dict(con.execute("SELECT feed, count(*) FROM ops.batches WHERE status = 'failed' GROUP BY feed").fetchall())
    assert {f: feeds[f]["failed_batch_count"] for f in feeds if feeds[f]["failed_batch_count"]} == failures, \
        "every failed batch counted (the count and the list of the latest are two keys)"
    for garbage in planted["garbage_files"]:
        assert "not a readable XLSX" in failed[garbage]
    for wrong in planted["unknown_department_files"]:
        assert "rows_match_file_name" in failed[wrong["file"]]
    reports = feeds["dept_monthly_report"]
    assert any(c["check"] == "rows_match_file_name" and c["severity"] == "blocking" for c in reports["failing_checks"]) \
        or any(r["check"] == "rows_match_file_name" for r in reports["quarantine_reasons"])
    tthc = feeds["tthc_dossiers"]
    assert tthc["quarantine_open"] > 0 and tthc["quarantine_reasons"]
    assert all(r["message"] and "Fix:" in r["message"] for r in tthc["quarantine_reasons"]), "each reason says how to fix"


def test_the_api_explains_a_red_value_down_to_the_planted_dossiers_and_their_raw_records(demo):
    """GET /api/kpis/{kpi}/explain: every record behind the value once across pages, those that keep it off
    target first and the most overdue first; each record's lineage leads to its raw record as received."""
    import csv
    import io
    import json

    import duckdb

    planted = set(demo.world.planted["tthc_dossiers"]["open_past_due"])
    path = "/api/kpis/dossiers_overdue_open/explain?unit=HP&page_size=40"
    first = demo.api(path)
    assert first["value"]["status"] == "red" and first["kpi"]["id"] == "dossiers_overdue_open"
    total = first["records_total"]
    assert total == first["value"]["numerator"] == first["against_total"] == first["numerator"]
    records = [r for page in range(1, -(-total // 40) + 1) for r in demo.api(f"{path}&page={page}")["records"]]
    ids = [r["fields"]["dossier_id"] for r in records]
    assert len(ids) == len(set(ids)) == total, "every record once across the pages"
    assert planted <= set(ids), "the planted overdue dossiers are listed"
    impacts = [r["impact"] for r in records]
    assert impacts == sorted(impacts, reverse=True) and impacts[-1] > 0, "the most days overdue first"
    with duckdb.connect(str(demo.home / "warehouse.duckdb"), read_only=True) as con:
        raw = {(b, uri, row): json.loads(record) for b, uri, row, record in con.execute(
            "SELECT batch_id, source_uri, source_row, record FROM raw.tthc_dossiers").fetchall()}
        uris = dict(con.execute("SELECT batch_id, source_uri FROM ops.batches").fetchall())
    for r in records:
        lineage = r["lineage"]
        assert lineage["feed"] == "tthc_dossiers" and lineage["received_at"], r
        assert lineage["source_uri"].startswith(uris[lineage["batch_id"]].split("?")[0]), r
        received = raw[lineage["batch_id"], lineage["source_uri"], lineage["source_row"]]  # the page, its row
        assert received["dossier_id"] == r["fields"]["dossier_id"], "the lineage leads to the record as received"

    ratio = demo.api("/api/kpis/report_timeliness_rate/explain?unit=HP")
    assert set(ratio["inputs"]) == {"numerator", "denominator"} and not ratio["records"]
    reporting = ratio["inputs"]["denominator"]
    assert reporting["kpi"]["id"] == "reporting_rate"
    missing = {m["department_code"] for m in demo.world.planted["dept_monthly_report"]["missing"]
               if m["period"] == ratio["period"]}
    assert missing and {r["unit_code"] for r in reporting["records"] if r["against"]} >= missing

    response = httpx.get(demo.url + "/api/kpis/dossiers_overdue_open/explain?unit=HP&format=csv", timeout=30)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert len(rows) == total and {r["dossier_id"] for r in rows} == set(ids)
    assert all(r["lineage_batch_id"] and r["lineage_source_row"] for r in rows)

    for query, code in (("/api/kpis/no_such_kpi/explain", 404), ("/api/kpis/tasks_overdue/explain?unit=NOPE", 404),
                        ("/api/kpis/tasks_overdue/explain?period=2026-13", 400)):
        assert httpx.get(demo.url + query, timeout=10).status_code == code, query


def test_the_api_answers_while_a_writer_holds_the_warehouse(demo, monkeypatch):
    from pipelines.warehouse import connect

    monkeypatch.setenv("IOC_HOME", str(demo.home))
    with connect() as con:  # the writer's lock, as a load holds it
        con.execute("SELECT 1").fetchall()
        for path in ("/", "/api/summary", "/api/kpis", "/api/reports", "/api/tasks", "/api/feeds", "/metrics"):
            assert httpx.get(demo.url + path, timeout=5).status_code == 200, path


def test_an_empty_platform_says_what_to_run_then_shows_an_empty_wall(home, tmp_path, open_wall):
    """Before any snapshot (the writer holds the new warehouse), the API says what to run; once the
    empty warehouse is published, the page shows every feed as never loaded and every KPI as no data."""
    from pipelines.warehouse import connect
    from pipelines.snapshots import publish

    with connect() as con:
        process, address = start_exporter(home, tmp_path)
        try:
            response = httpx.get(f"http://{address}/api/summary", timeout=10)
            assert response.status_code == 503 and "make demo" in response.json()["detail"]
            publish(con, catalog())
            wall = open_wall(f"http://{address}", 1366, 768).open()
        finally:
            process.stop()
    page = wall.page
    assert page.locator(".tile[data-status='no_data']").count() == len(catalog().kpis)
    assert page.locator(".feed").count() == len(catalog().feeds)
    assert all(text.startswith("✖ Chưa nạp lần nào") for text in page.locator(".feed .fresh").all_inner_texts())
    assert page.locator("#tasks").inner_text() == "Không có nhiệm vụ quá hạn hoặc sắp đến hạn."


# ---- the page in Chromium -------------------------------------------------------------------------

def test_the_data_quality_panel_shows_a_source_the_warehouse_disagrees_with(home, tmp_path, world, simulator,
                                                                           open_wall):
    """Dossiers deleted from the one-stop-shop system: until the next snapshot, the warehouse holds 3 more than
    the source says it holds, and the wall's data-quality panel says so, in Vietnamese and in English."""
    from pipelines.ingest import ingest_feed
    from pipelines.warehouse import connect
    from pipelines.snapshots import publish

    ingest_feed("tthc_dossiers")
    bad = set(world.planted["tthc_dossiers"]["unknown_agency"]) | set(world.planted["tthc_dossiers"]["non_integer_fee"])
    gone = {r["dossier_id"] for r in world.dossiers if r["dossier_id"] not in bad}
    world.withdraw("dossiers", "dossier_id", set(sorted(gone)[:3]), world.now)
    ingest_feed("tthc_dossiers")
    with connect() as con:
        publish(con, catalog())
    process, address = start_exporter(home, tmp_path)
    try:
        wall = open_wall(f"http://{address}", 1366, 768).open()
        feed = wall.page.locator(".feed[data-feed='tthc_dossiers']")
        assert "s-amber" in feed.get_attribute("class")
        assert feed.locator("li.reconcile").inner_text().startswith("⚖ Kho thừa 3 bản ghi so với nguồn")
        held = len(world.dossiers)
        assert f"nguồn có {held:,}".replace(",", ".") in feed.locator(".counts").inner_text()
        wall.page.click(".lang button[data-lang='en']")
        wall.page.wait_for_function("document.documentElement.lang === 'en'")
        assert feed.locator("li.reconcile").inner_text().startswith(
            "⚖ The warehouse holds 3 records more than the source")
    finally:
        process.stop()

def test_the_wall_shows_the_planted_late_department_and_overdue_task(demo, open_wall):
    wall = open_wall(demo.url).open()
    page = wall.page
    assert page.locator("h1").inner_text() == "Trung tâm giám sát, điều hành thông minh"
    assert page.locator("html").get_attribute("lang") == "vi"

    tiles = page.locator(".tile")
    assert tiles.count() == len(catalog().kpis)
    for badge in tiles.locator(".badge").all_inner_texts():  # colour is never the only signal
        assert badge[0] in "●▲✖○" and badge[2:] in STATUS_WORDS["vi"], badge
    assert page.locator(".tile .spark").count() == len(catalog().kpis)
    # a tile shows its latest complete period, and the period still running beside it, to date and not judged
    dossiers = page.locator(".tile[data-kpi='dossier_on_time_rate']")
    assert dossiers.locator(".period").get_attribute("data-period") == "2026-10"
    assert dossiers.locator(".period").inner_text() == "T10/2026"
    pending = dossiers.locator(".running")
    assert pending.get_attribute("data-period") == "2026-11" and pending.get_attribute("data-status") == "running"
    assert pending.inner_text().startswith("◌ T11/2026 đến ngày 20/11: ")
    assert pending.inner_text().endswith(" · chưa đánh giá")
    # a tile says what its status is judged against, and the target where that is another number
    air = page.locator(".tile[data-kpi='aqi_unhealthy_hours'] .target").inner_text()
    assert air == "Đạt khi ≤ 10 giờ · Mục tiêu ≤ 0 giờ", air

    rule = monthly_grid(demo)["deadline_rule"]["vi"]
    for missing in demo.world.planted["dept_monthly_report"]["missing"]:
        cell = page.locator(f"{MONTHLY} tr[data-unit='{missing['department_code']}'] td").nth(
            _column(demo, missing["period"]))
        assert cell.get_attribute("data-status") == "missing"
        assert cell.inner_text().startswith("✖")
        assert rule in cell.get_attribute("title") and "Chưa nộp" in cell.get_attribute("title")
    late = next(p for p in demo.world.planted["dept_monthly_report"]["late"]
                if p["period"] in {x["period"] for x in monthly_grid(demo)["periods"]})
    cell = page.locator(f"{MONTHLY} tr[data-unit='{late['department_code']}'] td").nth(_column(demo, late["period"]))
    assert cell.get_attribute("data-status") == "late" and cell.inner_text().startswith("+")
    assert "Nộp trễ" in cell.get_attribute("title")

    api_tasks = demo.api("/api/tasks")["tasks"]
    shown = page.locator("#tasks li.task")
    assert shown.count() == len(api_tasks)
    assert shown.first.get_attribute("data-task") == api_tasks[0]["task_id"], "the most overdue task comes first"
    for task_id in demo.world.planted["directive_tasks"]["overdue"]:
        item = page.locator(f"#tasks li[data-task='{task_id}']")
        assert item.get_attribute("data-state") == "overdue"
        task = next(t for t in api_tasks if t["task_id"] == task_id)
        text = item.inner_text()
        assert f"Quá hạn {task['days_late']} ngày" in text and task["source_document"] in text
        assert datetime.fromisoformat(task["due_on"]).strftime("%d/%m/%Y") in text

    summary = demo.api("/api/summary")
    as_of = datetime.strptime(summary["generated_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert as_of.astimezone(VN).strftime("%d/%m/%Y") in page.locator("#asof").inner_text()
    assert as_of.astimezone(VN).strftime("%H:%M") in page.locator("#asof").inner_text(), "Vietnam time on any screen"

    panels = page.locator(".panel")
    for i in range(panels.count()):
        box = panels.nth(i).bounding_box()
        assert box["y"] + box["height"] <= 1080 + 1, "on a wall screen every panel fits the screen"
    wall.no_horizontal_overflow()
    wall.shot("wall-1920x1080-vi")


def _column(demo: Demo, period: str) -> int:
    periods = [p["period"] for p in monthly_grid(demo)["periods"]]
    return periods.index(period)


def test_switching_the_language_on_a_laptop(demo, open_wall):
    wall = open_wall(demo.url, 1366, 768).open()
    page = wall.page
    wall.no_horizontal_overflow()
    page.click(".lang button[data-lang='en']")
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert page.locator("h1").inner_text() == "Smart Operations Centre"
    assert page.locator(".lang button[data-lang='en']").get_attribute("aria-pressed") == "true"
    for badge in page.locator(".tile .badge").all_inner_texts():
        assert badge[2:] in STATUS_WORDS["en"], badge
    pending = page.locator(".tile[data-kpi='dossier_on_time_rate'] .running").inner_text()
    assert pending.startswith("◌ Nov 2026 to date 20/11: ") and pending.endswith(" · not judged yet")
    assert "Overdue" in page.locator("#tasks li.task").first.inner_text()
    assert "working days after" in page.locator(f"{MONTHLY} caption").inner_text()
    assert page.locator("#kpis-title").inner_text().upper() == "KPIS"
    assert page.locator(".lang").get_attribute("aria-label") == "Language / Ngôn ngữ"  # data-i18n-label
    assert page.locator("#crumbs").get_attribute("aria-label") == "Organisation units"
    assert not re.search(r"\b1 (batches|rows|units|days|working days|periods)\b", page.inner_text("body"))
    wall.shot("laptop-1366x768-en", full_page=True)

    page.reload()  # the choice is remembered
    page.wait_for_selector("body[data-ready='1']")
    assert page.locator("h1").inner_text() == "Smart Operations Centre"
    page.click(".lang button[data-lang='vi']")
    page.wait_for_function("document.documentElement.lang === 'vi'")
    assert page.locator("h1").inner_text() == "Trung tâm giám sát, điều hành thông minh"
    wall.no_horizontal_overflow()


ENGLISH = re.compile(r"\b(expected|got|Fix|feed|file|rows?|blocked|validation|readable|workbook|could not|"
                     r"the|must|value|column|batch|check|send|again)\b")


def test_the_data_quality_panel_reads_in_vietnamese_then_in_english(demo, open_wall):
    """The planted defects (a garbage workbook, another department's file, quarantined dossiers and reports)
    are explained on the wall in Vietnamese with no English word, and in English when switched."""
    planted = demo.world.planted["dept_monthly_report"]
    wall = open_wall(demo.url).open()
    page = wall.page
    panel = page.locator("#feeds")
    vi = panel.inner_text()
    for garbage in planted["garbage_files"]:
        assert f"tệp {garbage}: không đọc được tệp XLSX" in vi
    for wrong in planted["unknown_department_files"]:
        assert f"tệp {wrong['file']}: bị chặn công bố" in vi
    assert "Cách sửa:" in vi and "nhận được" in vi
    assert not ENGLISH.findall(vi), f"English in the Vietnamese view: {sorted(set(ENGLISH.findall(vi)))}\n{vi}"
    page.click(".lang button[data-lang='en']")
    page.wait_for_function("document.documentElement.lang === 'en'")
    en = panel.inner_text()
    for garbage in planted["garbage_files"]:
        assert f"file {garbage}: not a readable XLSX workbook" in en
    assert "Fix:" in en and "validation blocked publication" in en


def test_drilling_down_from_the_province_to_units(demo, open_wall):
    wall = open_wall(demo.url).open()
    page = wall.page
    page.click(".tile[data-kpi='dossier_on_time_rate']")
    dialog = page.locator("#drill")
    page.wait_for_selector("#drill[open] .drill-table")
    api = demo.api("/api/kpis/dossier_on_time_rate?unit=HP")
    rows = dialog.locator("tbody tr")
    assert rows.first.get_attribute("data-unit") == "HP"
    assert [rows.nth(i).get_attribute("data-unit") for i in range(1, rows.count())] == [c["unit"] for c in api["children"]]
    assert "#kpi=dossier_on_time_rate" in page.url

    parent = next(c for c in api["children"] if c["has_children"])
    dialog.locator(f"tr[data-unit='{parent['unit']}'] button.drill-into").click()
    page.wait_for_selector(f"#drill tbody tr.self[data-unit='{parent['unit']}']")
    deeper = demo.api(f"/api/kpis/dossier_on_time_rate?unit={parent['unit']}")
    assert [rows.nth(i).get_attribute("data-unit") for i in range(1, rows.count())] == [
        c["unit"] for c in deeper["children"]]
    assert dialog.locator("#drill-crumbs").inner_text().replace("\n", " ") == (
        f"{api['unit']['name']['vi']} › {parent['name']['vi']}")
    wall.shot("drill-down")

    dialog.locator("#drill-crumbs a[data-unit='HP']").click()  # back up
    page.wait_for_selector("#drill tbody tr.self[data-unit='HP']")
    target = api["children"][0]["unit"]
    dialog.locator(f"tr[data-unit='{target}'] button.show-wall").click()  # that unit's whole wall
    page.wait_for_selector("#drill:not([open])", state="attached")
    page.wait_for_function(f"document.querySelector('#crumbs .here').textContent !== '' && "
                           f"location.hash.includes('unit={target}')")
    scoped = {t["id"]: t for t in demo.api(f"/api/kpis?unit={target}")["kpis"]}
    wait_until(lambda: page.locator("#crumbs .here").inner_text() == _unit_name(demo, target), timeout=10,
               what="the unit's wall")
    shown = page.locator(".tile[data-kpi='dossier_on_time_rate'] .value").inner_text()  # e.g. "93,8 %"
    number = float(shown.replace("\u00a0", " ").split(" ")[0].replace(".", "").replace(",", "."))
    assert number == pytest.approx(scoped["dossier_on_time_rate"]["current"]["value"], abs=0.05 + 1e-9)

    page.locator(".tile[data-kpi='reporting_rate']").focus()
    page.keyboard.press("Enter")  # a tile opens from the keyboard too
    page.wait_for_selector("#drill[open]")
    page.keyboard.press("Escape")
    page.wait_for_selector("#drill:not([open])", state="attached")


def test_why_lists_the_planted_overdue_dossiers_behind_a_red_tile(demo, open_wall):
    """A red tile → its drill-down → «Vì sao?» lists the records behind the value, page by page, the
    planted overdue dossiers among them, each with its lineage."""
    planted = set(demo.world.planted["tthc_dossiers"]["open_past_due"])
    wall = open_wall(demo.url, 1600, 1000).open()
    page = wall.page
    tile = page.locator(".tile[data-kpi='dossiers_overdue_open']")
    assert tile.get_attribute("data-status") == "red"
    tile.click()
    page.wait_for_selector("#drill[open] .drill-table")
    page.locator("#drill tr.self button.why").click()
    page.wait_for_selector("#drill .why-table")
    assert "why=HP" in page.url
    assert page.locator("#drill-title").inner_text().startswith("Vì sao?")
    wall.shot("why")
    listed: list[str] = []
    while True:
        rows = page.locator("#drill .why-table tbody tr")
        assert all(rows.nth(i).get_attribute("data-against") == "true" for i in range(rows.count()))
        assert all("tthc_dossiers" in text for text in page.locator("#drill .why-table td.lineage").all_inner_texts())
        for text in page.locator("#drill .why-table td.fields").all_inner_texts():
            listed += re.findall(r"HS-\d{4}-\d{6}", text)[:1]
        following = page.locator("#drill .next-page")
        if not following.count():
            break
        shown = page.locator(".why-pager span").inner_text()
        following.click()
        page.wait_for_function(f"document.querySelector('.why-pager span')?.textContent !== {shown!r}")
    total = demo.api("/api/kpis/dossiers_overdue_open/explain?unit=HP")["records_total"]
    assert len(listed) == len(set(listed)) == total
    assert planted <= set(listed)
    page.locator("#drill .why-back").click()
    page.wait_for_selector("#drill[open] .drill-table:not(.why-table)")


def test_the_socio_economic_indicators_have_their_panel_and_why_names_the_forms_cell(demo, open_wall):
    """The KPIs on the departments' form indicators show in a panel of their own (in Vietnamese, then in
    English), and «Vì sao?» on one lists the form's figures with their department, file and cell."""
    on_forms = {t["id"] for t in demo.api("/api/kpis")["kpis"] if t["indicator"]}
    assert {"retail_sales_ytd_vs_plan", "dengue_cases_month", "budget_revenue_ytd_vs_plan"} <= on_forms
    wall = open_wall(demo.url, 1920, 1080).open()
    page = wall.page
    panel = page.locator(".panel.indicators")
    assert panel.is_visible()
    shown = set(panel.locator(".tile").evaluate_all("tiles => tiles.map((t) => t.dataset.kpi)"))
    assert shown == on_forms
    assert not set(page.locator("#tiles .tile").evaluate_all("tiles => tiles.map((t) => t.dataset.kpi)")) & on_forms
    assert panel.locator("h2").inner_text().lower() == "chỉ tiêu kinh tế - xã hội chủ yếu"
    retail = panel.locator(".tile[data-kpi='retail_sales_ytd_vs_plan']")
    assert retail.get_attribute("data-status") in {"green", "amber", "red"}, "a reported month is judged"
    wall.shot("indicators-vi")
    page.locator("button[data-lang='en']").click()
    page.wait_for_function("document.querySelector('#indicators-title').textContent.includes('socio-economic')")
    assert panel.locator("h2").inner_text().lower() == "main socio-economic indicators"
    wall.shot("indicators-en")

    retail.click()
    page.wait_for_selector("#drill[open] .drill-table")
    page.locator("#drill tr.self button.why").click()
    page.wait_for_selector("#drill .why-table")
    lineage = page.locator("#drill .why-table td.lineage").all_inner_texts()
    assert lineage and all(re.search(r"SCT_\d{4}-\d{2}\.(xlsx|csv) · .*cell [D-H]\d+", text) for text in lineage), lineage
    wall.shot("indicators-why")
    explained = demo.api("/api/kpis/retail_sales_ytd_vs_plan/explain?unit=HP")
    cells = {(r["fields"]["measure"], r["lineage"]["cell"]) for r in explained["records"]}
    assert {m for m, _ in cells} == {"ytd", "plan_year"} and all(c for _, c in cells)
    assert {r["fields"]["department_code"] for r in explained["records"]} == {"SCT"}


def test_the_trust_flag_shows_on_a_kpi_whose_feed_has_quarantined_rows(demo, open_wall):
    """The demo's dossiers feed has rows in quarantine: the count of open overdue dossiers (a snapshot, which
    all of them touch) is flagged in the API, the metrics and on its tile; the overdue-task count, whose feed
    had none, is a plain value."""
    import duckdb

    with duckdb.connect(str(demo.home / "warehouse.duckdb"), read_only=True) as con:
        (open_rows,) = con.execute("SELECT count(*) FROM ops.quarantine "
                                   "WHERE feed = 'tthc_dossiers' AND status = 'open'").fetchone()
    assert open_rows > 0
    tiles = {t["id"]: t for t in demo.api("/api/kpis")["kpis"]}
    flagged = tiles["dossiers_overdue_open"]["current"]["inputs"]
    assert flagged == {"degraded": True, "stale_feeds": [], "blocked_batches": 0, "quarantined_rows": open_rows}
    assert tiles["tasks_overdue"]["current"]["inputs"]["degraded"] is False
    metrics = httpx.get(demo.url + "/metrics", timeout=10).text
    assert 'ioc_kpi_inputs_degraded{kpi="dossiers_overdue_open",unit="HP"} 1.0' in metrics
    assert 'ioc_kpi_inputs_degraded{kpi="tasks_overdue",unit="HP"} 0.0' in metrics

    wall = open_wall(demo.url).open()
    tile = wall.page.locator(".tile[data-kpi='dossiers_overdue_open']")
    assert tile.get_attribute("data-degraded") == "true"
    note = tile.locator(".trust").inner_text()
    assert "Số liệu chưa đủ tin cậy" in note and f"{open_rows} dòng đang cách ly" in note, note
    assert wall.page.locator(".tile[data-kpi='tasks_overdue'] .trust").count() == 0
    wall.page.click(".lang button[data-lang='en']")
    wall.page.wait_for_function("document.documentElement.lang === 'en'")
    note = tile.locator(".trust").inner_text()
    assert "Data may be incomplete" in note and f"{open_rows} rows in quarantine" in note, note


def test_the_monthly_briefing_is_a_vietnamese_administrative_report_in_pdf_and_xlsx(demo, tmp_path):
    """The wall's download (and `ioc report monthly`): a PDF laid out as an administrative report, whose text
    (read back by pdftotext) and page images (pdftoppm) carry the heading, number, date and the planted late
    reports and overdue tasks, in an embedded font with the Vietnamese glyphs; and a workbook, read back, with
    a sheet per section and its figures as numbers equal to the wall's."""
    import subprocess

    from openpyxl import load_workbook
    from PIL import Image

    from pipelines.briefing.xlsx import SHEETS
    from tests.conftest import ioc

    period = TEST_NOW.strftime("%Y-%m")
    pdf = httpx.get(f"{demo.url}/api/briefings/monthly?period={period}&format=pdf", timeout=120)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf", pdf.text[:300]
    path = tmp_path / "briefing.pdf"
    path.write_bytes(pdf.content)
    text = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, text=True, check=True).stdout
    flat = " ".join(text.split())
    for words in ("ỦY BAN NHÂN DÂN THÀNH PHỐ HẢI PHÒNG", "TRUNG TÂM GIÁM SÁT, ĐIỀU HÀNH THÔNG MINH",
                  "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "BÁO CÁO",
                  "tháng 11 năm 2026", "Kính gửi: Ủy ban nhân dân thành phố Hải Phòng", "I. CÁC CHỈ SỐ KPI",
                  "II. CHỈ TIÊU KINH TẾ - XÃ HỘI CHỦ YẾU", "III. BÁO CÁO ĐỊNH KỲ NỘP TRỄ, CHƯA NỘP",
                  "IV. NHIỆM VỤ ĐƯỢC GIAO QUÁ HẠN", "V. GHI CHÚ VỀ CHẤT LƯỢNG DỮ LIỆU", "Nơi nhận:", "GIÁM ĐỐC"):
        assert words in flat, words
    number = re.search(r"Số: (\d+)/BC-TTGSĐH", flat)
    assert number, flat[:400]
    assert re.search(r"Hải Phòng, ngày \d{2} tháng \d{1,2} năm 2026", flat)
    units = {u["code"]: u["name"]["vi"] for u in demo.api("/api/units")["units"]}
    missing = [m for m in demo.world.planted["dept_monthly_report"]["missing"] if m["period"] == period]
    assert missing and all(units[m["department_code"]] in flat for m in missing)
    for task in demo.world.planted["directive_tasks"]["overdue"]:
        assert task in flat, task
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    assert "LiberationSerif" in fonts and all(line.split()[-5] == "yes" for line in fonts.splitlines()[2:]), fonts
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(path), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 2
    first = Image.open(pages[0]).convert("L")
    width, height = first.size
    heading = first.crop((0, 0, width, height // 6))
    left, right = heading.crop((0, 0, width // 2, heading.height)), heading.crop((width // 2, 0, width, heading.height))
    ink = [sum(part.histogram()[:128]) for part in (left, right)]  # dark pixels of each side
    assert all(n > 200 for n in ink), f"the heading's two sides are printed: {ink}"
    SCREENSHOTS.mkdir(exist_ok=True)
    shutil.copy(pages[0], SCREENSHOTS / "briefing-page-1.png")

    xlsx = httpx.get(f"{demo.url}/api/briefings/monthly?period={period}&format=xlsx", timeout=120)
    assert xlsx.status_code == 200
    (tmp_path / "briefing.xlsx").write_bytes(xlsx.content)
    book = load_workbook(tmp_path / "briefing.xlsx")
    assert book.sheetnames == list(SHEETS)
    tiles = {t["id"]: t["current"] for t in demo.api("/api/kpis")["kpis"]}
    kpis = list(book["Chỉ số KPI"].iter_rows(min_row=2, values_only=True))
    indicators = list(book["Chỉ tiêu KT-XH"].iter_rows(min_row=2, values_only=True))
    on_forms = {t["id"] for t in demo.api("/api/kpis")["kpis"] if t["indicator"]}
    assert {row[0] for row in kpis} == set(tiles) - on_forms and {row[0] for row in indicators} == on_forms
    # the section of the socio-economic indicators: each with its department and the figures it reported
    retail = next(row for row in indicators if row[0] == "retail_sales_ytd_vs_plan")
    assert retail[2] == "Sở Công Thương" and retail[4] == pytest.approx(tiles["retail_sales_ytd_vs_plan"]["value"])
    assert re.match(r"lũy kế [\d.,]+ tỷ đồng, kế hoạch năm [\d.,]+ tỷ đồng", retail[8]), retail[8]
    section = flat.split("II. CHỈ TIÊU KINH TẾ - XÃ HỘI CHỦ YẾU")[1].split("III. BÁO CÁO")[0]
    assert "Bán lẻ hàng hóa" in section and "Sở Công Thương" in section and "tỷ đồng" in section, section
    for kpi_id, _, shown_period, value, target, *_ in kpis:
        if tiles[kpi_id] and tiles[kpi_id]["period"] == period and tiles[kpi_id]["value"] is not None:
            assert isinstance(value, (int, float)) and value == pytest.approx(tiles[kpi_id]["value"]), kpi_id
    reports = list(book["Báo cáo định kỳ"].iter_rows(min_row=2, values_only=True))
    assert {(m["department_code"], m["period"]) for m in missing} <= {(r[0], r[3]) for r in reports}
    assert all(isinstance(r[7], int) for r in reports), "working days late are numbers"
    tasks = list(book["Nhiệm vụ quá hạn"].iter_rows(min_row=2, values_only=True))
    assert {t[3] for t in tasks} == set(demo.world.planted["directive_tasks"]["overdue"])
    assert all(isinstance(t[7], int) and t[7] > 0 for t in tasks)

    again = ioc("report", "monthly", "--period", period, "--out", str(tmp_path / "cli"),
                env={"IOC_HOME": str(demo.home)})
    assert again.returncode == 0, again.stderr
    assert f"Báo cáo số {number.group(1)}/BC-TTGSĐH" in again.stdout, "the same month keeps its number"
    assert (tmp_path / "cli" / f"bao-cao-thang-{period}.pdf").exists()


def _unit_name(demo: Demo, code: str) -> str:
    return next(u for u in demo.api("/api/units")["units"] if u["code"] == code)["name"]["vi"]


def test_the_wall_refreshes_itself_when_a_late_report_arrives(demo, open_wall, tmp_path, monkeypatch):
    """SXD's missing report arrives: after its load publishes a new snapshot, the open page shows the
    cell as late, without a reload."""
    from pipelines import jobs
    from pipelines.ingest import ingest_feed
    from pipelines.warehouse import connect
    from tests.helpers import report

    home = tmp_path / "demo-copy"
    monkeypatch.setenv("IOC_HOME", str(demo.home))
    with connect():  # a consistent copy: no writer while it is taken
        shutil.copytree(demo.home, home, ignore=shutil.ignore_patterns("*.tmp"))
    process, address = start_exporter(home, tmp_path)
    try:
        period = next(m["period"] for m in demo.world.planted["dept_monthly_report"]["missing"]
                      if m["department_code"] == "SXD")
        wall = open_wall(f"http://{address}").open("/?refresh=5")
        cell = f"{MONTHLY} tr[data-unit='SXD'] td[data-status]:nth-of-type({_column(demo, period) + 1})"
        assert wall.page.locator(cell).get_attribute("data-status") == "missing"

        monkeypatch.setenv("IOC_HOME", str(home))
        report(home, "SXD", period, TEST_NOW.isoformat())
        _, error = ingest_feed("dept_monthly_report")
        assert error is None
        with connect() as con:
            jobs.deadlines(con, catalog(), now=TEST_NOW)  # publishes the new snapshot
        wall.page.wait_for_selector(f"{cell}[data-status='late']", timeout=20_000)
        assert wall.page.locator(cell).inner_text().startswith("+")
    finally:
        process.stop()


def test_the_refresher_publishes_a_missing_or_old_snapshot_only_when_the_warehouse_is_free(home):
    from pipelines.warehouse import connect
    from pipelines.snapshots import state_file, wall_file
    from pipelines.snapshots.refresh import refresh_if_stale

    assert refresh_if_stale(), "nothing published yet"
    assert state_file().exists() and wall_file().exists()
    assert not refresh_if_stale(), "both are fresh"
    wall_file().unlink()  # e.g. a home from before the wall existed
    with connect():
        assert not refresh_if_stale(), "a writer holds the warehouse: the refresher never waits for it"
    assert not wall_file().exists()
    assert refresh_if_stale() and wall_file().exists()
