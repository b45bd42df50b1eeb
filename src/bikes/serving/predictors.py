"""How a served model predicts: its whole pipeline, or the pipeline after a mere column selection.

The first step of the default model is a `ColumnTransformer` that passes 12 columns through and
drops the rest: with pandas output, the next step receives `inputs[columns]` itself. Skipping that
step halves the CPU of a one-row prediction (1.6 ms against 2.9 ms here, mostly pandas overhead),
and it is taken only when it gives exactly the pipeline's predictions on a check row, without a
warning; any other pipeline predicts whole. scikit-learn's checks of finite values and parameters
are skipped too: the inputs passed the schema, and the predictions are the same.
"""

from __future__ import annotations

import typing as T
import warnings

if T.TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline

    from bikes.io.registries import LoadedModel


def selection(pipeline: Pipeline) -> list[str] | None:
    """Return the columns that the first step of a pipeline only selects (None: it transforms)."""
    from sklearn.compose import ColumnTransformer

    first = pipeline[0]
    if len(pipeline) < 2 or not isinstance(first, ColumnTransformer) or first.remainder != "drop":
        return None
    columns: list[str] = []
    for _, transformer, selected in first.transformers:
        if isinstance(transformer, str) and transformer == "drop":
            continue
        named = isinstance(selected, list) and all(isinstance(name, str) for name in selected)
        if not (isinstance(transformer, str) and transformer == "passthrough" and named):
            return None
        columns += selected
    return columns


class Predictor:
    """Predict with a loaded model, through the shortcut when it is exact.

    Attributes:
        model: the loaded model.
        columns: the columns that its first step selects (None: no shortcut).
        rest: the steps after the selection (None: no shortcut).
    """

    def __init__(self, model: LoadedModel, check: pd.DataFrame) -> None:
        """Take the shortcut if it predicts `check` (valid inputs) exactly as the pipeline does."""
        self.model = model
        self.columns = selection(model.pipeline)
        self.rest = model.pipeline[1:] if self.columns is not None else None
        if self.columns is not None:
            whole = self.whole(check)
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # e.g. feature names the next step did not fit on
                try:
                    exact = self.predict(check).equals(whole)
                except Exception:  # any surprise: the whole pipeline, always
                    exact = False
            if not exact:
                self.columns = self.rest = None

    def whole(self, inputs: pd.DataFrame) -> pd.DataFrame:
        """Predict with the whole pipeline (as the batch jobs do)."""
        import sklearn

        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            return self.model.predict(inputs)

    def predict(self, inputs: pd.DataFrame) -> pd.DataFrame:
        """Predict inputs: a non-negative `prediction` column and its bounds, indexed alike."""
        import sklearn

        from bikes.core import models

        if self.columns is None or self.rest is None:
            return self.whole(inputs)
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            outputs = models.predict(self.rest, inputs[self.columns])
        return self.model.bound(outputs, inputs)
