"""Scaling benchmark: the Dask engine and distributed tuning, against pandas and one process.

`uv run python -m benchmarks.scaling` prepares the real data in a work folder outside the
repository (default `/tmp/bikes-scaling`), trains and registers a champion, repeats the test rows
into a partitioned Parquet input of `--rows` rows (parts of 1,000,000 rows), then measures:

- outputs of the Dask engine identical to the pandas path's on a `--sample` of the rows;
- rows/s of the Dask engine on 1 and 2 workers (scaling efficiency: rows/s on 2 / (2 x on 1)),
  and peak resident memory per worker; the same figures for the pandas path (`LocalEngine`);
- the tuning job with 2 worker processes against 1, the same number of trials (no pruning) in a
  journal study of its own each, and the trial-seconds each spent (the workers' TPE samples other
  params than one process's, so the work differs a little).

The machine's load average is read before each measurement: on a shared machine, scaling figures
are depressed by the other processes. A table goes to stdout, the figures to `scaling.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import typing as T
from pathlib import Path

if T.TYPE_CHECKING:
    import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "bike-sharing" / "hour.csv"
PART_ROWS = 1_000_000
GiB = 2**30


def prepare(work: Path, source: str) -> None:
    """Prepare the real data in `work` and register a champion trained with default params."""
    from bikes import jobs

    os.chdir(work)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'mlflow.db'}"
    os.environ["BIKES_DATA_SOURCE"] = source
    if not (work / "data" / "inputs_test.parquet").exists():
        with jobs.PreparationJob() as runner:
            runner.run()
    if not (work / "mlflow.db").exists():
        with jobs.TrainingJob(params_file=None, registry_alias="champion") as runner:
            runner.run()


def write_parts(inputs: pd.DataFrame, rows: int, folder: Path) -> Path:
    """Write `rows` rows of the inputs, repeated, as parts of `PART_ROWS` rows (unique instants)."""
    import numpy as np
    import pandas as pd

    if folder.is_dir() and len(list(folder.iterdir())) == -(-rows // PART_ROWS):
        return folder  # made by a previous run
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    copies = -(-PART_ROWS // len(inputs))
    block = pd.concat([inputs] * copies).iloc[:PART_ROWS]
    for number, start in enumerate(range(0, rows, PART_ROWS)):
        part = block.iloc[: min(PART_ROWS, rows - start)].copy()
        part.index = pd.Index(np.arange(start, start + len(part)), name=inputs.index.name)
        part.to_parquet(folder / f"part-{number:05d}.parquet", row_group_size=100_000)
    return folder


def infer(inputs: Path, outputs: Path, workers: int | None) -> dict[str, float]:
    """Run the inference job on the pandas path (`workers` None) or a local Dask cluster."""
    from bikes import jobs
    from bikes.io import datasets, engines

    engine: engines.EngineKind = (
        engines.LocalEngine() if workers is None else engines.DaskEngine(n_workers=workers)
    )
    job = jobs.InferenceJob(
        inputs=datasets.ParquetReader(path=str(inputs)),
        outputs=datasets.ParquetWriter(path=str(outputs)),
        engine=engine,
        log_every=20,
    )
    load = os.getloadavg()[0]
    with job as runner:
        result = runner.run()
    return {
        "rows": result.rows,
        "seconds": result.seconds,
        "rows_per_second": result.rows_per_second,
        "workers": result.workers,
        "peak_memory_gib": result.peak_memory / GiB,
        "load_average": load,
    }


def identical(sample: Path, work: Path) -> bool:
    """Tell whether the Dask engine's outputs are those of the pandas path, value for value."""
    import pandas as pd

    infer(sample, work / "sample-pandas.parquet", workers=None)
    infer(sample, work / "sample-dask.parquet", workers=2)
    local = pd.read_parquet(work / "sample-pandas.parquet")
    dask = pd.read_parquet(work / "sample-dask.parquet")
    return bool(local.equals(dask) and local.index.equals(dask.index))


def tune(work: Path, workers: int, trials: int) -> dict[str, float]:
    """Time the tuning job with `workers` processes on a new journal study of `trials` trials."""
    from bikes import jobs
    from bikes.utils import searchers

    journal = work / f"study-{workers}.log"
    journal.unlink(missing_ok=True)
    searcher = searchers.OptunaSearcher(
        n_trials=trials,
        timeout=None,
        n_jobs=1,
        pruning=False,  # pruned trials cost less, and which are pruned depends on the workers
        storage=f"journal:{journal}",
        n_workers=workers,
    )
    load = os.getloadavg()[0]
    start = time.perf_counter()
    with jobs.TuningJob(searcher=searcher, params_file=str(work / "best.json")) as runner:
        result = runner.run()
    seconds = time.perf_counter() - start
    study = searcher.load(jobs.TuningJob().metric, worker=0)  # how busy the workers were
    ended = study.get_trials(deepcopy=False)
    busy: float = sum(
        (trial.datetime_complete - trial.datetime_start).total_seconds()
        for trial in ended
        if trial.datetime_complete and trial.datetime_start
    )
    return {
        "trials": len(result.trials),
        "seconds": seconds,
        "trial_seconds": busy,
        "load_average": load,
    }


def table(figures: dict[str, T.Any]) -> str:
    """Return the figures as a Markdown table."""
    inference = figures["inference"]
    one, two, pandas = inference["dask-1"], inference["dask-2"], inference["pandas"]
    efficiency = two["rows_per_second"] / (2 * one["rows_per_second"])
    tuning = figures["tuning"]
    ratio = tuning["2"]["seconds"] / tuning["1"]["seconds"]
    work = tuning["2"]["trial_seconds"] / tuning["1"]["trial_seconds"]  # TPE samples differ
    memory = max(one["peak_memory_gib"], two["peak_memory_gib"])
    sample = f"Dask = pandas on {figures['sample_rows']:,} rows"
    trials = tuning["1"]["trials"]
    rows = [
        ("rows scored", f"{one['rows']:,}", "", ""),
        ("pandas path rows/s (1 process)", f"{pandas['rows_per_second']:,.0f}", "", ""),
        ("pandas path peak memory", f"{pandas['peak_memory_gib']:.2f} GiB", "", ""),
        ("Dask rows/s, 1 worker", f"{one['rows_per_second']:,.0f}", "", ""),
        ("Dask rows/s, 2 workers", f"{two['rows_per_second']:,.0f}", "", ""),
        ("Dask scaling efficiency", f"{efficiency:.2f}", ">= 0.8", ok(efficiency >= 0.8)),
        ("Dask peak memory per worker", f"{memory:.2f} GiB", "< 2 GiB", ok(memory < 2)),
        (sample, str(figures["identical"]), "True", ok(figures["identical"])),
        (f"tuning, {trials} trials, 1 process", f"{tuning['1']['seconds']:.1f} s", "", ""),
        (f"tuning, {trials} trials, 2 processes", f"{tuning['2']['seconds']:.1f} s", "", ""),
        ("tuning time, 2 processes / 1", f"{ratio:.2f}", "<= 0.6", ok(ratio <= 0.6)),
        ("tuning trial-seconds, 2 processes / 1", f"{work:.2f}", "", ""),
    ]
    lines = ["| figure | value | target | ok |", "| --- | --- | --- | --- |"]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    loads = [run["load_average"] for run in [*inference.values(), *tuning.values()]]
    lines.append(f"\nLoad average (1 min) before each run: {', '.join(f'{x:.1f}' for x in loads)}")
    return "\n".join(lines)


def ok(holds: bool) -> str:
    """Say whether a target holds."""
    return "yes" if holds else "no"


def parse(argv: T.Sequence[str] | None) -> argparse.Namespace:
    """Parse the options of the benchmark."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scaling", description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000_000, help="rows of the input")
    parser.add_argument("--sample", type=int, default=1_000_000, help="rows compared to pandas")
    parser.add_argument("--trials", type=int, default=40, help="trials of each tuning run")
    parser.add_argument(
        "--only",
        choices=["inference", "tuning"],
        help="measure one group, keeping the other's figures of the last run (scaling.json)",
    )
    parser.add_argument("--folder", type=Path, default=Path("/tmp/bikes-scaling"))  # noqa: S108
    parser.add_argument("--source", default=os.getenv("BIKES_DATA_SOURCE") or str(DATA))
    return parser.parse_args(argv)


def main(argv: T.Sequence[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    import pandas as pd

    options = parse(argv)
    work = options.folder.resolve()
    if ROOT in (work, *work.parents):
        sys.exit(f"{work}: the data must stay outside the repository")
    work.mkdir(parents=True, exist_ok=True)
    prepare(work, options.source)
    report = work / "scaling.json"
    figures: dict[str, T.Any] = json.loads(report.read_text()) if options.only else {}
    if options.only != "tuning":
        inputs = pd.read_parquet(work / "data" / "inputs_test.parquet")
        big = write_parts(inputs, options.rows, work / f"inputs-{options.rows}.parquet")
        sample = write_parts(inputs, options.sample, work / f"inputs-{options.sample}.parquet")
        figures |= {"rows": options.rows, "sample_rows": options.sample}
        figures["identical"] = identical(sample, work)
        figures["inference"] = {
            name: infer(big, work / f"predictions-{name}.parquet", workers)
            for name, workers in (("dask-1", 1), ("dask-2", 2), ("pandas", None))
        }
    if options.only != "inference":
        figures["tuning"] = {str(n): tune(work, n, options.trials) for n in (1, 2)}
    report.write_text(json.dumps(figures, indent=2) + "\n")
    print(table(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
