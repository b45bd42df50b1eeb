"""Tests of the seasonal anomalies: like with like by hour and season, a null left out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bikes.monitoring import seasons

HOURS = pd.Series(pd.date_range("2011-01-01", "2012-12-30 23:00", freq="h"))


def daily_cycle(
    times: pd.Series[pd.Timestamp], noise: float = 0.0, seed: int = 0
) -> pd.Series[float]:
    """Return a strong daily cycle on a seasonal one, with weekly weather of `noise`."""
    rng = np.random.default_rng(seed)
    weeks = ((times - times.min()).dt.days // 7).to_numpy(dtype=int)
    weather = np.asarray(rng.normal(0, noise, int(weeks.max()) + 1))[weeks]
    season = np.sin(2 * np.pi * times.dt.day_of_year.to_numpy() / 365)
    day = 2.0 * np.sin(2 * np.pi * times.dt.hour.to_numpy() / 24)
    return pd.Series(season + day + weather, index=times.index)


def test_circular_sum_wraps_around_the_year_and_covers_it_all_without_a_season() -> None:
    table = np.zeros((seasons.DAYS_A_YEAR, 1))
    table[0, 0] = 1.0
    summed = seasons.circular_sum(table, days=2)
    assert summed[[363, 364, 0, 1, 2], 0].tolist() == [1.0] * 5  # 31 December sees 1 January
    assert summed[3, 0] == 0.0
    assert (seasons.circular_sum(table, days=None) == 1.0).all()


def test_an_anomaly_compares_each_hour_with_the_same_hour_of_its_season() -> None:
    values = daily_cycle(HOURS)
    climate = seasons.Climate.of(seasons.Grid.of(values, HOURS), days=15)
    nights = HOURS.dt.hour.isin([15, 16, 17, 18, 19, 20, 21]) & (HOURS.dt.month == 6)
    # nights alone are far below the day's mean, not below the nights of their season
    assert values[nights].mean() - values[HOURS.dt.month == 6].mean() < -1.0
    assert climate.anomaly(values[nights], HOURS[nights]) == pytest.approx(0.0, abs=0.02)
    assert climate.anomaly(values[nights] + 0.5, HOURS[nights]) == pytest.approx(0.5, abs=0.02)


def test_the_null_leaves_each_window_out_of_its_climate() -> None:
    values = daily_cycle(HOURS, noise=0.1)
    climate = seasons.Climate.of(seasons.Grid.of(values, HOURS), days=30)
    null = climate.null(length=7)
    assert len(null.anomalies) == len(HOURS) // 24 - 6  # a window a starting day
    first = values[pd.Timestamp("2011-01-08") > HOURS]
    rest = values[pd.Timestamp("2011-01-08") <= HOURS]
    alone = seasons.Climate.of(seasons.Grid.of(rest, HOURS[rest.index]), days=30)
    expected = alone.anomaly(first, HOURS[first.index])
    assert null.anomalies[0] == pytest.approx(expected)  # as if the window were not there
    assert null.spread(null.middles[100]) == pytest.approx(0.1, rel=0.3)


def test_the_threshold_leaves_the_false_alarm_rate_of_reference_windows_above_it() -> None:
    times = HOURS[pd.Timestamp("2012-09-01") > HOURS]
    values = daily_cycle(times, noise=0.1)
    window = HOURS[pd.Timestamp("2012-09-03") <= HOURS].head(7 * 24)
    current = daily_cycle(HOURS, noise=0.1)[window.index]
    middle = window.min() + pd.Timedelta(hours=84)
    found = seasons.evidence(values, times, current, window, middle=middle, days=30, length=7)
    assert found is not None
    warmer = seasons.evidence(
        values, times, current + 0.5, window, middle=middle, days=30, length=7
    )
    assert warmer is not None
    assert warmer.anomaly == pytest.approx(found.anomaly + 0.5)
    assert warmer.score > np.quantile(warmer.null, 0.99) > found.score
    assert (
        seasons.evidence(
            values.head(24), times.head(24), current, window, middle=middle, days=30, length=7
        )
        is None
    )
