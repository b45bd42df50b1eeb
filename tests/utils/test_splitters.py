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
