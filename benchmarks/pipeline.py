"""The whole pipeline (`confs/pipeline.yaml`, 7 jobs) as one process from an empty folder."""

from __future__ import annotations

import shutil
import typing as T

from benchmarks import jobs, workspace
from benchmarks.report import Target

if T.TYPE_CHECKING:
    from benchmarks.session import Session

PIPELINE = Target(90, "<", "s")


def run(session: Session) -> None:
    """Time the whole pipeline from an empty folder (a migrated, empty MLflow store)."""
    runs = []
    for _ in range(session.options.repeat_heavy):
        folder = session.create(session.folder("pipeline"))
        workspace.make_store(folder)
        runs.append(session.bikes(folder, "confs/pipeline.yaml"))
        shutil.rmtree(folder, ignore_errors=True)
    target = None if session.options.quick else PIPELINE
    jobs.add_runs(session, "pipeline (7 jobs)", runs, target=target)
