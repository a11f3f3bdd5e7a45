"""The reporting calendar: periods of every type, Decree 09/2019 windows, working days across Tết
and weekends, deadline rules, and lateness to the minute."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from pipelines.calendar.cutoff import data_window
from pipelines.calendar.deadlines import deadline_at, describe, due_date, is_on_time, lateness_working_days
from pipelines.calendar.periods import PERIOD_TYPES, example_key, parse_period, period_of, periods_between
from pipelines.calendar.workdays import add_working_days, is_working_day, working_days_after
from pipelines.declarations.models import DeadlineRule

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
D = date.fromisoformat

WINDOWS = [  # Decree 09/2019 Art. 12
    ("monthly", "2026-10", "2026-09-15", "2026-10-14"),
    ("monthly", "2026-01", "2025-12-15", "2026-01-14"),
    ("quarterly", "2026-Q1", "2025-12-15", "2026-03-14"),
    ("quarterly", "2026-Q3", "2026-06-15", "2026-09-14"),
    ("half_year", "2026-H1", "2025-12-15", "2026-06-14"),
    ("half_year", "2026-H2", "2026-06-15", "2026-12-14"),
    ("nine_month", "2026-9M", "2025-12-15", "2026-09-14"),
    ("yearly", "2026", "2025-12-15", "2026-12-14"),
    ("weekly", "2026-W41", "2026-10-05", "2026-10-11"),
    ("daily", "2026-10-05", "2026-10-05", "2026-10-05"),
]


@pytest.mark.parametrize("period_type,key,first,last", WINDOWS)
def test_decree_09_data_window(period_type, key, first, last):
    assert data_window(parse_period(period_type, key)) == (D(first), D(last))


@pytest.mark.parametrize("period_type", PERIOD_TYPES)
def test_period_keys_round_trip(period_type):
    period = parse_period(period_type, example_key(period_type))
    assert period_of(period_type, period.start) == period == period_of(period_type, period.end)


def test_period_edges():
    assert parse_period("weekly", "2026-W53").end == D("2027-01-03")  # 31 Dec 2026 is in ISO week 53
    assert period_of("weekly", D("2027-01-01")).key == "2026-W53"
    assert parse_period("monthly", "2028-02").end == D("2028-02-29")
    assert [p.key for p in periods_between("quarterly", D("2026-02-10"), D("2026-08-01"))] == [
        "2026-Q1", "2026-Q2", "2026-Q3"]
    assert [p.key for p in periods_between("nine_month", D("2026-08-01"), D("2027-02-01"))] == ["2026-9M", "2027-9M"]
    with pytest.raises(ValueError, match="13"):
        parse_period("monthly", "2026-13")
    with pytest.raises(ValueError, match="2026-10"):
        parse_period("monthly", "10/2026")


@pytest.mark.parametrize("day,working", [
    ("2026-02-16", False), ("2026-02-20", False),  # Tết 2026 (lunar new year on 17 February)
    ("2027-02-05", False), ("2027-02-10", False),  # Tết 2027 (6 February)
    ("2026-02-21", False), ("2026-10-18", False),  # weekends
    ("2026-04-30", False), ("2026-09-02", False),  # Reunification Day, National Day
    ("2026-08-22", True),  # a Saturday made a working day (swapped for 31 August)
    ("2026-08-31", False), ("2026-10-16", True),
])
def test_working_days(day, working):
    assert is_working_day(D(day)) is working


def test_working_day_arithmetic_across_tet():
    assert add_working_days(D("2026-02-13"), 1) == D("2026-02-23")  # Fri → after Tết and the weekend
    assert add_working_days(D("2027-02-03"), 1) == D("2027-02-11")
    assert add_working_days(D("2026-02-15"), 0) == D("2026-02-23")
    assert working_days_after(D("2026-02-13"), D("2026-02-24")) == 2
    assert working_days_after(D("2026-10-16"), D("2026-10-16")) == 0


MONTHLY_REPORT = DeadlineRule(rule="after_cutoff", days=2, day_kind="working")  # dept_monthly_report


@pytest.mark.parametrize("period,due", [
    ("2026-10", "2026-10-16"),  # cut-off Wed 14 Oct + 2 working days
    ("2026-02", "2026-02-24"),  # cut-off Sat 14 Feb: Tết 16–20 Feb and two weekends pass first
    ("2027-01", "2027-01-18"),  # cut-off Thu 14 Jan: Fri 15, then Mon 18
    ("2027-02", "2027-02-16"),  # after Tết 2027
    ("2026-08", "2026-08-18"),
])
def test_monthly_report_deadline_in_working_days(period, due):
    assert due_date(parse_period("monthly", period), MONTHLY_REPORT) == D(due)


def test_other_deadline_rules():
    october = parse_period("monthly", "2026-10")
    assert due_date(october, DeadlineRule(rule="after_period_end", days=5)) == D("2026-11-05")
    assert due_date(october, DeadlineRule(rule="day_of_next_month", day=15)) == D("2026-11-15")  # Circular 02/2023
    assert due_date(parse_period("monthly", "2027-01"), DeadlineRule(rule="day_of_next_month", day=31)) == D("2027-02-28")
    assert due_date(parse_period("quarterly", "2026-Q4"),
                    DeadlineRule(rule="after_cutoff", days=2, day_kind="working")) == D("2026-12-16")


def test_a_report_one_minute_after_its_deadline_is_late():
    october = parse_period("monthly", "2026-10")
    assert deadline_at(october, MONTHLY_REPORT) == datetime(2026, 10, 17, 0, 0, tzinfo=HCM)
    assert is_on_time(datetime(2026, 10, 16, 23, 59, tzinfo=HCM), october, MONTHLY_REPORT)
    assert not is_on_time(datetime(2026, 10, 17, 0, 1, tzinfo=HCM), october, MONTHLY_REPORT)
    # the same minute in UTC: 16 Oct 17:01 UTC is 17 Oct 00:01 in Hà Nội
    assert not is_on_time(datetime(2026, 10, 16, 17, 1, tzinfo=ZoneInfo("UTC")), october, MONTHLY_REPORT)


def test_lateness_counts_working_days_only():
    october = parse_period("monthly", "2026-10")
    late = lambda iso: lateness_working_days(datetime.fromisoformat(iso), october, MONTHLY_REPORT)  # noqa: E731
    assert late("2026-10-16T16:00:00+07:00") == 0
    assert late("2026-10-17T09:00:00+07:00") == 0  # Saturday: late, but no working day lost yet
    assert late("2026-10-19T09:00:00+07:00") == 1
    assert late("2026-10-24T09:00:00+07:00") == 5


@pytest.mark.parametrize(("rule", "vi", "en"), [
    (DeadlineRule(rule="after_cutoff", days=2, day_kind="working"),
     "Hạn nộp: 2 ngày làm việc sau ngày chốt số liệu (ngày 14", "Due 2 working days after the data cut-off (day 14"),
    (DeadlineRule(rule="after_period_end", days=1), "Hạn nộp: 1 ngày sau ngày cuối kỳ báo cáo",
     "Due 1 calendar day after the period's last day"),
    (DeadlineRule(rule="after_period_end", days=0), "Hạn nộp: ngày cuối kỳ báo cáo", "Due on the period's last day"),
    (DeadlineRule(rule="day_of_next_month", day=5), "Hạn nộp: ngày 5 của tháng sau kỳ báo cáo",
     "Due on day 5 of the month after the period"),
])
def test_a_deadline_rule_in_words(rule, vi, en):
    """The wall's tooltip: the rule as people say it, in both languages."""
    words = describe(rule)
    assert words["vi"].startswith(vi) and words["en"].startswith(en)


def test_working_days_of_many_pairs_at_once_match_the_day_by_day_count():
    import random
    from datetime import timedelta

    import duckdb
    import polars as pl

    from pipelines.calendar.workdays import register_working_days, working_days_after_sql

    rng = random.Random(3)
    firsts = [date(1995, 1, 1) + timedelta(days=rng.randint(0, 40 * 365)) for _ in range(3000)]
    lasts = [first + timedelta(days=rng.randint(-30, 400)) for first in firsts]
    firsts[::20] = [None] * len(firsts[::20])  # a task with no due date
    con = duckdb.connect()
    pairs = pl.DataFrame({"i": range(len(firsts)), "a": firsts, "b": lasts})
    con.register("pairs", pairs)
    register_working_days(con, min(f for f in firsts if f), max(lasts))

    joins, count = working_days_after_sql("p.a", "p.b")
    got = [n for _, n in con.execute(f"SELECT p.i, {count} FROM pairs AS p {joins} ORDER BY p.i").fetchall()]

    assert got == [working_days_after(a, b) if a else None for a, b in zip(firsts, lasts)]
    assert any(a and a.year < 2000 for a in firsts), "dates before the table are counted too"
