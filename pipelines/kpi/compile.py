"""The KPI compiler: one declaration → one DuckDB query giving, per organisation unit and period,
the numerator and denominator — the unit's own rows plus, when the KPI rolls up, every unit below it.

Ratios roll up from numerators and denominators (a parent's rate is Σ numerators ÷ Σ denominators,
never an average of its children's rates). Run with the session time zone set to the local zone, so
that a timestamp's date — and so its period — is the local one.
"""

from __future__ import annotations

from datetime import datetime

from pipelines.calendar.deadlines import TIMEZONE
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
    return sql.replace("{now}", f"TIMESTAMPTZ '{now.isoformat()}'").replace(
        "{today}", f"DATE '{now.astimezone(TIMEZONE).date().isoformat()}'"
    )


def _table(name: str) -> str:
    schema, _, table = name.rpartition(".")
    return f"{quote(schema or 'clean')}.{quote(table)}"


def _keys(periods: list[Period]) -> str:
    return ", ".join(f"'{p.key}'" for p in periods)


def table_rows(kpi: Kpi, periods: list[Period], current: Period, province: str) -> tuple[str, str, str, list[str]]:
    """A table measure's rows: (unit SQL, period-key SQL, FROM, WHERE conditions)."""
    m = kpi.measure
    if not isinstance(m, TableMeasure):  # its callers ask it for a table measure's rows only
        raise TypeError(f"KPI {kpi.id}: a {m.kind} measure has no table rows")
    unit = m.unit or f"'{province}'"
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
    return f"CAST({unit} AS VARCHAR)", period, _table(m.from_), where


def _query_period(kpi: Kpi, m: QueryMeasure, current: Period, alias: str = "q") -> str:
    if m.returns == "snapshot":
        return f"'{current.key}'"
    if m.returns == "period":
        return f"CAST({alias}.period AS VARCHAR)"
    return period_key_sql(kpi.grain.period, f"CAST({alias}.time AS DATE)")


def base_sql(kpi: Kpi, periods: list[Period], current: Period, province: str) -> str:
    """Rows (unit_code, period, numerator, denominator) of the KPI's own data, before roll-up."""
    m = kpi.measure
    if isinstance(m, TableMeasure):
        unit, period, source, where = table_rows(kpi, periods, current, province)
        return (
            f"SELECT {unit} AS unit_code, {period} AS period, "
            f"CAST({m.numerator} AS DOUBLE) AS numerator, CAST({m.denominator or 'NULL'} AS DOUBLE) AS denominator "
            f"FROM {source} " + (f"WHERE {' AND '.join(where)} " if where else "") + "GROUP BY ALL"
        )
    if isinstance(m, QueryMeasure):
        denominator = "CAST(q.denominator AS DOUBLE)" if m.has_denominator else "NULL"
        return (
            f"SELECT CAST(q.unit_code AS VARCHAR) AS unit_code, {_query_period(kpi, m, current)} AS period, "
            f"CAST(q.numerator AS DOUBLE) AS numerator, {denominator} AS denominator FROM ({m.sql}) AS q"
        )
    raise TypeError(f"KPI {kpi.id}: a {m.kind} measure has no SQL of its own")


class NoRecords(ValueError):
    """The KPI cannot list its records: a query measure whose declaration names no record query."""


def records_sql(
    kpi: Kpi, period: Period, current: Period, province: str, units_table: str, green_bound: float | None
) -> str:
    """The records behind the KPI's value for one period and the units listed in `units_table` (its unit_code
    column: the unit, and every unit below it when the KPI rolls up). A table measure's records are its rows:
    each keeps every column of its source and gains _kpi_unit, _kpi_numerator and _kpi_denominator (its part:
    the measure's aggregates over that one record — identical rows are one record with their parts added),
    _kpi_impact (how much it counts against the KPI) and _kpi_against (whether it keeps the value off its
    green bound). Only records with a part are listed: a snapshot count lists the dossiers it counted, not
    every dossier of the unit."""
    m = kpi.measure
    if isinstance(m, TableMeasure):
        unit, period_sql, source, where = table_rows(kpi, [period], current, province)
        where += [f"{period_sql} = '{period.key}'", f"{unit} IN (SELECT unit_code FROM {units_table})"]
        inner = (
            f"SELECT *, {unit} AS _kpi_unit, CAST({m.numerator} AS DOUBLE) AS _kpi_numerator, "
            f"CAST({m.denominator or 'NULL'} AS DOUBLE) AS _kpi_denominator "
            f"FROM {source} WHERE {' AND '.join(where)} GROUP BY ALL"
        )
        ratio = m.denominator is not None
    elif isinstance(m, QueryMeasure):
        if not kpi.explain.records:
            raise NoRecords(
                f"KPI {kpi.id} is computed by a query whose declaration names no record query "
                "(explain.records): its value cannot be listed record by record"
            )
        denominator = "CAST(q.denominator AS DOUBLE)" if m.has_denominator else "NULL"
        inner = (
            f"SELECT q.*, CAST(q.unit_code AS VARCHAR) AS _kpi_unit, CAST(q.numerator AS DOUBLE) AS _kpi_numerator, "
            f"{denominator} AS _kpi_denominator FROM ({kpi.explain.records}) AS q "
            f"WHERE {_query_period(kpi, m, current)} = '{period.key}' "
            f"AND CAST(q.unit_code AS VARCHAR) IN (SELECT unit_code FROM {units_table})"
        )
        ratio = m.has_denominator
    else:
        raise NoRecords(f"KPI {kpi.id} is a ratio of two KPIs: it explains through {m.numerator} and {m.denominator}")
    lower = kpi.direction == "lower_is_better"
    part = "coalesce(_kpi_numerator, 0)"
    if ratio:  # the record's own value, judged as the KPI's status is
        own = f"{kpi.scale} * {part} / nullif(_kpi_denominator, 0)"
        bound = "NULL" if green_bound is None else repr(float(green_bound))
        against = f"coalesce({own} {'>' if lower else '<'} {bound}, false)"
        default_impact = part if lower else f"_kpi_denominator - {part}"
    else:  # a count or sum: what it adds counts against the KPI when lower is better
        against = f"{part} > 0" if lower else "false"
        default_impact = part if lower else f"-{part}"
    impact = f"CAST(({kpi.explain.impact}) AS DOUBLE)" if kpi.explain.impact else default_impact
    return (
        f"SELECT *, {against} AS _kpi_against, {impact} AS _kpi_impact FROM ({inner}) "
        f"WHERE coalesce(_kpi_numerator, 0) <> 0 OR coalesce(_kpi_denominator, 0) <> 0"
    )


def compile_kpi(kpi: Kpi, periods: list[Period], current: Period, province: str) -> str:
    """The KPI's query: per unit (each with everything below it, when it rolls up) and period."""
    base = base_sql(kpi, periods, current, province)
    keys = _keys(periods)
    if kpi.rollup == "none":
        return (
            f"SELECT unit_code, period, sum(numerator) AS numerator, sum(denominator) AS denominator "
            f"FROM ({base}) WHERE period IN ({keys}) GROUP BY ALL"
        )
    agg = "sum" if kpi.rollup == "add" else "max"
    return (
        f"SELECT coalesce(a.ancestor, b.unit_code) AS unit_code, b.period, "
        f"{agg}(b.numerator) AS numerator, {agg}(b.denominator) AS denominator "
        f"FROM ({base}) AS b LEFT JOIN {ANCESTORS_VIEW} AS a ON a.unit_code = b.unit_code "
        f"WHERE b.period IN ({keys}) GROUP BY ALL"
    )
