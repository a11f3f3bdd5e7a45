"""The serving state of the platform as metric samples, read from the warehouse into the snapshot that the
exporter (`pipelines.metrics.exporter`) turns into metric families at scrape time (see `pipelines.snapshots`).

Label values come from the declarations (feeds, KPIs, organisation units, check names), never from
raw data: a value the declarations do not know is not exported, so cardinality stays bounded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from pipelines.declarations.base import duration_seconds
from pipelines.declarations.checks import CHECK_LABELS
from pipelines.declarations.loading import Catalog
from pipelines.kpi.status import STATUSES
from pipelines.warehouse import table_exists

BATCH_STATUSES = ("loaded", "partial", "quarantined", "failed", "duplicate", "empty")
SUCCESS_STATUSES = ("loaded", "partial", "duplicate", "empty")  # the source answered and its data is in
CHECKS = frozenset(CHECK_LABELS)  # every check a result can name


@dataclass
class Family:
    """One metric family: its type, help, label names and samples (label values…, value)."""

    name: str
    type: str  # gauge | counter
    help: str
    labels: list[str]
    samples: list[list] = field(default_factory=list)

    def add(self, *values) -> None:
        self.samples.append(list(values))


def collect_state(con, catalog: Catalog) -> dict:
    """Every metric family of the platform's current state."""
    families: list[Family] = []
    families += _feed_families(con, catalog)
    families += _report_families(con, catalog)
    families += _task_families(con, catalog)
    families += _kpi_families(con, catalog)
    families += _run_families(con, catalog)
    families += _submission_families(con, catalog)
    return {"generated_at": time.time(), "families": [f.__dict__ for f in families]}


def _epoch(value) -> float:
    return value.timestamp() if value is not None else 0.0


def _feed_families(con, catalog: Catalog) -> list[Family]:
    owner = {f.id: f.owner for f in catalog.feeds.values()}
    last_success = Family(
        "ioc_feed_last_success_timestamp_seconds",
        "gauge",
        "When the feed last loaded successfully (the source answered and its rows are in); 0 if never.",
        ["feed", "unit"],
    )
    last_batch = Family(
        "ioc_feed_last_batch_timestamp_seconds",
        "gauge",
        "When the feed's latest batch was received; 0 if none.",
        ["feed", "unit"],
    )
    last_status = Family(
        "ioc_feed_last_batch_status",
        "gauge",
        "1 for the status of the feed's latest batch, 0 for the others.",
        ["feed", "unit", "status"],
    )
    stale_after = Family(
        "ioc_feed_stale_after_seconds",
        "gauge",
        "Declared freshness: the feed is stale after this long without a successful load.",
        ["feed", "unit"],
    )
    batches = Family("ioc_feed_batches", "counter", "Batches of the feed by status.", ["feed", "unit", "status"])
    received = Family("ioc_feed_rows_received", "counter", "Rows received from the source.", ["feed", "unit"])
    loaded = Family("ioc_feed_rows_loaded", "counter", "Rows published to clean data.", ["feed", "unit"])
    quarantined = Family(
        "ioc_feed_rows_quarantined", "counter", "Rows quarantined with their reasons.", ["feed", "unit"]
    )
    repeated = Family(
        "ioc_feed_rows_repeated",
        "counter",
        "Valid rows received again that the warehouse held already (a lookback, an overlap).",
        ["feed", "unit"],
    )
    blocked = Family(
        "ioc_feed_validation_blocked_batches",
        "counter",
        "Batches that validation blocked from publication (the last good data kept serving).",
        ["feed", "unit"],
    )
    failures = Family(
        "ioc_feed_validation_failures",
        "counter",
        "Failed validation results by check and severity (one per batch and check).",
        ["feed", "unit", "check", "severity"],
    )
    difference = Family(
        "ioc_feed_reconciliation_difference",
        "gauge",
        "At the feed's latest reconciliation: records the source says it holds minus those the "
        "warehouse holds (current in clean data or waiting in quarantine).",
        ["feed", "unit"],
    )
    checked = Family(
        "ioc_feed_reconciliation_timestamp_seconds",
        "gauge",
        "When the feed was last reconciled with its source.",
        ["feed", "unit"],
    )
    withdrawn = Family(
        "ioc_feed_records_withdrawn",
        "counter",
        "Records found withdrawn at the source (kept, marked withdrawn).",
        ["feed", "unit"],
    )
    for feed_id, diff, at in con.execute("""
            SELECT feed, arg_max(difference, checked_at), max(checked_at) FROM ops.reconciliations
            GROUP BY feed""").fetchall():
        if feed_id in owner:
            difference.add(feed_id, owner[feed_id], float(diff))
            checked.add(feed_id, owner[feed_id], _epoch(at))
    for feed_id, n in con.execute("SELECT feed, count(*) FROM ops.withdrawals GROUP BY feed").fetchall():
        if feed_id in owner:
            withdrawn.add(feed_id, owner[feed_id], float(n))
    rows = {
        r[0]: r[1:]
        for r in con.execute(f"""
        SELECT feed,
               max(loaded_at) FILTER (WHERE status IN {SUCCESS_STATUSES}),
               max(received_at), arg_max(status, received_at),
               sum(rows_received), sum(rows_loaded), sum(rows_quarantined),
               count(*) FILTER (WHERE status = 'failed' AND rows_quarantined > 0), sum(rows_repeated)
        FROM ops.batches GROUP BY feed""").fetchall()
    }
    by_status = con.execute("SELECT feed, status, count(*) FROM ops.batches GROUP BY ALL").fetchall()
    checks = con.execute("""SELECT feed, check_name, severity, count(*) FROM ops.validation_results
                            WHERE NOT success GROUP BY ALL""").fetchall()
    for feed_id, unit in owner.items():
        success, latest, status, n_received, n_loaded, n_quarantined, n_blocked, n_repeated = rows.get(
            feed_id, (None,) * 8
        )
        last_success.add(feed_id, unit, _epoch(success))
        last_batch.add(feed_id, unit, _epoch(latest))
        for s in BATCH_STATUSES:
            last_status.add(feed_id, unit, s, 1.0 if s == status else 0.0)
        feed = catalog.feeds[feed_id]
        if feed.stale_after:
            stale_after.add(feed_id, unit, float(duration_seconds(feed.stale_after)))
        received.add(feed_id, unit, float(n_received or 0))
        loaded.add(feed_id, unit, float(n_loaded or 0))
        quarantined.add(feed_id, unit, float(n_quarantined or 0))
        repeated.add(feed_id, unit, float(n_repeated or 0))
        blocked.add(feed_id, unit, float(n_blocked or 0))
    counts = {(f, s): n for f, s, n in by_status}
    for feed_id, unit in owner.items():
        for s in BATCH_STATUSES:
            batches.add(feed_id, unit, s, float(counts.get((feed_id, s), 0)))
    for feed_id, check, severity, n in checks:
        if feed_id in owner and check in CHECKS and severity in ("blocking", "warning"):
            failures.add(feed_id, owner[feed_id], check, severity, float(n))
    return [
        last_success,
        last_batch,
        last_status,
        stale_after,
        batches,
        received,
        loaded,
        quarantined,
        repeated,
        blocked,
        failures,
        difference,
        checked,
        withdrawn,
    ]


def _report_families(con, catalog: Catalog) -> list[Family]:
    labels = ["feed", "unit", "period"]
    received = Family("ioc_report_received", "gauge", "1 if the unit's report for the period was received.", labels)
    on_time = Family("ioc_report_on_time", "gauge", "1 if it was received by its deadline.", labels)
    deadline = Family(
        "ioc_report_deadline_timestamp_seconds",
        "gauge",
        "The report's deadline (midnight after its due date, Asia/Ho_Chi_Minh).",
        labels,
    )
    lateness = Family(
        "ioc_report_workdays_late",
        "gauge",
        "Working days late (grows while the report is missing); 0 if on time or not yet due.",
        labels,
    )
    expected_total = Family(
        "ioc_reports_expected",
        "gauge",
        "Reports expected from the unit over the tracked periods past their deadline.",
        ["feed", "unit"],
    )
    received_total = Family("ioc_reports_received", "gauge", "Of those, reports received.", ["feed", "unit"])
    on_time_total = Family(
        "ioc_reports_received_on_time", "gauge", "Of those, reports received on time.", ["feed", "unit"]
    )
    families = [received, on_time, deadline, lateness, expected_total, received_total, on_time_total]
    if not table_exists(con, "marts", "report_status"):
        return families
    units, feeds = catalog.org_units.codes, set(catalog.feeds)
    for feed, unit, period, got, ok, due, late in con.execute("""
            SELECT feed, unit_code, period, received_at IS NOT NULL, coalesce(on_time, false), deadline_at,
                   lateness_working_days FROM marts.report_status ORDER BY ALL""").fetchall():
        if feed in feeds and unit in units:
            received.add(feed, unit, period, float(got))
            on_time.add(feed, unit, period, float(ok))
            deadline.add(feed, unit, period, _epoch(due))
            lateness.add(feed, unit, period, float(late or 0))
    if table_exists(con, "marts", "reporting_rates"):
        for feed, unit, expected, got, ok in con.execute(
            "SELECT feed, unit_code, expected, received, received_on_time FROM marts.reporting_rates"
        ).fetchall():
            if feed in feeds and unit in units:
                expected_total.add(feed, unit, float(expected))
                received_total.add(feed, unit, float(got))
                on_time_total.add(feed, unit, float(ok))
    return families


def _task_families(con, catalog: Catalog) -> list[Family]:
    labels = ["feed", "unit"]
    overdue = Family(
        "ioc_tasks_overdue", "gauge", "Directive tasks neither done nor cancelled past their due date.", labels
    )
    due_soon = Family("ioc_tasks_due_soon", "gauge", "Open directive tasks due within the feed's horizon.", labels)
    most_late = Family(
        "ioc_tasks_overdue_max_seconds",
        "gauge",
        "How long the unit's most overdue task is overdue (whole days).",
        labels,
    )
    next_due = Family(
        "ioc_tasks_next_due_timestamp_seconds",
        "gauge",
        "Due date (start of day, Asia/Ho_Chi_Minh) of the unit's next open task.",
        labels,
    )
    families = [overdue, due_soon, most_late, next_due]
    if not table_exists(con, "marts", "task_status"):
        return families
    units, feeds = catalog.org_units.codes, set(catalog.feeds)
    for feed, unit, n_overdue, n_soon, days, nxt in con.execute("""
            SELECT feed, unit_code, count(*) FILTER (WHERE state = 'overdue'),
                   count(*) FILTER (WHERE state = 'due_soon'),
                   coalesce(max(days_late) FILTER (WHERE state = 'overdue'), 0),
                   epoch(timezone('Asia/Ho_Chi_Minh', CAST(min(due_on) FILTER (WHERE state IN ('due_soon', 'open')) AS TIMESTAMP)))
            FROM marts.task_status GROUP BY ALL ORDER BY ALL""").fetchall():
        if feed in feeds and unit in units:
            overdue.add(feed, unit, float(n_overdue))
            due_soon.add(feed, unit, float(n_soon))
            most_late.add(feed, unit, float(days) * 86400)
            if nxt is not None:
                next_due.add(feed, unit, float(nxt))
    return families


def _kpi_families(con, catalog: Catalog) -> list[Family]:
    labels = ["kpi", "unit"]
    value = Family(
        "ioc_kpi_value",
        "gauge",
        "The KPI's value for its latest complete period, in its unit of "
        "measure (see ioc_kpi_info); absent when there is no data.",
        labels,
    )
    target = Family("ioc_kpi_target", "gauge", "The KPI's target for its latest complete period.", labels)
    status = Family(
        "ioc_kpi_status",
        "gauge",
        "1 for the KPI's status in its latest complete period (green, amber, red, no_data), 0 for the others.",
        ["kpi", "unit", "status"],
    )
    streak = Family("ioc_kpi_status_periods", "gauge", "Periods in a row the KPI has held its current status.", labels)
    escalated = Family(
        "ioc_kpi_escalated",
        "gauge",
        "1 if the KPI has been red (or amber) for its declared escalation periods in a row.",
        labels,
    )
    period_end = Family(
        "ioc_kpi_period_end_timestamp_seconds", "gauge", "End of the KPI's latest complete period.", labels
    )
    degraded = Family(
        "ioc_kpi_inputs_degraded",
        "gauge",
        "1 if the KPI's latest value was computed while a feed it "
        "reads was stale, had a blocked batch or had rows in quarantine for that unit and period.",
        labels,
    )
    info = Family(
        "ioc_kpi_info",
        "gauge",
        "A declared KPI: its owner, period type, direction, unit of measure and the feed it reads.",
        ["kpi", "owner", "period_type", "direction", "unit_of_measure", "feed"],
    )
    for kpi in catalog.kpis.values():
        info.add(
            kpi.id,
            kpi.owner,
            kpi.grain.period,
            kpi.direction,
            kpi.unit_of_measure,
            kpi.sources[0] if kpi.sources else "",
            1.0,
        )
    families = [value, target, status, streak, escalated, period_end, degraded, info]
    if not table_exists(con, "marts", "kpi_values"):
        return families
    units = catalog.org_units.codes
    # only complete periods (pipelines/kpi/completeness.py): a period still running is not judged, so no alert
    # rule ever sees it — a KPI whose every period is still running exports nothing yet
    for kpi, unit, v, t, s, n, esc, end, bad in con.execute("""
            SELECT kpi_id, unit_code, value, target, status, streak, escalated,
                   epoch(timezone('Asia/Ho_Chi_Minh', CAST(period_end + 1 AS TIMESTAMP))),
                   coalesce(inputs_degraded, false) FROM marts.kpi_values
            WHERE coalesce(period_state, 'complete') = 'complete'
            QUALIFY period = max(period) OVER (PARTITION BY kpi_id) ORDER BY ALL""").fetchall():
        if kpi not in catalog.kpis or unit not in units:
            continue
        if v is not None:
            value.add(kpi, unit, float(v))
        if t is not None:
            target.add(kpi, unit, float(t))
        for candidate in STATUSES:
            status.add(kpi, unit, candidate, 1.0 if candidate == s else 0.0)
        streak.add(kpi, unit, float(n or 0))
        escalated.add(kpi, unit, 1.0 if esc else 0.0)
        period_end.add(kpi, unit, float(end))
        degraded.add(kpi, unit, 1.0 if bad else 0.0)
    return families


def _submission_families(con, catalog: Catalog) -> list[Family]:
    """Files departments sent through the API, accepted or refused (ops.submissions)."""
    submitted = Family(
        "ioc_submissions",
        "counter",
        "Files departments submitted through the API, by outcome (accepted into the inbox, or refused).",
        ["feed", "unit", "status"],
    )
    last = Family(
        "ioc_submission_last_timestamp_seconds", "gauge", "When the unit last submitted a file.", ["feed", "unit"]
    )
    units = catalog.org_units.codes
    for feed_id, unit, status, n, at in con.execute(
        "SELECT feed, unit, status, count(*), max(submitted_at) FROM ops.submissions GROUP BY ALL"
    ).fetchall():
        if feed_id in catalog.feeds and unit in units:  # label values only from the declarations
            submitted.add(feed_id, unit, status, float(n))
            if status == "accepted":
                last.add(feed_id, unit, _epoch(at))
    return [submitted, last]


def _run_families(con, catalog: Catalog) -> list[Family]:
    labels = ["pipeline", "feed"]
    when = Family("ioc_pipeline_last_run_timestamp_seconds", "gauge", "When the pipeline stage last finished.", labels)
    duration = Family("ioc_pipeline_last_run_duration_seconds", "gauge", "How long its last run took.", labels)
    success = Family("ioc_pipeline_last_run_success", "gauge", "1 if its last run succeeded.", labels)
    feeds = set(catalog.feeds) | {""}
    for pipeline, feed, finished, seconds, ok in con.execute("""
            SELECT pipeline, coalesce(feed, ''), arg_max(finished_at, finished_at), arg_max(seconds, finished_at),
                   arg_max(success, finished_at) FROM ops.runs GROUP BY ALL ORDER BY ALL""").fetchall():
        if feed in feeds and pipeline in ("load", "deadlines", "kpis"):
            when.add(pipeline, feed, _epoch(finished))
            duration.add(pipeline, feed, float(seconds))
            success.add(pipeline, feed, 1.0 if ok else 0.0)
    return [when, duration, success]
