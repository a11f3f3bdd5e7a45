"""What the pulling extractors (HTTP API, database) share: settings expanded from the environment,
the cursor to start from, batches of at most max_batch_rows landed as records arrive, and the cursor
moved on only once the whole read is landed (so a read cut short is read again, never skipped)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from zoneinfo import ZoneInfo

from pipelines.declarations.base import duration_seconds
from pipelines.declarations.models import Feed
from pipelines.extract.cursors import (
    cursor_key,
    earlier,
    highest,
    last_snapshot,
    read_cursor,
    read_mark,
    save_cursor,
    save_mark,
    save_snapshot,
)
from pipelines.extract.errors import SourceError
from pipelines.extract.landing import LandedBatch, land, new_batch_id, write_meta
from pipelines.extract.records import as_text, records_frame
from pipelines.text import MissingEnvironmentVariable, expand_env


def setting(feed: Feed, key: str, value: str) -> str:
    """A source setting with ${VAR:-default} expanded, or a SourceError naming the missing variable."""
    try:
        return expand_env(value)
    except MissingEnvironmentVariable as exc:
        raise SourceError(f"feed {feed.id}: source.{key} needs {exc}") from None


TIE_STEP_SECONDS = 1e-6  # reads ask from just before a value (sources answer what came after it): it comes too


class Window:
    """A backfill: re-read the records whose cursor value lies in [start, end], leaving the feed's own
    cursor where it is (what is read again loads as new versions or duplicates, never twice)."""

    def __init__(self, start: datetime, end: datetime):
        if end < start:
            raise ValueError(f"the window ends ({end}) before it starts ({start})")
        self.start, self.end = start, end

    def split(self, parts: int) -> list[Window]:
        """The window cut into `parts` windows of equal time, end to end (each ends just before the next starts)."""
        if parts < 1:
            raise ValueError(f"a window splits into 1 part or more, not {parts}")
        step = (self.end - self.start) / parts
        starts = [self.start + step * i for i in range(parts)]
        return [Window(s, e - timedelta(microseconds=1)) for s, e in zip(starts, starts[1:], strict=False)] + [
            Window(starts[-1], self.end)
        ]

    def holds(self, value: object) -> bool:
        key = cursor_key(str(value)) if value is not None else None
        return key is not None and self.start <= key <= self.end


def whole_days(start: str, end: str, zone: str) -> Window:
    """The window from `start` to `end` inclusive, each an ISO date (the end's whole day) or instant, in the time
    zone `zone` unless it says its offset."""

    def instant(text: str, is_end: bool) -> datetime:
        try:
            if len(text) == 10:
                day = datetime.fromisoformat(text).date()
                return datetime.combine(day + timedelta(days=1) if is_end else day, clock(), ZoneInfo(zone)) - (
                    timedelta(microseconds=1) if is_end else timedelta()
                )
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a date (2026-10-01) or an instant (2026-10-01T08:00:00+07:00)") from None
        return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(zone))

    return Window(instant(start, False), instant(end, True))


def start_cursor(feed: Feed, window: Window | None = None) -> str | None:
    """Where an incremental read starts: the backfill window's start, else the highest value landed so
    far less the declared lookback, or the declared initial one."""
    incremental = getattr(feed.source, "incremental", None)
    if incremental is None:
        return None
    if window is not None:  # sources answer what came after the value asked: the window's start is asked too
        return earlier(window.start.isoformat(), TIE_STEP_SECONDS)
    saved = read_cursor(feed.id)
    if saved is not None and incremental.lookback:
        return earlier(saved, duration_seconds(incremental.lookback))
    return saved or incremental.initial


def snapshot_due(feed: Feed, window: Window | None = None) -> bool:
    """Whether this pull reads the whole source: the feed learns withdrawals by snapshot and the last one is
    older than declared (or there was none). A backfill never is one."""
    withdrawals = feed.withdrawals
    if window is not None or withdrawals is None or withdrawals.kind != "snapshot":
        return False
    last = last_snapshot(feed.id)
    return last is None or (datetime.now(UTC) - last).total_seconds() >= duration_seconds(withdrawals.every)


def tombstones_after(feed: Feed) -> str | None:
    """The last deletion time the feed's source listed (its tombstones are read from there)."""
    mark = read_mark(feed.id, "tombstones")
    return mark["after"] if mark else None


def tombstone(feed: Feed, record: dict, at_field: str, where: str) -> list[str]:
    """[record key as ops tables keep it (warehouse.tables.record_key_sql: key fields joined by '|'), deleted at]
    of a tombstone record."""
    missing = [f for f in feed.load.key + [at_field] if record.get(f) is None]
    if missing:
        raise SourceError(
            f"feed {feed.id}: {where} listed a deleted record without {', '.join(missing)}: "
            f"{json.dumps(record, default=str, ensure_ascii=False)[:200]}; check withdrawals in "
            "the feed file against the source"
        )
    # (as_text is None only for None, which no field here is: `or ""` never applies)
    return ["|".join(as_text(record[k]) or "" for k in feed.load.key), as_text(record[at_field]) or ""]


def record_identity(feed: Feed, record: dict, version: bool = True) -> int:
    """What makes a received record the same record received again: its key and version (its key alone
    with version=False; the whole record where the key is missing), as a hash."""
    fields = feed.load.key + ([feed.load.version] if feed.load.version and version else [])
    if all(f in record for f in fields):
        return hash(tuple(as_text(record[f]) for f in fields))
    return hash(json.dumps({k: as_text(v) for k, v in record.items()}, sort_keys=True))


class CanonicalDigest:
    """sha256 of records' canonical JSON (every value as text, keys sorted), fed record by record: the same
    digest as of the whole list's JSON, without holding that text, or the records."""

    def __init__(self) -> None:
        self.digest, self.count = hashlib.sha256(b"["), 0

    def add(self, records) -> CanonicalDigest:
        for record in records:
            if self.count:
                self.digest.update(b", ")
            self.digest.update(
                json.dumps({k: as_text(v) for k, v in record.items()}, sort_keys=True, ensure_ascii=False).encode()
            )
            self.count += 1
        return self

    def hexdigest(self) -> str:
        final = self.digest.copy()
        final.update(b"]")
        return final.hexdigest()


def canonical_checksum(records: list[dict]) -> str:
    return CanonicalDigest().add(records).hexdigest()


class Pull:
    """Collects one read's records; lands a batch whenever max_batch_rows are waiting, and the rest
    (even none: a read with nothing new is recorded too) when finished. A record received again within
    the read (the same key and version: a page read twice, an overlap) is kept once, and counted."""

    def __init__(
        self, feed: Feed, source_uri: str, start: str | None, window: Window | None = None, snapshot: bool = False
    ):
        self.feed, self.source_uri, self.start, self.window = feed, source_uri, start, window
        self.snapshot = new_batch_id() if snapshot else None  # a whole read: its batches carry its id
        self.source_count: int | None = None  # what the source says it holds (reconcile), set by the extractor
        self.tombstones: list[list[str]] = []  # [record key, deleted at] the source listed, set by the extractor
        self.incremental = getattr(feed.source, "incremental", None)
        self.limit = feed.source.max_batch_rows
        # The cursor never moves back: a read that starts before it (a lookback) saves it only if it goes past it.
        self.saved = read_cursor(feed.id) if self.incremental is not None and window is None else None
        self.cursor = highest([start] if start else [], self.saved)
        # What waits to be landed: each page's records already as a columnar frame (never a million dicts).
        self.frames: list = []
        self.digest = CanonicalDigest()
        self.batches: list[LandedBatch] = []
        self.seen: set[int] = set()
        self.repeated = 0  # records received again within this read (an overlap, a page read again), kept once
        self.warnings: list[str] = []
        self.hold_cursor = False  # the read may have missed records: the next one starts where this one did

    def add(self, records: list[dict], uri: str, first_row: int = 1) -> None:
        """Take a page's records (first_row: the first one's row in the answer)."""
        rows = range(first_row, first_row + len(records))
        fresh = []
        for record, row in zip(records, rows, strict=False):
            identity = record_identity(self.feed, record)
            if identity in self.seen:
                self.repeated += 1
                continue
            self.seen.add(identity)
            fresh.append((record, row))
        if self.window is not None and self.incremental is not None:  # a backfill keeps only its window
            fresh = [(r, n) for r, n in fresh if self.window.holds(r.get(self.incremental.cursor_field))]
        if fresh:
            kept = [r for r, _ in fresh]
            self.frames.append(records_frame(kept, [n for _, n in fresh], [uri] * len(fresh)))
            self.digest.add(kept)
            if self.incremental is not None:
                self.cursor = highest([as_text(r.get(self.incremental.cursor_field)) for r in kept], self.cursor)
        if self.digest.count >= self.limit:
            self._land()

    def remember_only(self, records: list[dict]) -> None:
        """Forget what was received except these records (a keyset read can only receive again the records
        tied on its boundary value; memory then stays bounded by the ties)."""
        self.seen = {record_identity(self.feed, r) for r in records}

    def _land(self) -> None:
        import polars as pl  # lazy: polars (0.3 s and more) only when rows are read: the module imports light

        batch = LandedBatch(
            batch_id=new_batch_id(),
            feed=self.feed.id,
            source_uri=self.source_uri,
            checksum=self.digest.hexdigest(),
            received_at=datetime.now(UTC),
            snapshot=self.snapshot,
        )
        land(batch, pl.concat(self.frames, how="diagonal_relaxed") if self.frames else records_frame([], [], []))
        self.batches.append(batch)
        self.frames, self.digest = [], CanonicalDigest()

    def finish(self) -> list[LandedBatch]:
        """Land what is left, then advance the feed's cursor past everything this read landed (unless the read
        may have missed records: then the next read starts where this one did)."""
        if self.digest.count or not self.batches:
            self._land()
        last = self.batches[-1]  # the read's warnings, its count and the end of its snapshot go with its last batch
        last.warnings += self.warnings
        last.source_count = self.source_count
        last.tombstones = self.tombstones
        last.snapshot_complete = self.snapshot is not None and not self.hold_cursor
        write_meta(last)
        if last.snapshot_complete:
            assert self.snapshot is not None  # a complete snapshot has its id
            save_snapshot(self.feed.id, self.batches[0].received_at, self.snapshot)
        if self.tombstones:
            save_mark(
                self.feed.id,
                "tombstones",
                {"after": highest([at for _, at in self.tombstones], tombstones_after(self.feed))},
            )
        if self.window is None and self.cursor and self.cursor != (self.saved or self.start) and not self.hold_cursor:
            save_cursor(self.feed.id, self.cursor, self.batches[-1].batch_id)
        return self.batches
