"""Data quality of a window: missing values, values out of the schema's bounds, missing hours.

The bounds are those of the inputs schema (`bikes.core.schemas.InputsSchema`), read from its
checks: a value that the schema refuses is out of range, one rule in one place. Rows with a
missing or out-of-range value are counted here, and left out of the predictions.
"""

from __future__ import annotations

import dataclasses
import functools
import typing as T

import pydantic as pdt

if T.TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

    from bikes.monitoring.windows import Window

    Mask: T.TypeAlias = npt.NDArray[np.bool_]


@dataclasses.dataclass(frozen=True)
class Bounds:
    """The values a column may take: a range, a set, or anything (but missing)."""

    low: float | None = None
    high: float | None = None
    allowed: tuple[float, ...] | None = None

    def outside(self, values: pd.Series[T.Any]) -> Mask:
        """Return which values are present but out of bounds (not a number counts as out)."""
        import numpy as np
        import pandas as pd

        present = values.notna().to_numpy()
        if self.low is None and self.high is None and self.allowed is None:
            return np.zeros(len(values), dtype=bool)
        numbers = pd.to_numeric(values, errors="coerce")
        out = present & numbers.isna().to_numpy()
        if self.low is not None:
            out |= (numbers < self.low).to_numpy()
        if self.high is not None:
            out |= (numbers > self.high).to_numpy()
        if self.allowed is not None:
            out |= present & ~numbers.isin(self.allowed).to_numpy()
        return out


@functools.cache
def schema_bounds() -> dict[str, Bounds]:
    """Return the bounds of each input column, read from the checks of the inputs schema."""
    from bikes.core.schemas import InputsSchema

    bounds = {}
    for name, column in InputsSchema.to_schema().columns.items():
        limits: dict[str, T.Any] = {}
        for check in column.checks:
            statistics = check.statistics or {}
            if "min_value" in statistics:
                limits["low"] = float(statistics["min_value"])
            if "max_value" in statistics:
                limits["high"] = float(statistics["max_value"])
            if "allowed_values" in statistics:
                limits["allowed"] = tuple(float(value) for value in statistics["allowed_values"])
        bounds[str(name)] = Bounds(**limits)
    return bounds


@dataclasses.dataclass(frozen=True)
class QualityResult:
    """The quality of a window's data.

    Attributes:
        rows: rows of the window.
        hours: distinct hours that the rows cover.
        expected_hours: hours that they should cover.
        missing: share of missing values of each input column (1 for an absent column).
        out_of_range: share of the values of each input column out of the schema's bounds.
        valid_rows: rows without a missing or out-of-range value (those predicted).
        breaches: what breached a threshold, one phrase each.
    """

    rows: int
    hours: int
    expected_hours: int
    missing: dict[str, float]
    out_of_range: dict[str, float]
    valid_rows: int
    breaches: list[str]

    @property
    def volume_ratio(self) -> float:
        """Return the share of the expected hours that the rows cover."""
        return self.hours / self.expected_hours if self.expected_hours else 1.0


class QualityCheck(pdt.BaseModel, strict=True, frozen=True, extra="forbid"):
    """The bounds of a window's data quality.

    Attributes:
        max_missing_share: largest share of missing values of any input column.
        max_out_of_range_share: largest share of values out of the schema's bounds of any column.
        min_volume_ratio: smallest share of the window's hours that the rows must cover (the real
            data misses an hour in 100; a week of the 2012 hurricane misses 14%).
    """

    max_missing_share: float = pdt.Field(default=0.01, ge=0, le=1)
    max_out_of_range_share: float = pdt.Field(default=0.0, ge=0, le=1)
    min_volume_ratio: float = pdt.Field(default=0.9, ge=0, le=1)

    def measure(
        self, inputs: pd.DataFrame, times: pd.Series[pd.Timestamp], window: Window
    ) -> tuple[QualityResult, Mask]:
        """Measure the quality of a window's rows; return it and which rows are valid."""
        import numpy as np

        valid = np.ones(len(inputs), dtype=bool)
        missing, out_of_range = {}, {}
        for name, bounds in schema_bounds().items():
            if name not in inputs:
                missing[name], out_of_range[name] = 1.0, 0.0
                valid[:] = False
                continue
            absent = inputs[name].isna().to_numpy()
            outside = bounds.outside(inputs[name])
            missing[name] = float(absent.mean()) if len(inputs) else 0.0
            out_of_range[name] = float(outside.mean()) if len(inputs) else 0.0
            valid &= ~absent & ~outside
        hours = int(times.dropna().dt.floor("h").nunique())
        result = QualityResult(
            len(inputs), hours, window.expected_hours, missing, out_of_range, int(valid.sum()), []
        )
        return dataclasses.replace(result, breaches=self.breaches(result)), valid

    def breaches(self, result: QualityResult) -> list[str]:
        """Return a phrase for each bound that the window breaches."""
        phrases = []
        for name, share in result.missing.items():
            if share > self.max_missing_share:
                phrases.append(
                    f"missing values of {name}: {share:.1%} > {self.max_missing_share:.1%}"
                )
        for name, share in result.out_of_range.items():
            if share > self.max_out_of_range_share:
                limit = self.max_out_of_range_share
                phrases.append(f"values of {name} out of range: {share:.1%} > {limit:.1%}")
        if result.volume_ratio < self.min_volume_ratio:
            phrases.append(
                f"volume: {result.hours} of {result.expected_hours} hours"
                f" ({result.volume_ratio:.1%} < {self.min_volume_ratio:.0%})"
            )
        return phrases
