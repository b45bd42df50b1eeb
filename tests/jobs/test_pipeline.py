"""Tests of the pipeline job: steps validated first, then run in order."""

from __future__ import annotations

import typing as T
from pathlib import Path

import pytest

from bikes import jobs, scripts
from bikes.core.errors import ConfigError

WriteConfig = T.Callable[[str, str], Path]


def test_pipeline_runs_its_steps_in_order(
    write_config: WriteConfig, hours_csv: Path, hours_sha256: str
) -> None:
    first = write_config("first.yaml", f"job: {{KIND: PreparationJob, source: {hours_csv}}}\n")
    second = write_config(
        "second.yaml",
        f"job: {{KIND: PreparationJob, source: {hours_csv}, cache_dir: second,"
        " inputs_test: {KIND: CSVWriter, path: second/inputs_test.csv}}\n",
    )
    pipeline = write_config(
        "pipeline.yaml",
        f"job:\n  KIND: PipelineJob\n  steps: [{first}, {second}]\n"
        f"  extras: ['job.sha256={hours_sha256}']\n",
    )
    assert scripts.main([str(pipeline)]) == 0
    assert Path("data/inputs_test.parquet").is_file()
    assert Path("second/inputs_test.csv").is_file()


def test_a_bad_step_fails_before_any_step_runs(write_config: WriteConfig, hours_csv: Path) -> None:
    good = write_config("good.yaml", f"job: {{KIND: PreparationJob, source: {hours_csv}}}\n")
    bad = write_config("bad.yaml", "job: {KIND: PreparationJob, typo: 1}\n")
    empty = write_config("empty.yaml", "other: 1\n")
    with pytest.raises(ConfigError, match=f"^{bad}: PreparationJob.typo: Extra inputs"):
        with jobs.PipelineJob(steps=[str(good), str(bad)]) as runner:
            runner.run()
    with pytest.raises(ConfigError, match=f"^{empty}: job: Field required"):
        with jobs.PipelineJob(steps=[str(empty)]) as runner:
            runner.run()
    assert not Path("data").exists()


def test_default_steps_follow_the_dag() -> None:
    names = [Path(step).stem for step in jobs.PipelineJob().steps]
    assert names == [
        "preparation",
        "tuning",
        "training",
        "promotion",
        "inference",
        "evaluations",
        "explanations",
    ]


def test_steps_get_their_own_runs_under_mlflow_run(
    write_config: WriteConfig,
    hours_csv: Path,
    hours_sha256: str,
    tracking_uri: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    project_run = client.create_run(client.create_experiment("project")).info.run_id
    monkeypatch.setenv("MLFLOW_RUN_ID", project_run)
    prepare = write_config(
        "prepare.yaml",
        f"job: {{KIND: PreparationJob, source: {hours_csv}, sha256: {hours_sha256}}}\n",
    )
    train = write_config(
        "train.yaml",
        "job: {KIND: TrainingJob, model: {KIND: GradientBoostingModel, max_iter: 5}}\n",
    )
    with jobs.PipelineJob(steps=[str(prepare), str(train)]) as runner:
        out = runner.run()
    assert out.run_id == project_run  # the project's run is the pipeline's
    assert client.get_run(project_run).data.params == {}
    assert client.get_experiment_by_name("bikes") is None
    steps = client.search_runs(
        [client.get_run(project_run).info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{project_run}'",
    )
    names = sorted(run.info.run_name.split()[0] for run in steps)  # e.g. `Training <model>...`
    assert names == ["PreparationJob", "Training"]
    assert [run.data.params["max_iter"] for run in steps if run.data.params] == ["5"]
    assert {run.info.status for run in steps} == {"FINISHED"}


def versions() -> list[str]:
    import mlflow

    return [str(v.version) for v in mlflow.MlflowClient().search_model_versions("name='bikes'")]


def test_unchanged_steps_are_skipped_and_a_changed_one_reruns_downstream(
    write_config: WriteConfig, hours_csv: Path, hours_sha256: str, tracking_uri: str
) -> None:
    prepare = write_config(
        "prepare.yaml",
        f"job: {{KIND: PreparationJob, source: {hours_csv}, sha256: {hours_sha256}}}\n",
    )
    train = write_config(
        "train.yaml",
        "job: {KIND: TrainingJob, model: {KIND: GradientBoostingModel, max_iter: 5}}\n",
    )
    promote = write_config("promote.yaml", "job: {KIND: PromotionJob}\n")
    steps = [str(prepare), str(train), str(promote)]

    def pipeline(**fields: T.Any) -> jobs.PipelineResult:
        with jobs.PipelineJob(steps=steps, **fields) as runner:
            return runner.run()

    first = pipeline()
    assert first.skipped == [] and versions() == ["1"]
    again = pipeline()
    assert again.skipped == steps  # nothing changed: nothing runs, no new version
    assert versions() == ["1"]
    import mlflow

    parent = mlflow.MlflowClient().get_run(first.run_id)
    children = mlflow.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{first.run_id}'"
    )
    names = sorted(name.split()[0] for name in children["tags.mlflow.runName"])
    assert names == ["PreparationJob", "Promotion", "Training"]

    train.write_text(train.read_text().replace("max_iter: 5", "max_iter: 6"))
    changed = pipeline()
    assert changed.skipped == [str(prepare)]  # the training and what reads its version run
    assert versions() == ["2", "1"] or sorted(versions()) == ["1", "2"]
    assert pipeline().skipped == steps

    Path("data/inputs_test.parquet").unlink()  # an output gone: its step runs again
    assert pipeline().skipped == [str(train), str(promote)]
    assert pipeline(force=True).skipped == []
