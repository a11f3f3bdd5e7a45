"""Benchmark: how long the operations-centre wall takes to load, in headless Chromium, on a warehouse
(the demo's by default).

    .venv/bin/python bench/wall_page_load.py [--home var] [--loads 20] [--smoke]

Starts `ioc serve` on a free loopback port over $IOC_HOME (publishing the snapshots first if there are
none), then opens the wall in a fresh browser context each time (no cache) and measures, from the start
of navigation, the moment the page has fetched every /api/ section and rendered it (the page's
`ioc:wall-ready` performance mark). Also prints each API answer's size and server time.
Target (issue 7): the page loads in under 1 second at demo scale. Every API answer must be 200 and every load
reach the mark, or the benchmark fails.

`--smoke`: 2 loads and 2 requests per answer, the target not judged (`make test` runs it, on a busy machine), over
the home scrape_exporter.home_of gives (a small warehouse made by the platform's own commands where it has none).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
from scrape_exporter import home_of  # noqa: E402  (the home, and --smoke's small warehouse)

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
ENDPOINTS = ("/", "/static/wall.js", "/api/summary", "/api/kpis", "/api/reports", "/api/tasks", "/api/feeds",
             "/api/kpis/dossier_on_time_rate")


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, help="the warehouse's $IOC_HOME (default: $IOC_HOME, else var/)")
    parser.add_argument("--loads", type=int, default=20)
    parser.add_argument("--smoke", action="store_true", help="2 loads of a small warehouse, the target not judged")
    args = parser.parse_args()
    requests = 20
    if args.smoke:
        args.loads, requests = 2, 2
    env = dict(os.environ)
    home = home_of(args.home, args.smoke, env)
    ioc = str(REPO / ".venv" / "bin" / "ioc")
    if not (home / "serve" / "wall.json").exists():
        subprocess.run([ioc, "late"], env=env, capture_output=True, check=True)  # a refresh publishes the snapshots
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([ioc, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(url + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        print(f"wall snapshot: {(home / 'serve' / 'wall.json').stat().st_size / 1024:.0f} KiB")
        with httpx.Client() as client:
            for path in ENDPOINTS:
                client.get(url + path)  # warm
                times, size = [], 0
                for _ in range(requests):
                    t0 = time.perf_counter()
                    answer = client.get(url + path)
                    times.append((time.perf_counter() - t0) * 1000)
                    if answer.status_code != 200:
                        raise SystemExit(f"GET {path} answered {answer.status_code}: {answer.text[:2000]}")
                    size = len(answer.content)
                print(f"  GET {path:<34} {size / 1024:>7.1f} KiB  median {statistics.median(times):6.1f} ms")
        loads = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=FLAGS)
            for _ in range(args.loads):
                context = browser.new_context(viewport={"width": 1920, "height": 1080})
                page = context.new_page()
                page.goto(url + "/")
                page.wait_for_selector("body[data-ready='1']")
                ready = page.evaluate("performance.getEntriesByName('ioc:wall-ready')[0].startTime")
                loads.append(ready)
                context.close()
            browser.close()
    finally:
        server.terminate()
        server.wait()
    loads.sort()
    p50, p95 = statistics.median(loads), loads[math.ceil(len(loads) * 0.95) - 1]
    print(f"{args.loads} cold loads at 1920×1080, navigation start → every section rendered: "
          f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {loads[-1]:.0f} ms")
    ok = loads[-1] < 1000 or args.smoke
    print(f"{'PASS' if ok else 'FAIL'}: slowest load {loads[-1]:.0f} ms "
          f"(target < 1000 ms{', not judged under --smoke' if args.smoke else ''})")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
