"""`make demo`: the department simulator, every feed's DAG run by Airflow, and a report of the result."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

from pipelines.airflow_env import airflow_bin, airflow_environ, prepare_airflow
from pipelines.declarations.loading import catalog
from pipelines.settings import paths

TOKEN_ENVS = ("IOC_TTHC_TOKEN", "IOC_HOTLINE_TOKEN", "IOC_SOC_TOKEN", "IOC_AIR_TOKEN")
SIMULATOR_PORT = int(os.environ.get("IOC_SIM_PORT", "8765"))


def ensure_postgres() -> None:
    """Start the machine's PostgreSQL cluster if it is down (the simulator's finance database lives there)."""
    if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"]).returncode == 0:
        return
    clusters = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    if clusters and shutil.which("pg_ctlcluster"):
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", clusters[-1], "main", "start"], check=False)
    for _ in range(30):
        if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"]).returncode == 0:
            return
        time.sleep(1)
    raise SystemExit("PostgreSQL is not answering on 127.0.0.1:5432; start it and run `make demo` again")


def start_simulator(log_file: Path) -> subprocess.Popen:
    log = log_file.open("a")
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--home", str(paths().home), "--port", str(SIMULATOR_PORT)],
        stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy(), start_new_session=True,
    )
    url = f"http://127.0.0.1:{SIMULATOR_PORT}/healthz"
    for _ in range(120):
        if process.poll() is not None:
            raise SystemExit(f"the simulator stopped at start; see {log_file}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    process.terminate()
    raise SystemExit(f"the simulator did not answer on {url}; see {log_file}")


def run_demo() -> int:
    started = time.monotonic()
    home = paths().home
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for name in TOKEN_ENVS:  # fresh secrets for this run, shared by the simulator and Airflow's tasks
        os.environ.setdefault(name, secrets.token_urlsafe(24))
    os.environ.setdefault("IOC_SIM_URL", f"http://127.0.0.1:{SIMULATOR_PORT}")
    print(f"IOC demo — state in {home}")
    ensure_postgres()
    print(f"• starting the department simulator on http://127.0.0.1:{SIMULATOR_PORT} (log: {logs / 'simulator.log'})")
    simulator = start_simulator(logs / "simulator.log")
    results = {}
    try:
        env = {**os.environ, **airflow_environ(home)}
        with (logs / "airflow-setup.log").open("a") as log:
            print("• preparing Airflow (metadata database, duckdb_writer pool)")
            prepare_airflow(env, log)
        for dag_id in [f"feed_{feed_id}" for feed_id in catalog().feeds] + ["ioc_deadlines", "ioc_kpis"]:
            t0 = time.monotonic()
            with (logs / f"dags-test-{dag_id}.log").open("w") as log:
                rc = subprocess.run([airflow_bin(), "dags", "test", dag_id], env=env, stdout=log,
                                    stderr=subprocess.STDOUT).returncode
            results[dag_id] = rc
            state = "success" if rc == 0 else f"FAILED (see {logs / f'dags-test-{dag_id}.log'})"
            print(f"• airflow dags test {dag_id:<26} {state}  {time.monotonic() - t0:5.1f} s")
    finally:
        os.killpg(simulator.pid, 15)
        simulator.wait(timeout=30)
    report(home)
    ioc = str(Path(sys.executable).with_name("ioc"))
    print("Who is late now (`.venv/bin/ioc late`):", flush=True)
    subprocess.run([ioc, "late"], check=False)
    print("\nKPIs of the province, latest period (`.venv/bin/ioc kpi show`):", flush=True)
    subprocess.run([ioc, "kpi", "show"], check=False)
    print(f"\nDemo finished in {time.monotonic() - started:.0f} s.")
    return 0 if all(rc == 0 for rc in results.values()) else 1


def report(home: Path) -> None:
    from pipelines.load.warehouse import connect, has_clean_table

    print("\nWhat landed (warehouse " + str(home / "warehouse.duckdb") + "):")
    with connect() as con:
        rows = con.execute("""
            SELECT feed, count(*) AS batches,
                   count(*) FILTER (WHERE status = 'failed') AS failed,
                   sum(rows_received), sum(rows_loaded), sum(rows_quarantined)
            FROM ops.batches GROUP BY feed ORDER BY feed""").fetchall()
        print(f"  {'feed':<22}{'batches':>8}{'failed':>8}{'received':>10}{'loaded':>9}{'quarantined':>13}{'clean rows':>12}")
        for feed, n, failed, received, loaded, quarantined in rows:
            clean = con.execute(f'SELECT count(*) FROM clean."{feed}"').fetchall()[0][0] \
                if has_clean_table(con, feed) else 0
            print(f"  {feed:<22}{n:>8}{failed:>8}{received or 0:>10}{loaded or 0:>9}{quarantined or 0:>13}{clean:>12}")
    print(f"""
Where to look:
  .venv/bin/ioc batches                      latest batches (ops.batches) with status and row counts
  .venv/bin/ioc batches dept_monthly_report  one feed's batches
  .venv/bin/ioc quality                      data quality per feed and per department
  .venv/bin/ioc quarantine dept_monthly_report   quarantined rows with every reason
  .venv/bin/ioc kpi show dossier_on_time_rate     one KPI across units (drill-down), worst first
  .venv/bin/ioc kpi show dossier_on_time_rate -u HP   one unit's trend, period by period
  {home / 'gx' / 'uncommitted' / 'data_docs' / 'local_site' / 'index.html'}   Great Expectations Data Docs
  {home / 'rejected'}   files that could not be read, each with a .reason.txt
  {home / 'archive'}    every file received, as received
  {home / 'logs'}       simulator and Airflow logs
  .venv/bin/python -c "import duckdb; print(duckdb.connect('{home / 'warehouse.duckdb'}').sql('SELECT * FROM ops.quarantine LIMIT 5'))"
""")
