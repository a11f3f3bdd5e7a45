"""The department simulator: deterministic world, real HTTP APIs, real files, a real PostgreSQL database."""

from __future__ import annotations

import csv
import io
import unicodedata
import uuid
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from openpyxl import load_workbook
from psycopg import sql

from simulator.clock import TZ, report_deadline
from simulator.cp1258 import decode_cp1258, encode_cp1258
from simulator.files import REPORT_HEADERS, TASK_HEADERS, write_report_files, write_task_export
from simulator.finance_db import DEFAULT_ADMIN_DSN, fill_finance_db
from simulator.http_api import SimulatorServer
from simulator.world import World

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=TZ)
TOKENS = {
    "IOC_TTHC_TOKEN": "test-tthc-token",
    "IOC_HOTLINE_TOKEN": "test-hotline-token",
    "IOC_SOC_TOKEN": "test-soc-token",
    "IOC_AIR_TOKEN": "test-air-token",
}
DOSSIERS = "/api/tthc/dossiers"


@pytest.fixture(scope="module")
def world() -> World:
    return World(seed=7, now=NOW, scale=0.2)


@pytest.fixture(scope="module")
def server(world: World):
    with SimulatorServer(world) as running:
        yield running


@pytest.fixture(autouse=True)
def tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in TOKENS.items():
        monkeypatch.setenv(name, value)


def bearer(env: str = "IOC_TTHC_TOKEN") -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[env]}"}


def fetch_all(url: str, params: dict, env: str = "IOC_TTHC_TOKEN") -> tuple[list[dict], list[dict]]:
    """Every record reachable from `url` by following `next`, and every page body."""
    records, pages = [], []
    response = httpx.get(url, params=params, headers=bearer(env))
    while True:
        assert response.status_code == 200, response.text
        pages.append(response.json())
        records.extend(pages[-1]["data"])
        if pages[-1]["next"] is None:
            return records, pages
        response = httpx.get(pages[-1]["next"], headers=bearer(env))


def test_world_is_deterministic_for_a_fixed_seed_and_now():
    first, second = World(seed=3, now=NOW, scale=0.1), World(seed=3, now=NOW, scale=0.1)
    for attribute in (
        "dossiers", "tickets", "incidents", "air_readings", "tasks", "report_files", "investment_rows", "planted",
    ):
        assert getattr(first, attribute) == getattr(second, attribute), attribute
    assert World(seed=4, now=NOW, scale=0.1).dossiers != first.dossiers


def test_world_plants_what_planted_describes(world: World):
    planted = world.planted
    dossiers = {d["dossier_id"]: d for d in world.dossiers}
    assert [dossiers[i]["agency_code"] for i in planted["tthc_dossiers"]["unknown_agency"]] == ["SXXX", "SXXX"]
    assert [dossiers[i]["fee_vnd"] for i in planted["tthc_dossiers"]["non_integer_fee"]] == ["miễn phí"]
    tickets = {t["ticket_id"]: t for t in world.tickets}
    assert [tickets[i]["category"] for i in planted["citizen_feedback"]["unknown_category"]] == ["không rõ"]
    incidents = {i["incident_id"]: i for i in world.incidents}
    assert len(planted["security_incidents"]["critical_open"]) >= 2
    assert all(incidents[i]["severity"] == "critical" and incidents[i]["status"] == "open"
               for i in planted["security_incidents"]["critical_open"])
    reports = planted["dept_monthly_report"]
    submitted = {(f.department_code, f.period) for f in world.report_files}
    assert reports["missing"] == [
        {"department_code": "SXD", "period": "2026-11"}, {"department_code": "SCT", "period": "2026-11"},
    ]
    assert not any(key in submitted for key in [(m["department_code"], m["period"]) for m in reports["missing"]])
    files = {f.name: f for f in world.report_files}
    assert reports["late"]
    assert all(files[late["file"]].submitted_at > report_deadline(late["period"]) for late in reports["late"])
    assert all(3 <= late["days_late"] <= 10 for late in reports["late"])
    tasks = planted["directive_tasks"]
    assert len(tasks["overdue"]) >= 5 and len(tasks["done_late"]) >= 4 and len(tasks["due_soon"]) >= 4
    assert len(planted["public_investment"]["lagging"]) == 2
    assert any(reading["aqi"] is None for reading in world.air_readings)
    assert len(planted["air_quality"]["unhealthy_hours"]) >= 8


def test_healthz_needs_no_token(server: SimulatorServer):
    response = httpx.get(f"{server.url}/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_api_refuses_a_missing_or_wrong_token(server: SimulatorServer, monkeypatch: pytest.MonkeyPatch):
    missing = httpx.get(f"{server.url}{DOSSIERS}")
    wrong = httpx.get(f"{server.url}{DOSSIERS}", headers={"Authorization": "Bearer not-the-token"})
    other_feeds_token = httpx.get(f"{server.url}{DOSSIERS}", headers=bearer("IOC_AIR_TOKEN"))
    monkeypatch.delenv("IOC_TTHC_TOKEN")
    unset = httpx.get(f"{server.url}{DOSSIERS}", headers=bearer())
    for response in (missing, wrong, other_feeds_token, unset):
        assert response.status_code == 401
        assert "error" in response.json() and TOKENS["IOC_TTHC_TOKEN"] not in response.text


def test_the_apis_ask_for_the_token_variables_the_feeds_declare():
    """`ioc up` and the tests' tokens fixture fill the variables the feeds declare (source.auth.bearer_token_env,
    read by pipelines.runtime.token_envs); the simulator checks its own list: the two agree."""
    from pipelines.runtime import token_envs
    from simulator.http_api import ENDPOINTS

    assert token_envs() == tuple(sorted(e.token_env for e in ENDPOINTS.values()))


def test_pagination_returns_every_record_exactly_once(server: SimulatorServer, world: World):
    records, pages = fetch_all(f"{server.url}{DOSSIERS}", {"page_size": 97})
    ids = [r["dossier_id"] for r in records]
    assert sorted(ids) == sorted(d["dossier_id"] for d in world.dossiers)
    assert len(ids) == len(set(ids)) == pages[0]["total"]
    assert len(pages) == -(-len(ids) // 97) and pages[-1]["next"] is None
    assert [r["updated_at"] for r in records] == sorted(r["updated_at"] for r in records)


def test_updated_after_filters_strictly(server: SimulatorServer, world: World):
    pivot = sorted(d["updated_at"] for d in world.dossiers)[len(world.dossiers) // 2]
    records, _ = fetch_all(f"{server.url}{DOSSIERS}", {"updated_after": pivot.isoformat(), "page_size": 1000})
    assert {r["dossier_id"] for r in records} == {d["dossier_id"] for d in world.dossiers if d["updated_at"] > pivot}
    assert all(datetime.fromisoformat(r["updated_at"]) > pivot for r in records)
    assert all(r["updated_at"].endswith("+07:00") for r in records)


def test_air_readings_filter_on_observed_after(server: SimulatorServer, world: World):
    since = NOW - timedelta(hours=5)
    records, _ = fetch_all(f"{server.url}/api/air/readings", {"observed_after": since.isoformat()}, env="IOC_AIR_TOKEN")
    assert len(records) == 5 * len(world.stations)
    assert {r["station_id"] for r in records} == set(world.stations)


def test_injected_faults_are_answered_in_order(server: SimulatorServer):
    server.inject_faults([429, 500])
    throttled = httpx.get(f"{server.url}{DOSSIERS}", headers=bearer())
    failed = httpx.get(f"{server.url}{DOSSIERS}", headers=bearer())
    recovered = httpx.get(f"{server.url}{DOSSIERS}", headers=bearer())
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "1"
    assert failed.status_code == 500 and "error" in failed.json()
    assert recovered.status_code == 200
    assert [status for _, _, status in server.request_log[-3:]] == [429, 500, 200]


def test_advance_produces_new_versions_of_dossiers():
    world = World(seed=11, now=NOW, scale=0.1)
    before = {d["dossier_id"]: d["updated_at"] for d in world.dossiers}
    with SimulatorServer(world) as server:
        world.advance(24)
        changed, _ = fetch_all(f"{server.url}{DOSSIERS}", {"updated_after": NOW.isoformat(), "page_size": 1000})
        readings, _ = fetch_all(
            f"{server.url}/api/air/readings", {"observed_after": NOW.isoformat()}, env="IOC_AIR_TOKEN"
        )
    assert world.now == NOW + timedelta(hours=24)
    updated = [r for r in changed if r["dossier_id"] in before]
    assert updated and all(datetime.fromisoformat(r["updated_at"]) > before[r["dossier_id"]] for r in updated)
    assert any(r["dossier_id"] not in before for r in changed)
    assert len(readings) == 24 * len(world.stations)


def test_report_files_use_every_layout_and_their_submission_times(world: World, tmp_path: Path):
    paths = write_report_files(world, tmp_path)
    assert [p.name for p in paths] == [f.name for f in world.report_files]
    assert {f.layout for f in world.report_files} == {"xlsx", "csv", "csv_vi", "csv_cp1258", "garbage"}
    for report, path in zip(world.report_files, paths):
        assert path.stat().st_mtime == report.submitted_at.timestamp()
    planted = world.planted["dept_monthly_report"]
    garbage = tmp_path / planted["garbage_files"][0]
    assert garbage.suffix == ".xlsx" and not zipfile.is_zipfile(garbage)
    resubmission = planted["resubmissions"][0]
    assert (tmp_path / resubmission["file"]).stat().st_mtime > (tmp_path / resubmission["replaces"]).stat().st_mtime
    vietnamese_csv = next(p for p, f in zip(paths, world.report_files) if f.layout == "csv_vi")
    text = vietnamese_csv.read_bytes().decode("utf-8")
    assert text.startswith("\ufeff") and text.splitlines()[0].lstrip("\ufeff").split(";") == list(REPORT_HEADERS)


def test_windows_1258_report_decodes_to_the_original_names(world: World, tmp_path: Path):
    write_report_files(world, tmp_path)
    report = next(f for f in world.report_files if f.layout == "csv_cp1258")
    data = (tmp_path / report.name).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    rows = list(csv.reader(io.StringIO(decode_cp1258(data))))
    assert rows[0] == list(REPORT_HEADERS)
    assert [row[3] for row in rows[1:]] == [r.indicator_name for r in report.rows]
    assert [row[5] for row in rows[1:]] == [r.unit for r in report.rows]


def test_xlsx_reports_have_a_title_block_and_numeric_cells(world: World, tmp_path: Path):
    write_report_files(world, tmp_path)
    headers_seen = set()
    for report in (f for f in world.report_files if f.layout == "xlsx"):
        rows = list(load_workbook(tmp_path / report.name, read_only=True).active.iter_rows(values_only=True))
        header_index = next(
            i for i, row in enumerate(rows) if row[2] and "CHỈ" in unicodedata.normalize("NFC", row[2]).upper()
        )
        assert 3 <= header_index <= 5 and rows[0][0] == "ỦY BAN NHÂN DÂN THÀNH PHỐ HẢI PHÒNG"
        headers_seen.add(rows[header_index])
        values = [row[4] for row in rows[header_index + 1:] if row[0] != "Tổng cộng"]
        assert values == [r.value for r in report.rows] and all(isinstance(v, (int, float)) for v in values)
    assert any(label != unicodedata.normalize("NFC", label) for header in headers_seen for label in header)


def test_task_export_uses_vietnamese_labels_and_dates(world: World, tmp_path: Path):
    path = write_task_export(world, tmp_path)
    assert path.name == "nhiem_vu_20261120_1000.csv"
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))
    assert rows[0] == list(TASK_HEADERS) and len(rows) == len(world.tasks) + 1
    assert {row[7] for row in rows[1:]} <= {"Chưa thực hiện", "Đang thực hiện", "Hoàn thành", "Đã hủy"}
    for row in rows[1:]:
        datetime.strptime(row[5], "%d/%m/%Y")
        datetime.strptime(row[9], "%d/%m/%Y %H:%M:%S")


def test_encode_cp1258_round_trips_every_vietnamese_letter():
    letters = "aàáảãạăằắẳẵặâầấẩẫậeèéẻẽẹêềếểễệiìíỉĩịoòóỏõọôồốổỗộơờớởỡợuùúủũụưừứửữựyỳýỷỹỵđ"
    text = letters + letters.upper() + " Sở Nông nghiệp và Môi trường"
    assert decode_cp1258(encode_cp1258(text)) == text
    assert decode_cp1258(encode_cp1258(unicodedata.normalize("NFD", text))) == text


def test_finance_db_fill_is_idempotent_and_follows_the_world():
    dbname = f"ioc_sim_test_{uuid.uuid4().hex[:10]}"
    world = World(seed=5, now=NOW, scale=0.1)
    query = "SELECT * FROM finance.disbursement ORDER BY project_code, period"
    try:
        dsn = fill_finance_db(world, DEFAULT_ADMIN_DSN, dbname)
        with psycopg.connect(dsn) as connection:
            first = connection.execute(query).fetchall()
        fill_finance_db(world, DEFAULT_ADMIN_DSN, dbname)
        with psycopg.connect(dsn) as connection:
            assert connection.execute(query).fetchall() == first
        assert len(first) == len(world.projects) * NOW.month
        world.advance(48)
        fill_finance_db(world, DEFAULT_ADMIN_DSN, dbname)
        with psycopg.connect(dsn) as connection:
            current = connection.execute(
                "SELECT updated_at, disbursed_cum_vnd FROM finance.disbursement"
                " WHERE period = '2026-11' ORDER BY project_code"
            ).fetchall()
            assert len(connection.execute(query).fetchall()) == len(first)
        assert all(updated_at == world.now for updated_at, _ in current)
        before = [row[5] for row in first if row[3] == "2026-11"]
        assert all(after >= old for (_, after), old in zip(current, before))
    finally:
        with psycopg.connect(DEFAULT_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
