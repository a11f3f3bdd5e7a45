"""The validation service (`ioc validation-service`): loads it serves get the cold path's results, side by side
each from a worker of its own; without it (never started, stopped, killed, or in a directory others can
read) a load starts its own worker and loads the same."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from pipelines.validate import service
from tests.conftest import VENV_BIN, ioc
from tests.stack import wait_until
from tests.helpers import ROWS, write_csv

FEED = "dept_monthly_report"
BAD_ROWS = [ROWS[0], ROWS[1][:4] + ["-3"] + ROWS[1][5:], ROWS[2]]  # a negative count: quarantined


@pytest.fixture
def socket_dir():
    directory = Path(tempfile.mkdtemp(prefix="ioc-v-"))  # short (a socket's path holds 107 bytes), mode 0700
    yield directory
    shutil.rmtree(directory, ignore_errors=True)  # (a runner still stopping removes its socket meanwhile)


def start_service(path: Path, log: Path) -> subprocess.Popen:
    process = subprocess.Popen([str(VENV_BIN / "ioc"), "validation-service", "--socket", str(path)],
                               stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    wait_until(lambda: process.poll() is not None or service.running_at(path), timeout=120, interval=0.2,
               what="the validation service's socket")
    assert process.poll() is None, log.read_text()
    return process


@pytest.fixture
def running_service(socket_dir, tmp_path, monkeypatch):
    path, log = socket_dir / "v.sock", tmp_path / "validation.log"
    process = start_service(path, log)
    monkeypatch.setenv("IOC_VALIDATION_SOCKET", str(path))
    yield process, path, log
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def ingest(home: Path, name: str, rows: list[list[str]], socket: Path, warm: bool = False, feed: str = FEED,
           **env: str) -> subprocess.Popen:
    """`ioc ingest` of one report file in `home`, against the service at `socket`, started (not waited for): in
    its own process (the service's GE workers tested alone), or `warm`, handed to the service's warm runner."""
    inbox = home / "inbox" / FEED
    inbox.mkdir(parents=True, exist_ok=True)
    write_csv(inbox / name, rows)
    return subprocess.Popen([str(VENV_BIN / "ioc"), "ingest", feed], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE if warm else subprocess.STDOUT, text=True,
                            env={**os.environ, "IOC_HOME": str(home), "IOC_VALIDATION_SOCKET": str(socket),
                                 "IOC_WARM_RUNS": "1" if warm else "0", **env})


def outcome(home: Path) -> dict:
    import duckdb

    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return {
            "batches": con.execute("SELECT status, rows_received, rows_loaded, rows_quarantined FROM ops.batches")
                .fetchall(),
            "results": con.execute("SELECT check_id, severity, success, unexpected_count FROM ops.validation_results "
                                   "ORDER BY check_id").fetchall(),
            "quarantine": con.execute("SELECT record, reasons, status FROM ops.quarantine "
                                      "ORDER BY 1").fetchall(),
            "clean": con.execute("SELECT indicator_code, value FROM clean.dept_monthly_report ORDER BY 1").fetchall(),
        }


def test_loads_served_side_by_side_by_the_service_give_what_the_cold_path_gives(running_service, tmp_path, socket_dir):
    process, path, log = running_service
    warm = [tmp_path / "warm-a", tmp_path / "warm-b"]
    loads = [ingest(warm[0], "SKHCN_2026-10.csv", BAD_ROWS, path), ingest(warm[1], "SKHCN_2026-10.csv", BAD_ROWS, path)]
    outputs = [load.communicate(timeout=300)[0] for load in loads]
    cold = ingest(tmp_path / "cold", "SKHCN_2026-10.csv", BAD_ROWS, socket_dir / "nobody-listens.sock")
    cold_output = cold.communicate(timeout=300)[0]

    assert [load.returncode for load in (*loads, cold)] == [0, 0, 0], [*outputs, cold_output]
    expected = outcome(tmp_path / "cold")
    assert expected["batches"] == [("partial", 3, 2, 1)], expected
    assert any(not success for _, _, success, _ in expected["results"])
    assert outcome(warm[0]) == expected and outcome(warm[1]) == expected
    served = re.findall(r"worker (\d+) answered (\d+) requests of pid (\d+)", log.read_text())
    by_caller = {int(caller): (int(worker), int(count)) for worker, count, caller in served if int(count)}  # not probes
    assert set(by_caller) == {load.pid for load in loads}, log.read_text()  # the cold load never connected
    assert len({worker for worker, _ in by_caller.values()}) == 2, "each load its own worker"
    assert all(count >= 3 for _, count in by_caller.values()), "prepared, then validated rows and columns"
    assert process.poll() is None, "the service keeps serving"


def test_a_stopped_or_killed_service_leaves_loads_to_their_own_worker(running_service, tmp_path, home):
    process, path, log = running_service
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)
    assert not path.exists(), "a stopped service removes its socket"
    load = ingest(home, "SKHCN_2026-10.csv", ROWS, path)
    assert load.wait(timeout=300) == 0, load.stdout.read()
    assert outcome(home)["batches"] == [("loaded", 3, 3, 0)]

    again = start_service(path, tmp_path / "again.log")  # then killed outright: its socket stays behind
    os.killpg(again.pid, signal.SIGKILL)
    again.wait(timeout=30)
    assert path.exists() and not service.running_at(path)
    load = ingest(home, "SKHCN_2026-11.csv", [[r[0], "11/2026", *r[2:]] for r in ROWS], path)
    assert load.wait(timeout=300) == 0, load.stdout.read()
    assert [b[0] for b in outcome(home)["batches"]] == ["loaded", "loaded"]
    third = start_service(path, tmp_path / "third.log")  # a new service takes the stale socket's place
    try:
        assert service.running_at(path)
    finally:
        os.killpg(third.pid, signal.SIGTERM)
        third.wait(timeout=30)


def test_a_socket_in_a_directory_others_can_enter_is_neither_served_nor_used(tmp_path, monkeypatch):
    shared = Path(tempfile.mkdtemp(prefix="ioc-v-"))
    try:
        shared.chmod(0o755)
        path = shared / "v.sock"
        started = ioc("validation-service", "--socket", str(path))
        assert started.returncode != 0
        assert f"{shared} must be a directory of this user's only (mode 0700)" in started.stdout + started.stderr
        assert not path.exists()
        monkeypatch.setenv("IOC_VALIDATION_SOCKET", str(path))
        assert service.connect() is None
    finally:
        shared.rmdir()


def test_the_default_socket_is_short_and_private_whatever_the_home(tmp_path, monkeypatch):
    monkeypatch.delenv("IOC_VALIDATION_SOCKET", raising=False)
    monkeypatch.setenv("IOC_HOME", str(tmp_path / ("a-very-long-directory-name-" * 6)))
    first = service.socket_path()
    monkeypatch.setenv("IOC_HOME", str(tmp_path / "another"))
    second = service.socket_path()
    assert first != second and first.parent == second.parent
    assert len(str(first).encode()) < 108 and first.parent.name == f"ioc-{os.getuid()}"


def warm_runs(log: Path) -> dict[int, tuple[int, int | None]]:
    """The runner's log: the warm child of each caller's pid, and the child's exit status once it ended."""
    text = log.read_text()
    ended = {int(child): int(code) for child, code in re.findall(r"warm run (\d+) ended with (-?\d+)", text)}
    return {int(caller): (int(child), ended.get(int(child)))
            for child, caller in re.findall(r"warm run (\d+) for pid (\d+)", text)}


def test_ioc_ingest_runs_warm_in_the_runner_with_the_callers_streams_status_and_fate(running_service, tmp_path):
    process, path, log = running_service
    warm = ingest(tmp_path / "warm", "SKHCN_2026-10.csv", BAD_ROWS, path, warm=True)
    warm_out, warm_err = warm.communicate(timeout=300)
    cold = ingest(tmp_path / "cold", "SKHCN_2026-10.csv", BAD_ROWS, path)
    cold_out = cold.communicate(timeout=300)[0]
    assert (warm.returncode, cold.returncode) == (0, 0), (warm_err, cold_out)
    assert outcome(tmp_path / "warm") == outcome(tmp_path / "cold")
    assert "partial" in warm_out and "SKHCN_2026-10.csv" in warm_out, "the command's output, on the caller's stdout"
    child, status = warm_runs(log)[warm.pid]
    assert status == 0 and child != warm.pid
    assert cold.pid not in warm_runs(log), "IOC_WARM_RUNS=0: the command ran in its own process"

    # the exit status and the error are the command's: an unknown feed, a load that dies at a failpoint
    unknown = ingest(tmp_path / "warm", "SKHCN_2026-11.csv", ROWS, path, warm=True, feed="no_such_feed")
    unknown_out, unknown_err = unknown.communicate(timeout=120)
    alone = ingest(tmp_path / "cold", "SKHCN_2026-11.csv", ROWS, path, feed="no_such_feed")
    assert unknown.returncode == alone.wait(timeout=120) != 0
    assert "no_such_feed" in unknown_err and unknown_err.strip() in alone.stdout.read()
    crashed = ingest(tmp_path / "warm", "SKHCN_2026-11.csv", ROWS, path, warm=True, IOC_FAILPOINTS="load.staged")
    assert crashed.wait(timeout=300) == 77
    assert warm_runs(log)[crashed.pid][1] == 77

    # a caller that is killed takes its run with it, as the process itself would have gone
    barrier = tmp_path / "barrier"
    held = ingest(tmp_path / "held", "SKHCN_2026-10.csv", ROWS, path, warm=True, IOC_BARRIER="load.staged",
                  IOC_BARRIER_DIR=str(barrier), IOC_BARRIER_PARTIES="2")
    wait_until(lambda: barrier.exists() and any(barrier.iterdir()), timeout=120, interval=0.2,
               what="the warm run waiting at its barrier")
    child = warm_runs(log)[held.pid][0]
    held.kill()
    held.wait(timeout=30)
    wait_until(lambda: warm_runs(log)[held.pid][1] is not None, timeout=30, interval=0.2,
               what="the warm run ending with its caller")
    assert warm_runs(log)[held.pid][1] == -signal.SIGTERM
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)
    assert process.poll() is None, "the service and its runner keep serving"
    again = ingest(tmp_path / "held", "SKHCN_2026-10.csv", ROWS, path, warm=True)
    assert again.wait(timeout=300) == 0, again.stderr.read()
    after = outcome(tmp_path / "held")  # the killed run's landed file loaded once; the same file dropped again
    assert sorted(after["batches"]) == [("duplicate", 0, 0, 0), ("loaded", 3, 3, 0)], after
    assert len(after["clean"]) == 3
