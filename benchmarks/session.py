"""A benchmark session: its options, its work folders, the seed folder and the results so far.

Every job runs as a whole `bikes` process in a fresh copy of a seed folder, with its own SQLite
MLflow store. The seed was prepared, the model tuned, the reference (version 1) and the default
model (version 2, the champion) trained and registered, and the default model trained again
without the tuned params (version 3, the latest).
"""

from __future__ import annotations

import dataclasses
import typing as T
from pathlib import Path

from benchmarks import measure, report, workspace

if T.TYPE_CHECKING:
    from benchmarks.report import Result

REFERENCE_VERSION = 1
DEFAULT_VERSION = 2  # the pipeline's model: the default model with the tuning job's params
UNTUNED_VERSION = 3  # the default model with its own params (no tuning file)
# the reference forest predicts its point forecast alone, as it did before the intervals
REFERENCE_EXTRAS = [
    "job.model.KIND=BaselineSklearnModel",
    "job.params_file=null",
    "job.intervals=null",
]
QUICK_TUNING = {"n_trials": 3, "timeout": 5}


@dataclasses.dataclass(frozen=True)
class Options:
    """Settings of a benchmark run (see `benchmarks.cli.parser`)."""

    source: str
    output: Path
    groups: tuple[str, ...]
    jobs: tuple[str, ...]
    repeat: int
    repeat_heavy: int
    cli_repeat: int
    big_rows: int
    fit_rows: int
    huge_rows: int
    shap_reference_rows: int
    quick: bool
    workdir: Path | None
    keep: bool

    def settings(self) -> dict[str, T.Any]:
        """Return the options as JSON-ready data."""
        return {
            key: str(value) if isinstance(value, Path) else value
            for key, value in dataclasses.asdict(self).items()
        }


class Session:
    """The state that the benchmark groups share: options, work folders, seed and results."""

    def __init__(self, options: Options, root: Path) -> None:
        """Keep the options and the root of the work folders."""
        self.options = options
        self.root = root
        self.results: list[Result] = []
        self.counter = 0
        self._seed: Path | None = None

    def add(self, result: Result) -> Result:
        """Record a result and print it as it comes."""
        self.results.append(result)
        print(report.line(result), flush=True)
        return result

    def folder(self, name: str) -> Path:
        """Return a new folder name under the root."""
        self.counter += 1
        return self.root / f"run-{self.counter:03d}-{name}"

    def bikes(
        self,
        folder: Path,
        config: str,
        extras: T.Sequence[str] = (),
        tracking_uri: str | None = None,
    ) -> measure.ProcessRun:
        """Run a `bikes` job as a whole process in a work folder, and fail on a non-zero exit.

        The job tracks to the folder's SQLite store, or to `tracking_uri` (e.g. a server's).
        """
        command = [*workspace.bikes_command(), config]
        if extras:
            command += ["-e", *extras]
        env = workspace.environment(folder, self.options.source)
        if tracking_uri is not None:
            env["MLFLOW_TRACKING_URI"] = tracking_uri
        run = measure.run_process(command, cwd=folder, env=env)
        if run.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} exited {run.returncode} in {folder}:\n{run.stderr_tail}"
            )
        return run

    def create(self, folder: Path) -> Path:
        """Create a work folder with the project's configs (a small tuning budget when quick)."""
        workspace.create(folder)
        if self.options.quick:
            import yaml

            path = folder / "confs/tuning.yaml"
            config = yaml.safe_load(path.read_text(encoding="utf-8"))
            config["job"]["searcher"].update(QUICK_TUNING)
            path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return folder

    @property
    def seed(self) -> Path:
        """Return the seed folder (built on first use)."""
        if self._seed is None:
            self._seed = self.make_seed()
        return self._seed

    def make_seed(self) -> Path:
        """Prepare, tune, train the reference (v1), the tuned (v2) and the untuned (v3) default.

        The champion is v2, the model the pipeline registers and promotes. The seed is built at
        the place of its copies (`checkout`), then stowed.
        """
        print("Preparing the seed folder (data, tuning, both models, champion)", flush=True)
        folder = self.create(self.root / "work")
        steps: list[tuple[str, list[str]]] = [
            ("confs/preparation.yaml", []),
            ("confs/tuning.yaml", []),
            ("confs/training.yaml", REFERENCE_EXTRAS),
            ("confs/training.yaml", []),
            ("confs/promotion.yaml", [f"job.version={DEFAULT_VERSION}"]),
            ("confs/training.yaml", ["job.params_file=null"]),
        ]
        for config, extras in steps:
            self.bikes(folder, config, extras)
        return workspace.stow(folder, self.root / "seed")

    def checkout(self) -> T.ContextManager[Path]:
        """Return the context of a fresh copy of the seed, removed at its end."""
        return workspace.checkout(self.seed, self.root / "work")
