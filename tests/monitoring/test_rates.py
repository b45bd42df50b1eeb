"""Tests of the rates on synthetic data: the control stays quiet, injected shifts are named.

The synthetic weather has a season and fronts of a few days, like the real one, but its weather
category is drawn hour by hour: a week varies less than a real week (whose rainy spells last
days). The thresholds are the defaults: calibrated on the reference, whatever its weather.
"""

from __future__ import annotations

import pytest
import seasonal_data as synthetic
from benchmarks import monitoring as bench
from seasonal_data import predict

from bikes.monitoring import drift
from bikes.monitoring.monitor import Checks, Reference

WINDOWS = 20


@pytest.fixture
def reference() -> Reference:
    """Return the synthetic reference."""
    return synthetic.reference()


@pytest.fixture
def checks(reference: Reference) -> Checks:
    """Return the default checks, scaled by the synthetic reference."""
    return synthetic.scaled_checks(reference)


@pytest.mark.slow
@pytest.mark.integration
def test_control_windows_of_the_reference_period_stay_quiet_and_shifts_are_named(
    checks: Checks, reference: Reference
) -> None:
    rates = bench.rates(checks, reference, predict, count=WINDOWS, seed=0)
    assert rates.windows == WINDOWS
    assert rates.false_alarms <= 0.05 * WINDOWS, rates.reasons
    assert rates.ks_alarms > rates.false_alarms  # p-values flag what effect sizes do not
    assert rates.detected["temp +1 sd"] >= 0.95 * WINDOWS
    assert rates.detected["weathersit 2 doubled"] >= 0.95 * WINDOWS


@pytest.mark.slow
@pytest.mark.integration
def test_without_seasons_the_control_alarms_and_a_warmer_week_hides_in_the_year(
    checks: Checks, reference: Reference
) -> None:
    flat = checks.model_copy(
        update={"drift": checks.drift.model_copy(update={"seasonal_days": None})}
    )
    rates = bench.rates(flat, reference, predict, count=WINDOWS, seed=0)
    assert rates.false_alarms > 0.05 * WINDOWS  # the season's own weeks are not alike
    assert rates.detected["temp +1 sd"] < 0.95 * WINDOWS  # a week of winter against the year
    assert isinstance(flat.drift.columns[1], drift.SeasonalColumn)
