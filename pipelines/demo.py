"""`make demo`: the running stack (simulator, exporter, Airflow), its first scheduled runs, and a report."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from pipelines.declarations.loading import catalog
from pipelines.runtime import PASSWORDS_FILE, up, urls, wait_for_first_runs
from pipelines.settings import paths
from pipelines.warehouse import connect, has_clean_table


def run_demo() -> int:
    """Bring the stack up, wait for every feed DAG's first run of its own and the KPI DAG after them,
    then report what landed, who is late, and the KPIs. The stack keeps running: `make stop` ends it."""
    started = time.monotonic()
    home = paths().home
    print(f"IOC demo — state in {home}")
    try:
        up()
    except RuntimeError as exc:  # a service that would not start: its name and its log
        print(f"✗ {exc}; `make stop` stops what did start")
        return 1
    print("• every DAG is unpaused; waiting for each feed DAG's first scheduled run, then the KPI DAG (Airflow assets)")
    feed_dags = [f"feed_{feed_id}" for feed_id in catalog().feeds]
    try:
        wait_for_first_runs(feed_dags, "ioc_kpis", timeout=600)
    except TimeoutError as exc:
        print(f"✗ {exc}; see {home / 'logs'} and the Airflow UI")
        return 1
    report(home)
    ioc = str(Path(sys.executable).with_name("ioc"))
    print("Who is late now (`.venv/bin/ioc late`):", flush=True)
    subprocess.run([ioc, "late"], check=False)
    print("\nKPIs of the province, latest period (`.venv/bin/ioc kpi show`):", flush=True)
    subprocess.run([ioc, "kpi", "show"], check=False)
    print("\nThe stack is running (`make stop` stops all of it):")
    for name, url in urls().items():
        print(f"  {name:<22} {url}")
    print(f"  Airflow login: user admin, password in {home / 'airflow' / PASSWORDS_FILE} (generated, never printed)")
    print(f"\nDemo ready in {time.monotonic() - started:.0f} s.")
    return 0


def report(home: Path) -> None:
    print("\nWhat landed (warehouse " + str(home / "warehouse.duckdb") + "):")
    with connect() as con:
        rows = con.execute("""
            SELECT feed, count(*) AS batches,
                   count(*) FILTER (WHERE status = 'failed') AS failed,
                   sum(rows_received), sum(rows_loaded), sum(rows_quarantined)
            FROM ops.batches GROUP BY feed ORDER BY feed""").fetchall()
        print(
            f"  {'feed':<22}{'batches':>8}{'failed':>8}{'received':>10}{'loaded':>9}{'quarantined':>13}{'clean rows':>12}"
        )
        for feed, n, failed, received, loaded, quarantined in rows:
            clean = (
                con.execute(f'SELECT count(*) FROM clean."{feed}"').fetchall()[0][0]
                if has_clean_table(con, feed)
                else 0
            )
            print(f"  {feed:<22}{n:>8}{failed:>8}{received or 0:>10}{loaded or 0:>9}{quarantined or 0:>13}{clean:>12}")
    print(f"""
Where to look:
  .venv/bin/ioc batches                      latest batches (ops.batches) with status and row counts
  .venv/bin/ioc batches dept_monthly_report  one feed's batches
  .venv/bin/ioc quality                      data quality per feed and per department
  .venv/bin/ioc quarantine dept_monthly_report   quarantined rows with every reason
  .venv/bin/ioc kpi show dossier_on_time_rate     one KPI across units (drill-down), worst first
  .venv/bin/ioc kpi show dossier_on_time_rate -u HP   one unit's trend, period by period
  {home / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"}   Great Expectations Data Docs
  {home / "rejected"}   files that could not be read, each with a .reason.txt
  {home / "archive"}    every file received, as received
  {home / "logs"}       simulator and Airflow logs
  .venv/bin/python -c "import duckdb; print(duckdb.connect('{home / "warehouse.duckdb"}').sql('SELECT * FROM ops.quarantine LIMIT 5'))"
""")
