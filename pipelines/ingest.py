"""Run a feed: extract into the landing zone (no lock needed), then load.

The DAGs call extract_feed and load_feed as two tasks; `ioc ingest` calls ingest_feed; a large backfill is
split into parts that workers run side by side (backfill_part).
"""

from __future__ import annotations

import importlib
import logging
from datetime import UTC, datetime
from pathlib import Path

from pipelines.deadlines.refresh import refresh_deadlines
from pipelines.declarations.loading import catalog
from pipelines.declarations.models import Feed
from pipelines.extract.errors import SourceError
from pipelines.extract.landing import LandedBatch, land, new_batch_id, pending
from pipelines.extract.pull import Window
from pipelines.load.batch import BatchSummary, load_batch
from pipelines.snapshots import published_after, recorded_run
from pipelines.validate import gx_worker
from pipelines.warehouse import claimed, connect
from pipelines.warehouse.catalog import catalog_lost

log = logging.getLogger(__name__)

# DuckDB's memory while a load runs: beyond it DuckDB spills to disk next to the warehouse, so a large
# file costs disk rather than memory (measured, 1M tasks: process peak 2.5 GB → 1.7 GB at 512MB; 1,216 →
# 999 MiB from 512MB to 256MB, at the same speed).
LOAD_MEMORY_LIMIT = "256MB"
# From this many rows in a run, GE's worker (some 300 MiB) exits once the run is validated, before the commit
# (measured, 1M tasks: the peak 1,001 → 874 MiB); below it, it stays for the process's next load (its import
# costs seconds).
LET_GX_GO_ROWS = 250_000


def _extractor(feed: Feed):
    """The feed's extractor module, imported alone (lazily: a file's load need not import the HTTP client or the
    PostgreSQL driver, about 0.3 s)."""
    return importlib.import_module(f"pipelines.extract.{feed.source.kind}")


def extract_feed(
    feed_id: str, files: list[Path] | None = None, record_failure: bool = True, window: Window | None = None
) -> list[LandedBatch]:
    """Land what the source has for us (or, with a window, what it has in that window: a backfill). A
    broken source raises SourceError, after landing a failed batch so that ops.batches shows it (a
    scheduler passes record_failure only on its last try)."""
    feed = catalog().feed(feed_id)
    extractor = _extractor(feed)
    if files is not None and feed.source.kind != "file_drop":
        raise SourceError(f"feed {feed_id} reads from {feed.source.kind}, not files: --file does not apply")
    if window is not None and getattr(feed.source, "incremental", None) is None:
        raise SourceError(
            f"feed {feed_id} has no incremental cursor to backfill by: "
            + (
                "a file drop is backfilled by dropping its files again (each loads once; a "
                "resubmitted report replaces the earlier one)"
                if feed.source.kind == "file_drop"
                else "every run reads the whole source already"
            )
        )
    try:
        batches = extractor.extract(feed, files if feed.source.kind == "file_drop" else window)
    except SourceError as exc:
        if not record_failure:
            raise
        land(
            LandedBatch(
                batch_id=new_batch_id(),
                feed=feed_id,
                source_uri=feed.source.kind,
                checksum="",
                received_at=datetime.now(UTC),
                status="failed",
                error=str(exc),
            )
        )
        raise
    for batch in batches:
        log.info("landed %s batch %s: %s rows from %s", feed_id, batch.batch_id, batch.rows, batch.source_uri)
    return batches


def load_feed(feed_id: str, only: list[LandedBatch] | None = None) -> list[BatchSummary]:
    """Load the feed's pending landed batches (or `only` those: what one worker's part of a split pull landed),
    oldest first, each in its own transaction.

    Several workers may load one feed at once (on DuckLake: the parts of a large pull). Each takes the pending
    batches no other holds (claimed(); a whole read's batches go together, in order, as its withdrawals need),
    reads, validates and stages them beside the others, and commits one at a time per feed (load_batch).

    A lost connection to the lake's catalog raises CatalogLost, one line (the catalog, what was being done, nothing
    committed): the batch stays landed, and the next try (Airflow's retry, `ioc ingest` again) loads it once."""
    feed = catalog().feed(feed_id)
    wanted = None if only is None else {b.batch_id for b in only}
    batches = [b for b in pending(feed_id) if wanted is None or b.batch_id in wanted]
    if not batches:
        return []
    try:
        with claimed(sorted({claim_name(b) for b in batches})) as mine:
            taken = [b for b in batches if claim_name(b) in mine]
            if len(taken) < len(batches):
                log.info("%s: %d landed batches are being loaded by another worker", feed_id, len(batches) - len(taken))
            return _load(feed, taken) if taken else []
    except Exception as exc:  # lost outside a transaction (attaching the lake, staging, a lock's session)
        if (lost := catalog_lost(exc, f"loading feed {feed_id}")) is not None and lost is not exc:
            raise lost from exc
        raise


def claim_name(batch: LandedBatch) -> str:
    """What a worker claims to load a batch: its whole read (a snapshot loads in order, by one worker), or itself."""
    return f"load:{batch.feed}:{batch.snapshot or batch.batch_id}"


def _load(feed: Feed, batches: list[LandedBatch]) -> list[BatchSummary]:
    if any(b.rows for b in batches):
        gx_worker.start()  # GE imports in its own process while the first chunks are staged
    units = catalog().org_units
    summaries: list[BatchSummary] = []
    follows_deadlines = bool(feed.reporting or feed.tasks)  # who is late follows the data at once
    with connect() as con, published_after(con, catalog()):  # the snapshots, even if a stage fails
        con.execute(f"SET memory_limit = '{LOAD_MEMORY_LIMIT}'")
        # No table's rows are read in the order they were written (every reader sorts what it shows): DuckDB
        # may then insert in parallel (measured, 9.5M rows into clean.directive_tasks: 25 s → 11 s).
        con.execute("SET preserve_insertion_order = false")
        with recorded_run(con, "load", feed.id):
            # A large run lets GE's worker go as soon as its last batch is validated (its memory is given back
            # before the commit needs DuckDB's); a small one keeps it for the next load of this process.
            let_go = sum(b.rows for b in batches) >= LET_GX_GO_ROWS
            for i, batch in enumerate(batches):
                last = let_go and i == len(batches) - 1
                summary = load_batch(con, feed, batch, units, on_validated=_let_gx_go(summaries) if last else None)
                log.info(
                    "%s batch %s %s: received %d, loaded %d, quarantined %d",
                    feed.id,
                    summary.batch_id,
                    summary.status,
                    summary.rows_received,
                    summary.rows_loaded,
                    summary.rows_quarantined,
                )
                summaries.append(summary)
        docs = [identifier for s in summaries for identifier in s.data_docs]
        requested = any(s.data_docs_requested for s in summaries)
        if docs and not requested:  # built by GE's worker while the deadlines are computed here
            gx_worker.worker().submit("build_data_docs", docs)
        if follows_deadlines:  # alerts resolve on receipt: the feed's part of the marts
            with recorded_run(con, "deadlines"):
                refresh_deadlines(con, catalog(), feed=feed)
    if docs:  # a load is done when its files are: nothing under $IOC_HOME changes once it has returned
        gx_worker.worker().collect()
    return summaries


def _let_gx_go(summaries: list[BatchSummary]):
    """For the run's last batch, once it is validated: GE's worker builds the run's Data Docs and exits, its
    memory (GE's, some 300 MiB) given back before the batch's commit needs DuckDB's."""

    def let_go(docs: list) -> bool:
        gx_worker.worker().submit_last("build_data_docs", [*(d for s in summaries for d in s.data_docs), *docs])
        return True

    return let_go


def raise_for_source_failures(summaries: list[BatchSummary]) -> None:
    """Raise if a source (not a department's file) failed: that makes the scheduler's run fail."""
    failures = [s.error for s in summaries if s.status == "failed" and s.file_name is None and not s.rows_received]
    if failures:
        raise SourceError("; ".join(f or "source failed" for f in failures))


def backfill_part(feed_id: str, window: Window, part: int = 1, parts: int = 1) -> list[BatchSummary]:
    """Re-read part `part` of `parts` of a window of an incremental source (its equal share of the window's time)
    and load what this part landed: the parts of one large pull run side by side on several workers."""
    landed = extract_feed(feed_id, window=window.split(parts)[part - 1])
    return load_feed(feed_id, only=landed)


def ingest_feed(
    feed_id: str, files: list[Path] | None = None, record_failure: bool = True
) -> tuple[list[BatchSummary], SourceError | None]:
    """Extract then load; a source error is returned (after its failed batch is recorded: a scheduler passes
    record_failure only on its last try), what landed loaded all the same."""
    if files:
        gx_worker.start()  # GE imports in its own process while the files are read
    error = None
    try:
        extract_feed(feed_id, files, record_failure=record_failure)
    except SourceError as exc:
        error = exc
    return load_feed(feed_id), error
