"""Benchmark of issue 27's first target: `ioc feeds draft` on the department simulator's files gives, for each
shipped file-drop feed, a declaration that loads the same rows as the shipped one.

    .venv/bin/python bench/draft_shipped_feeds.py [--months 6] [--variant unseen|beside ...] [--keep DIR] [--smoke]

The simulator writes its files (every layout departments use, the planted errors included). For each shipped
file-drop feed F, in a copy of schemas/ from which F's own declaration is removed (a department the project has
never seen: only the other feeds' names and codes can be reused), `ioc feeds draft <F's files> --id F` writes a
draft. Both declarations then load all of F's files, each into a fresh $IOC_HOME (`ioc ingest F --file …`), and
the clean rows are compared: columns matched by their header labels, an enum's codes by their labels. Prints,
per feed, the draft's TODO lines, the rows each loads and quarantines, and whether the clean rows are the same;
exits 1 where they are not.

`--smoke`: two months of files, each feed drafted unseen (its own declaration removed): the same path in seconds.
`make test` runs it in tests/test_feed_drafts.py, which checks each feed's figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import duckdb
import yaml

REPO = Path(__file__).resolve().parents[1]
IOC = REPO / ".venv" / "bin" / "ioc"
FEEDS = ("directive_tasks", "dept_monthly_report", "dept_indicators")


def run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(IOC), *args], env=env, capture_output=True, text=True, timeout=600)


def key(label: str) -> str:
    return " ".join(label.split()).casefold().strip(":* ")


def clean_rows(home: Path, feed: dict) -> tuple[list[str], list[tuple]]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        names = [c["name"] for c in feed["columns"]]
        rows = con.execute(f"SELECT {', '.join(names)} FROM clean.{feed['id']} WHERE _withdrawn_at IS NULL").fetchall()
        quarantined = con.execute(f"SELECT count(*) FROM ops.quarantine WHERE feed = '{feed['id']}'").fetchone()[0]
    return names, rows, quarantined


def measure_codes(shipped: dict, drafted: dict) -> dict[str, str]:
    """A form's draft measure code → the shipped one, by a label they share."""
    ship = {key(label): m["measure"] for m in shipped["source"].get("form", {}).get("measures", []) for label in m["labels"]}
    return {m["measure"]: next((ship[key(x)] for x in m["labels"] if key(x) in ship), m["measure"])
            for m in drafted["source"].get("form", {}).get("measures", [])}


def translation(shipped: dict, drafted: dict) -> tuple[list[tuple[int, int]], dict[int, dict]]:
    """Draft column index for each shipped column (by a shared label, or the same name), and each enum's
    draft code → shipped code (by a shared label)."""
    pairs, codes = [], {}
    for i, column in enumerate(shipped["columns"]):
        labels = {key(x) for x in [column["name"], *column.get("labels", [])]}
        j = next((j for j, d in enumerate(drafted["columns"])
                  if labels & {key(x) for x in [d["name"], *d.get("labels", [])]}), None)
        if j is None:
            continue
        pairs.append((i, j))
        draft = drafted["columns"][j]
        if column["name"] == "measure" and drafted["source"].get("form"):
            codes[j] = measure_codes(shipped, drafted)
        elif column.get("values") and draft.get("values"):
            by_label = {key(label): code for label, code in column["values"].items()}
            codes[j] = {code: by_label.get(key(label), code) for label, code in draft["values"].items()}
    return pairs, codes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="keep the simulator's files, drafts and homes here")
    parser.add_argument("--months", type=int, default=6, help="months of the simulator's history")
    parser.add_argument("--seed", type=int, default=42, help="seed of the simulated world")
    parser.add_argument("--variant", action="append", choices=("unseen", "beside"),
                        help="unseen: the feed's own declaration removed; beside: drafted under a new id (default both)")
    parser.add_argument("--smoke", action="store_true", help="two months, each feed unseen: the same path in seconds")
    options = parser.parse_args()
    cases = [(f, v) for f in FEEDS for v in options.variant or ("unseen", "beside")]
    if options.smoke:
        options.months, cases = 2, [(f, "unseen") for f in FEEDS]
    root = Path(options.keep or tempfile.mkdtemp(prefix="ioc-draft-bench-"))
    if root.exists() and options.keep:
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "IOC_HOME": str(root / "sim")}
    env.pop("IOC_VALIDATION_SOCKET", None)
    subprocess.run([str(IOC), "simulate", "--no-serve", "--months", str(options.months), "--seed", str(options.seed)], env=env, check=True,
                   capture_output=True)
    results = {}
    for feed_id, variant in cases:
        # unseen: the feed's own declaration removed (only the other feeds lend names); beside: drafted as a new
        # feed beside the shipped one (a second department sending files like it)
        files = sorted((root / "sim" / "inbox" / feed_id).iterdir())
        schemas = root / f"schemas-{feed_id}-{variant}"
        shutil.copytree(REPO / "schemas", schemas)
        draft_id = feed_id if variant == "unseen" else f"{feed_id}_draft"
        if variant == "unseen":
            (schemas / "feeds" / f"{feed_id}.yaml").unlink()
            for kpis in (schemas / "kpis").glob("*.yaml"):  # KPIs of the feed would name it before it is drafted
                if f"feed: {feed_id}" in kpis.read_text(encoding="utf-8"):
                    kpis.unlink()
        env = {**os.environ, "IOC_SCHEMAS": str(schemas), "IOC_HOME": str(root / f"draft-{feed_id}")}
        env.pop("IOC_VALIDATION_SOCKET", None)
        started = time.perf_counter()
        drafted = run(["feeds", "draft", *map(str, files), "--id", draft_id], env)
        seconds = time.perf_counter() - started
        assert drafted.returncode == 0, drafted.stdout + drafted.stderr
        text = (schemas / "feeds" / f"{draft_id}.yaml").read_text(encoding="utf-8")
        todos = [line for line in text.splitlines() if "# TODO" in line]
        loaded = {}
        for name, schema_dir, loaded_id in (("shipped", REPO / "schemas", feed_id), ("draft", schemas, draft_id)):
            home = root / f"home-{feed_id}-{variant}-{name}"
            home.mkdir()
            run_env = {**os.environ, "IOC_SCHEMAS": str(schema_dir), "IOC_HOME": str(home)}
            done = run(["ingest", loaded_id, *[a for f in files for a in ("--file", str(f))]], run_env)
            assert done.returncode in (0, 1), done.stdout + done.stderr
            declaration = yaml.safe_load((schema_dir / "feeds" / f"{loaded_id}.yaml").read_text(encoding="utf-8"))
            loaded[name] = (declaration, *clean_rows(home, declaration), done.returncode)
        (shipped, s_names, s_rows, s_quarantined, _), (draft, d_names, d_rows, d_quarantined, _) = \
            loaded["shipped"], loaded["draft"]
        pairs, codes = translation(shipped, draft)
        mapped_shipped = Counter(tuple(row[i] for i, _ in pairs) for row in s_rows)
        mapped_draft = Counter(tuple(codes.get(j, {}).get(row[j], row[j]) for _, j in pairs) for row in d_rows)
        unmatched = [c["name"] for i, c in enumerate(shipped["columns"]) if i not in {p[0] for p in pairs}]
        results[f"{feed_id} ({variant})"] = {
            "files": len(files), "draft_seconds": round(seconds, 2), "todo_lines": len(todos),
            "shipped_rows": len(s_rows), "draft_rows": len(d_rows),
            "shipped_quarantined": s_quarantined, "draft_quarantined": d_quarantined,
            "same_clean_rows": mapped_shipped == mapped_draft, "columns_compared": len(pairs),
            "shipped_columns_unmatched": unmatched,
            "rows_only_shipped": sum((mapped_shipped - mapped_draft).values()),
            "rows_only_draft": sum((mapped_draft - mapped_shipped).values()),
            "todo": todos,
        }
        shown = results[f"{feed_id} ({variant})"]
        print(json.dumps({f"{feed_id} ({variant})": {k: v for k, v in shown.items() if k != "todo"}},
                         ensure_ascii=False), flush=True)
        for line in todos:
            print("   ", line.strip()[:220])
    print(json.dumps({"same_clean_rows": {f: r["same_clean_rows"] for f, r in results.items()}}))
    if not options.keep:
        shutil.rmtree(root, ignore_errors=True)
    differ = [f for f, r in results.items() if not r["same_clean_rows"]]
    print("PASS" if not differ else f"FAIL: the draft loads other clean rows than the shipped feed: {', '.join(differ)}")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
