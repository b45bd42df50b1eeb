"""Tests against a real MLflow tracking server on loopback: training and promotion over HTTP."""

from __future__ import annotations

import shutil
import typing as T
from pathlib import Path

import pytest
from benchmarks import server
from mlflow.tracking import MlflowClient

from bikes import jobs
from bikes.core.models import GradientBoostingModel


@pytest.fixture
def tracking_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow_template: Path
) -> T.Iterator[str]:
    """Start `mlflow server` (SQLite store, served artifacts) on 127.0.0.1; stop it after.

    Its store starts as a copy of the migrated template: the server need not migrate it.
    """
    store = tmp_path / "server"
    store.mkdir()
    shutil.copyfile(mlflow_template, store / "mlflow.db")
    with server.tracking_server(store / "mlflow.db", store / "artifacts") as url:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
        yield url


@pytest.mark.slow
@pytest.mark.integration
def test_training_and_promotion_over_http(
    tracking_server: str,
    prepared: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", raising=False)
    with jobs.TrainingJob(model=GradientBoostingModel(max_iter=10)) as runner:
        trained = runner.run()
    with jobs.PromotionJob() as runner:
        runner.run()
    client = MlflowClient(tracking_uri=tracking_server)
    champion = client.get_model_version_by_alias("bikes", "champion")
    assert int(champion.version) == trained.version
    assert champion.run_id is not None
    run = client.get_run(champion.run_id)
    assert run.data.metrics["test_rmse"] > 0
    assert (tmp_path / "server" / "artifacts").is_dir()  # artifacts went through the server
    assert not (tmp_path / "mlruns").exists()
    assert "View run" not in capsys.readouterr().out  # MLflow's links to ended runs: no noise
