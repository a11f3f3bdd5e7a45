"""A feed's deadline rule applied to a period: the due date, the instant after which a report is
late, and how late a report is in working days."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pipelines.calendar.cutoff import CUTOFF_DAY, cutoff
from pipelines.calendar.periods import Period, month_end
from pipelines.calendar.workdays import add_working_days, working_days_after
from pipelines.declarations.models import DeadlineRule

TIMEZONE = ZoneInfo("Asia/Ho_Chi_Minh")


def due_date(period: Period, rule: DeadlineRule) -> date:
    """The last day on which the period's report is on time."""
    if rule.rule == "day_of_next_month":
        assert rule.day is not None  # the rule's own check: day_of_next_month declares its day
        year, month = (period.end.year + 1, 1) if period.end.month == 12 else (period.end.year, period.end.month + 1)
        return date(year, month, min(rule.day, month_end(year, month).day))
    base = cutoff(period) if rule.rule == "after_cutoff" else period.end
    if rule.day_kind == "working":
        return add_working_days(base, rule.days)
    return base + timedelta(days=rule.days)


def deadline_at(period: Period, rule: DeadlineRule, timezone: ZoneInfo = TIMEZONE) -> datetime:
    """The first instant at which the report is late: midnight after the due date, local time."""
    return datetime.combine(due_date(period, rule) + timedelta(days=1), time(0), tzinfo=timezone)


def is_on_time(received_at: datetime, period: Period, rule: DeadlineRule) -> bool:
    return received_at < deadline_at(period, rule)


def lateness_working_days(
    received_at: datetime, period: Period, rule: DeadlineRule, timezone: ZoneInfo = TIMEZONE
) -> int:
    """Working days after the due date up to the (local) day of receipt; 0 when on time. A report
    received on the weekend after a Friday deadline is late, and 0 working days late."""
    return working_days_after(due_date(period, rule), received_at.astimezone(timezone).date())


def describe(rule: DeadlineRule) -> dict[str, str]:
    """The rule in words, in Vietnamese and English (the wall's tooltip, the alerts' text)."""
    if rule.rule == "day_of_next_month":
        return {
            "vi": f"Hạn nộp: ngày {rule.day} của tháng sau kỳ báo cáo (ngày cuối tháng nếu tháng không có ngày đó)",
            "en": f"Due on day {rule.day} of the month after the period (its last day if the month is shorter)",
        }
    kind_vi = "ngày làm việc" if rule.day_kind == "working" else "ngày"
    kind_en = "working day" if rule.day_kind == "working" else "calendar day"
    if rule.rule == "after_cutoff":
        base_vi = f"ngày chốt số liệu (ngày {CUTOFF_DAY} của tháng cuối kỳ, Nghị định 09/2019/NĐ-CP)"
        base_en = f"the data cut-off (day {CUTOFF_DAY} of the period's last month, Decree 09/2019/NĐ-CP)"
    else:
        base_vi, base_en = "ngày cuối kỳ báo cáo", "the period's last day"
    if rule.days == 0:
        return {"vi": f"Hạn nộp: {base_vi}", "en": f"Due on {base_en}"}
    plural = "s" if rule.days != 1 else ""
    return {
        "vi": f"Hạn nộp: {rule.days} {kind_vi} sau {base_vi}",
        "en": f"Due {rule.days} {kind_en}{plural} after {base_en}",
    }
