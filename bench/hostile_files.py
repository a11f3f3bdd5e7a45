"""Benchmark: what a hostile workbook costs `ioc serve`, and what the readers' limits cost an honest one.

    .venv/bin/python bench/hostile_files.py [--sends 10] [--rows 100000] [--smoke]

1. Starts `ioc serve` on a free loopback port over a fresh $IOC_HOME with one department's token, and sends
   it a zip bomb (3.6 MB inflating to 1 GiB, the same as tests/hostile_files.py makes) `--sends` times with
   that department's own token, sampling the server's RSS every 10 ms: each refusal's time and the peak RSS
   above where the server started. Target (issue 25): refused within 5 s, RSS growth under 100 MiB.
2. In this process, an honest workbook of `--rows` rows × 7 columns: the archive check alone
   (extract/archive.check_workbook) against the whole read (check, parse, every row as text), best of 5, and
   their ratio: what the limits add to every workbook read.

Every send must be refused (422, naming the cap) and the honest workbook read whole, or the benchmark fails; so does
a missed target, except under `--smoke`: two sends and a workbook of 1,000 rows (seconds; `make test` runs it, on
a machine too busy for its times to judge anything).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.hostile_files import bomb  # noqa: E402

TOKEN = "bench-token-of-sxd-0123456789"


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) / 1024


def serve(home: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "IOC_HOME": str(home), "IOC_SUBMIT_TOKEN_SXD": TOKEN}
    server = subprocess.Popen([str(REPO / ".venv" / "bin" / "ioc"), "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            httpx.get(url + "/healthz", timeout=5)
            return server, url
        except httpx.HTTPError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("ioc serve did not answer /healthz within 60 s")


def bombs(folder: Path, sends: int) -> list[str]:
    """Send the bomb `sends` times; what failed (a send not refused; a target missed)."""
    body = bomb(folder / "SXD_2026-11.xlsx").read_bytes()
    home = folder / "ioc-home"
    home.mkdir()
    server, url = serve(home)
    try:
        time.sleep(1)
        before, peak, done = rss_mib(server.pid), [0.0], threading.Event()

        def watch():
            while not done.is_set():
                peak[0] = max(peak[0], rss_mib(server.pid))
                time.sleep(0.01)

        watcher = threading.Thread(target=watch)
        watcher.start()
        seconds, statuses = [], set()
        for _ in range(sends):
            started = time.perf_counter()
            answer = httpx.post(f"{url}/api/submissions/dept_monthly_report",
                                headers={"Authorization": f"Bearer {TOKEN}"},
                                files={"file": ("SXD_2026-11.xlsx", body)}, timeout=60)
            seconds.append(time.perf_counter() - started)
            statuses.add(answer.status_code)
        done.set()
        watcher.join()
    finally:
        server.terminate()
        server.wait(timeout=15)
    print(f"zip bomb ({len(body) / 1e6:.1f} MB → 1 GiB) sent {sends} times: answered {sorted(statuses)}; "
          f"refusal {statistics.median(seconds) * 1000:.0f} ms median, {max(seconds) * 1000:.0f} ms max "
          f"(target: under 5 s); server RSS {before:.0f} MiB at start, peak {peak[0]:.0f} MiB "
          f"(+{peak[0] - before:.0f} MiB; target: under 100 MiB)")
    failed = [f"a bomb answered {status}, not 422" for status in sorted(statuses - {422})]
    if max(seconds) >= 5:
        failed.append(f"target: a refusal took {max(seconds):.1f} s")
    if peak[0] - before >= 100:
        failed.append(f"target: the server's RSS grew {peak[0] - before:.0f} MiB")
    return failed


def honest(folder: Path, rows: int) -> list[str]:
    """Time the archive check against the whole read of an honest workbook; what failed (a read short of rows)."""
    from openpyxl import Workbook

    from pipelines.declarations.loading import catalog
    from pipelines.declarations.models import ReadLimits
    from pipelines.extract.archive import check_workbook
    from pipelines.extract.file_drop import table_frame
    from pipelines.extract.tabular import read_grid

    path = folder / "SKHCN_2026-10.xlsx"
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Báo cáo")
    sheet.append(["Mã đơn vị", "Kỳ báo cáo", "Mã chỉ tiêu", "Tên chỉ tiêu", "Giá trị", "Đơn vị tính", "Ghi chú"])
    for i in range(rows):
        sheet.append(["SKHCN", "10/2026", f"CT_{i:06d}", f"Chỉ tiêu số {i}", i * 1.5, "tỷ đồng", None])
    book.save(path)
    data, feed, limits = path.read_bytes(), catalog().feeds["dept_monthly_report"], ReadLimits()

    def best(run) -> float:
        times = []
        for _ in range(5):
            started = time.perf_counter()
            run()
            times.append(time.perf_counter() - started)
        return min(times)

    check = best(lambda: check_workbook(data, limits))
    whole = best(lambda: table_frame(feed, read_grid(path, data, ["utf-8"], None, limits)))
    frame, _ = table_frame(feed, read_grid(path, data, ["utf-8"], None, limits))
    print(f"honest workbook, {rows:,} rows × 7 ({len(data) / 1e6:.1f} MB): archive check {check * 1000:.0f} ms, "
          f"whole read {whole * 1000:.0f} ms (check included): the limits are {check / whole:.0%} of the read")
    return [] if frame.height == rows else [f"the honest workbook read {frame.height} rows of {rows}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sends", type=int, default=10)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--smoke", action="store_true", help="two sends, 1,000 rows: the same path in seconds")
    args = parser.parse_args()
    if args.smoke:
        args.sends, args.rows = 2, 1_000
    with tempfile.TemporaryDirectory() as folder:
        failed = bombs(Path(folder), args.sends) + honest(Path(folder), args.rows)
    if args.smoke:  # a busy machine's times judge nothing
        failed = [f for f in failed if not f.startswith("target:")]
    print("PASS" if not failed else "FAIL:\n  " + "\n  ".join(failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
