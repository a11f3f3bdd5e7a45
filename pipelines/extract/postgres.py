"""PostgreSQL extractor: a table or query read incrementally by a cursor column, in one batch."""

from __future__ import annotations

from pipelines.declarations.models import Feed, PostgresSource
from pipelines.extract.errors import SourceError
from pipelines.extract.landing import LandedBatch
from pipelines.extract.pull import land_pull, setting, start_cursor
from pipelines.text import mask_url


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
    dsn = setting(feed, "dsn", source.dsn)
    shown = mask_url(dsn)
    where = f"{shown} {source.table or 'query'}"
    cursor = start_cursor(feed)
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
    source_uri = f"{shown}#{source.table or 'query'}"
    if cursor:
        source_uri += f"?{source.incremental.cursor_field}>{cursor}"
    rows = list(range(1, len(records) + 1))
    return [land_pull(feed, records, rows, [source_uri] * len(records), source_uri, cursor)]
