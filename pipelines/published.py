"""Snapshots of the warehouse published as files, for the readers that must never wait for its writer.

DuckDB lets one process open the warehouse at a time, and a load can hold it for minutes, while
Prometheus scrapes and the wall screen must keep answering. So every writer publishes, at the end of
its work and under the warehouse lock, the metrics state (`metrics/state.json`) and the wall's data
(`serve/wall.json`), each replaced by an atomic rename: a reader sees the previous snapshot or the new
one, both complete, and never a half-written file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def publish(con, catalog) -> None:
    """Publish every snapshot from the open warehouse connection."""
    from pipelines.metrics.state import publish_state
    from pipelines.serve.wall import publish_wall

    publish_state(con, catalog)
    publish_wall(con, catalog)


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
