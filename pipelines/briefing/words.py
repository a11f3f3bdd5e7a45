"""Numbers, values and dates as a Vietnamese administrative document writes them (1.234,5; ngày 01 tháng 12
năm 2026)."""

from __future__ import annotations

from datetime import date

from pipelines.text import vi_number as number

UNIT_VI = {"percent": "%", "count": "", "days": " ngày", "hours": " giờ", "seconds": " giây", "vnd": " đồng",
           "ratio": ""}


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
