"""Runs a KPI fixture (tests/kpi_fixtures/*.yaml) against a real, in-memory DuckDB.

A fixture file holds cases. Each case: `now` (the instant of computation), optional `period`, the
`kpis` to compute (with those they build on), optional `declare` (fields of a KPI's declaration changed for the
case, e.g. {investment_disbursement_rate: {judge_running: true}}), input `tables` and the `expect`ed rows of
marts.kpi_values. A table is a list of rows — typed by the feed's contract for clean.<feed>, by the
warehouse's own DDL for ops.* — or {types: {column: DuckDB type}, rows: [...]} for anything else.
Columns a row leaves out are NULL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl
import yaml

from pipelines.warehouse.tables import DUCKDB_TYPES
from pipelines.declarations.kpis import Kpi
from pipelines.declarations.loading import Catalog
from pipelines.kpi.compute import compute_kpis
from pipelines.warehouse import quote
from pipelines.warehouse.tables import DDL

FIXTURES = Path(__file__).parent / "kpi_fixtures"
COMPARED = ("value", "numerator", "denominator", "target", "status", "period_state", "previous_status", "streak", "escalated",
            "inputs_degraded", "stale_feeds", "blocked_batches", "quarantined_rows")


@dataclass
class Case:
    file: str
    name: str
    spec: dict

    @property
    def id(self) -> str:
        return f"{self.file}::{self.name}"


def cases() -> list[Case]:
    found = []
    for file in sorted(FIXTURES.glob("*.yaml")):
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
        for spec in data["cases"]:
            found.append(Case(file.stem, spec["name"], spec))
    return found


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def _types(con, catalog: Catalog, table: str, spec) -> dict[str, str]:
    if isinstance(spec, dict):
        return dict(spec["types"])
    schema, _, name = table.partition(".")
    if schema == "clean":
        return {c.name: DUCKDB_TYPES[c.type] for c in catalog.feed(name).columns}
    rows = con.execute("SELECT column_name, data_type FROM information_schema.columns "
                       "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position", [schema, name]).fetchall()
    if not rows:
        raise ValueError(f"fixture table {table}: give its types ({{types: …, rows: […]}})")
    return dict(rows)


def load_tables(con, catalog: Catalog, tables: dict) -> None:
    for table, spec in tables.items():
        rows = spec["rows"] if isinstance(spec, dict) else spec
        types = _types(con, catalog, table, spec)
        schema, _, name = table.partition(".")
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
        columns = ", ".join(f"{quote(c)} {t}" for c, t in types.items())
        con.execute(f"CREATE TABLE IF NOT EXISTS {quote(schema)}.{quote(name)} ({columns})")
        unknown = {k for row in rows for k in row} - set(types)
        if unknown:
            raise ValueError(f"fixture table {table}: unknown columns {sorted(unknown)}")
        if not rows:
            continue
        frame = pl.DataFrame({c: [_text(r.get(c)) for r in rows] for c in types}, schema={c: pl.String for c in types})
        con.register("_fixture", frame)
        select = ", ".join(f"CAST({quote(c)} AS {t}) AS {quote(c)}" for c, t in types.items())
        con.execute(f"INSERT INTO {quote(schema)}.{quote(name)} BY NAME SELECT {select} FROM _fixture")
        con.unregister("_fixture")


def run_case(case: Case, catalog: Catalog) -> tuple[pl.DataFrame, list[str]]:
    """Compute the case's KPIs; return marts.kpi_values and every mismatch with the expectations."""
    spec = case.spec
    if spec.get("declare"):
        catalog = replace(catalog, kpis={**catalog.kpis, **{
            kpi_id: catalog.kpis[kpi_id].model_copy(update=fields) if kpi_id in catalog.kpis
            else Kpi.model_validate({"id": kpi_id, **fields})  # a KPI declared for the case alone
            for kpi_id, fields in spec["declare"].items()}})
    con = duckdb.connect()
    con.execute(DDL)
    load_tables(con, catalog, spec.get("tables", {}))
    now = spec["now"] if isinstance(spec["now"], datetime) else datetime.fromisoformat(spec["now"])
    for step in spec.get("before", []):  # earlier computations, to build history
        at = step["now"] if isinstance(step["now"], datetime) else datetime.fromisoformat(step["now"])
        load_tables(con, catalog, step.get("tables", {}))
        compute_kpis(con, catalog, at, step.get("period"), spec["kpis"])
    compute_kpis(con, catalog, now, _text(spec.get("period")), spec["kpis"])
    values = con.sql("SELECT * FROM marts.kpi_values").pl()
    # the values this computation gave (a snapshot's earlier periods were computed from the data of then)
    problems = explain_problems(con, catalog, values.filter(pl.col("computed_at") == pl.col("computed_at").max()))
    for i, want in enumerate(spec["expect"]):
        got = values.filter((pl.col("kpi_id") == want["kpi"]) & (pl.col("unit_code") == want["unit"])
                            & (pl.col("period") == _text(want["period"]))).to_dicts()
        where = f"expect[{i}] {want['kpi']} {want['unit']} {want['period']}"
        if "absent" in want:
            if got:
                problems.append(f"{where}: expected no row, got {got[0]['status']} {got[0]['value']}")
            continue
        if len(got) != 1:
            problems.append(f"{where}: expected one row, got {len(got)}")
            continue
        for key in COMPARED:
            if key not in want:
                continue
            expected, actual = want[key], got[0][key]
            if isinstance(expected, (int, float)) and not isinstance(expected, bool) and actual is not None:
                if not math.isclose(float(actual), float(expected), rel_tol=1e-6, abs_tol=1e-6):
                    problems.append(f"{where}: {key} {actual!r}, expected {expected!r}")
            elif actual != expected:
                problems.append(f"{where}: {key} {actual!r}, expected {expected!r}")
    con.close()
    return values, problems


def explain_problems(con, catalog: Catalog, values: pl.DataFrame) -> list[str]:
    """Every stored value whose records, as explain lists them, do not recompute its numerator and
    denominator: their parts added (or, for a KPI that rolls up by max, their largest), and for a ratio of
    two KPIs, the two inputs' values."""
    from pipelines.kpi.explain import all_records

    problems = []
    for row in values.filter(pl.col("numerator").is_not_null()).iter_rows(named=True):
        e = all_records(con, catalog, row["kpi_id"], row["unit_code"], row["period"])
        where = f"explain {row['kpi_id']} {row['unit_code']} {row['period']}"
        if e.unavailable and not e.inputs:
            problems.append(f"{where}: {e.unavailable}")
            continue
        if e.records_total > len(e.records):
            problems.append(f"{where}: {e.records_total} records, more than one page")
        combine = max if e.combine == "max" else sum
        for part in ("numerator", "denominator"):
            if e.inputs:
                got = e.inputs[part].value["value"] if e.inputs[part].value else None
            else:
                parts = [r[part] for r in e.records if r[part] is not None]
                got = combine(parts) if parts else (0.0 if part == "numerator" else None)
            want = row[part]
            if want is None and got in (None, 0.0) and part == "denominator":
                continue
            if want is None or got is None or not math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9):
                problems.append(f"{where}: the records' {part} is {got!r}, the value's {want!r}")
    return problems
