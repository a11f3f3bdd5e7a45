"""Time helpers of the simulated province: time zone, months, working days and random moments."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def local_now() -> datetime:
    """The current time in Asia/Ho_Chi_Minh, to the second."""
    return datetime.now(TZ).replace(microsecond=0)


def at(day: date, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """A local moment on `day`."""
    return datetime.combine(day, time(hour, minute, second), TZ)


def month_start(moment: date) -> date:
    return moment.replace(day=1)


def add_months(first_of_month: date, count: int) -> date:
    index = first_of_month.year * 12 + first_of_month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def period_of(day: date) -> str:
    """The monthly period `YYYY-MM` containing `day`."""
    return f"{day.year:04d}-{day.month:02d}"


def period_start(period: str) -> date:
    year, month = period.split("-")
    return date(int(year), int(month), 1)


def period_end(period: str) -> date:
    return add_months(period_start(period), 1) - timedelta(days=1)


def report_deadline(period: str) -> datetime:
    """Nominal submission deadline of a monthly report: the 16th of the month at 17:00 (Decree 09 cut-off + 2 days)."""
    return at(period_start(period).replace(day=16), 17)


def add_working_days(start: datetime, days: int) -> datetime:
    """`start` moved forward by `days` Monday-to-Friday days (public holidays are not simulated)."""
    moment = start
    while days > 0:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            days -= 1
    return moment


def random_moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A moment in [start, end), to the second."""
    span = max(int((end - start).total_seconds()), 1)
    return start + timedelta(seconds=rng.randrange(span))


def random_moment_after(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A moment in (start, end], to the second: something that happened since `start`."""
    return random_moment(rng, start + timedelta(seconds=1), end + timedelta(seconds=1))


def random_office_moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A moment in [start, end) that falls on a weekday between 07:30 and 17:00 when the range allows it."""
    for _ in range(20):
        moment = random_moment(rng, start, end)
        if moment.weekday() < 5 and time(7, 30) <= moment.time() < time(17):
            return moment
    return random_moment(rng, start, end)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 with the local offset (`+07:00`), to the second."""
    return None if moment is None else moment.astimezone(TZ).isoformat(timespec="seconds")


def arrivals(rng: random.Random, per_hour: float, start: datetime, end: datetime) -> list[datetime]:
    """Sorted moments in (start, end] of events arriving at `per_hour` on average."""
    expected = per_hour * (end - start).total_seconds() / 3600
    count = int(expected) + (1 if rng.random() < expected % 1 else 0)
    return sorted(random_moment_after(rng, start, end) for _ in range(count))
