"""Data drift of a window against its reference: one score a monitored column.

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
itself. The weather's default statistics go further (`seasons`): the window's mean against the
same hours of the same season, in units of the spread of the reference's own windows of that
season, above a threshold calibrated on them (`false_alarm_rate`), not set by hand.
"""

from __future__ import annotations

import abc
import dataclasses
import typing as T

import pydantic as pdt

from bikes.monitoring import seasons, statistics

if T.TYPE_CHECKING:
    import pandas as pd

    from bikes.monitoring.windows import Window

PREDICTION = "prediction"
JENSEN_SHANNON = "jensen_shannon"
SEASONAL = "seasonal_anomaly"
SEASONAL_SHARES = "seasonal_shares"


@dataclasses.dataclass(frozen=True)
class ColumnDrift:
    """The drift of one column: its score against the reference and the threshold it is held to.

    Attributes:
        column: name of the column.
        statistic: name of the score (`seasonal_anomaly`, `seasonal_shares`, or the distances
            `wasserstein` and `jensen_shannon`).
        score: the score (None when the window or the reference has too little of the column).
        threshold: the largest score that is not drift (calibrated, or set in the config).
        psi: population stability index, a second opinion (not bounded).
        detail: what moved, in the column's unit (e.g. `mean +0.19`), when the statistic says.
    """

    column: str
    statistic: str
    score: float | None
    threshold: float
    psi: float | None
    detail: str | None = None

    @property
    def drifted(self) -> bool:
        """Tell whether the distance is above the threshold."""
        return self.score is not None and self.score > self.threshold


@dataclasses.dataclass(frozen=True)
class Sample:
    """What a window's columns are compared on.

    Attributes:
        window: the window.
        current: its rows.
        current_times: their hours.
        matched: the reference rows of the window's season (or the whole reference: `seasonal`).
        reference: every reference row outside the window.
        reference_times: their hours.
        seasonal_days: the season's half-width in days (None: the whole year).
    """

    window: Window
    current: pd.DataFrame
    current_times: pd.Series[pd.Timestamp]
    matched: pd.DataFrame
    reference: pd.DataFrame
    reference_times: pd.Series[pd.Timestamp]
    seasonal_days: int | None

    def column(self, name: str) -> tuple[pd.Series[T.Any], pd.Series[T.Any]]:
        """Return the values of a column in the season's reference and in the window (or none)."""
        import pandas as pd

        missing = pd.Series(dtype=float)
        return self.matched.get(name, missing), self.current.get(name, missing)

    def evidence(
        self, reference: pd.Series[float], current: pd.Series[float], spread_days: int | None
    ) -> seasons.Evidence | None:
        """Score the window's anomaly of values (of the whole reference and of the window)."""
        window = self.window
        length = max((window.end - window.start).days, 1)
        return seasons.evidence(
            reference,
            self.reference_times,
            current,
            self.current_times,
            middle=window.start + (window.end - window.start) / 2,
            days=None if self.seasonal_days is None else max(self.seasonal_days, length),
            length=length,
            spread_days=spread_days,
        )


class Column(abc.ABC, pdt.BaseModel, strict=True, frozen=True, extra="forbid"):
    """A monitored column.

    Attributes:
        name: name of the column.
    """

    KIND: str
    name: str

    @abc.abstractmethod
    def compare(self, sample: Sample) -> ColumnDrift:
        """Measure the drift of the column in the window from the reference (missing ignored)."""


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
    def compare(self, sample: Sample) -> ColumnDrift:
        import pandas as pd

        reference, current = sample.column(self.name)
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
    def compare(self, sample: Sample) -> ColumnDrift:
        reference, current = sample.column(self.name)
        before, after = reference.dropna(), current.dropna()
        if before.empty or after.empty:
            return ColumnDrift(self.name, JENSEN_SHANNON, None, self.threshold, None)
        categories = sorted(set(before.unique()) | set(after.unique()))
        expected = statistics.shares(before, categories)
        actual = statistics.shares(after, categories)
        score = statistics.jensen_shannon(expected, actual)
        psi = statistics.psi_of_shares(expected, actual)
        return ColumnDrift(self.name, JENSEN_SHANNON, score, self.threshold, psi)


class SeasonalColumn(Column):
    """A continuous column: the window's mean against the same hours of its season, standardized.

    The score is the window's mean difference from the reference's mean of the same hours of the
    day in the same season, in units of the spread of that difference over the reference's own
    windows of the season; the threshold is the score that `false_alarm_rate` of the reference's
    windows exceed (see `bikes.monitoring.seasons`): calibrated, not set by hand.

    Attributes:
        false_alarm_rate: share of the reference's windows that would drift.
        spread_days: measure the spread over the reference's windows of the window's season (a
            Gaussian of this many days over the day of the year: a week of winter varies more
            than a week of summer); None: over every window, one spread the whole year.
    """

    KIND: T.Literal["SeasonalColumn"] = "SeasonalColumn"
    false_alarm_rate: float = pdt.Field(default=0.01, gt=0, lt=0.5)
    spread_days: int | None = pdt.Field(default=30, gt=0)

    @T.override
    def compare(self, sample: Sample) -> ColumnDrift:
        import numpy as np
        import pandas as pd

        matched, current = (pd.to_numeric(v, errors="coerce") for v in sample.column(self.name))
        whole = sample.reference.get(self.name, pd.Series(dtype=float))
        found = sample.evidence(pd.to_numeric(whole, errors="coerce"), current, self.spread_days)
        if found is None or matched.dropna().empty:
            return ColumnDrift(self.name, SEASONAL, None, 0.0, None)
        threshold = float(np.quantile(found.null, 1.0 - self.false_alarm_rate))
        psi = statistics.psi(matched.dropna(), current.dropna())
        detail = (
            f"mean {found.anomaly:+.3g} from its season's, whose weeks vary by {found.spread:.2g}"
        )
        return ColumnDrift(self.name, SEASONAL, found.score, threshold, psi, detail)


class SeasonalCategoricalColumn(Column):
    """A categorical column: the share of each category against the same hours of its season.

    Each category's share of the window's hours is scored as a `SeasonalColumn`'s mean (so the
    spells of rainy days that make a real week's shares vary are in the spread); the column's
    score is its most anomalous category's, and its threshold the score that `false_alarm_rate`
    of the reference's windows exceed on their own most anomalous category.

    Attributes:
        false_alarm_rate: share of the reference's windows that would drift.
        min_share: categories rarer in the reference are not scored (a week cannot tell).
        spread_days: as a `SeasonalColumn`'s.
    """

    KIND: T.Literal["SeasonalCategoricalColumn"] = "SeasonalCategoricalColumn"
    false_alarm_rate: float = pdt.Field(default=0.01, gt=0, lt=0.5)
    spread_days: int | None = pdt.Field(default=30, gt=0)
    min_share: float = pdt.Field(default=0.01, ge=0, lt=1)

    @T.override
    def compare(self, sample: Sample) -> ColumnDrift:
        import numpy as np
        import pandas as pd

        matched, current = (values.dropna() for values in sample.column(self.name))
        whole = sample.reference.get(self.name, pd.Series(dtype=float))
        common = whole.value_counts(normalize=True)
        categories = sorted(common.index[common >= self.min_share])
        found = {
            category: sample.evidence(
                indicator(whole, category), indicator(current, category), self.spread_days
            )
            for category in categories
        }
        scored = {category: item for category, item in found.items() if item is not None}
        if not scored or matched.empty or current.empty:
            return ColumnDrift(self.name, SEASONAL_SHARES, None, 0.0, None)
        null = np.max([item.null for item in scored.values()], axis=0)
        threshold = float(np.quantile(null, 1.0 - self.false_alarm_rate))
        worst = max(scored, key=lambda category: scored[category].score)
        everything = sorted(set(matched.unique()) | set(current.unique()))
        before = statistics.shares(matched, everything)
        psi = statistics.psi_of_shares(before, statistics.shares(current, everything))
        item = scored[worst]
        detail = f"share of {worst} {item.anomaly:+.1%} from its season's"
        detail += f" (weeks vary by {item.spread:.1%})"
        return ColumnDrift(self.name, SEASONAL_SHARES, item.score, threshold, psi, detail)


def indicator(values: pd.Series[T.Any], category: T.Any) -> pd.Series[float]:
    """Return 1.0 where the values are the category, 0.0 elsewhere, missing where missing."""
    return T.cast("pd.Series[float]", (values == category).astype(float).where(values.notna()))


ColumnKind = ContinuousColumn | CategoricalColumn | SeasonalColumn | SeasonalCategoricalColumn


def default_columns() -> list[ColumnKind]:
    """Return the weather columns, scored against their season, each with 1% of false alarms.

    Measured (`python -m benchmarks.monitoring`): see the README's "Monitoring" section.
    """
    return [
        SeasonalCategoricalColumn(name="weathersit"),
        SeasonalColumn(name="temp"),
        SeasonalColumn(name="atemp"),
        SeasonalColumn(name="hum"),
        SeasonalColumn(name="windspeed"),
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
            window's days of the year (in any year), and the seasonal statistics' half-width of a
            season (at least the window's length); None compares it with the whole reference.
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

    def measure(self, sample: Sample, seasonal: bool) -> DriftResult:
        """Measure the drift of each column of the window (predictions included)."""
        columns = [column.compare(sample) for column in self.columns]
        prediction = self.prediction.compare(sample) if self.prediction is not None else None
        breaches = [phrase(drift) for drift in [*columns, prediction] if drift and drift.drifted]
        result = DriftResult(columns, prediction, len(sample.matched), seasonal, [])
        if result.share <= self.max_share:  # a drifted prediction breaches on its own
            breaches = [phrase(prediction)] if prediction and prediction.drifted else []
        return dataclasses.replace(result, breaches=breaches)


def phrase(drift: ColumnDrift) -> str:
    """Return one phrase naming a drifted column, its score, its threshold and what moved."""
    found = f"drift of {drift.column}: {drift.statistic} {drift.score:.3g} > {drift.threshold:.3g}"
    return f"{found} ({drift.detail})" if drift.detail else found
