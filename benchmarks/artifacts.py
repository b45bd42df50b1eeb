"""Artifacts of a training run: its folder plus its logged model's."""

from __future__ import annotations

import typing as T

from benchmarks import measure, workspace
from benchmarks.measure import Stats
from benchmarks.report import Result, Target
from benchmarks.session import DEFAULT_VERSION, REFERENCE_VERSION

if T.TYPE_CHECKING:
    from pathlib import Path

    from benchmarks.session import Session

MIB = 1024**2
SIZE = Target(20, "<", "MiB")


def run_size(client: T.Any, version: int) -> float:
    """Return the MiB of the artifacts of the run that logged a version, and of its model."""
    model_version = client.get_model_version("bikes", str(version))
    run_folder = workspace.local_path(client.get_run(model_version.run_id).info.artifact_uri)
    model_id = model_version.model_id or model_version.source.removeprefix("models:/")
    model_folder = workspace.local_path(client.get_logged_model(model_id).artifact_location)
    return (measure.folder_bytes(run_folder) + measure.folder_bytes(model_folder)) / MIB


def run(session: Session, folder: Path) -> None:
    """Measure the artifacts of each training run: its folder and its logged model's."""
    client = workspace.mlflow_client(folder)
    session.add(
        Result(
            "artifacts per training run",
            "MiB",
            Stats.of([run_size(client, DEFAULT_VERSION)]),
            Stats.of([run_size(client, REFERENCE_VERSION)]),
            SIZE,
            note="the run's artifact folder plus its logged model's",
        )
    )
