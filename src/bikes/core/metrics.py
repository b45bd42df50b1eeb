"""Evaluate predictions with scikit-learn metrics, logged with their natural sign."""

from __future__ import annotations

import abc
import typing as T

import pydantic as pdt

from bikes.core.errors import CheckError

if T.TYPE_CHECKING:
    import numpy.typing as npt

METRIC_NAMES = (
    "d2_absolute_error_score",
    "explained_variance_score",
    "max_error",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_gamma_deviance",
    "mean_poisson_deviance",
    "mean_squared_error",
    "mean_squared_log_error",
    "median_absolute_error",
    "r2_score",
    "root_mean_squared_error",
    "root_mean_squared_log_error",
)


class Metric(abc.ABC, pdt.BaseModel, strict=True, frozen=True, extra="forbid"):
    """A measure of the quality of predictions against targets.

    Attributes:
        name: name of the metric (as logged to MLflow).
    """

    KIND: str
    name: str

    @property
    @abc.abstractmethod
    def greater_is_better(self) -> bool:
        """Tell whether a greater score is a better one."""

    @abc.abstractmethod
    def score(self, targets: npt.ArrayLike, predictions: npt.ArrayLike) -> float:
        """Score predictions against targets, with the metric's natural sign (an RMSE is > 0)."""

    def better(self, score: float, other: float) -> bool:
        """Tell whether `score` is strictly better than `other`."""
        return score > other if self.greater_is_better else score < other


class SklearnMetric(Metric):
    """A metric of `sklearn.metrics`, by its function name.

    Attributes:
        name: regression metric of `sklearn.metrics` (e.g. `root_mean_squared_error`).
    """

    KIND: T.Literal["SklearnMetric"] = "SklearnMetric"
    name: str = "root_mean_squared_error"

    @pdt.field_validator("name")
    @classmethod
    def known(cls, name: str) -> str:
        """Check that the name is a regression metric of `sklearn.metrics` (without importing)."""
        if name not in METRIC_NAMES:
            raise ValueError(f"unknown metric {name!r}: pick one of {', '.join(METRIC_NAMES)}")
        return name

    @property
    @T.override
    def greater_is_better(self) -> bool:
        return self.name.endswith("_score")

    @T.override
    def score(self, targets: npt.ArrayLike, predictions: npt.ArrayLike) -> float:
        from sklearn import metrics

        function = getattr(metrics, self.name)
        return float(function(targets, predictions))


MetricKind = SklearnMetric
MetricsKind = list[T.Annotated[MetricKind, pdt.Field(discriminator="KIND")]]


class Threshold(pdt.BaseModel, strict=True, frozen=True, extra="forbid"):
    """A bound that a metric must respect for a model to be accepted.

    Attributes:
        metric: name of the metric.
        min: lowest acceptable score (none when None).
        max: highest acceptable score (none when None).
    """

    metric: str
    min: float | None = None
    max: float | None = None

    def check(self, score: float) -> None:
        """Raise a `CheckError` naming the metric when the score is out of bounds."""
        if self.min is not None and score < self.min:
            raise CheckError(
                f"metric {self.metric} = {score:.4g} is below its threshold {self.min}"
            )
        if self.max is not None and score > self.max:
            raise CheckError(
                f"metric {self.metric} = {score:.4g} is above its threshold {self.max}"
            )
