"""Benchmark: compute every KPI for 10,000,000 dossiers plus a year of monthly reports from the units
of 34 provinces, each phase in its own process so that its peak memory (max RSS) is its own.

    .venv/bin/python bench/kpis_34_provinces.py [--dossiers 10000000] [--smoke]

Phases:
  generate     declarations for 34 provinces (the demo province's tree plus 33 others, each with 12
               departments, 2 centres and 14 communes, under the national root VN, the unit watched), and a warehouse
               (made by connect(): the ops tables at their latest version; each clean table by the feed's contract,
               tables.ensure_clean_table) with clean.tthc_dossiers (10M rows over the last 12 months), a year of
               dept_monthly_report rows, hotline tickets, tasks, incidents and air-quality readings
  compute      what the KPI DAG does in full: refresh the deadline marts (expected vs received reports for a
               year), then compute all KPIs for their recent periods and store them with history
  incremental  one province's monthly report lands (its 12 departments' files for October, through the file drop
               and the loader, which record what they changed): then what the KPI DAG does after it — the deadline
               marts refreshed and only the KPI values the report made out of date computed (its departments', its
               province's and the nation's); checked against a full recomputation
Targets: full compute < 30 s and < 4 GB peak (issue 4); a province's report's KPIs current < 5 s (issue 29).
--smoke: a tiny warehouse (2,000 dossiers), end to end in seconds; exits non-zero if anything fails.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
LANDING, LANDING_PERIOD = "P01", "2026-10"  # the province whose monthly report lands in phase incremental
DEPARTMENTS = ["VPUBND", "SKHCN", "SVHTTDL", "SYT", "SGDDT", "SXD", "SNNMT", "SCT", "STC", "SNV", "CA", "BQLDA"]


def write_schemas(schemas: Path) -> list[str]:
    """The project's declarations, with the organisation tree grown to 34 provinces; returns the codes
    of the units that carry data (departments, centres, communes)."""
    shutil.copytree(REPO / "schemas", schemas)
    tree = yaml.safe_load((REPO / "schemas" / "org_units.yaml").read_text(encoding="utf-8"))
    units = tree["units"]
    tree["province"] = "VN"  # the national root (in the shipped tree, above HP and HD) is the unit watched
    with (REPO / "bench" / "data" / "provinces-2025.csv").open(encoding="utf-8") as f:
        provinces = [row for row in csv.DictReader(f)]
    for row in provinces:
        code = f"P{row['Mã số']}"
        if code == "P31":  # Hải Phòng is the demo province, already in the tree as HP
            continue
        units.append({"code": code, "kind": "province", "parent": "VN", "vi": row["Tên 34 tỉnh sau sáp nhập"],
                      "en": row["Tên 34 tỉnh sau sáp nhập"], "valid_from": "2025-07-01"})
        for dept in DEPARTMENTS:
            units.append({"code": f"{code}_{dept}", "kind": "department", "parent": code, "vi": dept, "en": dept,
                          "valid_from": "2025-07-01"})
        for centre in ("TTPVHCC", "IOC"):
            units.append({"code": f"{code}_{centre}", "kind": "centre", "parent": f"{code}_VPUBND", "vi": centre,
                          "en": centre, "valid_from": "2025-07-01"})
        for n in range(14):
            units.append({"code": f"{code}_XA{n:02d}", "kind": "commune", "parent": code, "vi": f"Xã {n}",
                          "en": f"Commune {n}", "valid_from": "2025-07-01"})
    (schemas / "org_units.yaml").write_text(yaml.safe_dump(tree, allow_unicode=True, sort_keys=False), encoding="utf-8")
    feed = schemas / "feeds" / "dept_monthly_report.yaml"
    feed.write_text(feed.read_text(encoding="utf-8").replace("history_periods: 6 ", "history_periods: 12"),
                    encoding="utf-8")
    return [u["code"] for u in units if u["kind"] in ("department", "centre", "commune")
            and not u.get("valid_to")]


def _use(home: Path) -> None:
    """This process's $IOC_HOME and declarations: the benchmark's (a DuckDB file warehouse under it)."""
    os.environ["IOC_HOME"] = str(home)
    os.environ["IOC_SCHEMAS"] = str(home / "schemas")
    os.environ.pop("IOC_WAREHOUSE", None)


def phase_generate(home: Path, dossiers: int, smoke: bool) -> dict:
    import polars as pl

    home.mkdir(parents=True, exist_ok=True)
    schemas = home / "schemas"
    data_units = write_schemas(schemas)
    _use(home)
    from pipelines.declarations.loading import catalog as current_catalog
    from pipelines.warehouse import connect
    from pipelines.warehouse.tables import ensure_clean_table

    catalog = current_catalog()
    departments = [u.code for u in catalog.org_units.units if u.kind == "department" and u.valid_to is None]
    with connect() as con:  # the ops tables at their latest version
        for feed in catalog.feeds.values():  # each clean table as the feed's contract makes it, lineage included
            ensure_clean_table(con, feed)
        counts, dossier_seconds = _fill(con, pl, data_units, departments, dossiers)
    return {"units": len(catalog.org_units.units), "departments": len(departments), "rows": counts,
            "dossier_generation_seconds": round(dossier_seconds, 1)}


def _fill(con, pl, data_units: list[str], departments: list[str], dossiers: int) -> tuple[dict, float]:
    """Insert the generated rows into the clean tables made from the contracts (columns by name; the lineage of
    each row: its feed's one generated batch). The other tables are as large as at 10M dossiers, in proportion
    below; LANDING's reports of LANDING_PERIOD have not arrived (phase incremental brings them)."""

    def scaled(rows: int, least: int) -> int:
        return max(least, rows * dossiers // 10_000_000)

    con.register("units", pl.DataFrame({"ui": range(len(data_units)), "code": data_units}))
    con.register("depts", pl.DataFrame({"di": range(len(departments)), "code": departments}))
    started = time.perf_counter()
    n_units = len(data_units)
    con.execute(f"""
        INSERT INTO clean.tthc_dossiers BY NAME
        WITH d AS (
            SELECT i, (hash(i) >> 1)::BIGINT AS h,
                   TIMESTAMPTZ '2025-11-20 00:00:00+07' + to_seconds((hash(i) % (365 * 86400))::BIGINT) AS received_at
            FROM range({dossiers}) AS t(i))
        SELECT 'HS-' || i AS dossier_id, u.code AS agency_code, '1.' || lpad((h % 999999)::VARCHAR, 6, '0') AS procedure_code,
               ['online', 'direct', 'postal'][(1 + (h >> 8) % 3)::BIGINT] AS channel,
               received_at,
               received_at + to_seconds((3 * 86400 + (h >> 16) % (15 * 86400))::BIGINT) AS due_at,
               CASE WHEN (h >> 24) % 10 < 7 THEN received_at + to_seconds((3600 + (h >> 28) % (20 * 86400))::BIGINT) END
                   AS completed_at,
               CASE WHEN (h >> 24) % 10 < 7 THEN 'completed' ELSE 'processing' END AS status,
               (h >> 32) % 2 = 0 AS paid_online,
               ((h >> 36) % 4 * 50000)::BIGINT AS fee_vnd,
               received_at AS updated_at, 'B-tthc_dossiers' AS _batch_id, received_at AS _received_at
        FROM d JOIN units AS u ON u.ui = d.h % {n_units}""")
    dossier_seconds = time.perf_counter() - started
    # a year of monthly reports: 8 indicators per department and month, most on time, some late or missing
    con.execute(f"""
        INSERT INTO clean.dept_monthly_report BY NAME
        WITH m AS (SELECT strftime(DATE '2025-11-01' + INTERVAL (k) MONTH, '%Y-%m') AS period, k FROM range(12) AS t(k))
        SELECT d.code AS department_code, m.period, 'CT' || j AS indicator_code, 'Chỉ tiêu ' || j AS indicator_name,
               (hash(d.di, k, j) % 1000)::DOUBLE AS value, 'cái' AS unit, NULL AS note,
               (CAST(m.period || '-01' AS DATE) + INTERVAL 1 MONTH + INTERVAL ((hash(d.di, k) % 25)::BIGINT) DAY
                   + INTERVAL 9 HOUR)::TIMESTAMPTZ AS _received_at,
               'B-report-' || d.code || '-' || m.period AS _batch_id
        FROM depts AS d, m, range(8) AS r(j)
        WHERE hash(d.di, k) % 20 <> 0
          AND NOT (starts_with(d.code, '{LANDING}_') AND m.period = '{LANDING_PERIOD}')""")
    con.execute(f"""
        INSERT INTO clean.citizen_feedback BY NAME
        SELECT 'T' || i AS ticket_id, TIMESTAMPTZ '2025-11-20 00:00:00+07' + to_seconds((hash(i) % (365 * 86400))::BIGINT) AS received_at,
               'other' AS category, u.code AS assignee_code,
               TIMESTAMPTZ '2025-11-25 00:00:00+07' + to_seconds((hash(i) % (365 * 86400))::BIGINT) AS due_at,
               CASE WHEN hash(i) % 5 > 0 THEN TIMESTAMPTZ '2025-11-24 00:00:00+07' + to_seconds((hash(i) % (365 * 86400))::BIGINT) END AS resolved_at,
               hash(i) % 7 > 0 AS satisfied
        FROM range({scaled(1_000_000, 1000)}) AS t(i) JOIN units AS u ON u.ui = hash(i) % {n_units}""")
    con.execute(f"""
        INSERT INTO clean.directive_tasks BY NAME
        SELECT 'NV-' || i AS task_id, 'TB-' || (i % 500) AS source_document, 'UBND' AS assigned_by, d.code AS assignee_code,
               'Nhiệm vụ ' || i AS title, DATE '2025-11-01' + (hash(i) % 365)::INTEGER AS assigned_on,
               DATE '2025-12-01' + (hash(i) % 365)::INTEGER AS due_on,
               ['not_started', 'in_progress', 'done', 'done', 'cancelled'][(1 + hash(i) % 5)::BIGINT] AS status,
               CASE WHEN hash(i) % 5 IN (2, 3) THEN DATE '2025-11-25' + (hash(i) % 380)::INTEGER END AS done_on,
               TIMESTAMPTZ '2026-11-01 00:00:00+07' AS updated_at
        FROM range({scaled(50_000, 500)}) AS t(i) JOIN depts AS d ON d.di = hash(i) % {len(departments)}""")
    con.execute(f"""
        INSERT INTO clean.security_incidents BY NAME
        SELECT 'INC-' || i AS incident_id, TIMESTAMPTZ '2026-01-01 00:00:00+07' + to_seconds((hash(i) % (300 * 86400))::BIGINT) AS detected_at,
               ['low', 'medium', 'high', 'critical'][(1 + hash(i) % 4)::BIGINT] AS severity, u.code AS target_code,
               ['open', 'contained', 'resolved', 'resolved'][(1 + (hash(i) >> 4) % 4)::BIGINT] AS status, NULL::TIMESTAMPTZ AS resolved_at
        FROM range({scaled(100_000, 200)}) AS t(i) JOIN units AS u ON u.ui = hash(i) % {n_units}""")
    con.execute(f"""
        INSERT INTO clean.air_quality BY NAME
        SELECT 'HP-AQ-' || lpad((s)::VARCHAR, 2, '0') AS station_id,
               TIMESTAMPTZ '2025-11-20 00:00:00+07' + INTERVAL (h) HOUR AS observed_at,
               NULL::DOUBLE AS pm25, NULL::DOUBLE AS pm10, (hash(s, h) % 220)::BIGINT AS aqi
        FROM range({scaled(34 * 5, 2)}) AS a(s), range(365 * 24) AS b(h)""")
    con.execute(f"""
        INSERT INTO clean.public_investment BY NAME
        WITH m AS (SELECT strftime(DATE '2025-12-01' + INTERVAL (k) MONTH, '%Y-%m') AS period, k FROM range(12) AS t(k))
        SELECT 'DA-' || p AS project_code, 'Dự án ' || p AS project_name, d.code AS owner_code, m.period,
               (1000000000 * (1 + hash(p) % 500))::BIGINT AS plan_vnd,
               (1000000000 * (1 + hash(p) % 500) * (k + 1) / 14)::BIGINT AS disbursed_cum_vnd,
               TIMESTAMPTZ '2026-11-01 00:00:00+07' AS updated_at
        FROM range({scaled(3000, 30)}) AS t(p) JOIN depts AS d ON d.di = hash(p) % {len(departments)}, m""")
    con.execute("""
        INSERT INTO ops.batches (batch_id, feed, received_at, loaded_at, rows_received, rows_loaded, rows_quarantined, status)
        SELECT 'B-' || feed, feed, TIMESTAMPTZ '2026-11-20 09:00:00+07', TIMESTAMPTZ '2026-11-20 09:00:00+07', 1, 1, 0, 'loaded'
        FROM (VALUES ('tthc_dossiers'), ('citizen_feedback'), ('security_incidents'), ('air_quality'),
                     ('public_investment'), ('directive_tasks')) AS f(feed)""")
    counts = {t: con.sql(f"SELECT count(*) FROM clean.{t}").fetchall()[0][0]
              for t in ("tthc_dossiers", "dept_monthly_report", "citizen_feedback", "directive_tasks",
                        "security_incidents", "air_quality", "public_investment")}
    con.unregister("units")
    con.unregister("depts")
    return counts, dossier_seconds


def phase_compute(home: Path, dossiers: int, smoke: bool) -> dict:
    _use(home)
    from pipelines.deadlines.refresh import refresh_deadlines
    from pipelines.declarations.loading import catalog
    from pipelines.kpi.compute import compute_kpis
    from pipelines.snapshots import publish
    from pipelines.warehouse import connect

    cat = catalog()
    with connect() as con:  # what the KPI DAG does, in full: the deadline marts refreshed, every KPI computed
        t0 = time.perf_counter()
        marts = refresh_deadlines(con, cat, NOW)
        t1 = time.perf_counter()
        run = compute_kpis(con, cat, NOW)
        t2 = time.perf_counter()
        if not smoke:
            publish(con, cat)  # the wall's and the exporter's snapshots
        t3 = time.perf_counter()
    slowest = sorted(run.seconds.items(), key=lambda kv: -kv[1])[:5]
    return {"seconds": round(t2 - t0, 2), "deadline_marts_seconds": round(t1 - t0, 2),
            "kpi_seconds": round(t2 - t1, 2), "publish_seconds": round(t3 - t2, 2),
            "expected_reports": marts["report_status"].height, "kpis": len(run.seconds),
            "kpi_rows": run.values.height, "slowest_kpis": {k: round(v, 2) for k, v in slowest}}


def phase_incremental(home: Path, dossiers: int, smoke: bool) -> dict:
    """LANDING's departments' reports for LANDING_PERIOD land (file drop, loader); then the KPI job after it."""
    _use(home)
    import polars as pl

    from pipelines.deadlines.refresh import refresh_deadlines
    from pipelines.declarations.loading import catalog
    from pipelines.ingest import extract_feed, load_feed
    from pipelines.kpi.compute import compute_kpis
    from pipelines.snapshots import publish
    from pipelines.warehouse import connect

    cat = catalog()
    inbox = home / "inbox" / "dept_monthly_report"
    inbox.mkdir(parents=True, exist_ok=True)
    files = []
    reporting = DEPARTMENTS[:2] if smoke else DEPARTMENTS  # smoke: two of its departments' reports
    for dept in reporting:
        path = inbox / f"{LANDING}_{dept}_{LANDING_PERIOD}.csv"
        rows = [f"{LANDING}_{dept},{LANDING_PERIOD},CT{j},Chỉ tiêu {j},{j * 10},cái," for j in range(8)]
        path.write_text("Mã đơn vị,Kỳ báo cáo,Mã chỉ tiêu,Tên chỉ tiêu,Giá trị,Đơn vị tính,Ghi chú\n"
                        + "\n".join(rows) + "\n", encoding="utf-8")
        received = datetime(2026, 11, 12, 9, tzinfo=timezone.utc).timestamp()  # after the deadline: late
        os.utime(path, (received, received))
        files.append(path)
    started = time.perf_counter()
    extract_feed("dept_monthly_report", files)
    summaries = load_feed("dept_monthly_report")
    loaded = time.perf_counter() - started
    if [s.status for s in summaries] != ["loaded"] * len(reporting):
        raise SystemExit(f"the reports did not load: {[(s.file_name, s.status, s.error) for s in summaries]}")
    compared = ["kpi_id", "unit_code", "period", "value", "numerator", "denominator", "target", "status",
                "previous_value", "previous_status", "streak", "escalated", "stale_feeds", "blocked_batches",
                "quarantined_rows", "inputs_degraded", "period_state"]
    with connect() as con:
        pending = con.execute("SELECT count(*) FROM ops.kpi_pending").fetchall()[0][0]
        before = con.sql("SELECT * FROM marts.kpi_values").pl()
        t0 = time.perf_counter()  # what the KPI DAG does after the load (jobs.kpis), its parts timed
        refresh_deadlines(con, cat, NOW)
        t1 = time.perf_counter()
        run = compute_kpis(con, cat, NOW, incremental=True)
        t2 = time.perf_counter()
        if not smoke:
            publish(con, cat)  # the wall's and the exporter's snapshots
        t3 = time.perf_counter()
        after = con.sql("SELECT * FROM marts.kpi_values").pl()
        started = time.perf_counter()
        refresh_deadlines(con, cat, NOW)  # the check: a full recomputation gives the same values
        compute_kpis(con, cat, NOW)
        full = time.perf_counter() - started
        again = con.sql("SELECT * FROM marts.kpi_values").pl()
    key = ["kpi_id", "unit_code", "period"]
    changed = after.select(compared).join(before.select(compared), on=compared, how="anti", nulls_equal=True).height
    nation = after.filter((pl.col("kpi_id") == "reporting_rate") & (pl.col("period") == LANDING_PERIOD)
                          & pl.col("unit_code").is_in(["VN", LANDING]))
    was = before.filter((pl.col("kpi_id") == "reporting_rate") & (pl.col("period") == LANDING_PERIOD)
                        & pl.col("unit_code").is_in(["VN", LANDING]))
    # DuckDB adds a column of doubles in parallel, in no fixed order: two full computations of 10M dossiers
    # may differ in a sum's last bits (the mean processing days' numerator, 1e-8 of 10^6): equal means equal but
    # for such a difference, relative to the number, below 1e-12
    differences = _differences(after, again, compared, key)
    equal = all(d.get("relative", 1.0) < 1e-12 for columns in differences.values() for d in columns.values())
    return {"load_seconds": round(loaded, 2), "pending_rows": pending, "seconds": round(t2 - t0, 2),
            "deadline_marts_seconds": round(t1 - t0, 2), "kpi_seconds": round(t2 - t1, 2),
            "publish_seconds": round(t3 - t2, 2),
            "incremental": run.incremental, "kpis_computed": sorted(run.seconds), "rows_changed": changed,
            "reporting_rate_before": dict(zip(was["unit_code"], was["value"], strict=True)),
            "reporting_rate_after": dict(zip(nation["unit_code"], nation["value"], strict=True)),
            "full_check_seconds": round(full, 2), "equal_to_full": equal, "differences": differences}


def _differences(left, right, compared: list[str], key: list[str]) -> dict:
    """Per KPI and column, how many rows differ between two kpi_values, and the largest difference of a number."""
    import polars as pl

    joined = left.select(compared).join(right.select(compared), on=key, how="full", suffix="_r", nulls_equal=True)
    found: dict = {}
    for column in (c for c in compared if c not in key):
        differs = joined.filter(~pl.col(column).eq_missing(pl.col(f"{column}_r")))
        for kpi_id, rows in differs.group_by("kpi_id"):
            entry = {"rows": rows.height}
            if rows[column].dtype.is_float():
                gap = (rows[column] - rows[f"{column}_r"]).abs()
                entry["largest"] = float(gap.max() or 0)
                entry["relative"] = float((gap / rows[column].abs()).max() or 0)
            found.setdefault(str(kpi_id[0]), {})[column] = entry
    return found


PHASES = {"generate": phase_generate, "compute": phase_compute, "incremental": phase_incremental}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dossiers", type=int, default=10_000_000)
    parser.add_argument("--smoke", action="store_true", help="a tiny warehouse, end to end in seconds")
    parser.add_argument("--phase", choices=PHASES)
    parser.add_argument("--home", type=Path)
    args = parser.parse_args()
    if args.smoke:  # no snapshots published either (the wall's, some seconds even then)
        args.dossiers = 2000
    if args.phase:
        figures = PHASES[args.phase](args.home, args.dossiers, args.smoke)
        figures["peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        print(json.dumps(figures, ensure_ascii=False))
        return
    with tempfile.TemporaryDirectory(prefix="ioc-bench-kpi-", ignore_cleanup_errors=True) as tmp:
        home = Path(tmp) / "home"
        results = {}
        for name in PHASES:
            out = subprocess.run([sys.executable, __file__, "--phase", name, "--home", str(home),
                                  "--dossiers", str(args.dossiers), *(["--smoke"] if args.smoke else [])],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                sys.exit(f"phase {name} failed:\n{out.stderr[-5000:]}")
            results[name] = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{name:>11}: {json.dumps(results[name], ensure_ascii=False)}", flush=True)
    compute, incremental = results["compute"], results["incremental"]
    changed = incremental["reporting_rate_before"] != incremental["reporting_rate_after"]
    correct = incremental["equal_to_full"] and incremental["incremental"] and changed
    if args.smoke:
        print(f"{'PASS' if correct else 'FAIL'} (smoke): every phase ran; incremental values equal a full "
              f"recomputation's: {incremental['equal_to_full']}; the province's and the nation's reporting rate "
              f"changed: {changed}")
        sys.exit(0 if correct else 1)
    ok = (correct and compute["seconds"] < 30 and compute["peak_mb"] < 4096 and incremental["seconds"] < 5)
    print(f"{'PASS' if ok else 'FAIL'}: all KPIs in {compute['seconds']} s, peak {compute['peak_mb']} MB; after "
          f"{LANDING}'s {LANDING_PERIOD} report, its KPIs and the nation's current in {incremental['seconds']} s "
          f"(load {incremental['load_seconds']} s), equal to a full recomputation: {incremental['equal_to_full']} "
          f"(targets: < 30 s, < 4096 MB, < 5 s)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
