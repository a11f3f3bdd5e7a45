"""Benchmark: how long a Prometheus scrape of `ioc serve` takes on a warehouse (the demo's by default).

    .venv/bin/python bench/scrape_exporter.py [--home var] [--scrapes 200] [--smoke]

Starts the exporter on a free loopback port over $IOC_HOME (publishing the state first if there is
none), scrapes /metrics repeatedly and prints the series count and the latency percentiles.
Target (issue 5): a scrape under 100 ms at demo scale; every scrape must answer 200 with series.

`--smoke`: 5 scrapes, the target not judged (`make test` runs it, on a busy machine); over --home or $IOC_HOME,
or a fresh temporary home, and where that has no warehouse, one made by the platform's own commands first
(smoke_warehouse: two departments' reports loaded by `ioc ingest`, then `ioc kpi compute`).
"""

from __future__ import annotations

import argparse
import csv
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
IOC = REPO / ".venv" / "bin" / "ioc"
REPORT_HEADER = ["Mã đơn vị", "Kỳ báo cáo", "Mã chỉ tiêu", "Tên chỉ tiêu", "Giá trị", "Đơn vị tính", "Ghi chú"]


def smoke_warehouse(env: dict) -> None:
    """A small warehouse under env's $IOC_HOME, made as the platform makes one: two departments' monthly reports
    loaded by `ioc ingest`, then the deadline marts and every KPI by `ioc kpi compute` (which publishes the state
    `ioc serve` reads)."""
    folder = Path(env["IOC_HOME"]) / "smoke-files"
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for unit in ("SXD", "SKHCN"):
        files.append(folder / f"{unit}_2026-10.csv")
        with files[-1].open("w", encoding="utf-8", newline="") as out:
            csv.writer(out).writerows([REPORT_HEADER, [unit, "10/2026", "GP_CAP", "Số giấy phép được cấp", "11",
                                                       "giấy phép", ""]])
    for command in (["ingest", "dept_monthly_report", *(a for f in files for a in ("--file", str(f)))],
                    ["kpi", "compute"]):
        done = subprocess.run([str(IOC), *command], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"ioc {' '.join(command[:2])} failed ({done.returncode}):\n{done.stdout[-3000:]}"
                             f"\n{done.stderr[-3000:]}")


def home_of(given: Path | None, smoke: bool, env: dict) -> Path:
    """The warehouse's home: --home, else $IOC_HOME, else var/ (under --smoke, a fresh temporary one), with a
    small warehouse made in it under --smoke if it has none."""
    home = given or (Path(os.environ["IOC_HOME"]) if os.environ.get("IOC_HOME") else None)
    if home is None:
        home = Path(tempfile.mkdtemp(prefix="ioc-bench-smoke-")) if smoke else REPO / "var"
    home = home.resolve()
    env["IOC_HOME"] = str(home)
    if smoke and not (home / "warehouse.duckdb").exists():
        smoke_warehouse(env)
    return home


def scrape(env: dict, scrapes: int, units: str | None = None) -> tuple[list[float], int, int]:
    """Start `ioc serve` (over env's $IOC_HOME; with `units`, that subtree only) on a free loopback port and
    scrape /metrics `scrapes` times: each scrape's milliseconds (sorted), the series and bytes of the last."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [str(IOC), "serve", "--port", str(port)] + (["--units", units] if units else [])
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        for _ in range(300):
            try:
                httpx.get(url, timeout=30)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        times, size, series = [], 0, 0
        with httpx.Client(timeout=60) as client:
            for _ in range(scrapes):
                t0 = time.perf_counter()
                answer = client.get(url)
                times.append((time.perf_counter() - t0) * 1000)
                if answer.status_code != 200:
                    raise SystemExit(f"/metrics answered {answer.status_code}: {answer.text[:2000]}")
                body = answer.text
                size, series = len(body), sum(1 for line in body.splitlines() if line and not line.startswith("#"))
    finally:
        server.terminate()
        server.wait()
    return sorted(times), series, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, help="the warehouse's $IOC_HOME (default: $IOC_HOME, else var/)")
    parser.add_argument("--scrapes", type=int, default=200)
    parser.add_argument("--smoke", action="store_true", help="5 scrapes of a small warehouse, the target not judged")
    args = parser.parse_args()
    if args.smoke:
        args.scrapes = 5
    env = dict(os.environ)
    home = home_of(args.home, args.smoke, env)
    if not (home / "smoke-files").exists():  # smoke_warehouse's `ioc kpi compute` has just published it
        subprocess.run([str(IOC), "late"], env=env, capture_output=True, check=True)  # publishes
    times, series, size = scrape(env, args.scrapes)
    p50, p99 = statistics.median(times), times[max(0, int(len(times) * 0.99) - 1)]
    print(f"{series} series, {size / 1024:.0f} KiB per scrape; {args.scrapes} scrapes: p50 {p50:.1f} ms, "
          f"p99 {p99:.1f} ms, max {times[-1]:.1f} ms")
    if not series:
        print("FAIL: /metrics served no series")
        sys.exit(1)
    ok = p99 < 100 or args.smoke
    print(f"{'PASS' if ok else 'FAIL'}: p99 {p99:.1f} ms (target < 100 ms{', not judged under --smoke' if args.smoke else ''})")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
