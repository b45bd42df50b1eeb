"""Tests against a real MLflow tracking server on loopback: training and promotion over HTTP."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import typing as T
import urllib.request
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from bikes import jobs
from bikes.core.models import GradientBoostingModel

STARTUP_SECONDS = 120


@pytest.fixture
def tracking_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow_template: Path
) -> T.Iterator[str]:
    """Start `mlflow server` (SQLite store, served artifacts) on 127.0.0.1; stop it after.

    Its store starts as a copy of the migrated template: the server need not migrate it.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = tmp_path / "server"
    store.mkdir()
    shutil.copyfile(mlflow_template, store / "mlflow.db")
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port)]
    options = ["--workers", "1", "--backend-store-uri", f"sqlite:///{store / 'mlflow.db'}"]
    options += ["--artifacts-destination", str(store / "artifacts")]
    server = subprocess.Popen(
        [*command, *options], cwd=store, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    stderr = server.stderr.read().decode() if server.stderr else ""
                    pytest.fail(f"mlflow server did not start: {stderr[-2000:]}")
                time.sleep(0.5)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


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
