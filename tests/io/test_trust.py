"""Tests of the allow-list of the types that a saved model may hold."""

from __future__ import annotations

import functools
import itertools
import typing as T
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from bikes.core import schemas
from bikes.core.models import BaselineSklearnModel, GradientBoostingModel, Model
from bikes.io import trust


def options(field: str) -> tuple[T.Any, ...]:
    """Return the values of a `Literal` field of the gradient boosting."""
    return T.get_args(GradientBoostingModel.model_fields[field].annotation)


def every_model() -> list[Model]:
    """Return a small model of every kind and every option that changes the pipeline's types."""
    boosting: list[Model] = [
        GradientBoostingModel(max_iter=2, target=target, loss=loss, categorical_features=features)
        for target, loss, features in itertools.product(
            options("target"), options("loss"), [[], ["season", "weathersit"]]
        )
    ]
    return [*boosting, BaselineSklearnModel(n_estimators=2, max_depth=3)]


def test_allow_list_is_exactly_what_the_models_hold(prepared: dict[str, Path]) -> None:
    inputs = schemas.InputsSchema.check(pd.read_parquet(prepared["inputs_train"]))
    targets = schemas.TargetsSchema.check(pd.read_parquet(prepared["targets_train"]))
    held: set[str] = set()

    with threadpool_limits(limits=1):  # OpenMP threads thrash on busy cores
        for model in every_model():
            held.update(trust.pipeline_types(model.fit(inputs, targets).get_internal_model()))

    assert len(every_model()) == 13  # 3 targets x 2 losses x 2 feature options, and the forest
    assert held == trust.TRUSTED_TYPES  # none missing, none stale


def halve(values: pd.DataFrame) -> pd.DataFrame:
    """A function of this test module: not in the allow-list."""
    return values / 2


@pytest.mark.parametrize(
    ("function", "refused"),
    [
        (halve, "test_trust.halve"),
        (functools.partial(np.savetxt, "anywhere.txt"), "numpy.savetxt"),  # a stock function
        (eval, "builtins.eval"),
    ],
    ids=["foreign", "stock-but-dangerous", "builtin"],
)
def test_pipeline_types_refuse_what_is_not_allowed(
    function: T.Callable[..., T.Any], refused: str
) -> None:
    pipeline = Pipeline([("step", FunctionTransformer(function))])

    with pytest.raises(ValueError, match=f"outside the allow-list: {refused}$"):
        trust.pipeline_types(pipeline)

    assert not Path("anywhere.txt").exists()


def test_refused_names_types_outside_the_allow_list() -> None:
    allowed = sorted(trust.TRUSTED_TYPES)

    assert trust.refused(allowed) == []
    assert trust.refused(["numpy.savetxt", *allowed, "builtins.exec"]) == [
        "builtins.exec",
        "numpy.savetxt",
    ]
    assert trust.refused(["sklearn.tree._tree.Tree.evil"]) == ["sklearn.tree._tree.Tree.evil"]
