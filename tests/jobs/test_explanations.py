"""Tests of the explanations job: SHAP values, feature importances and their plots."""

from __future__ import annotations

import typing as T
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from bikes import jobs, settings
from bikes.core import models
from bikes.core.errors import DataError
from bikes.io import configs, datasets, registries

CONFS = Path(__file__).parents[2] / "confs"


def test_explanations_of_samples(registered_model: dict[str, str], tracking_uri: str) -> None:
    job = jobs.ExplanationsJob(samples=50)
    with job as runner:
        out = runner.run()
    features = list(
        registries.SklearnLoader()
        .load(registered_model["uri"])
        .pipeline[:-1]
        .get_feature_names_out()
    )
    shap_values = pd.read_parquet("outputs/explanations/shap_values.parquet")
    assert list(shap_values.columns) == features  # one column a model feature
    assert len(shap_values) == 50  # one row a sample
    assert shap_values.index.is_monotonic_increasing
    assert set(shap_values.index) <= set(pd.read_parquet("data/inputs_test.parquet").index)
    importances = pd.read_parquet("outputs/explanations/feature_importances.parquet")
    assert sorted(importances["feature"]) == sorted(features)
    assert importances["importance"].is_monotonic_decreasing
    assert importances["importance"].iloc[0] == pytest.approx(
        shap_values[importances["feature"].iloc[0]].abs().mean()
    )
    client = MlflowClient(tracking_uri=tracking_uri)
    run = client.get_run(out.run_id)
    assert run.data.tags["model_version"] == registered_model["version"]
    assert run.data.params["samples"] == "50"
    paths = {item.path for item in client.list_artifacts(run.info.run_id, "explanations")}
    assert paths == {
        "explanations/shap_summary.png",
        "explanations/importances.png",
        "explanations/feature_importances.parquet",
    }


def test_explanations_of_all_inputs(registered_model: dict[str, str], tracking_uri: str) -> None:
    job = jobs.ExplanationsJob(
        alias_or_version=int(registered_model["version"]),
        shap_values=datasets.ParquetWriter(path="shap.parquet"),
    )
    with job as runner:
        runner.run()
    shap_values = pd.read_parquet("shap.parquet")
    assert len(shap_values) == 432  # the whole test split
    inputs = pd.read_parquet("data/inputs_test.parquet")
    expected = models.shap_values(
        registries.SklearnLoader().load(registered_model["uri"]).pipeline, inputs
    )
    pd.testing.assert_frame_equal(shap_values, expected, check_freq=False)


def test_default_config_is_valid() -> None:
    config = configs.to_object(configs.parse_file(str(CONFS / "explanations.yaml")))
    setting = configs.validate(settings.MainSettings, config, origin="explanations.yaml")
    job = T.cast(jobs.ExplanationsJob, setting.job)
    assert job.samples is None
    assert job.alias_or_version == "champion"


def test_explanations_refuse_missing_data(tracking_uri: str) -> None:
    job = jobs.ExplanationsJob(inputs=datasets.ParquetReader(path="missing.parquet"))
    with job as runner, pytest.raises(DataError, match="missing.parquet: file not found"):
        runner.run()


def test_the_reference_designs_field_names_are_accepted() -> None:
    settings = {
        "KIND": "ExplanationsJob",
        "inputs_samples": {"KIND": "ParquetReader", "path": "data/inputs_test.parquet"},
        "models_explanations": {"KIND": "ParquetWriter", "path": "outputs/models.parquet"},
        "samples_explanations": {"KIND": "ParquetWriter", "path": "outputs/samples.parquet"},
    }
    job = jobs.ExplanationsJob.model_validate(settings)
    assert job.inputs.path == "data/inputs_test.parquet"
    assert job.feature_importances.path == "outputs/models.parquet"
    assert job.shap_values.path == "outputs/samples.parquet"
    ours = jobs.ExplanationsJob.model_validate(
        {"KIND": "ExplanationsJob", "shap_values": settings["samples_explanations"]}
    )
    assert ours.shap_values.path == "outputs/samples.parquet"
    assert jobs.ExplanationsJob(samples=3).samples == 3  # the Python names still work
