"""Working days in Viet Nam: weekends and public holidays (Tết follows the lunar calendar) are off,
Saturdays made working days by a government swap are on. From the maintained `holidays` library."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache


@lru_cache(maxsize=1)
def _calendar():
    import holidays  # lazy: the holidays library (0.1 s) only where working days are counted

    return holidays.country_holidays("VN")


def is_working_day(day: date) -> bool:
    return _calendar().is_working_day(day)


def add_working_days(day: date, count: int) -> date:
    """The count-th working day after day (count 0: day itself if it is a working day, else the next)."""
    if count == 0:
        while not is_working_day(day):
            day += timedelta(days=1)
        return day
    return _calendar().get_nth_working_day(day, count)


_TABLE_START = date(2000, 1, 1)
TABLE = "marts.working_days"  # working days counted up to each day (marts.task_status reads it)


@lru_cache(maxsize=8)
def _cumulative(last_year: int, first_year: int = _TABLE_START.year) -> list[int]:
    """Working days from first_year's 1 January up to and including each day until the end of last_year."""
    counts, total, day = [], 0, date(first_year, 1, 1)
    while day.year <= last_year:
        total += is_working_day(day)
        counts.append(total)
        day += timedelta(days=1)
    return counts


def _last_year(last: date) -> int:
    return max(last.year, date.today().year + 1) // 10 * 10 + 9  # decades: the table is rebuilt rarely


def warm() -> None:
    """Build this decade's table now: a process that forks loads (the warm runner) builds it once for them all
    (0.1–0.3 s of each small load's deadline refresh, measured)."""
    _cumulative(_last_year(date.today()))


def working_days_after(first: date, last: date) -> int:
    """Working days after `first`, up to and including `last` (0 when last ≤ first). A difference of
    two lookups in a table built once per process (the library counts day by day)."""
    if last <= first:
        return 0
    if first < _TABLE_START:
        return _calendar().get_working_days_count(first + timedelta(days=1), last)
    table = _cumulative(_last_year(last))
    return table[(last - _TABLE_START).days] - table[(first - _TABLE_START).days]


def register_working_days(con, first: date | None, last: date | None) -> None:
    """Make TABLE (day, counted) on a DuckDB connection, covering `first` to `last` at least: with it,
    working_days_after_sql counts working days for any number of rows in one join."""
    import polars as pl  # lazy: polars (0.3 s and more) only where the calendar is written into the warehouse

    start = min(first or _TABLE_START, _TABLE_START).year
    counts = _cumulative(_last_year(last or _TABLE_START), start)
    table = pl.DataFrame({"counted": counts}, schema={"counted": pl.Int64}).with_columns(
        day=pl.date_range(date(start, 1, 1), date(start, 1, 1) + timedelta(days=len(counts) - 1), eager=True)
    )
    con.register("_working_days_frame", table)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {TABLE.split('.')[0]}")
    con.execute(f"CREATE OR REPLACE TABLE {TABLE} AS SELECT day, counted FROM _working_days_frame")
    con.unregister("_working_days_frame")


def working_days_after_sql(first: str, last: str) -> tuple[str, str]:
    """SQL for working_days_after of two DATE expressions over TABLE: the joins to add to the FROM clause,
    and the count (null where either date is null)."""
    joins = (
        f"LEFT JOIN {TABLE} AS _wd_first ON _wd_first.day = {first} "
        f"LEFT JOIN {TABLE} AS _wd_last ON _wd_last.day = {last}"
    )
    count = (
        f"CASE WHEN {first} IS NULL OR {last} IS NULL THEN NULL WHEN {last} <= {first} THEN 0 "
        f"ELSE _wd_last.counted - _wd_first.counted END"
    )
    return joins, count
