"""Tests of the models: fit, predict, params, explanations, and no leakage of the target."""

from __future__ import annotations

import typing as T

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
        models.GradientBoostingModel(max_iter=FAST, loss="poisson", target="identity"),
        models.GradientBoostingModel(max_iter=FAST, max_depth=3, yr_interactions=None),
        models.BaselineSklearnModel(n_estimators=10, max_depth=6),
    ],
    ids=["gbm", "gbm-log-categorical", "gbm-poisson", "gbm-depth-free", "baseline"],
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
    model = models.GradientBoostingModel(learning_rate=0.05, max_iter=10)
    assert model.get_params()["learning_rate"] == 0.05
    assert "KIND" not in model.get_params()
    assert models.GradientBoostingModel(**model.get_params()) == model
    with pytest.raises(ValueError, match="not fitted"):
        model.predict(pd.DataFrame())


def test_explanations_cover_every_feature(data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    inputs, targets = data
    model = models.GradientBoostingModel(max_iter=FAST).fit(inputs, targets)
    values = models.shap_values(model.get_internal_model(), inputs.head(50))
    schemas.SHAPValuesSchema.check(values)
    assert values.shape == (50, 12)
    assert values.index.equals(inputs.head(50).index)
    samples = models.shap_values(model.get_internal_model(), inputs.head(200))
    importances = schemas.FeatureImportancesSchema.check(models.feature_importances(samples))
    assert importances["feature"].iloc[0] == "hr"
    assert importances["importance"].is_monotonic_decreasing


@pytest.mark.parametrize(
    "params",
    [{}, {"loss": "poisson", "target": "identity"}],
    ids=["sqrt", "poisson"],
)
def test_served_predictions_are_never_negative(
    params: dict[str, T.Any], data: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    inputs, targets = data
    quiet = targets["cnt"].where(inputs["hr"].between(7, 19), 0)  # nights of no rides
    model = models.GradientBoostingModel(max_iter=FAST, **params)
    model.fit(inputs, targets.assign(cnt=quiet))
    extreme = inputs.assign(temp=-1.0, hum=2.0, windspeed=3.0, weathersit=4)
    for frame in (inputs, extreme):
        raw = model.get_internal_model().predict(frame)  # as stock MLflow serves it: no clipping
        assert raw.min() >= 0


def test_yr_interacts_only_with_the_hourly_profile(
    data: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    from sklearn.compose import TransformedTargetRegressor

    inputs, targets = data
    later = inputs.index >= inputs.index[len(inputs) // 2]
    inputs = inputs.assign(yr=later.astype(int))  # a second year, 50% busier
    targets = targets.assign(cnt=(targets["cnt"] * (1 + 0.5 * later)).round())
    model = models.GradientBoostingModel(max_iter=FAST).fit(inputs, targets)
    regressor = model.get_internal_model()[-1]
    assert isinstance(regressor, TransformedTargetRegressor)
    allowed = {models.FEATURES.index(name) for name in ["yr", *(model.yr_interactions or [])]}
    yr = models.FEATURES.index("yr")
    splits_on_yr = 0

    def walk(nodes: T.Any, index: int, path: frozenset[int]) -> None:
        nonlocal splits_on_yr
        node = nodes[index]
        if node["is_leaf"]:
            if yr in path:
                assert path <= allowed, path
            return
        feature = int(node["feature_idx"])
        splits_on_yr += feature == yr
        walk(nodes, int(node["left"]), path | {feature})
        walk(nodes, int(node["right"]), path | {feature})

    for (predictor,) in regressor.regressor_._predictors:
        walk(predictor.nodes, 0, frozenset())
    assert splits_on_yr > 0  # the growth was learned, within its group


@pytest.mark.parametrize("names", [["yr"], ["cnt"], ["hr", "casual"]])
def test_yr_interactions_must_be_other_features(names: list[str]) -> None:
    with pytest.raises(ValueError, match="to interact with yr"):
        models.GradientBoostingModel(yr_interactions=names)
    assert models.GradientBoostingModel(yr_interactions=[]).interaction_cst() == [
        [models.FEATURES.index("yr")],
        [index for index, name in enumerate(models.FEATURES) if name != "yr"],
    ]


def test_shap_cost_counts_leaves_times_squared_depth(
    data: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    inputs, targets = data
    forest = models.BaselineSklearnModel(n_estimators=3, max_depth=4).fit(inputs, targets)
    trees = [tree.tree_ for tree in forest.get_internal_model()[-1].estimators_]
    assert models.shap_cost(forest.get_internal_model()) == sum(
        tree.n_leaves * tree.max_depth**2 for tree in trees
    )
    boosting = models.GradientBoostingModel(max_iter=2, max_leaf_nodes=4).fit(inputs, targets)
    cost = models.shap_cost(boosting.get_internal_model())
    assert 2 * 4 * 2**2 <= cost <= 2 * 4 * 3**2  # 2 trees of 4 leaves, 2 or 3 deep
