"""What the jobs pay on top of the floor, library by library: each in a fresh process.

Each row is a process that does the floor's imports, then one thing a job does before its own
work (open MLflow's SQL store, import skops...): its CPU time against the floor's, in turns.
"""

from __future__ import annotations

import statistics
import sys
import typing as T

from benchmarks import jobs, measure, workspace
from benchmarks.measure import Stats
from benchmarks.report import Result

if T.TYPE_CHECKING:
    from pathlib import Path

    from benchmarks.session import Session

# what a job does on top of the floor, by what pays for it (`STORE` is the URI of a migrated store)
COSTS = {
    "MLflow's SQL store (SQLAlchemy, alembic, schema check)": (
        "c = mlflow.MlflowClient(STORE, STORE); c.search_experiments()"
        "; c.search_registered_models()"
    ),
    "skops.io (its trusted types import every estimator)": "import skops.io",
    "pandera (the schemas)": "import bikes.core.schemas",
    "matplotlib (the plots)": "from bikes.io import plots; plots.figure()",
    "the configs (pydantic models, OmegaConf)": "import bikes.settings, omegaconf",
    "GitPython (MLflow's run context)": "import git",
}


def process(folder: Path, code: str) -> measure.ProcessRun:
    """Run the floor's imports then `code` in a fresh process of a work folder."""
    store = workspace.tracking_uri(folder)
    source = f"{jobs.FLOOR}\nSTORE = {store!r}\n{code}"
    run = measure.run_process([sys.executable, "-c", source], cwd=folder)
    if run.returncode != 0:
        raise RuntimeError(f"{code} exited {run.returncode}:\n{run.stderr_tail}")
    return run


def run(session: Session) -> None:
    """Time each cost on top of the floor, in turns with the floor, by CPU time."""
    folder = session.create(session.folder("imports"))
    workspace.make_store(folder)
    repeat = session.options.repeat
    for name, code in COSTS.items():
        floors, runs = [], []
        for _ in range(repeat):  # in turns: a change of load weighs on both
            floors.append(process(folder, "pass").cpu_seconds)
            runs.append(process(folder, code).cpu_seconds)
        added = statistics.median(runs) - statistics.median(floors)
        session.add(
            Result(
                f"floor + {name}, CPU",
                "s",
                Stats.of(runs),
                Stats.of(floors),
                note=f"{added:+.2f} s of CPU over the floor: {code}",
                versus="floor",
            )
        )
