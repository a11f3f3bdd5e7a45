"""Why a KPI value is what it is: the records behind its numerator and denominator, those that keep it
off target first, each with its lineage (feed, batch, file or URL, source row, when it was received).

The records come from the KPI's own declaration, through the compiler that computes the value
(compile.records_sql): a record's part is the measure's aggregates over that one record, so the parts
of all records add up (or, for a KPI that rolls up by max, max up) to the value's numerator and
denominator. A ratio_of_kpis KPI explains through its two inputs.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl

from pipelines.calendar.deadlines import TIMEZONE
from pipelines.calendar.periods import Period, period_of
from pipelines.conform.reasons import FILE_NAME_IN_URI
from pipelines.declarations.kpis import Kpi, RatioOfKpis, TableMeasure
from pipelines.declarations.loading import Catalog
from pipelines.kpi.compile import NoRecords, records_sql, substitute
from pipelines.kpi.compute import FEEDS_VIEW, any_period, declared_feeds
from pipelines.kpi.present import latest, stored_values
from pipelines.kpi.tree import ancestors
from pipelines.spreadsheet_safe import safe_value
from pipelines.warehouse import quote, table_exists

UNITS_VIEW = "_kpi_explain_units"
PAGE_SIZE, MAX_PAGE_SIZE = 50, 5000
PART_COLUMNS = ("_kpi_unit", "_kpi_numerator", "_kpi_denominator", "_kpi_impact", "_kpi_against")
# the lineage of a record, by the columns of the table it is read from (feeds' clean tables carry the first
# four; the deadline marts carry those of the receipt or row they come from)
LINEAGE = {
    "batch_id": "_batch_id",
    "source_uri": "_source_uri",
    "source_row": "_source_row",
    "received_at": "_received_at",
}
HIDDEN = {"_loaded_at", "_last_seen_at", "_withdrawn_at", "computed_at"}  # bookkeeping, not what a record says
DEFAULT_IMPACT = {
    "lower_is_better": {"vi": "Phần đóng góp", "en": "Contribution"},
    "higher_is_better": {"vi": "Phần thiếu", "en": "Shortfall"},
}


@dataclass
class Explanation:
    """One KPI value (KPI × unit × period) down to its records, one page of them."""

    kpi_id: str
    unit: str
    period: str
    as_of: datetime  # the moment the value was computed at ({now} of the KPI's SQL)
    value: dict | None  # its row of marts.kpi_values (None: never computed)
    combine: str  # how the records' parts make the value's: "sum" or "max"
    numerator: float | None = None
    denominator: float | None = None
    records_total: int = 0
    against_total: int = 0
    page: int = 1
    page_size: int = PAGE_SIZE
    records: list[dict] = field(default_factory=list)
    impact_name: dict | None = None
    inputs: dict[str, Explanation] = field(default_factory=dict)  # a ratio_of_kpis: its numerator and denominator KPIs
    unavailable: str | None = None  # why the records cannot be listed

    def to_dict(self) -> dict:
        return {
            "kpi_id": self.kpi_id,
            "unit": self.unit,
            "period": self.period,
            "as_of": self.as_of.isoformat(),
            "value": self.value,
            "combine": self.combine,
            "numerator": self.numerator,
            "denominator": self.denominator,
            "records_total": self.records_total,
            "against_total": self.against_total,
            "page": self.page,
            "page_size": self.page_size,
            "impact_name": self.impact_name,
            "records": self.records,
            "unavailable": self.unavailable,
            "inputs": {role: e.to_dict() for role, e in self.inputs.items()},
        }


def explain(
    con,
    catalog: Catalog,
    kpi_id: str,
    unit: str,
    period: str | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
    now: datetime | None = None,
) -> Explanation:
    """The records behind one stored KPI value (by default of the period every surface shows: the latest complete
    one), one page of them, sorted by how
    much each counts against the KPI. The records are judged as of the moment the value was computed."""
    if kpi_id not in catalog.kpis:
        raise KeyError(f"unknown KPI {kpi_id!r}; declared KPIs: {', '.join(sorted(catalog.kpis))}")
    kpi = catalog.kpis[kpi_id]
    value = _stored_value(con, kpi_id, unit, period)
    if value is None and period is None:
        raise LookupError(f"KPI {kpi_id} has no value for unit {unit!r}: run `ioc kpi compute`, or name a period")
    moment = value["computed_at"] if value else (now or datetime.now(UTC))
    key = value["period"] if value else period
    assert key is not None  # without a stored value a period was named (LookupError above otherwise)
    asked = _period(kpi, key)
    page, page_size = max(1, page), min(max(1, page_size), MAX_PAGE_SIZE)
    e = Explanation(
        kpi_id=kpi_id,
        unit=unit,
        period=asked.key,
        as_of=moment,
        value=value,
        page=page,
        page_size=page_size,
        combine="max" if kpi.rollup == "max" else "sum",
    )
    if isinstance(kpi.measure, RatioOfKpis):
        for role in ("numerator", "denominator"):
            e.inputs[role] = explain(con, catalog, getattr(kpi.measure, role), unit, asked.key, page, page_size, moment)
            stored = e.inputs[role].value
            setattr(e, role, stored["value"] if stored else None)
        e.unavailable = (
            f"{kpi_id} = {kpi.measure.numerator} ÷ {kpi.measure.denominator}: its records are those of its two inputs"
        )
        return e
    e.impact_name = kpi.explain.impact_name.model_dump() if kpi.explain.impact_name else DEFAULT_IMPACT[kpi.direction]
    if isinstance(kpi.measure, TableMeasure):
        schema, _, table = kpi.measure.from_.rpartition(".")
        if not table_exists(con, schema or "clean", table):
            e.unavailable = f"{kpi.measure.from_} does not exist yet: its feed never loaded"
            return e
    current = period_of(kpi.grain.period, moment.astimezone(TIMEZONE).date())
    try:
        sql = records_sql(kpi, asked, current, catalog.org_units.province, UNITS_VIEW, _green_bound(kpi, value))
    except NoRecords as exc:
        e.unavailable = str(exc)
        return e
    sql = substitute(sql, moment)
    con.execute("SET TimeZone = 'Asia/Ho_Chi_Minh'")  # a timestamp's period is its local one, as in compute
    con.register(UNITS_VIEW, _units(kpi, catalog, unit))
    con.register(FEEDS_VIEW, declared_feeds(catalog))  # query measures read the declared feeds
    try:
        totals = con.sql(
            f"SELECT count(*), count(*) FILTER (WHERE _kpi_against), {e.combine}(_kpi_numerator), "
            f"{e.combine}(_kpi_denominator) FROM ({sql})"
        ).fetchone()
        e.records_total, e.against_total, e.numerator, e.denominator = totals
        source = _feed_of(kpi)
        e.records = [_record(row, source) for row in _page(con, sql, page, page_size).iter_rows(named=True)]
    finally:
        con.unregister(UNITS_VIEW)
        con.unregister(FEEDS_VIEW)
        con.execute("RESET TimeZone")
    return e


def all_records(con, catalog: Catalog, kpi_id: str, unit: str, period: str | None = None) -> Explanation:
    """Every record at once (for a CSV to hand to a department, and for checks)."""
    return explain(con, catalog, kpi_id, unit, period, page=1, page_size=MAX_PAGE_SIZE)


def _stored_value(con, kpi_id: str, unit: str, period: str | None) -> dict | None:
    if not table_exists(con, "marts", "kpi_values"):
        return None
    if period:  # the period asked for, complete or running
        rows = con.sql(
            f"SELECT * FROM {stored_values(con)} WHERE kpi_id = ? AND unit_code = ? AND period = ?",
            params=[kpi_id, unit, period],
        ).pl()
    else:  # the period shown by default: the latest complete one
        rows = latest(con, kpi_id, unit)
    if rows.is_empty():
        return None
    row = rows.with_columns(pl.col("computed_at").dt.convert_time_zone("UTC")).row(0, named=True)
    return row


def _period(kpi: Kpi, key: str) -> Period:
    asked = any_period(key)
    try:
        return period_of(kpi.grain.period, asked.start)
    except ValueError:
        raise ValueError(f"KPI {kpi.id} is {kpi.grain.period}: no such period contains {key}") from None


def _green_bound(kpi: Kpi, value: dict | None) -> float | None:
    """The bound a value must meet to be green (resolved with the period's target when relative)."""
    t = kpi.thresholds
    if not t.relative_to_target:
        return t.green
    target = value["target"] if value else kpi.target
    return None if target is None else t.green * target


def _units(kpi: Kpi, catalog: Catalog, unit: str) -> pl.DataFrame:
    """The unit, and every unit below it when the KPI rolls up."""
    codes = {unit}
    if kpi.rollup != "none":
        tree = ancestors(catalog.org_units)
        codes |= set(tree.filter(pl.col("ancestor") == unit)["unit_code"].to_list())
    return pl.DataFrame({"unit_code": sorted(codes)}, schema={"unit_code": pl.String})


def _feed_of(kpi: Kpi) -> str | None:
    """The feed a table measure reads directly (its clean table), if any."""
    m = kpi.measure
    if isinstance(m, TableMeasure) and m.from_.rpartition(".")[0] in ("", "clean"):
        return m.from_.rpartition(".")[2]
    return None


def _page(con, sql: str, page: int, page_size: int) -> pl.DataFrame:
    """One page, in a stable order: records against the KPI first, the most impact first, then by every
    column (so pages never overlap)."""
    columns = [c for c in con.sql(f"SELECT * FROM ({sql}) LIMIT 0").columns if c not in PART_COLUMNS]
    order = ", ".join(
        ["_kpi_against DESC", "_kpi_impact DESC NULLS LAST", "_kpi_unit"] + [f"{quote(c)} NULLS LAST" for c in columns]
    )
    return con.sql(f"SELECT * FROM ({sql}) ORDER BY {order} LIMIT {page_size} OFFSET {(page - 1) * page_size}").pl()


def _record(row: dict, feed: str | None) -> dict:
    lineage = {"feed": feed or row.get("feed")}
    for name, column in LINEAGE.items():
        lineage[name] = row.get(column)
    if lineage["received_at"] is None and "received_at" in row and feed is None:
        lineage["received_at"] = row["received_at"]  # a mart row's receipt (a report received)
    found = re.search(FILE_NAME_IN_URI, lineage["source_uri"] or "")
    lineage["file"] = found.group(1) if found else None  # the department's file, as it was named
    lineage["cell"] = row.get("source_cell")  # a form's figure: its cell on the sheet (F12)
    fields = {k: v for k, v in row.items() if k not in PART_COLUMNS and k not in HIDDEN and k not in LINEAGE.values()}
    return {
        "unit_code": row["_kpi_unit"],
        "numerator": row["_kpi_numerator"],
        "denominator": row["_kpi_denominator"],
        "impact": row["_kpi_impact"],
        "against": bool(row["_kpi_against"]),
        "lineage": lineage,
        "fields": fields,
    }


def write_csv(e: Explanation, out) -> int:
    """The records as CSV (one row per record: its unit, whether it keeps the value off target, its impact and
    parts, what the record says, and its lineage), to hand to a department. A ratio of two KPIs writes both
    inputs' records, each row naming its input. Its text never opens as a formula (spreadsheet_safe).
    Returns the rows written."""

    listed = [(role, i) for role, i in e.inputs.items()] if e.inputs else [("", e)]
    fields: dict[str, None] = {}
    for _, part in listed:
        for record in part.records:
            fields.update(dict.fromkeys(record["fields"]))
    head = ["kpi_id", "period", "unit_code", "against", "impact", "numerator", "denominator"]
    lineage = ["feed", *LINEAGE, "file", "cell"]
    writer = csv.writer(out)
    writer.writerow([safe_value(name) for name in head + list(fields) + [f"lineage_{k}" for k in lineage]])
    written = 0
    for _, part in listed:
        for r in part.records:
            row = (
                [part.kpi_id, part.period, r["unit_code"], r["against"], r["impact"], r["numerator"], r["denominator"]]
                + [r["fields"].get(f) for f in fields]
                + [r["lineage"].get(k) for k in lineage]
            )
            writer.writerow([safe_value(v) for v in row])
            written += 1
    return written
