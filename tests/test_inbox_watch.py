"""The inbox watcher of event-driven file feeds (pipelines.scheduler.inbox_watch.InboxTrigger), run as the
triggerer runs it (its async generator) on a real directory: a complete file is announced once, a file still
being written is not, files complete together come in one event, and nothing is deleted or moved."""

from __future__ import annotations

import asyncio
import time

from pipelines.scheduler.inbox_watch import InboxTrigger, InboxWatch, snapshot

PATTERNS = ["*.csv", "*.xlsx"]


def collect(trigger: InboxTrigger, actions, seconds: float) -> list[tuple[float, list[str]]]:
    """Run the trigger for `seconds` while `actions` (delay, callable) happen; the events with their times."""
    events: list[tuple[float, list[str]]] = []

    async def main() -> None:
        started = time.monotonic()

        async def watch() -> None:
            async for event in trigger.run():
                events.append((time.monotonic() - started, event.payload["files"]))

        async def act() -> None:
            for delay, action in actions:
                await asyncio.sleep(delay)
                action()

        runner = asyncio.create_task(watch())
        await act()
        await asyncio.sleep(max(0.0, seconds - (time.monotonic() - started)))
        runner.cancel()

    asyncio.run(main())
    return events


def test_a_complete_file_is_announced_once_and_kept(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    report = inbox / "SXD_2026-11.csv"
    trigger = InboxTrigger(feed="dept_monthly_report", directory=str(inbox), patterns=PATTERNS, poke_interval=0.2)
    events = collect(trigger, [(0.1, lambda: report.write_text("a,b\n1,2\n"))], seconds=2.0)
    assert [files for _, files in events] == [["SXD_2026-11.csv"]], "announced once, however long it waits"
    assert report.read_text() == "a,b\n1,2\n", "the watcher never deletes nor moves a file"
    assert trigger.serialize() == ("pipelines.scheduler.inbox_watch.InboxTrigger", {
        "feed": "dept_monthly_report", "directory": str(inbox), "patterns": PATTERNS, "poke_interval": 0.2})


def test_a_file_still_being_written_waits_until_its_size_stops_changing(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    growing = inbox / "SYT_2026-11.xlsx"

    def append() -> None:
        with growing.open("ab") as f:
            f.write(b"x" * 1000)

    trigger = InboxTrigger(feed="dept_monthly_report", directory=str(inbox), patterns=PATTERNS, poke_interval=0.2)
    writes = [(0.05, append)] + [(0.15, append) for _ in range(12)]  # written for ~1.8 s, 1 kB at a time
    events = collect(trigger, writes, seconds=3.5)
    assert [files for _, files in events] == [["SYT_2026-11.xlsx"]]
    assert events[0][0] > 1.9, f"announced at {events[0][0]:.2f} s, while still being written"
    assert growing.stat().st_size == 13_000


def test_files_complete_together_come_in_one_event_and_others_are_ignored(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()

    def drop() -> None:
        for name in ("SCT_2026-11.csv", "SNV_2026-11.xlsx", "STC_2026-11.csv"):
            (inbox / name).write_text("x")
        (inbox / ".SXD_2026-11.csv.part").write_text("x")  # an upload in progress: hidden until renamed
        (inbox / "notes.txt").write_text("x")  # not a pattern of the feed
        (inbox / "sub.csv").mkdir()

    trigger = InboxTrigger(feed="dept_monthly_report", directory=str(inbox), patterns=PATTERNS, poke_interval=0.2)
    events = collect(trigger, [(0.1, drop), (0.8, lambda: (inbox / "SGDDT_2026-11.csv").write_text("y"))], 2.0)
    assert [files for _, files in events] == [["SCT_2026-11.csv", "SNV_2026-11.xlsx", "STC_2026-11.csv"],
                                              ["SGDDT_2026-11.csv"]]


def test_a_file_replaced_under_the_same_name_is_announced_again_and_a_gone_one_forgotten(tmp_path):
    watch = InboxWatch()
    first = {"A.csv": (10, 1)}
    assert watch.complete(first) == [] and watch.complete(first) == ["A.csv"] and watch.complete(first) == []
    assert watch.complete({}) == [] and watch.complete({}) == []  # loaded: archived away
    again = {"A.csv": (12, 2)}  # a corrected file under the same name
    assert watch.complete(again) == [] and watch.complete(again) == ["A.csv"]
    assert snapshot(str(__import__("pathlib").Path("/nonexistent/inbox")), PATTERNS) == {}
