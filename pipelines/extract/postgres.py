"""PostgreSQL extractor: a table or query read incrementally by a cursor column, in one batch."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from pipelines.declarations.models import Feed, PostgresSource
from pipelines.extract.cursors import highest, read_cursor, save_cursor
from pipelines.extract.errors import SourceError
from pipelines.extract.landing import LandedBatch, checksum_bytes, land, new_batch_id
from pipelines.extract.records import as_text, records_frame
from pipelines.text import MissingEnvironmentVariable, expand_env, mask_url


def _statement(source: PostgresSource, cursor: str | None):
    from psycopg import sql

    if source.table:
        relation = sql.SQL(".").join(sql.Identifier(p) for p in source.table.split("."))
        base = sql.SQL("SELECT * FROM {}").format(relation)
    else:
        base = sql.SQL("SELECT * FROM ({}) AS q").format(sql.SQL(source.query))
    if source.incremental is None:
        return base, {}
    column = sql.Identifier(source.incremental.cursor_field)
    if cursor is None:
        return sql.SQL("{} ORDER BY {}").format(base, column), {}
    return sql.SQL("{} WHERE {} > %(cursor)s ORDER BY {}").format(base, column, column), {"cursor": cursor}


def extract(feed: Feed) -> list[LandedBatch]:
    """Read every row past the cursor into one landed batch, then advance the cursor."""
    import psycopg

    source: PostgresSource = feed.source
    try:
        dsn = expand_env(source.dsn)
    except MissingEnvironmentVariable as exc:
        raise SourceError(f"feed {feed.id}: source.dsn needs {exc}") from None
    shown = mask_url(dsn)
    where = f"{shown} {source.table or 'query'}"
    cursor = None
    if source.incremental:
        cursor = read_cursor(feed.id) or source.incremental.initial
    statement, params = _statement(source, cursor)
    records: list[dict] = []
    try:
        with psycopg.connect(dsn, connect_timeout=int(source.timeout_seconds)) as conn:
            conn.read_only = True
            with conn.cursor(name=f"ioc_{feed.id}") as cur:
                cur.itersize = source.batch_size
                cur.execute(statement, params)
                names = None
                for row in cur:
                    if names is None:
                        names = [d.name for d in cur.description]
                    records.append(dict(zip(names, row)))
    except psycopg.Error as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SourceError(
            f"feed {feed.id}: reading {where} failed: {message}. Check that the database is reachable and the "
            "DSN (from the environment) and table in the feed file are right; the last good data keeps serving."
        ) from None
    canonical = json.dumps([{k: as_text(v) for k, v in r.items()} for r in records], sort_keys=True, ensure_ascii=False)
    batch = LandedBatch(
        batch_id=new_batch_id(), feed=feed.id,
        source_uri=f"{shown}#{source.table or 'query'}" + (f"?{source.incremental.cursor_field}>{cursor}" if cursor else ""),
        checksum=checksum_bytes(canonical.encode()), received_at=datetime.now(timezone.utc),
    )
    land(batch, records_frame(records, list(range(1, len(records) + 1)), [batch.source_uri] * len(records)))
    if source.incremental:
        values = [as_text(r.get(source.incremental.cursor_field)) for r in records]
        new_cursor = highest(values, cursor)
        if new_cursor and new_cursor != cursor:
            save_cursor(feed.id, new_cursor, batch.batch_id)
    return [batch]
