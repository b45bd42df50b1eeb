"""The project's test suite (`uv run pytest`, with coverage and xdist), once."""

from __future__ import annotations

import os
import shutil
import sys
import typing as T

from benchmarks import measure, workspace
from benchmarks.measure import Stats
from benchmarks.report import Result, Target

if T.TYPE_CHECKING:
    from benchmarks.session import Session

SUITE = Target(90, "<", "s")


def run(session: Session) -> None:
    """Time the test suite once; a failing suite fails its target."""
    uv = shutil.which("uv")
    command = [uv, "run", "pytest", "-q"] if uv else [sys.executable, "-m", "pytest", "-q"]
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    run = measure.run_process(command, cwd=workspace.ROOT, env=env)
    failed = f"exit code {run.returncode}" if run.returncode else ""
    session.add(
        Result(
            "test suite (uv run pytest)",
            "s",
            Stats.of([run.seconds]),
            target=SUITE,
            note=f"exit code {run.returncode}",
            failed=failed,
        )
    )
