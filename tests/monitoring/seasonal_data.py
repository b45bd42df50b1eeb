"""Synthetic data of the monitoring tests: two years of seasonal hours, and a reference."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from bikes.monitoring.monitor import Checks, Reference

YEARS = 2
REFERENCE_SHARE = 0.7


@functools.cache
def seasonal_hours(years: int = YEARS, seed: int = 0) -> pd.DataFrame:
    """Make hourly inputs with a yearly season, weather fronts of a few days and hourly noise."""
    rng = np.random.default_rng(seed)
    stamps = pd.date_range("2011-01-01", periods=years * 365 * 24, freq="h")
    days = len(stamps) // 24
    fronts = np.zeros(days)
    for day in range(1, days):  # weather of a day follows the day before (AR(1))
        fronts[day] = 0.6 * fronts[day - 1] + rng.normal(0, 0.02)
    season = 0.5 + 0.25 * np.sin(2 * np.pi * (stamps.day_of_year.to_numpy() - 110) / 365)
    temp = np.clip(season + np.repeat(fronts, 24) + rng.normal(0, 0.02, len(stamps)), 0, 1)
    weekday = ((stamps.day_of_week.to_numpy() + 1) % 7).astype(int)
    return pd.DataFrame(
        {
            "dteday": stamps.normalize(),
            "season": ((stamps.month.to_numpy() % 12) // 3 + 1).astype(int),
            "yr": (stamps.year.to_numpy() - 2011).astype(int),
            "mnth": stamps.month.to_numpy().astype(int),
            "hr": stamps.hour.to_numpy().astype(int),
            "holiday": np.zeros(len(stamps), dtype=int),
            "weekday": weekday,
            "workingday": ((weekday > 0) & (weekday < 6)).astype(int),
            "weathersit": rng.choice([1, 2, 3], size=len(stamps), p=[0.6, 0.3, 0.1]),
            "temp": temp,
            "atemp": np.clip(0.9 * temp + rng.normal(0, 0.01, len(stamps)), 0, 1),
            "hum": rng.uniform(0.3, 0.9, len(stamps)),
            "windspeed": rng.uniform(0.0, 0.5, len(stamps)),
        },
        index=pd.RangeIndex(1, len(stamps) + 1, name="instant"),
    )


def predict(inputs: pd.DataFrame) -> pd.Series[float]:
    """Predict a count from the temperature and the hour (a stand-in for a model)."""
    return (300 * inputs["temp"] + 5 * inputs["hr"]).astype(float)


def reference() -> Reference:
    """Return the first 70% of the synthetic hours, predicted, as the reference."""
    hours = seasonal_hours()
    return Reference.of(hours.iloc[: int(len(hours) * REFERENCE_SHARE)], predict)


def current() -> pd.DataFrame:
    """Return the last 30% of the synthetic hours: the production inputs."""
    hours = seasonal_hours()
    return hours.iloc[int(len(hours) * REFERENCE_SHARE) :]


def scaled_checks(reference: Reference) -> Checks:
    """Return the default checks, scaled by the reference."""
    default = Checks()
    return default.model_copy(update={"drift": default.drift.scaled(reference.inputs)})
