"""Benchmark of issue 27's second target: `ioc feeds draft` and `ioc feeds try` on a 100,000-row file, each in
under 10 s (whole process).

    .venv/bin/python bench/draft_try_large.py [--rows 100000] [--runs 3] [--xlsx] [--smoke]

Writes a department's task-tracking export (UTF-8 CSV with `;`, Vietnamese status labels, dates d/m/yyyy with
and without zeros, amounts written 1.234,5, a unit code column, an update time; 1 row in 1,000 with a value that
does not parse), or with --xlsx a workbook of the same rows under a title block. Times `ioc feeds draft FILE --id
bench_draft` in a copy of schemas/, then `ioc feeds try bench_draft --file FILE`, `--runs` times each, with a
validation service running (as `ioc up` runs it) and without one. Prints each run and the medians. A draft must
succeed and each try must report the planted values (`ioc feeds try` exits 1), or the benchmark fails; the 10 s
target is read from the figures.

`--smoke`: 1,000 rows, one run, the cold try left out (the same path with no service), and the caller's service
where $IOC_VALIDATION_SOCKET names a running one: seconds; `make test` runs it.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IOC = REPO / ".venv" / "bin" / "ioc"
UNITS = ["SYT", "SCT", "SXD", "STC", "SNV", "CA", "SKHCN", "SGDDT"]
STATUS = ["Chưa thực hiện", "Đang thực hiện", "Hoàn thành", "Đã hủy"]
HEADER = ["Mã hồ sơ", "Đơn vị xử lý", "Trạng thái", "Ngày tiếp nhận", "Hạn xử lý", "Số tiền (đồng)", "Cập nhật lúc"]


def vi(value: float) -> str:
    return f"{value:,.1f}".replace(",", " ").replace(".", ",").replace(" ", ".")


def rows(count: int, seed: int = 7):
    rng = random.Random(seed)
    start = date(2026, 1, 1)
    for i in range(count):
        received = start + timedelta(days=rng.randrange(300))
        due = received + timedelta(days=rng.randrange(5, 60))
        day = f"{received.day}/{received.month}/{received.year}" if i % 2 else f"{received:%d/%m/%Y}"
        amount = vi(rng.uniform(0, 5_000_000)) if i % 1000 != 999 else "không rõ"
        yield [f"HS-{i:07d}", rng.choice(UNITS), rng.choice(STATUS), day, f"{due:%d/%m/%Y}", amount,
               f"{due:%d/%m/%Y} {rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"]


def write(path: Path, count: int) -> None:
    if path.suffix == ".xlsx":
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet("Hồ sơ")
        sheet.append(["SỞ Y TẾ"])
        sheet.append(["DANH SÁCH HỒ SƠ"])
        sheet.append([])
        sheet.append(HEADER)
        for row in rows(count):
            sheet.append(row)
        book.save(path)
        return
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter=";")
        writer.writerow(HEADER)
        writer.writerows(rows(count))


def timed(args: list[str], env: dict) -> tuple[float, int]:
    started = time.perf_counter()
    done = subprocess.run([str(IOC), *args], env=env, capture_output=True, text=True)
    return time.perf_counter() - started, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--xlsx", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="1,000 rows, one run: the same path in seconds")
    options = parser.parse_args()
    if options.smoke:
        options.rows, options.runs = 1_000, 1
    root = Path(tempfile.mkdtemp(prefix="ioc-draft-large-"))
    sample = root / f"HS_2026-10.{'xlsx' if options.xlsx else 'csv'}"
    write(sample, options.rows)
    schemas = root / "schemas"
    shutil.copytree(REPO / "schemas", schemas)
    env = {**os.environ, "IOC_SCHEMAS": str(schemas), "IOC_HOME": str(root / "home"),
           "IOC_VALIDATION_SOCKET": str(root / "validation.sock")}
    print(f"{sample.name}: {options.rows:,} rows, {sample.stat().st_size / 1e6:.1f} MB")
    times: dict[str, list[float]] = {"draft": [], "try, service": [], "try, cold": []}
    running = os.environ.get("IOC_VALIDATION_SOCKET")
    service = None
    if options.smoke and running and Path(running).exists():  # the caller's (the tests'): the same served path
        env["IOC_VALIDATION_SOCKET"] = running
    else:
        service = subprocess.Popen([str(IOC), "validation-service"], env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not Path(env["IOC_VALIDATION_SOCKET"]).exists():  # else "try, service" would time the cold path
            if (service is not None and service.poll() is not None) or time.monotonic() > deadline:
                raise SystemExit("the validation service did not start")
            time.sleep(0.1)
        for run in range(options.runs):
            seconds, code = timed(["feeds", "draft", str(sample), "--id", "bench_draft", "--force"], env)
            assert code == 0, code
            times["draft"].append(seconds)
            seconds, code = timed(["feeds", "try", "bench_draft", "--file", str(sample)], env)
            assert code == 1, code  # the planted values that do not parse
            times["try, service"].append(seconds)
            if not options.smoke:  # the same path as the served try, with no service to connect to
                cold = {**env, "IOC_VALIDATION_SOCKET": str(root / "none.sock")}
                seconds, code = timed(["feeds", "try", "bench_draft", "--file", str(sample)], cold)
                assert code == 1, code
                times["try, cold"].append(seconds)
            print(f"run {run + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items() if v), flush=True)
    finally:
        if service is not None:
            service.terminate()
            service.wait()
    print("median: " + ", ".join(f"{k} {statistics.median(v):.2f} s" for k, v in times.items() if v))
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
