"""Great Expectations in a process of its own, started when a load starts.

Importing GE costs seconds of CPU; in its own process that import runs on the other core while the
load reads, conforms and stages its first chunks, instead of before them. The worker answers one
request at a time over a pipe (pickled): validate a batch's staged rows (read from the staged
Parquet files into the staging database GE reads through its SQL path), validate the columns a
source sent, build Data Docs. It exits when the process that started it closes the pipe (also when
that process is killed), and is started again if it dies.
"""

from __future__ import annotations

import atexit
import os
import pickle
import subprocess
import sys
import threading
import traceback

ENV_PREFIXES = ("IOC_", "GX_")  # what a request carries of the caller's environment ($IOC_HOME and the like)


class GreatExpectationsFailed(RuntimeError):
    """The worker raised: its traceback is the message."""


class GxWorker:
    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.lock = threading.Lock()
        self.pending = 0  # requests sent whose answers are not read yet

    def start(self) -> None:
        """Start the worker (it imports GE at once) unless it runs already."""
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pipelines.validate.gx_worker"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, env=os.environ.copy())

    def submit(self, function: str, *args) -> None:
        """Send a request without waiting for its answer (the worker works while the caller goes on);
        the next call() collects it, and raises if it failed."""
        with self.lock:
            self.start()
            env = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIXES)}
            try:
                pickle.dump((function, env, args), self.process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                self.process.stdin.flush()
            except (BrokenPipeError, OSError) as exc:
                self._stopped(exc)
            self.pending += 1

    def call(self, function: str, *args):
        """Send a request and wait for its answer (after those of the requests submitted before it)."""
        self.submit(function, *args)
        with self.lock:
            failures, value = [], None
            while self.pending:
                try:
                    status, value = pickle.load(self.process.stdout)
                except (EOFError, pickle.UnpicklingError) as exc:
                    self._stopped(exc)
                self.pending -= 1
                if status == "error":
                    failures.append(value)
            if failures:
                raise GreatExpectationsFailed(failures[0])
            return value

    def _stopped(self, exc: BaseException):
        self.close()
        raise GreatExpectationsFailed(f"the Great Expectations worker stopped ({exc!r}); "
                                      "its error, if any, is in this process's stderr") from None

    def close(self) -> None:
        process, self.process, self.pending = self.process, None, 0
        if process is None:
            return
        try:
            process.stdin.close()
            process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
        process.stdout.close()


_worker = GxWorker()
atexit.register(_worker.close)


def worker() -> GxWorker:
    """This process's worker (started on first use, or earlier by start())."""
    return _worker


def start() -> None:
    """Start importing GE now, in the background, for a validation that will come."""
    _worker.start()


# What the worker runs (in the worker process).

STAGING_MEMORY_LIMIT = "256MB"  # the staging database's memory: beyond it, staged rows spill to disk


def prepare(feed) -> None:
    """The GE context and the feed's checkpoints, ready before the batch's rows are."""
    from pipelines.validate import gx

    gx.context()
    gx.checkpoint(feed, "columns")  # the rows' checkpoint needs their table: stage() registers it


def stage(feed, rows_from: str, first: bool) -> None:
    """Add one chunk's rows to the feed's table in the staging database: `rows_from` is the SQL they are
    selected FROM (a chunk's Parquet file, and a WHERE); only the columns the suite reads are kept. The
    staging connection stays open until validate_rows() or release()."""
    from pipelines.load.warehouse import quote

    columns = ", ".join(quote(c) for c in _suite_columns(feed)) or "1 AS _row"
    duck = _staging()
    if first:
        duck.execute(f"SET memory_limit = '{STAGING_MEMORY_LIMIT}'")
        duck.execute(f"DROP VIEW IF EXISTS {quote(feed.id)}")
        duck.execute(f"CREATE OR REPLACE TABLE {quote(feed.id)} AS SELECT {columns} FROM {rows_from}")
        from pipelines.validate import gx

        gx.checkpoint(feed, "rows")
    else:
        duck.execute(f"INSERT INTO {quote(feed.id)} SELECT {columns} FROM {rows_from}")


def validate_rows(feed, parameters: dict):
    """The rows suite on the rows stage() gathered; the staging table is emptied and the file released."""
    from pipelines.validate import gx

    try:
        return gx.run_suite(feed, "rows", parameters)
    finally:
        release(feed)


def release(feed) -> None:
    """Drop the feed's staged rows and let the staging database go (another process may need it)."""
    from pipelines.load.warehouse import quote
    from pipelines.validate import gx

    global _connection
    try:
        _staging().execute(f"DROP TABLE IF EXISTS {quote(feed.id)}")
    finally:
        if _connection is not None:
            _connection.close()
            _connection = None
        gx.release_staging()


_connection = None  # the staging connection stage() writes through, from GE's own engine


def _staging():
    global _connection
    if _connection is None:
        from pipelines.validate import gx

        _connection = gx.staging_connection()
    return _connection.driver_connection


def _suite_columns(feed) -> tuple[str, ...]:
    from pipelines.validate.suite import build_suites

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
    import pandas as pd

    from pipelines.validate import gx

    return gx.run_suite(feed, "columns", parameters, pd.DataFrame({"column": pd.Series(columns, dtype=object)}))


def build_data_docs(identifiers: list) -> None:
    from pipelines.validate import gx

    gx.build_data_docs(identifiers)


FUNCTIONS = {f.__name__: f for f in (prepare, stage, validate_rows, release, validate_columns, build_data_docs)}


def main() -> None:
    answers = os.fdopen(os.dup(1), "wb")  # GE's own prints go to stderr, never into the answers
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations  # noqa: F401  (the slow import, done before the first request arrives)

    while True:
        try:
            function, env, args = pickle.load(requests)
        except EOFError:
            return
        for name in [k for k in os.environ if k.startswith(ENV_PREFIXES)]:
            if name not in env:
                del os.environ[name]
        os.environ.update(env)
        try:
            answer = pickle.dumps(("ok", FUNCTIONS[function](*args)), protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException:  # noqa: BLE001 (the caller raises it)
            answer = pickle.dumps(("error", traceback.format_exc()), protocol=pickle.HIGHEST_PROTOCOL)
        answers.write(answer)
        answers.flush()


if __name__ == "__main__":
    main()
