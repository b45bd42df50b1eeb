"""Tests of a window's checks on synthetic data: drift, no drift, quality and performance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import seasonal_data as synthetic
from benchmarks import monitoring as bench
from seasonal_data import predict

from bikes.monitoring import drift, windows
from bikes.monitoring.monitor import Checks, Observed, Reference
from bikes.monitoring.performance import Baseline, PerformanceCheck, coverage
from bikes.monitoring.quality import schema_bounds


@pytest.fixture
def reference() -> Reference:
    """Return the synthetic reference."""
    return synthetic.reference()


@pytest.fixture
def checks(reference: Reference) -> Checks:
    """Return the default checks, scaled by the synthetic reference."""
    return synthetic.scaled_checks(reference)


@pytest.fixture
def current() -> pd.DataFrame:
    """Return the synthetic production inputs."""
    return synthetic.current()


def first_week(current: pd.DataFrame) -> tuple[windows.Window, pd.DataFrame]:
    """Return the first window of the current inputs, and its rows."""
    window = windows.split(windows.timestamps(current), days=7)[0]
    return window, current.loc[window.contains(windows.timestamps(current))]


def observe(
    checks: Checks,
    rows: pd.DataFrame,
    reference: Reference,
    actuals: pd.Series[float] | None = None,
    window: windows.Window | None = None,
) -> Observed:
    """Check rows as one window (by default the week from their first day)."""
    window = window or windows.split(windows.timestamps(rows), days=7)[0]
    baseline = Baseline(rmse=10.0, mae=8.0)
    return checks.observe(
        window, rows, reference=reference, predict=predict, actuals=actuals, baseline=baseline
    )


def test_a_window_like_its_season_is_quiet(
    checks: Checks, reference: Reference, current: pd.DataFrame
) -> None:
    _, rows = first_week(current)
    result = observe(checks, rows, reference).result
    assert result.breaches == []
    assert result.drift.drifted == []
    assert result.drift.seasonal
    assert result.performance is None  # no actuals: not judged
    assert {d.column for d in result.drift.columns} == {
        "weathersit",
        "temp",
        "atemp",
        "hum",
        "windspeed",
    }  # never the calendar
    assert result.metrics()["drift/share"] == 0.0


def test_a_warmer_window_drifts_naming_the_temperature(
    checks: Checks, reference: Reference, current: pd.DataFrame
) -> None:
    _, rows = first_week(current)
    result = observe(checks, bench.shift(rows, "temp", 0.2), reference).result
    assert "temp" in result.drift.drifted
    assert "atemp" not in result.drift.drifted
    assert any(breach.startswith("drift of temp: seasonal_anomaly") for breach in result.breaches)
    assert "(mean +0.2" in "; ".join(result.breaches)  # the 0.2 shifted, and the week's own
    assert result.drift.share == pytest.approx(1 / 5)


def test_distances_to_the_season_are_still_offered_with_hand_set_thresholds(
    checks: Checks, reference: Reference, current: pd.DataFrame
) -> None:
    columns = [drift.CategoricalColumn(name="weathersit"), drift.ContinuousColumn(name="temp")]
    distances = checks.drift.model_copy(update={"columns": columns})
    scaled = checks.model_copy(update={"drift": distances.scaled(reference.inputs)})
    _, rows = first_week(current)
    assert observe(scaled, rows, reference).result.drift.drifted == []
    result = observe(scaled, bench.shift(rows, "temp", 0.2), reference).result
    assert result.drift.drifted == ["temp"]
    assert result.drift.breaches[0].startswith("drift of temp: wasserstein")


def test_a_tolerated_share_of_drifted_columns_does_not_breach(
    checks: Checks, reference: Reference, current: pd.DataFrame
) -> None:
    tolerant = checks.model_copy(
        update={"drift": checks.drift.model_copy(update={"max_share": 0.5, "prediction": None})}
    )
    _, rows = first_week(current)
    result = observe(tolerant, bench.shift(rows, "temp", 0.2), reference).result
    assert result.drift.drifted == ["temp"]
    assert result.breaches == []


def test_seasonal_reference_leaves_the_window_out_and_falls_back_when_too_short(
    reference: Reference,
) -> None:
    start = pd.Timestamp("2011-03-01")
    window = windows.Window(1, start, start + pd.Timedelta(days=7), start, start)
    mask, seasonal = windows.seasonal(reference.times, window, days=30, min_rows=168)
    chosen = reference.times[mask]
    assert seasonal
    assert not window.contains(chosen).any()  # never the window itself
    assert set(chosen.dt.year) == {2011, 2012}  # the same season of every year
    assert chosen.dt.day_of_year.between(63 - 34, 63 + 34).all()  # 30 days beyond the week
    mask, seasonal = windows.seasonal(reference.times, window, days=30, min_rows=10**6)
    assert not seasonal
    assert mask.sum() == len(reference.times) - 7 * 24  # the whole reference but the window


def test_windows_cut_the_span_from_midnight_and_the_latest_holds_the_last_hour() -> None:
    times = pd.Series(pd.date_range("2012-01-01 05:00", "2012-01-20 10:00", freq="h"))
    cut = windows.split(times, days=7)
    assert [w.label for w in cut] == ["2012-01-01", "2012-01-08", "2012-01-15"]
    assert cut[0].expected_hours == 7 * 24 - 5  # the data starts at 05:00
    assert cut[-1].expected_hours == 5 * 24 + 11  # and ends at 10:00
    assert cut[1].step - cut[0].step == 7  # days since 1970-01-01
    (latest,) = windows.split(times, days=7, latest=True)
    assert (latest.label, latest.expected_hours) == ("2012-01-14", 6 * 24 + 11)
    assert windows.split(pd.Series([pd.NaT]), days=7) == []


def test_drift_columns_must_be_distinct() -> None:
    with pytest.raises(ValueError, match="columns monitored twice: temp"):
        drift.DriftCheck(columns=[drift.ContinuousColumn(name="temp")] * 2)


def test_quality_counts_missing_out_of_range_and_missing_hours(
    checks: Checks, reference: Reference, current: pd.DataFrame
) -> None:
    window, rows = first_week(current)
    broken = rows.iloc[:140].copy()  # 28 of 168 hours missing
    broken.loc[broken.index[:5], "hum"] = np.nan
    broken.loc[broken.index[5:8], "hr"] = 30
    result = observe(checks, broken, reference, window=window)
    quality = result.result.quality
    assert quality.missing["hum"] == pytest.approx(5 / 140)
    assert quality.out_of_range["hr"] == pytest.approx(3 / 140)
    assert quality.valid_rows == 132
    assert result.current["prediction"].isna().sum() == 8  # invalid rows are not predicted
    breaches = "; ".join(quality.breaches)
    assert "missing values of hum: 3.6% > 1.0%" in breaches
    assert "values of hr out of range" in breaches
    assert "volume: 137 of 168 hours" in breaches  # 3 hours at hr=30 fall out of the week


def test_schema_bounds_are_read_from_the_inputs_schema() -> None:
    bounds = schema_bounds()
    assert (bounds["temp"].low, bounds["temp"].high) == (0.0, 1.0)
    assert bounds["season"].allowed == (1.0, 2.0, 3.0, 4.0)
    values = pd.Series(["x", 2, None, 9])
    assert list(bounds["season"].outside(values)) == [True, False, False, True]
    assert not bounds["dteday"].outside(values).any()  # no bounds: only missing counts


def test_performance_decay_with_actuals_breaches_against_the_test_scores(
    checks: Checks, reference: Reference, current: pd.DataFrame
) -> None:
    _, rows = first_week(current)
    exact = predict(rows)
    assert observe(checks, rows, reference, actuals=exact).result.breaches == []
    decayed = observe(checks, rows, reference, actuals=exact - 20.0).result.performance
    assert decayed is not None
    assert decayed.bias == pytest.approx(20.0)
    assert decayed.rmse_ratio == pytest.approx(2.0)
    assert decayed.breaches == [
        "RMSE 20 is 2.00x the test RMSE (> 1.5x)",
        "MAE 20 is 2.50x the test MAE (> 1.5x)",
        "bias 20 is 2.00x the test RMSE (> 0.5x)",
    ]


def test_missing_actuals_are_not_judged(
    checks: Checks, reference: Reference, current: pd.DataFrame
) -> None:
    _, rows = first_week(current)
    late = predict(rows).iloc[:10] - 50.0  # 10 hours known so far: too few to judge
    performance = observe(checks, rows, reference, actuals=late).result.performance
    assert performance is not None
    assert (performance.actuals, performance.rmse, performance.breaches) == (10, None, [])
    scored = PerformanceCheck(min_actuals=5).measure(
        late, predict(rows).iloc[:10], Baseline(rmse=None)
    )
    assert scored.rmse == pytest.approx(50.0)
    assert scored.rmse_ratio is None  # no baseline: no ratio, no breach
    assert scored.breaches == []


def test_coverage_of_intervals_is_ready_for_interval_models() -> None:
    assert coverage([1, 5, 9], [0, 0, 0], [2, 6, 8]) == pytest.approx(2 / 3)


def test_performance_measures_the_coverage_of_the_bounds_and_checks_it() -> None:
    actual = pd.Series([10.0] * 30 + [float("nan")] * 5)
    predicted = pd.Series([10.0] * 35)
    lower, upper = predicted - 1.0, predicted + 1.0
    upper.iloc[:6] = 5.0  # 6 of the 30 known hours miss their interval: 80% coverage

    check = PerformanceCheck(min_coverage=0.9)
    result = check.measure(actual, predicted, Baseline(rmse=1.0, mae=1.0), (lower, upper))

    assert result.coverage == pytest.approx(0.8)
    assert result.breaches == ["coverage 80.0% < 90%"]
    assert check.measure(actual, predicted, Baseline()).coverage is None  # no bounds, no coverage
