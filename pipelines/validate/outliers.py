"""Outlier detection on reported values, DHIS2's methods: z-score, modified z-score, min-max bounds.

Each incoming value is scored against its own series' history (the last `baseline_periods` earlier
values of the same department and indicator, say). A flag carries the score and the expected range;
the value itself is never changed.
"""

from __future__ import annotations

import polars as pl

from pipelines.declarations.checks import OutlierRule

MODIFIED_Z_FACTOR = 0.6745  # makes the MAD consistent with the standard deviation of a normal series
MEAN_AD_FACTOR = 1.253314  # when the MAD is 0, the mean absolute deviation stands in (scaled likewise)

FLAGS_SCHEMA = {
    "_row_id": pl.UInt32,
    "score": pl.Float64,
    "expected_min": pl.Float64,
    "expected_max": pl.Float64,
    "baseline_size": pl.UInt32,
    "outlier": pl.Boolean,
}


def score(rule: OutlierRule, incoming: pl.DataFrame, history: pl.DataFrame) -> pl.DataFrame:
    """One row per scored incoming row: _row_id, score, expected_min, expected_max, baseline_size, outlier.

    incoming has _row_id, the series columns, order_by and the value column; history has the series
    columns, order_by and the value column (earlier published values).
    """
    rows = incoming.filter(pl.col(rule.column).is_not_null())
    if rule.method == "min_max":
        return _min_max(rule, rows)
    value, order = rule.column, rule.order_by
    baseline = (
        rows.select("_row_id", *rule.series, order, value)
        .join(
            history.select(*rule.series, pl.col(order).alias("_h_order"), pl.col(value).alias("_h_value")),
            on=rule.series,
            how="inner",
        )
        .filter((pl.col("_h_order") < pl.col(order)) & pl.col("_h_value").is_not_null())
        .sort("_row_id", "_h_order", descending=[False, True])
        .group_by("_row_id", maintain_order=True)
        .head(rule.baseline_periods)
    )
    if rule.method == "z_score":
        stats = baseline.group_by("_row_id").agg(
            center=pl.col("_h_value").mean(), spread=pl.col("_h_value").std(), baseline_size=pl.len()
        )
    else:
        with_median = baseline.with_columns(_median=pl.col("_h_value").median().over("_row_id"))
        stats = (
            with_median.group_by("_row_id")
            .agg(
                center=pl.col("_median").first(),
                mad=(pl.col("_h_value") - pl.col("_median")).abs().median(),
                mean_ad=(pl.col("_h_value") - pl.col("_median")).abs().mean(),
                baseline_size=pl.len(),
            )
            .with_columns(
                spread=pl.when(pl.col("mad") > 0)
                .then(pl.col("mad") / MODIFIED_Z_FACTOR)
                .when(pl.col("mean_ad") > 0)
                .then(pl.col("mean_ad") * MEAN_AD_FACTOR)
            )
        )
    scored = (
        rows.select("_row_id", value)
        .join(stats, on="_row_id")
        .filter((pl.col("baseline_size") >= rule.min_baseline) & (pl.col("spread") > 0))
        .with_columns(score=(pl.col(value) - pl.col("center")).abs() / pl.col("spread"))
        .with_columns(
            expected_min=pl.col("center") - rule.threshold * pl.col("spread"),
            expected_max=pl.col("center") + rule.threshold * pl.col("spread"),
            outlier=pl.col("score") > rule.threshold,
        )
    )
    return scored.select(*[pl.col(c).cast(t) for c, t in FLAGS_SCHEMA.items()])


def _min_max(rule: OutlierRule, rows: pl.DataFrame) -> pl.DataFrame:
    assert rule.bounds_by is not None  # the rule's own check: min_max declares bounds_by
    bounds = pl.DataFrame(
        {
            rule.bounds_by: list(rule.bounds),
            "expected_min": [b[0] for b in rule.bounds.values()],
            "expected_max": [b[1] for b in rule.bounds.values()],
        },
        schema={rule.bounds_by: rows.schema[rule.bounds_by], "expected_min": pl.Float64, "expected_max": pl.Float64},
    )
    scored = rows.join(bounds, on=rule.bounds_by).with_columns(
        score=pl.lit(None, pl.Float64),
        baseline_size=pl.lit(0, pl.UInt32),
        outlier=(pl.col(rule.column) < pl.col("expected_min")) | (pl.col(rule.column) > pl.col("expected_max")),
    )
    return scored.select(*[pl.col(c).cast(t) for c, t in FLAGS_SCHEMA.items()])
