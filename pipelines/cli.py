"""The `ioc` command: feeds, ingestion, batches, the department simulator and the demo."""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pipelines import warm_runs, wording
from pipelines.calendar import workdays
from pipelines.warehouse.catalog import CatalogLost

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
feeds_app = typer.Typer(no_args_is_help=True, help="Declared department feeds.")
app.add_typer(feeds_app, name="feeds")
kpi_app = typer.Typer(no_args_is_help=True, help="KPIs of the operations centre: compute and show.")
app.add_typer(kpi_app, name="kpi")
alerts_app = typer.Typer(no_args_is_help=True, help="Prometheus rules and Alertmanager routing.")
app.add_typer(alerts_app, name="alerts")
report_app = typer.Typer(no_args_is_help=True, help="Reports for the city's leaders.")
app.add_typer(report_app, name="report")
warehouse_app = typer.Typer(no_args_is_help=True, help="The warehouse (IOC_WAREHOUSE: duckdb or ducklake).")
app.add_typer(warehouse_app, name="warehouse")
# Piped output (logs, CI, scripts) is not cut at 80 columns.
console = Console(width=None if sys.stdout.isatty() else 240, soft_wrap=True)
errors = Console(stderr=True, width=None if sys.stderr.isatty() else 240, soft_wrap=True)


def main() -> None:
    """The `ioc` command. A command that finished leaves at once: an orderly interpreter exit tears down what
    nothing needs any more (polars' and DuckDB's modules and threads), 0.3 s of every small `ioc ingest`
    (measured). A lost connection to the lake's catalog ends any command with its one line (CatalogLost: the
    catalog, what was being done, that nothing was committed), exit 1; a command that fails with another exception
    exits as Python does, with its traceback."""

    try:
        app()
        code: object = 0
    except SystemExit as done:
        code = done.code
    except CatalogLost as lost:
        errors.print(f"[red]✗[/red] {escape(str(lost))}", highlight=False)
        code = 1
    if (gx_worker := sys.modules.get("pipelines.validate.gx_worker")) is not None:
        gx_worker.worker().close()  # its own worker, if any, finishes what it was asked (Data Docs) first
    logging.shutdown()
    if isinstance(code, str):
        print(code, file=sys.stderr)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code if isinstance(code, int) else 0 if code is None else 1)


STATUS_STYLE = {
    "loaded": "green",
    "partial": "yellow",
    "quarantined": "red",
    "failed": "bold red",
    "duplicate": "dim",
    "empty": "dim",
    "already_loaded": "dim",
}


@warehouse_app.command("init")
def warehouse_init() -> None:
    """Make the warehouse ready (for DuckLake: its catalog database and tables), once, before writers start."""
    from pipelines.warehouse.connection import initialise

    try:
        where = initialise()
    except ValueError as exc:
        errors.print(f"[red]✗[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"[green]✓[/green] warehouse ready: {where}", highlight=False)


@warehouse_app.command("compact")
def warehouse_compact(
    keep_days: Annotated[
        int | None,
        typer.Option(
            "--keep-days",
            help="History kept for time travel, in days (default: $IOC_HISTORY_DAYS, else 400).",
            min=0,
        ),
    ] = None,
) -> None:
    """Merge the warehouse's small files and let go of history older than --keep-days (the DAG ioc_maintenance
    runs it each night)."""
    from pipelines import jobs  # lazy: a command may import its own stage
    from pipelines.warehouse import connect  # lazy: a command may import its own stage

    with connect() as con:
        done = jobs.compact(con, keep_days)
    if not done:
        console.print("[green]✓[/green] the DuckDB file checkpointed (it keeps no history to let go of)")
        return
    console.print(
        f"[green]✓[/green] data files {done['data_files_before']} → {done['data_files_after']}, "
        f"snapshots expired {done['snapshots_expired']}, old files deleted {done['files_deleted']}",
        highlight=False,
    )


@warehouse_app.command("check")
def warehouse_check() -> None:
    """Whether the warehouse answers and can be written: the DuckDB file, or the DuckLake's catalog and data path (and
    raw history's path); one line each, exit 1 if any fails."""
    from pipelines.warehouse.connection import check

    try:
        found = check()
    except ValueError as exc:  # a setting that cannot work (IOC_WAREHOUSE, an object storage without its keys)
        errors.print(f"[red]✗[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    for ok, line in found:
        console.print(f"[green]✓[/green] {escape(line)}" if ok else f"[red]✗[/red] {escape(line)}", highlight=False)
    if not all(ok for ok, _ in found):
        raise typer.Exit(1)


def _catalog():
    from pipelines.declarations.loading import (  # lazy: the declarations (pydantic models, 0.3 s and more) only for the commands that read them: ioc --help stays quick
        DeclarationError,
        catalog,
    )

    try:
        return catalog()
    except DeclarationError as exc:
        for problem in exc.problems:
            errors.print(f"[red]✗[/red] {problem}", highlight=False)
        raise typer.Exit(1) from None


def _feed(feed_id: str):
    """The declared feed, or exit 2 listing the declared ones."""
    catalog = _catalog()
    if feed_id not in catalog.feeds:
        errors.print(f"[red]✗[/red] unknown feed {feed_id!r}; declared feeds: {', '.join(sorted(catalog.feeds))}")
        raise typer.Exit(2)
    return catalog.feeds[feed_id]


@feeds_app.command("list")
def feeds_list(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """List every declared feed with its owner, source and schedule."""
    feeds = _catalog().feeds.values()
    if as_json:
        print(json.dumps([f.model_dump(mode="json", exclude={"columns"}) for f in feeds], ensure_ascii=False, indent=1))
        return
    table = Table("feed", wording.text("cli.column.name_vi"), "owner", "source", "schedule", "columns", "current data")
    for f in feeds:
        mode = (
            f"latest by {f.load.version}"
            if f.load.version
            else (f"replace by {', '.join(f.load.replace)}" if f.load.replace else "latest batch per key")
        )
        table.add_row(f.id, f.name.vi, f.owner, f.source.kind, f.schedule or "manual", str(len(f.columns)), mode)
    console.print(table)


@feeds_app.command("check")
def feeds_check() -> None:
    """Validate every declaration (org units and feeds); exit 1 listing each problem with file and key."""
    catalog = _catalog()
    console.print(
        f"[green]✓[/green] {len(catalog.org_units.units)} organisation units, "
        f"{len(catalog.feeds)} feeds, {len(catalog.kpis)} KPIs: all declarations are valid"
    )


@feeds_app.command("draft")
def feeds_draft(
    files: Annotated[list[Path], typer.Argument(help="One or more sample files of the department (CSV or XLSX).")],
    feed_id: Annotated[str, typer.Option("--id", help="The new feed's id (snake_case): schemas/feeds/ID.yaml.")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing declaration.")] = False,
    kind: Annotated[str, typer.Option("--kind", help="auto, table or form.")] = "auto",
    owner: Annotated[str | None, typer.Option("--owner", help="The unit code that owns the feed.")] = None,
    encoding: Annotated[
        list[str] | None, typer.Option("--encoding", help="The samples' encoding, if neither UTF-8 nor Windows-1258.")
    ] = None,
) -> None:
    """Draft a feed's declaration from sample files: header, columns and types, key, file names, or a form's layout
    and its indicator catalogue. Prints what it decided and why; undecided lines are marked # TODO."""
    import re

    from pipelines.draft.feed import draft_feed
    from pipelines.draft.samples import DraftError

    if not re.fullmatch(r"[a-z][a-z0-9_]*", feed_id) or kind not in ("auto", "table", "form"):
        errors.print("[red]✗[/red] --id must be snake_case (e.g. so_du_lich_thang); --kind auto, table or form")
        raise typer.Exit(2)
    try:
        drafted = draft_feed(files, feed_id, force=force, kind=kind, owner=owner, encodings=encoding)
    except DraftError as exc:
        errors.print(f"[red]✗[/red] {exc}; nothing written", highlight=False)
        raise typer.Exit(2) from None
    console.print(
        f"[green]✓[/green] drafted {drafted.feed_file}"
        + (f" and {drafted.catalogue_file}" if drafted.catalogue_file else "")
        + f" ({drafted.kind})",
        highlight=False,
    )
    for line in drafted.decisions:
        console.print(f"  {line}", highlight=False, markup=False)
    if drafted.todos:
        console.print(f"[yellow]![/yellow] {len(drafted.todos)} lines to decide (marked # TODO):", highlight=False)
        for todo in drafted.todos:
            console.print(f"    {todo}", highlight=False, markup=False)
    console.print(f"  next: read it, adjust it, then: ioc feeds try {feed_id} --file FILE", highlight=False)


@feeds_app.command("try")
def feeds_try(
    feed_id: Annotated[str, typer.Argument(help="The feed's id.")],
    file: Annotated[Path, typer.Option("--file", "-f", exists=True, dir_okay=False, help="A file of the feed.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Read, conform and validate a file as the feed would load it, writing nothing: the header and mapping, each
    column's values that do not parse, the rows that would be quarantined and why, the checks. Exit 0 when the
    file would load without quarantine, 1 otherwise, 2 when it cannot be read."""
    from dataclasses import asdict

    from pipelines.extract.unreadable import UnreadableFile
    from pipelines.trial import try_file

    feed = _feed(feed_id)
    if feed.source.kind != "file_drop":
        errors.print(f"[red]✗[/red] feed {feed_id} reads from {feed.source.kind}, not files")
        raise typer.Exit(2)
    try:
        trial = try_file(feed, file)
    except UnreadableFile as exc:
        errors.print(f"[red]✗[/red] feed {feed_id}, file {file.name}: {exc}", highlight=False)
        raise typer.Exit(2) from None
    if as_json:
        print(json.dumps(asdict(trial), ensure_ascii=False, indent=1, default=str))
        raise typer.Exit(0 if trial.clean else 1)
    console.print(f"{file.name}: read as {trial.read_as}; header on row {trial.header_row}", highlight=False)
    for m in trial.mapping:
        console.print(f"  {m['at']}: {m['label']!r} → {m['column']}", highlight=False, markup=False)
    for label in trial.unmapped_labels:
        console.print(
            f"  [yellow]![/yellow] {label!r}: no column of the feed (kept in raw history only)", highlight=False
        )
    for name in trial.missing_columns:
        console.print(f"  [yellow]![/yellow] column {name}: not in the file", highlight=False)
    table = Table("column", "type", "values", "parsed", "did not parse (examples)")
    for c in trial.columns:
        table.add_row(
            c.column,
            c.type,
            str(c.values),
            str(c.parsed),
            f"[red]{c.failed}[/red]: " + ", ".join(map(repr, c.examples)) if c.failed else "",
        )
    console.print(table)
    shown = trial.quarantine[:20]
    for q in shown:
        where = f"row {q['row']}" + (f", cell {q['cell']}" if q["cell"] else "")
        console.print(f"  [red]quarantined[/red] {where}: " + " | ".join(q["reasons"]), highlight=False)
    if len(trial.quarantine) > len(shown):
        console.print(f"  … and {len(trial.quarantine) - len(shown)} more (--json lists them all)")
    for check in trial.checks:
        if not check["success"]:
            console.print(
                f"  [yellow]check {check['check']} ({check['severity']}): {check['failing']} failing[/yellow]",
                highlight=False,
            )
    for warning in trial.warnings:
        console.print(f"  [yellow]![/yellow] {warning}", highlight=False, markup=False)
    if trial.blocked:
        console.print(
            "[red]✗ the batch would be blocked[/red] (nothing published): " + "; ".join(trial.blocked_because),
            highlight=False,
        )
    verdict = "[green]✓[/green]" if trial.clean else "[red]✗[/red]"
    console.print(
        f"{verdict} {trial.rows} rows: {trial.would_load} would load, {trial.quarantined} would be "
        "quarantined; nothing was written",
        highlight=False,
    )
    raise typer.Exit(0 if trial.clean else 1)


@app.command()
def ingest(
    feed: Annotated[str, typer.Argument(help="Feed id, e.g. dept_monthly_report.")],
    file: Annotated[
        list[Path] | None,
        typer.Option("--file", "-f", exists=True, dir_okay=False, help="Ingest these files instead of the inbox."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run one feed once (extract, then load), without a scheduler; print rows received/loaded/quarantined."""
    from pipelines.ingest import ingest_feed

    _feed(feed)
    summaries, source_error = ingest_feed(feed, file)
    if as_json:
        print(
            json.dumps(
                [{k: v for k, v in s.__dict__.items() if k != "data_docs"} for s in summaries],
                ensure_ascii=False,
                indent=1,
                default=str,
            )
        )
    else:
        _print_summaries(summaries)
        if any(s.rows_received for s in summaries):
            from pipelines.validate.gx import data_docs_index

            console.print(f"Data Docs: {data_docs_index().as_uri()}", highlight=False)
    if source_error is not None:
        errors.print(f"[red]✗[/red] {source_error}", highlight=False)
    if source_error is not None or any(s.status == "failed" for s in summaries):
        raise typer.Exit(1)


@app.command()
def backfill(
    feed: Annotated[str, typer.Argument(help="Feed id with an incremental source, e.g. tthc_dossiers.")],
    from_: Annotated[
        str, typer.Option("--from", help="Start of the window (ISO date or instant; local time if no offset).")
    ],
    to: Annotated[str, typer.Option("--to", help="End of the window, inclusive (a date means its whole day).")],
    part: Annotated[
        str,
        typer.Option(
            "--part",
            help="Run one part of the window split in equal times, e.g. 1/2 "
            "here and 2/2 on another worker (they load side by side).",
        ),
    ] = "1/1",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Re-read a past window of an incremental source and load it, leaving the feed's cursor alone.
    What comes again loads as the same versions (nothing changes) or newer ones, never twice."""
    from pipelines.extract.errors import SourceError
    from pipelines.extract.pull import whole_days
    from pipelines.ingest import backfill_part

    declared = _feed(feed)
    try:
        window = whole_days(from_, to, declared.timezone)
    except ValueError as exc:
        errors.print(f"[red]✗[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    number, _, count = part.partition("/")
    if not (number.isdigit() and count.isdigit() and 1 <= int(number) <= int(count)):
        errors.print(f"[red]✗[/red] --part {part!r}: expected K/N with 1 ≤ K ≤ N, e.g. 1/2")
        raise typer.Exit(2)
    try:
        summaries = backfill_part(feed, window, int(number), int(count))
    except (SourceError, ValueError) as exc:
        errors.print(f"[red]✗[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
    if as_json:
        print(json.dumps([s.__dict__ for s in summaries], ensure_ascii=False, default=str, indent=1))
        return
    shown = window.split(int(count))[int(number) - 1]
    console.print(
        f"backfill of {feed} from {shown.start.isoformat()} to {shown.end.isoformat()}"
        + (f" (part {part})" if count != "1" else ""),
        highlight=False,
    )
    _print_summaries(summaries)


def _print_summaries(summaries) -> None:
    if not summaries:
        console.print("nothing new to load")
        return
    table = Table("batch", "source", "status", "received", "loaded", "quarantined", "outliers")
    for s in summaries:
        style = STATUS_STYLE.get(s.status, "")
        table.add_row(
            s.batch_id,
            s.file_name or s.source_uri,
            f"[{style}]{s.status}[/{style}]",
            str(s.rows_received),
            str(s.rows_loaded),
            str(s.rows_quarantined),
            str(s.outliers),
        )
    console.print(table)
    for s in summaries:
        if s.error:
            console.print(f"[red]✗ {s.error}[/red]", highlight=False)
        for warning in (w for w in s.warnings if w.startswith("warning check")):
            console.print(f"[yellow]! {warning}[/yellow]", highlight=False)
        for problem in s.problems:
            console.print(f"[yellow]• {problem}[/yellow]", highlight=False)
        if s.rows_quarantined > len(s.problems):
            console.print(f"  … {s.rows_quarantined} rows of batch {s.batch_id} are in ops.quarantine", highlight=False)


@app.command()
def batches(
    feed: Annotated[str | None, typer.Argument(help="Only this feed.")] = None,
    limit: Annotated[int, typer.Option(help="How many of the latest batches.")] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The latest batches from ops.batches: what each load received, loaded and quarantined."""
    from pipelines.warehouse import connect

    with connect() as con:
        rows = con.execute(
            "SELECT batch_id, feed, coalesce(file_name, source_uri), status, rows_received, rows_loaded, "
            "rows_quarantined, strftime(loaded_at AT TIME ZONE 'Asia/Ho_Chi_Minh', '%Y-%m-%d %H:%M:%S'), error "
            "FROM ops.batches WHERE ? IS NULL OR feed = ? ORDER BY loaded_at DESC, batch_id DESC LIMIT ?",
            [feed, feed, limit],
        ).fetchall()
    keys = ["batch_id", "feed", "source", "status", "received", "loaded", "quarantined", "loaded_at", "error"]
    if as_json:
        print(json.dumps([dict(zip(keys, r, strict=False)) for r in rows], ensure_ascii=False, indent=1))
        return
    table = Table(*keys[:-1])
    for r in rows:
        style = STATUS_STYLE.get(r[3], "")
        table.add_row(r[0], r[1], str(r[2])[-60:], f"[{style}]{r[3]}[/{style}]", *map(str, r[4:8]))
    console.print(table)


@app.command()
def validate(
    feed: Annotated[str, typer.Argument(help="Feed id.")],
    batch: Annotated[str | None, typer.Option(help="Batch id (default: the feed's latest batch with rows).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run the feed's current suite again on a loaded batch and record the results (nothing is republished)."""
    from pipelines.validate.gx import data_docs_index
    from pipelines.validate.reports import results_table, revalidate
    from pipelines.warehouse import connect

    declared = _feed(feed)
    with connect() as con:
        try:
            landed, validation = revalidate(con, declared, _catalog().org_units, batch)
        except LookupError as exc:
            errors.print(f"[red]✗[/red] {exc}")
            raise typer.Exit(2) from None
    table = results_table(validation)
    if as_json:
        print(
            json.dumps(
                {
                    "batch_id": landed.batch_id,
                    "blocked": validation.blocked,
                    "checks": table.to_dicts(),
                    "published": validation.published,
                    "quarantined": validation.quarantined,
                    "data_docs": data_docs_index().as_uri(),
                },
                ensure_ascii=False,
                indent=1,
            )
        )
        return
    out = Table("check", "severity", "passed", "failing rows", "blocks batch", title=f"{feed} batch {landed.batch_id}")
    for row in table.iter_rows():
        passed = "[green]yes[/green]" if row[2] else "[red]no[/red]"
        out.add_row(row[0], row[1], passed, str(row[3]), "[red]yes[/red]" if row[4] else "")
    console.print(out)
    console.print(
        f"{validation.published} rows would be published, {validation.quarantined} quarantined"
        + ("; the batch would be [red]blocked[/red]: " + "; ".join(validation.blocked) if validation.blocked else ""),
        highlight=False,
    )
    console.print(f"Data Docs: {data_docs_index().as_uri()}", highlight=False)


@app.command()
def quarantine(
    feed: Annotated[str, typer.Argument(help="Feed id.")],
    show_all: Annotated[bool, typer.Option("--all", help="Also rows already superseded by corrections.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 200,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Quarantined rows of a feed with every reason (open ones; --all adds superseded ones)."""
    from pipelines.validate.reports import quarantined_rows
    from pipelines.warehouse import connect

    _feed(feed)
    with connect() as con:
        rows = quarantined_rows(con, feed, show_all, limit)
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=1, default=str))
        return
    if not rows:
        console.print(f"no {'quarantined' if show_all else 'open quarantined'} rows for {feed}")
        return
    table = Table("file / page", "row", "unit", "status", "reasons", show_lines=True)
    for row in rows:
        where = row["source_uri"].rsplit("__", 1)[-1] if "__" in (row["source_uri"] or "") else row["source_uri"]
        reasons = "\n".join(
            f"{r['check_name']}: {r['column_name'] or 'batch'} expected {r['expected']}, got {r['actual']!r}"
            for r in row["reasons"]
        )
        table.add_row(where, str(row["source_row"]), row["unit_code"] or "", row["status"], reasons)
    console.print(table)


@app.command()
def quality(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Data quality per feed and per department: rows quarantined, failed checks and files, outliers."""
    from pipelines.validate.gx import data_docs_index
    from pipelines.validate.reports import quality_by_feed, quality_by_unit, rules_broken
    from pipelines.warehouse import connect

    with connect() as con:
        feeds, units, rules = quality_by_feed(con), quality_by_unit(con), rules_broken(con)
    if as_json:
        print(
            json.dumps(
                {"feeds": feeds, "units": units, "rules_broken": rules}, ensure_ascii=False, indent=1, default=str
            )
        )
        return
    for title, rows in (
        (wording.bilingual("cli.quality.by_feed"), feeds),
        (wording.bilingual("cli.quality.by_unit"), units),
        (wording.bilingual("cli.quality.rules_broken"), rules),
    ):
        if not rows:
            continue
        table = Table(*rows[0].keys(), title=title)
        for row in rows:
            table.add_row(*("" if v is None else str(v) for v in row.values()))
        console.print(table)
    console.print(f"Data Docs: {data_docs_index().as_uri()}", highlight=False)


@app.command()
def late(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    now: Annotated[str | None, typer.Option(help="Evaluate as of this instant (ISO 8601 with offset).")] = None,
) -> None:
    """Who is late now: missing reports past their deadline and overdue tasks, most late first."""
    from pipelines import jobs
    from pipelines.warehouse import connect, table_exists

    moment = _moment(now)
    with connect() as con:
        marts = jobs.deadlines(con, _catalog(), moment)
        overdue = (
            []
            if not table_exists(con, "marts", "task_status")
            else [
                dict(
                    zip(
                        ("task_id", "unit_code", "title", "due_on", "days_late", "working_days_late"), row, strict=False
                    )
                )
                for row in con.execute(
                    "SELECT task_id, unit_code, title, due_on, days_late, working_days_late FROM marts.task_status "
                    "WHERE state = 'overdue' ORDER BY days_late DESC, task_id"
                ).fetchall()
            ]
        )
    reports = marts.get("report_status")
    missing = (
        []
        if reports is None
        else reports.filter(reports["status"] == "missing")
        .sort(["lateness_working_days", "unit_code"], descending=[True, False])
        .select("feed", "unit_code", "period", "due_date", "lateness_working_days")
        .to_dicts()
    )
    if as_json:
        print(
            json.dumps(
                {"reports_missing": missing, "tasks_overdue": overdue}, ensure_ascii=False, indent=1, default=str
            )
        )
        return
    units = {u.code: u.vi for u in _catalog().org_units.units}
    table = Table(
        "feed",
        wording.bilingual("cli.column.unit"),
        wording.bilingual("cli.column.period"),
        wording.bilingual("cli.column.due"),
        wording.bilingual("cli.column.working_days_late"),
        title=wording.bilingual("cli.late.reports"),
    )
    for r in missing:
        table.add_row(
            r["feed"],
            f"{r['unit_code']} — {units.get(r['unit_code'], '')}",
            r["period"],
            str(r["due_date"]),
            f"[red]{r['lateness_working_days']}[/red]",
        )
    console.print(table if missing else "no report is missing past its deadline")
    table = Table(
        wording.bilingual("cli.column.task"),
        wording.bilingual("cli.column.unit"),
        wording.bilingual("cli.column.title"),
        wording.bilingual("cli.column.due"),
        wording.bilingual("cli.column.days_late"),
        wording.bilingual("cli.column.working_days"),
        title=wording.bilingual("cli.late.tasks"),
    )
    for t in overdue:
        table.add_row(
            t["task_id"],
            t["unit_code"],
            t["title"][:60],
            str(t["due_on"]),
            f"[red]{t['days_late']}[/red]",
            str(t["working_days_late"]),
        )
    console.print(table if overdue else "no task is overdue")


def _moment(now: str | None):
    """--now as an aware datetime (None: the present), or exit 2."""
    if now is None:
        return None
    try:
        moment = datetime.fromisoformat(now)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        errors.print(
            f"[red]✗[/red] --now {now!r}: give an ISO 8601 instant with its offset, e.g. 2026-11-20T10:00:00+07:00"
        )
        raise typer.Exit(2)
    return moment


@kpi_app.command("list")
def kpi_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the declared KPIs: grain, unit of measure, direction, target and bounds."""
    kpis = _catalog().kpis.values()
    if as_json:
        print(json.dumps([k.model_dump(mode="json", by_alias=True) for k in kpis], ensure_ascii=False, indent=1))
        return
    table = Table(
        "KPI", wording.text("cli.column.name_vi"), "owner", "grain", "unit", "better", "target", "green", "amber"
    )
    for k in kpis:
        target = f"{k.target:g}" if k.target is not None else ("per period" if k.target_sql else "—")
        rel = "× target" if k.thresholds.relative_to_target else ""
        table.add_row(
            k.id,
            k.name.vi,
            k.owner,
            k.grain.period,
            k.unit_of_measure,
            "↑" if k.direction == "higher_is_better" else "↓",
            target,
            f"{k.thresholds.green:g}{rel}",
            f"{k.thresholds.amber:g}{rel}",
        )
    console.print(table)


@kpi_app.command("compute")
def kpi_compute(
    period: Annotated[
        str | None, typer.Option(help="Only this period (2026-10, 2026-Q4…); default: each KPI's recent history.")
    ] = None,
    kpi: Annotated[list[str] | None, typer.Option("--kpi", help="Only these KPIs (and those they build on).")] = None,
    now: Annotated[str | None, typer.Option(help="Compute as of this instant (ISO 8601 with offset).")] = None,
    full: Annotated[
        bool | None,
        typer.Option(
            "--full/--incremental",
            help="Every value (--full), or only those the loads since made out of date (--incremental); "
            "default: incremental unless no full computation ran within the hour, or --now is given.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Refresh the deadline marts, compute the KPIs into marts.kpi_values, print the province's status."""
    from zoneinfo import ZoneInfo

    from pipelines import jobs
    from pipelines.kpi.present import format_value, period_text, status_style, status_text
    from pipelines.warehouse import connect

    catalog, moment = _catalog(), _moment(now)
    try:
        with connect() as con:
            run = jobs.kpis(con, catalog, moment, period, kpi, full)
    except (KeyError, ValueError) as exc:
        errors.print(f"[red]✗[/red] {exc.args[0] if exc.args else exc}", highlight=False)
        raise typer.Exit(2) from None
    values = run.values
    if as_json:
        print(
            json.dumps(
                {
                    "rows": values.height,
                    "incremental": run.incremental,
                    "skipped": run.skipped,
                    "values": values.to_dicts() if not values.is_empty() else [],
                },
                ensure_ascii=False,
                indent=1,
                default=str,
            )
        )
        return
    province = catalog.org_units.province
    table = Table(
        "KPI",
        wording.bilingual("cli.column.period"),
        wording.bilingual("cli.column.value"),
        wording.bilingual("cli.column.target"),
        wording.bilingual("cli.column.status"),
        wording.bilingual("cli.column.units_red"),
        "s",
        title=f"KPI — {province} (marts.kpi_values: {values.height} rows)",
    )
    for kpi_id, seconds in run.seconds.items():
        k = catalog.kpis[kpi_id]
        rows = values.filter(values["kpi_id"] == kpi_id)
        done = rows.filter(rows["period_state"] == "complete")  # the latest complete period computed, as shown
        shown = (done if not done.is_empty() else rows)["period"].max()
        last = rows.filter(rows["period"] == shown)
        mine = last.filter(last["unit_code"] == province).to_dicts()
        row: dict[str, Any] = mine[0] if mine else {"period": shown, "value": None, "target": None, "status": "no_data"}
        red = last.filter(last["status"] == "red").height
        style = status_style(row["status"])
        if row.get("period_state") == "running":
            row["to_date"] = row["computed_at"].astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date()
        table.add_row(
            kpi_id,
            period_text(row),
            format_value(k, row["value"]),
            format_value(k, row["target"]),
            f"[{style}]{status_text(row['status'])}[/{style}]",
            str(red),
            f"{seconds:.2f}",
        )
    console.print(table)
    for kpi_id, why in run.skipped.items():
        console.print(f"[dim]· {kpi_id} not computed: {why}[/dim]")


@report_app.command("monthly")
def report_monthly(
    period: Annotated[
        str | None,
        typer.Option("--period", "-p", help="The month (2026-11); default: the latest month that has ended."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder for the files (default: $IOC_HOME/reports).")
    ] = None,
    now: Annotated[str | None, typer.Option(help="Issue as of this instant (ISO 8601 with offset).")] = None,
) -> None:
    """The month's briefing for the leaders, in Vietnamese: a PDF laid out as an administrative report and an
    XLSX workbook (one sheet per section). Its number and date are kept: writing it again gives the same."""
    from pipelines.briefing.content import latest_complete_month, monthly
    from pipelines.briefing.files import write_files
    from pipelines.settings import paths
    from pipelines.warehouse import connect

    catalog, moment = _catalog(), _moment(now)
    try:
        with connect() as con:
            briefing = monthly(con, catalog, period or latest_complete_month(moment), moment)
        written = write_files(briefing, out or paths().home / "reports")
    except (ValueError, FileNotFoundError) as exc:
        errors.print(f"[red]✗[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    said = wording.text(
        "cli.report.written",
        reference=briefing.reference,
        month=briefing.month_words,
        red=sum(k.status == "red" for k in briefing.kpis),
        reports=len(briefing.reports),
        tasks=len(briefing.tasks),
    )
    console.print(f"✓ {said}")
    for path in written.values():
        console.print(f"  {path}")


@kpi_app.command("explain")
def kpi_explain(
    kpi: Annotated[str, typer.Argument(help="A KPI id.")],
    unit: Annotated[
        str | None, typer.Option("--unit", "-u", help="An organisation unit (default: the province).")
    ] = None,
    period: Annotated[
        str | None,
        typer.Option(
            "--period", "-p", help="A period key such as 2026-11 (default: the latest complete one, as shown)."
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Records to print.")] = 20,
    csv_to: Annotated[
        str | None, typer.Option("--csv", help="Write every record as CSV to this file ('-': standard output).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The records behind a KPI value — those that keep it off target first — with their lineage."""
    from pipelines.kpi.explain import MAX_PAGE_SIZE, explain, write_csv
    from pipelines.kpi.present import format_value, status_style, status_text
    from pipelines.warehouse import connect

    catalog = _catalog()
    unit = unit or catalog.org_units.province
    if kpi not in catalog.kpis:
        errors.print(f"[red]✗[/red] unknown KPI {kpi!r}; declared KPIs: {', '.join(sorted(catalog.kpis))}")
        raise typer.Exit(2)
    if catalog.org_units.get(unit) is None:
        errors.print(f"[red]✗[/red] unknown organisation unit {unit!r} (see schemas/org_units.yaml)")
        raise typer.Exit(2)
    try:
        with connect() as con:
            e = explain(con, catalog, kpi, unit, period, page_size=MAX_PAGE_SIZE if csv_to else max(1, limit))
    except (LookupError, ValueError) as exc:
        errors.print(f"[red]✗[/red] {exc.args[0] if exc.args else exc}")
        raise typer.Exit(1) from None
    if csv_to:
        out = sys.stdout if csv_to == "-" else open(csv_to, "w", encoding="utf-8-sig", newline="")
        try:
            written = write_csv(e, out)
        finally:
            if out is not sys.stdout:
                out.close()
        if csv_to != "-":
            console.print(f"✓ {written} records → {csv_to}")
        return
    if as_json:
        print(json.dumps(e.to_dict(), ensure_ascii=False, indent=1, default=str))
        return
    k = catalog.kpis[kpi]
    v = e.value or {}
    style = status_style(v.get("status"))
    console.print(
        f"[bold]{k.id}[/bold] — {k.name.vi} / {k.name.en} · {unit} · {e.period}: "
        f"{format_value(k, v.get('value'))} [{style}]{status_text(v.get('status'))}[/{style}] "
        f"({wording.bilingual('cli.explain.computed_at')} {e.as_of:%Y-%m-%d %H:%M} UTC)"
    )
    for role, part in [("", e)] if not e.inputs else list(e.inputs.items()):
        if role:
            console.print(
                f"\n[bold]{role}[/bold]: {part.kpi_id} = {format_value(catalog.kpis[part.kpi_id], (part.value or {}).get('value'))}"
            )
        if part.unavailable and not part.inputs:
            console.print(f"[yellow]{part.unavailable}[/yellow]")
            continue
        console.print(
            f"{part.records_total} {wording.bilingual('cli.explain.records')}, {part.against_total} "
            f"{wording.bilingual('cli.explain.against')}; {wording.bilingual('cli.explain.numerator')} "
            f"{part.numerator}, {wording.bilingual('cli.explain.denominator')} {part.denominator}"
        )
        impact = part.impact_name or {"vi": "", "en": ""}
        table = Table(
            wording.bilingual("cli.column.unit"),
            f"{impact['vi']} / {impact['en']}",
            wording.bilingual("cli.column.numerator"),
            wording.bilingual("cli.column.denominator"),
            wording.bilingual("cli.column.record"),
            wording.bilingual("cli.column.lineage"),
        )
        for r in part.records:
            said = ", ".join(f"{name}={value}" for name, value in list(r["fields"].items())[:4])
            lin = r["lineage"]
            where = " ".join(
                str(x)
                for x in (
                    lin["feed"],
                    lin.get("file") or lin["batch_id"],
                    f"row {lin['source_row']}" if lin["source_row"] is not None else None,
                    f"cell {lin['cell']}" if lin.get("cell") else None,
                )
                if x
            )
            table.add_row(
                ("✖ " if r["against"] else "  ") + r["unit_code"],
                "" if r["impact"] is None else f"{r['impact']:,.2f}",
                _number(r["numerator"]),
                _number(r["denominator"]),
                said,
                where,
            )
        console.print(table)
        if part.records_total > len(part.records):
            console.print(f"[dim]… {part.records_total - len(part.records)} more: --limit, or --csv FILE for all[/dim]")


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:,.6g}"


@kpi_app.command("show")
def kpi_show(
    kpi: Annotated[
        str | None, typer.Argument(help="A KPI id: its units for the period shown (or a unit's trend with --unit).")
    ] = None,
    unit: Annotated[
        str | None, typer.Option("--unit", "-u", help="An organisation unit (default: the province).")
    ] = None,
    period: Annotated[
        str | None,
        typer.Option(
            "--period",
            "-p",
            help="A period key (2026-12): each KPI's period containing it, complete or still running "
            "(labelled to date, not judged). Default: each KPI's latest complete period.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Show the KPIs as they were reported at that moment: a date (its end, Vietnam time) or "
            "an ISO date and time. Needs the DuckLake warehouse (IOC_WAREHOUSE=ducklake).",
        ),
    ] = None,
) -> None:
    """Show KPI values with their status: every KPI for a unit, a KPI across units, or a unit's trend. Each KPI
    shows its latest complete period; a period still running only with --period (or in a trend), labelled
    "đến ngày DD/MM / to date DD/MM" and not judged unless the KPI declares judge_running."""
    from pipelines.kpi.present import (
        STATUS_ORDER,
        as_of_moment,
        format_value,
        history,
        in_period,
        latest,
        period_text,
        running,
        status_style,
        status_text,
    )
    from pipelines.warehouse import NoTimeTravel, connect, table_exists

    catalog = _catalog()
    if kpi is not None and kpi not in catalog.kpis:
        errors.print(f"[red]✗[/red] unknown KPI {kpi!r}; declared KPIs: {', '.join(sorted(catalog.kpis))}")
        raise typer.Exit(2)
    if unit is not None and catalog.org_units.get(unit) is None:
        errors.print(f"[red]✗[/red] unknown organisation unit {unit!r} (see schemas/org_units.yaml)")
        raise typer.Exit(2)
    try:
        moment = as_of_moment(as_of) if as_of else None
    except ValueError as exc:
        errors.print(f"[red]✗[/red] --as-of {as_of!r}: {exc}")
        raise typer.Exit(2) from None
    pending = None  # the periods still running beside those shown: a hint
    try:
        with connect(as_of=moment) as con:
            if not table_exists(con, "marts", "kpi_values"):
                errors.print(
                    "[red]✗[/red] no KPI has been computed yet"
                    + (f" as of {as_of}" if as_of else "")
                    + ": run `ioc kpi compute`"
                )
                raise typer.Exit(1)
            if kpi and unit and not period:
                frame, mode = history(con, kpi, unit), "trend"
            elif period:
                frame = in_period(con, catalog.kpis, period, kpi, None if kpi else unit or catalog.org_units.province)
                mode = "units" if kpi else "kpis"
                if kpi and unit:
                    frame = frame.filter(frame["unit_code"] == unit)
            elif kpi:
                frame, mode = latest(con, kpi), "units"
                pending = running(con, kpi)
            else:
                frame, mode = latest(con, None, unit or catalog.org_units.province), "kpis"
                pending = running(con, None, unit or catalog.org_units.province)
    except NoTimeTravel as exc:
        errors.print(f"[red]✗[/red] --as-of {as_of}: {exc}")
        raise typer.Exit(2) from None
    except ValueError as exc:  # --period is not a period key
        errors.print(f"[red]✗[/red] --period {period!r}: {exc}")
        raise typer.Exit(2) from None
    rows = frame.to_dicts()
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=1, default=str))
        return
    if mode == "units":
        rows.sort(key=lambda r: (STATUS_ORDER.get(r["status"], 9), r["unit_code"]))
    names = {u.code: u.vi for u in catalog.org_units.units}
    first = "KPI" if mode == "kpis" else wording.bilingual("cli.column.unit")
    title = {
        "trend": f"{kpi} — {unit} {names.get(unit, '')}",
        "units": f"{kpi} — {catalog.kpis[kpi].name.vi} ({period_text(rows[0]) if rows else 'no data'})" if kpi else "",
        "kpis": f"{unit or catalog.org_units.province} — {names.get(unit or catalog.org_units.province, '')}",
    }[mode]
    table = Table(
        first,
        wording.bilingual("cli.column.period"),
        wording.bilingual("cli.column.value"),
        wording.bilingual("cli.column.target"),
        wording.bilingual("cli.column.status"),
        wording.bilingual("cli.column.previous"),
        wording.bilingual("cli.column.streak"),
        title=title,
    )
    for r in rows:
        k = catalog.kpis.get(r["kpi_id"])
        if k is None:  # a KPI no longer declared
            continue
        head = {
            "trend": r["unit_code"],
            "units": f"{r['unit_code']} — {names.get(r['unit_code'], '')}",
            "kpis": f"{k.id} — {k.name.vi}",
        }[mode]
        style = status_style(r["status"])
        flag = (" ⚑" if r["escalated"] else "") + (" ⚠" if r.get("inputs_degraded") else "")
        table.add_row(
            head,
            period_text(r),
            format_value(k, r["value"]),
            format_value(k, r["target"]),
            f"[{style}]{status_text(r['status'])}{flag}[/{style}]",
            f"{format_value(k, r['previous_value'])} {status_text(r['previous_status']).split()[0] if r['previous_status'] else ''}",
            str(r["streak"]),
        )
    console.print(table if rows else "no KPI values for that selection")
    if pending is not None and not pending.is_empty():
        keys = sorted(set(pending["period"].to_list()))
        console.print(
            f"[dim]◌ {wording.bilingual('cli.kpi.running_hint')}: {', '.join(keys)} "
            f"— `ioc kpi show{' ' + kpi if kpi else ''} --period {keys[-1]}`[/dim]",
            highlight=False,
        )


@alerts_app.command("generate")
def alerts_generate(
    check: Annotated[
        bool, typer.Option("--check", help="Only say whether the committed rules are up to date (exit 1 if not).")
    ] = False,
) -> None:
    """Write alerts/rules/ioc.rules.yml from the declarations (thresholds are never typed twice)."""
    from pipelines.alerting.rules import render_rules, rules_file
    from pipelines.settings import REPO_ROOT

    target, text = rules_file(REPO_ROOT), render_rules(_catalog())
    current = target.read_text(encoding="utf-8") if target.exists() else None
    if check:
        if current != text:
            errors.print(f"[red]✗[/red] {target} is not what the declarations give: run `ioc alerts generate`")
            raise typer.Exit(1)
        console.print(f"[green]✓[/green] {target} is up to date")
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    console.print(f"wrote {target}", highlight=False)


@alerts_app.command("config")
def alerts_config(
    which: Annotated[str, typer.Argument(help="alertmanager or prometheus")],
    out: Annotated[Path | None, typer.Option(help="Write here instead of printing.")] = None,
) -> None:
    """The Alertmanager or Prometheus configuration, with its placeholders filled from the environment."""
    from pipelines.alerting.config import TEMPLATES, render, write
    from pipelines.text import MissingEnvironmentVariable

    if which not in TEMPLATES:
        errors.print(f"[red]✗[/red] {which!r}: one of {', '.join(TEMPLATES)}")
        raise typer.Exit(2)
    try:
        if out:
            write(which, out)
        else:
            print(render(which), end="")
    except MissingEnvironmentVariable as exc:
        errors.print(f"[red]✗[/red] {exc}")
        raise typer.Exit(1) from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 9108,
    units: Annotated[
        str | None,
        typer.Option(
            "--units",
            help="Serve on /metrics only this unit's subtree (e.g. a province's code): one exporter per "
            "province at national scale.",
        ),
    ] = None,
) -> None:
    """Serve the operations-centre wall (/ and /api/), /metrics (Prometheus) and /healthz; keeps answering
    while pipelines write the warehouse."""
    import uvicorn

    from pipelines.serve.app import create_app
    from pipelines.snapshots.refresh import Refresher

    try:
        application = create_app(units=units, beside=[Refresher()])
    except ValueError as exc:
        errors.print(f"[red]✗[/red] --units: {exc}")
        raise typer.Exit(2) from None
    console.print(
        f"IOC wall on http://{host}:{port}/ , Prometheus metrics on http://{host}:{port}/metrics"
        + (f" (units under {units})" if units else ""),
        highlight=False,
    )
    uvicorn.run(application, host=host, port=port, log_level="warning")


@app.command("validation-service")
def validation_service(
    socket_path: Annotated[
        Path | None,
        typer.Option(
            "--socket", help="Where to listen (default: $IOC_VALIDATION_SOCKET, else this $IOC_HOME's socket)."
        ),
    ] = None,
) -> None:
    """Keep Great Expectations warm for every load of this $IOC_HOME: each `ioc ingest`, DAG task or submission
    connects instead of importing GE itself (seconds). `ioc up` starts it; loads work without it, slower."""
    from pipelines.settings import validation_socket  # lazy: a command may import its own stage
    from pipelines.validate.service import serve as serve_validation

    path = socket_path or validation_socket()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # (serve() refuses one that is not private)
    runner = warm_runs.start(warm_runs.socket_for(path), warm_run, prepare_warm_runs)  # forked before GE is imported
    try:
        serve_validation(path)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(runner, signal.SIGTERM)


# What a warm run of `ioc ingest` uses, imported once by the warm runner (1.3 s a fresh process paid, measured).
WARM_MODULES = (
    "pipelines.ingest",
    "pipelines.extract.file_drop",
    "pipelines.extract.http_json",
    "pipelines.extract.postgres",
    "pyarrow.parquet",
    "duckdb",
    "psycopg",  # DuckLake's locks, in the catalog's PostgreSQL
    "pandas",  # DuckDB imports it at a statement's first parameter
    "holidays.countries",  # the working-day calendar's, every country's
)


def prepare_warm_runs() -> None:
    """What the warm runner does once for every run it forks: WARM_MODULES imported, the working-day table built,
    the declarations read."""
    from pipelines.declarations.loading import catalog  # lazy: the declarations only where they are read

    for module in WARM_MODULES:
        importlib.import_module(module)
    workdays.warm()
    with contextlib.suppress(Exception):  # (a declaration in error is said by the run that reads it)
        catalog()  # read again by a run only if a file of it changed


def warm_run(argv: list[str]) -> None:
    """`ioc argv` in a child of the warm runner, on the caller's streams (pipelines.warm_runs); exits."""
    global console, errors
    console = Console(width=None if sys.stdout.isatty() else 240, soft_wrap=True)
    errors = Console(stderr=True, width=None if sys.stderr.isatty() else 240, soft_wrap=True)
    sys.argv = ["ioc", *argv]
    main()


@app.command()
def simulate(
    port: Annotated[int, typer.Option(help="Port of the department APIs on 127.0.0.1.")] = 8765,
    seed: Annotated[int, typer.Option(help="Seed of the simulated world.")] = 42,
    months: Annotated[int, typer.Option(help="Months of history.")] = 6,
    fault_rate: Annotated[float, typer.Option(help="Share of API requests answered 429 or 500.")] = 0.02,
    serve: Annotated[bool, typer.Option(help="Keep serving the APIs until interrupted.")] = True,
) -> None:
    """Play the departments: serve their APIs, drop their report files, fill the finance database."""
    import os

    from pipelines.runtime import token_envs
    from pipelines.settings import paths
    from simulator.app import run

    unset = [name for name in token_envs() if not os.environ.get(name)]
    if serve and unset:
        errors.print(
            f"[yellow]![/yellow] {', '.join(unset)} not set: those APIs will refuse every request (401). "
            "Export the same values here and where `ioc ingest` runs.",
            highlight=False,
        )

    run(paths().home, port=port, seed=seed, serve=serve, fault_rate=fault_rate, months=months)


@app.command()
def up() -> None:
    """Start the stack in the background: the simulator, `ioc serve`, and Airflow (standalone)."""
    from pipelines.runtime import up as start

    try:
        started = start()
    except RuntimeError as exc:  # a service that would not start: its name and its log
        errors.print(f"[red]✗[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
    for name, url in started.items():
        console.print(f"  {name:<22} {url}", highlight=False)


@app.command()
def down() -> None:
    """Stop everything `ioc up` (or `make demo`) started, worker processes included."""
    from pipelines.runtime import down as stop

    if not stop():
        console.print("nothing was running")


@app.command()
def demo() -> None:
    """The demo: start the simulator, run every feed's DAG under Airflow, report what landed where."""
    from pipelines.demo import run_demo

    sys.exit(run_demo())
