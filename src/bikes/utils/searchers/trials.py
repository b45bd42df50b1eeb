"""Trials of a search: fit a candidate on each fold, score it, and record it as a row."""

from __future__ import annotations

import math
import typing as T

from bikes.core.errors import DataError

if T.TYPE_CHECKING:
    import pandas as pd

    from bikes.core.metrics import Metric
    from bikes.core.models import Model, Params
    from bikes.utils.splitters import Splitter, TrainTest

COMPLETE = "COMPLETE"
PRUNED = "PRUNED"


def with_params(model: Model, params: Params) -> Model:
    """Return a new, unfitted model: a copy of `model` with `params` set (and validated)."""
    return type(model).model_validate(model.get_params() | params)


def folds(cv: Splitter, inputs: pd.DataFrame) -> list[TrainTest]:
    """Return the (train, test) positions of each fold, as one clear error if there are none."""
    try:
        splits = list(cv.split(inputs))
    except ValueError as error:
        raise DataError(f"cannot split {len(inputs)} rows into {cv.KIND} folds: {error}") from None
    return splits


def fold_score(
    model: Model,
    metric: Metric,
    inputs: pd.DataFrame,
    targets: pd.DataFrame,
    fold: TrainTest,
) -> float:
    """Fit the model on the train rows of a fold and score it on its test rows."""
    from bikes.core.schemas import TARGET

    train, test = fold
    model.fit(inputs.iloc[train], targets.iloc[train])
    predictions = model.predict(inputs.iloc[test])
    return metric.score(targets.iloc[test][TARGET], predictions["prediction"])


def trial_row(trial: int, state: str, params: Params, scores: list[float], n_folds: int) -> Params:
    """Return one row of the trials frame: params, mean score and the score of each fold."""
    score = sum(scores) / len(scores) if state == COMPLETE else math.nan
    row: Params = {"trial": trial, "state": state, "params": params, "score": score}
    for number in range(n_folds):
        row[f"fold_{number + 1}"] = scores[number] if number < len(scores) else math.nan
    return row
