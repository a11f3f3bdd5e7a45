"""The monitoring stack for tests, all real and on loopback: `ioc serve`, Prometheus and Alertmanager
(the Debian packages `make` installs), and a webhook receiver that records every notification.

Configurations are the project's own templates (alerts/prometheus.yml, alerts/alertmanager.yml)
rendered with the test's addresses; only timings are shortened (seconds instead of minutes) and the
office-hours window is lifted, so a test does not wait for business hours.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import yaml

from pipelines.alerting.config import render
from pipelines.settings import REPO_ROOT
from tests.conftest import VENV_BIN


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout: float = 60, interval: float = 0.25, what: str = "condition"):
    """Poll check() until it returns something truthy; return that, or fail naming what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class Process:
    """A server process with its log; ready when its URL answers 200."""

    def __init__(self, name: str, args: list[str], log: Path, ready_url: str, env: dict | None = None):
        self.name, self.log, self.url = name, log, ready_url
        self.popen = subprocess.Popen(args, stdout=log.open("w"), stderr=subprocess.STDOUT,
                                      env={**os.environ, **(env or {})}, start_new_session=True)

        def ready():
            if self.popen.poll() is not None:
                raise AssertionError(f"{name} exited with {self.popen.returncode}:\n{log.read_text()[-3000:]}")
            try:
                return httpx.get(ready_url, timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, timeout=60, what=f"{name} at {ready_url}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def start_exporter(home: Path, tmp: Path) -> tuple[Process, str]:
    port = free_port()
    env = {"IOC_HOME": str(home), "IOC_AIRFLOW_HEALTH_URL": f"http://127.0.0.1:{free_port()}/health"}
    process = Process("ioc serve", [str(VENV_BIN / "ioc"), "serve", "--port", str(port)], tmp / "exporter.log",
                      f"http://127.0.0.1:{port}/healthz", env)
    return process, f"127.0.0.1:{port}"


class Webhook:
    """Records every Alertmanager notification: (path, alerts) with their labels and status."""

    def __init__(self):
        self.notifications: list[tuple[str, dict]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                hook.notifications.append((self.path, body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def alerts(self, path: str | None = None) -> list[dict]:
        """Every alert notified (each with its notification's receiver path), in order."""
        return [{**alert, "path": p} for p, body in list(self.notifications) if path in (None, p)
                for alert in body["alerts"]]

    def stop(self) -> None:
        self.server.shutdown()


def _render(template: str, env: dict) -> dict:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return yaml.safe_load(render(template))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def start_alertmanager(tmp: Path, webhook: Webhook) -> tuple[Process, str]:
    env = {name: f"{webhook.url}/{path}" for name, path in [
        ("IOC_ALERT_WEBHOOK_URL", "alerts"), ("IOC_ONCALL_WEBHOOK_URL", "oncall"),
        ("IOC_DATA_ENGINEERING_WEBHOOK_URL", "data-engineering"), ("IOC_SOC_WEBHOOK_URL", "soc"),
        ("IOC_DEPARTMENTS_WEBHOOK_URL", "departments")]}
    config = _render("alertmanager", env)

    def quick(route: dict) -> None:
        for key in ("group_wait", "group_interval"):
            if key in route or route is config["route"]:
                route[key] = "1s"
        route.pop("active_time_intervals", None)
        for child in route.get("routes", []):
            quick(child)

    quick(config["route"])
    for receiver in config["receivers"]:
        receiver.pop("email_configs", None)  # no SMTP server in tests
    return _serve("alertmanager", config, tmp, lambda file, port: [
        "prometheus-alertmanager", f"--config.file={file}", f"--storage.path={tmp / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="])


def start_prometheus(tmp: Path, exporter: str, alertmanager: str) -> tuple[Process, str]:
    config = _render("prometheus", {"IOC_EXPORTER_ADDRESS": exporter, "IOC_ALERTMANAGER_ADDRESS": alertmanager,
                                    "IOC_RULES_DIR": str(REPO_ROOT / "alerts" / "rules")})
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    return _serve("prometheus", config, tmp, lambda file, port: [
        "prometheus", f"--config.file={file}", f"--storage.tsdb.path={tmp / 'prom-data'}",
        f"--web.listen-address=127.0.0.1:{port}", "--rules.alert.resend-delay=1s"])


def _serve(name: str, config: dict, tmp: Path, command) -> tuple[Process, str]:
    """Write the configuration, start the server on a free port, wait until it is ready."""
    file = tmp / f"{name}.yml"
    file.write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    process = Process(name, command(file, port), tmp / f"{name}.log", f"http://127.0.0.1:{port}/-/ready")
    return process, f"127.0.0.1:{port}"
