"""Tests of the metrics and thresholds."""

from __future__ import annotations

import pandas as pd
import pytest

from bikes.core import metrics
from bikes.core.errors import CheckError


def test_metrics_have_their_natural_sign() -> None:
    targets = pd.Series([10.0, 20.0, 30.0])
    predictions = pd.Series([12.0, 18.0, 30.0])
    rmse = metrics.SklearnMetric(name="root_mean_squared_error")
    r2 = metrics.SklearnMetric(name="r2_score")
    assert rmse.score(targets, predictions) == pytest.approx((8 / 3) ** 0.5)
    assert not rmse.greater_is_better
    assert r2.greater_is_better
    assert rmse.better(1.0, 2.0)
    assert r2.better(0.9, 0.8)


def test_unknown_metric_is_rejected() -> None:
    with pytest.raises(
        ValueError, match="unknown metric 'rmse': pick one of .*root_mean_squared_error"
    ):
        metrics.SklearnMetric(name="rmse")


def test_thresholds_name_the_metric() -> None:
    threshold = metrics.Threshold(metric="r2_score", min=0.5, max=0.99)
    threshold.check(0.7)
    with pytest.raises(CheckError, match="metric r2_score = 0.4 is below its threshold 0.5"):
        threshold.check(0.4)
    with pytest.raises(CheckError, match="metric r2_score = 1 is above its threshold 0.99"):
        threshold.check(1.0)
