"""Reporting periods of every type, each with a key (2026-10, 2026-Q4, 2026-W41…) and its days."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

PERIOD_TYPES = ("daily", "weekly", "monthly", "quarterly", "half_year", "nine_month", "yearly")

# ASCII digits only (a str pattern's \d is any script's digit: ２０２６-１１ is no key), the whole key (fullmatch:
# no trailing newline either): a key is written back as given, into the warehouse and into file names.
_KEYS = {
    "daily": re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII),
    "weekly": re.compile(r"(\d{4})-W(\d{2})", re.ASCII),
    "monthly": re.compile(r"(\d{4})-(\d{2})", re.ASCII),
    "quarterly": re.compile(r"(\d{4})-Q([1-4])", re.ASCII),
    "half_year": re.compile(r"(\d{4})-H([12])", re.ASCII),
    "nine_month": re.compile(r"(\d{4})-9M", re.ASCII),
    "yearly": re.compile(r"(\d{4})", re.ASCII),
}


@dataclass(frozen=True, order=True)
class Period:
    """One period: its type, its key as written in reports, and its first and last day."""

    start: date
    end: date
    type: str
    key: str


def month_end(year: int, month: int) -> date:
    first_of_next = date(year + month // 12, month % 12 + 1, 1)
    return first_of_next - timedelta(days=1)


def _months(year: int, first: int, last: int) -> tuple[date, date]:
    return date(year, first, 1), month_end(year, last)


def parse_period(period_type: str, key: str) -> Period:
    """The period of a key such as 2026-10 (monthly) or 2026-Q4 (quarterly); ValueError if it is not one."""
    if period_type not in _KEYS:
        raise ValueError(f"unknown period type {period_type!r}; one of {', '.join(PERIOD_TYPES)}")
    match = _KEYS[period_type].fullmatch(key)
    if not match:
        raise ValueError(f"{key!r} is not a {period_type} period key (e.g. {example_key(period_type)})")
    numbers = [int(g) for g in match.groups()]
    year = numbers[0]
    if period_type == "daily":
        start = end = date(*numbers)
    elif period_type == "weekly":
        start = date.fromisocalendar(year, numbers[1], 1)
        end = start + timedelta(days=6)
    elif period_type == "monthly":
        if not 1 <= numbers[1] <= 12:
            raise ValueError(f"{key!r}: month {numbers[1]} does not exist")
        start, end = _months(year, numbers[1], numbers[1])
    elif period_type == "quarterly":
        start, end = _months(year, 3 * numbers[1] - 2, 3 * numbers[1])
    elif period_type == "half_year":
        start, end = _months(year, 1, 6) if numbers[1] == 1 else _months(year, 7, 12)
    elif period_type == "nine_month":
        start, end = _months(year, 1, 9)
    else:
        start, end = _months(year, 1, 12)
    return Period(start, end, period_type, key)


def any_period(key: str) -> Period:
    """The period a key names, whatever its type (2026-10, 2026-Q4, 2026-W41, 2026…)."""
    for period_type in PERIOD_TYPES:
        try:
            return parse_period(period_type, key)
        except ValueError:
            continue
    raise ValueError(f"{key!r} is not a period key (e.g. 2026-10, 2026-Q4, 2026-W41, 2026-H2, 2026-9M, 2026)")


def period_of(period_type: str, day: date) -> Period:
    """The period of this type that contains the day (the nine-month period: days of January–September)."""
    if period_type == "daily":
        key = day.isoformat()
    elif period_type == "weekly":
        year, week, _ = day.isocalendar()
        key = f"{year}-W{week:02d}"
    elif period_type == "monthly":
        key = f"{day.year}-{day.month:02d}"
    elif period_type == "quarterly":
        key = f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    elif period_type == "half_year":
        key = f"{day.year}-H{1 if day.month <= 6 else 2}"
    elif period_type == "nine_month":
        if day.month > 9:
            raise ValueError(f"{day} is not in a nine-month period (January–September)")
        key = f"{day.year}-9M"
    elif period_type == "yearly":
        key = str(day.year)
    else:
        raise ValueError(f"unknown period type {period_type!r}; one of {', '.join(PERIOD_TYPES)}")
    return parse_period(period_type, key)


def periods_between(period_type: str, first: date, last: date) -> list[Period]:
    """Every period of the type that overlaps the days first…last, in order."""
    periods: list[Period] = []
    day = first
    while day <= last:
        if period_type == "nine_month" and day.month > 9:
            day = date(day.year + 1, 1, 1)
            continue
        period = period_of(period_type, day)
        periods.append(period)
        day = period.end + timedelta(days=1)
    return periods


def example_key(period_type: str) -> str:
    return {
        "daily": "2026-10-05",
        "weekly": "2026-W41",
        "monthly": "2026-10",
        "quarterly": "2026-Q4",
        "half_year": "2026-H2",
        "nine_month": "2026-9M",
        "yearly": "2026",
    }[period_type]


def recent_periods(period_type: str, today: date, count: int) -> list[Period]:
    """The `count` latest periods of the type that have started by today, oldest first."""
    window_start = (
        date(today.year - count - 1, 1, 1)
        if period_type not in ("daily", "weekly")
        else today - timedelta(days=(count + 1) * 7)
    )
    return periods_between(period_type, window_start, today)[-count:]
