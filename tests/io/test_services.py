"""Tests of the logger, alerts and MLflow services."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from loguru import logger

from bikes.io import services


def test_logger_writes_json_lines_to_a_file(tmp_path: Path) -> None:
    sink = tmp_path / "log.jsonl"
    service = services.LoggerService(sink=str(sink), serialize=True, level="DEBUG")
    service.start()
    logger.debug("hello {}", "world")
    service.stop()
    record = json.loads(sink.read_text().splitlines()[-1])
    assert record["record"]["message"] == "hello world"
    services.LoggerService().start()


def test_logger_filters_by_level(capsys: pytest.CaptureFixture[str]) -> None:
    service = services.LoggerService(sink="stdout", level="WARNING", colorize=False)
    service.start()
    logger.info("quiet")
    logger.warning("loud")
    out = capsys.readouterr().out
    assert "loud" in out
    assert "quiet" not in out
    services.LoggerService().start()


def test_alerts_fall_back_to_the_log_without_a_desktop(capsys: pytest.CaptureFixture[str]) -> None:
    services.LoggerService(sink="stdout", colorize=False).start()
    services.AlertsService().notify(title="Done", message="42 rows")
    services.AlertsService(enable=False).notify(title="Hidden", message="nothing")
    out = capsys.readouterr().out
    assert "[alert] Done: 42 rows" in out
    assert "Hidden" not in out
    services.LoggerService().start()


def test_mlflow_uris_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert services.MlflowService().tracking_uri == "http://127.0.0.1:5000"
    assert services.MlflowService().registry_uri == "http://127.0.0.1:5000"
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert services.MlflowService().tracking_uri == "sqlite:///mlflow.db"
    assert services.MlflowService(tracking_uri="sqlite:///x.db").tracking_uri == "sqlite:///x.db"


def test_mlflow_run_context_records_system_metrics(tracking_uri: str) -> None:
    import time

    service = services.MlflowService(
        experiment_name="tests", system_metrics_interval=0.2, system_metrics_min_seconds=1.0
    )
    service.start()
    run_config = services.MlflowService.RunConfig(name="run", tags={"k": "v"})
    with service.run_context(run_config) as run:
        time.sleep(1.5)
    with service.run_context(run_config) as short:
        time.sleep(0.5)
    assert not service.client().get_run(short.id).data.metrics  # under a second: no samples
    finished = service.client().get_run(run.id)
    assert finished.info.status == "FINISHED"
    assert finished.data.tags["k"] == "v"
    assert any(key.startswith("system/") for key in finished.data.metrics)
    assert service.client().get_experiment_by_name("tests") is not None
    assert tracking_uri.endswith("mlflow.db")


def test_mlflow_run_fails_with_the_block(tracking_uri: str) -> None:
    service = services.MlflowService(enable_system_metrics=False)
    service.start()
    with (
        pytest.raises(ValueError, match="boom"),
        service.run_context(services.MlflowService.RunConfig(name="failing")) as run,
    ):
        raise ValueError("boom")
    assert service.client().get_run(run.id).info.status == "FAILED"


def test_mlflow_run_logs_into_the_project_run(
    tracking_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    project_run = client.create_run(client.create_experiment("project")).info.run_id
    monkeypatch.setenv("MLFLOW_RUN_ID", project_run)  # as `mlflow run` sets it
    service = services.MlflowService(enable_system_metrics=False)
    service.start()
    with service.run_context(services.MlflowService.RunConfig(name="job")) as run:
        pass
    assert run.id == project_run
    assert client.get_experiment_by_name("bikes") is None


def test_libraries_log_through_the_logger_at_their_level(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import logging

    services.LoggerService(sink="stdout", colorize=False).start()
    logging.getLogger("mlflow.store").info("Creating initial MLflow database tables...")
    logging.getLogger("mlflow.store").warning("a warning of MLflow")
    out = capsys.readouterr().out
    assert "Creating initial" not in out  # below the libraries' level: quiet by default
    assert "[WARNING][mlflow.store" in out and "a warning of MLflow" in out
    services.LoggerService(sink="stdout", colorize=False, libraries_level="DEBUG").start()
    logging.getLogger("alembic.runtime").info("Will assume non-transactional DDL.")
    assert "Will assume non-transactional DDL." in capsys.readouterr().out
    services.LoggerService().start()


def test_the_desktop_fallback_is_said_once(capsys: pytest.CaptureFixture[str]) -> None:
    services.LoggerService(sink="stdout", colorize=False).start()
    services.AlertsService().notify(title="One", message="first")
    services.AlertsService().notify(title="Two", message="second")
    out = capsys.readouterr().out
    assert "[alert] Two: second" in out
    assert out.count("no desktop") <= 1
    services.LoggerService().start()


def test_mlflow_service_makes_one_client_for_its_uris(tracking_uri: str) -> None:
    service = services.MlflowService()
    job_client = service.client()

    assert services.MlflowService().client() is job_client  # the registry, runs, metrics share it
    assert service.registry().client is job_client
    other = services.MlflowService(
        tracking_uri="sqlite:///other.db", registry_uri="sqlite:///other.db"
    )
    assert other.client() is not job_client
    assert other.client().tracking_uri == "sqlite:///other.db"
