"""The organisation tree as KPIs see it: which units a value rolls up into, and which units are
expected to have a value in a period (those without one show "no data", never green)."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from pipelines.calendar.periods import Period
from pipelines.declarations.kpis import Kpi
from pipelines.declarations.models import OrgUnits, UnitKind


def ancestors(units: OrgUnits) -> pl.DataFrame:
    """(unit_code, ancestor) for every unit: itself, its parent, and so on up to the root."""
    parent = {u.code: u.parent for u in units.units}
    rows = [(code, ancestor) for code in parent for ancestor in upward(code, parent.get)]
    return pl.DataFrame(rows, schema={"unit_code": pl.String, "ancestor": pl.String}, orient="row")


def upward(code: str, parent_of: Callable[[str], str | None]) -> list[str]:
    """The unit, its parent, and so on up to the root (a cycle in the tree is not followed twice)."""
    chain: list[str] = []
    current: str | None = code
    while current is not None and current not in chain:
        chain.append(current)
        current = parent_of(current)
    return chain


def spine(kpi: Kpi, periods: list[Period], units: OrgUnits) -> pl.DataFrame:
    """(unit_code, period, period_start, period_end): each unit of the KPI's kinds active at some
    time in each period, and the watched unit (the province, or the nation) — the rows the KPI must show,
    with a value or as no data."""
    kinds: list[UnitKind] = kpi.grain.units if kpi.grain.units_without_data else ["province"]
    shown = set(shown_units(kpi, units, kinds))
    rows = [
        (u.code, p.key, p.start, p.end)
        for p in periods
        for u in units.units
        if u.code in shown and u.valid_from <= p.end and (u.valid_to is None or u.valid_to >= p.start)
    ]
    return pl.DataFrame(
        rows,
        schema={"unit_code": pl.String, "period": pl.String, "period_start": pl.Date, "period_end": pl.Date},
        orient="row",
    )


def shown_units(kpi: Kpi, units: OrgUnits, kinds: list[UnitKind] | None = None) -> list[str]:
    """The known units the KPI shows: those of its kinds (or `kinds`), and the watched unit (org_units.province),
    whatever its kind; never a unit above the watched one (a province centre computes no national value)."""
    kinds = kpi.grain.units if kinds is None else kinds
    parent = {u.code: u.parent for u in units.units}
    above = set(upward(units.province, parent.get)[1:])
    return [u.code for u in units.units if (u.kind in kinds and u.code not in above) or u.code == units.province]


def unit_kinds(units: OrgUnits) -> dict[str, str]:
    return {u.code: u.kind for u in units.units}
