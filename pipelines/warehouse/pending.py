"""What a load or a deadline refresh changed, recorded in ops.kpi_pending for the KPI computation after it
(pipelines/kpi/pending.py reads it): written in the writer's own transaction, so nothing it changed goes
unrecorded and a load run again records nothing twice (a batch already loaded is not loaded again).

A row says one of two things about a source (a feed's id, or a mart the deadline refresh rebuilt:
marts.report_status):
- ROWS: rows of the source changed — the unit's (unit_code; NULL: units not known) that count for a day within
  first_day … last_day (NULL: any day). Each version of a row counts, the one replaced as the one written, and
  the span is widened by a day each side (a timestamp's local date may be the day before or after its UTC one).
- INPUTS: only the batch's record changed (its status, its quarantined rows, the feed's freshness): what the KPIs
  reading the source say of their inputs' health.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from pipelines.warehouse.sql import literal

PENDING = "ops.kpi_pending"
ROWS, INPUTS = "rows", "inputs"
COLUMNS = "source, batch_id, what, unit_code, first_day, last_day, recorded_at"


def record_rows(
    con, source: str, batch_id: str | None, relation: str, unit: str | None, spans: list[tuple[str, str]], at: datetime
) -> None:
    """Record the rows of `relation` (SQL of a table or subquery) as changed: grouped by `unit` (SQL; None: not
    known), each spanning the days of `spans` (SQL of a first and a last DATE of each row; none: any day)."""
    unit_sql = f"CAST({unit} AS VARCHAR)" if unit else "CAST(NULL AS VARCHAR)"
    if spans:
        first = f"min(least({', '.join(f for f, _ in spans)})) - 1"
        last = f"max(greatest({', '.join(t for _, t in spans)})) + 1"
    else:
        first = last = "CAST(NULL AS DATE)"
    con.execute(
        f"INSERT INTO {PENDING} ({COLUMNS}) "
        f"SELECT {literal(source)}, {literal(batch_id) if batch_id else 'NULL'}, {literal(ROWS)}, _unit, "
        f"CAST(_first AS DATE), CAST(_last AS DATE), {literal(at.isoformat())}::TIMESTAMPTZ "
        f"FROM (SELECT {unit_sql} AS _unit, {first} AS _first, {last} AS _last FROM {relation} AS r GROUP BY ALL HAVING count(*) > 0)"
    )


def record_spans(con, source: str, batch_id: str | None, spans: pl.DataFrame, at: datetime) -> None:
    """Record changed rows given as a frame of (unit_code, first_day, last_day)."""
    if spans.is_empty():
        return
    con.register("_pending_spans", spans.select("unit_code", "first_day", "last_day"))
    try:
        con.execute(
            f"INSERT INTO {PENDING} ({COLUMNS}) "
            f"SELECT {literal(source)}, {literal(batch_id) if batch_id else 'NULL'}, {literal(ROWS)}, "
            f"CAST(unit_code AS VARCHAR), CAST(first_day AS DATE), CAST(last_day AS DATE), "
            f"{literal(at.isoformat())}::TIMESTAMPTZ FROM _pending_spans"
        )
    finally:
        con.unregister("_pending_spans")


def record_all(con, source: str, batch_id: str | None, what: str, at: datetime) -> None:
    """Record a change of the whole source (ROWS: any unit, any day) or of its batch record alone (INPUTS)."""
    con.execute(
        f"INSERT INTO {PENDING} ({COLUMNS}) VALUES ({literal(source)}, "
        f"{literal(batch_id) if batch_id else 'NULL'}, {literal(what)}, NULL, NULL, NULL, "
        f"{literal(at.isoformat())}::TIMESTAMPTZ)"
    )
