"""Tests of what a person sees in the console: the first line, no foreign line, the summary."""

from __future__ import annotations

import dataclasses
import os
import pty
import subprocess
import sys
import typing as T
from pathlib import Path

import pytest

from bikes import jobs
from bikes.io import services
from bikes.jobs import base


def test_first_line_says_what_the_job_does_before_the_libraries_load(
    isolated: Path, write_config: T.Callable[[str, str], Path]
) -> None:
    config = write_config("prep.yaml", "job:\n  KIND: PreparationJob\n  source: nowhere.csv\n")
    leader, follower = pty.openpty()  # a terminal: the line is said to a person only
    process = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "bikes", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=follower,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is done
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.wait(timeout=60) == 3
    lines = b"".join(chunks).decode().splitlines()
    said = next(i for i, line in enumerate(lines) if line.startswith("bikes: PreparationJob"))
    assert "obtain `hour.csv`, check its SHA-256 and schema" in lines[said]
    jobs_loaded = next(i for i, line in enumerate(lines) if line.endswith("| bikes.settings"))
    assert said < jobs_loaded


def test_no_line_is_said_to_a_log_file(
    write_config: T.Callable[[str, str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from bikes import scripts

    config = write_config("prep.yaml", "job:\n  KIND: PreparationJob\n  source: nowhere.csv\n")
    assert scripts.main([str(config)]) == 3
    assert capsys.readouterr().err.startswith("bikes: error: ")


@dataclasses.dataclass(frozen=True)
class MadeResult(base.RunResult):
    """A result of every kind of field."""

    scores: dict[str, float]
    paths: list[str]
    share: float
    alert: str | None
    rows: int = 17379


def test_summary_lines_round_numbers_and_indent_steps() -> None:
    made = MadeResult(
        "abc", {"rmse": 58.634812, "r2": 0.929312}, ["a.parquet", "b.parquet"], 1 / 3, None
    )
    assert made.lines() == [
        "run id: abc",
        "scores: rmse 58.63, r2 0.9293",
        "paths: a.parquet, b.parquet",
        "share: 0.3333",
        "alert: none",
        "rows: 17,379",
    ]
    pipeline = jobs.PipelineResult("parent", {"confs/x.yaml": made})
    assert pipeline.lines()[1:3] == ["confs/x.yaml:", "  run id: abc"]


def test_ui_lines_point_at_the_run(tracking_uri: str) -> None:
    service = services.MlflowService()
    service.start()
    with service.run_context(services.MlflowService.RunConfig(name="x")) as run:
        pass
    page, command = service.ui_lines(run.id)
    assert (
        page
        == f"MLflow run: http://127.0.0.1:5000/#/experiments/{run.experiment_id}/runs/{run.id}?workflowType=machine_learning"
    )
    assert command == f"MLflow UI: mlflow ui --backend-store-uri {tracking_uri}"


@pytest.mark.slow
@pytest.mark.integration
def test_console_has_no_foreign_line_and_ends_with_the_summary(
    prepared: dict[str, Path], tracking_uri: str, write_config: T.Callable[[str, str], Path]
) -> None:
    config = write_config(
        "train.yaml",
        "job:\n  KIND: TrainingJob\n  model: {KIND: GradientBoostingModel, max_iter: 5}\n"
        "  alerts_service: {enable: false}\n",
    )
    process = subprocess.run(
        [sys.executable, "-m", "bikes", str(config)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert process.returncode == 0, process.stderr
    lines = process.stderr.splitlines()
    foreign = [line for line in lines if not line.startswith(("[20", "  "))]
    assert not foreign, foreign
    summary = process.stderr[process.stderr.index("TrainingJob done in") :]
    assert "version: 1" in summary
    assert "MLflow run: http://127.0.0.1:5000/#/experiments/" in summary
    assert f"mlflow ui --backend-store-uri {tracking_uri}" in summary
