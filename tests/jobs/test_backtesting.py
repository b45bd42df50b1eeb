"""Tests of the backtesting job: monthly folds refit and scored against the baselines."""

from __future__ import annotations

import math
import typing as T
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from bikes import jobs, scripts
from bikes.core.errors import DataError
from bikes.core.models import BaselineSklearnModel, GradientBoostingModel
from bikes.jobs import backtesting
from bikes.utils import splitters

WriteConfig = T.Callable[[str, str], Path]
CONFS = Path(__file__).parents[2] / "confs"
FEBRUARY_AND_MARCH = splitters.MonthlySplitter(first_month="2011-02", n_splits=2)


def small(
    model: GradientBoostingModel, reference: BaselineSklearnModel | None
) -> jobs.BacktestingJob:
    """Return a backtest of February and March 2011 (the synthetic data's) of small models."""
    return jobs.BacktestingJob(splitter=FEBRUARY_AND_MARCH, model=model, reference=reference)


def test_backtest_scores_each_month_against_the_baselines(
    prepared: dict[str, Path], tracking_uri: str
) -> None:
    with (
        threadpool_limits(limits=1),
        small(
            GradientBoostingModel(max_iter=10), BaselineSklearnModel(n_estimators=5, max_depth=5)
        ) as runner,
    ):
        out = runner.run()

    folds = out.folds
    assert folds["month"].tolist() == ["2011-02", "2011-03"]
    assert folds["train_rows"].tolist() == [31 * 24, 59 * 24]  # every hour before the month
    assert folds["test_rows"].tolist() == [28 * 24, 31 * 24]  # train and test splits read in turn
    for name in ("model", "seasonal_naive", "reference"):
        assert (folds[f"{name}_rmse"] >= folds[f"{name}_mae"]).all()
        assert (folds[f"{name}_mae"] >= folds[f"{name}_bias"].abs()).all()
    assert folds["model_coverage"].between(0, 1).all()  # calibrated at each origin
    assert out.means["model_mae"] == pytest.approx(folds["model_mae"].mean())
    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    history = client.get_metric_history(out.run_id, "model_mae")
    assert [(m.step, m.value) for m in history] == list(enumerate(folds["model_mae"], start=1))
    run = client.get_run(out.run_id)
    assert run.data.metrics["mean_seasonal_naive_mae"] == pytest.approx(
        out.means["seasonal_naive_mae"]
    )
    assert run.data.metrics["mean_model_coverage"] == pytest.approx(folds["model_coverage"].mean())
    files = {item.path for item in client.list_artifacts(out.run_id, "backtesting")}
    assert files == {"backtesting/folds.csv", "backtesting/folds.md", "backtesting/folds.png"}
    table = client.download_artifacts(out.run_id, "backtesting/folds.csv")
    assert pd.read_csv(table)["month"].tolist() == ["2011-02", "2011-03"]


def test_backtest_learns_more_than_the_naive_forecast(
    prepared: dict[str, Path], tracking_uri: str
) -> None:
    with threadpool_limits(limits=1), small(GradientBoostingModel(), None) as runner:
        out = runner.run()

    assert "reference_mae" not in out.folds.columns
    assert out.means["mae_skill"] > 0.3  # noise and temperature: the naive week repeats both


def test_a_backtest_without_intervals_has_no_coverage(
    prepared: dict[str, Path], tracking_uri: str
) -> None:
    job = small(GradientBoostingModel(max_iter=10), None).model_copy(update={"intervals": None})
    with threadpool_limits(limits=1), job as runner:
        out = runner.run()

    assert out.folds["model_coverage"].isna().all()


def test_a_month_without_data_is_a_data_error(prepared: dict[str, Path], tracking_uri: str) -> None:
    job = jobs.BacktestingJob(splitter=splitters.MonthlySplitter(first_month="2011-03", n_splits=2))
    with job as runner, pytest.raises(DataError, match="cannot test month 2011-04: no hour in it"):
        runner.run()


def test_coverage_hook_reads_the_bounds_when_the_model_has_them() -> None:
    actual = pd.Series([1.0, 5.0, 10.0, 20.0])
    bounds = pd.DataFrame({"prediction_lower": [0.0, 6.0, 8.0, 19.0], "prediction_upper": 12.0})

    assert backtesting.coverage(bounds, actual) == 0.5
    assert math.isnan(backtesting.coverage(bounds[["prediction_lower"]], actual))


def test_readers_of_inputs_and_targets_are_paired() -> None:
    with pytest.raises(ValueError, match="2 readers of inputs but 1 of targets"):
        jobs.BacktestingJob(targets=[jobs.BacktestingJob().targets[0]])


def test_default_config_file_runs_through_the_cli(
    prepared: dict[str, Path], tracking_uri: str
) -> None:
    small = [
        "job.splitter.first_month=2011-03",
        "job.splitter.n_splits=1",
        "job.model.max_iter=5",
        "job.reference.n_estimators=2",
    ]
    with threadpool_limits(limits=1):
        assert scripts.main([str(CONFS / "backtesting.yaml"), "-e", *small]) == 0

    runs = mlflow.search_runs(filter_string="attributes.run_name LIKE 'Backtesting%'")
    assert runs["metrics.mean_model_mae"].notna().all()


def test_leaking_columns_never_reach_the_models(
    prepared: dict[str, Path], tracking_uri: str, hours: pd.DataFrame
) -> None:
    def backtest() -> pd.DataFrame:
        model = GradientBoostingModel(max_iter=10)
        with threadpool_limits(limits=1), small(model, None) as runner:
            return runner.run().folds

    clean = backtest()
    for split in ("inputs_train", "inputs_test"):  # the raw columns that add up to the target
        inputs = pd.read_parquet(prepared[split])
        raw = hours.loc[inputs.index, ["casual", "registered", "cnt"]]
        inputs.join(raw).to_parquet(prepared[split])

    assert backtest().equals(clean)
