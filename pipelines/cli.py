"""The `ioc` command: feeds, ingestion, batches, the department simulator and the demo."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
feeds_app = typer.Typer(no_args_is_help=True, help="Declared department feeds.")
app.add_typer(feeds_app, name="feeds")
# Piped output (logs, CI, scripts) is not cut at 80 columns.
console = Console(width=None if sys.stdout.isatty() else 240, soft_wrap=True)
errors = Console(stderr=True, width=None if sys.stderr.isatty() else 240, soft_wrap=True)

STATUS_STYLE = {"loaded": "green", "partial": "yellow", "quarantined": "red", "failed": "bold red",
                "duplicate": "dim", "empty": "dim", "already_loaded": "dim"}


def _catalog():
    from pipelines.declarations.loading import DeclarationError, catalog

    try:
        return catalog()
    except DeclarationError as exc:
        for problem in exc.problems:
            errors.print(f"[red]✗[/red] {problem}", highlight=False)
        raise typer.Exit(1) from None


@feeds_app.command("list")
def feeds_list(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """List every declared feed with its owner, source and schedule."""
    feeds = _catalog().feeds.values()
    if as_json:
        print(json.dumps([f.model_dump(mode="json", exclude={"columns"}) for f in feeds], ensure_ascii=False, indent=1))
        return
    table = Table("feed", "tên (vi)", "owner", "source", "schedule", "columns", "current data")
    for f in feeds:
        mode = f"latest by {f.load.version}" if f.load.version else (
            f"replace by {', '.join(f.load.replace)}" if f.load.replace else "latest batch per key")
        table.add_row(f.id, f.name.vi, f.owner, f.source.kind, f.schedule or "manual", str(len(f.columns)), mode)
    console.print(table)


@feeds_app.command("check")
def feeds_check() -> None:
    """Validate every declaration (org units and feeds); exit 1 listing each problem with file and key."""
    catalog = _catalog()
    console.print(f"[green]✓[/green] {len(catalog.org_units.units)} organisation units, "
                  f"{len(catalog.feeds)} feeds: all declarations are valid")


@app.command()
def ingest(
    feed: Annotated[str, typer.Argument(help="Feed id, e.g. dept_monthly_report.")],
    file: Annotated[Optional[list[Path]], typer.Option("--file", "-f", exists=True, dir_okay=False,
                                                       help="Ingest these files instead of the inbox.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run one feed once (extract, then load), without a scheduler; print rows received/loaded/quarantined."""
    from pipelines.ingest import ingest_feed

    catalog = _catalog()
    try:
        catalog.feed(feed)
    except KeyError as exc:
        errors.print(f"[red]✗[/red] {exc.args[0]}")
        raise typer.Exit(2) from None
    summaries, source_error = ingest_feed(feed, file)
    if as_json:
        print(json.dumps([s.__dict__ for s in summaries], ensure_ascii=False, indent=1, default=str))
    else:
        _print_summaries(summaries)
    if source_error is not None:
        errors.print(f"[red]✗[/red] {source_error}", highlight=False)
    if source_error is not None or any(s.status == "failed" for s in summaries):
        raise typer.Exit(1)


def _print_summaries(summaries) -> None:
    if not summaries:
        console.print("nothing new to load")
        return
    table = Table("batch", "source", "status", "received", "loaded", "quarantined")
    for s in summaries:
        style = STATUS_STYLE.get(s.status, "")
        table.add_row(s.batch_id, s.file_name or s.source_uri, f"[{style}]{s.status}[/{style}]",
                      str(s.rows_received), str(s.rows_loaded), str(s.rows_quarantined))
    console.print(table)
    for s in summaries:
        if s.error:
            console.print(f"[red]✗ {s.error}[/red]", highlight=False)
        for problem in s.problems:
            console.print(f"[yellow]• {problem}[/yellow]", highlight=False)
        if s.rows_quarantined > len(s.problems):
            console.print(f"  … {s.rows_quarantined} rows of batch {s.batch_id} are in ops.quarantine", highlight=False)


@app.command()
def batches(
    feed: Annotated[Optional[str], typer.Argument(help="Only this feed.")] = None,
    limit: Annotated[int, typer.Option(help="How many of the latest batches.")] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The latest batches from ops.batches: what each load received, loaded and quarantined."""
    from pipelines.load.warehouse import connect

    with connect() as con:
        rows = con.execute(
            "SELECT batch_id, feed, coalesce(file_name, source_uri), status, rows_received, rows_loaded, "
            "rows_quarantined, strftime(loaded_at AT TIME ZONE 'Asia/Ho_Chi_Minh', '%Y-%m-%d %H:%M:%S'), error "
            "FROM ops.batches WHERE ? IS NULL OR feed = ? ORDER BY loaded_at DESC, batch_id DESC LIMIT ?",
            [feed, feed, limit]).fetchall()
    keys = ["batch_id", "feed", "source", "status", "received", "loaded", "quarantined", "loaded_at", "error"]
    if as_json:
        print(json.dumps([dict(zip(keys, r)) for r in rows], ensure_ascii=False, indent=1))
        return
    table = Table(*keys[:-1])
    for r in rows:
        style = STATUS_STYLE.get(r[3], "")
        table.add_row(r[0], r[1], str(r[2])[-60:], f"[{style}]{r[3]}[/{style}]", *map(str, r[4:8]))
    console.print(table)


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

    from pipelines.demo import TOKEN_ENVS
    from pipelines.settings import paths
    from simulator.app import run

    unset = [name for name in TOKEN_ENVS if not os.environ.get(name)]
    if serve and unset:
        errors.print(f"[yellow]![/yellow] {', '.join(unset)} not set: those APIs will refuse every request (401). "
                     "Export the same values here and where `ioc ingest` runs.", highlight=False)

    run(paths().home, port=port, seed=seed, serve=serve, fault_rate=fault_rate, months=months)


@app.command()
def demo() -> None:
    """The demo: start the simulator, run every feed's DAG under Airflow, report what landed where."""
    from pipelines.demo import run_demo

    sys.exit(run_demo())
