"""Landing zone: each extracted batch is written atomically under $IOC_HOME/landing/<feed>/ and
waits there until the load stage has committed it to the warehouse.

Extraction needs no warehouse lock; only loading does. A batch that is landed is never lost: a
crash before its load leaves it pending, and the next load picks it up.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from pipelines.settings import paths

SOURCE_ROW = "_source_row"
SOURCE_URI = "_source_uri"
RAW = "_raw"
LINEAGE_COLUMNS = (SOURCE_ROW, SOURCE_URI, RAW)


def new_batch_id(now: datetime | None = None) -> str:
    """A sortable, unique batch id such as 20261121T194500123456Z-3fa2c1."""
    now = now or datetime.now(timezone.utc)
    return f"{now.astimezone(timezone.utc):%Y%m%dT%H%M%S%f}Z-{secrets.token_hex(3)}"


def checksum_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class LandedBatch:
    """What one extraction received from one source, before loading."""

    batch_id: str
    feed: str
    source_uri: str
    checksum: str
    received_at: datetime
    status: str = "received"  # received | failed
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    file_name: str | None = None
    header_row: int | None = None  # 1-based row of a file's header
    file_fields: dict[str, str] = field(default_factory=dict)  # what the file name says (source.file_name_pattern)
    rows: int = 0

    @property
    def directory(self) -> Path:
        return paths().landing(self.feed) / self.batch_id

    def to_json(self) -> dict:
        data = asdict(self)
        data["received_at"] = self.received_at.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict) -> LandedBatch:
        data = dict(data)
        data["received_at"] = datetime.fromisoformat(data["received_at"])
        return cls(**data)


def land(batch: LandedBatch, records=None) -> LandedBatch:
    """Write the batch (meta.json and records.parquet) atomically into the landing zone.

    records is a polars DataFrame of string columns named as the source named them, plus the
    lineage columns _source_row, _source_uri and _raw (the record as received, JSON text).
    """
    final = batch.directory
    tmp = final.parent / f".tmp-{batch.batch_id}"
    tmp.mkdir(parents=True, exist_ok=True)
    if records is not None:
        batch.rows = records.height
        records.write_parquet(tmp / "records.parquet")
    (tmp / "meta.json").write_text(json.dumps(batch.to_json(), ensure_ascii=False, indent=1), encoding="utf-8")
    _fsync_dir(tmp)
    os.replace(tmp, final)
    _fsync_dir(final.parent)
    return batch


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def pending(feed: str) -> list[LandedBatch]:
    """Landed batches of a feed not yet loaded, oldest received first."""
    root = paths().landing(feed)
    if not root.exists():
        return []
    batches = []
    for meta in root.glob("*/meta.json"):
        if meta.parent.name.startswith(".tmp-"):
            continue
        batches.append(LandedBatch.from_json(json.loads(meta.read_text(encoding="utf-8"))))
    return sorted(batches, key=lambda b: (b.received_at, b.batch_id))


def read_records(batch: LandedBatch):
    """The batch's records as a polars DataFrame, or None for a batch that received nothing readable."""
    import polars as pl

    file = batch.directory / "records.parquet"
    return pl.read_parquet(file) if file.exists() else None


def discard(batch: LandedBatch) -> None:
    """Remove a batch from the landing zone once the warehouse holds it."""
    shutil.rmtree(batch.directory, ignore_errors=True)
