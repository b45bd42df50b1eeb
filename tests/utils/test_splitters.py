"""Tests of the chronological splitters."""

from __future__ import annotations

import pandas as pd
import pytest

from bikes.utils import splitters


def test_train_test_split_is_chronological_with_gap(hours: pd.DataFrame) -> None:
    splitter = splitters.TrainTestSplitter(test_size=0.25, gap=24)
    (train, test), *others = list(splitter.split(hours))
    assert others == []
    assert len(test) == 540
    assert train.max() + 24 + 1 == test.min()
    assert test.max() == len(hours) - 1


def test_train_test_split_by_count(hours: pd.DataFrame) -> None:
    train, test = next(splitters.TrainTestSplitter(test_size=100).split(hours))
    assert (len(train), len(test)) == (len(hours) - 100, 100)
    with pytest.raises(ValueError, match="cannot split"):
        next(splitters.TrainTestSplitter(test_size=len(hours)).split(hours))


def test_time_series_folds_never_look_ahead(hours: pd.DataFrame) -> None:
    splitter = splitters.TimeSeriesSplitter(n_splits=3, test_size=168, gap=12)
    folds = list(splitter.split(hours))
    assert len(folds) == 3
    for train, test in folds:
        assert train.max() + 12 < test.min()
        assert len(test) == 168
    assert folds[-1][1].max() == len(hours) - 1


def test_monthly_folds_expand_and_test_the_month_after_their_origin(hours: pd.DataFrame) -> None:
    from bikes.core.schemas import hours as stamps_of

    shuffled = hours.sample(frac=1.0, random_state=0)  # located by their hour, not their order
    splitter = splitters.MonthlySplitter(first_month="2011-02", n_splits=2)
    folds = list(splitter.split(shuffled))
    stamps = stamps_of(shuffled).reset_index(drop=True)
    assert len(folds) == 2
    tested = []
    for (train, test), month in zip(folds, ["2011-02", "2011-03"], strict=True):
        origin = pd.Timestamp(month)
        assert (stamps[train] < origin).all()  # only hours known at the origin
        assert len(train) == (stamps < origin).sum()  # all of them: an expanding window
        assert (stamps[test] >= origin).all()
        assert (stamps[test] < origin + pd.DateOffset(months=1)).all()
        assert len(test) == 24 * pd.Period(month).days_in_month  # the whole month after it
        tested.append(set(test))
    assert not tested[0] & tested[1]  # no overlap of the tested months
    assert len(folds[1][0]) == len(folds[0][0]) + len(folds[0][1])  # the next origin expands


def test_monthly_folds_need_hours_before_and_in_each_month(hours: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="cannot test month 2011-01: no hour before it"):
        list(splitters.MonthlySplitter(first_month="2011-01", n_splits=1).split(hours))
    with pytest.raises(ValueError, match="cannot test month 2011-04: no hour in it"):
        list(splitters.MonthlySplitter(first_month="2011-03", n_splits=2).split(hours))


def test_monthly_splitter_refuses_a_malformed_month() -> None:
    with pytest.raises(ValueError, match="first_month"):
        splitters.MonthlySplitter(first_month="2012-13")
