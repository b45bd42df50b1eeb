"""End to end on the real data set: the whole pipeline, and the quality of the default model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from bikes import jobs, scripts
from bikes.core import metrics, models, schemas

CONFS = Path(__file__).parents[1] / "confs"
TEST_HOURS = 3476


@pytest.fixture
def real_prepared(real_data_path: Path) -> dict[str, pd.DataFrame]:
    """Prepare the real data in the test folder and return the four splits."""
    with jobs.PreparationJob(source=str(real_data_path)) as runner:
        runner.run()
    names = ["inputs_train", "targets_train", "inputs_test", "targets_test"]
    return {name: pd.read_parquet(f"data/{name}.parquet") for name in names}


@pytest.mark.real
def test_default_model_quality_on_the_real_split(real_prepared: dict[str, pd.DataFrame]) -> None:
    inputs_train = schemas.InputsSchema.check(real_prepared["inputs_train"])
    targets_train = schemas.TargetsSchema.check(real_prepared["targets_train"])
    inputs_test = schemas.InputsSchema.check(real_prepared["inputs_test"])
    model = models.GradientBoostingModel().fit(inputs_train, targets_train)
    predictions = model.predict(inputs_test)["prediction"]
    rmse = metrics.SklearnMetric().score(real_prepared["targets_test"]["cnt"], predictions)
    assert rmse <= 60  # 58.6; the reference's leak-free random forest scores about 73
    assert predictions.min() >= 0


@pytest.mark.real
def test_the_whole_pipeline_on_the_real_data(
    real_data_path: Path, tracking_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(CONFS, "confs")
    # a smaller tuning budget: one trial (the model's own params, as the search starts with them)
    # over the shipped folds, fitted in this process; the rest runs as shipped
    tuning = Path("confs/tuning.yaml")
    config = yaml.safe_load(tuning.read_text())
    config["job"]["searcher"].update(n_trials=1, n_jobs=1)
    tuning.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("BIKES_DATA_SOURCE", str(real_data_path))

    assert scripts.main(["confs/pipeline.yaml"]) == 0

    client = MlflowClient(tracking_uri=tracking_uri)
    champion = client.get_model_version_by_alias("bikes", "champion")
    assert champion.tags["data_digest"]
    predictions = pd.read_parquet("outputs/predictions.parquet")
    assert len(predictions) == TEST_HOURS
    assert predictions["prediction"].min() >= 0
    shap_values = pd.read_parquet("outputs/explanations/shap_values.parquet")
    assert shap_values.shape == (TEST_HOURS, 12)
    experiment = client.get_experiment_by_name("bikes")
    assert experiment is not None
    runs = client.search_runs(
        [experiment.experiment_id], "tags.mlflow.runName LIKE 'Evaluations %'"
    )
    assert runs
    assert runs[0].data.metrics["test_rmse"] <= 60  # one trial: the defaults
