"""Decree 09/2019/NĐ-CP Art. 12: the data window of a periodic report runs from the 15th of the
month before the period's last month to the 14th of its last month (annual: 15 Dec → 14 Dec)."""

from __future__ import annotations

from datetime import date

from pipelines.calendar.periods import Period

CUTOFF_DAY = 14


def data_window(period: Period) -> tuple[date, date]:
    """The first and last day of data a report of the period covers. Daily and weekly reports have no
    cut-off: their window is the period itself."""
    if period.type in ("daily", "weekly"):
        return period.start, period.end
    last_month = period.end.month
    end = date(period.end.year, last_month, CUTOFF_DAY)
    first_month = period.start.month
    start_year, start_month = (period.start.year - 1, 12) if first_month == 1 else (period.start.year, first_month - 1)
    return date(start_year, start_month, CUTOFF_DAY + 1), end


def cutoff(period: Period) -> date:
    """The last day of data of the period's report."""
    return data_window(period)[1]
