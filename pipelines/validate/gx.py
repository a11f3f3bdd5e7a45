"""The Great Expectations project under $IOC_HOME/gx: a rows and a columns suite per feed (regenerated
from the declarations at every run), and their checkpoints.

A batch's staged rows are validated through GE's SQL path (duckdb-engine, with the adaptations of
gx_duckdb), on a view per feed over their Parquet files in a DuckDB database of its own
($IOC_HOME/staging/validate.duckdb), once per batch whatever its size; the columns a source sent are
a small pandas frame. DECIMAL never reaches GE (contract numbers are DOUBLE or BIGINT). Only the
worker process (gx_worker) uses this module.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pipelines.declarations.models import Feed
from pipelines.settings import paths
from pipelines.validate.gx_duckdb import adapt
from pipelines.validate.gx_templates import cache_compiled_templates
from pipelines.validate.suite import build_suites, suite_name

DATASOURCE = "ioc"  # pandas frames (the columns a source sent)
STAGING = "ioc_staging"  # the staged rows, in DuckDB


@dataclass
class ExpectationOutcome:
    """The part of one expectation's result the platform keeps."""

    check_id: str
    success: bool
    unexpected_count: int | None
    unexpected_percent: float | None
    unexpected_values: list
    observed: object
    error: str | None


@lru_cache(maxsize=4)
def _context(root: Path):
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx  # lazy: Great Expectations costs seconds: imported in its worker only
    from great_expectations.data_context.types.base import ProgressBarsConfig  # lazy: the same

    for name in ("great_expectations", "great_expectations._docs_decorators"):
        logging.getLogger(name).setLevel(logging.ERROR)
    context = gx.get_context(mode="file", project_root_dir=str(root))
    bars = context.variables.progress_bars
    enabled = bars.get("globally", True) if isinstance(bars, dict) else (bars is None or bars.globally)
    if enabled:
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        context.variables.save()
    adapt()
    cache_compiled_templates()
    # Added only where missing or different: adding one again replaces it, which drops the assets (and batch
    # definitions) registered under it, tests a SQL datasource's connection and rewrites the project's file; every
    # worker did so, then registered its feed's assets again (0.2 s of a small load, measured 4 December).
    existing = context.data_sources.all()
    if DATASOURCE not in existing:
        context.data_sources.add_or_update_pandas(name=DATASOURCE)
    staging = root / "staging" / "validate.duckdb"
    staging.parent.mkdir(parents=True, exist_ok=True)
    wanted = f"duckdb:///{staging}"
    if STAGING not in existing or str(getattr(existing[STAGING], "connection_string", "")) != wanted:
        context.data_sources.add_or_update_sql(name=STAGING, connection_string=wanted)
    return context


def staging_connection():
    """A DBAPI connection to the staging database from GE's own engine (its .driver_connection is the DuckDB
    connection): DuckDB opens a file once per process, with one configuration, so the view GE reads is
    created through the same engine. Close it when done."""
    return context().data_sources.get(STAGING).get_engine().raw_connection()


def release_staging() -> None:
    """Close every pooled connection to the staging database, so that the file is free for the next process
    that loads (a process keeps it open otherwise, and DuckDB lets one process open a file)."""
    datasource = context().data_sources.get(STAGING)
    datasource.get_engine().dispose()  # the one staging_connection() writes through
    datasource.get_execution_engine().engine.dispose()  # GE validates through an engine of its own


def context():
    """The GE file context of this $IOC_HOME (created on first use)."""
    return _context(paths().home)


_checkpoints: dict[tuple[Path, str, str], object] = {}


def checkpoint(feed: Feed, frame: str):
    """The feed's checkpoint for one frame, with its suite compiled from the declarations, registered
    once per process (the declarations do not change while a process runs)."""
    key = (paths().home, feed.id, frame)
    if key not in _checkpoints:
        _checkpoints[key] = _register_checkpoint(feed, frame, build_suites(feed)[frame])
    return _checkpoints[key]


def _register_checkpoint(feed: Feed, frame: str, suite):
    import great_expectations as gx  # lazy: Great Expectations costs seconds: imported in its worker only

    ctx = context()
    staged = frame == "rows"
    datasource = ctx.data_sources.get(STAGING if staged else DATASOURCE)
    asset_name = suite_name(feed.id, frame)  # asset, validation definition and checkpoint share the name
    try:
        asset = datasource.get_asset(asset_name)
    except LookupError:
        asset = (
            datasource.add_table_asset(name=asset_name, table_name=feed.id)
            if staged
            else datasource.add_dataframe_asset(name=asset_name)
        )
    try:
        batch_definition = asset.get_batch_definition("batch")
    except (KeyError, LookupError):
        batch_definition = (
            asset.add_batch_definition_whole_table("batch")
            if staged
            else asset.add_batch_definition_whole_dataframe("batch")
        )
    # Counts, no examples: the failing rows themselves are found by each check's predicate (suite.failing), a
    # duplicate key's rows by the load's own query (validate/batch.py, _mark_duplicates), and kept in quarantine
    # with their records. GE's examples cost a query per expectation that scans the whole batch when nothing fails
    # (a LIMIT that is never reached): 2 s of a 10M-row load, 1.6 s of it the compound key's join (measured
    # 4 December); with none asked (LIMIT 0) DuckDB answers at once.
    result_format = (
        {"result_format": "SUMMARY", "partial_unexpected_count": 0} if staged else {"result_format": "COMPLETE"}
    )
    stored = _stored_checkpoint(asset_name, batch_definition, suite, result_format)
    if stored is not None:
        return stored
    suite = ctx.suites.add_or_update(suite)
    definition = ctx.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=asset_name, data=batch_definition, suite=suite)
    )
    # No UpdateDataDocsAction: it rebuilds the site per run; build_data_docs() does it once per load.
    return ctx.checkpoints.add_or_update(
        gx.Checkpoint(name=asset_name, validation_definitions=[definition], result_format=result_format, actions=[])
    )


def _stored_checkpoint(name: str, batch_definition, suite, result_format: dict):
    """The checkpoint stored under `name` where it is the one _register_checkpoint() would store (the same
    batch definition, suite and result format, no actions), else None. Reading it costs 2 ms; registering it
    again cost 50 ms a frame (GE writes the suite, the validation definition and the checkpoint, each compared
    first), in every worker."""
    from great_expectations.exceptions import DataContextError  # lazy: GE, in its worker only

    try:
        stored = context().checkpoints.get(name)
    except (DataContextError, LookupError, ValueError):  # none, or naming what is no longer there (ValueError:
        return None  # pydantic's, for an asset or suite it cannot find)
    if len(stored.validation_definitions) != 1 or stored.actions:
        return None
    definition = stored.validation_definitions[0]
    if definition.batch_definition.id != batch_definition.id or _plain(stored.result_format) != _plain(result_format):
        return None
    return stored if _expectations(definition.suite) == _expectations(suite) else None


def _expectations(suite) -> tuple:
    """What a suite checks, its name and meta with it: its JSON without the ids GE gives a stored suite and its
    expectations."""
    plain = suite.to_json_dict()
    expectations = sorted(
        json.dumps({k: v for k, v in e.items() if k != "id"}, sort_keys=True, default=str)
        for e in plain.pop("expectations")
    )
    plain.pop("id", None)
    return json.dumps(plain, sort_keys=True, default=str), tuple(expectations)


def _plain(result_format) -> str:
    return json.dumps(result_format, sort_keys=True, default=lambda v: getattr(v, "value", str(v)))


def run_suite(feed: Feed, frame: str, parameters: dict, data=None) -> tuple[list[ExpectationOutcome], list]:
    """Run the feed's suite of one frame: "rows" on the feed's staged table, "columns" on `data` (a pandas
    frame); returns the outcomes and the identifiers of the stored results (for build_data_docs)."""
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,  # lazy: Great Expectations costs seconds: imported in its worker only
    )
    from great_expectations.exceptions.resource_freshness import ResourceFreshnessAggregateError  # lazy: the same

    with warnings.catch_warnings():
        # GE 1.24 reads tz-aware columns through a pandas API that pandas 3.1 deprecates; harmless here.
        warnings.filterwarnings("ignore", message=".*Series.values returning an ndarray.*")
        for attempt in (1, 2):
            try:
                result = checkpoint(feed, frame).run(
                    batch_parameters={"dataframe": data} if data is not None else None,
                    expectation_parameters=parameters,
                )
                break
            except ResourceFreshnessAggregateError:
                if attempt == 2:
                    raise
                # Another process of this $IOC_HOME saved the same suite since this one registered it (loads of
                # one feed side by side): register it again, then run.
                _checkpoints.pop((paths().home, feed.id, frame), None)
    outcomes, identifiers = [], [ExpectationSuiteIdentifier(name=suite_name(feed.id, frame))]
    for identifier, validation in result.run_results.items():
        identifiers.append(identifier)
        for r in validation.results:
            details = r.result or {}
            exception = r.exception_info or {}
            outcomes.append(
                ExpectationOutcome(
                    check_id=r.expectation_config.meta["check_id"],
                    success=bool(r.success),
                    unexpected_count=details.get("unexpected_count"),
                    unexpected_percent=details.get("unexpected_percent"),
                    unexpected_values=list(
                        details.get("unexpected_list") or details.get("partial_unexpected_list") or []
                    ),
                    observed=details.get("observed_value"),
                    error=exception.get("exception_message") if exception.get("raised_exception") else None,
                )
            )
    return outcomes, identifiers


def build_data_docs(identifiers: list) -> None:
    """Render the Data Docs pages of these results and suites, and the index, once."""
    if identifiers:
        context().build_data_docs(resource_identifiers=identifiers, build_index=True)


def data_docs_index() -> Path:
    """The Data Docs home page (built by the checkpoints' UpdateDataDocsAction)."""
    return paths().home / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
