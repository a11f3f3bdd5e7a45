"""Benchmark: how long a Prometheus scrape of `ioc serve` takes on a warehouse (the demo's by default).

    .venv/bin/python bench/scrape_exporter.py [--home var] [--scrapes 200]

Starts the exporter on a free loopback port over $IOC_HOME (publishing the state first if there is
none), scrapes /metrics repeatedly and prints the series count and the latency percentiles.
Target (issue 5): a scrape under 100 ms at demo scale.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]


def scrape(env: dict, scrapes: int, units: str | None = None) -> tuple[list[float], int, int]:
    """Start `ioc serve` (over env's $IOC_HOME; with `units`, that subtree only) on a free loopback port and
    scrape /metrics `scrapes` times: each scrape's milliseconds (sorted), the series and bytes of the last."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [str(REPO / ".venv" / "bin" / "ioc"), "serve", "--port", str(port)] + (["--units", units] if units else [])
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
                body = client.get(url).text
                times.append((time.perf_counter() - t0) * 1000)
                size, series = len(body), sum(1 for line in body.splitlines() if line and not line.startswith("#"))
    finally:
        server.terminate()
        server.wait()
    return sorted(times), series, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, default=Path(os.environ.get("IOC_HOME", REPO / "var")))
    parser.add_argument("--scrapes", type=int, default=200)
    args = parser.parse_args()
    env = {**os.environ, "IOC_HOME": str(args.home.resolve())}
    subprocess.run([str(REPO / ".venv" / "bin" / "ioc"), "late"], env=env, capture_output=True, check=True)  # publishes
    times, series, size = scrape(env, args.scrapes)
    p50, p99 = statistics.median(times), times[int(len(times) * 0.99) - 1]
    print(f"{series} series, {size / 1024:.0f} KiB per scrape; {args.scrapes} scrapes: p50 {p50:.1f} ms, "
          f"p99 {p99:.1f} ms, max {times[-1]:.1f} ms")
    ok = p99 < 100
    print(f"{'PASS' if ok else 'FAIL'}: p99 {p99:.1f} ms (target < 100 ms)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
