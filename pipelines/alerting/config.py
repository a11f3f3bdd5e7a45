"""The Prometheus and Alertmanager configuration files, written from the templates in alerts/ with
their ${VAR:-default} placeholders filled from the environment (receivers' addresses and secrets live
in the environment, never in the repository)."""

from __future__ import annotations

from pathlib import Path

from pipelines.settings import REPO_ROOT
from pipelines.text import expand_env

TEMPLATES = {
    "alertmanager": REPO_ROOT / "alerts" / "alertmanager.yml",
    "prometheus": REPO_ROOT / "alerts" / "prometheus.yml",
}


def render(name: str) -> str:
    """The named template with the environment's values."""
    return expand_env(TEMPLATES[name].read_text(encoding="utf-8"))


def write(name: str, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(name), encoding="utf-8")
    return target
