"""Benchmark: a large report form through `ioc ingest`, end to end (issue 26's target: 500 indicators × 6
measures in under 3 s).

    .venv/bin/python bench/form_ingest.py [--indicators 500] [--runs 5] [--smoke]

Builds a schemas folder beside a fresh $IOC_HOME: the project's declarations, plus a catalogue of
`--indicators` indicators (a fifth of them "Trong đó" parts, flows, stocks and rates) and a form feed with six
measure columns (the year's plan, this month, the year to date, the same month a year before, % of the plan,
% of the same period). Writes one form with openpyxl (a title block, a two-row merged header, a numbering row,
a group row every 20 indicators, figures as Vietnamese number text, a signature block), then times each whole
`ioc ingest <feed> --file FORM` process — read, conform, the catalogue match, Great Expectations, the form
rules, the load — `--runs` times, each into a fresh $IOC_HOME, with the validation service running (as `ioc up`
runs it: the target) and without it (each process imports Great Expectations itself: the cold path). Prints
each run and the medians. Every run must load every figure of its form (exit 1 otherwise).

`--smoke`: a form of 20 indicators, once, with the service (the other three runs are the same path with another
form or socket; the caller's service where $IOC_VALIDATION_SOCKET names a running one): seconds; `make test`
runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import yaml
from openpyxl import Workbook

REPO = Path(__file__).resolve().parents[1]
FEED = "bench_form"
MEASURES = ("plan_year", "month", "ytd", "month_last_year", "vs_plan_pct", "vs_last_year_pct")


def vi(value: float) -> str:
    text = f"{value:,.1f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    return text.removesuffix(",0")


def schemas(folder: Path, count: int) -> None:
    shutil.copytree(REPO / "schemas", folder)
    indicators = []
    for i in range(count):
        part = i % 5 == 4  # a "Trong đó" part of the row four above (a flow, as its whole)
        flow = part or i % 5 == 0 or i % 7 != 0
        indicators.append({
            "code": f"B_{i:04d}", "vi": f"Chỉ tiêu thử nghiệm số {i}", "en": f"Bench indicator {i}", "unit": "tỷ đồng",
            "aggregation": "flow" if flow else "stock", "departments": ["SYT"],
            **({"parent": f"B_{i - 4:04d}"} if part else {}),
            **({} if flow else {"measures": ["plan_year", "month", "month_last_year", "vs_plan_pct",
                                             "vs_last_year_pct"]}),
        })
    (folder / "indicators" / "bench_500.yaml").write_text(yaml.safe_dump(
        {"id": "bench_500", "name": {"vi": "Thử nghiệm", "en": "Bench"}, "measures": list(MEASURES),
         "indicators": indicators}, allow_unicode=True, sort_keys=False), encoding="utf-8")
    feed = yaml.safe_load((REPO / "schemas" / "feeds" / "dept_indicators.yaml").read_text(encoding="utf-8"))
    feed["id"] = FEED
    feed["source"]["inbox"] = FEED
    feed["source"]["form"]["catalogue"] = "bench_500"
    feed["source"]["form"]["measures"].append({"measure": "month_last_year", "labels": ["Cùng kỳ năm {last_year}"]})
    measure = next(c for c in feed["columns"] if c["name"] == "measure")
    measure["enum"] = list(MEASURES)
    feed["checks"] = [c for c in feed["checks"] if c["check"] != "rows_match_file_name"]
    feed["reporting"]["expected_units"] = {"kinds": ["department"], "codes": ["SYT"]}
    (folder / "feeds" / f"{FEED}.yaml").write_text(yaml.safe_dump(feed, allow_unicode=True, sort_keys=False),
                                                   encoding="utf-8")


def form(path: Path, count: int) -> int:
    """The form (October 2026 of SYT); the number of figures written."""
    rng = random.Random(26)
    wb = Workbook()
    ws = wb.active
    ws.title = "Biểu số liệu"
    ws.append(["UBND THÀNH PHỐ HẢI PHÒNG", None, None, None, None, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"])
    ws.append(["SỞ Y TẾ", None, None, None, None, "Độc lập - Tự do - Hạnh phúc"])
    ws.append([])
    ws.append(["BIỂU SỐ LIỆU"])
    ws.append(["Kết quả thực hiện các chỉ tiêu chủ yếu tháng 10 năm 2026"])
    ws.append([])
    ws.append(["STT", "Chỉ tiêu", "Đơn vị tính", "Kế hoạch năm 2026", "Thực hiện", None, "Cùng kỳ năm 2025",
               "So sánh %", None, "Ghi chú"])
    ws.append([None, None, None, None, "Tháng 10/2026", "Lũy kế 10 tháng", None, "So với KH năm", "So với cùng kỳ"])
    for column in "ABCDGJ":
        ws.merge_cells(f"{column}7:{column}8")
    ws.merge_cells("E7:F7")
    ws.merge_cells("H7:I7")
    ws.append([f"({j})" for j in range(1, 11)])
    figures = 0
    whole = (0.0, 0.0, 0.0)
    for i in range(count):
        if i % 20 == 0:
            ws.append([f"{'IVX'[i // 200] if i < 600 else 'X'}.{i // 20}", f"Nhóm chỉ tiêu {i // 20}"])
        part = i % 5 == 4
        flow = part or i % 5 == 0 or i % 7 != 0
        plan = rng.uniform(1_000, 20_000)
        ytd = plan * rng.uniform(0.6, 0.9)
        month = ytd / 10 * rng.uniform(0.8, 1.2)
        if part:  # below its whole, the row four above
            plan, ytd, month = whole[0] * 0.3, whole[1] * 0.3, whole[2] * 0.3
        elif i % 5 == 0:
            whole = (plan, ytd, month)
        last = month * rng.uniform(0.85, 1.05)
        label = f"Trong đó: Chỉ tiêu thử nghiệm số {i}" if part else f"Chỉ tiêu thử nghiệm số {i}"
        row = [None if part else str(i + 1), label, "tỷ đồng", vi(plan), vi(month), vi(ytd) if flow else None,
               vi(last), vi(round(100 * (ytd if flow else month) / plan, 1)), vi(round(100 * month / last, 1)), None]
        figures += sum(1 for v in row[3:9] if v is not None)
        ws.append(row)
    ws.append([])
    ws.append(["Nơi nhận:", None, None, None, None, "GIÁM ĐỐC"])
    ws.append(["- Lưu: VT.", None, None, None, None, "(Đã ký)"])
    wb.save(path)
    return figures


def ingest_seconds(root: Path, home: str, path: Path, socket: Path, figures: int) -> float:
    """One whole `ioc ingest` of the form into a fresh $IOC_HOME: its seconds. It must load every figure."""
    env = {**os.environ, "IOC_HOME": str(root / home), "IOC_SCHEMAS": str(root / "schemas"),
           "IOC_VALIDATION_SOCKET": str(socket)}
    started = time.perf_counter()
    done = subprocess.run([str(REPO / ".venv" / "bin" / "ioc"), "ingest", FEED, "--file", str(path), "--json"],
                          env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"ioc ingest failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    summary = json.loads(done.stdout[done.stdout.index("["):])
    loaded = sum(s["rows_loaded"] for s in summary)
    if loaded != figures or any(s["rows_quarantined"] for s in summary):
        raise SystemExit(f"{path.name}: {figures} figures written, {loaded} loaded: {json.dumps(summary)[:2000]}")
    return seconds


def start_service(socket: Path) -> subprocess.Popen:
    service = subprocess.Popen([str(REPO / ".venv" / "bin" / "ioc"), "validation-service", "--socket", str(socket)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    while not socket.exists():
        if service.poll() is not None:
            raise SystemExit("the validation service did not start")
        time.sleep(0.1)
    return service


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--indicators", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="20 indicators, one run: the same path in seconds")
    args = parser.parse_args()
    if args.smoke:
        args.indicators, args.runs = 20, 1
    with tempfile.TemporaryDirectory(prefix="bench-form-", ignore_cleanup_errors=True) as tmp:  # (Data Docs come after)
        root = Path(tmp)
        schemas(root / "schemas", args.indicators)
        large, small = root / "large" / "SYT_2026-10.xlsx", root / "small" / "SYT_2026-10.xlsx"
        large.parent.mkdir()
        small.parent.mkdir()
        figures = form(large, args.indicators)
        baseline = form(small, 1)
        print(f"form: {args.indicators} indicators × {len(MEASURES)} measures = {figures} figures, "
              f"{large.stat().st_size:,} bytes; baseline: a form of {baseline} figures")
        socket, nobody = root / "validation.sock", root / "nobody-listens.sock"
        running = os.environ.get("IOC_VALIDATION_SOCKET")
        if args.smoke and running and Path(running).exists():  # the caller's (the tests'): the same served path
            socket, service = Path(running), None
        else:
            service = start_service(socket)
        # run by run: the large form and the one-row form, with the service and without (the smoke: the first)
        cases = [("large", large, socket, figures), ("baseline", small, socket, baseline),
                 ("large cold", large, nobody, figures), ("baseline cold", small, nobody, baseline)]
        cases = cases[:1] if args.smoke else cases
        timed: dict[str, list[float]] = {name: [] for name, *_ in cases}
        try:
            for run in range(args.runs):
                for name, path, listening, count in cases:
                    timed[name].append(ingest_seconds(root, f"{name.replace(' ', '-')}{run}", path, listening, count))
                print(f"run {run + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in timed.items()), flush=True)
        finally:
            if service is not None:
                service.terminate()
                service.wait()
        median = {k: statistics.median(v) for k, v in timed.items()}
        small_ones = lambda key: f"; a {baseline}-figure form {median[key]:.2f} s" if key in median else ""  # noqa: E731
        print(f"median, validation service running: {median['large']:.2f} s for the {figures}-figure form "
              f"(target: under 3 s){small_ones('baseline')}")
        if "large cold" in median:
            print(f"median, no service (cold): {median['large cold']:.2f} s{small_ones('baseline cold')}")

if __name__ == "__main__":
    main()
