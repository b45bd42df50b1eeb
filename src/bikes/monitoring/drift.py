"""Data drift of a window against its reference: one distance a monitored column.

Which columns are monitored, and why (the defaults, see `default_columns`):

- the weather (`weathersit`, `temp`, `atemp`, `hum`, `windspeed`): what the model cannot know in
  advance, and what a broken feed or a changed climate moves;
- never the calendar (`dteday`, `yr`, `mnth`, `season`, `holiday`, `weekday`, `workingday`,
  `hr`): it drifts by construction (a later window has a later date, a week of December has no
  day of June, a week with a bank holiday has more `holiday` hours) and is known in advance, so
  its drift says nothing about the data; the quality checks still bound its values and count its
  hours;
- the predictions, against the model's own predictions of the reference (prediction drift).

The weather is seasonal too: a week of January is 1.5 standard deviations colder than the whole
reference. So a window is compared with the reference hours of the same time of the year
(`seasonal_days` either side of the window, in any year of the reference), never with the window
itself.
"""

from __future__ import annotations

import abc
import dataclasses
import typing as T

import pydantic as pdt

from bikes.monitoring import statistics

if T.TYPE_CHECKING:
    import pandas as pd

PREDICTION = "prediction"


@dataclasses.dataclass(frozen=True)
class ColumnDrift:
    """The drift of one column: its distance to the reference and the threshold it is held to.

    Attributes:
        column: name of the column.
        statistic: name of the distance (`wasserstein` or `jensen_shannon`).
        score: the distance (None when the window or the reference has no value of the column).
        threshold: the largest distance that is not drift.
        psi: population stability index, a second opinion (not bounded).
    """

    column: str
    statistic: str
    score: float | None
    threshold: float
    psi: float | None

    @property
    def drifted(self) -> bool:
        """Tell whether the distance is above the threshold."""
        return self.score is not None and self.score > self.threshold


class Column(abc.ABC, pdt.BaseModel, strict=True, frozen=True, extra="forbid"):
    """A monitored column and the largest distance to its reference that is not drift.

    Attributes:
        name: name of the column.
        threshold: the largest distance that is not drift.
    """

    KIND: str
    name: str
    threshold: float = pdt.Field(gt=0)

    @abc.abstractmethod
    def compare(self, reference: pd.Series[T.Any], current: pd.Series[T.Any]) -> ColumnDrift:
        """Measure the drift of the current values from the reference ones (missing ignored)."""


class ContinuousColumn(Column):
    """A continuous column: Wasserstein distance in standard deviations of the whole reference.

    Attributes:
        threshold: largest distance, in standard deviations of the column over the whole
            reference (a window whose values all moved by one standard deviation scores 1).
        scale: the standard deviation (set by the monitor from the whole reference, not only
            from the same season, so a threshold means the same in every season).
    """

    KIND: T.Literal["ContinuousColumn"] = "ContinuousColumn"
    threshold: float = pdt.Field(default=0.5, gt=0)
    scale: float | None = pdt.Field(default=None, gt=0)

    @T.override
    def compare(self, reference: pd.Series[T.Any], current: pd.Series[T.Any]) -> ColumnDrift:
        import pandas as pd

        before = pd.to_numeric(reference, errors="coerce").dropna()
        after = pd.to_numeric(current, errors="coerce").dropna()
        if before.empty or after.empty:
            return ColumnDrift(self.name, "wasserstein", None, self.threshold, None)
        scale = self.scale or float(before.std()) or 1.0
        score = statistics.wasserstein(before, after, scale=scale)
        return ColumnDrift(
            self.name, "wasserstein", score, self.threshold, statistics.psi(before, after)
        )


class CategoricalColumn(Column):
    """A categorical column: Jensen-Shannon distance (base 2, from 0 to 1) of the shares.

    Attributes:
        threshold: largest distance of the shares of the categories.
    """

    KIND: T.Literal["CategoricalColumn"] = "CategoricalColumn"
    threshold: float = pdt.Field(default=0.4, gt=0, le=1)

    @T.override
    def compare(self, reference: pd.Series[T.Any], current: pd.Series[T.Any]) -> ColumnDrift:
        before, after = reference.dropna(), current.dropna()
        if before.empty or after.empty:
            return ColumnDrift(self.name, "jensen_shannon", None, self.threshold, None)
        categories = sorted(set(before.unique()) | set(after.unique()))
        expected = statistics.shares(before, categories)
        actual = statistics.shares(after, categories)
        score = statistics.jensen_shannon(expected, actual)
        psi = statistics.psi_of_shares(expected, actual)
        return ColumnDrift(self.name, "jensen_shannon", score, self.threshold, psi)


ColumnKind = ContinuousColumn | CategoricalColumn


def default_columns() -> list[ColumnKind]:
    """Return the weather columns, with thresholds calibrated on the real data.

    Calibration (`python -m benchmarks.monitoring`): over every weekly window of the reference
    period, against the same season of the rest of the reference, the distances' 95th and 99th
    percentiles and maximum were: weathersit 0.28, 0.35, 0.40; temp 0.49, 0.71, 0.79; atemp 0.53,
    0.75, 0.86; hum 0.86, 1.21, 1.35; windspeed 0.57, 0.84, 0.94. Humid, windy or rainy weeks are
    common; a week 0.6 standard deviations warmer or colder than its season is not (two of 50 drawn
    weeks: the cold snap of January 2011 and the heat of March 2012).
    """
    return [
        CategoricalColumn(name="weathersit", threshold=0.45),
        ContinuousColumn(name="temp", threshold=0.6),
        ContinuousColumn(name="atemp", threshold=0.6),
        ContinuousColumn(name="hum", threshold=1.3),
        ContinuousColumn(name="windspeed", threshold=0.9),
    ]


@dataclasses.dataclass(frozen=True)
class DriftResult:
    """The drift of a window: per column, of the predictions, and the share of drifted columns.

    Attributes:
        columns: drift of each monitored column.
        prediction: drift of the predictions (None when not monitored).
        reference_rows: rows of the reference the window was compared with.
        seasonal: whether these rows are of the same season (else the whole reference).
        breaches: what breached a threshold, one phrase each.
    """

    columns: list[ColumnDrift]
    prediction: ColumnDrift | None
    reference_rows: int
    seasonal: bool
    breaches: list[str]

    @property
    def drifted(self) -> list[str]:
        """Return the names of the drifted columns."""
        return [drift.column for drift in self.columns if drift.drifted]

    @property
    def share(self) -> float:
        """Return the share of the monitored columns that drifted."""
        return len(self.drifted) / len(self.columns) if self.columns else 0.0


class DriftCheck(pdt.BaseModel, strict=True, frozen=True, extra="forbid"):
    """What drift is measured, against which reference, and how much of it is a breach.

    Attributes:
        columns: monitored input columns (the weather by default: see the module's docstring).
        prediction: the predictions, against the model's predictions of the reference (None:
            not monitored).
        max_share: the largest share of drifted columns that is not a breach (0: any drifted
            column is a breach).
        seasonal_days: compare a window with the reference hours within this many days of the
            window's days of the year (in any year); None compares it with the whole reference.
        min_reference_rows: fewer rows of the same season (a reference shorter than a year):
            compare with the whole reference.
    """

    columns: list[T.Annotated[ColumnKind, pdt.Field(discriminator="KIND")]] = pdt.Field(
        default_factory=default_columns
    )
    # the predictions of a week of the reference period are at most 0.62 from their season's
    prediction: ContinuousColumn | None = ContinuousColumn(name=PREDICTION, threshold=0.75)
    max_share: float = pdt.Field(default=0.0, ge=0, lt=1)
    seasonal_days: int | None = pdt.Field(default=30, ge=0)
    min_reference_rows: int = pdt.Field(default=168, gt=0)

    @pdt.field_validator("columns")
    @classmethod
    def distinct(cls, columns: list[ColumnKind]) -> list[ColumnKind]:
        """Check that each column is monitored once."""
        names = [column.name for column in columns]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"columns monitored twice: {', '.join(twice)}")
        return columns

    def scaled(self, reference: pd.DataFrame) -> DriftCheck:
        """Return a copy whose continuous columns are scaled by their whole-reference deviation."""
        import pandas as pd

        def scale(column: ColumnKind) -> ColumnKind:
            if not isinstance(column, ContinuousColumn) or column.name not in reference:
                return column
            deviation = float(pd.to_numeric(reference[column.name], errors="coerce").std())
            return column.model_copy(update={"scale": deviation or None})

        prediction = scale(self.prediction) if self.prediction else None
        columns = [scale(column) for column in self.columns]
        return self.model_copy(update={"columns": columns, "prediction": prediction})

    def measure(
        self, reference: pd.DataFrame, current: pd.DataFrame, seasonal: bool
    ) -> DriftResult:
        """Measure the drift of each column of `current` (predictions included) from `reference`."""
        import pandas as pd

        missing = pd.Series(dtype=float)
        columns = [
            column.compare(reference.get(column.name, missing), current.get(column.name, missing))
            for column in self.columns
        ]
        prediction = None
        if self.prediction is not None:
            prediction = self.prediction.compare(
                reference.get(PREDICTION, missing), current.get(PREDICTION, missing)
            )
        breaches = [phrase(drift) for drift in [*columns, prediction] if drift and drift.drifted]
        result = DriftResult(columns, prediction, len(reference), seasonal, [])
        if result.share <= self.max_share:  # a drifted prediction breaches on its own
            breaches = [phrase(prediction)] if prediction and prediction.drifted else []
        return dataclasses.replace(result, breaches=breaches)


def phrase(drift: ColumnDrift) -> str:
    """Return one phrase naming a drifted column, its distance and its threshold."""
    return f"drift of {drift.column}: {drift.statistic} {drift.score:.3g} > {drift.threshold:g}"
