"""The PostgreSQL extractor against the simulator's finance database on the machine's real PostgreSQL."""

from __future__ import annotations

from pipelines.extract.cursors import read_cursor
from pipelines.ingest import ingest_feed
from simulator.finance_db import fill_finance_db

FEED = "public_investment"


def test_incremental_read_brings_only_changed_rows(finance_db, world, postgres, query):
    (first,), error = ingest_feed(FEED)
    assert error is None
    assert (first.status, first.rows_received, first.rows_loaded) == ("loaded", len(world.investment_rows),
                                                                      len(world.investment_rows))
    cursor = read_cursor(FEED)
    before = {(r["project_code"], r["period"]): r["updated_at"] for r in world.investment_rows}

    world.advance(hours=24 * 12)
    fill_finance_db(world, admin_dsn=postgres, dbname=finance_db)
    after = {(r["project_code"], r["period"]): r["updated_at"] for r in world.investment_rows}
    changed = {k for k, v in after.items() if before.get(k) != v}
    (second,), _ = ingest_feed(FEED)

    assert changed and second.rows_received == len(changed)
    assert read_cursor(FEED) > cursor
    assert query("SELECT count(*), count(DISTINCT (project_code, period)) FROM clean.public_investment") == [
        (len(after), len(after))]
    road = query("SELECT project_name, plan_vnd FROM clean.public_investment WHERE project_name LIKE '%Đông%Tây%' LIMIT 1")
    assert road and road[0][1] > 100_000_000_000


def test_unreachable_database_is_a_clear_error_without_the_password(monkeypatch, query):
    monkeypatch.setenv("IOC_FINANCE_DSN", "postgresql://reader:s3cret-pw@127.0.0.1:1/finance")

    summaries, error = ingest_feed(FEED)

    assert error is not None and f"feed {FEED}" in str(error) and "127.0.0.1:1" in str(error)
    assert "s3cret-pw" not in str(error) and "***" in str(error)
    assert query("SELECT status, error LIKE '%s3cret%' FROM ops.batches") == [("failed", False)]
