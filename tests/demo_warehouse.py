"""The demo's warehouse, built the way `make demo` builds it but without the scheduler: the demo's
simulated world (seed 42, six months, full scale) serves its APIs over real HTTP, drops its files and
fills a throwaway PostgreSQL database; every feed is ingested by the same code the DAG tasks run; then
the deadline marts and the KPIs are computed. The deadline marts and KPIs are computed as of the
world's own `now`, so the planted late reports and overdue tasks are the same on every day the tests run.

It is built once per test run (shared_demo_warehouse): the test files that read it each get a copy.
"""

from __future__ import annotations

import os
import secrets
import shutil
import uuid
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from pipelines.runtime import token_envs

DEMO_SEED, DEMO_MONTHS, DEMO_SCALE = 42, 6, 1.0  # the simulator's defaults, which `make demo` runs


def build_demo_warehouse(home: Path, admin_dsn: str, now: datetime, months: int = DEMO_MONTHS,
                         scale: float = DEMO_SCALE):
    """Fill $IOC_HOME=`home` like the demo does (a smaller world with `months`, `scale`); returns the
    simulated world (with what it planted)."""
    from pipelines import jobs
    from pipelines.declarations.loading import catalog
    from pipelines.ingest import ingest_feed
    from pipelines.warehouse import connect
    from simulator.finance_db import fill_finance_db
    from simulator.files import write_report_files, write_task_export
    from simulator.forms import write_form_files
    from simulator.http_api import SimulatorServer
    from simulator.world import World

    world = World(seed=DEMO_SEED, now=now, months=months, scale=scale)
    dbname = f"ioc_test_finance_{uuid.uuid4().hex[:8]}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("IOC_HOME", str(home))
        for name in token_envs():
            env.setenv(name, secrets.token_urlsafe(16))
        write_report_files(world, home / "inbox" / "dept_monthly_report")
        write_task_export(world, home / "inbox" / "directive_tasks")
        write_form_files(world, home / "inbox" / "dept_indicators")
        env.setenv("IOC_FINANCE_DSN", fill_finance_db(world, admin_dsn=admin_dsn, dbname=dbname))
        try:
            with SimulatorServer(world) as server:
                env.setenv("IOC_SIM_URL", server.url)
                for feed_id in catalog().feeds:
                    _, error = ingest_feed(feed_id)
                    assert error is None, f"{feed_id}: {error}"
            with connect() as con:
                jobs.kpis(con, catalog(), now=now)
        finally:
            with psycopg.connect(admin_dsn, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    return world


def shared_demo_warehouse(tmp_path_factory, admin_dsn: str, now: datetime, home: Path, months: int = DEMO_MONTHS,
                          scale: float = DEMO_SCALE):
    """The demo's warehouse copied into $IOC_HOME=`home` (which the test may write to), built once per test run
    and kept under the run's base temporary directory, which pytest-xdist's workers share: the first worker to
    ask builds it (under a file lock), the others wait for it and copy it (measured, 4 December: the build takes
    a minute or more, the copy a second or two). Returns the simulated world, made again from its seed where
    this process did not build it (a world is its seed: what it planted is the same)."""
    from filelock import FileLock

    from simulator.world import World

    base = tmp_path_factory.getbasetemp()
    run_root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # the run's, not one worker's
    cache = run_root / f"demo-warehouse-{DEMO_SEED}-{months}-{scale}-{now.strftime('%Y%m%dT%H%M')}"
    world = None
    with FileLock(f"{cache}.lock"):
        if not (cache / "built").exists():
            shutil.rmtree(cache, ignore_errors=True)  # a build that failed half-way
            world = build_demo_warehouse(cache / "ioc-home", admin_dsn, now, months, scale)
            (cache / "built").touch()
    shutil.copytree(cache / "ioc-home", home, dirs_exist_ok=True)
    return world or World(seed=DEMO_SEED, now=now, months=months, scale=scale)
