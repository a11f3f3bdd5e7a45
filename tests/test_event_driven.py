"""The running stack (`ioc up` on free loopback ports: simulator, exporter, Airflow standalone with its
scheduler, dag-processor, triggerer and api-server) and event-driven file feeds in it: the inbox watcher
starts a feed's DAG when a file arrives, and the asset chain brings it to the wall's API and the metrics
within two minutes, where the hourly cron took up to an hour; `ioc down` then stops every process."""

from __future__ import annotations

import os
import subprocess
import time
from datetime import datetime, timezone

import httpx
import pytest

from tests.conftest import REPO, VENV_BIN, ioc
from tests.stack import free_port, wait_until

FEED = "dept_monthly_report"
ARRIVAL_BOUND_SECONDS = 120  # issue 16: a report dropped shows on the wall and in /metrics within two minutes



def monthly_cells(wall: str) -> dict:
    """(unit, period) → cell of the monthly reports' grid on /api/reports (the forms' grid is beside it)."""
    grid = next(g for g in httpx.get(f"{wall}/api/reports", timeout=10).json()["feeds"] if g["feed"] == FEED)
    return {(row["unit"], p): c for row in grid["units"] for p, c in row["cells"].items()}

def test_ioc_up_loads_a_dropped_and_a_submitted_report_within_two_minutes_and_ioc_down_stops_it(home, monkeypatch):
    from pipelines.declarations.loading import catalog
    from pipelines.runtime import AirflowClient
    from tests.helpers import report

    ports = {"IOC_SIM_PORT": free_port(), "IOC_EXPORTER_PORT": free_port(), "IOC_AIRFLOW_PORT": free_port()}
    for key, value in ports.items():
        monkeypatch.setenv(key, str(value))
    monkeypatch.setenv("IOC_SIM_URL", f"http://127.0.0.1:{ports['IOC_SIM_PORT']}")
    wall = f"http://127.0.0.1:{ports['IOC_EXPORTER_PORT']}"
    tokens = {u.code: f"token-{u.code}-{i:04d}" for i, u in enumerate(catalog().org_units.units)}
    secrets = home / "submission-tokens.yaml"  # the departments' tokens, as a secrets file the exporter reads
    secrets.write_text("".join(f"{unit}: {token}\n" for unit, token in tokens.items()), encoding="utf-8")
    monkeypatch.setenv("IOC_SUBMIT_TOKENS_FILE", str(secrets))
    monkeypatch.delenv("IOC_VALIDATION_SOCKET", raising=False)  # `ioc up` starts this home's own service
    started = ioc("up")
    groups = {f.stem: int(f.read_text()) for f in (home / "run").glob("*.pid")}
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert set(groups) == {"validation", "simulator", "exporter", "airflow"}
        health = httpx.get(f"http://127.0.0.1:{ports['IOC_AIRFLOW_PORT']}/api/v2/monitor/health", timeout=10).json()
        assert health["scheduler"]["status"] == "healthy" and health["triggerer"]["status"] == "healthy"
        client = AirflowClient()

        def airflow(path: str, **params) -> dict:
            return httpx.get(f"{client.base}/api/v2/{path}", params=params, headers=client._headers(), timeout=10).json()

        dags = {d["dag_id"]: d["is_paused"] for d in airflow("dags", limit=100)["dags"]}
        assert {f"feed_{f}" for f in catalog().feeds} | {"ioc_deadlines", "ioc_kpis"} <= set(dags)
        assert not any(dags.values()), "every DAG runs on its own schedule"

        def grid() -> dict | None:  # the monthly reports' grid, once the simulator's files are loaded and published
            answer = httpx.get(f"{wall}/api/reports", timeout=10)
            feeds = answer.json().get("feeds") if answer.status_code == 200 else None
            monthly = next((g for g in feeds or [] if g["feed"] == FEED), None)
            return monthly if monthly and any(c["status"] in ("on_time", "late") for row in monthly["units"]
                                              for c in row["cells"].values()) else None

        def missing_reports() -> int:  # of the monthly reports (the forms' own load may land meanwhile)
            return sum(cell["status"] == "missing" for cell in monthly_cells(wall).values())

        # the simulator dropped its files at start: the watcher has them loaded without waiting for the cron
        reports = wait_until(grid, timeout=240, interval=2, what="the simulator's reports loaded by the watcher")
        unit, period = next((row["unit"], p) for row in reports["units"]
                            for p, cell in sorted(row["cells"].items(), reverse=True) if cell["status"] == "missing")
        series = f'ioc_report_received{{feed="{FEED}",period="{period}",unit="{unit}"}}'
        assert f"{series} 0.0" in httpx.get(f"{wall}/metrics", timeout=10).text

        missing_before = missing_reports()
        dropped, dropped_at = time.monotonic(), datetime.now(timezone.utc)
        report(home, unit, period, time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()))

        def arrived(unit: str, period: str) -> bool:
            cells = monthly_cells(wall)
            series = f'ioc_report_received{{feed="{FEED}",period="{period}",unit="{unit}"}}'
            return cells[unit, period]["status"] in ("on_time", "late") and \
                f"{series} 1.0" in httpx.get(f"{wall}/metrics", timeout=10).text

        wait_until(lambda: arrived(unit, period), timeout=ARRIVAL_BOUND_SECONDS, interval=1,
                   what=f"{unit}'s {period} report on /api/reports and /metrics")
        print(f"dropped → wall and /metrics in {time.monotonic() - dropped:.1f} s")
        assert missing_reports() == missing_before - 1, missing_before

        # another department sends its missing report through the API
        cells = monthly_cells(wall)
        other, other_period = next(k for k, c in sorted(cells.items(), key=lambda kc: kc[0][1], reverse=True)
                                   if c["status"] == "missing" and k[0] != unit)
        body = (f"Mã đơn vị,Kỳ báo cáo,Mã chỉ tiêu,Tên chỉ tiêu,Giá trị,Đơn vị tính,Ghi chú\r\n"
                f"{other},{other_period},GP_CAP,Giấy phép,5,,\r\n").encode()
        sent = time.monotonic()
        answer = httpx.post(f"{wall}/api/submissions/{FEED}", files={"file": (f"{other}_{other_period}.csv", body)},
                            headers={"Authorization": f"Bearer {tokens[other]}"}, timeout=60)
        assert answer.status_code == 202, answer.text
        wait_until(lambda: arrived(other, other_period), timeout=ARRIVAL_BOUND_SECONDS, interval=1,
                   what=f"{other}'s {other_period} report, submitted, on /api/reports and /metrics")
        print(f"submitted → wall and /metrics in {time.monotonic() - sent:.1f} s")
        outcome = httpx.get(f"{wall}{answer.json()['outcome']}", headers={"Authorization": f"Bearer {tokens[other]}"},
                            timeout=60).json()
        assert outcome["status"] == "loaded" and outcome["unit"] == other, outcome
        assert f'ioc_submissions_total{{feed="{FEED}",status="accepted",unit="{other}"}} 1.0' in \
            httpx.get(f"{wall}/metrics", timeout=10).text

        # refusals, from the running exporter: each says why and leaves nothing but its record
        name = f"{other}_{other_period}"
        refusals = [((f"{name}.csv", body), tokens[unit], 403), ((f"{name}.exe", b"MZ"), tokens[other], 415),
                    ((f"{name}.csv", body + b"x" * 5_000_001), tokens[other], 413),
                    ((f"../{name}.csv", body), tokens[other], 400),
                    ((f"{name}.xlsx", b"PK\x03\x04 broken"), tokens[other], 422)]
        for sent_file, token, status in refusals:
            refused = httpx.post(f"{wall}/api/submissions/{FEED}", files={"file": sent_file},
                                 headers={"Authorization": f"Bearer {token}"}, timeout=60)
            assert refused.status_code == status and refused.json()["reason"]["vi"], (sent_file[0], refused.text)
            record = httpx.get(f"{wall}/api/submissions/{refused.json()['submission_id']}",
                               headers={"Authorization": f"Bearer {token}"}, timeout=60).json()
            assert record["status"] == "refused" and record["reason"] == refused.json()["reason"]
        assert not [p for p in (home / "inbox" / FEED).iterdir()], "nothing of a refusal is left in the inbox"
        runs = airflow(f"dags/feed_{FEED}/dagRuns", order_by="-start_date", limit=5)["dag_runs"]
        assert any(r["run_type"] == "asset_triggered" and datetime.fromisoformat(r["start_date"]) > dropped_at
                   for r in runs), [(r["run_type"], r["start_date"]) for r in runs]
        assert list((home / "archive").rglob(f"*{unit}_{period}.csv")), "loaded and archived, never deleted"
        service_log = (home / "logs" / "validation.log").read_text()
        assert " requests of pid " in service_log, "the tasks' loads were validated by the warm service"

        # the arrival benchmark's smoke, in this stack (tests/test_bench.py leaves it here: alone it starts its own)
        bench = subprocess.run([str(VENV_BIN / "python"), str(REPO / "bench" / "report_arrival.py"), "--smoke",
                                "--running"], env=dict(os.environ), capture_output=True, text=True, timeout=600)
        print(bench.stdout[-1500:])
        assert bench.returncode == 0 and "PASS" in bench.stdout, bench.stdout[-3000:] + bench.stderr[-3000:]
    finally:
        stopped = ioc("down")
    assert stopped.returncode == 0, stopped.stderr
    for name, pgid in groups.items():
        with pytest.raises(ProcessLookupError):
            os.killpg(pgid, 0)  # no process of the group is left
    assert not list((home / "run").glob("*.pid"))
