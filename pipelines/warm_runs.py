"""Warm runs: a small `ioc ingest` without the seconds of start-up a fresh Python process pays.

A report of a hundred rows costs a load well under a second; a fresh `ioc ingest` process spent more than that
importing what the load uses (polars, pyarrow, DuckDB, the declarations' models, the working-day calendar, the
command line itself: 1.3 s measured, 3 December). Beside the validation service, a runner (a forked process of
its own, started by `ioc validation-service`, so by `ioc up`) imports all of that once and waits on a Unix
socket next to the service's. The `ioc` command hands it a command it can run warm (WARM_COMMANDS): its
arguments, working directory and environment, and its standard input, output and error themselves (passed
over the socket, SCM_RIGHTS). The runner forks a child that runs the command exactly as the process would
have, writing straight to the caller's terminal or pipes, and sends back its exit status (the child's own,
or 128 + the signal that ended it). The caller's process is only this module's client: nothing heavy to import.

Each run is a fresh fork: nothing of one run's state reaches the next, and runs side by side each have a child.
The child ends with its caller: a caller that is killed (or interrupted) closes its end, and the child is
terminated at once, as the process itself would have been. Where no runner answers (the service not started,
IOC_WARM_RUNS=0, or a socket not in a directory private to the user), the command runs in its own process,
as before: the same results, slower. The runner imports nothing of Great Expectations: the validation service's
workers, forked from a parent without DuckDB or pyarrow, answer its loads as they answer any other's.

The socket is private to the user (a 0700 directory, a 0600 socket), as the service's: whoever may connect
runs commands as this user.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import struct
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from pipelines.private_socket import listen, private

WARM_COMMANDS = frozenset({"ingest"})  # `ioc` commands the runner runs (what a scheduler or a script calls often)
_LENGTH = struct.Struct("!I")
_STATUS = struct.Struct("!i")
_PEER = struct.Struct("3i")
_MAX_REQUEST = 8 << 20  # arguments and environment, in bytes


def socket_for(validation_socket: Path) -> Path:
    """The runner's socket, beside the validation service's (in its private directory)."""
    return validation_socket.with_name(validation_socket.stem + "-runs.sock")


# The caller's side -------------------------------------------------------------------------------------------


def handed_over(argv: list[str], validation_socket: Path) -> int | None:
    """Run `ioc argv` in a warm child of the runner; its exit status, or None where no runner takes it (then the
    caller runs the command itself)."""
    if not argv or argv[0] not in WARM_COMMANDS or os.environ.get("IOC_WARM_RUNS", "1").strip() == "0":
        return None
    path = socket_for(validation_socket)
    if not private(path.parent):
        return None
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.settimeout(2.0)
        connection.connect(str(path))
        connection.settimeout(None)
        request = json.dumps({"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
        # The first bytes carry the caller's stdin, stdout and stderr; the rest follows.
        socket.send_fds(connection, [_LENGTH.pack(len(request))], [0, 1, 2])
        connection.sendall(request)
    except OSError:
        connection.close()
        return None  # no runner (or it went away before taking the command): the command runs here
    try:
        status = _receive(connection, _STATUS.size)
    except KeyboardInterrupt:  # the child is terminated as the caller's end closes
        return 130
    finally:
        connection.close()
    if status is None:
        print(
            "ioc: the warm runner ended without the command's exit status (see the validation service's log)",
            file=sys.stderr,
        )
        return 1
    return _STATUS.unpack(status)[0]


def _receive(connection: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


# The runner's side -------------------------------------------------------------------------------------------


def start(path: Path, run: Callable[[list[str]], None], prepare: Callable[[], None]) -> int:
    """Fork the runner (before the caller imports anything it should not inherit); its pid. It calls `prepare()`
    (what every run would import or build), listens on `path` (whose directory the caller made private), and runs
    `run(argv)` in a child per command, until it is terminated or its parent exits."""
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        try:
            _runner(path, run, prepare, parent)
        except BaseException:  # noqa: BLE001 (said in the service's log; loads then run cold)
            import traceback  # lazy: only when the runner fails

            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
    return pid


_stopping = False


def _stop(number, frame) -> None:
    global _stopping
    _stopping = True


def _runner(path: Path, run: Callable[[list[str]], None], prepare: Callable[[], None], parent: int) -> None:
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, _stop)
    # Children are reaped here, for their exit status, as soon as they end: SIGCHLD writes to this pipe, which the
    # loop waits on beside the socket (a caller waited up to the loop's timeout for its status, 0.1 s on average).
    wakeup, woken = os.pipe()
    os.set_blocking(woken, False)
    signal.set_wakeup_fd(woken)
    signal.signal(signal.SIGCHLD, _child_ended)
    prepare()
    listener = listen(path)  # (a socket left by a process that was killed replaced)
    print(f"warm runner (pid {os.getpid()}) ready on {path}", flush=True)
    children: dict[int, socket.socket] = {}
    watched: list[socket.socket | int] = [listener, wakeup]
    try:
        while not _stopping and os.getppid() == parent:
            ready, _, _ = select.select(watched, [], [], 0.2)  # (the timeout: to see the parent gone)
            if wakeup in ready:
                os.read(wakeup, 512)
            _reap(children)
            if listener in ready:
                connection, _ = listener.accept()
                pid = os.fork()
                if pid == 0:
                    _child(connection, listener, (wakeup, woken), run)
                children[pid] = connection
                caller = _PEER.unpack(connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEER.size))[0]
                print(f"warm run {pid} for pid {caller}", flush=True)
    finally:
        listener.close()
        path.unlink(missing_ok=True)
        for connection in children.values():  # runs in flight go on; their callers learn nothing more
            connection.close()


def _child_ended(number, frame) -> None:
    """SIGCHLD's handler: nothing to do but wake the loop (the signal's byte in the wakeup pipe)."""


def _reap(children: dict[int, socket.socket]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        connection = children.pop(pid, None)
        if connection is None:
            continue
        code = os.waitstatus_to_exitcode(status)
        print(f"warm run {pid} ended with {code}", flush=True)  # in the log before the caller has its status
        with contextlib.suppress(OSError):
            connection.sendall(_STATUS.pack(code if code >= 0 else 128 - code))
        connection.close()


def _child(
    connection: socket.socket, listener: socket.socket, pipe: tuple[int, int], run: Callable[[list[str]], None]
) -> None:
    """One command in a forked child: take the caller's streams, directory and environment, run it, exit (the
    runner sends the status). Never returns into the runner's loop."""
    try:
        listener.close()
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            signal.signal(number, signal.SIG_DFL)
        signal.set_wakeup_fd(-1)
        for fd in pipe:
            os.close(fd)
        caller, uid, _ = _PEER.unpack(connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEER.size))
        if uid != os.getuid():  # the socket's mode keeps others out; this says so if it ever did not
            print(f"refused a connection of uid {uid} (pid {caller})", flush=True)
            os._exit(1)
        head, fds, _, _ = socket.recv_fds(connection, _LENGTH.size, 3)
        if len(head) != _LENGTH.size or len(fds) != 3:
            os._exit(1)
        (length,) = _LENGTH.unpack(head)
        body = _receive(connection, length) if length <= _MAX_REQUEST else None
        if body is None:
            os._exit(1)
        request = json.loads(body)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 (the process's own streams)
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False, buffering=1 if os.isatty(1) else -1)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False, buffering=1)  # noqa: SIM115
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        threading.Thread(target=_end_with_caller, args=(connection,), daemon=True).start()
        run(request["argv"])  # exits the process itself (cli.main)
    except BaseException:  # noqa: BLE001
        import traceback  # lazy: only when a run fails outside the command

        traceback.print_exc()
    os._exit(1)


def _end_with_caller(connection: socket.socket) -> None:
    """Wait for the caller's end to close (it sends nothing after its request): then the caller is gone (killed,
    interrupted), and so is this run, as the process itself would have been."""
    with contextlib.suppress(OSError):
        connection.recv(1)
    os.kill(os.getpid(), signal.SIGTERM)
