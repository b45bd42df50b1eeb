"""Startup of the command line: `bikes --help` and `bikes --schema`, beside Python itself."""

from __future__ import annotations

import sys
import typing as T

from benchmarks import measure, workspace
from benchmarks.measure import Stats
from benchmarks.report import Result, Target

if T.TYPE_CHECKING:
    from benchmarks.session import Session

STARTUP = Target(0.3, "<", "s")


def run(session: Session) -> None:
    """Time the startup of `bikes --help` and `bikes --schema` (and of Python itself)."""
    folder = session.create(session.folder("cli"))
    commands = {
        "startup: python -c pass": ([sys.executable, "-c", "pass"], None),
        "startup: bikes --help": ([*workspace.bikes_command(), "--help"], STARTUP),
        "startup: bikes --schema": ([*workspace.bikes_command(), "--schema"], STARTUP),
    }
    for name, (command, target) in commands.items():
        runs = [
            measure.run_process(command, cwd=folder, env=workspace.environment(folder))
            for _ in range(session.options.cli_repeat)
        ]
        session.add(Result(name, "s", Stats.of([run.seconds for run in runs]), target=target))
