"""Tests of the training job."""

from __future__ import annotations

import json
import re
import typing as T
from pathlib import Path

import mlflow
import pytest
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from bikes import jobs, scripts
from bikes.core.errors import ConfigError, DataError
from bikes.core.models import BaselineSklearnModel, GradientBoostingModel
from bikes.io import services
from bikes.jobs import training

WriteConfig = T.Callable[[str, str], Path]

MINIMAL_CONFIG = """\
job: {KIND: TrainingJob, inputs: {KIND: ParquetReader, path: data/inputs_train.parquet}, \
targets: {KIND: ParquetReader, path: data/targets_train.parquet}}
"""


def test_training_job_logs_and_registers_a_model(
    prepared: dict[str, Path], tracking_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    Path("best.json").write_text(json.dumps({"max_iter": 20, "learning_rate": 0.2}))
    job = jobs.TrainingJob(
        params_file="best.json",
        mlflow_service=services.MlflowService(
            system_metrics_interval=0.2, system_metrics_min_seconds=0
        ),
    )

    with job as runner:
        out = runner.run()

    client = job.mlflow_service.client()
    run = client.get_run(out.run_id)
    version = client.get_model_version("bikes", str(out.version))
    metrics = run.data.metrics
    assert run.inputs is not None
    assert metrics["test_rmse"] > metrics["test_mae"] > 0  # named by the split they score
    assert 0.5 < metrics["test_r2"] <= 1
    assert run.data.params["model"] == "GradientBoostingModel"
    assert (run.data.params["max_iter"], run.data.params["learning_rate"]) == ("20", "0.2")
    assert any(name.startswith("system/") for name in metrics), sorted(metrics)
    datasets = {
        (item.dataset.name, tag.value)
        for item in run.inputs.dataset_inputs
        for tag in item.tags
        if tag.key == "mlflow.data.context"
    }
    assert datasets == {
        ("inputs_train", "training"),
        ("targets_train", "training"),
        ("inputs_test", "testing"),
        ("targets_test", "testing"),
    }
    digest = next(
        item.dataset.digest
        for item in run.inputs.dataset_inputs
        if item.dataset.name == "inputs_train"
    )
    assert str(version.version) == "1"
    assert version.run_id == run.info.run_id
    assert version.tags["data_digest"] == digest == run.data.tags["data_digest"]
    assert re.fullmatch(r"[0-9a-f]{40}|unknown", version.tags["git_commit"])
    assert version.aliases == []  # promotion moves aliases
    assert version.tags["refit_on_all"] == "false"
    assert "Registered bikes version 1" in capsys.readouterr().err


def test_training_scores_a_validation_window_before_the_test_split(
    prepared: dict[str, Path], tracking_uri: str
) -> None:
    with (
        threadpool_limits(limits=1),
        jobs.TrainingJob(model=GradientBoostingModel(max_iter=20)) as runner,
    ):
        out = runner.run()

    run = mlflow.MlflowClient().get_run(out.run_id)
    assert set(out.validation_scores) == {"validation_rmse", "validation_mae", "validation_r2"}
    assert {k: run.data.metrics[k] for k in out.validation_scores} == out.validation_scores
    assert out.validation_scores["validation_rmse"] != out.scores["root_mean_squared_error"]
    # the last 173 of the 1,728 train hours (72 days from 2011-01-01), then the test hours
    assert run.data.tags["validation_window"] == "2011-03-06 19:00 to 2011-03-13 23:00"
    assert run.data.tags["test_window"] == "2011-03-14 00:00 to 2011-03-31 23:00"


def test_refit_on_all_fits_the_registered_model_on_the_test_split_too(
    prepared: dict[str, Path], tracking_uri: str
) -> None:
    from bikes.core.schemas import TARGET
    from bikes.io import datasets, registries

    test = datasets.read_labelled(
        datasets.ParquetReader(path=str(prepared["inputs_test"])),
        datasets.ParquetReader(path=str(prepared["targets_test"])),
    )
    errors = {}
    for refit in (False, True):
        job = jobs.TrainingJob(model=GradientBoostingModel(max_iter=20), refit_on_all=refit)
        with threadpool_limits(limits=1), job as runner:
            out = runner.run()
        version = mlflow.MlflowClient().get_model_version("bikes", str(out.version))
        assert version.tags["refit_on_all"] == str(refit).lower()
        model = registries.SklearnLoader().load(f"models:/bikes/{out.version}")
        predicted = model.predict(test.inputs)["prediction"]
        errors[refit] = float((predicted - test.targets[TARGET]).abs().mean())
        assert out.scores["mean_absolute_error"] == pytest.approx(errors[False])  # before refit

    assert errors[True] < errors[False]  # it has seen the test hours


def test_minimal_config_runs_through_the_cli(
    prepared: dict[str, Path], tracking_uri: str, write_config: WriteConfig
) -> None:
    config = write_config("training.yaml", MINIMAL_CONFIG)
    fewer_trees = "{job: {model: {KIND: GradientBoostingModel, max_iter: 10}}}"  # else defaults

    with threadpool_limits(limits=1):  # OpenMP threads thrash on busy cores
        assert scripts.main([str(config), "-e", fewer_trees]) == 0

    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    versions = client.search_model_versions("name='bikes'")
    assert [str(version.version) for version in versions] == ["1"]


def test_default_config_file_validates() -> None:
    from bikes import settings
    from bikes.io import configs

    path = Path(__file__).parents[2] / "confs" / "training.yaml"
    setting = configs.validate(
        settings.MainSettings, configs.to_object(configs.parse_file(str(path))), origin=str(path)
    )

    assert isinstance(setting.job, jobs.TrainingJob)
    assert setting.job.params_file == "outputs/tuning/best_params.json"


def test_registry_alias_points_to_the_new_version(registered_model: dict[str, str]) -> None:
    client = mlflow.MlflowClient()

    version = client.get_model_version_by_alias(registered_model["name"], "champion")

    assert str(version.version) == registered_model["version"]


def test_missing_params_file_keeps_the_model_defaults(
    tracking_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    job = jobs.TrainingJob(params_file="outputs/tuning/best_params.json")

    with job:
        model = job.tuned_model()

    assert model == jobs.TrainingJob().model
    assert "No hyperparameters file at outputs/tuning/best_params.json" in capsys.readouterr().err


def test_params_file_sets_hyperparameters_without_changing_the_job() -> None:
    Path("best.json").write_text(json.dumps({"max_iter": 7, "target": "log"}))
    job = jobs.TrainingJob(params_file="best.json", model=GradientBoostingModel(max_iter=3))

    model = job.tuned_model()

    assert isinstance(model, GradientBoostingModel)
    assert (model.max_iter, model.target) == (7, "log")
    assert job.model == GradientBoostingModel(max_iter=3)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"max_iter": "many"}', r"best.json: max_iter: Input should be a valid integer"),
        ('{"max_iter": 0}', r"best.json: max_iter: Input should be greater than 0"),
        ('{"trees": 3}', r"best.json: trees: Extra inputs are not permitted"),
        ('{"max_iter": ', r"best.json: cannot read hyperparameters"),
        ("[1, 2]", r"best.json: hyperparameters must be a JSON object"),
    ],
)
def test_invalid_params_file_is_a_config_error(text: str, message: str) -> None:
    Path("best.json").write_text(text)
    job = jobs.TrainingJob(params_file="best.json")

    with pytest.raises(ConfigError, match=message):
        job.tuned_model()


def test_params_file_of_another_model_kind_is_a_config_error() -> None:
    Path("best.json").write_text(json.dumps({"max_iter": 7}))
    job = jobs.TrainingJob(params_file="best.json", model=BaselineSklearnModel())

    with pytest.raises(ConfigError, match="best.json: max_iter: Extra inputs"):
        job.tuned_model()


def test_missing_training_data_is_a_data_error(
    tracking_uri: str, capsys: pytest.CaptureFixture[str], write_config: WriteConfig
) -> None:
    config = write_config("training.yaml", MINIMAL_CONFIG)

    with pytest.raises(DataError, match=r"data/inputs_train.parquet: file not found"):
        with jobs.TrainingJob() as runner:
            runner.run()
    assert scripts.main([str(config)]) == 3
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "bikes: error: data/inputs_train.parquet: file not found"
    )


def test_git_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert re.fullmatch(r"[0-9a-f]{40}", training.git_commit())  # the work tree of the package
    assert training.git_commit(tmp_path) == "unknown"  # not a git work tree
    monkeypatch.setenv("PATH", "")
    assert training.git_commit() == "unknown"  # no git


def test_training_describes_the_version_and_the_model(registered_model: dict[str, str]) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    version = client.get_model_version("bikes", registered_model["version"])
    assert version.description is not None
    assert f"Trained by run `{registered_model['run_id']}`" in version.description
    assert "| `test_rmse` |" in version.description and "rentals an hour" in version.description
    assert "| `temp` | float64 | 0..1 | air temperature: (°C + 8) / 47" in version.description
    model = client.get_registered_model("bikes")
    assert model.description is not None
    assert "| `weathersit` | int64 | 1..4 | weather: 1 clear" in model.description
    run = client.get_run(registered_model["run_id"])
    assert run.info.run_name.startswith("Training GradientBoosting ")
    assert run.data.tags["mlflow.note.content"].startswith("Fit a model on the train split")
