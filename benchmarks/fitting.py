"""The models' quality and fit speed: the test scores logged by training, and fit rows/s."""

from __future__ import annotations

import time
import typing as T

from benchmarks import workspace
from benchmarks.measure import Stats
from benchmarks.report import Result, Target
from benchmarks.session import DEFAULT_VERSION, REFERENCE_VERSION, UNTUNED_VERSION
from bikes.io.tracking import split_name

if T.TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from benchmarks.session import Session

TEST_ROWS = 3_476
RMSE = "root_mean_squared_error"
SCORE = Target(60, "<=")
METRICS = {RMSE: SCORE, "mean_absolute_error": None, "r2_score": None}


def scores(session: Session, folder: Path) -> None:
    """Record the test scores that the training job logged for the models."""
    client = workspace.mlflow_client(folder)
    metrics = {}
    for version in (DEFAULT_VERSION, REFERENCE_VERSION, UNTUNED_VERSION):
        run_id = client.get_model_version("bikes", str(version)).run_id
        logged = client.get_run(run_id).data.metrics
        # by the names of the metrics, whether logged as `test_rmse` or `root_mean_squared_error`
        metrics[version] = {
            name: logged.get(split_name(name, "test"), logged.get(name, float("nan")))
            for name in METRICS
        }
    reference = metrics[REFERENCE_VERSION]
    for metric, target in METRICS.items():
        value = Stats.of([metrics[DEFAULT_VERSION][metric]])
        session.add(Result(f"test {metric}", "", value, Stats.of([reference[metric]]), target))
    session.add(
        Result(
            f"test {RMSE}, untuned",
            "",
            Stats.of([metrics[UNTUNED_VERSION][RMSE]]),
            Stats.of([reference[RMSE]]),
            SCORE,
            note="the default model with its own params (no tuning)",
        )
    )


def fits(session: Session, folder: Path, inputs: pd.DataFrame, targets: pd.DataFrame) -> None:
    """Time the fit of both models (the training job's tuned model) on repeated test rows."""
    from benchmarks.frames import repeat_rows
    from bikes.core import models
    from bikes.jobs.training import TrainingJob

    default = TrainingJob(params_file=str(folder / "outputs/tuning/best_params.json"))
    candidates = {"default": default.tuned_model(), "reference": models.BaselineSklearnModel()}
    for rows in (TEST_ROWS, session.options.fit_rows):
        big_inputs, big_targets = repeat_rows(inputs, rows), repeat_rows(targets, rows)
        repeat = session.options.repeat if rows <= TEST_ROWS else 1
        stats: dict[str, Stats] = {}
        for key, model in candidates.items():
            seconds = []
            for _ in range(repeat):
                start = time.perf_counter()
                model.fit(big_inputs, big_targets)
                seconds.append(time.perf_counter() - start)
            stats[key] = Stats.of(seconds).inverse(rows)
        session.add(
            Result(
                f"fit rows/s at {rows:,} rows",
                "rows/s",
                stats["default"],
                stats["reference"],
                note="the training job's model fit on repeated test rows",
            )
        )
