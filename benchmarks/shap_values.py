"""SHAP values of the whole test set (default model) and of a few rows (reference model)."""

from __future__ import annotations

import typing as T

from benchmarks import measure, workspace
from benchmarks.measure import Stats
from benchmarks.report import Result, Target
from benchmarks.session import DEFAULT_VERSION, REFERENCE_VERSION

if T.TYPE_CHECKING:
    from benchmarks.session import Session

WHOLE_TEST_SET = Target(10, "<", "s")


def run(session: Session) -> None:
    """Time the SHAP values of the test set; the reference's are extrapolated from a sample."""
    from bikes.core import models
    from bikes.io import datasets, registries

    with session.checkout() as folder, workspace.inside(folder):
        inputs = datasets.ParquetReader(path="data/inputs_test.parquet").read()
        loader = registries.SklearnLoader()
        default = loader.load(registries.uri_for_model_version("bikes", DEFAULT_VERSION))
        reference = loader.load(registries.uri_for_model_version("bikes", REFERENCE_VERSION))
        seconds = [
            measure.timed(lambda: models.shap_values(default.pipeline, inputs))[0]
            for _ in range(session.options.repeat)
        ]
        rows = min(session.options.shap_reference_rows, len(inputs))
        sample = inputs.sample(n=rows, random_state=42)
        sampled = measure.timed(lambda: models.shap_values(reference.pipeline, sample))[0]
    wall = Stats.of(seconds)
    session.add(
        Result(
            f"SHAP values of {len(inputs):,} rows",
            "s",
            wall,
            Stats.of([sampled * len(inputs) / rows]),
            WHOLE_TEST_SET,
            note=f"reference extrapolated from {rows} rows",
        )
    )
    reference_speed = Stats.of([rows / sampled])
    session.add(Result("SHAP rows/s", "rows/s", wall.inverse(len(inputs)), reference_speed))
