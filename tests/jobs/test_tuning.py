"""Tests of the tuning job: trials as child runs, best params for the training job."""

from __future__ import annotations

import json
import typing as T
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from bikes import jobs, settings
from bikes.core.errors import ConfigError, DataError
from bikes.core.models import GradientBoostingModel
from bikes.io import configs, datasets
from bikes.utils import searchers, splitters

CONFS = Path(__file__).parents[2] / "confs"


def small_searcher() -> searchers.OptunaSearcher:
    """Return an Optuna search of 3 quick trials, in this process, whose best trial wins."""
    return searchers.OptunaSearcher(
        space={
            "learning_rate": searchers.FloatDistribution(low=0.05, high=0.3, log=True),
            "max_iter": searchers.IntDistribution(low=5, high=30),
        },
        n_trials=3,
        timeout=None,
        n_jobs=1,  # the searchers' tests fit in parallel processes
        keep_model_within=None,
    )


def test_tuning_logs_trials_as_child_runs_and_writes_best_params(
    prepared: dict[str, Path], tracking_uri: str
) -> None:
    job = jobs.TuningJob(
        model=GradientBoostingModel(max_leaf_nodes=7, learning_rate=0.1),  # not the defaults
        splitter=splitters.TimeSeriesSplitter(n_splits=3, gap=24),
        searcher=small_searcher(),
    )
    with job as runner:
        out = runner.run()
    result = out  # the search's result, as the tuning job kept it
    assert isinstance(result, jobs.TuningResult)
    # the best params: a file the training job reads, usable by the model
    params = json.loads(Path("outputs/tuning/best_params.json").read_text(encoding="utf-8"))
    assert params == result.best_params
    assert set(params) == {"learning_rate", "max_iter"}
    first = result.trials["params"].iloc[0]  # the model's params, those in the space
    assert first["learning_rate"] == 0.1 and 5 <= first["max_iter"] <= 30
    model = GradientBoostingModel(**params)
    inputs = pd.read_parquet(prepared["inputs_train"])
    targets = pd.read_parquet(prepared["targets_train"])
    assert len(model.fit(inputs, targets).predict(inputs)) == len(inputs)
    # the runs: one parent with the best, one child a trial
    client = MlflowClient(tracking_uri=tracking_uri)
    parent = client.get_run(out.run_id)
    assert json.loads(parent.data.tags["best_params"]) == params
    assert parent.data.metrics["best_root_mean_squared_error"] == result.best_score
    assert parent.data.params == {name: str(value) for name, value in params.items()}
    assert parent.inputs is not None
    assert [dataset.dataset.name for dataset in parent.inputs.dataset_inputs] == [
        "inputs_train",
        "targets_train",
    ]
    assert "best_params.json" in [item.path for item in client.list_artifacts(parent.info.run_id)]
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    )
    assert len(children) == len(result.trials) == 3
    scores = [child.data.metrics["root_mean_squared_error"] for child in children]
    assert min(scores) == result.best_score
    best = result.trials["trial"].iloc[result.trials["score"].argmin()]
    assert parent.data.tags["best_trial"] == str(best) == str(result.best_trial)
    for child in children:
        assert set(child.data.params) == {"learning_rate", "max_iter"}
        folds = {f"root_mean_squared_error_fold_{k}" for k in (1, 2, 3)}
        assert folds <= set(child.data.metrics)


def test_tuning_with_a_grid(prepared: dict[str, Path], tracking_uri: str) -> None:
    job = jobs.TuningJob(
        model=GradientBoostingModel(max_iter=10),
        splitter=splitters.TimeSeriesSplitter(n_splits=2),
        searcher=searchers.GridCVSearcher(
            param_grid={"max_leaf_nodes": [4, 8]}, n_jobs=1, verbose=0
        ),
        params_file="tuned/params.json",
    )
    with job as runner:
        out = runner.run()
    assert len(out.trials) == 2
    params = json.loads(Path("tuned/params.json").read_text(encoding="utf-8"))
    assert params in [{"max_leaf_nodes": 4}, {"max_leaf_nodes": 8}]


def test_default_config_is_valid() -> None:
    config = configs.to_object(configs.parse_file(str(CONFS / "tuning.yaml")))
    setting = configs.validate(settings.MainSettings, config, origin="tuning.yaml")
    job = T.cast(jobs.TuningJob, setting.job)
    assert isinstance(job, jobs.TuningJob)
    assert isinstance(job.searcher, searchers.OptunaSearcher)
    assert job.params_file == "outputs/tuning/best_params.json"


TOO_HIGH = {"learning_rate": {"type": "float", "low": 0.1, "high": 2}}


@pytest.mark.parametrize(
    ("searcher", "message"),
    [
        ({"KIND": "GridCVSearcher", "param_grid": {"depth": [3]}}, "has no param 'depth'"),
        ({"KIND": "OptunaSearcher", "space": TOO_HIGH}, "refuses learning_rate=2"),
        ({"KIND": "GridCVSearcher", "param_grid": {"max_iter": [0]}}, "refuses max_iter=0"),
    ],
)
def test_searched_params_must_suit_the_model(searcher: dict[str, T.Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        configs.validate(
            settings.MainSettings, {"job": {"KIND": "TuningJob", "searcher": searcher}}, "test"
        )


def test_tuning_refuses_missing_data(tracking_uri: str) -> None:
    job = jobs.TuningJob(inputs=datasets.ParquetReader(path="missing.parquet"))
    with job as runner, pytest.raises(DataError, match="missing.parquet: file not found"):
        runner.run()


def test_tuning_refuses_misaligned_targets(prepared: dict[str, Path], tracking_uri: str) -> None:
    job = jobs.TuningJob(targets=datasets.ParquetReader(path=str(prepared["targets_test"])))
    with job as runner, pytest.raises(DataError, match="do not have the same index"):
        runner.run()
