"""How KPI values read to people: status labels in Vietnamese and English (with a symbol, so colour
is never the only signal), values in their unit of measure, and the queries behind `ioc kpi show` (also as reported at an earlier moment)."""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

import polars as pl

from pipelines.declarations.kpis import Kpi

STATUS_LABELS = {
    "green": {"vi": "Đạt", "en": "on target", "symbol": "●", "style": "green"},
    "amber": {"vi": "Cảnh báo", "en": "warning", "symbol": "▲", "style": "yellow"},
    "red": {"vi": "Không đạt", "en": "off target", "symbol": "✖", "style": "bold red"},
    "no_data": {"vi": "Không có dữ liệu", "en": "no data", "symbol": "○", "style": "dim"},
}
UNIT_SUFFIX = {"percent": "%", "count": "", "days": " ngày", "hours": " giờ", "seconds": " s", "vnd": " ₫",
               "ratio": ""}
STATUS_ORDER = {"red": 0, "amber": 1, "no_data": 2, "green": 3}


def format_value(kpi: Kpi, value: float | None) -> str:
    if value is None:
        return "—"
    text = f"{value:,.{kpi.decimals}f}".replace(",", " ")
    return text + UNIT_SUFFIX[kpi.unit_of_measure]


def status_style(status: str | None) -> str:
    """The terminal colour of a status (rich markup)."""
    return STATUS_LABELS.get(status or "no_data", STATUS_LABELS["no_data"])["style"]


def status_text(status: str | None) -> str:
    label = STATUS_LABELS.get(status or "no_data", STATUS_LABELS["no_data"])
    return f"{label['symbol']} {label['vi']} / {label['en']}"


def as_of_moment(text: str) -> datetime:
    """The moment an --as-of or ?as_of= names, in UTC: an ISO date and time (Vietnam time unless it says
    otherwise), or a date, meaning its last instant in Vietnam. ValueError says what is expected."""
    vietnam = ZoneInfo("Asia/Ho_Chi_Minh")
    try:
        return datetime.combine(date.fromisoformat(text), time.max, vietnam).astimezone(timezone.utc)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("expected a date (2026-11-20) or a date and time (2026-11-20T17:00, "
                         "2026-11-20T10:00:00+00:00)") from None
    try:
        return (moment if moment.tzinfo else moment.replace(tzinfo=vietnam)).astimezone(timezone.utc)
    except OverflowError:  # 0001-01-01T00:00 in Vietnam is a moment of year 0 in UTC
        raise ValueError(f"{text} falls outside the years 1 to 9999 once in UTC") from None


def latest(con, kpi_id: str | None = None, unit: str | None = None) -> pl.DataFrame:
    """The latest period of each KPI (or of one), for one unit or for every unit."""
    where, params = [], []
    if kpi_id:
        where.append("kpi_id = ?")
        params.append(kpi_id)
    if unit:
        where.append("unit_code = ?")
        params.append(unit)
    clause = ("WHERE " + " AND ".join(where)) if where else ""
    return con.sql(f"SELECT * FROM marts.kpi_values {clause} "
                   "QUALIFY period = max(period) OVER (PARTITION BY kpi_id) ORDER BY kpi_id, unit_code",
                   params=params).pl()


def history(con, kpi_id: str, unit: str) -> pl.DataFrame:
    """Every stored period of one KPI for one unit, oldest first: the trend."""
    return con.sql("SELECT * FROM marts.kpi_values WHERE kpi_id = ? AND unit_code = ? ORDER BY period",
                   params=[kpi_id, unit]).pl()
