"""What the pulling extractors (HTTP API, database) share: settings expanded from the environment,
the cursor to start from, batches of at most max_batch_rows landed as records arrive, and the cursor
moved on only once the whole read is landed (so a read cut short is read again, never skipped)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

from pipelines.declarations.models import Feed
from pipelines.extract.cursors import cursor_key, highest, read_cursor, save_cursor
from pipelines.extract.errors import SourceError
from pipelines.extract.landing import LandedBatch, land, new_batch_id
from pipelines.extract.records import as_text, records_frame
from pipelines.text import MissingEnvironmentVariable, expand_env


def setting(feed: Feed, key: str, value: str) -> str:
    """A source setting with ${VAR:-default} expanded, or a SourceError naming the missing variable."""
    try:
        return expand_env(value)
    except MissingEnvironmentVariable as exc:
        raise SourceError(f"feed {feed.id}: source.{key} needs {exc}") from None


class Window:
    """A backfill: re-read the records whose cursor value lies in [start, end], leaving the feed's own
    cursor where it is (what is read again loads as new versions or duplicates, never twice)."""

    def __init__(self, start: datetime, end: datetime):
        if end < start:
            raise ValueError(f"the window ends ({end}) before it starts ({start})")
        self.start, self.end = start, end

    def holds(self, value: object) -> bool:
        key = cursor_key(str(value)) if value is not None else None
        return key is not None and key <= self.end


def start_cursor(feed: Feed, window: Window | None = None) -> str | None:
    """Where an incremental read starts: the backfill window's start, else the highest value landed so
    far, or the declared initial one."""
    incremental = getattr(feed.source, "incremental", None)
    if incremental is None:
        return None
    if window is not None:
        return window.start.isoformat()
    return read_cursor(feed.id) or incremental.initial


def canonical_checksum(records: list[dict]) -> str:
    """sha256 of the records' canonical JSON (every value as text, keys sorted), hashed record by record:
    the same digest as of the whole list's JSON, without holding that text, or a copy of every record."""
    digest = hashlib.sha256(b"[")
    for i, record in enumerate(records):
        if i:
            digest.update(b", ")
        digest.update(json.dumps({k: as_text(v) for k, v in record.items()}, sort_keys=True,
                                 ensure_ascii=False).encode())
    digest.update(b"]")
    return digest.hexdigest()


class Pull:
    """Collects one read's records; lands a batch whenever max_batch_rows are waiting, and the rest
    (even none: a read with nothing new is recorded too) when finished."""

    def __init__(self, feed: Feed, source_uri: str, cursor: str | None, window: Window | None = None):
        self.feed, self.source_uri, self.start, self.window = feed, source_uri, cursor, window
        self.incremental = getattr(feed.source, "incremental", None)
        self.limit = feed.source.max_batch_rows
        self.cursor = cursor
        self.records: list[dict] = []
        self.rows: list[int] = []
        self.uris: list[str] = []
        self.batches: list[LandedBatch] = []

    def add(self, records: list[dict], uri: str, first_row: int = 1) -> None:
        rows = range(first_row, first_row + len(records))
        if self.window is not None and self.incremental is not None:  # a backfill keeps only its window
            kept = [(r, n) for r, n in zip(records, rows) if self.window.holds(r.get(self.incremental.cursor_field))]
            records, rows = [r for r, _ in kept], [n for _, n in kept]
        self.records += records
        self.rows += rows
        self.uris += [uri] * len(records)
        if len(self.records) >= self.limit:
            self._land()

    def _land(self) -> None:
        records = self.records
        batch = LandedBatch(batch_id=new_batch_id(), feed=self.feed.id, source_uri=self.source_uri,
                            checksum=canonical_checksum(records), received_at=datetime.now(timezone.utc))
        land(batch, records_frame(records, self.rows, self.uris))
        if self.incremental is not None:
            self.cursor = highest([as_text(r.get(self.incremental.cursor_field)) for r in records], self.cursor)
        self.batches.append(batch)
        self.records, self.rows, self.uris = [], [], []

    def finish(self) -> list[LandedBatch]:
        """Land what is left, then advance the feed's cursor past everything this read landed."""
        if self.records or not self.batches:
            self._land()
        if self.cursor and self.cursor != self.start and self.window is None:
            save_cursor(self.feed.id, self.cursor, self.batches[-1].batch_id)
        return self.batches
