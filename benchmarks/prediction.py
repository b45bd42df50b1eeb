"""Prediction speed: the registered models' `predict` in memory, and the inference job."""

from __future__ import annotations

import functools
import typing as T

from benchmarks import measure
from benchmarks.fitting import TEST_ROWS
from benchmarks.frames import repeat_rows
from benchmarks.measure import Stats
from benchmarks.report import Result, Target
from benchmarks.session import DEFAULT_VERSION, REFERENCE_VERSION, UNTUNED_VERSION

if T.TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from benchmarks.session import Session

FASTER = Target(5, ">=", "x reference", on="ratio")  # at the large size
VERSIONS = {"default": DEFAULT_VERSION, "untuned": UNTUNED_VERSION, "reference": REFERENCE_VERSION}
NOTES = [  # the figures of the batch predictions: model, name suffix, note
    ("default", "", "the registered model's predict on one batch: point and 90% bounds"),
    ("point", ", point only", "the same model's point forecast alone"),
    ("untuned", ", untuned", "the registered model's predict on one batch: point and 90% bounds"),
]


def sizes(session: Session) -> list[int]:
    """Return the row counts of the throughput figures: the test set and a large input."""
    return [TEST_ROWS, session.options.big_rows]


def predictions(session: Session, inputs: pd.DataFrame) -> None:
    """Time the registered models' batch predictions of one in-memory batch."""
    from bikes.io import registries

    loader = registries.SklearnLoader()
    loaded = {
        key: loader.load(registries.uri_for_model_version("bikes", version))
        for key, version in VERSIONS.items()
    }
    loaded["point"] = loader.load(registries.uri_for_model_version("bikes", DEFAULT_VERSION))
    loaded["point"].intervals = None  # the default model as one without intervals
    for rows in sizes(session):
        seconds = predict_seconds(loaded, repeat_rows(inputs, rows), session.options.repeat)
        stats = {key: Stats.of(values).inverse(rows) for key, values in seconds.items()}
        target = FASTER if rows == max(sizes(session)) else None
        for key, suffix, note in NOTES:
            name = f"batch prediction rows/s at {rows:,} rows{suffix}"
            session.add(Result(name, "rows/s", stats[key], stats["reference"], target, note))


def inferences(session: Session, folder: Path, inputs: pd.DataFrame) -> None:
    """Time the in-process inference job of both models on Parquet inputs, in turns."""
    for rows in sizes(session):
        path = folder / f"data/inputs_{rows}.parquet"
        repeat_rows(inputs, rows).to_parquet(path)
        speeds: dict[str, list[float]] = {"default": [], "reference": []}
        for _ in range(session.options.repeat):  # in turns: a change of load weighs on both
            speeds["default"].append(inference_speed(path, DEFAULT_VERSION, folder))
            speeds["reference"].append(inference_speed(path, REFERENCE_VERSION, folder))
        session.add(
            Result(
                f"inference rows/s at {rows:,} rows",
                "rows/s",
                Stats.of(speeds["default"]),
                Stats.of(speeds["reference"]),
                note="the in-process InferenceJob: read, check, predict, write",
            )
        )


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
