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
