"""Entry point: build the world, drop its files, fill the finance database, and serve the department APIs."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path

from simulator.finance_db import DEFAULT_ADMIN_DSN, fill_finance_db
from simulator.files import write_report_files, write_task_export
from simulator.forms import write_form_files
from simulator.http_api import ENDPOINTS, SimulatorServer
from simulator.world import World


def run(
    ioc_home: Path,
    host: str = "127.0.0.1",
    port: int = 8765,
    seed: int = 42,
    serve: bool = True,
    fault_rate: float = 0.02,
    months: int = 6,
    scale: float = 1.0,
    finance_admin_dsn: str = DEFAULT_ADMIN_DSN,
    now: datetime | None = None,
) -> World:
    """Play every department once; with `serve`, keep answering HTTP until SIGTERM or SIGINT."""
    world = World(seed=seed, now=now, months=months, scale=scale)
    inbox = Path(ioc_home) / "inbox"
    reports = write_report_files(world, inbox / "dept_monthly_report")
    forms = write_form_files(world, inbox / "dept_indicators")
    export = write_task_export(world, inbox / "directive_tasks")
    finance_dsn = fill_finance_db(world, finance_admin_dsn)
    print(
        f"simulator: {len(reports)} report files, {len(forms)} indicator forms, task export {export.name}, "
        f"finance database {finance_dsn}",
        flush=True,
    )
    if serve:
        missing = sorted({e.token_env for e in ENDPOINTS.values()} - set(os.environ))
        if missing:
            print(f"simulator: {', '.join(missing)} not set: those APIs will answer 401", file=sys.stderr, flush=True)
        _serve_until_signalled(SimulatorServer(world, host=host, port=port, fault_rate=fault_rate, seed=seed))
    return world


def _serve_until_signalled(server: SimulatorServer) -> None:
    stopping = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stopping.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with server:
            print(f"simulator: serving department APIs at {server.url}", flush=True)
            stopping.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    parser.add_argument(
        "--ioc-home", "--home", dest="ioc_home", type=Path, default=Path(os.environ.get("IOC_HOME", "var")),
        help="platform home whose inbox/ receives the files (default: $IOC_HOME or ./var)",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--no-serve", dest="serve", action="store_false", help="write the files and the database, then exit"
    )
    parser.add_argument("--fault-rate", type=float, default=0.02, help="share of API requests answered 429 or 500")
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every record volume")
    parser.add_argument("--finance-admin-dsn", default=DEFAULT_ADMIN_DSN)
    parser.add_argument("--now", type=datetime.fromisoformat, default=None,
                        help="simulated current time, ISO 8601 with offset (default: the real time)")
    args = parser.parse_args(argv)
    run(
        args.ioc_home, host=args.host, port=args.port, seed=args.seed, serve=args.serve, fault_rate=args.fault_rate,
        months=args.months, scale=args.scale, finance_admin_dsn=args.finance_admin_dsn, now=args.now,
    )
