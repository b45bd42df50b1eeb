"""Models: a common interface over scikit-learn pipelines, tunable by the searchers.

A fitted model is a plain scikit-learn pipeline (`get_internal_model`) of stock estimators only, so
the saved MLflow model loads in any process with scikit-learn, without this package.
"""

from __future__ import annotations

import abc
import typing as T

import pydantic as pdt

if T.TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline

type Params = dict[str, T.Any]

CALENDAR = ["yr", "mnth", "hr", "holiday", "weekday", "workingday"]
WEATHER = ["temp", "atemp", "hum", "windspeed"]
FEATURES = ["season", *CALENDAR, "weathersit", *WEATHER]  # of the gradient boosting, in order


class Model(abc.ABC, pdt.BaseModel, strict=True, frozen=False, extra="forbid"):
    """A model of hourly demand: fit on inputs and targets, predict outputs.

    Its fields are its hyperparameters (`get_params`): the searchers tune copies of it.
    """

    KIND: str

    def get_params(self) -> Params:
        """Return the hyperparameters of the model."""
        return self.model_dump(exclude={"KIND"})

    @abc.abstractmethod
    def fit(self, inputs: pd.DataFrame, targets: pd.DataFrame) -> T.Self:
        """Fit the model on inputs and targets (`cnt`)."""

    @abc.abstractmethod
    def predict(self, inputs: pd.DataFrame) -> pd.DataFrame:
        """Predict outputs (a `prediction` column, indexed like the inputs)."""

    @abc.abstractmethod
    def get_internal_model(self) -> Pipeline:
        """Return the fitted scikit-learn pipeline (raise if the model is not fitted)."""


class SklearnModel(Model):
    """A model backed by a scikit-learn pipeline built from its hyperparameters."""

    _pipeline: Pipeline | None = pdt.PrivateAttr(default=None)

    @abc.abstractmethod
    def build(self) -> Pipeline:
        """Build the unfitted pipeline from the hyperparameters."""

    @T.override
    def fit(self, inputs: pd.DataFrame, targets: pd.DataFrame) -> T.Self:
        from bikes.core.schemas import TARGET

        pipeline = self.build()
        pipeline.fit(inputs, targets[TARGET])
        self._pipeline = pipeline
        return self

    @T.override
    def predict(self, inputs: pd.DataFrame) -> pd.DataFrame:
        return predict(self.get_internal_model(), inputs)

    @T.override
    def get_internal_model(self) -> Pipeline:
        if self._pipeline is None:
            raise ValueError(f"{self.KIND} is not fitted: call fit() first")
        return self._pipeline


class BaselineSklearnModel(SklearnModel):
    """The reference design's model: one-hot season and weather, a random forest.

    Attributes:
        max_depth: maximum depth of the trees.
        n_estimators: number of trees.
        random_state: seed of the forest.
    """

    KIND: T.Literal["BaselineSklearnModel"] = "BaselineSklearnModel"
    max_depth: int = pdt.Field(default=20, gt=0)
    n_estimators: int = pdt.Field(default=200, gt=0)
    random_state: int | None = 42

    @T.override
    def build(self) -> Pipeline:
        from sklearn.compose import ColumnTransformer
        from sklearn.ensemble import RandomForestRegressor
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder

        features = ColumnTransformer(
            [
                ("categoricals", OneHotEncoder(handle_unknown="ignore"), ["season", "weathersit"]),
                ("numericals", "passthrough", CALENDAR + WEATHER),
            ],
            remainder="drop",
            verbose_feature_names_out=False,
        )
        regressor = RandomForestRegressor(
            max_depth=self.max_depth,
            n_estimators=self.n_estimators,
            random_state=self.random_state,
            n_jobs=-1,
        )
        return Pipeline([("features", features), ("regressor", regressor)])


class GradientBoostingModel(SklearnModel):
    """Histogram gradient boosting over calendar and weather: fast, small and accurate.

    Few, small trees (50 of 15 leaves at a learning rate of 0.4) keep batch prediction fast: its
    cost grows with the number and the depth of the trees. The yearly growth (`yr`) interacts only
    with the hourly and weekly profile (`yr_interactions`), never with the seasons or the weather:
    the months to predict (autumn 2012) are in the train data for 2011 only, so a growth learned
    month by month from the first half of 2012 would not carry to them, while one level shift of
    the profile does.

    Attributes:
        learning_rate: shrinkage of each tree.
        max_iter: number of boosting iterations (trees): the cost of a prediction.
        max_leaf_nodes: leaves of each tree.
        min_samples_leaf: samples of each leaf.
        max_depth: depth of each tree (no limit when None).
        l2_regularization: L2 penalty of the leaf values.
        categorical_features: features split as categories rather than ordered numbers.
        target: transform of the counts before fitting, inverted on prediction: `sqrt` steadies
            their variance and squares back to counts that are never negative, even when the
            saved pipeline predicts outside this package; `log` (log1p) weighs relative errors;
            `identity` fits the counts as they are.
        loss: loss of the boosting: `poisson` (with the `identity` target) fits the log of the
            expected counts, so its predictions are never negative either.
        yr_interactions: features that the year may interact with, in the splits of a tree
            branch (the other features interact with each other, but not with `yr`); None lets
            every feature interact.
        random_state: seed of the boosting.
    """

    KIND: T.Literal["GradientBoostingModel"] = "GradientBoostingModel"
    learning_rate: float = pdt.Field(default=0.4, gt=0, le=1)
    max_iter: int = pdt.Field(default=50, gt=0)
    max_leaf_nodes: int = pdt.Field(default=15, ge=2)
    min_samples_leaf: int = pdt.Field(default=20, ge=1)
    max_depth: int | None = pdt.Field(default=None, gt=0)
    l2_regularization: float = pdt.Field(default=0.0, ge=0)
    categorical_features: list[str] = pdt.Field(default_factory=list)
    target: T.Literal["identity", "sqrt", "log"] = "sqrt"
    loss: T.Literal["squared_error", "poisson"] = "squared_error"
    yr_interactions: list[str] | None = pdt.Field(
        default_factory=lambda: ["hr", "holiday", "weekday", "workingday"]
    )
    random_state: int | None = 42

    @pdt.field_validator("yr_interactions")
    @classmethod
    def known_features(cls, names: list[str] | None) -> list[str] | None:
        """Check that the year may only interact with features of the model (but itself)."""
        allowed = set(FEATURES) - {"yr"}
        unknown = sorted(set(names or []) - allowed)
        if unknown:
            raise ValueError(f"no feature {unknown} to interact with yr: pick in {sorted(allowed)}")
        return names

    @T.override
    def build(self) -> Pipeline:
        import numpy as np
        from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
        from sklearn.ensemble import HistGradientBoostingRegressor
        from sklearn.pipeline import Pipeline

        features = ColumnTransformer(
            [("features", "passthrough", FEATURES)],
            remainder="drop",
            verbose_feature_names_out=False,
        ).set_output(transform="pandas")
        regressor: T.Any = HistGradientBoostingRegressor(
            learning_rate=self.learning_rate,
            max_iter=self.max_iter,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            max_depth=self.max_depth,
            loss=self.loss,
            l2_regularization=self.l2_regularization,
            categorical_features=self.categorical_features or None,
            interaction_cst=self.interaction_cst(),
            early_stopping=False,  # its validation split is random: wrong for a time series
            random_state=self.random_state,
        )
        transforms = {"sqrt": (np.sqrt, np.square), "log": (np.log1p, np.expm1)}
        if self.target in transforms:
            func, inverse_func = transforms[self.target]
            regressor = TransformedTargetRegressor(regressor, func=func, inverse_func=inverse_func)
        return Pipeline([("features", features), ("regressor", regressor)])

    def interaction_cst(self) -> list[list[int]] | None:
        """Return the interaction constraints of the regressor: groups of feature indices."""
        if self.yr_interactions is None:
            return None
        with_yr = ["yr", *self.yr_interactions]
        without_yr = [name for name in FEATURES if name != "yr"]
        return [[FEATURES.index(name) for name in group] for group in (with_yr, without_yr)]


ModelKind = BaselineSklearnModel | GradientBoostingModel


def predict(pipeline: Pipeline, inputs: pd.DataFrame) -> pd.DataFrame:
    """Predict with a fitted pipeline: non-negative counts in a `prediction` column."""
    import numpy as np
    import pandas as pd

    predictions = np.clip(pipeline.predict(inputs), 0, None).astype("float64")
    return pd.DataFrame({"prediction": predictions}, index=inputs.index)


def shap_values(pipeline: Pipeline, inputs: pd.DataFrame) -> pd.DataFrame:
    """Return the SHAP values of a fitted pipeline whose last step is a tree ensemble."""
    import pandas as pd
    import shap
    from sklearn.compose import TransformedTargetRegressor

    features = pipeline[:-1].transform(inputs)
    regressor = pipeline[-1]
    if isinstance(regressor, TransformedTargetRegressor):
        regressor = regressor.regressor_  # values explain the transformed target
    names = pipeline[:-1].get_feature_names_out()
    matrix = features.to_numpy() if hasattr(features, "to_numpy") else features
    explainer = shap.TreeExplainer(regressor)
    values = explainer.shap_values(matrix, check_additivity=False)
    return pd.DataFrame(values, columns=list(names), index=inputs.index)


def shap_cost(pipeline: Pipeline) -> int:
    """Return the work of exact tree SHAP values for one row: leaves times squared depth, summed.

    Tree SHAP visits each leaf of each tree with a path as long as the tree is deep: its cost per
    row grows as `leaves * depth**2`. The reference forest (200 trees 20 deep, 1.5 million leaves)
    costs about 0.5 s a row here, the default boosting (50 trees of 15 leaves) a few microseconds.
    """
    from sklearn.compose import TransformedTargetRegressor

    regressor = pipeline[-1]
    if isinstance(regressor, TransformedTargetRegressor):
        regressor = regressor.regressor_
    if hasattr(regressor, "estimators_"):  # forests of scikit-learn trees
        trees = [tree.tree_ for tree in regressor.estimators_]
        return sum(int(tree.n_leaves) * int(tree.max_depth) ** 2 for tree in trees)
    nodes = [tree.nodes for trees in getattr(regressor, "_predictors", []) for tree in trees]
    return sum(int(node["is_leaf"].sum()) * int(node["depth"].max()) ** 2 for node in nodes)


def feature_importances(shap_values: pd.DataFrame) -> pd.DataFrame:
    """Return features ranked by their mean absolute SHAP value."""
    import pandas as pd

    importances = shap_values.abs().mean().sort_values(ascending=False)
    return pd.DataFrame(
        {"feature": importances.index.astype(str), "importance": importances.values}
    )
