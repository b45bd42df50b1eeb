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


# %% INTERVALS

INTERVAL_METRICS = ("coverage", "coverage_min_hour", "mean_width", "winkler_score")


def coverage(targets: npt.ArrayLike, lower: npt.ArrayLike, upper: npt.ArrayLike) -> float:
    """Return the share of the targets inside their intervals (NaN without targets)."""
    import numpy as np

    values = np.asarray(targets, dtype=float)
    inside = (values >= np.asarray(lower, dtype=float)) & (values <= np.asarray(upper, dtype=float))
    return float(inside.mean()) if len(values) else float("nan")


def winkler_score(
    targets: npt.ArrayLike, lower: npt.ArrayLike, upper: npt.ArrayLike, level: float
) -> float:
    """Return the mean Winkler (interval) score: the width, plus `2 / (1 - level)` the misses.

    Lower is better: a narrow interval scores well only if it covers the target.
    """
    import numpy as np

    values, low, high = (np.asarray(array, dtype=float) for array in (targets, lower, upper))
    penalty = 2 / (1 - level)
    misses = np.clip(low - values, 0, None) + np.clip(values - high, 0, None)
    return float(np.mean(high - low + penalty * misses))


def interval_scores(
    targets: npt.ArrayLike,
    lower: npt.ArrayLike,
    upper: npt.ArrayLike,
    level: float,
    hours: npt.ArrayLike,
) -> dict[str, float]:
    """Score intervals: coverage (overall and in the worst hour of the day), width and Winkler."""
    import numpy as np

    values, low, high, hour = (np.asarray(array) for array in (targets, lower, upper, hours))
    by_hour = [coverage(values[hour == h], low[hour == h], high[hour == h]) for h in range(24)]
    return {
        "coverage": coverage(values, low, high),
        "coverage_min_hour": float(np.nanmin(by_hour)) if np.isfinite(by_hour).any() else np.nan,
        "mean_width": float(np.mean(high.astype(float) - low.astype(float))),
        "winkler_score": winkler_score(values, low, high, level),
    }
