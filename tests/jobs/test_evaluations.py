"""Tests of the evaluations job: test metrics, plots, lineage and thresholds."""

from __future__ import annotations

import typing as T
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from bikes import jobs, settings
from bikes.core.errors import CheckError, ConfigError, DataError
from bikes.core.metrics import SklearnMetric, Threshold
from bikes.io import configs, datasets
from bikes.io.tracking import split_name

CONFS = Path(__file__).parents[2] / "confs"
PLOTS = {
    "evaluations/predictions_over_time.png",
    "evaluations/predicted_vs_actual.png",
    "evaluations/residuals.png",
}


def artifacts(client: MlflowClient, run_id: str, path: str) -> set[str]:
    """Return the paths of the artifacts of a run under a folder."""
    return {item.path for item in client.list_artifacts(run_id, path)}


def test_evaluations_log_test_metrics_and_plots(
    registered_model: dict[str, str], tracking_uri: str
) -> None:
    job = jobs.EvaluationsJob(thresholds=[Threshold(metric="r2_score", min=0.0)])
    with job as runner:
        out = runner.run()
    scores = out.scores
    assert set(scores) == {
        "root_mean_squared_error",
        "mean_absolute_error",
        "r2_score",
        "coverage",
        "coverage_min_hour",
        "mean_width",
        "winkler_score",
    }
    assert scores["root_mean_squared_error"] >= scores["mean_absolute_error"] > 0
    assert out.rows == 432  # the test split of the synthetic data, not the train one
    client = MlflowClient(tracking_uri=tracking_uri)
    run = client.get_run(out.run_id)
    logged = {split_name(name, "test") for name in scores}  # named by the split they score
    assert {"test_rmse", "test_mae", "test_r2", "test_coverage"} <= logged
    assert {name: run.data.metrics[name] for name in logged} == pytest.approx(
        {split_name(name, "test"): score for name, score in scores.items()}
    )
    assert run.data.tags["model_version"] == registered_model["version"]
    assert run.data.tags["model_uri"] == registered_model["uri"]
    assert run.data.tags["thresholds"] == "passed"
    assert artifacts(client, run.info.run_id, "evaluations") == PLOTS
    assert run.inputs is not None
    (lineage,) = run.inputs.dataset_inputs
    assert lineage.dataset.name == "evaluation"
    assert lineage.tags[0].value == "evaluation"


def test_evaluations_by_version(registered_model: dict[str, str], tracking_uri: str) -> None:
    job = jobs.EvaluationsJob(alias_or_version=int(registered_model["version"]), thresholds=[])
    with job as runner:
        out = runner.run()
    assert str(out.version) == registered_model["version"]


def test_breached_threshold_fails_naming_the_metric(
    registered_model: dict[str, str], tracking_uri: str
) -> None:
    job = jobs.EvaluationsJob(
        metrics=[SklearnMetric(name="root_mean_squared_error")],
        thresholds=[Threshold(metric="root_mean_squared_error", max=0.5)],
    )
    with (
        job as runner,
        pytest.raises(CheckError, match=r"root_mean_squared_error = [\d.]+ is above its threshold"),
    ):
        runner.run()
    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name("bikes")
    assert experiment is not None
    (run,) = client.search_runs(
        [experiment.experiment_id],
        filter_string="tags.thresholds = 'breached'",
    )
    assert run.info.status == "FAILED"
    assert "test_rmse" in run.data.metrics  # logged before the check failed


def test_thresholds_bound_the_interval_metrics_too(
    registered_model: dict[str, str], tracking_uri: str
) -> None:
    job = jobs.EvaluationsJob(thresholds=[Threshold(metric="coverage", min=0.999)])
    with job as runner, pytest.raises(CheckError, match=r"coverage = [\d.]+ is below its"):
        runner.run()
    assert jobs.evaluations.breached([Threshold(metric="coverage", min=0.8)], {}) == [
        "metric coverage: not scored (the model has no intervals)"
    ]


def test_default_config_is_valid() -> None:
    config = configs.to_object(configs.parse_file(str(CONFS / "evaluations.yaml")))
    setting = configs.validate(settings.MainSettings, config, origin="evaluations.yaml")
    job = T.cast(jobs.EvaluationsJob, setting.job)
    assert job.alias_or_version == "champion"
    assert job.inputs.path == "data/inputs_test.parquet"
    assert {threshold.metric for threshold in job.thresholds} == {
        "root_mean_squared_error",
        "r2_score",
    }


def test_threshold_of_an_unknown_metric_is_refused() -> None:
    job = {"KIND": "EvaluationsJob", "thresholds": [{"metric": "accuracy", "min": 0.5}]}
    with pytest.raises(ConfigError, match="threshold of 'accuracy': not a metric of the job"):
        configs.validate(settings.MainSettings, {"job": job}, "test")


def test_evaluations_refuse_a_missing_model(prepared: dict[str, Path], tracking_uri: str) -> None:
    job = jobs.EvaluationsJob(alias_or_version="nobody")
    with job as runner, pytest.raises(DataError, match="models:/bikes@nobody"):
        runner.run()


def test_evaluations_refuse_missing_data(tracking_uri: str) -> None:
    job = jobs.EvaluationsJob(targets=datasets.ParquetReader(path="missing.parquet"))
    with job as runner, pytest.raises(DataError, match="file not found"):
        runner.run()
