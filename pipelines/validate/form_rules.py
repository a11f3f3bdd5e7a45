"""Validation rules across a form's cells and periods (DHIS2's validation rules), found over a batch's figures.

Each rule gives, for every figure that breaks it, the cells involved and their values, language-neutral
("G12 (ytd) = 90 < F12 (month) = 100"), in a derived column the suite checks is empty; the reason quotes it.
"""

from __future__ import annotations

import polars as pl

from pipelines.conform.rows import ROW_ID
from pipelines.declarations.checks import (
    FormRule,
    PartNotAboveWhole,
    RatioMatches,
    YtdAddsUp,
    YtdNotBelowMonth,
    rule_column,
)
from pipelines.declarations.indicators import indicator_catalogue
from pipelines.declarations.models import Feed
from pipelines.warehouse import has_clean_table, quote

KEY = ["department_code", "period", "indicator_code"]


def number(value: float | None) -> str:
    """A figure as a reason shows it: at most four decimals, no trailing zeros."""
    if value is None:
        return "?"
    return f"{value:.4f}".rstrip("0").rstrip(".")


def broken(con, feed: Feed, rule: FormRule, typed: pl.DataFrame, published: bool) -> pl.DataFrame:
    """(ROW_ID, rule_column(rule)): why each figure of the chunk breaks the rule (null for the others)."""
    figures = _figures(feed, typed)
    if isinstance(rule, YtdNotBelowMonth):
        found = _ytd_below_month(rule, figures)
    elif isinstance(rule, PartNotAboveWhole):
        found = _part_above_whole(rule, figures)
    elif isinstance(rule, YtdAddsUp):
        found = _ytd_not_adding_up(con, feed, rule, figures, published)
    elif isinstance(rule, RatioMatches):
        found = _ratio_off(rule, figures)
    else:  # pragma: no cover - every FormRule is handled above
        raise TypeError(f"unknown form rule {rule.check}")
    column = rule_column(rule)
    why = found.select(ROW_ID, pl.col("why").alias(column)).unique(ROW_ID, keep="first")
    return typed.select(ROW_ID).join(why, on=ROW_ID, how="left", maintain_order="left")


def _figures(feed: Feed, typed: pl.DataFrame) -> pl.DataFrame:
    form = feed.form
    assert form is not None  # form rules are a form's (the declarations' checks)
    catalogue = indicator_catalogue(form.catalogue)
    info = pl.DataFrame(
        {
            "indicator_code": [i.code for i in catalogue.indicators],
            "aggregation": [i.aggregation for i in catalogue.indicators],
            "parent": [i.parent for i in catalogue.indicators],
        },
        schema={"indicator_code": pl.String, "aggregation": pl.String, "parent": pl.String},
    )
    return (
        typed.select(ROW_ID, *KEY, "measure", "value", "source_cell")
        .filter(pl.col("indicator_code").is_not_null() & pl.col("value").is_not_null())
        .join(info, on="indicator_code", how="left")
    )


def _of(figures: pl.DataFrame, measure: str, suffix: str) -> pl.DataFrame:
    return figures.filter(pl.col("measure") == measure).select(
        *KEY,
        pl.col(ROW_ID).alias(f"row{suffix}"),
        pl.col("value").alias(f"v{suffix}"),
        pl.col("source_cell").alias(f"cell{suffix}"),
    )


def _ytd_below_month(rule: YtdNotBelowMonth, figures: pl.DataFrame) -> pl.DataFrame:
    flows = figures.filter(pl.col("aggregation") == "flow")
    pairs = _of(flows, rule.ytd, "_y").join(_of(flows, rule.month, "_m"), on=KEY)
    bad = pairs.filter(pl.col("v_y") < pl.col("v_m"))
    return bad.select(
        pl.col("row_y").alias(ROW_ID),
        pl.struct(bad.columns)
        .map_elements(
            lambda r: (
                f"{r['cell_y']} ({rule.ytd}) = {number(r['v_y'])} < {r['cell_m']} ({rule.month}) = {number(r['v_m'])}"
            ),
            return_dtype=pl.String,
        )
        .alias("why"),
    )


def _part_above_whole(rule: PartNotAboveWhole, figures: pl.DataFrame) -> pl.DataFrame:
    figures = figures.filter(pl.col("measure").is_in(rule.measures))
    parts = figures.filter(pl.col("parent").is_not_null()).select(
        "department_code",
        "period",
        "measure",
        pl.col("parent"),
        pl.col("indicator_code").alias("part"),
        pl.col(ROW_ID),
        pl.col("value").alias("v_p"),
        pl.col("source_cell").alias("cell_p"),
    )
    wholes = figures.select(
        "department_code",
        "period",
        "measure",
        pl.col("indicator_code").alias("parent"),
        pl.col("value").alias("v_w"),
        pl.col("source_cell").alias("cell_w"),
    )
    bad = parts.join(wholes, on=["department_code", "period", "measure", "parent"]).filter(
        pl.col("v_p") > pl.col("v_w")
    )
    return bad.select(
        ROW_ID,
        pl.struct(bad.columns)
        .map_elements(
            lambda r: (
                f"{r['cell_p']} ({r['part']}, {r['measure']}) = {number(r['v_p'])} > {r['cell_w']} "
                f"({r['parent']}, {r['measure']}) = {number(r['v_w'])}"
            ),
            return_dtype=pl.String,
        )
        .alias("why"),
    )


def _previous(period: str) -> str | None:
    """The month before, in the same year (None for January: its year to date starts from nothing)."""
    year, month = (int(x) for x in period.split("-"))
    return None if month == 1 else f"{year:04d}-{month - 1:02d}"


def _ytd_not_adding_up(con, feed: Feed, rule: YtdAddsUp, figures: pl.DataFrame, published: bool) -> pl.DataFrame:
    flows = figures.filter(pl.col("aggregation") == "flow")
    pairs = _of(flows, rule.ytd, "_y").join(_of(flows, rule.month, "_m"), on=KEY)
    if pairs.height == 0:
        return pl.DataFrame(schema={ROW_ID: pl.UInt32, "why": pl.String})
    pairs = pairs.with_columns(pl.col("period").map_elements(_previous, return_dtype=pl.String).alias("before"))
    earlier = _published_ytd(con, feed, rule, pairs) if published else None
    if earlier is None:
        earlier = pl.DataFrame(
            schema={
                "department_code": pl.String,
                "before": pl.String,
                "indicator_code": pl.String,
                "v_b": pl.Float64,
                "cell_b": pl.String,
            }
        )
    joined = pairs.join(earlier, on=["department_code", "before", "indicator_code"], how="left", nulls_equal=False)
    # January adds to nothing; another month is checked only when last month's year to date is published
    joined = joined.filter(pl.col("before").is_null() | pl.col("v_b").is_not_null()).with_columns(
        (pl.col("v_b").fill_null(0) + pl.col("v_m")).alias("want")
    )
    tolerance = rule.tolerance_pct / 100 * pl.max_horizontal(pl.col("want").abs(), pl.col("v_y").abs(), pl.lit(1.0))
    bad = joined.filter((pl.col("v_y") - pl.col("want")).abs() > tolerance)

    def why(r: dict) -> str:
        before = f"{r['before']} {rule.ytd} {r['cell_b']} = {number(r['v_b'])} + " if r["before"] else ""
        return (
            f"{r['cell_y']} ({rule.ytd}) = {number(r['v_y'])} ≠ {before}{r['cell_m']} ({rule.month}) = "
            f"{number(r['v_m'])} = {number(r['want'])}"
        )

    return bad.select(
        pl.col("row_y").alias(ROW_ID), pl.struct(bad.columns).map_elements(why, return_dtype=pl.String).alias("why")
    )


def _published_ytd(con, feed: Feed, rule: YtdAddsUp, pairs: pl.DataFrame) -> pl.DataFrame | None:
    """Last month's published year-to-date figures of the units and indicators in the batch."""
    if not has_clean_table(con, feed.id):
        return None
    wanted = pairs.select("department_code", "before", "indicator_code").drop_nulls().unique()
    if wanted.height == 0:
        return None
    con.register("_ytd_wanted", wanted)
    try:
        return con.sql(
            f"SELECT c.department_code, c.period AS before, c.indicator_code, CAST(c.value AS DOUBLE) AS v_b, "
            f"c.source_cell AS cell_b FROM clean.{quote(feed.id)} AS c JOIN _ytd_wanted AS w "
            f"ON c.department_code = w.department_code AND CAST(c.period AS VARCHAR) = w.before "
            f"AND c.indicator_code = w.indicator_code "
            f"WHERE c.measure = '{rule.ytd}' AND c._withdrawn_at IS NULL"
        ).pl()
    finally:
        con.unregister("_ytd_wanted")


def _ratio_off(rule: RatioMatches, figures: pl.DataFrame) -> pl.DataFrame:
    if rule.aggregation:
        figures = figures.filter(pl.col("aggregation").is_in(rule.aggregation))
    joined = (
        _of(figures, rule.measure, "_r")
        .join(_of(figures, rule.numerator, "_n"), on=KEY)
        .join(_of(figures, rule.denominator, "_d"), on=KEY)
        .filter(pl.col("v_d") != 0)
        .with_columns((rule.factor * pl.col("v_n") / pl.col("v_d")).alias("want"))
    )
    bad = joined.filter((pl.col("v_r") - pl.col("want")).abs() > rule.tolerance + 1e-9)
    return bad.select(
        pl.col("row_r").alias(ROW_ID),
        pl.struct(bad.columns)
        .map_elements(
            lambda r: (
                f"{r['cell_r']} ({rule.measure}) = {number(r['v_r'])} ≠ {rule.factor:g} × {r['cell_n']} "
                f"({rule.numerator}) = {number(r['v_n'])} ÷ {r['cell_d']} ({rule.denominator}) = "
                f"{number(r['v_d'])} = {number(r['want'])}"
            ),
            return_dtype=pl.String,
        )
        .alias("why"),
    )
