"""Working days in Viet Nam: weekends and public holidays (Tết follows the lunar calendar) are off,
Saturdays made working days by a government swap are on. From the maintained `holidays` library."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache


@lru_cache(maxsize=1)
def _calendar():
    import holidays

    return holidays.country_holidays("VN")


def is_working_day(day: date) -> bool:
    return _calendar().is_working_day(day)


def holiday_name(day: date) -> str | None:
    return _calendar().get(day)


def add_working_days(day: date, count: int) -> date:
    """The count-th working day after day (count 0: day itself if it is a working day, else the next)."""
    if count == 0:
        while not is_working_day(day):
            day += timedelta(days=1)
        return day
    return _calendar().get_nth_working_day(day, count)


_TABLE_START = date(2000, 1, 1)


@lru_cache(maxsize=8)
def _cumulative(last_year: int) -> list[int]:
    """Working days from 2000-01-01 up to and including each day until the end of last_year."""
    counts, total, day = [], 0, _TABLE_START
    while day.year <= last_year:
        total += is_working_day(day)
        counts.append(total)
        day += timedelta(days=1)
    return counts


def working_days_after(first: date, last: date) -> int:
    """Working days after `first`, up to and including `last` (0 when last ≤ first). A difference of
    two lookups in a table built once per process (the library counts day by day)."""
    if last <= first:
        return 0
    if first < _TABLE_START:
        return _calendar().get_working_days_count(first + timedelta(days=1), last)
    table = _cumulative(max(last.year, date.today().year + 1) // 10 * 10 + 9)  # decades: rebuilt rarely
    return table[(last - _TABLE_START).days] - table[(first - _TABLE_START).days]


def working_days_after_each(first, last):
    """working_days_after for each pair of two polars Date series (null where either is null): two gathers
    from the same table, so a million tasks cost what a few lookups do."""
    import polars as pl

    frame = pl.DataFrame({"first": first, "last": last}, schema={"first": pl.Date, "last": pl.Date})
    known = frame.drop_nulls()
    if known.height == 0:
        return pl.Series("working_days", [None] * frame.height, dtype=pl.Int64)
    last_year = max(known["last"].max().year, date.today().year + 1) // 10 * 10 + 9
    table = pl.Series("cumulative", _cumulative(last_year), dtype=pl.Int64)
    start = pl.lit(_TABLE_START)
    in_table = (pl.col("first") >= start) & (pl.col("last") >= start)
    position = frame.with_row_index("_i").with_columns(
        first_at=(pl.col("first") - start).dt.total_days().clip(0),
        last_at=(pl.col("last") - start).dt.total_days().clip(0))
    looked_up = position.with_columns(
        pl.when(pl.col("first").is_null() | pl.col("last").is_null()).then(None)
        .when(pl.col("last") <= pl.col("first")).then(0)
        .when(in_table).then(table.gather(position["last_at"].fill_null(0)) - table.gather(position["first_at"].fill_null(0)))
        .alias("working_days"))
    outside = looked_up.filter(pl.col("first").is_not_null() & pl.col("last").is_not_null()
                               & (pl.col("last") > pl.col("first")) & ~in_table)
    result = looked_up["working_days"]
    for i, a, b in outside.select("_i", "first", "last").iter_rows():  # dates before 2000: the library counts
        result[i] = working_days_after(a, b)
    return result.alias("working_days")
