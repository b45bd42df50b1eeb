"""The benchmark suite: CLI startup, whole-process jobs, model throughput, SHAP, large inference.

Every job runs as a whole `bikes` process in its own temporary work folder with its own SQLite
MLflow store, cloned from a seed folder where the data was prepared, the model tuned, the reference
(version 1) and the default model (version 2, the champion) trained and registered. The model
figures (throughput, load time, artifacts, SHAP) use the same code as the jobs, in process.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import functools
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import typing as T
from pathlib import Path

from benchmarks import measure, workspace
from benchmarks.measure import Stats
from bikes.jobs.pipeline import DAG

if T.TYPE_CHECKING:
    import pandas as pd

MIB = 1024**2
GIB = 1024**3
TEST_ROWS = 3_476
REFERENCE_VERSION = 1
DEFAULT_VERSION = 2  # the pipeline's model: the default model with the tuning job's params
UNTUNED_VERSION = 3  # the default model with its own params (no tuning file)
GROUPS = ("cli", "jobs", "pipeline", "models", "shap", "huge", "tests")
JOBS = DAG
HEAVY_JOBS = ("tuning",)
REFERENCE_EXTRAS = ["job.model.KIND=BaselineSklearnModel", "job.params_file=null"]
# the same jobs for the reference (version 1), for the ratios
REFERENCE_JOB_EXTRAS = {
    "training": REFERENCE_EXTRAS,
    "inference": [f"job.version={REFERENCE_VERSION}"],
    "evaluations": [f"job.alias_or_version={REFERENCE_VERSION}"],
}
QUICK_TUNING = {"n_trials": 3, "timeout": 5}


@dataclasses.dataclass(frozen=True)
class Options:
    """Settings of a benchmark run (see `parser`)."""

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


@dataclasses.dataclass
class Result:
    """One figure of the report, for the default model and the reference configuration."""

    name: str
    unit: str
    default: Stats
    reference: Stats | None = None
    target: str | None = None
    ok: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """Return the median of the default over the median of the reference."""
        if self.reference is None or self.reference.median == 0:
            return None
        return self.default.median / self.reference.median

    def to_dict(self) -> dict[str, T.Any]:
        """Return the result as JSON-ready data."""
        return {
            "name": self.name,
            "unit": self.unit,
            "default": dataclasses.asdict(self.default),
            "reference": dataclasses.asdict(self.reference) if self.reference else None,
            "ratio": self.ratio,
            "target": self.target,
            "ok": self.ok,
            "note": self.note,
        }


class Suite:
    """Run the benchmarks of the selected groups into a list of results."""

    def __init__(self, options: Options, root: Path) -> None:
        """Keep the options and the root of the work folders."""
        self.options = options
        self.root = root
        self.results: list[Result] = []
        self.counter = 0
        self._seed: Path | None = None

    # %% helpers

    def add(self, result: Result) -> Result:
        """Record a result and print it as it comes."""
        self.results.append(result)
        reference = f" | reference {fmt(result.reference.median)}" if result.reference else ""
        print(f"  {result.name}: {fmt(result.default.median)} {result.unit}{reference}", flush=True)
        return result

    def folder(self, name: str) -> Path:
        """Return a new folder name under the root."""
        self.counter += 1
        return self.root / f"run-{self.counter:03d}-{name}"

    def bikes(self, folder: Path, config: str, extras: T.Sequence[str] = ()) -> measure.ProcessRun:
        """Run a `bikes` job as a whole process in a work folder, and fail on a non-zero exit."""
        command = [*workspace.bikes_command(), config]
        if extras:
            command += ["-e", *extras]
        run = measure.run_process(
            command, cwd=folder, env=workspace.environment(folder, self.options.source)
        )
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
        """Return the seed folder: data, best params, both models registered, a champion."""
        if self._seed is None:
            self._seed = self.make_seed()
        return self._seed

    def make_seed(self) -> Path:
        """Prepare, tune, train the reference (v1), the tuned (v2) and the untuned (v3) default.

        The champion is v2, the model the pipeline registers and promotes.
        """
        print("Preparing the seed folder (data, tuning, both models, champion)", flush=True)
        folder = self.create(self.root / "seed")
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
        return folder

    # %% groups

    def cli(self) -> None:
        """Time the startup of `bikes --help` and `bikes --schema` (and of Python itself)."""
        folder = self.create(self.folder("cli"))
        commands = {
            "startup: python -c pass": [sys.executable, "-c", "pass"],
            "startup: bikes --help": [*workspace.bikes_command(), "--help"],
            "startup: bikes --schema": [*workspace.bikes_command(), "--schema"],
        }
        for name, command in commands.items():
            runs = [
                measure.run_process(command, cwd=folder, env=workspace.environment(folder))
                for _ in range(self.options.cli_repeat)
            ]
            target = None if "python" in name else "< 0.3 s"
            stats = Stats.of([run.seconds for run in runs])
            ok = None if target is None else stats.median < 0.3
            self.add(Result(name, "s", stats, target=target, ok=ok))

    def jobs(self) -> None:
        """Time each job as a whole process (wall and peak RSS), default and reference."""
        for job in self.options.jobs:
            repeat = self.options.repeat_heavy if job in HEAVY_JOBS else self.options.repeat
            default = self.job_runs(job, [], repeat)
            reference = None
            if job in REFERENCE_JOB_EXTRAS:
                reference = self.job_runs(job, REFERENCE_JOB_EXTRAS[job], repeat)
            self.add_job(f"job: {job}", default, reference)

    def job_runs(self, job: str, extras: list[str], repeat: int) -> list[measure.ProcessRun]:
        """Run a job `repeat` times, each in a fresh clone of the seed folder."""
        runs = []
        for _ in range(repeat):
            folder = workspace.clone(self.seed, self.folder(job))
            runs.append(self.bikes(folder, f"confs/{job}.yaml", extras))
            shutil.rmtree(folder, ignore_errors=True)
        return runs

    def add_job(
        self,
        name: str,
        default: list[measure.ProcessRun],
        reference: list[measure.ProcessRun] | None = None,
        target: float | None = None,
    ) -> None:
        """Record the wall time and the peak memory of whole-process runs."""
        wall = Stats.of([run.seconds for run in default])
        self.add(
            Result(
                f"{name} wall",
                "s",
                wall,
                Stats.of([run.seconds for run in reference]) if reference else None,
                target=f"< {target:g} s" if target else None,
                ok=wall.median < target if target else None,
            )
        )
        self.add(
            Result(
                f"{name} peak RSS",
                "MiB",
                Stats.of([run.peak_rss / MIB for run in default]),
                Stats.of([run.peak_rss / MIB for run in reference]) if reference else None,
            )
        )

    def pipeline(self) -> None:
        """Time the whole pipeline from an empty folder (a migrated, empty MLflow store)."""
        runs = []
        for _ in range(self.options.repeat_heavy):
            folder = self.create(self.folder("pipeline"))
            make_store(folder)
            runs.append(self.bikes(folder, "confs/pipeline.yaml"))
            shutil.rmtree(folder, ignore_errors=True)
        target = None if self.options.quick else 90.0
        self.add_job("pipeline (7 jobs)", runs, target=target)

    def models(self) -> None:
        """Measure both models: test scores, fit and predict rows/s, load time, artifact size."""
        from bikes.io import datasets

        folder = workspace.clone(self.seed, self.folder("models"))
        with inside(folder):
            test_inputs = datasets.ParquetReader(path="data/inputs_test.parquet").read()
            test_targets = datasets.ParquetReader(path="data/targets_test.parquet").read()
            self.scores(folder)
            self.fits(folder, test_inputs, test_targets)
            self.predictions(folder, test_inputs)
            self.loads(folder)
            self.artifacts(folder)

    def scores(self, folder: Path) -> None:
        """Record the test scores that the training job logged for the models."""
        client = mlflow_client(folder)
        metrics = {}
        for version in (DEFAULT_VERSION, REFERENCE_VERSION, UNTUNED_VERSION):
            run_id = client.get_model_version("bikes", str(version)).run_id
            metrics[version] = client.get_run(run_id).data.metrics
        for metric in ("root_mean_squared_error", "mean_absolute_error", "r2_score"):
            value = float(metrics[DEFAULT_VERSION][metric])
            rmse = metric == "root_mean_squared_error"
            self.add(
                Result(
                    f"test {metric}",
                    "",
                    Stats.of([value]),
                    Stats.of([metrics[REFERENCE_VERSION][metric]]),
                    target="<= 60" if rmse else None,
                    ok=value <= 60 if rmse else None,
                )
            )
        untuned = float(metrics[UNTUNED_VERSION]["root_mean_squared_error"])
        self.add(
            Result(
                "test root_mean_squared_error, untuned",
                "",
                Stats.of([untuned]),
                Stats.of([metrics[REFERENCE_VERSION]["root_mean_squared_error"]]),
                target="<= 60",
                ok=untuned <= 60,
                note="the default model with its own params (no tuning)",
            )
        )

    def fits(self, folder: Path, inputs: pd.DataFrame, targets: pd.DataFrame) -> None:
        """Time the fit of both models (the training job's tuned model) on repeated test rows."""
        from bikes.core import models
        from bikes.jobs.training import TrainingJob

        default = TrainingJob(params_file=str(folder / "outputs/tuning/best_params.json"))
        candidates = {
            "default": default.tuned_model(),
            "reference": models.BaselineSklearnModel(),
        }
        for rows in (TEST_ROWS, self.options.fit_rows):
            big_inputs, big_targets = repeat_rows(inputs, rows), repeat_rows(targets, rows)
            stats: dict[str, Stats] = {}
            for key, model in candidates.items():
                repeat = self.options.repeat if rows <= TEST_ROWS else 1
                seconds = []
                for _ in range(repeat):
                    start = time.perf_counter()
                    model.fit(big_inputs, big_targets)
                    seconds.append(time.perf_counter() - start)
                stats[key] = Stats.of(seconds).inverse(rows)
            self.add(
                Result(
                    f"fit rows/s at {rows:,} rows",
                    "rows/s",
                    stats["default"],
                    stats["reference"],
                    note="the training job's model fit on repeated test rows",
                )
            )

    def predictions(self, folder: Path, inputs: pd.DataFrame) -> None:
        """Time both models' batch predictions, alone and inside the inference job."""
        from bikes.io import registries

        loader = registries.SklearnLoader()
        versions = {
            "default": DEFAULT_VERSION,
            "untuned": UNTUNED_VERSION,
            "reference": REFERENCE_VERSION,
        }
        loaded = {
            key: loader.load(registries.uri_for_model_version("bikes", version))
            for key, version in versions.items()
        }
        for rows in self.sizes():
            batch = repeat_rows(inputs, rows)
            seconds = predict_seconds(loaded, batch, self.options.repeat)
            stats = {key: Stats.of(values).inverse(rows) for key, values in seconds.items()}
            for key, suffix in (("default", ""), ("untuned", ", untuned")):
                result = Result(
                    f"batch prediction rows/s at {rows:,} rows{suffix}",
                    "rows/s",
                    stats[key],
                    stats["reference"],
                    note="the registered model's predict on one in-memory batch",
                )
                if rows == max(self.sizes()) and result.ratio is not None:
                    result.target = ">= 5x reference"
                    result.ok = result.ratio >= 5
                self.add(result)
        for rows in self.sizes():
            path = folder / f"data/inputs_{rows}.parquet"
            repeat_rows(inputs, rows).to_parquet(path)
            speeds: dict[str, list[float]] = {"default": [], "reference": []}
            for _ in range(self.options.repeat):  # in turns: a change of load weighs on both
                speeds["default"].append(inference_speed(path, DEFAULT_VERSION, folder))
                speeds["reference"].append(inference_speed(path, REFERENCE_VERSION, folder))
            stats = {key: Stats.of(values) for key, values in speeds.items()}
            self.add(
                Result(
                    f"inference rows/s at {rows:,} rows",
                    "rows/s",
                    stats["default"],
                    stats["reference"],
                    note="the in-process InferenceJob: read, check, predict, write",
                )
            )

    def loads(self, folder: Path) -> None:
        """Time `mlflow.pyfunc.load_model` of both registered models in fresh processes."""
        timings: dict[str, dict[str, list[float]]] = {"default": {}, "reference": {}}
        for _ in range(self.options.repeat):  # in turns: a change of load weighs on both
            for key, version in (("default", DEFAULT_VERSION), ("reference", REFERENCE_VERSION)):
                for phase, seconds in load_model_process(folder, version).items():
                    timings[key].setdefault(phase, []).append(seconds)
        notes = {
            "import": "fresh process: `import mlflow`",
            "load": "fresh process, after `import mlflow` (imports sklearn, skops)",
            "warm": "the same model loaded again in that process",
        }
        for phase, note in notes.items():
            default = Stats.of(timings["default"][phase])
            result = Result(
                f"model load ({phase})",
                "s",
                default,
                Stats.of(timings["reference"][phase]),
                note=note,
            )
            if phase == "warm":
                result.target, result.ok = "< 0.5 s", default.median < 0.5
            self.add(result)

    def artifacts(self, folder: Path) -> None:
        """Measure the artifacts of each training run: its folder and its logged model's."""
        client = mlflow_client(folder)
        sizes = {}
        for version in (DEFAULT_VERSION, REFERENCE_VERSION):
            model_version = client.get_model_version("bikes", str(version))
            run_folder = local_path(client.get_run(model_version.run_id).info.artifact_uri)
            model_id = model_version.model_id or model_version.source.removeprefix("models:/")
            model_folder = local_path(client.get_logged_model(model_id).artifact_location)
            sizes[version] = (
                measure.folder_bytes(run_folder) + measure.folder_bytes(model_folder)
            ) / MIB
        ok = sizes[DEFAULT_VERSION] < 20
        self.add(
            Result(
                "artifacts per training run",
                "MiB",
                Stats.of([sizes[DEFAULT_VERSION]]),
                Stats.of([sizes[REFERENCE_VERSION]]),
                target="< 20 MiB",
                ok=ok,
                note="the run's artifact folder plus its logged model's",
            )
        )

    def shap(self) -> None:
        """Time the SHAP values of the whole test set (default) and of a few rows (reference)."""
        from bikes.core import models
        from bikes.io import datasets, registries

        folder = workspace.clone(self.seed, self.folder("shap"))
        with inside(folder):
            inputs = datasets.ParquetReader(path="data/inputs_test.parquet").read()
            loader = registries.SklearnLoader()
            default = loader.load(registries.uri_for_model_version("bikes", DEFAULT_VERSION))
            reference = loader.load(registries.uri_for_model_version("bikes", REFERENCE_VERSION))
            seconds = [
                measure.timed(lambda: models.shap_values(default.pipeline, inputs))[0]
                for _ in range(self.options.repeat)
            ]
            rows = min(self.options.shap_reference_rows, len(inputs))
            sample = inputs.sample(n=rows, random_state=42)
            reference_seconds = measure.timed(
                lambda: models.shap_values(reference.pipeline, sample)
            )[0]
        wall = Stats.of(seconds)
        self.add(
            Result(
                f"SHAP values of {len(inputs):,} rows",
                "s",
                wall,
                Stats.of([reference_seconds * len(inputs) / rows]),
                target="< 10 s",
                ok=wall.median < 10,
                note=f"reference extrapolated from {rows} rows",
            )
        )
        self.add(
            Result(
                "SHAP rows/s",
                "rows/s",
                wall.inverse(len(inputs)),
                Stats.of([rows / reference_seconds]),
            )
        )

    def huge(self) -> None:
        """Stream a large Parquet input (repeated test rows) through the inference job."""
        import pandas as pd

        rows = self.options.huge_rows
        path = self.root / f"inputs_{rows}.parquet"
        if not path.exists():
            inputs = pd.read_parquet(self.seed / "data/inputs_test.parquet")
            write_repeated(inputs, rows, path)
        folder = workspace.clone(self.seed, self.folder("huge"))
        extras = [f"job.inputs.path={path}", "job.outputs.path=outputs/huge.parquet"]
        run = self.bikes(folder, "confs/inference.yaml", extras)
        shutil.rmtree(folder, ignore_errors=True)
        peak = Stats.of([run.peak_rss / MIB])
        self.add(
            Result(
                f"inference of {rows:,} rows peak RSS",
                "MiB",
                peak,
                target="< 2048 MiB",
                ok=peak.median < 2048,
                note="whole process, default model",
            )
        )
        self.add(
            Result(
                f"inference of {rows:,} rows wall",
                "s",
                Stats.of([run.seconds]),
                note=f"{rows / run.seconds:,.0f} rows/s, whole process",
            )
        )

    def tests(self) -> None:
        """Time the test suite (`uv run pytest`, with coverage and xdist) once."""
        uv = shutil.which("uv")
        command = [uv, "run", "pytest", "-q"] if uv else [sys.executable, "-m", "pytest", "-q"]
        env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
        run = measure.run_process(command, cwd=workspace.ROOT, env=env)
        wall = Stats.of([run.seconds])
        self.add(
            Result(
                "test suite (uv run pytest)",
                "s",
                wall,
                target="< 90 s",
                ok=wall.median < 90 and run.returncode == 0,
                note=f"exit code {run.returncode}",
            )
        )

    def sizes(self) -> list[int]:
        """Return the row counts of the throughput figures: the test set and a large input."""
        return [TEST_ROWS, self.options.big_rows]

    def run(self) -> list[Result]:
        """Run the selected groups in order."""
        for group in GROUPS:
            if group in self.options.groups:
                print(f"[{group}]", flush=True)
                getattr(self, group)()
        return self.results


# %% functions


class inside:  # noqa: N801 (used like contextlib.chdir)
    """Work in a folder with its MLflow store: the current directory and the tracking URI."""

    def __init__(self, folder: Path) -> None:
        """Keep the folder."""
        self.folder = folder
        self.previous: tuple[str, str | None] = ("", None)

    def __enter__(self) -> Path:
        """Enter the folder and point MLflow at its store."""
        import mlflow

        self.previous = (os.getcwd(), os.environ.get("MLFLOW_TRACKING_URI"))
        os.chdir(self.folder)
        os.environ["MLFLOW_TRACKING_URI"] = workspace.tracking_uri(self.folder)
        mlflow.set_tracking_uri(workspace.tracking_uri(self.folder))
        mlflow.set_registry_uri(workspace.tracking_uri(self.folder))
        return self.folder

    def __exit__(self, *args: object) -> None:
        """Go back to the previous folder and tracking URI."""
        cwd, uri = self.previous
        os.chdir(cwd)
        if uri is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = uri


def fmt(value: float) -> str:
    """Format a figure with 3 significant digits (thousands separated)."""
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def mlflow_client(folder: Path) -> T.Any:
    """Return an MLflow client of the store of a work folder."""
    from mlflow.tracking import MlflowClient

    uri = workspace.tracking_uri(folder)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def make_store(folder: Path) -> None:
    """Create the (migrated, empty) SQLite MLflow store of a work folder, in a subprocess."""
    code = "import mlflow, sys; mlflow.MlflowClient(sys.argv[1]).search_experiments()"
    subprocess.run(  # noqa: S603 (this interpreter)
        [sys.executable, "-c", code, workspace.tracking_uri(folder)],
        check=True,
        env=workspace.environment(folder),
        capture_output=True,
    )


def local_path(uri: str) -> Path:
    """Return the local path of a `file:` URI or a path."""
    return Path(uri.removeprefix("file://"))


def repeat_rows(frame: pd.DataFrame, rows: int) -> pd.DataFrame:
    """Return the first `rows` rows of a frame repeated as many times as needed."""
    import numpy as np
    import pandas as pd

    copies = -(-rows // len(frame))
    result = pd.concat([frame] * copies).iloc[:rows]
    result.index = pd.Index(np.arange(rows, dtype="int64"), name=frame.index.name)
    return result


def write_repeated(frame: pd.DataFrame, rows: int, path: Path, chunk: int = 1_000_000) -> None:
    """Write `rows` rows of a frame repeated to a Parquet file, chunk by chunk (flat memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    chunk = max(1, chunk // len(frame)) * len(frame)  # whole copies: the pattern goes on
    block = repeat_rows(frame, min(chunk, rows))
    table = pa.Table.from_pandas(block, preserve_index=True)
    with pq.ParquetWriter(path, table.schema) as writer:
        written = 0
        while written < rows:
            size = min(chunk, rows - written)
            part = block.iloc[:size]
            part.index = part.index + written
            writer.write_table(pa.Table.from_pandas(part, schema=table.schema, preserve_index=True))
            written += size


def predict_seconds(
    models: dict[str, T.Any], batch: pd.DataFrame, repeat: int
) -> dict[str, list[float]]:
    """Time loaded models' predictions of one in-memory batch, `repeat` times each.

    Each model first predicts once, untimed (warm-up); then the models take turns, so that a change
    of the machine's load weighs on all of them alike.
    """
    for model in models.values():
        model.predict(batch)
    seconds: dict[str, list[float]] = {key: [] for key in models}
    for _ in range(repeat):
        for key, model in models.items():
            seconds[key].append(measure.timed(functools.partial(model.predict, batch))[0])
    return seconds


def inference_speed(path: Path, version: int, folder: Path) -> float:
    """Run the inference job in process on a Parquet input and return its rows/s."""
    from bikes.io import datasets, services
    from bikes.jobs.inference import InferenceJob

    job = InferenceJob(
        logger_service=services.LoggerService(level="WARNING"),
        inputs=datasets.ParquetReader(path=str(path)),
        outputs=datasets.ParquetWriter(path=str(folder / "outputs/speed.parquet")),
        version=version,
    )
    with job as runner:
        return runner.run().rows_per_second


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


def table(results: T.Sequence[Result]) -> str:
    """Format the results as a Markdown table."""
    header = [
        "benchmark",
        "unit",
        "default (median)",
        "spread (min-max)",
        "reference",
        "ratio",
        "target",
        "ok",
    ]
    rows = [header, ["---"] * len(header)]
    for result in results:
        spread = (
            f"{fmt(result.default.low)}-{fmt(result.default.high)}"
            if len(result.default.values) > 1
            else ""
        )
        ok = {True: "yes", False: "NO", None: ""}[result.ok]
        rows.append(
            [
                result.name,
                result.unit,
                fmt(result.default.median),
                spread,
                fmt(result.reference.median) if result.reference else "",
                f"{result.ratio:.2f}x" if result.ratio is not None else "",
                result.target or "",
                ok,
            ]
        )
    widths = [max(len(row[index]) for row in rows) for index in range(len(header))]
    lines = [
        "| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    return "\n".join(lines)


def machine() -> dict[str, T.Any]:
    """Describe the machine, the software and the load."""
    import sklearn

    git = shutil.which("git")
    commit = ""
    if git:
        process = subprocess.run(  # noqa: S603 (git from the PATH)
            [git, "-C", str(workspace.ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        )
        commit = process.stdout.strip()
    return {
        "date": datetime.datetime.now(tz=datetime.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "memory_gib": round(measure.total_memory() / GIB, 1),
        "load_average": os.getloadavg(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "scikit_learn": sklearn.__version__,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "commit": commit,
    }


# %% command line

parser = argparse.ArgumentParser(
    prog="python -m benchmarks",
    description="Benchmark the bikes package on the real data, against the reference model.",
)
parser.add_argument(
    "--source",
    default=None,
    help="path or URL of hour.csv or its zip archive (default: BIKES_DATA_SOURCE, else UCI)",
)
parser.add_argument("--output", default="reports/benchmarks.json", help="JSON report path")
parser.add_argument(
    "--only",
    nargs="+",
    default=None,
    help=f"groups ({', '.join(GROUPS)}) or jobs ({', '.join(JOBS)}) to run (default: all groups"
    " but tests)",
)
parser.add_argument("--repeat", type=int, default=None, help="runs of each cheap figure (3)")
parser.add_argument("--repeat-heavy", type=int, default=1, help="runs of tuning and pipeline (1)")
parser.add_argument("--cli-repeat", type=int, default=None, help="runs of each startup (10)")
parser.add_argument("--with-tests", action="store_true", help="also time the test suite (long)")
parser.add_argument("--quick", action="store_true", help="1 run each, small sizes, small tuning")
parser.add_argument("--big-rows", type=int, default=None, help="large throughput size (1M)")
parser.add_argument(
    "--fit-rows",
    type=int,
    default=None,
    help="large fit size (100k: the forest needs minutes at 1M)",
)
parser.add_argument("--huge-rows", type=int, default=None, help="large inference size (10M)")
parser.add_argument(
    "--shap-reference-rows", type=int, default=None, help="rows explained for the reference (20)"
)
parser.add_argument("--workdir", default=None, help="parent of the work folders (a temp dir)")
parser.add_argument("--keep", action="store_true", help="keep the work folders")


def parse(argv: T.Sequence[str] | None = None) -> Options:
    """Parse the command line into options (quick mode changes the defaults)."""
    from bikes.jobs.preparation import default_source

    args = parser.parse_args(argv)
    quick = bool(args.quick)
    selected = args.only or [group for group in GROUPS if group != "tests"]
    unknown = [name for name in selected if name not in GROUPS and name not in JOBS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    jobs = tuple(name for name in selected if name in JOBS)
    groups = tuple(name for name in selected if name in GROUPS)
    if jobs:
        groups = (*groups, "jobs")
    if args.with_tests:
        groups = (*groups, "tests")
    source = args.source or default_source()
    if "://" not in source:
        source = str(Path(source).resolve())
    return Options(
        source=source,
        output=Path(args.output),
        groups=groups,
        jobs=jobs or JOBS,
        repeat=args.repeat or (1 if quick else 3),
        repeat_heavy=args.repeat_heavy,
        cli_repeat=args.cli_repeat or (3 if quick else 10),
        big_rows=args.big_rows or (100_000 if quick else 1_000_000),
        fit_rows=args.fit_rows or (20_000 if quick else 100_000),
        huge_rows=args.huge_rows or (300_000 if quick else 10_000_000),
        shap_reference_rows=args.shap_reference_rows or (5 if quick else 20),
        quick=quick,
        workdir=Path(args.workdir) if args.workdir else None,
        keep=bool(args.keep),
    )


def report(
    options: Options, results: T.Sequence[Result], before: dict[str, T.Any]
) -> dict[str, T.Any]:
    """Return the JSON report: machine, options and results."""
    after = os.getloadavg()
    settings = {
        key: str(value) if isinstance(value, Path) else value
        for key, value in dataclasses.asdict(options).items()
    }
    return {
        "machine": {**before, "load_average_after": after},
        "options": settings,
        "results": [result.to_dict() for result in results],
    }


def main(argv: T.Sequence[str] | None = None) -> int:
    """Run the benchmarks, print the table, write the JSON report; return the exit code."""
    options = parse(argv)
    before = machine()
    print(f"Benchmarks on {before['cpus']} cores, load {before['load_average']}", flush=True)
    if options.workdir:
        options.workdir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="bikes-bench-", dir=options.workdir))
    try:
        results = Suite(options, root).run()
    finally:
        if not options.keep:
            shutil.rmtree(root, ignore_errors=True)
    data = report(options, results, before)
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print()
    print(table(results))
    print(
        f"\nReport: {options.output} (load average after: {data['machine']['load_average_after']})"
    )
    return 0
