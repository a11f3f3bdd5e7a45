"""The KPI compiler: one declaration → one DuckDB query giving, per organisation unit and period,
the numerator and denominator — the unit's own rows plus, when the KPI rolls up, every unit below it.

Ratios roll up from numerators and denominators (a parent's rate is Σ numerators ÷ Σ denominators,
never an average of its children's rates). Run with the session time zone set to the local zone, so
that a timestamp's date — and so its period — is the local one.
"""

from __future__ import annotations

from datetime import datetime

from pipelines.calendar.periods import Period
from pipelines.declarations.kpis import Kpi, QueryMeasure, TableMeasure
from pipelines.warehouse import quote

ANCESTORS_VIEW = "_ioc_unit_ancestors"  # (unit_code, ancestor): every unit with itself and each unit above it


def period_key_sql(period_type: str, day: str) -> str:
    """SQL giving the period key (2026-10, 2026-W41, 2026-Q4…) of a DATE expression."""
    return {
        "daily": f"strftime({day}, '%Y-%m-%d')",
        "weekly": f"strftime({day}, '%G-W%V')",
        "monthly": f"strftime({day}, '%Y-%m')",
        "quarterly": f"CAST(year({day}) AS VARCHAR) || '-Q' || CAST(quarter({day}) AS VARCHAR)",
        "half_year": f"CAST(year({day}) AS VARCHAR) || CASE WHEN month({day}) <= 6 THEN '-H1' ELSE '-H2' END",
        "nine_month": f"CASE WHEN month({day}) <= 9 THEN CAST(year({day}) AS VARCHAR) || '-9M' END",
        "yearly": f"CAST(year({day}) AS VARCHAR)",
    }[period_type]


def substitute(sql: str, now: datetime) -> str:
    """Replace {now} and {today} with literals of the computation instant and its local date."""
    from pipelines.calendar.deadlines import TIMEZONE

    return (sql.replace("{now}", f"TIMESTAMPTZ '{now.isoformat()}'")
            .replace("{today}", f"DATE '{now.astimezone(TIMEZONE).date().isoformat()}'"))


def _table(name: str) -> str:
    schema, _, table = name.rpartition(".")
    return f"{quote(schema or 'clean')}.{quote(table)}"


def _keys(periods: list[Period]) -> str:
    return ", ".join(f"'{p.key}'" for p in periods)


def base_sql(kpi: Kpi, periods: list[Period], current: Period, province: str) -> str:
    """Rows (unit_code, period, numerator, denominator) of the KPI's own data, before roll-up."""
    m = kpi.measure
    if isinstance(m, TableMeasure):
        unit = m.unit or f"'{province}'"
        denominator = m.denominator or "NULL"
        where = [f"({m.where})"] if m.where else []
        if m.from_.rpartition(".")[0] in ("", "clean"):  # a feed's records: those the source withdrew do not count
            where.append("_withdrawn_at IS NULL")
        if m.snapshot:
            period = f"'{current.key}'"
        elif m.period:
            period = f"CAST({m.period} AS VARCHAR)"
            where.append(f"{period} IN ({_keys(periods)})")
        else:
            day = f"CAST({m.time} AS DATE)"
            period = period_key_sql(kpi.grain.period, day)
            # a range on the column itself, so DuckDB can skip row groups, then the exact periods
            where.append(f"{day} BETWEEN DATE '{periods[0].start}' AND DATE '{periods[-1].end}'")
        return (f"SELECT CAST({unit} AS VARCHAR) AS unit_code, {period} AS period, "
                f"CAST({m.numerator} AS DOUBLE) AS numerator, CAST({denominator} AS DOUBLE) AS denominator "
                f"FROM {_table(m.from_)} " + (f"WHERE {' AND '.join(where)} " if where else "") + "GROUP BY ALL")
    if isinstance(m, QueryMeasure):
        if m.returns == "snapshot":
            period = f"'{current.key}'"
        elif m.returns == "period":
            period = "CAST(q.period AS VARCHAR)"
        else:
            period = period_key_sql(kpi.grain.period, "CAST(q.time AS DATE)")
        denominator = "CAST(q.denominator AS DOUBLE)" if m.has_denominator else "NULL"
        return (f"SELECT CAST(q.unit_code AS VARCHAR) AS unit_code, {period} AS period, "
                f"CAST(q.numerator AS DOUBLE) AS numerator, {denominator} AS denominator FROM ({m.sql}) AS q")
    raise TypeError(f"KPI {kpi.id}: a {m.kind} measure has no SQL of its own")


def compile_kpi(kpi: Kpi, periods: list[Period], current: Period, province: str) -> str:
    """The KPI's query: per unit (each with everything below it, when it rolls up) and period."""
    base = base_sql(kpi, periods, current, province)
    keys = _keys(periods)
    if kpi.rollup == "none":
        return (f"SELECT unit_code, period, sum(numerator) AS numerator, sum(denominator) AS denominator "
                f"FROM ({base}) WHERE period IN ({keys}) GROUP BY ALL")
    agg = "sum" if kpi.rollup == "add" else "max"
    return (f"SELECT coalesce(a.ancestor, b.unit_code) AS unit_code, b.period, "
            f"{agg}(b.numerator) AS numerator, {agg}(b.denominator) AS denominator "
            f"FROM ({base}) AS b LEFT JOIN {ANCESTORS_VIEW} AS a ON a.unit_code = b.unit_code "
            f"WHERE b.period IN ({keys}) GROUP BY ALL")
