"""The embedded runtime: the validation service, the department simulator, `ioc serve` and a real Airflow (`airflow standalone`:
api-server, scheduler, dag-processor, triggerer; LocalExecutor; SQLite metadata under $IOC_HOME) as
background services, each in its own process group with a pid file — so `ioc down` (`make stop`)
stops every process it started, workers included.

The DAGs are created unpaused; each feed DAG's schedule has a past trigger, which Airflow runs at once
(`catchup=False` runs the latest one), so every feed runs on its own within minutes, and the KPI DAG
runs when their assets update.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from pipelines.declarations.loading import catalog
from pipelines.scheduler.environment import airflow_environ, prepare_airflow
from pipelines.settings import paths
from pipelines.validate import service as validation_service
from pipelines.validate.service import socket_path


def token_envs() -> tuple[str, ...]:
    """The environment variables the feeds' API tokens are read from, as the feeds declare them
    (source.auth.bearer_token_env in schemas/feeds/*.yaml), sorted."""
    declared = (getattr(feed.source, "auth", None) for feed in catalog().feeds.values())
    return tuple(sorted({auth.bearer_token_env for auth in declared if auth}))


DEFAULT_PORTS = {
    "simulator": ("IOC_SIM_PORT", 8765),
    "exporter": ("IOC_EXPORTER_PORT", 9108),
    "airflow": ("IOC_AIRFLOW_PORT", 8080),
}


def port(service: str) -> int:
    """The service's loopback port: its IOC_*_PORT variable, or the default."""
    name, default = DEFAULT_PORTS[service]
    return int(os.environ.get(name, default))


PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"


@dataclass(frozen=True)
class Service:
    name: str
    args: list[str]
    health: str  # a URL that answers 200, or the validation service's socket

    def healthy(self) -> bool:
        if self.name == "validation":
            return validation_service.running()
        try:
            return httpx.get(self.health, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False


def run_dir() -> Path:
    return paths().home / "run"


def services() -> list[Service]:
    bin_dir = Path(sys.executable).parent
    return [
        # first: the Airflow workers' loads connect to it as they start
        Service("validation", [str(bin_dir / "ioc"), "validation-service"], str(socket_path())),
        Service(
            "simulator",
            [sys.executable, "-m", "simulator", "--home", str(paths().home), "--port", str(port("simulator"))],
            f"http://127.0.0.1:{port('simulator')}/healthz",
        ),
        Service(
            "exporter",
            [str(bin_dir / "ioc"), "serve", "--port", str(port("exporter"))],
            f"http://127.0.0.1:{port('exporter')}/healthz",
        ),
        Service(
            "airflow",
            [str(bin_dir / "airflow"), "standalone"],
            f"http://127.0.0.1:{port('airflow')}/api/v2/monitor/health",
        ),
    ]


def runtime_environ() -> dict[str, str]:
    """The services' environment: Airflow under $IOC_HOME, the simulator's URL, and the API tokens —
    fresh secrets for this start, shared by the simulator and the tasks through the environment only."""
    env = {**os.environ, **airflow_environ()}
    for name in token_envs():
        env.setdefault(name, secrets.token_urlsafe(24))
    bin_dir = str(Path(sys.executable).parent)
    env.update(
        {
            "PATH": bin_dir + os.pathsep + env.get("PATH", ""),  # standalone starts `airflow` subcommands
            "IOC_SIM_URL": env.get("IOC_SIM_URL", f"http://127.0.0.1:{port('simulator')}"),
            "IOC_AIRFLOW_HEALTH_URL": f"http://127.0.0.1:{port('airflow')}/api/v2/monitor/health",
            "AIRFLOW__API__PORT": str(port("airflow")),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port('airflow')}/execution/",
        }
    )
    return env


def _pid_file(name: str) -> Path:
    return run_dir() / f"{name}.pid"


def running(name: str) -> int | None:
    """The process group of a service this runtime started, if it is still alive."""
    try:
        pgid = int(_pid_file(name).read_text())
        os.killpg(pgid, 0)
        return pgid
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None


def _wait_healthy(service: Service, process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{service.name} stopped at start (exit {process.returncode}); see {log}")
        if service.healthy():
            return
        time.sleep(1)
    raise RuntimeError(f"{service.name} did not answer on {service.health} within {timeout:.0f} s; see {log}")


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


def up(echo=print) -> dict[str, str]:
    """Start every service not yet running; return their URLs."""
    home = paths().home
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    run_dir().mkdir(parents=True, exist_ok=True)
    ensure_postgres()  # the simulator's finance database lives there
    env = runtime_environ()
    with (logs / "airflow-setup.log").open("a") as setup_log:
        prepare_airflow(env, setup_log)
    for service in services():
        if running(service.name):
            echo(f"• {service.name} is already running")
            continue
        log = logs / f"{service.name}.log"
        process = subprocess.Popen(
            service.args,
            env=env,
            stdout=log.open("a"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=str(home),
        )
        _pid_file(service.name).write_text(str(process.pid))
        echo(f"• starting {service.name} (log: {log})")
        _wait_healthy(service, process, log, timeout=180)
    return urls()


def urls() -> dict[str, str]:
    return {
        "operations wall": f"http://127.0.0.1:{port('exporter')}/",
        "wall API": f"http://127.0.0.1:{port('exporter')}/api/summary",
        "Airflow UI": f"http://127.0.0.1:{port('airflow')}/",
        "metrics": f"http://127.0.0.1:{port('exporter')}/metrics",
        "exporter health": f"http://127.0.0.1:{port('exporter')}/healthz",
        "department simulator": f"http://127.0.0.1:{port('simulator')}/healthz",
        "validation service": f"unix:{socket_path()}",
    }


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def down(echo=print, grace: float = 30) -> list[str]:
    """Stop every service this runtime started (the whole process group of each); return their names."""
    stopped = []
    for service in reversed(services()):
        pgid = running(service.name)
        if pgid is None:
            _pid_file(service.name).unlink(missing_ok=True)
            continue
        os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.5)
        if _group_alive(pgid):
            os.killpg(pgid, signal.SIGKILL)
            while _group_alive(pgid):
                time.sleep(0.2)
        _pid_file(service.name).unlink(missing_ok=True)
        stopped.append(service.name)
        echo(f"• stopped {service.name}")
    return stopped


class AirflowClient:
    """Airflow's public REST API (v2), with a token from the credentials standalone generated."""

    def __init__(self):
        self.base = f"http://127.0.0.1:{port('airflow')}"
        self._token = None

    def _headers(self) -> dict:
        if self._token is None:
            users = json.loads((paths().home / "airflow" / PASSWORDS_FILE).read_text())
            user, password = next(iter(users.items()))
            answer = httpx.post(f"{self.base}/auth/token", json={"username": user, "password": password}, timeout=10)
            answer.raise_for_status()
            self._token = answer.json()["access_token"]
        return {"Authorization": f"Bearer {self._token}"}

    def runs(self, dag_id: str) -> list[dict]:
        answer = httpx.get(
            f"{self.base}/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100}, headers=self._headers(), timeout=10
        )
        if answer.status_code == 404:
            return []
        answer.raise_for_status()
        return answer.json()["dag_runs"]


def wait_for_first_runs(feed_dags: list[str], kpi_dag: str, timeout: float, echo=print) -> dict[str, dict]:
    """Wait until every feed DAG has a successful run of its own and the KPI DAG a successful run that
    started after the last of them finished; return each DAG's first successful run."""
    client, deadline, reported = AirflowClient(), time.monotonic() + timeout, set()
    while True:
        firsts = {}
        for dag_id in [*feed_dags, kpi_dag]:
            done = sorted((r for r in client.runs(dag_id) if r["state"] == "success"), key=lambda r: r["end_date"])
            if done:
                firsts[dag_id] = done[0]
                if dag_id not in reported:
                    reported.add(dag_id)
                    echo(f"• {dag_id:<28} first run {done[0]['run_type']} finished {done[0]['end_date']}")
        feeds_done = all(d in firsts for d in feed_dags)
        if feeds_done:
            last_feed = max(firsts[d]["end_date"] for d in feed_dags)
            after = [r for r in client.runs(kpi_dag) if r["state"] == "success" and r["start_date"] >= last_feed]
            if after:
                firsts[kpi_dag] = after[0]
                return firsts
        if time.monotonic() > deadline:
            missing = [d for d in feed_dags if d not in firsts]
            raise TimeoutError(f"after {timeout:.0f} s, still waiting for: {', '.join(missing) or kpi_dag}")
        time.sleep(5)
