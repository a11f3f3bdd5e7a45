"""A KPI value's status against its target and bounds, and how long a unit has held it: green,
amber, red, or no_data (grey — no data is never green). Escalation: red (or amber) for the declared
number of periods in a row."""

from __future__ import annotations

import polars as pl

from pipelines.declarations.kpis import Kpi

STATUSES = ("green", "amber", "red", "no_data")


def status_expr(kpi: Kpi) -> pl.Expr:
    """Status of each row from its value and target columns."""
    t = kpi.thresholds
    green, amber = pl.lit(t.green, pl.Float64), pl.lit(t.amber, pl.Float64)
    if t.relative_to_target:
        green, amber = green * pl.col("target"), amber * pl.col("target")
    value = pl.col("value")
    better = (lambda bound: value >= bound) if kpi.direction == "higher_is_better" else (lambda bound: value <= bound)
    return (
        pl.when(value.is_null() | green.is_null())
        .then(pl.lit("no_data"))
        .when(better(green))
        .then(pl.lit("green"))
        .when(better(amber))
        .then(pl.lit("amber"))
        .otherwise(pl.lit("red"))
    )


def with_streaks(rows: pl.DataFrame, kpi: Kpi) -> pl.DataFrame:
    """Add previous_value, previous_status (the unit's previous period), streak (periods in a row
    with this status, this one included) and escalated, over every stored period of one KPI."""
    rows = rows.sort("unit_code", "period")
    changed = (pl.col("status") != pl.col("status").shift(1)).fill_null(True)
    esc = kpi.escalation
    amber_limit = esc.amber_periods if esc.amber_periods is not None else 10**6
    return (
        rows.with_columns(
            previous_value=pl.col("value").shift(1).over("unit_code"),
            previous_status=pl.col("status").shift(1).over("unit_code"),
            _run=changed.cum_sum().over("unit_code"),
        )
        .with_columns(streak=(pl.int_range(pl.len()).over("unit_code", "_run") + 1).cast(pl.Int32))
        .with_columns(
            escalated=((pl.col("status") == "red") & (pl.col("streak") >= esc.red_periods))
            | ((pl.col("status") == "amber") & (pl.col("streak") >= amber_limit))
        )
        .drop("_run")
    )
