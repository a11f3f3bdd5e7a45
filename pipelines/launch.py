"""The `ioc` command's entry point. A command the warm runner can run (pipelines.warm_runs: `ioc ingest`) is
handed to it, where one answers; every other command, and that one where none answers, runs here
(pipelines.cli). Imports nothing heavy before it knows which."""

from __future__ import annotations

import os
import sys

from pipelines import warm_runs
from pipelines.settings import validation_socket


def main() -> None:
    code = warm_runs.handed_over(sys.argv[1:], validation_socket())
    if code is not None:
        os._exit(code)
    from pipelines.cli import main as run_here  # lazy: the command line (typer, rich) only when it runs here

    run_here()
