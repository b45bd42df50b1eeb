"""Tests of the data preparation job, on synthetic data and on the real data set."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from bikes import jobs
from bikes.core import schemas
from bikes.core.errors import DataError
from bikes.jobs import preparation


def test_default_source_is_the_environment_or_uci(monkeypatch: pytest.MonkeyPatch) -> None:
    assert jobs.PreparationJob().source == preparation.UCI_URL
    monkeypatch.setenv("BIKES_DATA_SOURCE", "/data/hour.csv")
    assert jobs.PreparationJob().source == "/data/hour.csv"
    assert jobs.PreparationJob(source="x.csv").source == "x.csv"


def test_prepare_synthetic_data(prepared: dict[str, Path], hours: pd.DataFrame) -> None:
    inputs_train = pd.read_parquet(prepared["inputs_train"])
    inputs_test = pd.read_parquet(prepared["inputs_test"])
    targets_test = pd.read_parquet(prepared["targets_test"])
    assert (len(inputs_train), len(inputs_test)) == (1728, 432)
    assert inputs_train.index.max() < inputs_test.index.min()
    assert list(targets_test.columns) == ["cnt"]
    assert targets_test.index.equals(inputs_test.index)
    assert set(schemas.LEAKING_COLUMNS).isdisjoint(inputs_train.columns)
    pd.testing.assert_series_equal(targets_test["cnt"], hours["cnt"].iloc[-432:])


def test_schema_violation_writes_nothing(hours: pd.DataFrame, tmp_path: Path) -> None:
    bad = hours.copy()
    bad.loc[100, "weathersit"] = 7
    path = tmp_path / "hour.csv"
    bad.to_csv(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    job = jobs.PreparationJob(source=str(path), sha256=digest)
    with pytest.raises(DataError, match="column 'weathersit' failed .* at row 100 \\(value 7\\)"):
        with job as runner:
            runner.run()
    assert not Path("data").exists()


def test_corrupt_csv_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "hour.csv"
    path.write_text("instant,dteday\n1,2011-01-01,extra,fields\n")
    job = jobs.PreparationJob(
        source=str(path), sha256=hashlib.sha256(path.read_bytes()).hexdigest()
    )
    with pytest.raises(DataError, match=f"^{path}: "), job as runner:
        runner.run()


@pytest.mark.real
def test_prepare_the_real_data(real_data_path: Path) -> None:
    with jobs.PreparationJob(source=str(real_data_path)) as runner:
        out = runner.run()
    assert (out.train_rows, out.test_rows) == (13903, 3476)
    inputs_test = pd.read_parquet("data/inputs_test.parquet")
    assert inputs_test.index.min() == 13904
    assert str(inputs_test["dteday"].max().date()) == "2012-12-31"
    assert len(pd.read_parquet("data/targets_train.parquet")) == 13903
