"""The wall's data: one snapshot of what the operations centre watches, read from the warehouse by
every writer's orchestrator (see `pipelines.snapshots`) and served by `/api/` without touching the warehouse.

Sections: the organisation units; every KPI with its recent periods per unit (tiles, sparklines,
drill-down); expected reports per unit and period (the timeliness grid); open directive tasks overdue
or due soon; and per feed its freshness, latest batches, failing checks and quarantine reasons.
Instants are ISO 8601 in UTC (the page shows them in Asia/Ho_Chi_Minh); days are ISO dates.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pipelines.calendar.deadlines import TIMEZONE, describe
from pipelines.deadlines.task_status import described_columns
from pipelines.declarations.base import duration_seconds
from pipelines.declarations.checks import CHECK_LABELS
from pipelines.declarations.indicators import indicator_catalogue
from pipelines.declarations.loading import Catalog
from pipelines.kpi.completeness import completion_rule
from pipelines.snapshots.files import iso
from pipelines.validate.messages import batch_text, check_text, column_label, reason_text, vietnamese_expected
from pipelines.warehouse import table_exists

SPARKLINE_PERIODS = 12  # at most this many recent periods per KPI and unit
RECENT_BATCHES = 20  # a feed's failing checks are those of its latest batches
FAILED_BATCHES_SHOWN = 5
QUARANTINE_REASONS_SHOWN = 5


def collect_wall(con, catalog: Catalog, now: datetime | None = None) -> dict:
    now = now or datetime.now(UTC)
    return {
        "generated_at": iso(now),
        "timezone": str(TIMEZONE),
        "province": catalog.org_units.province,
        "units": _units(catalog, now),
        "kpis": _kpis(con, catalog),
        "reports": _reports(con, catalog),
        "tasks": _tasks(con, catalog),
        "task_counts": _task_counts(con, catalog),
        "feeds": _feeds(con, catalog),
        "checks": CHECK_LABELS,
    }


def _units(catalog: Catalog, now: datetime) -> list[dict]:
    today = now.astimezone(TIMEZONE).date()
    return [
        {
            "code": u.code,
            "kind": u.kind,
            "parent": u.parent,
            "name": {"vi": u.vi, "en": u.en},
            "active": u.active_on(today),
            "successor": u.successor,
        }
        for u in catalog.org_units.units
    ]


def _kpis(con, catalog: Catalog) -> list[dict]:
    """Each KPI with its recent periods per unit. `latest_period` is the period shown by default — the latest
    complete one (pipelines/kpi/completeness.py; a KPI with none yet: its latest, running) — and
    `running_period` the period still running after it (the next to complete), shown beside it labelled "to
    date" (`to_date`: the day its value was computed) and not judged unless the KPI says it may be."""
    values: dict[str, dict[str, list]] = {}
    if table_exists(con, "marts", "kpi_values"):
        rows = con.execute(f"""
            SELECT kpi_id, unit_code, period, period_start, period_end, value, target, status, previous_value,
                   previous_status, streak, escalated, computed_at, inputs_degraded, stale_feeds, blocked_batches,
                   quarantined_rows, coalesce(period_state, 'complete'),
                   CAST(timezone('{TIMEZONE}', computed_at) AS DATE)
            FROM marts.kpi_values
            QUALIFY row_number() OVER (PARTITION BY kpi_id, unit_code ORDER BY period DESC) <= {SPARKLINE_PERIODS}
            ORDER BY kpi_id, unit_code, period""").fetchall()
        for (
            kpi_id,
            unit,
            period,
            start,
            end,
            value,
            target,
            status,
            prev_value,
            prev_status,
            streak,
            escalated,
            computed,
            degraded,
            stale,
            blocked,
            quarantined,
            state,
            local_day,
        ) in rows:
            values.setdefault(kpi_id, {}).setdefault(unit, []).append(
                {
                    "period": period,
                    "start": iso(start),
                    "end": iso(end),
                    "value": value,
                    "target": target,
                    "status": status,
                    "previous_value": prev_value,
                    "previous_status": prev_status,
                    "streak": streak,
                    "escalated": bool(escalated),
                    "computed_at": iso(computed),
                    # complete, or running: its value goes to the day it was computed ("đến ngày 03/12")
                    "period_state": state,
                    "to_date": iso(local_day) if state == "running" else None,
                    # can the value be trusted: what its feeds had when it was computed (null: not known)
                    "inputs": None
                    if degraded is None
                    else {
                        "degraded": bool(degraded),
                        "stale_feeds": list(stale or []),
                        "blocked_batches": blocked or 0,
                        "quarantined_rows": quarantined or 0,
                    },
                }
            )
    kpis = []
    for kpi in catalog.kpis.values():
        by_unit = values.get(kpi.id, {})
        periods = {p["period"]: p["period_state"] for series in by_unit.values() for p in series}
        complete = [p for p, state in periods.items() if state == "complete"]
        latest_period = max(complete or periods, default=None)
        running_period = (
            min((p for p, state in periods.items() if state == "running" and p > latest_period), default=None)
            if latest_period
            else None
        )
        kpis.append(
            {
                "id": kpi.id,
                "name": kpi.name.model_dump(),
                "description": kpi.description.model_dump(),
                "owner": kpi.owner,
                "sources": kpi.sources,
                "reference": kpi.reference,
                "period_type": kpi.grain.period,
                "unit_kinds": kpi.grain.units,
                "unit_of_measure": kpi.unit_of_measure,
                "direction": kpi.direction,
                "decimals": kpi.decimals,
                "target": kpi.target,
                "thresholds": kpi.thresholds.model_dump(),
                "escalation": kpi.escalation.model_dump(),
                "period_complete": completion_rule(kpi, catalog),
                "judge_running": kpi.judge_running,
                "latest_period": latest_period,
                "running_period": running_period,
                # a socio-economic indicator from the departments' forms (its own panel on the wall), or None
                "indicator": _indicator(kpi, catalog),
                # a unit's series counts if it has the period shown (units closed before it are history)
                "units": {
                    unit: series
                    for unit, series in by_unit.items()
                    if any(p["period"] == latest_period for p in series)
                },
            }
        )
    return kpis


def _indicator(kpi, catalog: Catalog) -> dict | None:
    """What a KPI on a form's indicator reads: the feed, the indicator (its names and unit) and the value."""
    ref = kpi.indicator
    if ref is None:
        return None
    # the catalog's checks: an indicator's feed is a form's, and its code is in the form's catalogue
    form = catalog.feed(ref.feed).form
    assert form is not None
    indicator = indicator_catalogue(form.catalogue).get(ref.code)
    assert indicator is not None
    return {
        "feed": ref.feed,
        "code": ref.code,
        "value": ref.value,
        "catalogue": form.catalogue,
        "name": {"vi": indicator.vi, "en": indicator.en},
        "unit": indicator.unit,
    }


def _reports(con, catalog: Catalog) -> list[dict]:
    if not table_exists(con, "marts", "report_status"):
        return []
    rows = con.execute("""
        SELECT feed, unit_code, period, due_date, deadline_at, received_at, status, lateness_working_days
        FROM marts.report_status ORDER BY feed, period, unit_code""").fetchall()
    feeds: dict[str, dict] = {}
    for feed_id, unit, period, due, deadline, received, status, late in rows:
        if feed_id not in catalog.feeds:
            continue
        feed = catalog.feeds[feed_id]
        reporting = feed.reporting
        assert reporting is not None  # marts.report_status holds the rows of the feeds that declare their reporting
        entry = feeds.setdefault(
            feed_id,
            {
                "feed": feed_id,
                "name": feed.name.model_dump(),
                "owner": feed.owner,
                "period_type": reporting.period_type,
                "deadline_rule": describe(reporting.deadline),
                "escalate_after_working_days": reporting.escalate_after_working_days,
                "periods": {},
                "units": {},
            },
        )
        entry["periods"][period] = {"period": period, "due_date": iso(due), "deadline_at": iso(deadline)}
        entry["units"].setdefault(unit, {})[period] = {
            "status": status,
            "working_days_late": late,
            "received_at": iso(received),
        }
    return [
        {
            **entry,
            "periods": list(entry["periods"].values()),
            "units": [{"unit": unit, "cells": cells} for unit, cells in sorted(entry["units"].items())],
        }
        for entry in feeds.values()
    ]


TASKS_PER_UNIT = 50  # the worst overdue and the soonest due tasks of each unit kept in the snapshot


def _tasks(con, catalog: Catalog) -> list[dict]:
    """Each unit's worst overdue and soonest due tasks (at most TASKS_PER_UNIT of each), worst first: what a
    screen can show, whatever the number of tasks; _task_counts has the totals."""
    if not table_exists(con, "marts", "task_status"):
        return []
    optional = described_columns(con)
    rows = con.execute(f"""
        SELECT feed, task_id, title, unit_code, {optional}, due_on, state, days_late, working_days_late,
               days_until_due
        FROM marts.task_status WHERE state IN ('overdue', 'due_soon')
        QUALIFY row_number() OVER (PARTITION BY unit_code, state
                                   ORDER BY days_late DESC NULLS LAST, days_until_due, due_on, task_id) <= {TASKS_PER_UNIT}
        ORDER BY state = 'overdue' DESC, days_late DESC NULLS LAST, days_until_due, due_on, task_id""").fetchall()
    keys = (
        "feed",
        "task_id",
        "title",
        "unit",
        "source_document",
        "assigned_by",
        "due_on",
        "state",
        "days_late",
        "working_days_late",
        "days_until_due",
    )
    return [{**dict(zip(keys, row, strict=False)), "due_on": iso(row[6])} for row in rows if row[0] in catalog.feeds]


def _task_counts(con, catalog: Catalog) -> dict:
    """Tasks overdue and due soon, in all and per unit (the snapshot lists only each unit's worst)."""
    counts: dict[str, Any] = {"overdue": 0, "due_soon": 0, "units": {}}
    if not table_exists(con, "marts", "task_status"):
        return counts
    for feed, unit, state, n in con.execute(
        "SELECT feed, unit_code, state, count(*) FROM marts.task_status "
        "WHERE state IN ('overdue', 'due_soon') GROUP BY ALL"
    ).fetchall():
        if feed in catalog.feeds:
            counts[state] += n
            counts["units"].setdefault(unit, {"overdue": 0, "due_soon": 0})[state] += n
    return counts


def _feeds(con, catalog: Catalog) -> list[dict]:
    totals = {
        row[0]: row[1:]
        for row in con.execute("""
        SELECT feed, count(*), count(*) FILTER (WHERE status = 'failed'), sum(rows_received), sum(rows_loaded),
               sum(rows_quarantined),
               max(loaded_at) FILTER (WHERE status IN ('loaded', 'partial', 'duplicate', 'empty')),
               max(received_at)
        FROM ops.batches GROUP BY feed""").fetchall()
    }
    latest = {
        row[0]: row[1:]
        for row in con.execute("""
        SELECT feed, batch_id, received_at, status, file_name, source_uri, rows_received, rows_loaded,
               rows_quarantined, error
        FROM ops.batches QUALIFY row_number() OVER (PARTITION BY feed ORDER BY received_at DESC, batch_id) = 1
        """).fetchall()
    }
    words = vietnamese_expected(catalog)
    failed: dict[str, list] = {}
    for feed_id, at, file_name, source, error, error_vi in con.execute(f"""
            SELECT feed, received_at, file_name, source_uri, error, error_vi FROM ops.batches WHERE status = 'failed'
            QUALIFY row_number() OVER (PARTITION BY feed ORDER BY received_at DESC) <= {FAILED_BATCHES_SHOWN}
            ORDER BY feed, received_at DESC""").fetchall():
        failed.setdefault(feed_id, []).append(
            {"at": iso(at), "file": file_name, "source": source, "error": error, "text": batch_text(error, error_vi)}
        )
    checks: dict[str, list] = {}
    for feed_id, check, column, severity, batches, at, file_name, expected, observed, error, count in con.execute(f"""
            WITH recent AS (
                SELECT batch_id, feed, file_name FROM ops.batches
                QUALIFY row_number() OVER (PARTITION BY feed ORDER BY received_at DESC) <= {RECENT_BATCHES})
            SELECT v.feed, v.check_name, v.column_name, v.severity, count(DISTINCT v.batch_id),
                   max(v.run_at), arg_max(r.file_name, v.run_at), arg_max(v.expected, v.run_at),
                   arg_max(v.observed, v.run_at), arg_max(v.error, v.run_at), arg_max(v.unexpected_count, v.run_at)
            FROM ops.validation_results v JOIN recent r USING (batch_id)
            WHERE NOT v.success
            GROUP BY v.feed, v.check_id, v.check_name, v.column_name, v.severity
            ORDER BY v.feed, v.severity, max(v.run_at) DESC""").fetchall():
        checks.setdefault(feed_id, []).append(
            {
                "check": check,
                "column": column,
                "severity": severity,
                "batches": batches,
                "last_at": iso(at),
                "file": file_name,
                "expected": expected,
                "observed": observed,
                "error": error,
                "unexpected_count": count,
                "column_label": column_label(catalog, feed_id, column),
                "text": check_text(feed_id, expected, observed, error, words),
            }
        )
    reasons: dict[str, list] = {}
    quarantined_open: dict[str, int] = dict(
        con.execute("SELECT feed, count(*) FROM ops.quarantine WHERE status = 'open' GROUP BY feed").fetchall()
    )
    for feed_id, check, column, rows, (message, expected, actual, uri, row), last in con.execute(f"""
            WITH reasons AS (SELECT feed, quarantined_at, source_uri, source_row, unnest(reasons) AS r
                             FROM ops.quarantine WHERE status = 'open')
            SELECT feed, r.check_name, r.column_name, count(*),
                   arg_max([r.message, r.expected, r.actual, source_uri, CAST(source_row AS VARCHAR)],
                           quarantined_at),
                   max(quarantined_at)
            FROM reasons GROUP BY feed, r.check_name, r.column_name
            QUALIFY row_number() OVER (PARTITION BY feed ORDER BY count(*) DESC, r.check_name)
                    <= {QUARANTINE_REASONS_SHOWN}
            ORDER BY feed, count(*) DESC""").fetchall():
        reasons.setdefault(feed_id, []).append(
            {
                "check": check,
                "column": column,
                "rows": rows,
                "message": message,
                "last_at": iso(last),
                "column_label": column_label(catalog, feed_id, column),
                "text": reason_text(
                    feed_id,
                    check,
                    column_label(catalog, feed_id, column),
                    expected,
                    actual,
                    uri,
                    None if row is None else int(row),
                    words,
                ),
            }
        )
    reconciled = {
        feed_id: {"source_count": source, "warehouse_count": held, "difference": difference, "checked_at": iso(at)}
        for feed_id, source, held, difference, at in con.execute("""
                      SELECT feed, source_count, warehouse_count, difference, checked_at FROM ops.reconciliations
                      QUALIFY row_number() OVER (PARTITION BY feed ORDER BY checked_at DESC) = 1""").fetchall()
    }
    withdrawn = dict(con.execute("SELECT feed, count(*) FROM ops.withdrawals GROUP BY feed").fetchall())
    feeds = []
    for feed in catalog.feeds.values():
        n, n_failed, received, loaded, quarantined, success, last_received = totals.get(feed.id, (0, 0) + (None,) * 5)
        batch = latest.get(feed.id)
        feeds.append(
            {
                "id": feed.id,
                "name": feed.name.model_dump(),
                "owner": feed.owner,
                "source_kind": feed.source.kind,
                "schedule": feed.schedule,
                "submissions": (lambda rules: rules and {"max_bytes": rules.max_bytes, "file_types": rules.file_types})(
                    getattr(feed.source, "submissions", None)
                ),
                "stale_after_seconds": duration_seconds(feed.stale_after) if feed.stale_after else None,
                "last_success_at": iso(success),
                "last_received_at": iso(last_received),
                "batches": n,
                "failed_batch_count": n_failed,
                "rows_received": received or 0,
                "rows_loaded": loaded or 0,
                "rows_quarantined": quarantined or 0,
                "quarantine_open": quarantined_open.get(feed.id, 0),
                "latest_batch": None
                if batch is None
                else dict(
                    zip(
                        (
                            "batch_id",
                            "received_at",
                            "status",
                            "file",
                            "source",
                            "rows_received",
                            "rows_loaded",
                            "rows_quarantined",
                            "error",
                        ),
                        (batch[0], iso(batch[1]), *batch[2:]),
                        strict=False,
                    )
                ),
                "failing_checks": checks.get(feed.id, []),
                "quarantine_reasons": reasons.get(feed.id, []),
                "reconciliation": reconciled.get(feed.id),
                "withdrawn": withdrawn.get(feed.id, 0),
                "failed_batches": failed.get(feed.id, []),  # the latest FAILED_BATCHES_SHOWN of them
            }
        )
    return feeds
