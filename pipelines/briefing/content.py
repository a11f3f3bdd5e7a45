"""What the month's briefing says, read from the warehouse: the province's KPIs with status and change,
the reports received late or still missing by department, the overdue directive tasks by unit and assigning
document, and notes on data quality. Its number is kept in ops.briefings, so generating it again for the same
month gives the same number and date (and a new month the next number of the year)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from pipelines.calendar.deadlines import TIMEZONE
from pipelines.calendar.periods import Period, parse_period
from pipelines.deadlines.task_status import described_columns
from pipelines.declarations.base import duration_seconds
from pipelines.declarations.briefing import Briefing
from pipelines.declarations.indicators import indicator_catalogue
from pipelines.declarations.kpis import Kpi
from pipelines.declarations.loading import Catalog
from pipelines.text import vi_number
from pipelines.warehouse import committed, table_exists
from pipelines.wording import text

KIND = "monthly"


@dataclass
class KpiLine:
    kpi_id: str
    name: str
    unit_of_measure: str
    decimals: int
    period: str | None
    value: float | None
    target: float | None
    status: str
    previous_value: float | None
    degraded: bool
    why_degraded: str | None
    period_state: str = "complete"  # running: shown only because no period of the KPI is complete yet
    to_date: date | None = None  # a running period's value goes to this day
    # the KPI's period covering the month, when it is still running: its value to date, not judged
    running_period: str | None = None
    running_value: float | None = None
    running_to_date: date | None = None
    running_status: str | None = None  # `running`, or judged when the KPI declares judge_running
    # a KPI on a form's indicator: the department that reports it, and the figures behind the value as reported
    # ("lũy kế 80.000 tỷ đồng, kế hoạch năm 100.000 tỷ đồng")
    reported_by: str | None = None
    figures: str | None = None

    @property
    def change(self) -> float | None:
        if self.value is None or self.previous_value is None:
            return None
        return self.value - self.previous_value


@dataclass
class ReportLine:
    unit: str
    unit_name: str
    feed_name: str
    period: str
    status: str
    due_date: date
    received_at: datetime | None
    working_days_late: int


@dataclass
class TaskLine:
    unit: str
    unit_name: str
    source_document: str | None
    task_id: str
    title: str
    assigned_by: str | None
    due_on: date
    days_late: int


@dataclass
class QualityLine:
    feed: str
    feed_name: str
    owner: str
    batches: int
    failed_batches: int
    rows_received: int
    rows_quarantined: int
    quarantine_open: int
    stale: bool


@dataclass
class Monthly:
    """One month's briefing."""

    period: Period
    number: int
    issued_on: date
    as_of: datetime  # the data as of this moment (the KPIs' latest computation, or now)
    letterhead: Briefing
    province: str
    province_name: str
    kpis: list[KpiLine] = field(default_factory=list)
    indicators: list[KpiLine] = field(default_factory=list)  # the socio-economic indicators from the forms
    reports: list[ReportLine] = field(default_factory=list)
    tasks: list[TaskLine] = field(default_factory=list)
    quality: list[QualityLine] = field(default_factory=list)

    @property
    def reference(self) -> str:
        return f"{self.number}/{self.letterhead.symbol}"

    @property
    def month_words(self) -> str:
        return text("briefing.month", month=self.period.start.month, year=self.period.start.year)


def monthly(con, catalog: Catalog, period: str, now: datetime | None = None) -> Monthly:
    """The briefing of one month (2026-11). Reads the marts and ops tables; records its number."""
    try:
        month = parse_period("monthly", period)
    except ValueError as exc:
        raise ValueError(f"--period {period!r}: {exc}") from None
    now = now or datetime.now(UTC)
    units = catalog.org_units
    names = {u.code: u.vi for u in units.units}
    number, issued_on = _number(con, month, now)
    b = Monthly(
        period=month,
        number=number,
        issued_on=issued_on,
        as_of=now,
        letterhead=catalog.letterhead,
        province=units.province,
        province_name=names.get(units.province, units.province),
    )
    lines, computed = _kpis(con, catalog, month)
    b.kpis = [k for k in lines if catalog.kpis[k.kpi_id].indicator is None]
    b.indicators = [k for k in lines if catalog.kpis[k.kpi_id].indicator is not None]
    b.as_of = computed or now
    b.reports = _reports(con, catalog, month, names)
    b.tasks = _tasks(con, names)
    b.quality = _quality(con, catalog, month, now)
    return b


def _number(con, month: Period, now: datetime) -> tuple[int, date]:
    """The briefing's number in its year and its date: kept from its first issue."""
    found = con.execute(
        "SELECT number, issued_on FROM ops.briefings WHERE kind = ? AND period = ?", [KIND, month.key]
    ).fetchall()
    if found:
        return found[0][0], found[0][1]
    issued = now.astimezone(TIMEZONE).date()
    year = str(month.start.year)

    def record() -> int:
        (taken,) = con.execute(
            "SELECT coalesce(max(number), 0) FROM ops.briefings WHERE kind = ? AND starts_with(period, ?)", [KIND, year]
        ).fetchone()
        con.execute(
            "INSERT INTO ops.briefings (kind, period, number, issued_on, generated_at) VALUES (?, ?, ?, ?, ?)",
            [KIND, month.key, taken + 1, issued, now],
        )
        return taken + 1

    holder: list[int] = []
    committed(con, lambda: holder.append(record()))
    return holder[-1], issued


def _kpis(con, catalog: Catalog, month: Period) -> tuple[list[KpiLine], datetime | None]:
    """The watched unit's value of each KPI: its latest complete period up to the month (the month itself once
    it is complete; a daily KPI: its last complete day in the month), as every surface shows by default; and
    when the KPI's period covering the month is still running, its value to date beside it, not judged."""
    if not table_exists(con, "marts", "kpi_values"):
        return [], None
    columns = """kpi_id, period, value, target, status, previous_value, coalesce(inputs_degraded, false),
                 stale_feeds, blocked_batches, quarantined_rows, computed_at, coalesce(period_state, 'complete'),
                 CAST(timezone('Asia/Ho_Chi_Minh', computed_at) AS DATE), numerator, denominator"""
    province = catalog.org_units.province
    # complete periods first, then the latest: a KPI with no complete period up to the month shows its running one
    rows = {
        r[0]: r
        for r in con.execute(
            f"""
        SELECT {columns} FROM marts.kpi_values
        WHERE unit_code = ? AND period_start <= ?
        QUALIFY row_number() OVER (PARTITION BY kpi_id ORDER BY coalesce(period_state, 'complete') = 'complete' DESC,
                                                                 period_end DESC) = 1""",
            [province, month.end],
        ).fetchall()
    }
    covering = {
        r[0]: r
        for r in con.execute(
            f"""
        SELECT {columns} FROM marts.kpi_values
        WHERE unit_code = ? AND period_start <= ? AND period_end >= ? AND period_state = 'running'
        QUALIFY row_number() OVER (PARTITION BY kpi_id ORDER BY period_end DESC) = 1""",
            [province, month.end, month.start],
        ).fetchall()
    }
    lines, computed = [], None
    for kpi in catalog.kpis.values():
        row = rows.get(kpi.id)
        if row is None:
            lines.append(
                KpiLine(
                    kpi.id,
                    kpi.name.vi,
                    kpi.unit_of_measure,
                    kpi.decimals,
                    None,
                    None,
                    None,
                    "no_data",
                    None,
                    False,
                    None,
                )
            )
            continue
        _, period, value, target, status, previous, degraded, stale, blocked, quarantined, at, state, day = row[:13]
        computed = at if computed is None or at > computed else computed
        why = [
            text("briefing.why.quarantined", n=int(quarantined)) if quarantined else "",
            text("briefing.why.blocked", n=int(blocked)) if blocked else "",
            text(
                "briefing.why.stale",
                feeds=", ".join(catalog.feeds[f].name.vi for f in stale or [] if f in catalog.feeds),
            )
            if stale
            else "",
        ]
        line = KpiLine(
            kpi.id,
            kpi.name.vi,
            kpi.unit_of_measure,
            kpi.decimals,
            period,
            value,
            target,
            status,
            previous,
            bool(degraded),
            "; ".join(w for w in why if w) or None,
            state,
            day if state == "running" else None,
        )
        if kpi.indicator is not None:
            line.reported_by, line.figures = _figures(catalog, kpi, row[13], row[14])
        pending = covering.get(kpi.id)
        if pending is not None and pending[1] != period and pending[2] is not None:
            line.running_period, line.running_value, line.running_status = pending[1], pending[2], pending[4]
            line.running_to_date = pending[12]
        lines.append(line)
    return lines, computed


def _figures(catalog: Catalog, kpi: Kpi, numerator: float | None, denominator: float | None) -> tuple[str, str | None]:
    """Who reports a KPI's indicator, and the figures its value is made of, in the indicator's own unit."""
    ref = kpi.indicator
    assert ref is not None, "asked of a KPI on an indicator only"
    # the catalog's checks: an indicator's feed is a form's, and its code is in the form's catalogue
    form = catalog.feed(ref.feed).form
    assert form is not None, f"{ref.feed!r} is checked to be a form's feed"
    indicator = indicator_catalogue(form.catalogue).get(ref.code)
    assert indicator is not None, f"{ref.code!r} is checked to be in catalogue {form.catalogue}"
    owner = catalog.org_units.get(kpi.owner)
    by = owner.vi if owner else kpi.owner
    if numerator is None:
        return by, None

    def figure(x: float) -> str:
        return vi_number(x, 0 if float(x).is_integer() else 1)

    # the figure by what the KPI reads of the indicator (month, ytd, plan_year, ytd_vs_plan, month_vs_plan…)
    said = [text(f"briefing.figure.{ref.value}", value=figure(numerator), unit=indicator.unit)]
    if denominator is not None and ref.value.endswith("_vs_plan"):
        said.append(text("briefing.figure.plan_year", value=figure(denominator), unit=indicator.unit))
    elif denominator is not None:
        said.append(text("briefing.figure.same_period_last_year", value=figure(denominator), unit=indicator.unit))
    return by, ", ".join(said)


def _reports(con, catalog: Catalog, month: Period, names: dict[str, str]) -> list[ReportLine]:
    """The month's reports received late or missing, and earlier months' still missing, by department."""
    if not table_exists(con, "marts", "report_status"):
        return []
    rows = con.execute(
        """
        SELECT unit_code, feed, period, status, due_date, received_at, lateness_working_days
        FROM marts.report_status
        WHERE period_type = 'monthly' AND ((period = ? AND status IN ('late', 'missing'))
                                           OR (period < ? AND status = 'missing'))
        ORDER BY unit_code, period, feed""",
        [month.key, month.key],
    ).fetchall()
    return [
        ReportLine(
            unit,
            names.get(unit, unit),
            catalog.feeds[feed].name.vi if feed in catalog.feeds else feed,
            period,
            status,
            due,
            received,
            late or 0,
        )
        for unit, feed, period, status, due, received, late in rows
    ]


def _tasks(con, names: dict[str, str]) -> list[TaskLine]:
    """The directive tasks overdue now, by unit and assigning document, the most overdue first."""
    if not table_exists(con, "marts", "task_status"):
        return []
    optional = described_columns(con)
    rows = con.execute(f"""
        SELECT unit_code, {optional}, task_id, title, due_on, days_late FROM marts.task_status
        WHERE state = 'overdue' ORDER BY unit_code, source_document NULLS LAST, days_late DESC, task_id""").fetchall()
    return [
        TaskLine(unit, names.get(unit, unit), document, task, title, by, due, late or 0)
        for unit, document, by, task, title, due, late in rows
    ]


def _quality(con, catalog: Catalog, month: Period, now: datetime) -> list[QualityLine]:
    """Per feed: the month's batches (failed ones), rows received and quarantined, rows still in quarantine,
    and whether it is stale now."""
    start = datetime.combine(month.start, time(0), TIMEZONE)
    end = datetime.combine(month.end + timedelta(days=1), time(0), TIMEZONE)
    batches = {
        r[0]: r[1:]
        for r in con.execute(
            """
        SELECT feed, count(*), count(*) FILTER (WHERE status = 'failed'), coalesce(sum(rows_received), 0),
               coalesce(sum(rows_quarantined), 0)
        FROM ops.batches WHERE received_at >= ? AND received_at < ? GROUP BY feed""",
            [start, end],
        ).fetchall()
    }
    held = dict(con.execute("SELECT feed, count(*) FROM ops.quarantine WHERE status = 'open' GROUP BY feed").fetchall())
    last = dict(
        con.execute(
            "SELECT feed, max(loaded_at) FROM ops.batches "
            "WHERE status IN ('loaded', 'partial', 'duplicate', 'empty') GROUP BY feed"
        ).fetchall()
    )
    lines = []
    for feed in catalog.feeds.values():
        n, failed, received, quarantined = batches.get(feed.id, (0, 0, 0, 0))
        success = last.get(feed.id)
        stale = feed.stale_after is not None and (
            success is None or (now - success).total_seconds() > duration_seconds(feed.stale_after)
        )
        lines.append(
            QualityLine(
                feed.id, feed.name.vi, feed.owner, n, failed, received, quarantined, held.get(feed.id, 0), stale
            )
        )
    return lines


def latest_complete_month(now: datetime | None = None) -> str:
    """The latest month that has ended (on 3 December: November), the briefing's month by default: the month
    whose KPIs mean something, not the one three days old."""
    first = (now or datetime.now(UTC)).astimezone(TIMEZONE).date().replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")
