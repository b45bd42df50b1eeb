"""The models group: scores, fit, prediction, load and artifacts, in one copy of the seed."""

from __future__ import annotations

import typing as T

from benchmarks import artifacts, fitting, loading, prediction, workspace

if T.TYPE_CHECKING:
    from benchmarks.session import Session


def run(session: Session) -> None:
    """Measure both models in process (the figures of `fitting`, `prediction`, `loading`...)."""
    from bikes.io import datasets

    with session.checkout() as folder, workspace.inside(folder):
        inputs = datasets.ParquetReader(path="data/inputs_test.parquet").read()
        targets = datasets.ParquetReader(path="data/targets_test.parquet").read()
        fitting.scores(session, folder)
        fitting.fits(session, folder, inputs, targets)
        prediction.predictions(session, inputs)
        prediction.inferences(session, folder, inputs)
        loading.run(session, folder)
        artifacts.run(session, folder)
