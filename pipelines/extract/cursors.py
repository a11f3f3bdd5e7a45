"""Incremental cursors: the highest cursor value landed per feed, kept under $IOC_HOME/state."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

from pipelines.settings import paths


def read_cursor(feed: str) -> str | None:
    file = paths().cursor(feed)
    if not file.exists():
        return None
    return json.loads(file.read_text(encoding="utf-8"))["value"]


def save_cursor(feed: str, value: str, batch_id: str) -> None:
    """Advance the cursor; called only after the batch holding these records is landed."""
    file = paths().cursor(feed)
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(".tmp")
    state = {"value": value, "batch_id": batch_id, "saved_at": datetime.now(UTC).isoformat()}
    tmp.write_text(json.dumps(state), encoding="utf-8")
    os.replace(tmp, file)


def reset_cursor(feed: str) -> None:
    paths().cursor(feed).unlink(missing_ok=True)


def highest(values: list[object], current: str | None) -> str | None:
    """The highest of the current cursor and the received values, compared as timestamps when they
    parse as ISO 8601, else as text. Values that are not valid are ignored."""
    best, best_key = current, cursor_key(current) if current is not None else None
    for value in values:
        if value is None:
            continue
        key = cursor_key(str(value))
        if key is None:
            continue
        if best_key is None or key > best_key:
            best, best_key = str(value), key
    return best


def cursor_key(value: str) -> datetime | None:
    """A cursor value as a comparable UTC instant (naive values taken as UTC); None if not ISO 8601."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # naive values only compare with each other
    return moment.astimezone(UTC)


def earlier(value: str, seconds: float) -> str:
    """A cursor value `seconds` before `value` (an ISO 8601 moment, written in UTC; an integer, less that
    many units): where a read starts again to take what was committed late, or a tie at a page's end."""
    moment = cursor_key(value)
    if moment is not None:
        return (moment - timedelta(seconds=seconds)).isoformat()
    try:
        return str(int(value) - max(1, round(seconds)))
    except ValueError:
        raise ValueError(f"cursor value {value!r} is neither an ISO 8601 moment nor an integer") from None


def _mark_file(feed: str, kind: str):
    return paths().cursor(feed).with_name(f"{feed}.{kind}.json")


def read_mark(feed: str, kind: str) -> dict | None:
    """A feed's other bookmark (kind: snapshot, when the source was last read whole; tombstones, the last
    deletion time the source listed)."""
    file = _mark_file(feed, kind)
    return json.loads(file.read_text(encoding="utf-8")) if file.exists() else None


def save_mark(feed: str, kind: str, state: dict) -> None:
    file = _mark_file(feed, kind)
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(".tmp")
    tmp.write_text(json.dumps(state), encoding="utf-8")
    os.replace(tmp, file)


def last_snapshot(feed: str) -> datetime | None:
    """When the feed's source was last read whole (a snapshot, to find what it withdrew)."""
    mark = read_mark(feed, "snapshot")
    return datetime.fromisoformat(mark["at"]) if mark else None


def save_snapshot(feed: str, at: datetime, batch_id: str) -> None:
    save_mark(feed, "snapshot", {"at": at.isoformat(), "batch_id": batch_id})
