"""Watch a file-drop feed's inbox for Airflow's event-driven scheduling (an AssetWatcher on the inbox).

Airflow ships directory triggers that delete the file they saw; the platform must keep every file (the
load archives it, or rejects it with its reason), so this trigger only watches. It runs in the triggerer
and polls the inbox: a file counts once it is complete — its size and modification time unchanged over a
whole poll interval, so a file still being copied or uploaded is not taken half-written — and is
announced once. Files that become complete in the same poll are announced in one event, so they load as
separate batches of one run. A triggerer that restarts announces the complete files still in the inbox
again (a run finds them, or finds them loaded already: loads are idempotent).
"""

from __future__ import annotations

import asyncio
import fnmatch
import os
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

Signature = tuple[int, int]  # (size, mtime in ns)


def snapshot(directory: str, patterns: list[str]) -> dict[str, Signature]:
    """The inbox's files that a feed takes (not hidden, matching its patterns), with their signatures."""
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return {}
    found = {}
    for entry in entries:
        if entry.name.startswith(".") or not any(fnmatch.fnmatch(entry.name.lower(), p.lower()) for p in patterns):
            continue
        try:
            if entry.is_file():
                stat = entry.stat()
                found[entry.name] = (stat.st_size, stat.st_mtime_ns)
        except FileNotFoundError:  # taken by a load between the listing and the stat
            continue
    return found


class InboxWatch:
    """The bookkeeping of one watch, apart from its loop: given successive snapshots, which files are newly
    complete."""

    def __init__(self) -> None:
        self.previous: dict[str, Signature] = {}
        self.announced: dict[str, Signature] = {}

    def complete(self, current: dict[str, Signature]) -> list[str]:
        ready = sorted(
            name
            for name, signature in current.items()
            if self.previous.get(name) == signature and self.announced.get(name) != signature
        )
        for name in ready:
            self.announced[name] = current[name]
        self.announced = {n: s for n, s in self.announced.items() if n in current}  # gone: archived or rejected
        self.previous = current
        return ready


class InboxTrigger(BaseEventTrigger):
    """Fires when complete files are in a feed's inbox; never deletes nor moves them."""

    def __init__(self, *, feed: str, directory: str, patterns: list[str], poke_interval: float = 1.0) -> None:
        super().__init__()
        self.feed, self.directory, self.patterns, self.poke_interval = feed, directory, list(patterns), poke_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__name__}",
            {
                "feed": self.feed,
                "directory": self.directory,
                "patterns": self.patterns,
                "poke_interval": self.poke_interval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        watch = InboxWatch()
        while True:
            current = await asyncio.to_thread(snapshot, self.directory, self.patterns)
            ready = watch.complete(current)
            if ready:
                yield TriggerEvent({"feed": self.feed, "directory": self.directory, "files": ready})
            await asyncio.sleep(self.poke_interval)
