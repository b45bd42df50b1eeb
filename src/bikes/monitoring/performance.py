"""Performance of a window once its actuals are known, against the version's own test scores."""

from __future__ import annotations

import dataclasses
import typing as T

import pydantic as pdt

if T.TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd


@dataclasses.dataclass(frozen=True)
class Baseline:
    """The scores of the registered version on its own test split (None when not logged)."""

    rmse: float | None = None
    mae: float | None = None


@dataclasses.dataclass(frozen=True)
class PerformanceResult:
    """The errors of a window's predictions (None: too few actuals to judge).

    Attributes:
        actuals: hours of the window with an actual count and a prediction.
        rmse: root mean squared error.
        mae: mean absolute error.
        bias: mean of the predictions minus the actuals (> 0: the model predicts too many).
        rmse_ratio: RMSE over the version's test RMSE.
        mae_ratio: MAE over the version's test MAE.
        bias_ratio: absolute bias over the version's test RMSE.
        coverage: share of the actuals inside the prediction intervals (None: a model without
            intervals).
        breaches: what breached a threshold, one phrase each.
    """

    actuals: int
    rmse: float | None = None
    mae: float | None = None
    bias: float | None = None
    rmse_ratio: float | None = None
    mae_ratio: float | None = None
    bias_ratio: float | None = None
    coverage: float | None = None
    breaches: list[str] = dataclasses.field(default_factory=list)


def coverage(actual: npt.ArrayLike, lower: npt.ArrayLike, upper: npt.ArrayLike) -> float:
    """Return the share of the actuals inside their intervals."""
    from bikes.core import metrics

    return metrics.coverage(actual, lower, upper)


def ratio(value: float, baseline: float | None) -> float | None:
    """Return `value / baseline`, None without a positive baseline."""
    return value / baseline if baseline else None


class PerformanceCheck(pdt.BaseModel, strict=True, frozen=True, extra="forbid"):
    """The bounds of a window's errors, relative to the version's own test scores.

    Attributes:
        max_rmse_ratio: largest RMSE, as a multiple of the version's test RMSE (None: unbounded).
        max_mae_ratio: largest MAE, as a multiple of the version's test MAE (None: unbounded).
        max_bias_ratio: largest absolute bias, as a multiple of the version's test RMSE.
        min_coverage: smallest coverage of the prediction intervals (for interval models).
        min_actuals: fewer hours with actuals in a window: its performance is not judged.
    """

    max_rmse_ratio: float | None = pdt.Field(default=1.5, gt=0)
    max_mae_ratio: float | None = pdt.Field(default=1.5, gt=0)
    max_bias_ratio: float | None = pdt.Field(default=0.5, gt=0)
    min_coverage: float | None = pdt.Field(default=None, gt=0, le=1)
    min_actuals: int = pdt.Field(default=24, gt=0)

    def measure(
        self,
        actual: pd.Series[T.Any],
        predicted: pd.Series[T.Any],
        baseline: Baseline,
        bounds: tuple[pd.Series[T.Any], pd.Series[T.Any]] | None = None,
    ) -> PerformanceResult:
        """Score the predictions (and their `bounds`) of the hours with an actual (NaN: not yet)."""
        import numpy as np

        known = actual.notna().to_numpy() & predicted.notna().to_numpy()
        if known.sum() < self.min_actuals:
            return PerformanceResult(actuals=int(known.sum()))
        errors = predicted.to_numpy(dtype=float)[known] - actual.to_numpy(dtype=float)[known]
        rmse, mae, bias = (
            float(np.sqrt(np.mean(errors**2))),
            float(np.mean(np.abs(errors))),
            float(np.mean(errors)),
        )
        result = PerformanceResult(
            actuals=int(known.sum()),
            rmse=rmse,
            mae=mae,
            bias=bias,
            rmse_ratio=ratio(rmse, baseline.rmse),
            mae_ratio=ratio(mae, baseline.mae),
            bias_ratio=ratio(abs(bias), baseline.rmse),
            coverage=None
            if bounds is None
            else coverage(actual[known], bounds[0][known], bounds[1][known]),
        )
        return dataclasses.replace(result, breaches=self.breaches(result))

    def breaches(self, result: PerformanceResult) -> list[str]:
        """Return a phrase for each bound that the window's errors breach."""
        bounds = [
            ("RMSE", result.rmse, result.rmse_ratio, self.max_rmse_ratio, "test RMSE"),
            ("MAE", result.mae, result.mae_ratio, self.max_mae_ratio, "test MAE"),
            ("bias", result.bias, result.bias_ratio, self.max_bias_ratio, "test RMSE"),
        ]
        phrases = [
            f"{name} {value:.4g} is {share:.2f}x the {unit} (> {limit:g}x)"
            for name, value, share, limit, unit in bounds
            if value is not None and share is not None and limit is not None and share > limit
        ]
        if (
            self.min_coverage
            and result.coverage is not None
            and result.coverage < self.min_coverage
        ):
            phrases.append(f"coverage {result.coverage:.1%} < {self.min_coverage:.0%}")
        return phrases
