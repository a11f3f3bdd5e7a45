"""The validation service: Great Expectations imported once, kept warm for every process of the stack.

A load's own GE worker makes it wait seconds before its first answer (GE's import), which a small report
pays whole. `ioc validation-service` (started by `ioc up`, before the Airflow workers that load) imports GE
once and listens on a Unix socket. Each process that loads connects; the service forks a worker for it,
GE already imported, which answers that process's requests as a worker of its own would
(gx_process.answer), then exits: nothing of one load's state or memory reaches the next, and loads that run
side by side each have a worker. Where the service is not running (or not answering), a load starts its
own worker: the cold path, slower, the same results.

The socket is private to the user who runs the service (a 0700 directory, a 0600 socket): requests are
pickled, so whoever may connect may run code as that user.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import socket
import struct
import sys
from pathlib import Path

from pipelines.private_socket import listen, private
from pipelines.settings import validation_socket as socket_path
from pipelines.validate import gx_process

log = logging.getLogger(__name__)

READY = b"R"  # what a forked worker sends first: the connection is served
CONNECT_TIMEOUT = 10.0  # seconds a load waits for the service's worker before starting its own


def connect(timeout: float = CONNECT_TIMEOUT) -> socket.socket | None:
    """A connection served by a worker of the service, or None where no service answers (or its socket is
    not in a directory private to this user)."""
    path = socket_path()
    if not private(path.parent):
        return None
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.settimeout(timeout)
        connection.connect(str(path))
        if connection.recv(1) != READY:
            raise ConnectionError("the service closed the connection")
        connection.settimeout(None)
        return connection
    except OSError as exc:
        connection.close()
        if not isinstance(exc, (FileNotFoundError, ConnectionRefusedError)):  # a service there, not answering
            log.warning("the validation service at %s did not answer (%s): this load starts its own worker", path, exc)
        return None


def running() -> bool:
    """Whether a service answers on this $IOC_HOME's socket."""
    connection = connect(timeout=2)
    if connection is None:
        return False
    connection.close()
    return True


def serve(path: Path | None = None) -> None:
    """Import GE, listen on the socket, fork a worker per connection; until SIGTERM or SIGINT."""
    path = path or socket_path()
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    _warm()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not private(path.parent):
        raise SystemExit(
            f"{path.parent} must be a directory of this user's only (mode 0700): the service's "
            "requests run as this user. Remove it, or set IOC_VALIDATION_SOCKET to a path in one."
        )
    if running_at(path):
        raise SystemExit(f"a validation service is already answering on {path}")
    listener = listen(path)  # (a socket left by a process that was killed replaced)
    # A signal may be taken by any of the threads GE's imports started (numpy's), not interrupting accept():
    # its handler also writes to this pipe, which the loop waits on beside the socket.
    wakeup, woken = os.pipe()
    os.set_blocking(woken, False)
    signal.set_wakeup_fd(woken)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # workers are reaped as they exit
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, _stop)
    print(f"validation service (pid {os.getpid()}) ready on {path}", flush=True)
    watched: list[socket.socket | int] = [listener, wakeup]
    try:
        while not _stopping:
            # A timeout too: a stop is seen within a second even if its signal's wakeup went astray (seen once in a
            # loaded test run: one SIGTERM left the service waiting here).
            ready, _, _ = select.select(watched, [], [], 1.0)
            if wakeup in ready:
                os.read(wakeup, 512)  # (the handler runs as select returns; SIGCHLD's only wake the loop)
            if listener not in ready:
                continue
            connection, _ = listener.accept()
            if os.fork() == 0:
                _worker(connection, listener, (wakeup, woken))
            connection.close()
    except SystemExit:
        pass
    finally:
        listener.close()
        path.unlink(missing_ok=True)


def running_at(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(2)
    try:
        probe.connect(str(path))
        return probe.recv(1) == READY
    except OSError:
        return False
    finally:
        probe.close()


_stopping = False


def _stop(number, frame) -> None:
    global _stopping
    _stopping = True
    raise SystemExit(0)


def _warm() -> None:
    """What every worker needs imported or compiled, once: GE, the parts of it and of our validation a worker uses,
    the Data Docs' templates.
    Not DuckDB, pyarrow or what imports them (the warehouse): imported here, before the fork, they made each
    worker 0.7–1.2 s slower on a 3,000-row form (measured, whole `ioc ingest` processes, run by run); a worker
    imports them itself in less."""
    import great_expectations  # noqa: F401  (seconds)
    import great_expectations.expectations  # noqa: F401
    import pandas  # noqa: F401
    import sqlalchemy  # noqa: F401

    from pipelines.validate import gx, gx_duckdb, gx_process, suite  # noqa: F401
    from pipelines.validate.gx_templates import compile_templates  # lazy: with GE, in the service only

    compile_templates()  # Data Docs' templates, compiled here once for every worker


def _worker(connection: socket.socket, listener: socket.socket, pipe: tuple[int, int]) -> None:
    """One connection's worker (a forked child): answer it, then exit, whatever happens (never back into the
    service's loop)."""
    try:
        for number in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
            signal.signal(number, signal.SIG_DFL)
        signal.set_wakeup_fd(-1)
        listener.close()
        for fd in pipe:
            os.close(fd)
        caller, uid, _ = struct.unpack(
            "3i", connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        )
        if uid != os.getuid():  # the socket's mode keeps others out; this says so if it ever did not
            print(f"refused a connection of uid {uid} (pid {caller})", flush=True)
            return
        connection.sendall(READY)
        requests, answers = connection.makefile("rb"), connection.makefile("wb")
        try:
            answered = gx_process.answer(requests, answers)
        finally:
            for end in (requests, answers):  # a load that handed its last request off has closed its end
                with contextlib.suppress(OSError):
                    end.close()
        print(f"worker {os.getpid()} answered {answered} requests of pid {caller}", flush=True)
    except BaseException:  # noqa: BLE001 (logged; the caller sees its connection close)
        log.exception("a validation worker failed")
    finally:
        with contextlib.suppress(OSError):
            connection.close()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
