"""Where the snapshots live under $IOC_HOME, and how they are written and read: each file replaced by an
atomic rename, so a reader sees the previous snapshot or the new one, both complete, never a half-written
file. Instants in the wall's snapshot are ISO 8601 in UTC (iso, seconds_since)."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime
from pathlib import Path

from pipelines.settings import paths


def state_file() -> Path:
    """The metrics state the exporter serves at each scrape."""
    return paths().home / "metrics" / "state.json"


def wall_file() -> Path:
    """The wall's data, served by /api/."""
    return paths().home / "serve" / "wall.json"


def read_state() -> dict | None:
    return read_json(state_file())


def read_wall() -> dict | None:
    return read_json(wall_file())


def write_json_atomically(target: Path, data: dict) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data, ensure_ascii=False, default=str, separators=(",", ":")), encoding="utf-8")
    os.replace(temporary, target)
    return target


def read_json(source: Path) -> dict | None:
    try:
        return json.loads(source.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def iso(value) -> str | None:
    """An instant as ISO 8601 UTC ('Z'), a day as an ISO date; None stays None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def seconds_since(text: str | None) -> float | None:
    """Seconds from an instant written by iso() until now."""
    if text is None:
        return None
    then = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return datetime.now(UTC).timestamp() - then.timestamp()
