"""Monitor a window: its quality, its drift from the same season of the reference, its errors."""

from __future__ import annotations

import dataclasses
import typing as T

import pydantic as pdt

from bikes.core.intervals import LOWER, UPPER
from bikes.monitoring import windows
from bikes.monitoring.drift import PREDICTION, DriftCheck, DriftResult, Sample
from bikes.monitoring.performance import Baseline, PerformanceCheck, PerformanceResult
from bikes.monitoring.quality import QualityCheck, QualityResult

if T.TYPE_CHECKING:
    import pandas as pd

    # the point predictions of valid inputs, or outputs with `prediction` and maybe its bounds
    Predict: T.TypeAlias = T.Callable[[pd.DataFrame], pd.Series[float] | pd.DataFrame]


def outputs_of(predicted: pd.Series[float] | pd.DataFrame) -> pd.DataFrame:
    """Return predictions as outputs: a `prediction` column, and the bounds if there are some."""
    import pandas as pd

    return predicted if isinstance(predicted, pd.DataFrame) else predicted.to_frame(PREDICTION)


@dataclasses.dataclass(frozen=True)
class Reference:
    """The reference data: inputs, the model's predictions of them and their hours.

    Attributes:
        inputs: valid inputs with a `prediction` column.
        times: the hour of each row.
    """

    inputs: pd.DataFrame
    times: pd.Series[pd.Timestamp]

    @classmethod
    def of(cls, inputs: pd.DataFrame, predict: Predict) -> Reference:
        """Predict the reference inputs and index their hours."""
        data = inputs.assign(**{PREDICTION: outputs_of(predict(inputs))[PREDICTION]})
        return cls(data, windows.timestamps(data))


@dataclasses.dataclass(frozen=True)
class WindowResult:
    """What a window showed, and the thresholds it breached (none: quiet).

    Attributes:
        window: the window.
        quality: its data quality.
        drift: its drift from the reference.
        performance: its errors (None without actuals).
    """

    window: windows.Window
    quality: QualityResult
    drift: DriftResult
    performance: PerformanceResult | None

    @property
    def breaches(self) -> list[str]:
        """Return every breach of the window: quality, drift, then performance."""
        found = [*self.quality.breaches, *self.drift.breaches]
        return found + (self.performance.breaches if self.performance else [])

    def metrics(self) -> dict[str, float]:
        """Return the numbers of the window, by MLflow metric name (none for a missing value)."""
        values: dict[str, float | None] = {
            "rows": self.quality.rows,
            "breaches": len(self.breaches),
            "quality/volume_ratio": self.quality.volume_ratio,
            "quality/missing_share": max(self.quality.missing.values(), default=0.0),
            "quality/out_of_range_share": max(self.quality.out_of_range.values(), default=0.0),
            "drift/share": self.drift.share,
        }
        for column in [*self.drift.columns, self.drift.prediction]:
            if column is not None:
                values[f"drift/{column.column}"] = column.score
                values[f"drift/{column.column}/psi"] = column.psi
        if self.performance is not None:
            fields = ("rmse", "mae", "bias", "rmse_ratio", "mae_ratio", "bias_ratio", "coverage")
            for name in fields:
                values[f"performance/{name}"] = getattr(self.performance, name)
        return {name: float(value) for name, value in values.items() if value is not None}

    def to_dict(self) -> dict[str, T.Any]:
        """Return the window's result as plain JSON values."""
        return {
            "window": {
                "label": self.window.label,
                "start": self.window.start.isoformat(),
                "end": self.window.end.isoformat(),
                "step": self.window.step,
            },
            "alert": bool(self.breaches),
            "breaches": self.breaches,
            "drifted_columns": self.drift.drifted,
            "quality": {
                **dataclasses.asdict(self.quality),
                "volume_ratio": self.quality.volume_ratio,
            },
            "drift": {
                **dataclasses.asdict(self.drift),
                "share": self.drift.share,
                "drifted": self.drift.drifted,
            },
            "performance": dataclasses.asdict(self.performance) if self.performance else None,
        }


@dataclasses.dataclass(frozen=True)
class Observed:
    """A window's result, with the data behind it (for the figures of its report)."""

    result: WindowResult
    reference: pd.DataFrame
    current: pd.DataFrame


class Checks(pdt.BaseModel, strict=True, frozen=True, extra="forbid"):
    """The checks of a window: quality, drift and performance.

    Attributes:
        quality: bounds of the data quality.
        drift: monitored columns and the bounds of their drift.
        performance: bounds of the errors, once the actuals are known.
    """

    quality: QualityCheck = QualityCheck()
    drift: DriftCheck = pdt.Field(default_factory=DriftCheck)
    performance: PerformanceCheck = PerformanceCheck()

    def observe(
        self,
        window: windows.Window,
        inputs: pd.DataFrame,
        *,
        reference: Reference,
        predict: Predict,
        actuals: pd.Series[T.Any] | None = None,
        baseline: Baseline | None = None,
    ) -> Observed:
        """Check a window's inputs (and actuals, NaN where not known yet) against the reference.

        `drift` must be scaled by the whole reference (`DriftCheck.scaled`), once for all windows.
        """
        times = windows.timestamps(inputs)
        checked, valid = self.quality.measure(inputs, times, window)
        current = inputs.copy()
        current[PREDICTION] = float("nan")
        if valid.any():
            outputs = outputs_of(predict(inputs.loc[valid]))
            for name in outputs.columns:
                current.loc[valid, name] = outputs[name].to_numpy()
        mask, seasonal = windows.seasonal(
            reference.times, window, self.drift.seasonal_days, self.drift.min_reference_rows
        )
        matched = reference.inputs.loc[mask]
        outside = ~window.contains(reference.times)
        sample = Sample(
            window=window,
            current=current,
            current_times=times,
            matched=matched,
            reference=reference.inputs.loc[outside],
            reference_times=reference.times[outside],
            seasonal_days=self.drift.seasonal_days if seasonal else None,
        )
        drifted = self.drift.measure(sample, seasonal)
        scored = None
        if actuals is not None:
            known = actuals.reindex(current.index)
            current["actual"] = known
            bounds = (current[LOWER], current[UPPER]) if LOWER in current else None
            scored = self.performance.measure(
                known, current[PREDICTION], baseline or Baseline(), bounds
            )
        return Observed(WindowResult(window, checked, drifted, scored), matched, current)
