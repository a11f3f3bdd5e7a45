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


def working_days_after(first: date, last: date) -> int:
    """Working days after `first`, up to and including `last` (0 when last ≤ first)."""
    if last <= first:
        return 0
    return _calendar().get_working_days_count(first + timedelta(days=1), last)
