"""Standardized anomalies of a window's mean against the same season and hours of the reference.

A week of real weather differs from its season by weather fronts of several days: a distance
between the distributions of its hours mixes that with the daily cycle and the shape of the
season. Here a window is compared like with like, and against a null built from the reference:

1. the climate: the mean of each hour of the day over the reference days within `days` days of
   each day of the year (in any year), so a window's hour is compared with the same hour of the
   same season;
2. the anomaly of a window: the mean of its hours' differences from their climate;
3. the null: the anomaly of every window of the same length in the reference (one a starting day,
   each left out of the climate it is compared with), and their spread (their root mean square;
   over the whole year, or weighted by a Gaussian of `spread_days` over the day of the year);
4. the score: the window's anomaly in units of that spread; its threshold: the quantile of the
   reference windows' own scores (each one scored against a spread that leaves out the windows
   sharing a day with it) that leaves `false_alarm_rate` of them above it.

The reference passed in must not hold the window (the monitor leaves it out): so a window of the
reference period is judged by the rest of the reference, as a window of production would be.
"""

from __future__ import annotations

import dataclasses
import typing as T

if T.TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

    Floats: T.TypeAlias = npt.NDArray[np.float64]
    Ints: T.TypeAlias = npt.NDArray[np.int64]

DAYS_A_YEAR = 365
HOURS_A_DAY = 24
# share of its hours that a reference window needs to join the null
MIN_COVERAGE = 0.8
# fewer reference windows: no null, no score
MIN_WINDOWS = 10


@dataclasses.dataclass(frozen=True)
class Grid:
    """Values on a grid of days by hours of the day: their sums and counts (missing: 0, 0).

    Attributes:
        sums: sum of the values of each day and hour (days x 24).
        counts: number of values of each day and hour.
        day_of_year: day of the year of each day, from 0 to 364 (the 366th folds on the 365th).
        first: the first day.
    """

    sums: Floats
    counts: Floats
    day_of_year: Ints
    first: pd.Timestamp

    @classmethod
    def of(cls, values: pd.Series[float], times: pd.Series[pd.Timestamp]) -> Grid:
        """Place values on the grid of the days their times span (missing values and times left)."""
        import numpy as np
        import pandas as pd

        known = values.notna().to_numpy() & times.notna().to_numpy()
        stamps, numbers = times[known], values[known].to_numpy(dtype=float)
        first = stamps.min().normalize() if len(stamps) else pd.Timestamp("1970-01-01")
        day = ((stamps.dt.normalize() - first) // pd.Timedelta(days=1)).to_numpy(dtype=np.int64)
        days = int(day.max()) + 1 if len(day) else 0
        place = day * HOURS_A_DAY + stamps.dt.hour.to_numpy()
        size = days * HOURS_A_DAY
        sums = np.bincount(place, numbers, size).reshape(days, HOURS_A_DAY)
        counts = np.bincount(place, minlength=size).astype(float).reshape(days, HOURS_A_DAY)
        dates = pd.date_range(first, periods=days, freq="D")
        return cls(sums, counts, day_of_year(dates), first)


def day_of_year(dates: pd.DatetimeIndex) -> Ints:
    """Return the day of the year from 0 to 364 (the 31st of December of a leap year: 364)."""
    import numpy as np

    return T.cast("Ints", np.minimum(dates.day_of_year.to_numpy() - 1, DAYS_A_YEAR - 1))


def circular_sum(table: Floats, days: int | None) -> Floats:
    """Sum each day of the year's rows with those within `days` days of it (all: None)."""
    import numpy as np

    if days is None or 2 * days + 1 >= DAYS_A_YEAR:
        return np.broadcast_to(table.sum(axis=0), table.shape).copy()
    padded = np.concatenate([table[-days:], table, table[:days]]) if days else table
    running = np.concatenate([np.zeros((1, table.shape[1])), np.cumsum(padded, axis=0)])
    return T.cast("Floats", running[2 * days + 1 :] - running[: -(2 * days + 1)])


def circular_gap(left: npt.ArrayLike, right: npt.ArrayLike) -> Floats:
    """Return the distance in days between days of the year, around the year's end."""
    import numpy as np

    gap = np.abs(np.subtract(left, right)) % DAYS_A_YEAR
    return T.cast("Floats", np.minimum(gap, DAYS_A_YEAR - gap))


@dataclasses.dataclass(frozen=True)
class Null:
    """The anomalies of every reference window of a given length, and where they sit in the year.

    Attributes:
        anomalies: the anomaly of each window (with enough hours).
        middles: the day of the year of each window's middle.
        starts: the first day of each window, in days since the reference's first day.
        length: the windows' length in days.
        bandwidth: the spread's season in days: the windows' weight is a Gaussian of this width
            over the day of the year (None: every window weighs the same, one spread a year).
    """

    anomalies: Floats
    middles: Floats
    starts: Floats
    length: int
    bandwidth: float | None

    def weights(self, middle: float) -> Floats:
        """Return the weight of each reference window in the spread of a season."""
        import numpy as np

        if self.bandwidth is None:
            return np.ones_like(self.anomalies)
        gaps = circular_gap(self.middles, middle) / self.bandwidth
        return T.cast("Floats", np.exp(-0.5 * gaps**2))

    def spread(self, middle: float) -> float:
        """Return the root mean square of the anomalies of the season of a day of the year."""
        import numpy as np

        weights = self.weights(middle)
        return float(np.sqrt(np.sum(weights * self.anomalies**2) / np.sum(weights)))

    def scores(self) -> Floats:
        """Return each reference window's anomaly over the spread of the windows apart from it."""
        import numpy as np

        if self.bandwidth is None:
            weights = np.ones((len(self.anomalies), len(self.anomalies)))
        else:
            gaps = circular_gap(self.middles[:, None], self.middles[None, :])
            weights = np.exp(-0.5 * (gaps / self.bandwidth) ** 2)
        apart = np.abs(self.starts[:, None] - self.starts[None, :]) >= self.length
        weights = np.where(apart, weights, 0.0)
        spreads = np.sqrt(weights @ self.anomalies**2 / np.maximum(weights.sum(axis=1), 1e-12))
        return np.abs(self.anomalies) / np.maximum(spreads, 1e-12)


@dataclasses.dataclass(frozen=True)
class Climate:
    """The mean of each hour of the day over the same season of the reference.

    Attributes:
        grid: the reference values on their grid.
        sums: sums of the values within `days` days of each day of the year (365 x 24).
        counts: their counts.
        days: half-width of the season in days (None: the whole year).
    """

    grid: Grid
    sums: Floats
    counts: Floats
    days: int | None

    @classmethod
    def of(cls, grid: Grid, days: int | None) -> Climate:
        """Sum the grid's values by day of the year and hour, then over the season of each day."""
        import numpy as np

        sums = np.zeros((DAYS_A_YEAR, HOURS_A_DAY))
        counts = np.zeros((DAYS_A_YEAR, HOURS_A_DAY))
        np.add.at(sums, grid.day_of_year, grid.sums)
        np.add.at(counts, grid.day_of_year, grid.counts)
        return cls(grid, circular_sum(sums, days), circular_sum(counts, days), days)

    def anomaly(self, values: pd.Series[float], times: pd.Series[pd.Timestamp]) -> float | None:
        """Return the mean difference of values from the climate of their hours (None: no pair)."""
        import numpy as np
        import pandas as pd

        known = values.notna().to_numpy() & times.notna().to_numpy()
        stamps = times[known]
        row = day_of_year(pd.DatetimeIndex(stamps))
        hour = stamps.dt.hour.to_numpy()
        counts = self.counts[row, hour]
        climate = np.divide(self.sums[row, hour], counts, where=counts > 0, out=np.zeros(len(row)))
        differences = (values[known].to_numpy(dtype=float) - climate)[counts > 0]
        return float(differences.mean()) if len(differences) else None

    def null(self, length: int, bandwidth: float | None = None) -> Null:
        """Return the anomaly of every window of `length` days of the reference (left out)."""
        import numpy as np

        grid = self.grid
        days = len(grid.day_of_year) - length + 1
        if days <= 0:
            return Null(np.zeros(0), np.zeros(0), np.zeros(0), length, bandwidth)
        starts = np.arange(days)
        inside = starts[:, None] + np.arange(length)[None, :]  # windows x days
        own_sums = np.cumsum(np.concatenate([np.zeros((1, 24)), grid.sums]), axis=0)
        own_counts = np.cumsum(np.concatenate([np.zeros((1, 24)), grid.counts]), axis=0)
        window_sums = (own_sums[starts + length] - own_sums[starts])[:, None, :]
        window_counts = (own_counts[starts + length] - own_counts[starts])[:, None, :]
        rest = self.counts[grid.day_of_year[inside]] - window_counts
        climate = (self.sums[grid.day_of_year[inside]] - window_sums) / np.maximum(rest, 1)
        counts = np.where(rest > 0, grid.counts[inside], 0.0)
        differences = np.where(counts > 0, grid.sums[inside] - counts * climate, 0.0)
        hours = counts.sum(axis=(1, 2))
        full = hours >= MIN_COVERAGE * length * HOURS_A_DAY
        anomalies = differences.sum(axis=(1, 2))[full] / hours[full]
        middles = grid.day_of_year[starts + length // 2][full].astype(float)
        return Null(anomalies, middles, starts[full].astype(float), length, bandwidth)


@dataclasses.dataclass(frozen=True)
class Evidence:
    """A window's anomaly, its season's spread, its score, and the scores of the null's windows.

    Attributes:
        anomaly: the window's mean difference from its climate (in the values' unit).
        spread: root mean square of the anomalies of the reference windows of its season.
        score: the anomaly over the spread (its absolute value).
        null: the score of each reference window (against the spread of the windows apart).
    """

    anomaly: float
    spread: float
    score: float
    null: Floats


def evidence(
    reference: pd.Series[float],
    reference_times: pd.Series[pd.Timestamp],
    current: pd.Series[float],
    current_times: pd.Series[pd.Timestamp],
    *,
    middle: pd.Timestamp,
    days: int | None,
    length: int,
    spread_days: float | None = None,
) -> Evidence | None:
    """Score a window's anomaly against the reference (None: too little data to judge).

    Args:
        reference: the reference values (without the window's hours).
        reference_times: their hours.
        current: the window's values.
        current_times: their hours.
        middle: the middle of the window (its season).
        days: the season's half-width (at least `length`; None: the whole year).
        length: the window's length in days.
        spread_days: the bandwidth of the season of the spread (None: one spread a year).
    """
    import numpy as np
    import pandas as pd

    climate = Climate.of(Grid.of(reference, reference_times), days)
    anomaly = climate.anomaly(current, current_times)
    null = climate.null(length, spread_days)
    if anomaly is None or len(null.anomalies) < MIN_WINDOWS:
        return None
    spread = null.spread(float(day_of_year(pd.DatetimeIndex([middle]))[0]))
    spread = spread or float(np.finfo(float).eps)
    return Evidence(anomaly, spread, abs(anomaly) / spread, null.scores())
