"""Each job as a whole `bikes` process, beside a floor: a process that only imports its libraries.

The floor (`import mlflow, sklearn.ensemble, pandas`) is what any job of the package must pay: a
job's ratio to it shows what the package adds. Each run of a job goes beside a run of the floor, in
turns, so that a change of the machine's load weighs on both.
"""

from __future__ import annotations

import contextlib
import sys
import typing as T

from benchmarks import measure, report, server, workspace
from benchmarks.measure import Stats
from benchmarks.report import Result, Target
from benchmarks.session import REFERENCE_EXTRAS, REFERENCE_VERSION

if T.TYPE_CHECKING:
    from pathlib import Path

    from benchmarks.session import Session

MIB = 1024**2
FLOOR = "import mlflow, sklearn.ensemble, pandas"
HEAVY_JOBS = ("tuning",)
TARGETS = {
    "promotion": Target(1.5, "<=", "x floor", on="ratio"),  # scores the candidate and champion
    "inference": Target(1.25, "<=", "x floor", on="ratio"),  # the 3,476 test rows
    "evaluations": Target(1.4, "<=", "x floor", on="ratio"),
}
# the jobs also measured as deployed: against a tracking server (no SQL store in the job's process)
SERVED_JOBS = ("inference",)
# the same jobs with the reference model (version 1)
REFERENCE_JOB_EXTRAS = {
    "training": REFERENCE_EXTRAS,
    "inference": [f"job.version={REFERENCE_VERSION}"],
    "evaluations": [f"job.alias_or_version={REFERENCE_VERSION}"],
}


def floor(folder: Path) -> measure.ProcessRun:
    """Run the floor process in a work folder."""
    command = [sys.executable, "-c", FLOOR]
    run = measure.run_process(command, cwd=folder, env=workspace.environment(folder))
    if run.returncode != 0:
        raise RuntimeError(f"the floor exited {run.returncode}:\n{run.stderr_tail}")
    return run


def job_runs(
    session: Session, job: str, extras: list[str], repeat: int, served: bool = False
) -> tuple[list[measure.ProcessRun], list[measure.ProcessRun]]:
    """Run a job `repeat` times, each in a fresh copy of the seed after a run of the floor.

    `served`: the job tracks to an `mlflow server` of the copy's store, started before the floor.
    """
    runs, floors = [], []
    for _ in range(repeat):
        with session.checkout() as folder, contextlib.ExitStack() as stack:
            uri = (
                stack.enter_context(server.tracking_server(folder / "mlflow.db"))
                if served
                else None
            )
            floors.append(floor(folder))
            runs.append(session.bikes(folder, f"confs/{job}.yaml", extras, tracking_uri=uri))
    return runs, floors


def add_runs(
    session: Session,
    name: str,
    runs: list[measure.ProcessRun],
    floors: list[measure.ProcessRun] | None = None,
    target: Target | None = None,
) -> None:
    """Record the wall and CPU times and the peak memory of whole-process runs, beside a floor."""
    versus = "floor" if floors else "reference"
    session.add(
        Result(
            f"{name} wall",
            "s",
            Stats.of([run.seconds for run in runs]),
            Stats.of([run.seconds for run in floors]) if floors else None,
            target=target,
            versus=versus,
        )
    )
    session.add(
        Result(
            f"{name} CPU",
            "s",
            Stats.of([run.cpu_seconds for run in runs]),
            Stats.of([run.cpu_seconds for run in floors]) if floors else None,
            versus=versus,
            note="user and system time: steadier than the wall time on a busy machine",
        )
    )
    session.add(
        Result(
            f"{name} peak RSS",
            "MiB",
            Stats.of([run.peak_rss / MIB for run in runs]),
            Stats.of([run.peak_rss / MIB for run in floors]) if floors else None,
            versus=versus,
        )
    )


def run(session: Session) -> None:
    """Time each job (and some with the reference model) beside the floor; the floor first."""
    start, floors = len(session.results), []
    for job in session.options.jobs:
        repeat = session.options.repeat_heavy if job in HEAVY_JOBS else session.options.repeat
        runs, beside = job_runs(session, job, [], repeat)
        add_runs(session, f"job: {job}", runs, beside, TARGETS.get(job))
        floors += beside
        if job in SERVED_JOBS:
            runs, beside = job_runs(session, job, [], repeat, served=True)
            add_runs(session, f"job: {job}, tracking server", runs, beside)
            floors += beside
        if job in REFERENCE_JOB_EXTRAS:
            runs, beside = job_runs(session, job, REFERENCE_JOB_EXTRAS[job], repeat)
            add_runs(session, f"job: {job}, reference model", runs, beside)
            floors += beside
    result = Result(
        f"floor: python -c '{FLOOR}'",
        "s",
        Stats.of([run.seconds for run in floors]),
        note="the imports that any job pays: the jobs' ratios are to the floor runs beside them",
    )
    session.results.insert(start, result)
    print(report.line(result), flush=True)
