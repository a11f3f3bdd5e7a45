"""Great Expectations in a process of its own, started when a load starts.

Importing GE costs seconds of CPU; in its own process that import runs on the other core while the
load reads, conforms and stages its first chunks, instead of before them. The worker answers one
request at a time over a pipe (pickled): validate a batch's staged rows (a view over the staged
Parquet files, created in the staging database GE reads through its SQL path), validate the columns a
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

    def start(self) -> None:
        """Start the worker (it imports GE at once) unless it runs already."""
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pipelines.validate.gx_worker"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, env=os.environ.copy())

    def call(self, function: str, *args):
        with self.lock:
            self.start()
            env = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIXES)}
            try:
                pickle.dump((function, env, args), self.process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                self.process.stdin.flush()
                status, value = pickle.load(self.process.stdout)
            except (EOFError, BrokenPipeError, pickle.UnpicklingError) as exc:
                self.close()
                raise GreatExpectationsFailed(f"the Great Expectations worker stopped ({exc!r}); "
                                              "its error, if any, is in this process's stderr") from None
            if status == "error":
                raise GreatExpectationsFailed(value)
            return value

    def close(self) -> None:
        process, self.process = self.process, None
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

def validate_rows(feed, view_sql: str, parameters: dict):
    """The rows suite on the batch's staged rows: `view_sql` selects them (from their Parquet files)."""
    from pipelines.load.warehouse import quote
    from pipelines.validate import gx

    staging = gx.staging_connection()
    try:
        staging.driver_connection.execute(f"CREATE OR REPLACE VIEW {quote(feed.id)} AS {view_sql}")
    finally:
        staging.close()
    try:
        return gx.run_suite(feed, "rows", parameters)
    finally:
        gx.release_staging()


def validate_columns(feed, parameters: dict, columns: list[str]):
    """The columns suite on the columns the source sent."""
    import pandas as pd

    from pipelines.validate import gx

    return gx.run_suite(feed, "columns", parameters, pd.DataFrame({"column": pd.Series(columns, dtype=object)}))


def build_data_docs(identifiers: list) -> None:
    from pipelines.validate import gx

    gx.build_data_docs(identifiers)


FUNCTIONS = {f.__name__: f for f in (validate_rows, validate_columns, build_data_docs)}


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
