"""Typed models of KPI declarations (schemas/kpis/*.yaml): what is measured, at which grain, and
when it is green, amber or red. Compiled to SQL by pipelines.kpi.compile."""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from pipelines.declarations.base import Strict
from pipelines.declarations.models import IDENTIFIER, Names, UnitKind

PeriodType = Literal["daily", "weekly", "monthly", "quarterly", "half_year", "nine_month", "yearly"]
UNIT_KINDS: tuple[UnitKind, ...] = ("nation", "province", "department", "centre", "district", "commune")
PLACEHOLDERS = ("now", "today")  # {now}: the instant of computation, {today}: its local date
# When a period of a KPI is complete, so shown and judged by default (pipelines/kpi/completeness.py):
#   deadline    its reports' deadline has passed (the `reporting.deadline` of every source feed that declares one)
#   period_end  the period has ended (local time, Asia/Ho_Chi_Minh): a KPI over dated records
#   reported    it has data, or a later period has (the latest period reported and every one before it)
#   now         the current period is the value: a snapshot, a state as of now, complete as soon as computed
PeriodComplete = Literal["deadline", "period_end", "reported", "now"]
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def placeholders(sql: str) -> set[str]:
    return set(_PLACEHOLDER.findall(sql))


class Grain(Strict):
    """The period type of the KPI and the kinds of organisation unit it is shown for."""

    period: PeriodType
    units: list[UnitKind] = [k for k in UNIT_KINDS if k != "nation"]  # the watched unit shows too, whatever its kind
    history_periods: Annotated[int, Field(ge=1, le=120)] = 12  # periods recomputed by default
    # false: a unit appears only when it has data (e.g. only feed owners have feeds); the provinces and the watched
    # unit (org_units.province: a province, or the nation) always do
    units_without_data: bool = True


class TableMeasure(Strict):
    """Aggregates over one table, grouped by unit and period.

    from: a feed id (its clean.<feed> table) or a warehouse table such as marts.report_status.
    unit: the column (or SQL expression) naming the organisation unit; omitted → the province.
    One of time (a date/timestamp column: the row's period is the period containing it, in local
    time), period (a column already holding period keys such as 2026-10) or snapshot (rows count
    for the current period: a state as of now, e.g. open dossiers past due).
    numerator, denominator: aggregate SQL expressions; without a denominator the value is the numerator.
    """

    kind: Literal["table"] = "table"
    # when a period of a KPI over this kind of measure is complete, if the KPI does not say (None: inferred from
    # the measure and its sources, pipelines/kpi/completeness.py); a new measure kind may set its own
    default_period_complete: ClassVar[str | None] = None
    from_: Annotated[str, Field(alias="from", pattern=r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$")]
    unit: str | None = None
    time: str | None = None
    period: str | None = None
    snapshot: bool = False
    where: str | None = None
    numerator: str
    denominator: str | None = None

    @model_validator(mode="after")
    def _one_period_source(self) -> TableMeasure:
        given = [k for k in ("time", "period") if getattr(self, k)] + (["snapshot"] if self.snapshot else [])
        if len(given) != 1:
            raise ValueError(f"declare exactly one of 'time', 'period' or 'snapshot: true' (got {given or 'none'})")
        return self

    def sql_texts(self) -> list[str]:
        return [t for t in (self.unit, self.time, self.period, self.where, self.numerator, self.denominator) if t]


class QueryMeasure(Strict):
    """A full SELECT for KPIs one table cannot express. It returns unit_code, numerator, denominator
    (when has_denominator), and either time (a date/timestamp) or period (a key) — or neither for a
    snapshot."""

    kind: Literal["query"]
    default_period_complete: ClassVar[str | None] = None
    sql: str
    returns: Literal["time", "period", "snapshot"] = "time"
    has_denominator: bool = False

    def sql_texts(self) -> list[str]:
        return [self.sql]


class RatioOfKpis(Strict):
    """A KPI built on two others: value = numerator KPI ÷ denominator KPI (× 100 for percent),
    matched by unit and period. Both roll up first, so the ratio of a parent is a ratio of sums."""

    kind: Literal["ratio_of_kpis"]
    default_period_complete: ClassVar[str | None] = None
    numerator: Annotated[str, Field(pattern=IDENTIFIER)]
    denominator: Annotated[str, Field(pattern=IDENTIFIER)]

    def sql_texts(self) -> list[str]:
        return []


def _measure_kind(value: object) -> str:
    """A measure without 'kind' is a table measure, the common case."""
    if isinstance(value, dict):
        return value.get("kind", "table")
    return getattr(value, "kind", "table")


Measure = Annotated[
    Annotated[TableMeasure, Tag("table")]
    | Annotated[QueryMeasure, Tag("query")]
    | Annotated[RatioOfKpis, Tag("ratio_of_kpis")],
    Discriminator(_measure_kind),
]


class Thresholds(Strict):
    """Status bounds. Higher is better: value ≥ green → green, ≥ amber → amber, else red; lower is
    better: value ≤ green → green, ≤ amber → amber, else red. With relative_to_target the bounds
    are factors of the target (green: 1.0, amber: 0.9 → 100 % and 90 % of the target)."""

    green: float
    amber: float
    relative_to_target: bool = False


class Explain(Strict):
    """How a value is explained down to its records (`ioc kpi explain`, GET /api/kpis/{kpi}/explain).

    A table measure's records are its own rows, each with its part of the numerator and denominator (the
    measure's aggregates over that one record); nothing needs declaring. `impact` orders them: row-level SQL
    saying how much a record counts against the KPI (e.g. days overdue), named by `impact_name`. Without it
    the order is by the record's part: its numerator when lower is better, its shortfall (denominator −
    numerator) when higher is. A query measure explains when `records` names the SELECT of its records:
    one row per record with unit_code, numerator (its part), denominator when the measure has one, and
    time or period as the measure returns."""

    impact: str | None = None
    impact_name: Names | None = None
    records: str | None = None

    def sql_texts(self) -> list[str]:
        return [t for t in (self.impact, self.records) if t]


IndicatorValue = Literal["month", "ytd", "plan_year", "ytd_vs_plan", "month_vs_plan", "vs_last_year"]


class IndicatorRef(Strict):
    """A KPI on an indicator that departments report on their forms (a feed with a source.form): which feed,
    which indicator of its catalogue, and which value of it —
    month, ytd, plan_year: the figure as reported (this month, year to date, the year's plan);
    ytd_vs_plan, month_vs_plan: the year to date (or, for a level or rate, this month) ÷ the department's own
    plan for the year, in percent; vs_last_year: the year to date ÷ the year to date of the same month a year
    before, in percent (both as published).
    The KPI's measure is compiled from it; its records are the forms' figures, each with its file and cell."""

    feed: Annotated[str, Field(pattern=IDENTIFIER)]
    code: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")]
    value: IndicatorValue

    def measure(self) -> dict:
        """The table (or query) measure this value is, as a declaration."""
        code, feed = self.code, self.feed
        kept = f"indicator_code = '{code}'"
        if self.value in ("month", "ytd", "plan_year"):
            return {
                "from": feed,
                "unit": "department_code",
                "period": "period",
                "where": f"{kept} AND measure = '{self.value}'",
                "numerator": "sum(value)",
            }
        if self.value in ("ytd_vs_plan", "month_vs_plan"):
            part = self.value.removesuffix("_vs_plan")
            return {
                "from": feed,
                "unit": "department_code",
                "period": "period",
                "where": f"{kept} AND measure IN ('{part}', 'plan_year')",
                "numerator": f"sum(value) FILTER (WHERE measure = '{part}')",
                "denominator": "sum(value) FILTER (WHERE measure = 'plan_year')",
            }
        return {"kind": "query", "returns": "period", "has_denominator": True, "sql": self._vs_last_year("sum")}

    def records_sql(self) -> str | None:
        """A query measure's records (vs_last_year): this year's figure beside last year's."""
        return self._vs_last_year(None) if self.value == "vs_last_year" else None

    def _vs_last_year(self, aggregate: str | None) -> str:
        table = f"clean.{self.feed}"
        select = (
            "t.department_code AS unit_code, t.period, sum(t.value) AS numerator, sum(l.value) AS denominator"
            if aggregate
            else "t.*, t.department_code AS unit_code, t.value AS numerator, l.value AS denominator, "
            "l.source_cell AS last_year_cell, l._batch_id AS last_year_batch"
        )
        return (
            f"SELECT {select} FROM {table} AS t JOIN {table} AS l ON l.department_code = t.department_code "
            f"AND l.indicator_code = t.indicator_code AND l.measure = t.measure "
            f"AND l.period = strftime(strptime(t.period || '-01', '%Y-%m-%d') - INTERVAL 1 YEAR, '%Y-%m') "
            f"AND l._withdrawn_at IS NULL "
            f"WHERE t.indicator_code = '{self.code}' AND t.measure = 'ytd' AND t._withdrawn_at IS NULL"
            + (" GROUP BY ALL" if aggregate else "")
        )


class Escalation(Strict):
    """Escalate when a unit stays red (or amber) this many periods in a row."""

    red_periods: Annotated[int, Field(ge=1, le=24)] = 2
    amber_periods: Annotated[int, Field(ge=1, le=24)] | None = 3


class Kpi(Strict):
    """One indicator of the operations centre."""

    id: Annotated[str, Field(pattern=IDENTIFIER)]
    name: Names
    description: Names
    owner: str
    sources: list[str] = []
    reference: str | None = None
    grain: Grain
    indicator: IndicatorRef | None = None  # a KPI on a form's indicator: its measure is compiled from this
    measure: Measure
    unit_of_measure: Literal["percent", "count", "days", "hours", "seconds", "vnd", "ratio"]
    direction: Literal["higher_is_better", "lower_is_better"]
    target: float | None = None
    target_sql: str | None = None  # a target per period: SQL over period_start, period_end, {today}
    thresholds: Thresholds
    escalation: Escalation = Escalation()
    rollup: Literal["add", "max", "none"] = "add"
    decimals: Annotated[int, Field(ge=0, le=6)] = 1
    explain: Explain = Explain()
    # When a period is complete — shown and judged by default (see PeriodComplete). Omitted: inferred — `now` for
    # a snapshot, `deadline` when a source feed declares `reporting:`, else `period_end`.
    period_complete: PeriodComplete | None = None
    # A period still running is shown only labelled "to date" and is not judged against the target (its status is
    # `running`) unless this says it may be: e.g. a target that grows with the days elapsed.
    judge_running: bool = False

    @model_validator(mode="before")
    @classmethod
    def _indicator_measure(cls, data: object) -> object:
        """A KPI on an indicator declares the indicator, not SQL: its measure (and records) come from it."""
        if not isinstance(data, dict) or not isinstance(data.get("indicator"), dict):
            return data
        if "measure" in data:
            raise ValueError("declare 'indicator' or 'measure', not both: an indicator's measure is compiled from it")
        ref = IndicatorRef.model_validate(data["indicator"])
        data = {**data, "measure": ref.measure()}
        data.setdefault("sources", [ref.feed])
        data.setdefault("period_complete", "reported")
        if ref.records_sql():
            data["explain"] = {**data.get("explain", {}), "records": ref.records_sql()}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Kpi:
        t = self.thresholds
        if self.target is not None and self.target_sql is not None:
            raise ValueError("declare 'target' or 'target_sql', not both")
        if t.relative_to_target and self.target is None and self.target_sql is None:
            raise ValueError("thresholds relative_to_target need a 'target' or 'target_sql'")
        if self.rollup == "max" and isinstance(self.measure, TableMeasure) and self.measure.denominator:
            raise ValueError("a ratio rolls up by adding numerators and denominators: use rollup 'add'")
        if self.explain.records and not isinstance(self.measure, QueryMeasure):
            raise ValueError("explain.records is for a query measure: a table measure's records are its rows")
        if self.explain.impact and isinstance(self.measure, RatioOfKpis):
            raise ValueError("a ratio_of_kpis KPI explains through its two inputs: declare explain on them")
        if self.period_complete == "now" and not isinstance(self.measure, RatioOfKpis) and not self.is_snapshot:
            raise ValueError(
                "period_complete 'now' is for a snapshot (a state as of now): a KPI over dated records "
                "is complete when its period ends ('period_end'); to judge its running period, declare "
                "judge_running: true"
            )
        if self.direction == "higher_is_better" and t.green < t.amber:
            raise ValueError(f"higher is better, so thresholds.green ({t.green}) must be ≥ amber ({t.amber})")
        if self.direction == "lower_is_better" and t.green > t.amber:
            raise ValueError(f"lower is better, so thresholds.green ({t.green}) must be ≤ amber ({t.amber})")
        return self

    @property
    def is_snapshot(self) -> bool:
        """Its value is a state as of now (stored for the current period), not an aggregate of dated records."""
        m = self.measure
        return (isinstance(m, TableMeasure) and m.snapshot) or (isinstance(m, QueryMeasure) and m.returns == "snapshot")

    @property
    def scale(self) -> float:
        return 100.0 if self.unit_of_measure == "percent" else 1.0

    def sql_texts(self) -> list[str]:
        return self.measure.sql_texts() + ([self.target_sql] if self.target_sql else []) + self.explain.sql_texts()


class KpiFile(Strict):
    """A file of schemas/kpis/: one KPI or a group."""

    kpis: list[Kpi]
