"""Tests of the monitoring job: metrics by window, reports, summary, alerts and exit codes."""

from __future__ import annotations

import json
import typing as T
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from bikes import jobs, scripts, settings
from bikes.core.errors import CheckError
from bikes.io import configs, datasets

CONFS = Path(__file__).parents[2] / "confs"
TARGETS = datasets.ParquetReader(path="data/targets_test.parquet")


# the synthetic data spans 90 days of a fast season: no week of it matches the same season of
# the reference, so the tests draw their weather hour by hour from the whole reference, and compare
# with it by distances (its weeks, unlike the drawn ones, follow the fast season: the seasonal
# statistics, tested in tests/monitoring, would rightly find the drawn weeks odd)
DISTANCES = [
    {"KIND": "CategoricalColumn", "name": "weathersit", "threshold": 0.45},
    *({"KIND": "ContinuousColumn", "name": name, "threshold": 0.6} for name in ("temp", "atemp")),
    {"KIND": "ContinuousColumn", "name": "hum", "threshold": 1.3},
    {"KIND": "ContinuousColumn", "name": "windspeed", "threshold": 0.9},
]
STEADY = {"drift": {"seasonal_days": None, "prediction": None, "columns": DISTANCES}}
# and the synthetic model errs more on such weather than on the test split
TOLERANT = {"max_rmse_ratio": 10.0, "max_mae_ratio": 10.0, "max_bias_ratio": 10.0}
WEATHER = ["weathersit", "temp", "atemp", "hum", "windspeed"]


def job(**fields: T.Any) -> jobs.MonitoringJob:
    """Return a monitoring job without desktop alerts, steady drift checks unless told."""
    checks = {**STEADY, "performance": TOLERANT, **fields.pop("checks", {})}
    settings = {"alerts_service": {"enable": False}, "checks": checks, **fields}
    return jobs.MonitoringJob.model_validate(settings)


def summary(folder: Path) -> dict[str, T.Any]:
    """Read the JSON summary of the last run."""
    return T.cast(
        dict[str, T.Any],
        json.loads((folder / "outputs" / "monitoring" / "summary.json").read_text()),
    )


def write_steady(path: Path, warmer: float = 0.0, since: str | None = None) -> dict[str, str]:
    """Write the test hours with the weather of random reference hours; return their reader.

    Args:
        path: the Parquet file to write.
        warmer: temperatures moved by this much (from `since` on).
        since: first day of the warmer temperatures (all days when None).
    """
    inputs = pd.read_parquet("data/inputs_test.parquet")
    reference = pd.read_parquet("data/inputs_train.parquet")
    drawn = reference[WEATHER].sample(n=len(inputs), replace=True, random_state=0)
    inputs[WEATHER] = drawn.to_numpy()
    rows = inputs["dteday"] >= pd.Timestamp(since or "1970-01-01")
    inputs.loc[rows, "temp"] = (inputs.loc[rows, "temp"] + warmer).clip(0, 1)
    inputs.to_parquet(path)
    return {"KIND": "ParquetReader", "path": str(path)}


def test_monitoring_logs_the_latest_window_a_report_and_a_summary(
    registered_model: dict[str, str], tracking_uri: str, isolated: Path
) -> None:
    with job(current=write_steady(isolated / "steady.parquet"), current_targets=TARGETS) as runner:
        result = runner.run()
    assert (result.windows, result.alerts, result.first_alert) == (1, 0, None)
    found = summary(isolated)
    (window,) = found["windows"]
    assert window["window"]["label"] == "2011-03-25"  # the last week of the test split
    assert window["alert"] is False
    assert window["performance"]["rmse"] > 0
    assert found["model"]["version"] == int(registered_model["version"])
    client = MlflowClient(tracking_uri=tracking_uri)
    run = client.get_run(result.run_id)
    assert run.data.tags["alerts"] == "0"
    history = client.get_metric_history(result.run_id, "drift/temp")
    assert [point.step for point in history] == [window["window"]["step"]]
    assert "performance/rmse_ratio" in run.data.metrics
    artifacts = {item.path for item in client.list_artifacts(result.run_id, "monitoring")}
    assert artifacts == {"monitoring/2011-03-25.html", "monitoring/summary.json"}
    page = (isolated / "outputs" / "monitoring" / "2011-03-25.html").read_text()
    assert page.count("src='data:image/png;base64,") == 3
    assert "http" not in page.replace("<!DOCTYPE html>", "")  # self-contained
    assert "<script" not in page


def test_drift_alerts_and_fails_naming_the_column_in_the_report(
    registered_model: dict[str, str], tracking_uri: str, isolated: Path
) -> None:
    current = write_steady(isolated / "warm.parquet", warmer=0.3)
    with job(current=current) as runner, pytest.raises(CheckError, match="drift of temp"):
        runner.run()
    (window,) = summary(isolated)["windows"]
    assert "temp" in window["drifted_columns"]
    assert window["performance"] is None  # no actuals
    page = (isolated / "outputs" / "monitoring" / f"{window['window']['label']}.html").read_text()
    assert "ALERT" in page
    assert "Drifted columns: <b>temp" in page
    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name("bikes")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id], "tags.alerts = '1'")
    assert run.info.status == "FAILED"
    assert run.data.metrics["drift/share"] > 0  # logged before the job failed


def test_replay_walks_every_window_and_reports_the_first_alert(
    registered_model: dict[str, str], tracking_uri: str, isolated: Path
) -> None:
    current = write_steady(isolated / "warm.parquet", warmer=0.3, since="2011-03-21")
    replay = job(current=current, current_targets=TARGETS, replay=True)
    with replay as runner, pytest.raises(CheckError, match="first window 2011-03-21"):
        runner.run()
    found = summary(isolated)
    labels = [window["window"]["label"] for window in found["windows"]]
    assert labels == ["2011-03-14", "2011-03-21", "2011-03-28"]
    assert [window["alert"] for window in found["windows"]] == [False, True, True]
    assert found["first_alert"]["window"] == "2011-03-21"
    assert found["first_alert"]["number"] == 2
    assert all(window["performance"] for window in found["windows"])
    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name("bikes")
    assert experiment is not None
    (run,) = client.search_runs(
        [experiment.experiment_id], "attributes.run_name LIKE 'Monitoring %'"
    )
    steps = [point.step for point in client.get_metric_history(run.info.run_id, "drift/temp")]
    assert sorted(steps) == [window["window"]["step"] for window in found["windows"]]


def test_performance_decay_with_actuals_exits_4_through_the_command_line(
    registered_model: dict[str, str],
    tracking_uri: str,
    isolated: Path,
    write_config: T.Callable[[str, str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    targets = pd.read_parquet("data/targets_test.parquet")
    (targets * 3).to_parquet(isolated / "busier.parquet")  # three times the rentals predicted
    config = write_config(
        "monitoring.yaml",
        "job:\n  KIND: MonitoringJob\n  alerts_service: {enable: false}\n"
        "  current_targets: {KIND: ParquetReader, path: busier.parquet}\n"
        "  checks: {drift: {columns: [], prediction: null}}\n",
    )
    assert scripts.main([str(config)]) == 4
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.startswith("bikes: error: models:/bikes/")
    assert "1 of 1 windows breached; first window 2011-03-25: RMSE" in error
    (window,) = summary(isolated)["windows"]
    assert window["performance"]["rmse_ratio"] > 1.5
    assert window["performance"]["bias"] < 0  # the model predicts too few
    assert window["performance"]["coverage"] < 0.5  # three times the rentals: out of bounds


def test_thresholds_come_from_the_config(
    registered_model: dict[str, str], tracking_uri: str, isolated: Path
) -> None:
    strict = {
        "checks": {"quality": {"min_volume_ratio": 1.0}, "performance": {"max_bias_ratio": 1e-6}}
    }
    with job(current_targets=TARGETS, **strict) as runner, pytest.raises(CheckError, match="bias"):
        runner.run()


def test_missing_actuals_leave_performance_unjudged(
    registered_model: dict[str, str], tracking_uri: str, isolated: Path
) -> None:
    targets = pd.read_parquet("data/targets_test.parquet")
    targets.iloc[:-10].to_parquet(isolated / "late.parquet")  # the last 10 hours are not known yet
    targets.iloc[:200].to_parquet(isolated / "early.parquet")  # nothing of the last week is
    current = write_steady(isolated / "steady.parquet")
    late = job(current=current, current_targets={"KIND": "ParquetReader", "path": "late.parquet"})
    with late as runner:
        runner.run()
    (window,) = summary(isolated)["windows"]
    assert window["performance"]["actuals"] == window["quality"]["rows"] - 10
    early = job(current=current, current_targets={"KIND": "ParquetReader", "path": "early.parquet"})
    with early as runner:
        runner.run()
    (window,) = summary(isolated)["windows"]
    assert window["performance"]["rmse"] is None
    assert window["performance"]["actuals"] == 0


def test_default_config_is_valid() -> None:
    config = configs.to_object(configs.parse_file(str(CONFS / "monitoring.yaml")))
    setting = configs.validate(settings.MainSettings, config, origin="monitoring.yaml")
    monitoring = T.cast(jobs.MonitoringJob, setting.job)
    assert monitoring.reference.path == "data/inputs_train.parquet"
    assert monitoring.current_targets is not None
    assert monitoring.reports_dir == "outputs/monitoring"
    assert monitoring.checks == jobs.MonitoringJob().checks  # the config spells the defaults
