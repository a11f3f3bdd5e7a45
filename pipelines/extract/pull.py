"""What the pulling extractors (HTTP API, database) share: settings expanded from the environment,
the cursor to start from, and one landed batch after which the cursor moves on."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from pipelines.declarations.models import Feed
from pipelines.extract.cursors import highest, read_cursor, save_cursor
from pipelines.extract.errors import SourceError
from pipelines.extract.landing import LandedBatch, checksum_bytes, land, new_batch_id
from pipelines.extract.records import as_text, records_frame
from pipelines.text import MissingEnvironmentVariable, expand_env


def setting(feed: Feed, key: str, value: str) -> str:
    """A source setting with ${VAR:-default} expanded, or a SourceError naming the missing variable."""
    try:
        return expand_env(value)
    except MissingEnvironmentVariable as exc:
        raise SourceError(f"feed {feed.id}: source.{key} needs {exc}") from None


def start_cursor(feed: Feed) -> str | None:
    """Where an incremental read starts: the highest value landed so far, or the declared initial one."""
    incremental = getattr(feed.source, "incremental", None)
    if incremental is None:
        return None
    return read_cursor(feed.id) or incremental.initial


def land_pull(feed: Feed, records: list[dict], rows: list[int], uris: list[str], source_uri: str,
              cursor: str | None) -> LandedBatch:
    """Land what one read received as one batch, then advance the feed's cursor past it."""
    canonical = json.dumps([{k: as_text(v) for k, v in r.items()} for r in records], sort_keys=True, ensure_ascii=False)
    batch = LandedBatch(batch_id=new_batch_id(), feed=feed.id, source_uri=source_uri,
                        checksum=checksum_bytes(canonical.encode()), received_at=datetime.now(timezone.utc))
    land(batch, records_frame(records, rows, uris))
    incremental = getattr(feed.source, "incremental", None)
    if incremental is not None:
        new_cursor = highest([as_text(r.get(incremental.cursor_field)) for r in records], cursor)
        if new_cursor and new_cursor != cursor:
            save_cursor(feed.id, new_cursor, batch.batch_id)
    return batch
