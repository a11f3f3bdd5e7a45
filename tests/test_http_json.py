"""The HTTP JSON extractor against the simulator's real HTTP APIs: pagination, auth, retries,
incremental cursor, versions, idempotent re-runs, and planted bad records."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from pipelines.declarations.loading import catalog
from pipelines.extract import http_json
from pipelines.extract.cursors import cursor_key, read_cursor, reset_cursor
from pipelines.extract.errors import SourceError
from pipelines.ingest import ingest_feed, load_feed


def feed_with(feed_id: str, **source_changes):
    """The declared feed with some source settings changed (e.g. a smaller page size)."""
    feed = catalog().feed(feed_id)
    source = feed.source
    if "page_size" in source_changes:
        pagination = source.pagination.model_copy(update={"page_size": source_changes.pop("page_size")})
        source_changes["pagination"] = pagination
    if "keyset" in source_changes:
        source_changes["incremental"] = source.incremental.model_copy(update={"keyset": source_changes.pop("keyset")})
    return feed.model_copy(update={"source": source.model_copy(update=source_changes)})


def api_requests(simulator, path: str) -> list[tuple[str, int]]:
    return [(target, status) for method, target, status in simulator.request_log if target.startswith(path)]


def test_page_number_pagination_lands_every_record_once(simulator, world, query):
    http_json.extract(feed_with("tthc_dossiers", page_size=50, keyset=False))
    load_feed("tthc_dossiers")

    pages = [p for p in api_requests(simulator, "/api/tthc/dossiers") if "page_size=50" in p[0]]  # not the count
    assert len(pages) == len(world.dossiers) // 50 + 1
    assert query("SELECT count(*), count(DISTINCT record->>'dossier_id') FROM raw.tthc_dossiers") == [
        (len(world.dossiers), len(world.dossiers))]
    rows = query("SELECT DISTINCT source_uri FROM raw.tthc_dossiers")
    assert len(rows) == len(pages) - (1 if len(world.dossiers) % 50 == 0 else 0)


def test_next_link_pagination_follows_links_to_the_end(simulator, world, query):
    http_json.extract(feed_with("citizen_feedback", page_size=40))
    load_feed("citizen_feedback")

    pages = api_requests(simulator, "/api/hotline/tickets")
    assert len(pages) == -(-len(world.tickets) // 40)
    assert query("SELECT count(*) FROM raw.citizen_feedback") == [(len(world.tickets),)]


def test_planted_bad_records_are_quarantined_with_reasons(simulator, world, query):
    summaries, error = ingest_feed("tthc_dossiers")

    assert error is None
    (summary,) = summaries
    planted = world.planted["tthc_dossiers"]
    bad = set(planted["unknown_agency"]) | set(planted["non_integer_fee"])
    assert summary.rows_quarantined == len(bad)
    assert summary.rows_received == summary.rows_loaded + summary.rows_quarantined == len(world.dossiers)
    quarantined = dict(query("SELECT record->>'dossier_id', reasons[1].check_name FROM ops.quarantine"))
    assert set(quarantined) == bad
    assert {quarantined[i] for i in planted["unknown_agency"]} == {"unit_code_is_active"}
    assert {quarantined[i] for i in planted["non_integer_fee"]} == {"value_has_contract_type"}
    assert query("SELECT count(*) FROM clean.tthc_dossiers") == [(len(world.dossiers) - len(bad),)]


def test_wrong_token_is_an_error_naming_the_variable_and_recorded(simulator, query, monkeypatch):
    # The simulator checks IOC_TTHC_TOKEN; this client sends another variable's (wrong) value.
    monkeypatch.setenv("IOC_OLD_TTHC_TOKEN", "not-the-token")
    feed = feed_with("tthc_dossiers", auth=catalog().feed("tthc_dossiers").source.auth.model_copy(
        update={"bearer_token_env": "IOC_OLD_TTHC_TOKEN"}))
    monkeypatch.setitem(catalog().feeds, "tthc_dossiers", feed)

    summaries, error = ingest_feed("tthc_dossiers")

    assert isinstance(error, SourceError)
    assert "tthc_dossiers" in str(error) and "HTTP 401" in str(error) and "IOC_OLD_TTHC_TOKEN" in str(error)
    assert "not-the-token" not in str(error)
    assert [(s.status, s.rows_received) for s in summaries] == [("failed", 0)]
    assert query("SELECT status FROM ops.batches") == [("failed",)]
    assert api_requests(simulator, "/api/tthc/dossiers")[-1][1] == 401


def test_missing_token_variable_is_named(simulator, monkeypatch):
    monkeypatch.delenv("IOC_SOC_TOKEN")

    _, error = ingest_feed("security_incidents")

    assert "environment variable IOC_SOC_TOKEN is not set" in str(error)
    assert api_requests(simulator, "/api/soc/incidents") == [], "no request goes out without a token"


def test_429_and_500_are_retried_honouring_retry_after(simulator, world, query):
    simulator.inject_faults([429, 500, 503])
    started = time.monotonic()

    summaries, error = ingest_feed("security_incidents")

    assert error is None and summaries[0].rows_received == len(world.incidents)
    statuses = [status for _, status in api_requests(simulator, "/api/soc/incidents")]
    assert statuses[:4] == [429, 500, 503, 200]
    assert time.monotonic() - started >= 1.0, "Retry-After: 1 was honoured"


def test_a_source_that_keeps_failing_gives_up_with_a_clear_error(simulator, query):
    simulator.inject_faults([500] * 3)

    with pytest.raises(SourceError, match=r"still failing after 3 attempts"):
        http_json.extract(feed_with("security_incidents", max_retries=2))
    assert query("SELECT count(*) FROM ops.batches") == [(0,)], "nothing half-landed"


def test_rate_limit_spaces_requests():
    limiter = http_json.RateLimiter(requests_per_second=20)
    started = time.monotonic()
    for _ in range(6):
        limiter.wait()
    assert time.monotonic() - started >= 5 / 20


def test_incremental_pull_brings_new_versions_and_keeps_one_row_per_dossier(simulator, world, query):
    ingest_feed("tthc_dossiers")
    first_cursor = read_cursor("tthc_dossiers")
    received_first = query("SELECT count(*) FROM raw.tthc_dossiers")[0][0]
    before = {r["dossier_id"]: r["updated_at"] for r in world.dossiers}

    world.advance(hours=48)
    changed = {r["dossier_id"] for r in world.dossiers if before.get(r["dossier_id"]) != r["updated_at"]}
    cursor = cursor_key(first_cursor)
    again = sum(1 for r in world.dossiers  # unchanged, read again by the lookback
                if cursor - timedelta(minutes=15) < r["updated_at"] <= cursor)
    (summary,), _ = ingest_feed("tthc_dossiers")

    # What changed since the cursor comes, and what the declared lookback (15m) reads again, counted apart.
    assert changed and summary.rows_received == len(changed) + again, "only what changed since the cursor comes"
    assert summary.rows_repeated == again and summary.rows_loaded + summary.rows_quarantined == len(changed)
    assert again, "the test reads something again"
    assert read_cursor("tthc_dossiers") > first_cursor
    assert query("SELECT count(*) FROM raw.tthc_dossiers")[0][0] == received_first + len(changed) + again
    clean_count, distinct = query("SELECT count(*), count(DISTINCT dossier_id) FROM clean.tthc_dossiers")[0]
    assert clean_count == distinct
    one = sorted(changed & set(before))[0]
    versions = query("SELECT count(*) FROM raw.tthc_dossiers WHERE record->>'dossier_id' = ?", [one])[0][0]
    latest = next(r for r in world.dossiers if r["dossier_id"] == one)
    published = query("SELECT status, updated_at FROM clean.tthc_dossiers WHERE dossier_id = ?", [one])
    assert versions == 2
    assert published == [(latest["status"], latest["updated_at"])]


def test_refetching_the_same_data_adds_nothing(simulator, query):
    ingest_feed("air_quality")
    before = query("SELECT count(*) FROM raw.air_quality"), query("SELECT count(*) FROM clean.air_quality")
    reset_cursor("air_quality")

    (summary,), _ = ingest_feed("air_quality")

    assert summary.status == "duplicate"
    assert (query("SELECT count(*) FROM raw.air_quality"), query("SELECT count(*) FROM clean.air_quality")) == before


def test_a_pull_with_nothing_new_is_recorded_as_empty(simulator, query):
    ingest_feed("security_incidents")
    (summary,), error = ingest_feed("security_incidents")
    assert error is None and (summary.status, summary.rows_received) == ("empty", 0)


def test_a_large_pull_lands_bounded_batches_and_moves_the_cursor_once(simulator, world, query, monkeypatch):
    feed = feed_with("tthc_dossiers", page_size=100, max_batch_rows=250)
    monkeypatch.setitem(catalog().feeds, "tthc_dossiers", feed)
    saved = []
    monkeypatch.setattr("pipelines.extract.pull.save_cursor", lambda *args: saved.append(args))

    summaries, error = ingest_feed("tthc_dossiers")

    assert error is None
    received = [s.rows_received for s in summaries]
    assert sum(received) == len(world.dossiers) and len(received) >= 2
    assert all(250 <= r < 250 + 100 for r in received[:-1]), "a batch is landed once 250 records wait (pages of 100)"
    assert len(saved) == 1, "the cursor moves once, after the whole read is landed"
    assert query("SELECT count(DISTINCT record->>'dossier_id') FROM raw.tthc_dossiers") == [(len(world.dossiers),)]


def test_backfill_rereads_a_window_without_moving_the_cursor_or_duplicating(simulator, world, query):
    """`ioc backfill` asks the API for the window again; records come as the same versions (clean data
    unchanged), raw history keeps what was received, the feed's cursor stays, and a second identical
    backfill is a duplicate batch."""
    import json as jsonlib
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from tests.conftest import ioc

    ingest_feed("tthc_dossiers")
    cursor = read_cursor("tthc_dossiers")
    clean_before = query("SELECT count(*), max(updated_at) FROM clean.tthc_dossiers")
    raw_before = query("SELECT count(*) FROM raw.tthc_dossiers")[0][0]
    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    start, end = datetime(2026, 10, 1, tzinfo=zone), datetime(2026, 10, 31, 23, 59, 59, 999999, tzinfo=zone)
    in_window = [r for r in world.dossiers
                 if isinstance(r["updated_at"], datetime) and start <= r["updated_at"] <= end]

    out = ioc("backfill", "tthc_dossiers", "--from", "2026-10-01", "--to", "2026-10-31", "--json", check=True)
    (summary,) = jsonlib.loads(out.stdout)
    assert in_window and summary["rows_received"] == len(in_window)
    assert summary["rows_received"] == summary["rows_loaded"] + summary["rows_quarantined"] + summary["rows_repeated"]
    assert summary["rows_loaded"] == 0 and summary["rows_repeated"] > 0, "the same versions are not loaded again"
    assert query("SELECT count(*) FROM raw.tthc_dossiers WHERE batch_id = ? AND repeat_of IS NOT NULL",
                 [summary["batch_id"]]) == [(summary["rows_repeated"],)], "raw history says which records came again"
    assert read_cursor("tthc_dossiers") == cursor, "a backfill leaves the cursor where it was"
    assert query("SELECT count(*), max(updated_at) FROM clean.tthc_dossiers") == clean_before
    assert query("SELECT count(*) FROM raw.tthc_dossiers")[0][0] == raw_before + len(in_window)

    again = jsonlib.loads(ioc("backfill", "tthc_dossiers", "--from", "2026-10-01", "--to", "2026-10-31",
                              "--json", check=True).stdout)
    assert [s["status"] for s in again] == ["duplicate"]
    assert query("SELECT count(*) FROM raw.tthc_dossiers")[0][0] == raw_before + len(in_window)

    refused = ioc("backfill", "dept_monthly_report", "--from", "2026-10-01", "--to", "2026-10-31")
    assert refused.returncode == 1 and "dropping its files again" in refused.stderr


def test_a_pull_checksum_is_that_of_its_canonical_json_hashed_record_by_record():
    """A pull's batch checksum is hashed record by record (no copy of the whole answer held), yet equals
    the sha256 of the answer's canonical JSON, so an answer received again is still found a duplicate."""
    import hashlib
    import json
    from datetime import datetime, timezone
    from decimal import Decimal

    from pipelines.extract.pull import canonical_checksum
    from pipelines.extract.records import as_text

    records = [{"dossier_id": f"HS-{i}", "fee_vnd": Decimal("1500.50") if i % 2 else 1.234, "agency": "Sở Y tế",
                "updated_at": datetime(2026, 11, i + 1, tzinfo=timezone.utc), "tags": ["a", i], "note": None}
               for i in range(5)]
    whole = json.dumps([{k: as_text(v) for k, v in r.items()} for r in records], sort_keys=True, ensure_ascii=False)
    assert canonical_checksum(records) == hashlib.sha256(whole.encode()).hexdigest()
    assert canonical_checksum(records[:1]) != canonical_checksum(records[1:2])
    assert canonical_checksum([]) == hashlib.sha256(b"[]").hexdigest()
