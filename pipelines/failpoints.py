"""Named points where a test can make the process die on purpose, to prove crash safety, or wait for other
processes, to prove what happens side by side.

Set IOC_FAILPOINTS=name[,name...]; reaching a named point ends the process at once (no cleanup,
no rollback), as a power cut or an OOM kill would.

Set IOC_BARRIER=name and IOC_BARRIER_DIR=a directory (IOC_BARRIER_PARTIES, 2 by default): a process reaching
that point waits there until as many processes have reached it (each leaves a file in the directory), or
fails after 60 s — so that, say, two loads are shown to hold their transactions open at the same moment.
"""

import os
import time
from pathlib import Path

BARRIER_SECONDS = 60.0


def failpoint(name: str) -> None:
    if name in os.environ.get("IOC_FAILPOINTS", "").split(","):
        os._exit(77)
    if name == os.environ.get("IOC_BARRIER"):
        _barrier(name, Path(os.environ["IOC_BARRIER_DIR"]), int(os.environ.get("IOC_BARRIER_PARTIES", "2")))


def _barrier(name: str, directory: Path, parties: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{os.getpid()}").write_text(f"{time.time()}\n")
    deadline = time.monotonic() + BARRIER_SECONDS
    while len(list(directory.iterdir())) < parties:
        if time.monotonic() > deadline:
            raise RuntimeError(f"barrier {name}: {parties} processes never reached it together")
        time.sleep(0.05)
