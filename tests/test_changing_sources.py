"""Nothing lost from a source that changes while it is read: the simulator's API changes between page
requests (updates, inserts, deletions, ties on updated_at across a page boundary, a late commit with an
old timestamp), for every pagination kind, and the department's PostgreSQL table changes during and between
reads. After the source stops changing and one more pull runs, clean.<feed> equals the source, key by key
and version by version."""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta

import pytest

from pipelines.declarations.loading import catalog
from pipelines.declarations.models import (
    CursorPagination,
    NextLinkPagination,
    OffsetPagination,
    PageNumberPagination,
)
from pipelines.extract.cursors import read_cursor
from pipelines.ingest import ingest_feed

FEED = "tthc_dossiers"
PAGE = 50
PAGINATIONS = {
    "page_number": PageNumberPagination(kind="page_number", page_size=PAGE, total_path="total"),
    "offset": OffsetPagination(kind="offset", page_size=PAGE, total_path="total"),
    "next_link": NextLinkPagination(kind="next_link", page_size=PAGE, total_path="total"),
    "cursor": CursorPagination(kind="cursor", page_size=PAGE, total_path="total"),
}
# Every pagination kind, paged by the cursor itself (keyset) and by turning its pages.
# Every pagination, by keyset or not, on the DuckDB file; on DuckLake, the cursor's by keyset alone: the paging is
# the extractor's, the same whichever backend the rows go to, and the merges are the same statements on DuckLake.
LAKE_KIND = ("cursor", True)
KINDS = [pytest.param(kind, keyset, marks=[] if (kind, keyset) == LAKE_KIND else [pytest.mark.duckdb_only])
         for kind in PAGINATIONS for keyset in (True, False)]


def declare(monkeypatch, kind: str, keyset: bool, lookback: str | None = None):
    """The dossiers feed, as declared, with this pagination and incremental paging."""
    feed = catalog().feed(FEED)
    incremental = feed.source.incremental.model_copy(update={"keyset": keyset, "lookback": lookback})
    source = feed.source.model_copy(update={"pagination": PAGINATIONS[kind], "incremental": incremental})
    monkeypatch.setitem(catalog().feeds, FEED, feed.model_copy(update={"source": source}))


class Source:
    """Changes to the one-stop-shop's dossiers, made as its users make them (under the world's lock)."""

    def __init__(self, world, seed: int = 0):
        self.world, self.rng = world, random.Random(seed)
        planted = world.planted[FEED]
        self.bad = set(planted["unknown_agency"]) | set(planted["non_integer_fee"])  # quarantined, never clean
        self.clock = world.now
        self.inserted = 0
        self.deleted: set[str] = set()

    def tick(self, seconds: int = 1) -> datetime:
        self.clock += timedelta(seconds=seconds)
        return self.clock

    def ordered(self) -> list[dict]:
        return sorted(self.world.dossiers, key=lambda r: (r["updated_at"], r["dossier_id"]))

    def update(self, records: list[dict], at: datetime | None = None) -> None:
        """New versions (a status moves on, updated_at now): they slide from where they were to the end."""
        at = at or self.tick()
        with self.world.lock:
            for record in records:
                record["status"] = "processing" if record["status"] == "received" else record["status"]
                record["updated_at"] = at

    def insert(self, count: int, at: datetime | None = None) -> list[dict]:
        """New dossiers (updated_at `at`: now, or an older moment for a late commit)."""
        at = at or self.tick()
        with self.world.lock:
            template = next(r for r in self.world.dossiers if r["dossier_id"] not in self.bad)
            new = []
            for _ in range(count):
                self.inserted += 1
                new.append({**template, "dossier_id": f"HS-MOI-{self.inserted:06d}", "updated_at": at})
            self.world.dossiers.extend(new)
        return new

    def delete(self, records: list[dict]) -> None:
        """Dossiers withdrawn from the system (they disappear from the API)."""
        ids = {r["dossier_id"] for r in records}
        self.world.withdraw("dossiers", "dossier_id", ids, self.tick())
        self.deleted |= ids

    def versions(self) -> dict[str, datetime]:
        return {r["dossier_id"]: r["updated_at"] for r in self.world.dossiers if r["dossier_id"] not in self.bad}


def clean_versions(query, withdrawn: set[str] = frozenset()) -> dict[str, datetime]:
    rows = query("SELECT dossier_id, updated_at FROM clean.tthc_dossiers")
    return {key: version for key, version in rows if key not in withdrawn}


def on_request(simulator, number: int, change) -> None:
    """Make `change` when the source receives its `number`-th page request from now on (1-based)."""
    seen = [0]

    def hook(path: str, params: dict) -> None:
        seen[0] += 1
        if seen[0] == number:
            change()

    simulator.on_page = hook


def pull() -> None:
    summaries, error = ingest_feed(FEED)
    assert error is None, error
    for summary in summaries:
        assert summary.rows_received == summary.rows_loaded + summary.rows_quarantined + summary.rows_repeated


@pytest.mark.parametrize("kind,keyset", KINDS)
def test_records_updated_on_a_page_already_read_are_not_skipped(simulator, world, query, monkeypatch, kind, keyset):
    """The issue's case: while page 2 is asked for, 10 dossiers of page 1 get a new status and updated_at (the
    same moment for all: a tie), and 3 are created. The pull that ran during the change already has every
    dossier at its latest version; one more pull changes nothing."""
    declare(monkeypatch, kind, keyset)
    source = Source(world)
    first_page = source.ordered()[:PAGE]
    on_request(simulator, 2, lambda: (source.update(first_page[:10]), source.insert(3)))

    pull()

    assert clean_versions(query) == source.versions()
    simulator.on_page = None
    pull()
    assert clean_versions(query) == source.versions()


@pytest.mark.parametrize("kind,keyset", KINDS)
def test_records_deleted_or_inserted_between_pages_do_not_make_the_pull_skip(simulator, world, query, monkeypatch,
                                                                           kind, keyset):
    """Deleting dossiers already read slides the next ones into a page already read; inserting them before the
    page being read slides the others back. Every dossier the source holds arrives, at its version."""
    declare(monkeypatch, kind, keyset)
    source = Source(world)
    ordered = source.ordered()
    early = ordered[PAGE // 2:PAGE // 2 + 5]

    def change() -> None:
        source.delete(early)
        late_insert = source.insert(2, at=ordered[PAGE + 10]["updated_at"])  # sorts into a page not read yet
        source.update([ordered[PAGE * 2 + 1]])
        assert late_insert

    on_request(simulator, 2, change)
    pull()
    simulator.on_page = None
    pull()

    held = clean_versions(query)
    assert {k: held[k] for k in source.versions()} == source.versions(), "every dossier the source holds"
    assert set(held) - set(source.versions()) == source.deleted, "the deleted ones were received before"


@pytest.mark.parametrize("kind", [pytest.param(kind, marks=[] if kind == LAKE_KIND[0] else [pytest.mark.duckdb_only])
                                  for kind in PAGINATIONS])
def test_ties_on_the_cursor_across_a_page_boundary_and_a_page_of_ties(simulator, world, query, monkeypatch, kind):
    """Paging by the cursor asks again from the last value seen: dossiers sharing that value on both sides of
    a page boundary, and more of them than a page holds, all arrive; the cursor moves past them once."""
    declare(monkeypatch, kind, keyset=True)
    source = Source(world)
    ordered = source.ordered()
    source.update(ordered[PAGE - 3:PAGE + 4], at=source.tick())  # 7 tied across the first boundary
    source.update(ordered[200:200 + PAGE + 12], at=source.tick())  # more tied than a page holds

    pull()

    assert clean_versions(query) == source.versions()
    assert read_cursor(FEED) == max(source.versions().values()).isoformat()
    summaries, _ = ingest_feed(FEED)
    assert sum(s.rows_loaded for s in summaries) == 0, "the next pull brings nothing new"


def test_a_late_commit_with_an_older_timestamp_is_caught_by_the_lookback(simulator, world, query, monkeypatch):
    """A record committed after the cursor passed its updated_at (a long transaction) is read by the next pull
    because the feed declares a lookback; what the lookback reads again is not loaded or counted twice, and
    raw history says which records came again."""
    declare(monkeypatch, "page_number", keyset=True, lookback="1h")
    source = Source(world)
    pull()
    newest = source.tick(60)
    source.update(source.ordered()[:3], at=newest)
    pull()
    (late,) = source.insert(1, at=newest - timedelta(minutes=20))  # committed now, stamped 20 minutes ago

    summaries, error = ingest_feed(FEED)

    assert error is None
    assert clean_versions(query) == source.versions()
    assert sum(s.rows_loaded for s in summaries) == 1
    assert sum(s.rows_repeated for s in summaries) >= 3, "the 3 updates of the previous pull came again"
    batches = [s.batch_id for s in summaries]
    repeats = query("SELECT count(*) FROM raw.tthc_dossiers WHERE repeat_of IS NOT NULL AND list_contains(?, batch_id)",
                    [batches])[0][0]
    assert repeats == sum(s.rows_repeated for s in summaries)


def test_without_a_lookback_a_late_commit_is_missed_so_the_lookback_is_what_catches_it(simulator, world, query,
                                                                                    monkeypatch):
    declare(monkeypatch, "page_number", keyset=True)
    source = Source(world)
    newest = source.tick(60)
    source.update(source.ordered()[:3], at=newest)
    pull()
    (late,) = source.insert(1, at=newest - timedelta(minutes=20))
    pull()
    assert late["dossier_id"] not in clean_versions(query)


# Two seeds per pagination run on the DuckDB file; on DuckLake, one seed with the cursor pagination (the
# paginations are the extractor's, the same on both backends; the merges are the same statements on DuckLake;
# every combination on both, or a third seed, made `make test` pass 20 minutes on a 2-core machine).
@pytest.mark.parametrize("kind,keyset,seed", [
    pytest.param(kind, keyset, seed, marks=[] if (kind, seed) == ("cursor", 11) else [pytest.mark.duckdb_only])
    for kind, keyset in (("page_number", True), ("next_link", False), ("cursor", True)) for seed in (11, 12)])
def test_random_changes_interleaved_with_pulls_end_with_clean_equal_to_the_source(simulator, world, query,
                                                                                monkeypatch, seed, kind, keyset):
    """Fixed seeds: updates (some tied), inserts, deletions and late commits land at random page requests and
    between pulls; once the source stops changing and one more pull runs (a snapshot, which finds what was
    deleted), clean equals the source: current rows key by key and version by version, the deleted ones kept
    and marked withdrawn."""
    declare_snapshots(monkeypatch, kind=kind, keyset=keyset, lookback="1h")
    source = Source(world, seed)
    rng = source.rng
    lock = threading.Lock()

    def random_change() -> None:
        with lock:
            records = [r for r in world.dossiers if r["dossier_id"] not in source.bad]
            what = rng.choice(["update", "update", "tie", "insert", "delete", "late"])
            if what == "update":
                source.update(rng.sample(records, rng.randint(1, 15)))
            elif what == "tie":
                at = source.tick()
                source.update(rng.sample(records, rng.randint(2, 8)), at=at)
                source.update(rng.sample(records, 2), at=at)
            elif what == "insert":
                source.insert(rng.randint(1, 5))
            elif what == "delete":
                source.delete(rng.sample(records, rng.randint(1, 3)))
            else:
                source.insert(1, at=source.clock - timedelta(minutes=rng.randint(1, 50)))

    for round_ in range(5):
        if round_ == 1:  # at least one deletion of a record already loaded, whatever the seed draws
            source.delete(rng.sample([r for r in world.dossiers if r["dossier_id"] not in source.bad], 2))
        requests = {rng.randint(1, 14) for _ in range(3)}
        count = [0]

        def hook(path: str, params: dict) -> None:
            count[0] += 1
            if count[0] in requests:
                random_change()

        simulator.on_page = hook
        pull()
        random_change()
    simulator.on_page = None
    snapshot_due_now()
    pull()

    current = dict(query("SELECT dossier_id, updated_at FROM clean.tthc_dossiers WHERE _withdrawn_at IS NULL"))
    assert current == source.versions()
    withdrawn = {i for (i,) in query("SELECT dossier_id FROM clean.tthc_dossiers WHERE _withdrawn_at IS NOT NULL")}
    assert withdrawn <= source.deleted and source.deleted, "what the source deleted is kept, marked withdrawn"
    assert latest_reconciliation(query)[2] == 0


def test_a_database_table_changing_during_and_between_reads_and_a_late_commit(finance_db, postgres, query,
                                                                            monkeypatch):
    """PostgreSQL: rows updated, inserted and deleted while the extractor is reading (one statement reads one
    snapshot: they come with the next read), and a row committed late with an older updated_at (a long
    transaction, still open during the first read) that the declared lookback reads. Then the warehouse equals
    the table, key by key and version by version."""
    import os

    import psycopg

    from pipelines.extract import pull as pulling

    feed = catalog().feed("public_investment")
    source = feed.source.model_copy(update={
        "batch_size": 10, "incremental": feed.source.incremental.model_copy(update={"lookback": "1h"})})
    monkeypatch.setitem(catalog().feeds, "public_investment", feed.model_copy(update={"source": source}))
    dsn = os.environ["IOC_FINANCE_DSN"]
    table = "finance.disbursement"

    def table_versions() -> dict:
        with psycopg.connect(dsn) as conn:
            return {(p, m): v for p, m, v in conn.execute(f"SELECT project_code, period, updated_at FROM {table}")}

    def clean() -> dict:
        return {(p, m): v for p, m, v in query("SELECT project_code, period, updated_at FROM clean.public_investment")}

    def change_during_the_read() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"UPDATE {table} SET disbursed_cum_vnd = disbursed_cum_vnd + 1, updated_at = now() "
                         f"WHERE (project_code, period) IN (SELECT project_code, period FROM {table} "
                         f"ORDER BY updated_at LIMIT 3)")
            conn.execute(f"INSERT INTO {table} SELECT project_code, project_name, owner_code, '2026-12', plan_vnd, "
                         f"disbursed_cum_vnd, now() FROM {table} WHERE period = '2026-01' LIMIT 2")
            conn.execute(f"DELETE FROM {table} WHERE (project_code, period) IN "
                         f"(SELECT project_code, period FROM {table} ORDER BY updated_at LIMIT 1 OFFSET 20)")

    original_add = pulling.Pull.add
    calls = [0]

    def add(self, records, uri, first_row=1):
        calls[0] += 1
        if calls[0] == 2:
            change_during_the_read()
        return original_add(self, records, uri, first_row)

    with psycopg.connect(dsn) as late:  # a long transaction: its row is stamped 20 minutes ago, committed later
        late.execute(f"INSERT INTO {table} SELECT project_code, project_name, owner_code, '2027-01', plan_vnd, "
                     f"disbursed_cum_vnd, now() - interval '20 minutes' FROM {table} WHERE period = '2026-02' LIMIT 1")
        with psycopg.connect(dsn, autocommit=True) as other:  # committed meanwhile: the cursor passes the late row
            other.execute(f"UPDATE {table} SET updated_at = now() WHERE (project_code, period) IN "
                          f"(SELECT project_code, period FROM {table} ORDER BY updated_at LIMIT 1)")
        monkeypatch.setattr(pulling.Pull, "add", add)
        (first,), error = ingest_feed("public_investment")
        assert error is None and calls[0] > 2, "the table was read in several fetches"
        monkeypatch.setattr(pulling.Pull, "add", original_add)
        late.commit()
    before_last = clean()
    (second,), error = ingest_feed("public_investment")

    assert error is None
    source = table_versions()
    held = clean()
    assert {k: held.get(k) for k in source} == source, "every row of the table, at its version"
    assert any(k[1] == "2027-01" for k in source) and not any(k[1] == "2027-01" for k in before_last), \
        "the late commit came with the read after it"
    assert second.rows_repeated > 0 and second.rows_received == second.rows_loaded + second.rows_quarantined \
        + second.rows_repeated


def declare_snapshots(monkeypatch, every: str = "1h", kind: str = "page_number", keyset: bool = True,
                      lookback: str | None = None):
    declare(monkeypatch, kind, keyset, lookback)
    feed = catalog().feed(FEED)
    monkeypatch.setitem(catalog().feeds, FEED, type(feed).model_validate({
        **feed.model_dump(by_alias=True), "withdrawals": {"kind": "snapshot", "every": every}}))


def snapshot_due_now(feed: str = FEED) -> None:
    """As if the last snapshot were long ago: the next pull reads the whole source."""
    from pipelines.extract.cursors import save_snapshot

    save_snapshot(feed, datetime(2000, 1, 1, tzinfo=world_zone()), "long-ago")


def world_zone():
    from simulator.clock import TZ

    return TZ


def latest_reconciliation(query, feed: str = FEED) -> tuple:
    return query("SELECT source_count, warehouse_count, difference FROM ops.reconciliations WHERE feed = ? "
                 "ORDER BY checked_at DESC LIMIT 1", [feed])[0]


def test_a_dossier_gone_from_the_api_is_kept_marked_withdrawn_and_reconciliation_shows_it_meanwhile(
        simulator, world, query, monkeypatch):
    """Dossiers that disappear from the API: the next pull's reconciliation says the warehouse holds 3 more than
    the source (metric, wall); the next snapshot marks them withdrawn (kept, with when they were seen last), KPIs
    stop counting them, and the difference is 0 again. One that comes back is current again."""
    from pipelines.kpi.compute import compute_kpis
    from pipelines.warehouse import connect
    from pipelines.snapshots.metrics import collect_state
    from pipelines.snapshots.wall import collect_wall

    declare_snapshots(monkeypatch)
    source = Source(world)
    pull()  # the first pull reads everything: a snapshot
    assert latest_reconciliation(query)[2] == 0
    gone = [r for r in source.ordered()[100:200] if r["dossier_id"] not in source.bad][:3]
    month = f"{gone[0]['received_at']:%Y-%m}"
    with connect() as con:
        compute_kpis(con, catalog())

    def denominator() -> float:
        return query("SELECT denominator FROM marts.kpi_values WHERE kpi_id = 'dossier_online_rate' "
                     "AND unit_code = 'HP' AND period = ?", [month])[0][0]

    counted = denominator()
    source.delete(gone)
    pull()  # not a snapshot yet (less than `every` since the last)

    assert latest_reconciliation(query) == (len(world.dossiers), len(world.dossiers) + 3, -3)
    with connect() as con:
        state = {f["name"]: f for f in collect_state(con, catalog())["families"]}
        wall = {f["id"]: f for f in collect_wall(con, catalog())["feeds"]}
    samples = {tuple(s[:-1]): s[-1] for s in state["ioc_feed_reconciliation_difference"]["samples"]}
    assert samples[(FEED, "TTPVHCC")] == -3
    assert wall[FEED]["reconciliation"]["difference"] == -3

    snapshot_due_now()
    pull()  # a snapshot

    ids = [r["dossier_id"] for r in gone]
    marked = query("SELECT dossier_id, _withdrawn_at IS NOT NULL, _last_seen_at IS NOT NULL FROM clean.tthc_dossiers "
                   "WHERE list_contains(?, dossier_id) ORDER BY dossier_id", [ids])
    assert marked == [(i, True, True) for i in sorted(ids)], "kept, marked withdrawn, with when seen last"
    assert query("SELECT count(*) FROM ops.withdrawals WHERE feed = ? AND learned_by = 'snapshot'", [FEED]) == [(3,)]
    current = dict(query("SELECT dossier_id, updated_at FROM clean.tthc_dossiers WHERE _withdrawn_at IS NULL"))
    assert current == source.versions()
    assert latest_reconciliation(query)[2] == 0
    with connect() as con:
        compute_kpis(con, catalog())
    in_month = sum(1 for r in gone if f"{r['received_at']:%Y-%m}" == month)
    assert denominator() == counted - in_month, "KPIs no longer count withdrawn dossiers"

    with world.lock:
        world.dossiers.append(gone[0])  # the system lists it again
    snapshot_due_now()
    pull()
    assert query("SELECT _withdrawn_at FROM clean.tthc_dossiers WHERE dossier_id = ?", [ids[0]]) == [(None,)]


def test_a_status_that_says_withdrawn_marks_the_record(simulator, world, query, monkeypatch):
    feed = catalog().feed(FEED)
    monkeypatch.setitem(catalog().feeds, FEED, type(feed).model_validate({
        **feed.model_dump(by_alias=True), "withdrawals": {"kind": "status", "column": "status", "values": ["cancelled"]}}))
    pull()
    cancelled = {r["dossier_id"] for r in world.dossiers if r["status"] == "cancelled"} - Source(world).bad
    marked = {i for (i,) in query("SELECT dossier_id FROM clean.tthc_dossiers WHERE _withdrawn_at IS NOT NULL")}
    assert cancelled and marked == cancelled


def test_a_deleted_database_row_is_kept_marked_withdrawn_and_the_count_reconciles(finance_db, postgres, query,
                                                                               monkeypatch):
    import os

    import psycopg

    feed = catalog().feed("public_investment")
    monkeypatch.setitem(catalog().feeds, "public_investment", type(feed).model_validate({
        **feed.model_dump(by_alias=True), "withdrawals": {"kind": "snapshot", "every": "1h"}}))
    dsn = os.environ["IOC_FINANCE_DSN"]
    (first,), error = ingest_feed("public_investment")
    assert error is None and latest_reconciliation(query, "public_investment")[2] == 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        deleted = conn.execute("DELETE FROM finance.disbursement WHERE period = '2026-03' "
                               "RETURNING project_code").fetchall()
    snapshot_due_now("public_investment")
    ingest_feed("public_investment")

    withdrawn = query("SELECT project_code FROM clean.public_investment WHERE _withdrawn_at IS NOT NULL "
                      "AND period = '2026-03' ORDER BY 1")
    assert deleted and withdrawn == sorted(deleted)
    assert latest_reconciliation(query, "public_investment")[2] == 0


def test_deletions_the_api_lists_withdraw_the_records_at_their_time(simulator, world, query, monkeypatch):
    """A feed whose API lists what it deleted (tombstones): after the next pull those dossiers are kept, marked
    withdrawn at the time the API gives; the list is read from where it ended, so a deletion counts once."""
    declare(monkeypatch, "page_number", keyset=True)
    feed = catalog().feed(FEED)
    monkeypatch.setitem(catalog().feeds, FEED, type(feed).model_validate({
        **feed.model_dump(by_alias=True),
        "withdrawals": {"kind": "tombstones", "url": "${IOC_SIM_URL}/api/tthc/dossiers/deleted"}}))
    source = Source(world)
    pull()
    gone = [r for r in source.ordered()[50:60] if r["dossier_id"] not in source.bad][:4]
    source.delete(gone)
    pull()

    ids = sorted(r["dossier_id"] for r in gone)
    deleted_at = {r["dossier_id"]: r["deleted_at"] for r in world.withdrawn["dossiers"]}
    marked = query("SELECT dossier_id, _withdrawn_at FROM clean.tthc_dossiers WHERE _withdrawn_at IS NOT NULL "
                   "ORDER BY dossier_id")
    assert marked == [(i, deleted_at[i]) for i in ids]
    assert query("SELECT count(*) FROM ops.withdrawals WHERE learned_by = 'tombstone'") == [(4,)]
    assert latest_reconciliation(query)[2] == 0
    pull()
    assert query("SELECT count(*) FROM ops.withdrawals WHERE learned_by = 'tombstone'") == [(4,)], "read once"
    asked = [t for _, t, _ in simulator.request_log if "/deleted" in t]
    assert "deleted_after" not in asked[0] and "deleted_after" in asked[-1]


def test_a_database_lists_its_deleted_rows_in_a_table_the_feed_reads(finance_db, postgres, query, monkeypatch):
    import os

    import psycopg

    dsn = os.environ["IOC_FINANCE_DSN"]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE finance.disbursement_deleted (project_code text, period text, "
                     "deleted_at timestamptz DEFAULT now())")
    feed = catalog().feed("public_investment")
    monkeypatch.setitem(catalog().feeds, "public_investment", type(feed).model_validate({
        **feed.model_dump(by_alias=True), "withdrawals": {
            "kind": "tombstones", "query": "SELECT project_code, period, deleted_at FROM finance.disbursement_deleted "
                                           "WHERE deleted_at > %(after)s ORDER BY deleted_at"}}))
    ingest_feed("public_investment")
    with psycopg.connect(dsn, autocommit=True) as conn:
        deleted = conn.execute("WITH d AS (DELETE FROM finance.disbursement WHERE period = '2026-02' "
                               "RETURNING project_code, period) INSERT INTO finance.disbursement_deleted "
                               "(project_code, period) SELECT * FROM d RETURNING project_code").fetchall()
        # the list names one row twice (deleted, restored, deleted again): it is withdrawn once, when it last says
        conn.execute("INSERT INTO finance.disbursement_deleted VALUES (%s, '2026-02', now() + interval '1 minute')",
                     [deleted[0][0]])
    (summary,), error = ingest_feed("public_investment")

    assert error is None and deleted
    withdrawn = query("SELECT project_code FROM clean.public_investment WHERE _withdrawn_at IS NOT NULL ORDER BY 1")
    assert withdrawn == sorted(deleted)
    assert query("SELECT count(*) FROM ops.withdrawals WHERE learned_by = 'tombstone'") == [(len(deleted),)]
    assert f"{len(deleted)} records the source no longer holds are marked withdrawn" in summary.warnings
    with psycopg.connect(dsn) as conn:
        last = conn.execute("SELECT max(deleted_at) FROM finance.disbursement_deleted WHERE project_code = %s",
                            [deleted[0][0]]).fetchone()[0]
    assert query("SELECT _withdrawn_at FROM clean.public_investment WHERE project_code = ? AND period = '2026-02'",
                 [deleted[0][0]]) == [(last,)]
    assert latest_reconciliation(query, "public_investment")[2] == 0


def test_paging_by_the_cursor_refuses_an_api_that_does_not_sort_by_it(simulator, world, query, monkeypatch):
    """Keyset paging is only safe over answers in ascending cursor order: an API sorted otherwise (here the
    cursor declared as received_at, while the API sorts by updated_at) is refused with what to declare, and
    nothing is loaded as if it were complete."""
    declare(monkeypatch, "page_number", keyset=True)
    feed = catalog().feed(FEED)
    incremental = feed.source.incremental.model_copy(update={"cursor_field": "received_at"})
    monkeypatch.setitem(catalog().feeds, FEED, feed.model_copy(update={
        "source": feed.source.model_copy(update={"incremental": incremental})}))

    summaries, error = ingest_feed(FEED)

    assert error is not None and "ascending received_at order" in str(error) and "keyset: false" in str(error)
    assert [s.status for s in summaries] == ["failed"]
    assert read_cursor(FEED) is None
