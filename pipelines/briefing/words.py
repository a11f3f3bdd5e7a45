"""Numbers, values and dates as a Vietnamese administrative document writes them (1.234,5; ngày 01 tháng 12
năm 2026)."""

from __future__ import annotations

import re
from datetime import date

from pipelines.text import vi_number as number
from pipelines.wording import text

UNIT_VI = {
    "percent": "%",
    "count": "",
    "days": " ngày",
    "hours": " giờ",
    "seconds": " giây",
    "vnd": " đồng",
    "ratio": "",
}


def value(amount: float | None, unit_of_measure: str, decimals: int) -> str:
    if amount is None:
        return "—"
    if unit_of_measure == "vnd" and abs(amount) >= 1e9:
        return f"{number(amount / 1e9, 1)} tỷ đồng"
    return number(amount, decimals) + UNIT_VI[unit_of_measure]


def change(amount: float | None, unit_of_measure: str, decimals: int) -> str:
    if amount is None:
        return "—"
    sign = "+" if amount > 0 else "−" if amount < 0 else "±"
    if unit_of_measure == "percent":
        return f"{sign}{number(abs(amount), decimals)} điểm %"
    return sign + value(abs(amount), unit_of_measure, decimals)


def long_date(day: date) -> str:
    """ngày 01 tháng 12 năm 2026 (days and months below 10 written with a zero, as Nghị định 30 asks for
    days 1–9 and months 1–2)."""
    month = f"{day.month:02d}" if day.month < 3 else str(day.month)
    return f"ngày {day.day:02d} tháng {month} năm {day.year}"


def short_date(day: date) -> str:
    return f"{day.day:02d}/{day.month:02d}/{day.year}"


def period_words(key: str | None) -> str:
    """A period key as the briefing writes it: tháng 11/2026, quý 4/2026, năm 2026, 03/12/2026…"""
    if key is None:
        return ""
    if m := re.fullmatch(r"(\d{4})-(\d{2})", key):
        return f"tháng {int(m[2])}/{m[1]}"
    if m := re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", key):
        return f"{m[3]}/{m[2]}/{m[1]}"
    if m := re.fullmatch(r"(\d{4})-Q(\d)", key):
        return f"quý {m[2]}/{m[1]}"
    if m := re.fullmatch(r"(\d{4})-W(\d{2})", key):
        return f"tuần {int(m[2])}/{m[1]}"
    if m := re.fullmatch(r"(\d{4})-H(\d)", key):
        return f"6 tháng {'đầu' if m[2] == '1' else 'cuối'} năm {m[1]}"
    if m := re.fullmatch(r"(\d{4})-9M", key):
        return f"9 tháng năm {m[1]}"
    if re.fullmatch(r"\d{4}", key):
        return f"năm {key}"
    return key


def to_date(day: date | None) -> str:
    """đến ngày 03/12: how far a running period's value goes (the platform's words, kpi.to_date)."""
    return text("kpi.to_date", d=f"{day.day:02d}/{day.month:02d}") if day else ""
