"""Windows of time over the current data, and the reference hours of the same season."""

from __future__ import annotations

import dataclasses
import typing as T

if T.TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

    Mask: T.TypeAlias = npt.NDArray[np.bool_]

HOURS_A_DAY = 24
DAYS_A_YEAR = 365


def timestamps(inputs: pd.DataFrame) -> pd.Series[pd.Timestamp]:
    """Return the hour of each row (`dteday` plus `hr`); NaT where either is missing or invalid."""
    import pandas as pd

    day = pd.to_datetime(inputs["dteday"], errors="coerce")
    hour = pd.to_timedelta(pd.to_numeric(inputs["hr"], errors="coerce"), unit="h")
    return day + hour


@dataclasses.dataclass(frozen=True)
class Window:
    """A window of time: from `start` (included) to `end` (excluded), both on the hour.

    Attributes:
        number: rank of the window in the run (from 1).
        start: first hour of the window (midnight of its first day).
        end: hour after the window.
        first: first hour that data may hold (later than `start` when the data starts later).
        last: hour after the last hour that data may hold (earlier than `end` likewise).
    """

    number: int
    start: pd.Timestamp
    end: pd.Timestamp
    first: pd.Timestamp
    last: pd.Timestamp

    @property
    def label(self) -> str:
        """Return the name of the window: its first day (e.g. `2012-11-20`)."""
        return f"{self.start:%Y-%m-%d}"

    @property
    def step(self) -> int:
        """Return the step of the window's metrics: its first day, in days since 1970-01-01.

        So the metrics of every run line up on one axis of time in the MLflow UI.
        """
        import pandas as pd

        return int((self.start - pd.Timestamp("1970-01-01")) // pd.Timedelta(days=1))

    @property
    def expected_hours(self) -> int:
        """Return the hours of the window that the data should cover."""
        import pandas as pd

        return max(int((self.last - self.first) // pd.Timedelta(hours=1)), 0)

    def contains(self, times: pd.Series[pd.Timestamp]) -> Mask:
        """Return which of the times fall in the window."""
        return T.cast("Mask", ((times >= self.start) & (times < self.end)).to_numpy())


def split(times: pd.Series[pd.Timestamp], days: int, latest: bool = False) -> list[Window]:
    """Cut the span of the times into windows of `days` days, from midnight of the first day.

    Args:
        times: hours of the rows (NaT ignored).
        days: length of a window.
        latest: keep only the last window (the one holding the last hour).
    """
    import pandas as pd

    valid = times.dropna()
    if valid.empty:
        return []
    first, last = valid.min(), valid.max() + pd.Timedelta(hours=1)
    length = pd.Timedelta(days=days)
    start = first.normalize()
    windows: list[Window] = []
    while start < last:
        end = start + length
        windows.append(Window(len(windows) + 1, start, end, max(start, first), min(end, last)))
        start = end
    if latest:
        start = (last - length).ceil("D") if last - length > first else first.normalize()
        return [Window(1, start, start + length, max(start, first), last)]
    return windows


def seasonal(
    reference: pd.Series[pd.Timestamp], window: Window, days: int | None, min_rows: int
) -> tuple[Mask, bool]:
    """Return the reference hours to compare a window with, and whether they are of its season.

    They are the hours within `days` days of the window's days of the year, in any year, outside
    the window itself; all the hours outside the window when `days` is None or when fewer than
    `min_rows` hours match (a reference shorter than a year).
    """
    import numpy as np

    outside = ~window.contains(reference)
    if days is None:
        return outside, False
    middle = window.start + (window.end - window.start) / 2
    half = (window.end - window.start).days / 2
    offset = (reference.dt.day_of_year.to_numpy() - middle.day_of_year) % DAYS_A_YEAR
    gap = np.minimum(offset, DAYS_A_YEAR - offset)
    matched = outside & (gap <= days + half)
    if matched.sum() < min_rows:
        return outside, False
    return matched, True
