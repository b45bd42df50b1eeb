"""Model load: `mlflow.pyfunc.load_model` of the registered models in fresh processes."""

from __future__ import annotations

import json
import subprocess
import sys
import typing as T

from benchmarks import workspace
from benchmarks.measure import Stats
from benchmarks.report import Result, Target
from benchmarks.session import DEFAULT_VERSION, REFERENCE_VERSION

if T.TYPE_CHECKING:
    from pathlib import Path

    from benchmarks.session import Session

WARM = Target(0.5, "<", "s")
LOAD_CODE = """
import json, sys, time
start = time.perf_counter()
import mlflow.pyfunc
imported = time.perf_counter()
mlflow.pyfunc.load_model(sys.argv[1])
loaded = time.perf_counter()
mlflow.pyfunc.load_model(sys.argv[1])
warm = time.perf_counter()
print(json.dumps({"import": imported - start, "load": loaded - imported, "warm": warm - loaded}))
"""
PHASES = {
    "import": ("fresh process: `import mlflow`", None),
    "load": ("fresh process, after `import mlflow` (imports sklearn, skops)", None),
    "warm": ("the same model loaded again in that process", WARM),
}


def run(session: Session, folder: Path) -> None:
    """Time the load phases of both registered models, in turns."""
    timings: dict[str, dict[str, list[float]]] = {"default": {}, "reference": {}}
    for _ in range(session.options.repeat):  # in turns: a change of load weighs on both
        for key, version in (("default", DEFAULT_VERSION), ("reference", REFERENCE_VERSION)):
            for phase, seconds in load_model_process(folder, version).items():
                timings[key].setdefault(phase, []).append(seconds)
    for phase, (note, target) in PHASES.items():
        default, reference = Stats.of(timings["default"][phase]), timings["reference"][phase]
        name = f"model load ({phase})"
        session.add(Result(name, "s", default, Stats.of(reference), target, note))


def load_model_process(folder: Path, version: int) -> dict[str, float]:
    """Load a registered model twice in a fresh process and return the phases' seconds."""
    process = subprocess.run(  # noqa: S603 (this interpreter)
        [sys.executable, "-c", LOAD_CODE, f"models:/bikes/{version}"],
        check=True,
        env=workspace.environment(folder),
        cwd=folder,
        capture_output=True,
        text=True,
    )
    timings: dict[str, float] = json.loads(process.stdout.strip().splitlines()[-1])
    return timings
