"""Benchmark (issue 14): a national centre's year — 34 provinces' dossiers and monthly reports loaded through
the platform's own load path into one DuckLake by 1 writer on 1 core and by 2 writers on 2 cores (each writer
pinned to a core of its own, as on a machine of its own), then every KPI up to the national root, compared with
the same files loaded into the embedded DuckDB file; then /metrics at that scale.

    .venv/bin/python bench/national.py [--dossiers 10000000] [--writers 1 2] [--keep DIR] [--smoke]

Declarations: the project's, with the national tree (VN above the 34 provinces, `province: VN`: the centre
watches the nation; bench/kpis_34_provinces.write_schemas builds the tree), tthc_dossiers as a file drop (each
province sends its one-stop shop's dossiers of the year as one CSV) and dept_monthly_report with one CSV per
province and month (its 12 departments' 8 indicators; the file names a province, so the check that rows match
a department's file name is off, and so are a department's own submissions, which need that name).

Files: 34 dossier CSVs (--dossiers rows in all, over the 12 months before 2026-11-20) and 408 report CSVs.

Each load is a set of jobs (a province's dossier file; a province's 12 report files), taken one at a time
from a shared queue by each writer: a process of its own, with a $IOC_HOME of its own as on a machine of
its own (landing zone, Great Expectations' staging), running what `ioc ingest --file` runs. On DuckLake the
writers share the catalog (a fresh database on the local PostgreSQL), the data path and raw history. Every
phase's wall time comes from the kernel and its peak memory is the process tree's (ingest_scale.run).

Writer k runs on core k alone (`taskset -c`, util-linux; the CPU affinity is inherited, so its Great
Expectations worker and DuckDB's threads share that core): 1 writer is 1 machine of one core, 2 writers are
2 such machines, and the ratio of their load times is what a second machine buys. Each writer reports the
cores it and its children ran on, and the run fails if they are not its own. (On a 2-core machine the other
processes — PostgreSQL, the system — still share the cores; the KPI computation is not pinned.)

Then, in a process of its own per warehouse, what the KPI DAG does (deadline marts, every KPI), and the
KPIs of each DuckLake are compared with the file's, value by value. Last, `ioc serve` over the national
lake: /metrics series and scrape time, whole and for one province (`--units`).

Targets: 2 writers on 2 cores at least 1.7× as fast as 1 writer on 1 core (issue 29; printed, not judged: a smoke
shares its cores); identical KPIs (a difference makes the exit status 1).

`--smoke`: 2 provinces (the tree cut to them: `--provinces 2`; 200 dossiers, one month of reports), the same three loads (the file by 1 writer,
the lake by 1 and by 2 pinned writers), the KPIs compared, 2 scrapes each: the same path in about a minute
(`make test` runs it). Where fewer cores than writers are allowed, a smoke shares them; a full run refuses.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from ingest_scale import dossiers_as_files, run  # noqa: E402  (dossiers as files; the process-tree timer)
from kpis_34_provinces import write_schemas  # noqa: E402  (the 34 provinces' tree)
from scrape_exporter import scrape  # noqa: E402  (`ioc serve` scraped)

PYTHON = REPO / ".venv" / "bin" / "python"
IOC = REPO / ".venv" / "bin" / "ioc"
NOW = "2026-11-20T10:00:00+07:00"
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
MONTHS = [f"{2025 + (10 + k) // 12}-{(10 + k) % 12 + 1:02d}" for k in range(12)]  # 2025-11 … 2026-10
INDICATORS = 8
REPORT_HEADER = ["Mã đơn vị", "Kỳ báo cáo", "Mã chỉ tiêu", "Tên chỉ tiêu", "Giá trị", "Đơn vị tính", "Ghi chú"]


# --- declarations and files -----------------------------------------------------------------------

def national_schemas(root: Path, provinces_loaded: int | None = None) -> Path:
    """The project's declarations for a national centre (see the module's docstring); with `provinces_loaded`, the
    tree keeps the first that many provinces (by code) of those it adds to the project's."""
    schemas = root / "schemas"
    write_schemas(schemas)
    if provinces_loaded is not None:
        keep_provinces(schemas, provinces_loaded)

    dossiers_as_files(schemas)

    reports_file = schemas / "feeds" / "dept_monthly_report.yaml"
    feed = yaml.safe_load(reports_file.read_text(encoding="utf-8"))
    feed["source"].pop("file_name_pattern", None)
    feed["source"].pop("submissions", None)  # a province's file is loaded by the writers, not submitted by a department
    feed["checks"] = [c for c in feed["checks"] if c["check"] != "rows_match_file_name"]
    reports_file.write_text(yaml.safe_dump(feed, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return schemas


def keep_provinces(schemas: Path, count: int) -> None:
    """Drop from the tree the provinces added to the project's beyond the first `count` (with their units): the
    project's own units stay, so every declaration that names one still resolves."""
    tree_file = schemas / "org_units.yaml"
    tree = yaml.safe_load(tree_file.read_text(encoding="utf-8"))
    shipped = {u["code"] for u in yaml.safe_load((REPO / "schemas" / "org_units.yaml").read_text(encoding="utf-8"))["units"]}
    kept = set(sorted(provinces_and_units(schemas))[:count])
    units = {u["code"]: u for u in tree["units"]}

    def province_of(code: str) -> str | None:
        while code is not None and units[code]["kind"] != "province":
            code = units[code].get("parent")
        return code

    tree["units"] = [u for u in tree["units"]
                     if u["code"] in shipped or province_of(u["code"]) in kept | shipped]
    tree_file.write_text(yaml.safe_dump(tree, allow_unicode=True, sort_keys=False), encoding="utf-8")


def provinces_and_units(schemas: Path) -> dict[str, dict[str, list[str]]]:
    """Each province's departments and the units that receive dossiers (departments, centres, communes)."""
    tree = yaml.safe_load((schemas / "org_units.yaml").read_text(encoding="utf-8"))
    units = {u["code"]: u for u in tree["units"]}

    def province_of(code: str) -> str | None:
        while code is not None and units[code]["kind"] != "province":
            code = units[code].get("parent")
        return code

    out: dict[str, dict[str, list[str]]] = {}
    for u in tree["units"]:
        if u.get("valid_to") or u["kind"] not in ("department", "centre", "commune"):
            continue
        province = province_of(u["code"])
        if province is None:
            continue
        entry = out.setdefault(province, {"departments": [], "units": []})
        entry["units"].append(u["code"])
        if u["kind"] == "department":
            entry["departments"].append(u["code"])
    return out


def write_files(root: Path, schemas: Path, dossiers: int, provinces_loaded: int | None = None,
                months: list[str] = MONTHS) -> list[dict]:
    """The provinces' files (the first `provinces_loaded` provinces', or all), and the jobs that load them (a
    province's dossiers; its monthly reports of `months`)."""
    import duckdb

    provinces = dict(sorted(provinces_and_units(schemas).items())[:provinces_loaded])
    files = root / "files"
    files.mkdir(parents=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'Asia/Ho_Chi_Minh'")
    per_province = dossiers // len(provinces)
    jobs: list[dict] = []
    for p, (province, entry) in enumerate(sorted(provinces.items())):
        agencies = entry["units"]
        con.execute("CREATE OR REPLACE TEMP TABLE agencies AS SELECT unnest(?::VARCHAR[]) AS code, "
                    "generate_subscripts(?::VARCHAR[], 1) - 1 AS i", [agencies, agencies])
        target = files / f"{province}_dossiers.csv"
        iso = "strftime({0}, '%Y-%m-%dT%H:%M:%S') || '+07:00'"
        con.execute(f"""
            COPY (
                WITH d AS (
                    SELECT i, (hash(i, {p}) >> 1)::BIGINT AS h,
                           TIMESTAMPTZ '2025-11-20 00:00:00+07' + to_seconds((hash(i, {p}) % (365 * 86400))::BIGINT) AS received
                    FROM range({per_province}) AS t(i)),
                e AS (
                    SELECT d.*, received + to_seconds((3 * 86400 + (h >> 16) % (15 * 86400))::BIGINT) AS due,
                           CASE WHEN (h >> 24) % 10 < 7
                                THEN received + to_seconds((3600 + (h >> 28) % (20 * 86400))::BIGINT) END AS done
                    FROM d)
                SELECT '{province}-HS-' || lpad(e.i::VARCHAR, 8, '0') AS dossier_id, a.code AS agency_code,
                       '1.' || lpad((h % 999999)::VARCHAR, 6, '0') AS procedure_code,
                       ['online', 'direct', 'postal'][(1 + (h >> 8) % 3)::BIGINT] AS channel,
                       {iso.format('received')} AS received_at, {iso.format('due')} AS due_at,
                       {iso.format('done')} AS completed_at,
                       CASE WHEN done IS NOT NULL THEN 'completed' ELSE 'processing' END AS status,
                       CASE WHEN (h >> 32) % 2 = 0 THEN 'true' ELSE 'false' END AS paid_online,
                       ((h >> 36) % 4 * 50000)::BIGINT AS fee_vnd,
                       {iso.format('coalesce(done, received + INTERVAL 1 HOUR)')} AS updated_at
                FROM e JOIN agencies AS a ON a.i = e.h % {len(agencies)}
            ) TO '{target}' (HEADER, DELIMITER ',')""")
        jobs.append({"feed": "tthc_dossiers", "files": [str(target)], "province": province})
        reports = []
        for k, month in enumerate(months):
            target = files / f"{province}_{month}.csv"
            with target.open("w", encoding="utf-8") as out:
                out.write(",".join(REPORT_HEADER) + "\n")
                for d, department in enumerate(entry["departments"]):
                    for j in range(INDICATORS):
                        value = (p * 7919 + d * 104729 + k * 31 + j * 17) % 1000
                        out.write(f"{department},{month},CT{j},Chỉ tiêu {j},{value},cái,\n")
            # received (the file's time) between the 5th and the 22nd of the next month, 09:00 in Viet Nam
            year, number = map(int, month.split("-"))
            sent = datetime(year + number // 12, number % 12 + 1, 5 + (p + k) % 18, 9, tzinfo=timezone(timedelta(hours=7)))
            os.utime(target, (sent.timestamp(), sent.timestamp()))
            reports.append(str(target))
        jobs.append({"feed": "dept_monthly_report", "files": reports, "province": province})
    return jobs


# --- writers ---------------------------------------------------------------------------------------

def writer(queue: Path, name: str) -> dict:
    """Take jobs from the queue (a job file renamed to this writer's name is this writer's) until none is left;
    load each as `ioc ingest FEED --file …` does. Reports the cores this process may run on and those its
    children (Great Expectations' worker) were seen on."""
    from pipelines.ingest import ingest_feed

    children_cores, done_loading = set(), threading.Event()
    watcher = threading.Thread(target=_watch_children, args=(children_cores, done_loading), daemon=True)
    watcher.start()
    done, rows, seconds = [], 0, {}
    while True:
        job = None
        for candidate in sorted(queue.glob("*.json")):
            taken = candidate.with_name(f"{candidate.stem}.{name}.taken")
            try:
                candidate.rename(taken)
            except FileNotFoundError:
                continue  # another writer took it
            job = json.loads(taken.read_text(encoding="utf-8"))
            break
        if job is None:
            break
        started = time.perf_counter()
        summaries, error = ingest_feed(job["feed"], [Path(f) for f in job["files"]])
        if error is not None or any(s.status == "failed" for s in summaries):
            raise SystemExit(f"{job}: {error or [s.error for s in summaries if s.error]}")
        seconds[job["feed"]] = seconds.get(job["feed"], 0.0) + time.perf_counter() - started
        rows += sum(s.rows_received for s in summaries)
        done.append(f"{job['feed']}:{job['province']}")
    done_loading.set()
    watcher.join()
    return {"jobs": len(done), "rows": rows, "seconds_by_feed": {k: round(v, 1) for k, v in seconds.items()},
            "cores": sorted(os.sched_getaffinity(0)), "children_cores": sorted(children_cores)}


def _watch_children(seen: set, done: threading.Event) -> None:
    """The CPU affinity of every child of this process, sampled every 0.2 s until `done`."""
    import psutil

    me = psutil.Process()
    while not done.wait(0.2):
        for child in me.children(recursive=True):
            try:
                seen.add(tuple(sorted(child.cpu_affinity())))
            except psutil.Error:
                pass  # gone meanwhile


def cores_for(writers: int, smoke: bool) -> list[int]:
    """The core each writer is pinned to: writer k on the k-th core this process may use. A full run needs a
    core per writer (else it would not measure machines); a smoke shares what there is."""
    allowed = sorted(os.sched_getaffinity(0))
    if shutil.which("taskset") is None:
        raise SystemExit("taskset (util-linux) is needed to pin each writer to its core: apt-get install util-linux")
    if writers > len(allowed) and not smoke:
        raise SystemExit(f"{writers} writers need {writers} cores; this process may use {len(allowed)} ({allowed})")
    return [allowed[k % len(allowed)] for k in range(writers)]


def load(jobs: list[dict], cores: list[int], root: Path, env: dict) -> dict:
    """All jobs by a writer process per core of `cores` at once, each pinned to its core (taskset: inherited by its
    children); wall time, and each writer's jobs, peak memory and cores."""
    writers = len(cores)
    import threading

    queue = root / "queue"
    queue.mkdir(parents=True)
    for i, job in enumerate(jobs):
        (queue / f"{i:04d}.json").write_text(json.dumps(job), encoding="utf-8")
    results: list = [None] * writers

    def one(k: int) -> None:
        home = root / f"home-{k}"
        home.mkdir(exist_ok=True)
        command = ["taskset", "-c", str(cores[k]),
                   str(PYTHON), __file__, "--phase", "writer", "--queue", str(queue), "--name", f"w{k}"]
        results[k] = run(command, {**env, "IOC_HOME": str(home)})

    started = time.perf_counter()
    threads = [threading.Thread(target=one, args=(k,)) for k in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    out = []
    for k, (seconds, peak, code, output) in enumerate(results):
        if code != 0:
            raise SystemExit(f"writer {k} failed ({code}):\n{output[-4000:]}")
        figures = json.loads(output.strip().splitlines()[-1])
        elsewhere = [c for c in [figures["cores"], *figures["children_cores"]] if c != [cores[k]]]
        if elsewhere:
            raise SystemExit(f"writer {k} was pinned to core {cores[k]}, yet it or a child ran on {elsewhere}")
        out.append({**figures, "seconds": round(seconds, 1), "peak_mib": round(peak)})
    return {"wall_seconds": round(wall, 1), "writers": out}


def compute(env: dict) -> dict:
    """What the KPI DAG does, in a process of its own: its wall time and peak memory."""
    seconds, peak, code, output = run([str(IOC), "kpi", "compute", "--now", NOW], env)
    if code != 0:
        raise SystemExit(f"ioc kpi compute failed ({code}):\n{output[-4000:]}")
    return {"seconds": round(seconds, 1), "peak_mib": round(peak)}


def kpi_rows(env: dict) -> list[tuple]:
    script = ("import json; from pipelines.warehouse import connect\n"
              "with connect() as con:\n"
              "    rows = con.execute('SELECT kpi_id, unit_code, period, value, numerator, denominator, status '\n"
              "                       'FROM marts.kpi_values ORDER BY ALL').fetchall()\n"
              "print(json.dumps(rows, default=str))")
    out = subprocess.run([str(PYTHON), "-c", script], env=env, capture_output=True, text=True, check=True)
    return [tuple(r) for r in json.loads(out.stdout)]


def same_kpis(left: list[tuple], right: list[tuple]) -> tuple[int, list]:
    """How many values agree (a real number within 1e-9 relative: sums of durations added in another order
    differ in their last bits), and the first rows that do not."""
    def same(a, b) -> bool:
        return math.isclose(a, b, rel_tol=1e-9) if isinstance(a, float) and isinstance(b, float) else a == b

    differ = [(a, b) for a, b in zip(left, right) if not all(map(same, a, b))]
    if len(left) != len(right):
        differ.append((f"{len(left)} rows", f"{len(right)} rows"))
    return len(left) - len(differ), differ[:5]


def scrape_figures(env: dict, units: str | None, scrapes: int) -> dict:
    """`ioc serve` over the warehouse's published state: series per scrape and its time (p50, p95)."""
    times, series, _ = scrape(env, scrapes, units)
    return {"units": units or "all", "series": series, "p50_ms": round(statistics.median(times)),
            "p95_ms": round(times[max(0, math.ceil(len(times) * 0.95) - 1)])}


# --- the run ---------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dossiers", type=int, default=10_000_000)
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--scrapes", type=int, default=20)
    parser.add_argument("--keep", type=Path, help="keep the files and warehouses here (default: a temporary directory)")
    parser.add_argument("--provinces", type=int,
                        help="the first N provinces only, in the tree and the files (default: all 34)")
    parser.add_argument("--months", type=int, default=12, help="months of reports, the last first (default: 12)")
    parser.add_argument("--smoke", action="store_true",
                        help="2 provinces, 200 dossiers, a month of reports, 2 scrapes: the same path in a minute")
    parser.add_argument("--phase", choices=["writer"])
    parser.add_argument("--queue", type=Path)
    parser.add_argument("--name")
    args = parser.parse_args()
    if args.phase == "writer":
        print(json.dumps(writer(args.queue, args.name)))
        return
    if args.smoke:
        args.dossiers, args.provinces, args.months, args.scrapes = 200, 2, 1, 2
    months = MONTHS[len(MONTHS) - args.months:]

    import psycopg

    root = args.keep or Path(tempfile.mkdtemp(prefix="ioc-bench-national-"))
    root.mkdir(parents=True, exist_ok=True)
    schemas = national_schemas(root, args.provinces)
    started = time.perf_counter()
    jobs = write_files(root, schemas, args.dossiers, args.provinces, months)
    print(f"files: {len(jobs)} jobs, {args.dossiers:,} dossiers and {len(months) * (len(jobs) // 2)} report files "
          f"written in {time.perf_counter() - started:.0f} s under {root / 'files'}", flush=True)
    base = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    base.update({"IOC_SCHEMAS": str(schemas), "GX_ANALYTICS_ENABLED": "False"})
    figures: dict = {"dossiers": args.dossiers, "jobs": len(jobs)}
    catalogs, failed = [], []
    try:
        runs = [("file", 1)] + [("lake", n) for n in args.writers]
        kpis = {}
        for kind, writers in runs:
            name = f"{kind}-{writers}"
            where = root / name
            env = {**base, "IOC_HOME": str(where / "home-0")}
            if kind == "lake":
                dbname = f"ioc_bench_national_{uuid.uuid4().hex[:8]}"
                with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
                    admin.execute(f'CREATE DATABASE "{dbname}"')
                catalogs.append(dbname)
                env.update({"IOC_WAREHOUSE": "ducklake",
                            "IOC_DUCKLAKE_CATALOG": f"dbname={dbname} host=127.0.0.1 port=5432 user=postgres",
                            "IOC_DUCKLAKE_DATA": str(where / "lake"), "IOC_RAW_DATA": str(where / "raw")})
                subprocess.run([str(IOC), "warehouse", "init"], env=env, check=True, capture_output=True)
            else:
                env["IOC_WAREHOUSE"] = "duckdb"
                if writers != 1:
                    raise SystemExit("the DuckDB file has one writer")
            cores = cores_for(writers, args.smoke)
            loaded = load(jobs, cores, where, env)
            print(f"{name:>7} load, {writers} writer(s) on core(s) {cores}: {json.dumps(loaded)}", flush=True)
            computed = compute(env)
            print(f"{name:>7} KPIs: {json.dumps(computed)}", flush=True)
            kpis[name] = kpi_rows(env)
            figures[name] = {"load": loaded, "kpis": computed, "env": env}
        for name in kpis:
            if name != "file-1":
                agree, differ = same_kpis(kpis[name], kpis["file-1"])
                figures[name]["kpis_identical"] = not differ
                if differ or not kpis["file-1"]:
                    failed.append(f"{name}: KPIs not identical to the file's ({agree} of {len(kpis['file-1'])})")
                print(f"{name:>7} KPIs against the file's: {agree} of {len(kpis['file-1'])} values agree"
                      + (f"; differ: {differ}" if differ else ""), flush=True)
        national = figures[f"lake-{args.writers[-1]}"]["env"]
        subprocess.run([str(IOC), "late"], env=national, check=True, capture_output=True)  # publishes the state
        for units in (None, "P01"):
            print(f"/metrics: {json.dumps(scrape_figures(national, units, args.scrapes))}", flush=True)
        one = figures.get("lake-1", {}).get("load", {}).get("wall_seconds")
        two = figures.get("lake-2", {}).get("load", {}).get("wall_seconds")
        if one and two:
            print(f"DuckLake, 2 writers on 2 cores over 1 writer on 1 core: {one / two:.2f}× "
                  f"({one} s → {two} s; target, issue 29: ≥ 1.7×)")
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
            for dbname in catalogs:
                admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    print("PASS" if not failed else "FAIL:\n  " + "\n  ".join(failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
