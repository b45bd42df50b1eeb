"""Tests of the prediction intervals: coverage on known noise, bounds, the baseline, the scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from bikes.core import intervals, metrics
from bikes.core.errors import DataError
from bikes.core.models import GradientBoostingModel

NOISE = 20.0  # standard deviation of the Gaussian noise of the synthetic counts
ROWS = 6000


def noisy_hours(rows: int, seed: int, noise: np.ndarray | float = NOISE) -> pd.DataFrame:
    """Make exchangeable hours: a mean of hour and temperature, plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    hr = rng.integers(0, 24, rows)
    temp = rng.uniform(0, 1, rows)
    mean = 150 + 200 * np.exp(-((hr - 8) ** 2) / 4) + 100 * temp
    frame = pd.DataFrame(
        {
            "season": rng.integers(1, 5, rows),
            "yr": 0,
            "mnth": rng.integers(1, 13, rows),
            "hr": hr,
            "holiday": 0,
            "weekday": rng.integers(0, 7, rows),
            "workingday": 1,
            "weathersit": 1,
            "temp": temp,
            "atemp": temp,
            "hum": 0.5,
            "windspeed": 0.2,
        },
        index=pd.RangeIndex(rows, name="instant"),
    )
    scale = np.asarray(noise)[hr] if np.ndim(noise) else noise
    counts = np.clip(np.round(mean + rng.normal(0, 1, rows) * scale), 0, None).astype(int)
    return frame.assign(cnt=counts)


def fitted_intervals(
    train: pd.DataFrame, held_out: pd.DataFrame, calibration_size: float = 0.2
) -> tuple[np.ndarray, np.ndarray]:
    """Calibrate and fit the default model on train; return the bounds of the held-out rows."""
    model = GradientBoostingModel()
    inputs, targets = train.drop(columns="cnt"), train[["cnt"]]
    settings = intervals.Intervals(level=0.9, calibration_size=calibration_size)
    with threadpool_limits(limits=1):
        conformal = settings.calibrate(model, inputs, targets)
        outputs = model.fit(inputs, targets).predict(held_out.drop(columns="cnt"))
    return conformal.bounds(outputs["prediction"], held_out["hr"])


def test_intervals_cover_gaussian_noise_at_their_level_and_no_wider() -> None:
    train, held_out = noisy_hours(ROWS, seed=1), noisy_hours(ROWS, seed=2)

    lower, upper = fitted_intervals(train, held_out)

    assert metrics.coverage(held_out["cnt"], lower, upper) == pytest.approx(0.9, abs=0.02)
    ideal = 2 * 1.645 * NOISE  # the width of the 90% interval of the noise itself
    assert np.mean(upper - lower) == pytest.approx(ideal, rel=0.15)


def test_intervals_cover_every_hour_when_the_noise_depends_on_the_hour() -> None:
    noise = np.where(np.arange(24) % 6 == 0, 4 * NOISE, NOISE / 2)  # 4 hours 8x noisier
    train, held_out = noisy_hours(ROWS, 3, noise), noisy_hours(2 * ROWS, 4, noise)

    lower, upper = fitted_intervals(train, held_out, calibration_size=0.5)

    scores = metrics.interval_scores(held_out["cnt"], lower, upper, 0.9, held_out["hr"])
    assert 0.88 <= scores["coverage"] <= 0.95  # conservative: its model saw half the rows
    assert scores["coverage_min_hour"] >= 0.8  # pooled margins cover the noisy hours < 70%


def test_bounds_are_never_negative_and_hold_the_prediction() -> None:
    conformal = intervals.Conformal(
        level=0.9, margins=[0.0, 0.5, 3.0, *[30.0] * 21], calibration_rows=100
    )
    predictions = np.array([0.0, 1e-9, 0.3, 2.0, 7.0, 123.456, 0.0])
    hours = np.array([0, 1, 2, 3, 4, 5, 1])

    lower, upper = conformal.bounds(predictions, hours)

    assert (lower >= 0).all()
    assert (lower <= predictions).all() and (predictions <= upper).all()
    assert lower[3] == 0.0 and upper[3] == pytest.approx((np.sqrt(2) + 30) ** 2)
    assert lower[0] == upper[0] == 0.0  # a zero margin: the prediction itself


def test_margins_come_from_each_hour_and_a_rare_hour_takes_all_hours() -> None:
    hours = np.repeat(np.arange(23), 20)  # no row of hour 23
    predicted = np.full(len(hours), 100.0)
    actual = (np.sqrt(predicted) + hours / 10) ** 2  # scores of each hour: hour / 10

    conformal = intervals.Intervals(level=0.9).margins(actual, predicted, hours)

    assert conformal.margins[:23] == pytest.approx([hour / 10 for hour in range(23)])
    assert conformal.margins[23] == pytest.approx(intervals.conformal_quantile(hours / 10, 0.9))
    with pytest.raises(DataError, match="too few for a level of 0.9"):
        intervals.Intervals(level=0.9).margins(actual[:5], predicted[:5], hours[:5])


def test_calibration_window_needs_rows_on_both_sides() -> None:
    train = noisy_hours(3, seed=5)
    with pytest.raises(DataError, match="calibration window of 0 of 3"):
        intervals.Intervals(calibration_size=0.1).calibrate(
            GradientBoostingModel(), train.drop(columns="cnt"), train[["cnt"]]
        )


def test_digest_changes_with_any_margin() -> None:
    conformal = intervals.Conformal(level=0.9, margins=[1.0] * 24, calibration_rows=10)
    changed = conformal.model_copy(update={"margins": [1.0] * 23 + [1.5]})
    assert conformal.digest() == intervals.Conformal.model_validate(conformal.model_dump()).digest()
    assert conformal.digest() != changed.digest()


def test_hour_of_week_baseline_takes_the_quantiles_of_each_hour_of_week() -> None:
    train = noisy_hours(2000, seed=6)
    train["cnt"] = train["weekday"] * 24 + train["hr"]  # one count an hour of week
    unseen = pd.DataFrame({"weekday": [0, 6], "hr": [5, 23]})
    train = train[~((train["weekday"] == 6) & (train["hr"] == 23))]

    bounds = intervals.hour_of_week(train, train["cnt"], level=0.9)
    lower, upper = bounds(unseen)

    assert lower[0] == upper[0] == 5
    assert (lower[1], upper[1]) == tuple(train["cnt"].quantile([0.05, 0.95]))


def test_winkler_score_adds_the_misses_weighted_by_the_level() -> None:
    targets, lower, upper = [5.0, 0.0, 20.0], [0.0, 2.0, 10.0], [10.0, 4.0, 15.0]
    # widths 10, 2, 5; misses 0, 2 (below), 5 (above), each weighted 2 / 0.1 = 20
    assert metrics.winkler_score(targets, lower, upper, 0.9) == pytest.approx((17 + 40 + 100) / 3)
    assert metrics.coverage(targets, lower, upper) == pytest.approx(1 / 3)
