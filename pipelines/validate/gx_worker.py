"""Great Expectations in a process of its own: the warm validation service's, or one started by the load.

Importing GE costs seconds of CPU. Where the validation service runs (`ioc up` starts it; see
validate/service.py), a load connects to it and is answered by a worker it forks, GE already imported;
where it does not, the load starts a worker of its own, whose import runs on the other core while the load
reads, conforms and stages its first chunks (the cold path). Either worker answers one request at a time
(pickled, gx_process.py): prepare GE for a feed (while the batch is read), validate a batch's staged rows (a view over
their Parquet files in the staging database GE reads through its SQL path), validate the columns a source
sent, build Data Docs. It exits when the process that started it lets it go or closes its end (also when
that process is killed), and is started again if it dies.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import socket
import subprocess
import sys
import threading
from typing import NoReturn

from pipelines.validate import service
from pipelines.validate.gx_process import ENV_PREFIXES


class GreatExpectationsFailed(RuntimeError):
    """The worker raised: its traceback is the message."""


class OwnWorker:
    """A worker process of this process's own (the cold path): it imports GE first."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pipelines.validate.gx_process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=os.environ.copy(),
        )
        assert self.process.stdin is not None and self.process.stdout is not None  # both are pipes
        self.requests, self.answers = self.process.stdin, self.process.stdout
        self.let_go_sent = False

    def alive(self) -> bool:
        return self.process.poll() is None

    def let_go(self) -> None:
        """No more requests: the worker answers what it has, then exits."""
        self.let_go_sent = True
        with contextlib.suppress(OSError):
            self.requests.close()

    def close(self) -> None:
        try:
            self.requests.close()
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
        self.answers.close()


class ServiceWorker:
    """A worker the validation service forked for this process, over its socket."""

    def __init__(self, connection: socket.socket) -> None:
        self.connection = connection
        self.requests, self.answers = connection.makefile("wb"), connection.makefile("rb")
        self.let_go_sent = False

    def alive(self) -> bool:
        return True  # a worker that died shows at the next request or answer

    def let_go(self) -> None:
        self.let_go_sent = True
        with contextlib.suppress(OSError):
            self.requests.close()
            self.connection.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        for end in (self.requests, self.answers, self.connection):
            with contextlib.suppress(OSError):
                end.close()


class GxWorker:
    def __init__(self) -> None:
        self.channel: OwnWorker | ServiceWorker | None = None
        self.lock = threading.Lock()
        self.pending = 0  # requests sent whose answers are not read yet

    def start(self) -> None:
        """Connect to the validation service, or start a worker of our own (it imports GE at once), unless
        one is in use already."""
        if self.channel is not None and self.channel.let_go_sent:
            self.close()  # let go by submit_last() in a load that then failed: its answer goes with it
        if self.channel is None or not self.channel.alive():
            connection = service.connect()
            self.channel = ServiceWorker(connection) if connection is not None else OwnWorker()

    def submit(self, function: str, *args) -> None:
        """Send a request without waiting for its answer (the worker works while the caller goes on);
        the next call() collects it, and raises if it failed."""
        with self.lock:
            self.start()
            assert self.channel is not None  # start() made one
            env = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIXES)}
            try:
                pickle.dump((function, env, args), self.channel.requests, protocol=pickle.HIGHEST_PROTOCOL)
                self.channel.requests.flush()
            except (BrokenPipeError, OSError) as exc:
                self._stopped(exc)
            self.pending += 1

    def submit_last(self, function: str, *args) -> None:
        """Send the last request of this load and let the worker go: it answers, then exits (its memory is
        given back while the caller goes on); collect() reads the answer, and the next request starts a
        new worker."""
        self.submit(function, *args)
        with self.lock:
            assert self.channel is not None  # the request was sent on it (or submit raised)
            self.channel.let_go()

    def call(self, function: str, *args):
        """Send a request and wait for its answer (after those of the requests submitted before it)."""
        self.submit(function, *args)
        return self.collect()

    def collect(self):
        """Wait for the answers of every request submitted so far: the last one's value; raises if any failed."""
        with self.lock:
            failures, value = [], None
            while self.pending:
                assert self.channel is not None  # the pending requests were sent on it (close() clears them)
                try:
                    status, value = pickle.load(self.channel.answers)
                except (EOFError, OSError, pickle.UnpicklingError) as exc:
                    self._stopped(exc)
                self.pending -= 1
                if status == "error":
                    failures.append(value)
            if self.channel is not None and self.channel.let_go_sent:  # let go by submit_last()
                self.close()
            if failures:
                raise GreatExpectationsFailed(failures[0])
            return value

    def _stopped(self, exc: BaseException) -> NoReturn:
        self.close()
        raise GreatExpectationsFailed(
            f"the Great Expectations worker stopped ({exc!r}); "
            "its error, if any, is in this process's stderr "
            "(or the validation service's log)"
        ) from None

    def close(self) -> None:
        channel, self.channel, self.pending = self.channel, None, 0
        if channel is not None:
            channel.close()


_worker = GxWorker()
atexit.register(_worker.close)


def worker() -> GxWorker:
    """This process's worker (started on first use, or earlier by start())."""
    return _worker


def start() -> None:
    """Start importing GE now, in the background, for a validation that will come."""
    _worker.start()
