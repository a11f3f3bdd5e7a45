"""Benchmark: validate 1,000,000 tthc_dossiers rows with the feed's full suite, against loading the
same rows from CSV into DuckDB, measured in the same run; each phase in its own process so that its
peak memory (max RSS) is its own.

    .venv/bin/python bench/validate_tthc.py [--rows 1000000]

Phases:
  generate  write the CSV (1M dossiers, a few planted defects)
  load      the platform's load of that CSV: read and land it, conform (type) every value, write
            raw history and clean.tthc_dossiers in DuckDB
  duckdb    DuckDB's own read_csv into a table (the floor: no typing rules, lineage or raw history)
  validate  the full generated suite (Great Expectations) on the conformed batch, with derived
            columns and the row/batch decision — what the load stage adds per batch
Target (issue 3): validate < 2 × load, and validate's peak < 2 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def bench_feed():
    """The declared tthc_dossiers feed, read from a CSV file drop instead of its API."""
    from pipelines.declarations.loading import read_catalog
    from pipelines.declarations.models import FileDropSource

    feed = read_catalog(REPO / "schemas").feed("tthc_dossiers")
    return feed.model_copy(update={"source": FileDropSource(kind="file_drop", inbox="bench", number_format="en")})


def generate(path: Path, rows: int) -> None:
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(42)
    agencies = ["SYT", "SXD", "STC", "SNV", "TTPVHCC", "SNNMT", "SCT", "SGDDT", "PH_HAIDUONG", "XA_GIALOC"]
    seconds = lambda low, high: rng.integers(low, high, rows).astype("timedelta64[s]").astype("timedelta64[ms]")  # noqa: E731
    received = np.datetime64("2026-01-01T00:00:00", "ms") + seconds(0, 300 * 86400)
    due = received + seconds(3 * 86400, 20 * 86400)
    done = rng.random(rows) < 0.7
    completed = np.where(done, received + seconds(3600, 25 * 86400), np.datetime64("NaT", "ms"))
    frame = pl.DataFrame({
        "dossier_id": [f"HS-2026-{i:07d}" for i in range(rows)],
        "agency_code": rng.choice(agencies, rows),
        "procedure_code": [f"1.{n:06d}" for n in rng.integers(0, 999999, rows)],
        "channel": rng.choice(["online", "direct", "postal", "Trực tuyến"], rows),
        "received_at": received, "due_at": due, "completed_at": completed,
        "status": np.where(done, "completed", rng.choice(["received", "processing", "supplement_requested"], rows)),
        "paid_online": rng.choice([True, False], rows),
        "fee_vnd": rng.integers(0, 500_000, rows),
        "updated_at": received + np.timedelta64(3600, "s").astype("timedelta64[ms]"),
    }).with_columns(
        *(pl.col(c).dt.replace_time_zone("Asia/Ho_Chi_Minh").dt.strftime("%Y-%m-%dT%H:%M:%S%:z")
          for c in ("received_at", "due_at", "completed_at", "updated_at")),
    )
    planted = {"agency_code": (11, "SXXX"), "fee_vnd": (22, "-5"), "channel": (33, "fax")}
    frame = frame.with_row_index("_i").with_columns(
        *(pl.when(pl.col("_i") == i).then(pl.lit(v)).otherwise(pl.col(c).cast(pl.String)).alias(c)
          for c, (i, v) in planted.items())).drop("_i")
    frame.write_csv(path)


def phase_load(csv: Path, home: Path) -> dict:
    from pipelines.conform.rows import conform
    from pipelines.extract.file_drop import extract_file
    from pipelines.extract.landing import read_records
    from pipelines.load.batch import ensure_raw_table, raw_table
    from pipelines.load.publish import publish
    from pipelines.load.warehouse import connect, quote

    import polars as pl

    feed = bench_feed()
    started = time.perf_counter()
    batch = extract_file(feed, csv, keep_original=True)
    records = read_records(batch)
    conformed = conform(feed, records, "en", f"file {csv.name}")
    typed = conformed.typed
    with connect() as con:
        con.execute("BEGIN")
        ensure_raw_table(con, feed)
        con.register("_records", records)
        con.execute(f"INSERT INTO {raw_table(feed)} SELECT ?, ?, _source_uri, ?, ?, _source_row, _raw::JSON "
                    "FROM _records", [batch.batch_id, feed.id, batch.checksum, batch.received_at])
        valid = typed.select(*feed.column_names, "_source_row", "_source_uri").with_columns(
            pl.lit(batch.batch_id).alias("_batch_id"),
            pl.lit(batch.received_at).cast(pl.Datetime("us", "UTC")).alias("_received_at"),
            pl.lit(batch.received_at).cast(pl.Datetime("us", "UTC")).alias("_loaded_at"))
        con.register("_valid", valid)
        publish(con, feed, "_valid")
        con.execute("COMMIT")
        loaded = con.execute(f"SELECT count(*) FROM clean.{quote(feed.id)}").fetchall()[0][0]
    seconds = time.perf_counter() - started
    typed.write_parquet(home / "conformed.parquet")
    (home / "batch.json").write_text(json.dumps(batch.to_json()))
    return {"seconds": seconds, "rows": records.height, "clean_rows": loaded}


def phase_duckdb(csv: Path, home: Path) -> dict:
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect(str(home / "plain.duckdb"))
    con.execute(f"CREATE OR REPLACE TABLE dossiers AS SELECT * FROM read_csv('{csv}', header = true)")
    rows = con.execute("SELECT count(*) FROM dossiers").fetchall()[0][0]
    con.close()
    return {"seconds": time.perf_counter() - started, "rows": rows}


def phase_validate(csv: Path, home: Path) -> dict:
    import polars as pl

    from pipelines.conform.rows import Conformed
    from pipelines.declarations.loading import read_catalog
    from pipelines.extract.landing import LandedBatch
    from pipelines.load.warehouse import connect
    from pipelines.validate.batch import validate_batch

    import great_expectations  # noqa: F401  (import time is a fixed cost per process, not per batch)

    feed = bench_feed()
    units = read_catalog(REPO / "schemas").org_units
    typed = pl.read_parquet(home / "conformed.parquet")
    batch = LandedBatch.from_json(json.loads((home / "batch.json").read_text()))
    conformed = Conformed(typed=typed, source_columns=feed.column_names)
    with connect() as con:
        started = time.perf_counter()
        validation = validate_batch(con, feed, conformed, batch, units)
        seconds = time.perf_counter() - started
    failed = {r.check.id: r.unexpected_count for r in validation.results if not r.success}
    return {"seconds": seconds, "published": validation.published.height,
            "quarantined": validation.quarantined.height, "failed_checks": failed,
            "expectations": sum(1 for _ in validation.results)}


PHASES = {"load": phase_load, "duckdb": phase_duckdb, "validate": phase_validate}


def run_phase(name: str, csv: Path, home: Path) -> dict:
    """Run one phase in a fresh process; returns its figures and its peak memory."""
    env = {**os.environ, "IOC_HOME": str(home)}
    out = subprocess.run([sys.executable, __file__, "--phase", name, "--csv", str(csv), "--home", str(home)],
                         env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--phase", choices=PHASES)
    parser.add_argument("--csv", type=Path)
    parser.add_argument("--home", type=Path)
    args = parser.parse_args()
    if args.phase:
        figures = PHASES[args.phase](args.csv, args.home)
        figures["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(figures))
        return
    with tempfile.TemporaryDirectory(prefix="ioc-bench-") as tmp:
        home, csv = Path(tmp) / "home", Path(tmp) / "tthc_dossiers.csv"
        home.mkdir()
        started = time.perf_counter()
        generate(csv, args.rows)
        print(f"generated {args.rows:,} rows ({csv.stat().st_size / 1e6:.0f} MB CSV) in {time.perf_counter() - started:.1f} s")
        results = {name: run_phase(name, csv, home) for name in ("load", "duckdb", "validate")}
    for name, figures in results.items():
        print(f"{name:<9} {figures['seconds']:7.2f} s   peak {figures['peak_mb']:7.0f} MB   "
              + ", ".join(f"{k} {v}" for k, v in figures.items() if k not in ("seconds", "peak_mb")))
    load, native, validate = (results[n]["seconds"] for n in ("load", "duckdb", "validate"))
    ratio = validate / load
    print(f"validate / load = {ratio:.2f} (target < 2); validate / duckdb read_csv = {validate / native:.2f}; "
          f"validate peak {results['validate']['peak_mb']:.0f} MB (target < 2048)")
    ok = ratio < 2 and results["validate"]["peak_mb"] < 2048
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
