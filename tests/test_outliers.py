"""Outlier methods on known series: each flags exactly the planted values."""

from __future__ import annotations

import polars as pl
import pytest

from pipelines.declarations.checks import OutlierRule
from pipelines.validate.outliers import score

SERIES = ["department_code", "indicator_code"]


def rule(method: str, **kw) -> OutlierRule:
    return OutlierRule(column="value", series=SERIES, order_by="period", method=method, **kw)


def history(values: dict[tuple[str, str], list[float]]) -> pl.DataFrame:
    rows = [{"department_code": d, "indicator_code": i, "period": f"2025-{m + 1:02d}", "value": v}
            for (d, i), series in values.items() for m, v in enumerate(series)]
    return pl.DataFrame(rows)


def incoming(rows: list[tuple[str, str, float]], period: str = "2026-01") -> pl.DataFrame:
    return pl.DataFrame([{"_row_id": n, "department_code": d, "indicator_code": i, "period": period, "value": v}
                         for n, (d, i, v) in enumerate(rows)], schema_overrides={"_row_id": pl.UInt32})


def flagged(result: pl.DataFrame) -> set[int]:
    return set(result.filter(pl.col("outlier"))["_row_id"].to_list())


STEADY = [10, 11, 9, 10, 12, 10, 11, 9]
WITH_EARLIER_SPIKE = [10, 11, 9, 10, 100, 10, 11]


def test_z_score_flags_the_planted_spike_only():
    past = history({("SYT", "GP_CAP"): STEADY, ("SXD", "GP_CAP"): [200, 210, 190, 205, 195]})
    new = incoming([("SYT", "GP_CAP", 30), ("SYT", "GP_CAP", 11), ("SXD", "GP_CAP", 202), ("SXD", "GP_CAP", 120)])

    result = score(rule("z_score"), new, past)

    assert flagged(result) == {0, 3}
    spike = result.filter(pl.col("_row_id") == 0).row(0, named=True)
    mean, sd = pl.Series(STEADY).mean(), pl.Series(STEADY).std()
    assert spike["expected_min"] == pytest.approx(mean - 3 * sd)
    assert spike["expected_max"] == pytest.approx(mean + 3 * sd)
    assert spike["score"] == pytest.approx((30 - mean) / sd)


def test_modified_z_score_sees_through_an_earlier_outlier_that_hides_a_new_one_from_z_score():
    past = history({("SYT", "TIN_BAI"): WITH_EARLIER_SPIKE})
    new = incoming([("SYT", "TIN_BAI", 40), ("SYT", "TIN_BAI", 12)])

    assert flagged(score(rule("z_score"), new, past)) == set(), "the earlier 100 inflates the standard deviation"
    robust = score(rule("modified_z_score"), new, past)
    assert flagged(robust) == {0}
    row = robust.filter(pl.col("_row_id") == 0).row(0, named=True)
    assert row["score"] == pytest.approx(0.6745 * (40 - 10) / 1)  # median 10, MAD 1


def test_min_max_flags_values_outside_the_bounds_declared_per_indicator():
    bounds = rule("min_max", bounds_by="indicator_code", bounds={"THANH_TRA": (0, 60), "GP_CAP": (0, 5000)})
    new = incoming([("SYT", "THANH_TRA", 99), ("SYT", "THANH_TRA", 30), ("SYT", "GP_CAP", -1),
                    ("SYT", "VB_DEN", 1_000_000)])

    result = score(bounds, new, pl.DataFrame())

    assert flagged(result) == {0, 2}
    assert 3 not in set(result["_row_id"].to_list()), "an indicator without bounds is not scored"


def test_only_the_declared_baseline_window_counts():
    past = history({("SYT", "GP_CAP"): [100] * 6 + [10, 11, 9, 10, 11]})
    new = incoming([("SYT", "GP_CAP", 10), ("SYT", "GP_CAP", 100)])

    result = score(rule("modified_z_score", baseline_periods=5), new, past)

    assert flagged(result) == {1}


def test_a_short_history_is_not_scored_and_a_flat_one_falls_back_to_the_mean_deviation():
    new = incoming([("SYT", "GP_CAP", 50)])
    assert score(rule("z_score"), new, history({("SYT", "GP_CAP"): [10, 11]})).height == 0
    flat = history({("SYT", "GP_CAP"): [10, 10, 10, 10, 12]})  # MAD 0, mean absolute deviation 0.4
    result = score(rule("modified_z_score"), new, flat)
    assert flagged(result) == {0}
    assert result["score"][0] == pytest.approx(40 / (0.4 * 1.253314))


def test_history_from_later_periods_is_ignored():
    past = history({("SYT", "GP_CAP"): STEADY})
    new = incoming([("SYT", "GP_CAP", 30)], period="2025-03")  # only 2025-01 and 2025-02 came before
    assert score(rule("z_score"), new, past).height == 0
