"""What a Great Expectations worker runs, in its own process (started by a load, or forked by the validation
service): it answers one pickled request at a time, in the caller's environment — prepare GE for a feed,
validate a batch's staged rows or the columns a source sent, build Data Docs — and sends back results in
builtin types only. The caller's side is gx_worker.py."""

from __future__ import annotations

import contextlib
import os
import pickle
import sys
import traceback

from filelock import FileLock

from pipelines.settings import paths
from pipelines.validate import gx
from pipelines.validate.suite import build_suites
from pipelines.warehouse import quote

ENV_PREFIXES = ("IOC_", "GX_")  # what a request carries of the caller's environment ($IOC_HOME and the like)


def prepare(feed) -> None:
    """The GE context and the feed's checkpoints, ready before the batch's rows are. Registering the rows'
    checkpoint needs a table of the feed's name in the staging database: a placeholder view stands there until
    validate_rows() puts the batch's own in its place (registering it then cost a small load 0.2 s of waiting)."""
    with _one_at_a_time():
        gx.context()
        gx.checkpoint(feed, "columns")
        staging = gx.staging_connection()
        try:
            _replace_view(staging.driver_connection, feed, "1 AS _placeholder")
        finally:
            staging.close()
        gx.checkpoint(feed, "rows")


STAGING_MEMORY_LIMIT = "256MB"  # DuckDB's memory for GE's queries on a batch (a large batch spills to disk)


def validate_rows(feed, rows_from: str, parameters: dict):
    """The rows suite on the batch's staged rows: `rows_from` is the SQL they are selected FROM (their
    Parquet files, and a WHERE). GE reads them through a view, in the staging database, of the columns the
    suite reads (measured, 1M tasks: 1.6 s, where copying them into a table first cost 2.0 s + 1.0 s)."""
    columns = ", ".join(quote(c) for c in _suite_columns(feed)) or "1 AS _row"
    with _one_at_a_time():
        return _validate_staged(feed, rows_from, parameters, columns)


@contextlib.contextmanager
def _one_at_a_time():
    """One process of this $IOC_HOME at a time writes GE's file context and uses its staging database (DuckDB
    opens a file in one process at a time): loads that run side by side (on DuckLake) take turns here, for
    the seconds GE's queries take. Whoever holds it closes the staging database before letting go (GE keeps
    the connections it opened, even those it opened only to test a datasource)."""

    directory = paths().home / "staging"
    directory.mkdir(parents=True, exist_ok=True)
    with FileLock(directory / "gx.lock"):
        try:
            yield
        finally:
            gx.release_staging()


def _validate_staged(feed, rows_from: str, parameters: dict, columns: str):

    staging = gx.staging_connection()
    try:
        duck = staging.driver_connection
        duck.execute(f"SET memory_limit = '{STAGING_MEMORY_LIMIT}'")  # GE's queries spill beyond it
        _replace_view(duck, feed, f"{columns} FROM {rows_from}")
    finally:
        staging.close()
    gx.checkpoint(feed, "rows")  # (registered by prepare(), unless asked without it)
    return _plain_results(*gx.run_suite(feed, "rows", parameters))


def _replace_view(duck, feed, select: str) -> None:
    """The view GE's rows suite reads, in the staging database: SELECT `select`."""
    if duck.execute(
        "SELECT 1 FROM information_schema.tables WHERE table_name = ? AND table_type = 'BASE TABLE'", [feed.id]
    ).fetchall():
        duck.execute(f"DROP TABLE {quote(feed.id)}")  # a staging table of an earlier version
    duck.execute(f"CREATE OR REPLACE VIEW {quote(feed.id)} AS SELECT {select}")


def _suite_columns(feed) -> tuple[str, ...]:
    return tuple(suite_columns(build_suites(feed)["rows"]))


def suite_columns(suite) -> list[str]:
    """The columns a suite's expectations read, in first-seen order."""
    seen: dict[str, None] = {}
    for expectation in suite.expectations:
        for name in ("column", "column_A", "column_B"):
            if isinstance(value := getattr(expectation, name, None), str):
                seen.setdefault(value)
        for value in getattr(expectation, "column_list", None) or []:
            seen.setdefault(value)
    return list(seen)


def validate_columns(feed, parameters: dict, columns: list[str]):
    """The columns suite on the columns the source sent."""
    import pandas as pd  # lazy: pandas (0.5 s and more) only for the columns suite, in GE's worker

    with _one_at_a_time():  # GE may open its staging datasource (to test it) whatever the suite reads
        return _plain_results(
            *gx.run_suite(feed, "columns", parameters, pd.DataFrame({"column": pd.Series(columns, dtype=object)}))
        )


def build_data_docs(identifiers: list) -> None:
    """Data Docs for the results and suites named as validate_*() named them."""
    from great_expectations.data_context.types import (
        resource_identifiers,  # lazy: Great Expectations costs seconds: main() imports it first, in the worker
    )

    with _one_at_a_time():
        gx.build_data_docs([getattr(resource_identifiers, kind).from_tuple(parts) for kind, parts in identifiers])


def _plain_results(outcomes: list, identifiers: list) -> tuple[list, list]:
    """Outcomes and identifiers in builtin types only: unpickling a GE object in the caller would import GE
    there (seconds), which is what this worker is for."""
    for outcome in outcomes:
        outcome.observed = _plain(outcome.observed)
        outcome.unexpected_values = [_plain(v) for v in outcome.unexpected_values]
    return outcomes, [(type(i).__name__, tuple(i.to_tuple())) for i in identifiers]


def _plain(value):
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


FUNCTIONS = {f.__name__: f for f in (prepare, validate_rows, validate_columns, build_data_docs)}


def answer(requests, answers) -> int:
    """Answer requests until the caller lets go (or closes its end), each in the caller's environment; the
    number answered."""
    answered = 0
    while True:
        try:
            function, env, args = pickle.load(requests)
        except (EOFError, OSError):  # the caller is done (or gone), every answer written
            return answered
        for name in [k for k in os.environ if k.startswith(ENV_PREFIXES)]:
            if name not in env:
                del os.environ[name]
        os.environ.update(env)
        failure = None
        try:
            reply = pickle.dumps(("ok", FUNCTIONS[function](*args)), protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException:  # noqa: BLE001 (the caller raises it)
            failure = traceback.format_exc()
            reply = pickle.dumps(("error", failure), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            answers.write(reply)
            answers.flush()
        except OSError:  # the caller is gone (or handed its last request off): a failure is said here, in the log
            if failure is not None:
                print(failure, file=sys.stderr, flush=True)
            return answered
        answered += 1


def main() -> None:
    answers = os.fdopen(os.dup(1), "wb")  # GE's own prints go to stderr, never into the answers
    os.dup2(2, 1)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations  # noqa: F401  (the slow import, done before the first request arrives)

    answer(sys.stdin.buffer, answers)
    with contextlib.suppress(OSError):
        answers.close()
    sys.stderr.flush()
    os._exit(0)  # leave without tearing GE's objects down (an orderly interpreter exit cost 1.3 s, which the
    # caller's exit waited for)


if __name__ == "__main__":
    main()
