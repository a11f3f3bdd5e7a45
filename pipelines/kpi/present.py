"""How KPI values read to people: status labels in Vietnamese and English (with a symbol, so colour
is never the only signal), values in their unit of measure, and the queries behind `ioc kpi show` (also as reported at an earlier moment).

Every surface shows by default each KPI's latest complete period (pipelines/kpi/completeness.py); a period still
running is shown only on request or beside it, labelled "đến ngày 03/12" / "to date 03/12" (the day its value was
computed), and not judged unless the KPI declares judge_running (its status is then `running`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import polars as pl

from pipelines import wording
from pipelines.calendar.periods import period_of
from pipelines.declarations.kpis import Kpi
from pipelines.kpi.compute import any_period

# the symbol beside each status's words (so colour is never the only signal) and its terminal colour; the words
# are the wording's kpi.status.* (pipelines/wording), the same on the wall and in the briefing
STATUS_LABELS = {
    "green": {"symbol": "●", "style": "green"},
    "amber": {"symbol": "▲", "style": "yellow"},
    "red": {"symbol": "✖", "style": "bold red"},
    "no_data": {"symbol": "○", "style": "dim"},
    "running": {"symbol": "◌", "style": "cyan"},
}
UNIT_SUFFIX = {"percent": "%", "count": "", "days": " ngày", "hours": " giờ", "seconds": " s", "vnd": " ₫", "ratio": ""}
STATUS_ORDER = {"red": 0, "amber": 1, "no_data": 2, "running": 3, "green": 4}


def format_value(kpi: Kpi, value: float | None) -> str:
    if value is None:
        return "—"
    text = f"{value:,.{kpi.decimals}f}".replace(",", " ")
    return text + UNIT_SUFFIX[kpi.unit_of_measure]


def status_style(status: str | None) -> str:
    """The terminal colour of a status (rich markup)."""
    return STATUS_LABELS.get(status or "no_data", STATUS_LABELS["no_data"])["style"]


def status_words(status: str | None, lang: str = "vi") -> str:
    """A status in words ("Không đạt", "Off target"); no status, or one unknown, is no data."""
    known = status if status in STATUS_LABELS else "no_data"
    return wording.text(f"kpi.status.{known}", lang)


def status_text(status: str | None) -> str:
    """A status as the command line prints it: "✖ Không đạt / off target"."""
    label = STATUS_LABELS.get(status or "no_data", STATUS_LABELS["no_data"])
    english = status_words(status, "en")
    return f"{label['symbol']} {status_words(status)} / {english[:1].lower()}{english[1:]}"


def as_of_moment(text: str) -> datetime:
    """The moment an --as-of or ?as_of= names, in UTC: an ISO date and time (Vietnam time unless it says
    otherwise), or a date, meaning its last instant in Vietnam. ValueError says what is expected."""
    vietnam = ZoneInfo("Asia/Ho_Chi_Minh")
    try:
        return datetime.combine(date.fromisoformat(text), time.max, vietnam).astimezone(UTC)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            "expected a date (2026-11-20) or a date and time (2026-11-20T17:00, 2026-11-20T10:00:00+00:00)"
        ) from None
    try:
        return (moment if moment.tzinfo else moment.replace(tzinfo=vietnam)).astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00 in Vietnam is a moment of year 0 in UTC
        raise ValueError(f"{text} falls outside the years 1 to 9999 once in UTC") from None


def to_date_text(day: date | None) -> str:
    """ "đến ngày 03/12 / to date 03/12": how far a running period's value goes (the day it was computed)."""
    if day is None:
        return ""
    text = f"{day.day:02d}/{day.month:02d}"
    return f"{wording.text('kpi.to_date', 'vi', d=text)} / {wording.text('kpi.to_date', 'en', d=text)}"


def period_text(row: dict) -> str:
    """The period of a value as `ioc kpi show` prints it: its key, and "to date" when it is still running."""
    if row.get("period_state") == "running":
        return f"{row['period']} ({to_date_text(row.get('to_date'))})"
    return str(row["period"])


def stored_values(con) -> str:
    """marts.kpi_values with period_state (a value stored before the column existed was judged: complete) and
    to_date (a running period's local day of computation). An earlier snapshot (--as-of) may lack the column."""
    columns = {c[0] for c in con.execute("SELECT * FROM marts.kpi_values LIMIT 0").description}
    to_date = (
        "CASE WHEN period_state = 'running' THEN CAST(timezone('Asia/Ho_Chi_Minh', computed_at) AS DATE) END AS to_date"
    )
    if "period_state" not in columns:
        return "(SELECT *, 'complete' AS period_state, CAST(NULL AS DATE) AS to_date FROM marts.kpi_values)"
    return f"(SELECT * REPLACE (coalesce(period_state, 'complete') AS period_state), {to_date} FROM marts.kpi_values)"


def _where(kpi_id: str | None, unit: str | None) -> tuple[str, list]:
    where, params = [], []
    if kpi_id:
        where.append("kpi_id = ?")
        params.append(kpi_id)
    if unit:
        where.append("unit_code = ?")
        params.append(unit)
    return ("WHERE " + " AND ".join(where)) if where else "", params


# per KPI: the period shown by default (its latest complete one; without any, its latest, running)
SHOWN = (
    "coalesce(max(CASE WHEN period_state = 'complete' THEN period END) OVER (PARTITION BY kpi_id), "
    "max(period) OVER (PARTITION BY kpi_id))"
)


def latest(con, kpi_id: str | None = None, unit: str | None = None) -> pl.DataFrame:
    """Each KPI (or one) for one unit or for every unit, in the period shown by default: its latest complete
    period (a KPI with none yet: its latest, labelled running)."""
    clause, params = _where(kpi_id, unit)
    return con.sql(
        f"SELECT * FROM {stored_values(con)} {clause} QUALIFY period = {SHOWN} ORDER BY kpi_id, unit_code",
        params=params,
    ).pl()


def running(con, kpi_id: str | None = None, unit: str | None = None) -> pl.DataFrame:
    """The period still running after the one shown by default (the next to complete), per KPI: what a wall
    shows beside it, labelled to date."""
    clause, params = _where(kpi_id, unit)
    return con.sql(
        f"""
        SELECT * EXCLUDE (_shown) FROM (SELECT *, {SHOWN} AS _shown FROM {stored_values(con)} {clause})
        WHERE period_state = 'running' AND period > _shown
        QUALIFY period = min(period) OVER (PARTITION BY kpi_id) ORDER BY kpi_id, unit_code""",
        params=params,
    ).pl()


def in_period(con, kpis: dict[str, Kpi], key: str, kpi_id: str | None = None, unit: str | None = None) -> pl.DataFrame:
    """Each KPI (or one) in the period of its type containing the first day of the period `key` names
    (2026-12: December for a monthly KPI, 2026-Q4 for a quarterly one), complete or running."""

    asked = any_period(key)  # ValueError: not a period key
    wanted = []
    for k in kpis.values():
        if kpi_id in (None, k.id):
            try:
                wanted.append(f"{k.id}|{period_of(k.grain.period, asked.start).key}")
            except ValueError:  # a nine-month KPI asked for October
                continue
    clause, params = _where(kpi_id, unit)
    clause = (clause + " AND " if clause else "WHERE ") + "list_contains(?, kpi_id || '|' || period)"
    return con.sql(
        f"SELECT * FROM {stored_values(con)} {clause} ORDER BY kpi_id, unit_code", params=params + [wanted]
    ).pl()


def history(con, kpi_id: str, unit: str) -> pl.DataFrame:
    """Every stored period of one KPI for one unit, oldest first: the trend (running periods labelled)."""
    return con.sql(
        f"SELECT * FROM {stored_values(con)} WHERE kpi_id = ? AND unit_code = ? ORDER BY period", params=[kpi_id, unit]
    ).pl()
