"""PostgreSQL extractor: a table or query read incrementally by a cursor column, in one batch."""

from __future__ import annotations

from pipelines.declarations.models import Feed, PostgresSource, TombstoneWithdrawal
from pipelines.extract.errors import SourceError
from pipelines.extract.landing import LandedBatch
from pipelines.extract.pull import Pull, Window, setting, snapshot_due, start_cursor, tombstone, tombstones_after
from pipelines.text import mask_url


def _statement(source: PostgresSource, cursor: str | None):
    from psycopg import sql  # lazy: psycopg only where PostgreSQL is asked

    if source.table:
        relation = sql.SQL(".").join(sql.Identifier(p) for p in source.table.split("."))
        base = sql.SQL("SELECT * FROM {}").format(relation)
    else:
        assert source.query is not None  # the declaration's check: a table or a query
        base = sql.SQL("SELECT * FROM ({}) AS q").format(sql.SQL(source.query))
    if source.incremental is None:
        return base, {}
    column = sql.Identifier(source.incremental.cursor_field)
    if cursor is None:
        return sql.SQL("{} ORDER BY {}").format(base, column), {}
    return sql.SQL("{} WHERE {} > %(cursor)s ORDER BY {}").format(base, column, column), {"cursor": cursor}


def _count_statement(source: PostgresSource):
    """How many rows the table (or query) holds: what the warehouse should hold for the feed."""
    from psycopg import sql  # lazy: psycopg only where PostgreSQL is asked

    base = _statement(source.model_copy(update={"incremental": None}), None)[0]
    return sql.SQL("SELECT count(*) FROM ({}) AS counted").format(base)


def _tombstones(conn, feed: Feed) -> list[list[str]]:
    """The rows the declared query lists as deleted since the last deletion time it listed."""
    from psycopg.rows import dict_row  # lazy: psycopg only where PostgreSQL is asked

    declared = feed.withdrawals
    assert isinstance(declared, TombstoneWithdrawal)  # read for a feed whose withdrawals are tombstones
    after = tombstones_after(feed) or "-infinity"
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(declared.query, {"after": after})
        return [tombstone(feed, r, declared.at_field, "the withdrawals query") for r in cur.fetchall()]


def extract(feed: Feed, window: Window | None = None) -> list[LandedBatch]:
    """Read every row past the cursor into landed batches, then advance the cursor."""
    import psycopg  # lazy: psycopg only where PostgreSQL is asked

    source = feed.source_as(PostgresSource)
    dsn = setting(feed, "dsn", source.dsn)
    shown = mask_url(dsn)
    snapshot = snapshot_due(feed, window)  # a whole read, to find the rows deleted since
    cursor = None if snapshot else start_cursor(feed, window)
    statement, params = _statement(source, cursor)
    source_uri = f"{shown}#{source.table or 'query'}"
    if cursor:
        assert source.incremental is not None  # a cursor is an incremental read's
        source_uri += f"?{source.incremental.cursor_field}>{cursor}"
    pull = Pull(feed, source_uri, cursor, window, snapshot=snapshot)
    try:
        with psycopg.connect(dsn, connect_timeout=int(source.timeout_seconds)) as conn:
            conn.read_only = True
            with conn.cursor(name=f"ioc_{feed.id}") as cur:
                cur.execute(statement, params)
                read = 0
                while rows := cur.fetchmany(source.batch_size):
                    assert cur.description is not None  # a query's rows come with their columns
                    names = [d.name for d in cur.description]
                    pull.add([dict(zip(names, row, strict=False)) for row in rows], source_uri, first_row=read + 1)
                    read += len(rows)
            if feed.reconcile is not None and feed.reconcile.by == "count":
                counted = conn.execute(_count_statement(source)).fetchone()
                assert counted is not None  # count(*) answers one row
                pull.source_count = counted[0]
            if feed.withdrawals is not None and feed.withdrawals.kind == "tombstones":
                pull.tombstones = _tombstones(conn, feed)
    except psycopg.Error as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SourceError(
            f"feed {feed.id}: reading {shown} {source.table or 'query'} failed: {message}. Check that the database "
            "is reachable and the DSN (from the environment) and table in the feed file are right; the last good "
            "data keeps serving."
        ) from None
    return pull.finish()
