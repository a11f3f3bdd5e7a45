"""Benchmark: one `ioc ingest` of a small department report (issue 29's target: a ~100-row report in ≤ 1.5 s on
the DuckDB file and ≤ 2 s on DuckLake with the validation service running, and no slower than before without it).

    .venv/bin/python bench/small_report.py [--warehouse duckdb|ducklake] [--runs 7] [--rows 100] [--smoke]

In a fresh $IOC_HOME (on DuckLake: a catalog database of its own on the local PostgreSQL, dropped after), starts
`ioc validation-service` (as `ioc up` does: the GE service and the warm runner), loads one report to warm the
warehouse, then times whole `ioc ingest dept_monthly_report --file F` processes, each on a new report (another
department or month: a real load, never a duplicate), in turn:
- warm: handed to the warm runner (the default when the service runs);
- served: in its own process, validated by the service's GE worker (IOC_WARM_RUNS=0: before the runner);
- alone: in its own process with no service at all (its own GE worker: the cold path).
Prints each run, the medians and the ratios run by run, and checks that every report loaded all its rows.
`--smoke`: one run of each, 20 rows (what `make test` runs, tests/test_bench.py).
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IOC = REPO / ".venv" / "bin" / "ioc"
FEED = "dept_monthly_report"
DEPARTMENTS = ["SVHTTDL", "SYT", "SGDDT", "SXD", "SCT", "STC", "SNV", "CA", "BQLDA"]
HEADER = ["Mã đơn vị", "Kỳ báo cáo", "Mã chỉ tiêu", "Tên chỉ tiêu", "Giá trị", "Đơn vị tính", "Ghi chú"]
MODES = ("warm", "served", "alone")


def reports(folder: Path, rows: int):
    """New report files, one per (department, month), each `rows` indicators with Vietnamese number text."""
    for year in range(2020, 2026):
        for month in range(1, 13):
            for department in DEPARTMENTS:
                path = folder / f"{department}_{year}-{month:02d}.csv"
                with path.open("w", newline="", encoding="utf-8") as f:
                    writer = csv.writer(f)
                    writer.writerow(HEADER)
                    for i in range(rows):
                        writer.writerow([department, f"{year}-{month:02d}", f"CT{i:03d}", f"Chỉ tiêu {i}",
                                         f"{(i * 37 + month) % 500},5", "cái", ""])
                yield path


def ingest(env: dict, path: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run([str(IOC), "ingest", FEED, "--file", str(path)], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"ioc ingest {path.name} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return seconds


def loaded(env: dict, rows: int, expected: int) -> None:
    """Every report loaded whole: `expected` batches, each of `rows` rows, none quarantined."""
    check = subprocess.run([str(IOC), "batches", FEED, "--json", "--limit", str(expected + 5)], env=env,
                           capture_output=True, text=True)
    if check.returncode != 0:
        raise SystemExit(f"ioc batches failed: {check.stderr}")
    import json  # (a bench script: imported where used)

    batches = json.loads(check.stdout)
    wrong = [b for b in batches if (b["status"], b["loaded"]) != ("loaded", rows)]
    if len(batches) != expected or wrong:
        raise SystemExit(f"expected {expected} batches of {rows} rows loaded; got {len(batches)}, wrong: {wrong[:3]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", choices=["duckdb", "ducklake"], default="duckdb")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument("--smoke", action="store_true", help="one run of each, 20 rows (seconds)")
    args = parser.parse_args()
    runs, rows = (1, 20) if args.smoke else (args.runs, args.rows)

    work = Path(tempfile.mkdtemp(prefix="ioc-small-"))  # short: the sockets' directory lives in it
    work.chmod(0o700)
    home, files = work / "home", work / "files"
    files.mkdir()
    env = {**os.environ, "IOC_HOME": str(home), "IOC_VALIDATION_SOCKET": str(work / "v.sock")}
    env.pop("IOC_WARM_RUNS", None)
    dbname = None
    if args.warehouse == "ducklake":
        import psycopg  # (a bench script: imported where used)

        dbname = f"ioc_bench_small_{uuid.uuid4().hex[:8]}"
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{dbname}"')
        env.update({"IOC_WAREHOUSE": "ducklake", "IOC_DUCKLAKE_CATALOG": f"dbname={dbname} host=127.0.0.1 "
                    "port=5432 user=postgres", "IOC_DUCKLAKE_DATA": str(work / "lake")})
    service = subprocess.Popen([str(IOC), "validation-service"], env=env, stdout=(work / "service.log").open("w"),
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while "warm runner" not in (log := (work / "service.log").read_text()) or "validation service" not in log:
            if service.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the validation service did not start:\n{log}")
            time.sleep(0.2)
        new = reports(files, rows)
        ingest(env, next(new))  # the warehouse made, its schema migrated: what every later load finds
        times: dict[str, list[float]] = {mode: [] for mode in MODES}
        for run in range(runs):
            for mode in MODES:
                mode_env = {**env, "IOC_WARM_RUNS": "1" if mode == "warm" else "0"}
                if mode == "alone":  # a socket nobody listens on: no service for this load
                    mode_env["IOC_VALIDATION_SOCKET"] = str(work / "nobody-listens.sock")
                seconds = ingest(mode_env, next(new))
                times[mode].append(seconds)
                print(f"run {run + 1} {mode:6s} {seconds:6.2f} s", flush=True)
        loaded(env, rows, 1 + runs * len(MODES))
        if "warm run" not in (work / "service.log").read_text():
            raise SystemExit("no load was run warm: see the service's log")
    finally:
        os.killpg(service.pid, signal.SIGTERM)
        service.wait(timeout=30)
        if dbname:
            import psycopg  # (a bench script: imported where used)

            with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as a:
                a.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)
    print(f"{args.warehouse}, {rows} rows, {runs} runs of each (medians):")
    for mode in MODES:
        print(f"  {mode:6s} {statistics.median(times[mode]):6.2f} s  (min {min(times[mode]):.2f}, "
              f"max {max(times[mode]):.2f})")
    for other in ("served", "alone"):
        ratios = [w / o for w, o in zip(times["warm"], times[other], strict=True)]
        print(f"  warm / {other}: {statistics.median(ratios):.2f} (run by run)")


if __name__ == "__main__":
    main()
