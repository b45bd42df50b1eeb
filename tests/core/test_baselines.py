"""Tests of the baselines: the seasonal naive forecast from the hours known at the origin."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bikes.core import baselines


def series(start: str, periods: int, first_instant: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return inputs (`dteday`, `hr`) of consecutive hours, and counts equal to their number."""
    stamps = pd.date_range(start, periods=periods, freq="h")
    index = pd.RangeIndex(first_instant, first_instant + periods, name="instant")
    inputs = pd.DataFrame({"dteday": stamps.normalize(), "hr": stamps.hour}, index=index)
    return inputs, pd.DataFrame({"cnt": np.arange(first_instant, first_instant + periods)}, index)


def test_seasonal_naive_repeats_the_last_known_week() -> None:
    history, targets = series("2012-01-02", 2 * 168)  # hours 0 to 335 known at the origin
    future, _ = series("2012-01-16", 2 * 168 + 5, first_instant=336)

    forecast = baselines.seasonal_naive(history, targets, future)

    # the same hour one week earlier while it is known, then the last known week again
    expected = np.array([168 + (hour - 336) % 168 for hour in future.index], dtype=float)
    np.testing.assert_array_equal(forecast["prediction"].to_numpy(), expected)
    assert forecast.index.equals(future.index)


def test_seasonal_naive_never_uses_unknown_or_missing_hours() -> None:
    history, targets = series("2012-01-02", 2 * 168)
    gap = history.index[-168 + 10]  # an hour of the last week is missing: take the week before
    history, targets = history.drop(index=gap), targets.drop(index=gap)
    future, _ = series("2012-01-16", 24, first_instant=336)

    forecast = baselines.seasonal_naive(history.iloc[::-1], targets.iloc[::-1], future)

    assert forecast["prediction"].iloc[10] == gap - 168
    assert forecast["prediction"].iloc[11] == 336 - 168 + 11
    assert (forecast["prediction"] < 336).all()  # nothing from the hours to forecast


def test_seasonal_naive_fills_a_phase_never_seen_with_the_mean() -> None:
    history, targets = series("2012-01-02", 24)  # one day only: most hours of the week unseen
    future, _ = series("2012-01-03", 2, first_instant=24)

    forecast = baselines.seasonal_naive(history, targets, future)

    assert forecast["prediction"].tolist() == [11.5, 11.5]
