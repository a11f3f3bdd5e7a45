"""When a KPI's period means something: complete (shown and judged by default) or still running (shown only
labelled "to date", and not judged against the target unless the KPI declares `judge_running`).

Each KPI has a rule (its declared `period_complete`, else inferred from its measure and sources):

- `deadline`: a period of a report-based KPI is complete once its reports are due — the `reporting.deadline` of
  every source feed that declares one has passed for every report period within it
  (pipelines/calendar/deadlines.py); before, a rate of the reports received so far says nothing yet.
- `period_end`: a KPI over dated records is complete once its period has ended (local time).
- `reported`: the latest period reported — a period is complete once it, or a later period, has data.
- `now`: a snapshot (a state as of now) — its current period is the value, complete as soon as computed.

The state is stored with each value (marts.kpi_values.period_state) and every surface (the wall, the API,
`ioc kpi show`, the metrics and their alerts, the briefing) shows by default each KPI's latest complete period.
"""

from __future__ import annotations

from datetime import date, datetime

import polars as pl

from pipelines.calendar.deadlines import TIMEZONE, deadline_at
from pipelines.calendar.periods import periods_between
from pipelines.declarations.kpis import Kpi, RatioOfKpis
from pipelines.declarations.loading import Catalog

COMPLETE, RUNNING = "complete", "running"
PERIOD_STATES = (COMPLETE, RUNNING)
NOT_JUDGED = "running"  # the status of a running period's value that may not be judged
JUDGED = ("green", "amber", "red")


def completion_rule(kpi: Kpi, catalog: Catalog) -> str:
    """The KPI's rule: declared, or the measure kind's own default, or inferred — `now` for a snapshot (a ratio
    of two KPIs: its inputs' rule when they share one), `deadline` when a source feed declares a reporting
    deadline, else `period_end`."""
    if kpi.period_complete:
        return kpi.period_complete
    measure = kpi.measure
    default = getattr(type(measure), "default_period_complete", None)
    if default:
        return default
    if kpi.is_snapshot:
        return "now"
    if isinstance(measure, RatioOfKpis):
        inputs = {
            completion_rule(catalog.kpis[k], catalog)
            for k in (measure.numerator, measure.denominator)
            if k in catalog.kpis
        }
        if len(inputs) == 1:
            return inputs.pop()
    if _reporting_feeds(kpi, catalog):
        return "deadline"
    return "period_end"


def _reporting_feeds(kpi: Kpi, catalog: Catalog) -> list:
    return [catalog.feeds[s] for s in kpi.sources if s in catalog.feeds and catalog.feeds[s].reporting is not None]


def check_rule(kpi: Kpi, catalog: Catalog) -> None:
    """ValueError when the KPI's rule cannot apply (a `deadline` with no source feed declaring one)."""
    if completion_rule(kpi, catalog) == "deadline" and not _reporting_feeds(kpi, catalog):
        raise ValueError(
            f"KPI {kpi.id}: period_complete 'deadline' needs a source feed that declares "
            f"`reporting:` with a deadline (sources: {', '.join(kpi.sources) or 'none'}); "
            "declare period_end or reported instead"
        )


def reports_due_at(kpi: Kpi, catalog: Catalog, start: date, end: date) -> datetime | None:
    """The moment the period's reports are all due: the latest deadline of the source feeds' report periods
    within it (None: no source feed reports within it)."""
    deadlines = []
    for feed in _reporting_feeds(kpi, catalog):
        rule = feed.reporting
        for period in periods_between(rule.period_type, start, end):
            deadlines.append(deadline_at(period, rule.deadline))
    return max(deadlines) if deadlines else None


def period_states(kpi: Kpi, catalog: Catalog, rows: pl.DataFrame, now: datetime) -> pl.Series:
    """`complete` or `running` for each row of one KPI (columns period, period_start, period_end, value), as
    of `now`."""
    rule = completion_rule(kpi, catalog)
    if rows.is_empty():
        return pl.Series("period_state", [], pl.String)
    if rule == "now":
        return pl.Series("period_state", [COMPLETE] * rows.height, pl.String)
    if rule == "reported":
        reported = rows.filter(pl.col("value").is_not_null())["period_end"].max()
        return pl.Series(
            "period_state",
            [
                COMPLETE if reported is not None and end is not None and end <= reported else RUNNING
                for end in rows["period_end"]
            ],
            pl.String,
        )
    today = now.astimezone(TIMEZONE).date()
    if rule == "period_end":
        return pl.Series(
            "period_state",
            [COMPLETE if end is not None and end < today else RUNNING for end in rows["period_end"]],
            pl.String,
        )
    check_rule(kpi, catalog)
    due: dict[tuple, datetime | None] = {}
    states = []
    for start, end in zip(rows["period_start"], rows["period_end"], strict=False):
        if (start, end) not in due:
            due[(start, end)] = reports_due_at(kpi, catalog, start, end) if start and end else None
        moment = due[(start, end)]
        if moment is None:  # no report period of the sources within it: complete when it ends
            states.append(COMPLETE if end is not None and end < today else RUNNING)
        else:
            states.append(COMPLETE if now >= moment else RUNNING)
    return pl.Series("period_state", states, pl.String)


def judged(kpi: Kpi, catalog: Catalog, rows: pl.DataFrame, now: datetime) -> pl.DataFrame:
    """The rows of one KPI with their period_state (kept where already stored, derived as of `now` where not)
    and a running period's value left unjudged (status `running`) unless the KPI declares judge_running. A
    row without a value stays `no_data`, running or not."""
    derived = period_states(kpi, catalog, rows, now)
    rows = rows.with_columns(period_state=pl.coalesce(pl.col("period_state"), pl.lit(derived)))
    if kpi.judge_running:
        return rows
    unjudged = (pl.col("period_state") == RUNNING) & pl.col("status").is_in(list(JUDGED))
    return rows.with_columns(status=pl.when(unjudged).then(pl.lit(NOT_JUDGED)).otherwise(pl.col("status")))
