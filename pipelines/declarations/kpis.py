"""Typed models of KPI declarations (schemas/kpis/*.yaml): what is measured, at which grain, and
when it is green, amber or red. Compiled to SQL by pipelines.kpi.compile."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from pipelines.declarations.base import Strict
from pipelines.declarations.models import IDENTIFIER, Names, UnitKind

PeriodType = Literal["daily", "weekly", "monthly", "quarterly", "half_year", "nine_month", "yearly"]
UNIT_KINDS: tuple[str, ...] = ("nation", "province", "department", "centre", "district", "commune")
PLACEHOLDERS = ("now", "today")  # {now}: the instant of computation, {today}: its local date
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
    sql: str
    returns: Literal["time", "period", "snapshot"] = "time"
    has_denominator: bool = False

    def sql_texts(self) -> list[str]:
        return [self.sql]


class RatioOfKpis(Strict):
    """A KPI built on two others: value = numerator KPI ÷ denominator KPI (× 100 for percent),
    matched by unit and period. Both roll up first, so the ratio of a parent is a ratio of sums."""

    kind: Literal["ratio_of_kpis"]
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
    Annotated[TableMeasure, Tag("table")] | Annotated[QueryMeasure, Tag("query")]
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
        if self.direction == "higher_is_better" and t.green < t.amber:
            raise ValueError(f"higher is better, so thresholds.green ({t.green}) must be ≥ amber ({t.amber})")
        if self.direction == "lower_is_better" and t.green > t.amber:
            raise ValueError(f"lower is better, so thresholds.green ({t.green}) must be ≤ amber ({t.amber})")
        return self

    @property
    def scale(self) -> float:
        return 100.0 if self.unit_of_measure == "percent" else 1.0

    def sql_texts(self) -> list[str]:
        return self.measure.sql_texts() + ([self.target_sql] if self.target_sql else []) + self.explain.sql_texts()


class KpiFile(Strict):
    """A file of schemas/kpis/: one KPI or a group."""

    kpis: list[Kpi]
