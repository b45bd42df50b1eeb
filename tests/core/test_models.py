"""Tests of the models: fit, predict, tune, explain, and no leakage of the target."""

from __future__ import annotations

import pandas as pd
import pytest

from bikes.core import metrics, models, schemas

FAST = 30


@pytest.fixture
def data(hours: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    return schemas.InputsSchema.check(hours), schemas.TargetsSchema.check(hours)


@pytest.mark.parametrize(
    "model",
    [
        models.GradientBoostingModel(max_iter=FAST),
        models.GradientBoostingModel(max_iter=FAST, target="log", categorical_features=["hr"]),
        models.BaselineSklearnModel(n_estimators=10, max_depth=6),
    ],
    ids=["gbm", "gbm-log-categorical", "baseline"],
)
def test_models_learn_the_signal(
    model: models.Model, data: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    inputs, targets = data
    train, test = slice(0, 1800), slice(1800, None)
    model.fit(inputs.iloc[train], targets.iloc[train])
    outputs = model.predict(inputs.iloc[test])
    schemas.OutputsSchema.check(outputs)
    assert outputs.index.equals(inputs.iloc[test].index)
    rmse = metrics.SklearnMetric().score(targets["cnt"].iloc[test], outputs["prediction"])
    naive = metrics.SklearnMetric().score(
        targets["cnt"].iloc[test], pd.Series(targets["cnt"].iloc[train].mean(), index=outputs.index)
    )
    assert rmse < naive / 2


def test_predictions_ignore_the_leaking_columns(hours: pd.DataFrame) -> None:
    model = models.GradientBoostingModel(max_iter=FAST).fit(
        schemas.InputsSchema.check(hours), schemas.TargetsSchema.check(hours)
    )
    shuffled = hours.assign(
        casual=hours["casual"].sample(frac=1, random_state=1).to_numpy(),
        registered=0,
        cnt=0,
    )
    pd.testing.assert_frame_equal(
        model.predict(schemas.InputsSchema.check(hours)),
        model.predict(schemas.InputsSchema.check(shuffled)),
    )
    features = model.get_internal_model()[:-1].get_feature_names_out()
    assert {"cnt", *schemas.LEAKING_COLUMNS}.isdisjoint(features)


def test_params_round_trip() -> None:
    model = models.GradientBoostingModel()
    assert model.set_params(learning_rate=0.05, max_iter=10) is model
    assert model.get_params()["learning_rate"] == 0.05
    assert models.GradientBoostingModel(**model.get_params()) == model
    with pytest.raises(ValueError, match="not fitted"):
        model.predict(pd.DataFrame())


def test_explanations_cover_every_feature(data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    inputs, targets = data
    model = models.GradientBoostingModel(max_iter=FAST).fit(inputs, targets)
    values = model.explain_samples(inputs.head(50))
    schemas.SHAPValuesSchema.check(values)
    assert values.shape == (50, 12)
    assert values.index.equals(inputs.head(50).index)
    importances = schemas.FeatureImportancesSchema.check(model.explain_model(inputs.head(200)))
    assert importances["feature"].iloc[0] == "hr"
    assert importances["importance"].is_monotonic_decreasing
