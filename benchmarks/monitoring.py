"""Benchmark of the monitoring: false alarms, detection, the replay of the test months, costs.

`uv run python -m benchmarks.monitoring` prepares the real data (`BIKES_DATA_SOURCE`, or
../shared/data/bike-sharing/hour.csv) with the preparation job in a scratch folder, trains and
registers the default model there, then measures:

- calibration: the drift scores of the weeks of the reference period, each judged by the rest of
  the reference (as a week of production is), and the thresholds calibrated for them;
- control: the share of 50 weekly windows drawn from the reference period that alert (at most
  5%), and, for comparison, the share that a Kolmogorov-Smirnov p-value under 0.05 would flag;
- detection: the share of the same windows, with an injected shift, that alert naming the shifted
  column (at least 95%): temperatures one standard deviation warmer, one weather category doubled;
  and the ceiling of the shifted column's statistic alone at 5% false alarms (a threshold set on
  those very windows, no other column alerting): what a week of real weather allows;
- the replay of the test months, week by week with their actuals: which week alerts first, why;
- costs: seconds a weekly window (at most 5 s), and for a million current rows (at most 30 s).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import tempfile
import time
import typing as T
from pathlib import Path

from benchmarks.workspace import ROOT

if T.TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from bikes.monitoring.monitor import Checks, Predict, Reference, WindowResult

REAL_DATA = ROOT.parent / "shared" / "data" / "bike-sharing" / "hour.csv"
WEATHER = ["weathersit", "temp", "atemp", "hum", "windspeed"]
CONTROL_WINDOWS = 50
WINDOW_DAYS = 7
MILLION = 1_000_000


# %% INJECTIONS AND RATES


def shift(inputs: pd.DataFrame, column: str, by: float) -> pd.DataFrame:
    """Return the inputs with a column moved by `by` (e.g. one standard deviation warmer)."""
    return inputs.assign(**{column: inputs[column] + by})


def double(
    inputs: pd.DataFrame, column: str, category: int, rng: np.random.Generator
) -> pd.DataFrame:
    """Return the inputs with twice the hours of a category (drawn from the other hours)."""
    values = inputs[column].to_numpy().copy()
    others = (values != category).nonzero()[0]
    count = min(int((values == category).sum()), len(others))
    values[rng.choice(others, size=count, replace=False)] = category
    return inputs.assign(**{column: values})


def draw_windows(
    times: pd.Series[pd.Timestamp], count: int, days: int, seed: int
) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Draw `count` windows of `days` days starting at a random midnight of the times' span."""
    import numpy as np
    import pandas as pd

    first, last = times.min().normalize(), times.max().normalize() - pd.Timedelta(days=days)
    starts = pd.date_range(first, last, freq="D")
    chosen = np.random.default_rng(seed).choice(
        len(starts), size=count, replace=count > len(starts)
    )
    return [(starts[i], starts[i] + pd.Timedelta(days=days)) for i in sorted(chosen)]


@dataclasses.dataclass(frozen=True)
class Rates:
    """The outcome of windows of the reference period, as they are and with injected shifts.

    Attributes:
        windows: windows drawn.
        false_alarms: windows as they are that alert (any check).
        drift_alarms: windows as they are whose drift alerts.
        ks_alarms: windows as they are that a KS p-value under 0.05 flags on a weather column.
        detected: by injection, windows that alert naming the shifted column.
        reasons: the breaches of the false alarms.
        scores: by injection, the shifted column's score over its threshold in each window, as
            it is (`control`) and shifted (`shifted`).
    """

    windows: int
    false_alarms: int
    drift_alarms: int
    ks_alarms: int
    detected: dict[str, int]
    reasons: list[str]
    scores: dict[str, dict[str, list[float]]]

    def ceiling(self, injection: str, false_alarm_rate: float = 0.05) -> float:
        """Return the share of shifted windows above the score of the top windows as they are.

        The best that the shifted column's statistic alone can do at `false_alarm_rate`: its
        threshold set on the very windows it is measured on, no other column alerting.
        """
        import numpy as np

        found = self.scores[injection]
        cut = float(np.quantile(found["control"], 1.0 - false_alarm_rate))
        return float(np.mean(np.asarray(found["shifted"]) > cut))


def ratio(result: WindowResult, column: str) -> float:
    """Return a column's drift score over its threshold in a window's result (0: not scored)."""
    for drift in result.drift.columns:
        if drift.column == column and drift.score is not None and drift.threshold:
            return drift.score / drift.threshold
    return 0.0


def observe(
    checks: Checks,
    start: pd.Timestamp,
    end: pd.Timestamp,
    inputs: pd.DataFrame,
    *,
    reference: Reference,
    predict: Predict,
    actuals: pd.Series[T.Any] | None = None,
) -> WindowResult:
    """Monitor the rows of `inputs` between `start` and `end` as one window."""
    from bikes.monitoring import windows

    window = windows.Window(1, start, end, start, end)
    rows = inputs.loc[window.contains(windows.timestamps(inputs))]
    return checks.observe(
        window, rows, reference=reference, predict=predict, actuals=actuals
    ).result


def ks_flags(reference: pd.DataFrame, window: pd.DataFrame) -> bool:
    """Tell whether a KS test at 5% rejects the reference's law for a continuous weather column."""
    from scipy import stats

    columns = [name for name in WEATHER if name != "weathersit"]
    return any(stats.ks_2samp(reference[c], window[c]).pvalue < 0.05 for c in columns)


def rates(
    checks: Checks,
    reference: Reference,
    predict: Predict,
    *,
    actuals: pd.Series[T.Any] | None = None,
    count: int = CONTROL_WINDOWS,
    seed: int = 0,
) -> Rates:
    """Monitor windows drawn from the reference period, as they are and with injected shifts."""
    import numpy as np

    from bikes.monitoring import windows

    rng = np.random.default_rng(seed)
    inputs = reference.inputs.drop(columns="prediction")
    deviation = float(inputs["temp"].std())
    injections: dict[str, T.Callable[[pd.DataFrame], pd.DataFrame]] = {
        "temp +1 sd": lambda frame: shift(frame, "temp", deviation),
        "temp +1.5 sd": lambda frame: shift(frame, "temp", 1.5 * deviation),
        "weathersit 2 doubled": lambda frame: double(frame, "weathersit", 2, rng),
        "weathersit 3 doubled": lambda frame: double(frame, "weathersit", 3, rng),
    }
    named = {name: name.split()[0] for name in injections}
    false_alarms = drift_alarms = ks_alarms = 0
    detected = dict.fromkeys(injections, 0)
    reasons = []
    scores: dict[str, dict[str, list[float]]] = {
        name: {"control": [], "shifted": []} for name in injections
    }
    look = functools.partial(observe, checks, reference=reference, predict=predict, actuals=actuals)
    for start, end in draw_windows(reference.times, count, WINDOW_DAYS, seed):
        quiet = look(start, end, inputs)
        for name in injections:
            scores[name]["control"].append(ratio(quiet, named[name]))
        false_alarms += bool(quiet.breaches)
        drift_alarms += bool(quiet.drift.breaches)
        reasons += [f"{start:%Y-%m-%d}: {breach}" for breach in quiet.breaches]
        inside = windows.Window(1, start, end, start, end).contains(reference.times)
        ks_alarms += ks_flags(inputs.loc[~inside], inputs.loc[inside])
        for name, inject in injections.items():
            window = inject(inputs.loc[inside])
            result = look(start, end, window)
            detected[name] += bool(result.breaches) and named[name] in result.drift.drifted
            scores[name]["shifted"].append(ratio(result, named[name]))
    return Rates(count, false_alarms, drift_alarms, ks_alarms, detected, reasons, scores)


def calibration(
    checks: Checks, reference: Reference, predict: Predict
) -> dict[str, dict[str, float]]:
    """Return quantiles of each drift score over the weeks of the reference period.

    Each week is judged by the rest of the reference, as the monitor judges a week of production.
    """
    import pandas as pd

    scores: dict[str, list[float]] = {}
    times = reference.times
    inputs = reference.inputs.drop(columns="prediction")
    for start in pd.date_range(
        times.min().normalize(), times.max() - pd.Timedelta(days=7), freq="7D"
    ):
        found = observe(
            checks,
            start,
            start + pd.Timedelta(days=7),
            inputs,
            reference=reference,
            predict=predict,
        ).drift
        for drift in [*found.columns, *([found.prediction] if found.prediction else [])]:
            scores.setdefault(drift.column, []).append(drift.score or 0.0)
            scores.setdefault(f"{drift.column} threshold", []).append(drift.threshold)
    levels = {"p50": 0.5, "p95": 0.95, "p99": 0.99, "max": 1.0}
    return {
        column: {name: round(float(pd.Series(values).quantile(q)), 3) for name, q in levels.items()}
        for column, values in scores.items()
    }


# %% THE REAL DATA, THE JOB


def enter(folder: Path) -> None:
    """Work in `folder`, with its own MLflow store."""
    os.chdir(folder)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{folder / 'mlflow.db'}"
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"


def prepare(source: Path) -> None:
    """Prepare the real data and register the default model (the champion) here."""
    from bikes import jobs

    with jobs.PreparationJob(source=str(source)) as runner:
        runner.run()
    with jobs.TrainingJob(registry_alias="champion") as runner:
        runner.run()


def run_job(**fields: T.Any) -> tuple[float, dict[str, T.Any], str]:
    """Run the monitoring job; return its seconds, its summary and its error (if any)."""
    from bikes import jobs
    from bikes.core.errors import CheckError

    job = jobs.MonitoringJob.model_validate({"alerts_service": {"enable": False}, **fields})
    start, error = time.perf_counter(), ""
    with job as runner:
        try:
            runner.run()
        except CheckError as failure:
            error = str(failure)
    seconds = time.perf_counter() - start
    summary = json.loads((Path(job.reports_dir) / "summary.json").read_text(encoding="utf-8"))
    return seconds, summary, error


def replay_rows(summary: dict[str, T.Any]) -> list[str]:
    """Return one line a window of a replay: its drift, errors, volume and breaches."""
    lines = []
    for item in summary["windows"]:
        found, scored = item["drift"], item["performance"] or {}
        worst = max(
            found["columns"], key=lambda column: (column["score"] or 0) / (column["threshold"] or 1)
        )
        ratio = scored.get("rmse_ratio")
        lines.append(
            f"{item['window']['label']}  rmse {scored.get('rmse') or 0:6.1f}"
            f" ({ratio or 0:.2f}x)  bias {scored.get('bias') or 0:+6.1f}"
            f"  hours {item['quality']['hours']:3d}/{item['quality']['expected_hours']}"
            f"  {worst['column']} {worst['score'] or 0:.2f}"
            f"  prediction {(found['prediction'] or {}).get('score') or 0:.2f}"
            f"  {'ALERT: ' + '; '.join(item['breaches']) if item['breaches'] else 'quiet'}"
        )
    return lines


def million_rows(folder: Path) -> Path:
    """Write a million current rows: the test inputs repeated (one window of many stations)."""
    import pandas as pd

    test = pd.read_parquet(folder / "data" / "inputs_test.parquet")
    repeats = -(-MILLION // len(test))
    big = pd.concat([test] * repeats).iloc[:MILLION]
    big.index = pd.RangeIndex(len(big), name="instant")
    path = folder / "data" / "inputs_million.parquet"
    big.to_parquet(path)
    return path


def in_process(folder: Path) -> tuple[Checks, Reference, Predict, pd.Series[T.Any]]:
    """Return the default checks scaled by the reference, the reference and the champion."""
    from bikes import jobs
    from bikes.core import schemas
    from bikes.io import registries, services
    from bikes.monitoring.monitor import Reference

    services.MlflowService().start()
    model = registries.SklearnLoader().load(registries.uri_for_model_alias("bikes", "champion"))

    def predict(inputs: pd.DataFrame) -> pd.Series[float]:
        return model.predict(schemas.InputsSchema.check(inputs))["prediction"]

    job = jobs.MonitoringJob()
    reference = Reference.of(job.read_reference(), predict)
    targets = schemas.TargetsSchema.check(pd_read(folder / "data" / "targets_train.parquet"))
    checks = job.checks.model_copy(update={"drift": job.checks.drift.scaled(reference.inputs)})
    return checks, reference, predict, targets[schemas.TARGET]


def pd_read(path: Path) -> pd.DataFrame:
    """Read a Parquet file."""
    import pandas as pd

    return pd.read_parquet(path)


def measure(folder: Path, count: int) -> dict[str, T.Any]:
    """Measure everything in a prepared folder; print it as it goes; return it."""
    checks, reference, predict, actuals = in_process(folder)
    figures: dict[str, T.Any] = {"calibration": calibration(checks, reference, predict)}
    print("drift scores of the weeks of the reference period (each against the rest of it):")
    for column, levels in figures["calibration"].items():
        print(f"  {column:<11} " + "  ".join(f"{k} {v:.3f}" for k, v in levels.items()))
    start = time.perf_counter()
    found = rates(checks, reference, predict, actuals=actuals, count=count)
    seconds = time.perf_counter() - start
    figures["rates"] = dataclasses.asdict(found)
    print(
        f"control: {found.false_alarms}/{found.windows} windows alert (drift: {found.drift_alarms})"
    )
    print(f"  a KS p-value < 0.05 would flag {found.ks_alarms}/{found.windows}")
    for reason in found.reasons:
        print(f"  false alarm {reason}")
    for name, hits in found.detected.items():
        print(
            f"detection, {name}: {hits}/{found.windows} windows alert naming the column"
            f" (the column's statistic alone, at 5% false alarms: {found.ceiling(name):.0%})"
        )
    print(f"({seconds / (4 * found.windows):.2f} s a window in process)")
    replay_seconds, summary, error = run_job(
        current_targets={"KIND": "ParquetReader", "path": "data/targets_test.parquet"}, replay=True
    )
    windows = len(summary["windows"])
    figures["replay"] = {"seconds": replay_seconds, "windows": windows, "error": error}
    figures["replay"]["first_alert"] = summary["first_alert"]
    print(f"replay of the test months: {windows} windows in {replay_seconds:.1f} s")
    print(f"  ({replay_seconds / windows:.2f} s a window, MLflow and reports included)")
    for line in replay_rows(summary):
        print("  " + line)
    print(f"  first alert: {summary['first_alert']}")
    path = million_rows(folder)
    big_seconds, big, _ = run_job(
        current={"KIND": "ParquetReader", "path": str(path)}, window_days=366
    )
    figures["million"] = {"seconds": big_seconds, "rows": big["windows"][0]["quality"]["rows"]}
    print(f"a million current rows in one window: {big_seconds:.1f} s")
    return figures


def main(argv: T.Sequence[str] | None = None) -> int:
    """Prepare a scratch folder, measure, print and optionally write the figures as JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.monitoring", description=__doc__)
    default = os.environ.get("BIKES_DATA_SOURCE") or str(REAL_DATA)
    parser.add_argument("--source", default=default, help="the real hour.csv")
    parser.add_argument("--windows", type=int, default=CONTROL_WINDOWS, help="control windows")
    parser.add_argument("--folder", help="scratch folder (a new temporary one by default)")
    parser.add_argument("--json", help="write the figures to this JSON file")
    args = parser.parse_args(argv)
    folder = Path(args.folder or tempfile.mkdtemp(prefix="bikes-monitoring-")).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    here = Path.cwd()
    print(f"scratch folder: {folder}")
    source = Path(args.source).resolve()
    enter(folder)
    if not (folder / "mlflow.db").exists():
        prepare(source)
    figures = measure(folder, args.windows)
    if args.json:
        target = Path(args.json) if Path(args.json).is_absolute() else here / args.json
        target.write_text(json.dumps(figures, indent=2, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
