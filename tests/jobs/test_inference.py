"""Tests of the inference job."""

from __future__ import annotations

import typing as T
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from bikes import jobs, scripts
from bikes.core import schemas
from bikes.core.errors import DataError
from bikes.io import datasets

WriteConfig = T.Callable[[str, str], Path]
Registered = dict[str, str]


def test_inference_job_streams_validated_predictions(
    registered_model: Registered, prepared: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    job = jobs.InferenceJob(batch_size=100, log_every=2)

    with job as runner:
        out = runner.run()

    inputs = pd.read_parquet(prepared["inputs_test"])
    outputs = pd.read_parquet("outputs/predictions.parquet")
    assert out.rows == len(outputs) == len(inputs) > 2 * 100
    assert outputs.index.equals(inputs.index)
    schemas.PredictionsSchema.check(outputs)
    bounds = ["prediction_lower", "prediction_upper"]
    assert list(outputs.columns) == ["prediction", *bounds, "timestamp", "model_version"]
    assert (outputs[bounds[0]] <= outputs["prediction"]).all()
    assert (outputs["prediction"] <= outputs[bounds[1]]).all()
    assert set(outputs["model_version"]) == {int(registered_model["version"])}
    assert outputs["timestamp"].iloc[0] == pd.Timestamp(inputs["dteday"].iloc[0]) + pd.Timedelta(
        hours=int(inputs["hr"].iloc[0])
    )
    run = mlflow.MlflowClient().get_run(out.run_id)
    logged = mlflow.MlflowClient().list_artifacts(out.run_id, "predictions")
    assert [item.path for item in logged] == ["predictions/predictions.parquet"]
    assert run.data.params["model_uri"] == "models:/bikes@champion"
    assert run.data.params["model_version"] == registered_model["version"]
    assert run.data.metrics["rows"] == len(inputs)
    assert run.inputs is not None
    assert [item.dataset.name for item in run.inputs.dataset_inputs] == ["inputs"]
    assert "Predicted 200 rows in 2 batches" in capsys.readouterr().err


def test_lineage_describes_a_sample_of_the_first_batch(
    registered_model: Registered, prepared: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from bikes.jobs import inference

    monkeypatch.setattr(inference, "LINEAGE_ROWS", 30)

    with jobs.InferenceJob(batch_size=100) as runner:
        out = runner.run()

    run = mlflow.MlflowClient().get_run(out.run_id)
    assert run.inputs is not None
    dataset = run.inputs.dataset_inputs[0].dataset
    assert json.loads(dataset.profile or "{}")["num_rows"] == 30
    assert dataset.source == json.dumps({"uri": str(Path("data/inputs_test.parquet").resolve())})


def test_range_index_of_a_parquet_input_is_kept_across_batches(
    registered_model: Registered, prepared: dict[str, Path]
) -> None:
    inputs = pd.read_parquet(prepared["inputs_test"])
    inputs.index = pd.RangeIndex(1000, 1000 + 2 * len(inputs), 2, name="instant")
    inputs.to_parquet("ranged.parquet")  # pandas stores a range index as metadata, not a column
    job = jobs.InferenceJob(inputs=datasets.ParquetReader(path="ranged.parquet"), batch_size=100)

    with job as runner:
        runner.run()

    assert pd.read_parquet("outputs/predictions.parquet").index.equals(inputs.index)


def test_inference_by_version_to_csv(registered_model: Registered) -> None:
    job = jobs.InferenceJob(
        version=int(registered_model["version"]),
        alias="missing",
        outputs=datasets.CSVWriter(path="outputs/predictions.csv"),
    )

    with job as runner:
        out = runner.run()

    assert out.model_uri == f"models:/bikes/{registered_model['version']}"
    assert str(out.version) == registered_model["version"]
    assert len(pd.read_csv("outputs/predictions.csv", index_col="instant")) == out.rows


def test_bad_batch_leaves_no_output(
    registered_model: Registered, prepared: dict[str, Path], write_config: WriteConfig
) -> None:
    inputs = pd.read_parquet(prepared["inputs_test"])
    bad_instant = int(inputs.index[150])
    inputs.loc[bad_instant, "hr"] = 24
    inputs.to_parquet("bad.parquet")
    job = jobs.InferenceJob(inputs=datasets.ParquetReader(path="bad.parquet"), batch_size=100)

    with pytest.raises(DataError) as error, job as runner:
        runner.run()

    message = str(error.value)
    assert message.startswith("bad.parquet (batch 2): InputsSchema")
    assert f"column 'hr' failed less_than_or_equal_to(23) at row {bad_instant}" in message
    assert not Path("outputs").exists() or not any(Path("outputs").iterdir())


def test_missing_model_is_a_data_error_naming_the_uri(
    prepared: dict[str, Path],
    tracking_uri: str,
    write_config: WriteConfig,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_config("inference.yaml", "job:\n  KIND: InferenceJob\n")

    code = scripts.main([str(config)])

    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 3
    assert error.startswith("bikes: error: models:/bikes@champion: no version holds the alias")
    assert not Path("outputs/predictions.parquet").exists()


def test_default_config_files_validate() -> None:
    from bikes import settings
    from bikes.io import configs

    confs = Path(__file__).parents[2] / "confs"
    kinds = {}
    for name in ("training", "promotion", "inference"):
        path = str(confs / f"{name}.yaml")
        obj = configs.to_object(configs.parse_file(path))
        kinds[name] = configs.validate(settings.MainSettings, obj, origin=path).job.KIND

    assert kinds == {
        "training": "TrainingJob",
        "promotion": "PromotionJob",
        "inference": "InferenceJob",
    }


def test_big_predictions_are_not_copied_to_the_run(registered_model: Registered) -> None:
    with jobs.InferenceJob(log_outputs_max_bytes=0) as runner:
        out = runner.run()
    client = mlflow.MlflowClient()
    assert client.list_artifacts(out.run_id, "predictions") == []
    tags = client.get_run(out.run_id).data.tags
    assert tags["predictions_path"] == str(Path("outputs/predictions.parquet").resolve())
