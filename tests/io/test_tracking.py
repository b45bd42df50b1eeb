"""Tests of the tracking seam: runs, child runs, the registry, its audit trail and its lock."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from bikes.core.errors import DataError, InfraError
from bikes.io import locks, services, tracking

RunConfig = services.MlflowService.RunConfig


def started(**fields: object) -> services.MlflowService:
    service = services.MlflowService(enable_system_metrics=False, **fields)  # type: ignore[arg-type]
    service.start()
    return service


def test_a_run_logs_params_metrics_tags_and_children(tracking_uri: str) -> None:
    service = started()
    with service.run_context(RunConfig(name="parent")) as run:
        run.log_params({"alpha": 0.5, "none": None})
        run.log_metrics({"rmse": 1.5})
        run.log_metrics({"rmse": 1.25}, step=1)
        run.set_tags({"kept": "yes", "skipped": None})
        run.log_text("hello", "notes/hello.txt")
        with run.child("child") as child:
            child.log_metrics({"score": 2.0})
        with pytest.raises(ValueError, match="boom"), run.child("failing"):
            raise ValueError("boom")
    client = MlflowClient(tracking_uri=tracking_uri)
    logged = client.get_run(run.id)
    assert logged.info.status == "FINISHED"
    assert logged.data.params == {"alpha": "0.5", "none": ""}
    assert [m.value for m in client.get_metric_history(run.id, "rmse")] == [1.5, 1.25]
    assert logged.data.tags["kept"] == "yes" and "skipped" not in logged.data.tags
    assert [item.path for item in client.list_artifacts(run.id, "notes")] == ["notes/hello.txt"]
    children = client.search_runs(
        [run.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{run.id}'"
    )
    statuses = {child.info.run_name: child.info.status for child in children}
    assert statuses == {"child": "FINISHED", "failing": "FAILED"}


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, SystemExit])
def test_an_interrupted_run_ends_killed(tracking_uri: str, interrupt: type[BaseException]) -> None:
    service = started()
    with pytest.raises(interrupt), service.run_context(RunConfig(name="stopped")) as run:
        raise interrupt()
    assert MlflowClient(tracking_uri=tracking_uri).get_run(run.id).info.status == "KILLED"


def test_system_metrics_are_sampled_into_the_run(tracking_uri: str) -> None:
    service = services.MlflowService(system_metrics_interval=0.1, system_metrics_min_seconds=0)
    service.start()
    with service.run_context(RunConfig(name="sampled")) as run:
        time.sleep(0.5)
    metrics = MlflowClient(tracking_uri=tracking_uri).get_run(run.id).data.metrics
    assert {"system/cpu_utilization_percentage", "system/process_memory_rss_megabytes"} <= set(
        metrics
    )


def test_system_metrics_stop_without_waiting_for_their_interval(tracking_uri: str) -> None:
    service = services.MlflowService(system_metrics_interval=300.0)
    service.start()
    with service.run_context(RunConfig(name="sampled")):
        start = time.perf_counter()
    assert time.perf_counter() - start < 60  # MLflow's own monitor waited for its interval


def test_registry_versions_aliases_and_their_audit_trail(registered_model: dict[str, str]) -> None:
    registry = started().registry()
    champion = registry.resolve("champion")
    assert champion.number == int(registered_model["version"])
    assert champion.uri == f"models:/bikes/{champion.number}"
    assert registry.holder("nope") is None
    assert registry.model_uri("champion") == "models:/bikes@champion"
    assert registry.model_uri(3) == registry.model_uri("3") == "models:/bikes/3"
    with pytest.raises(DataError, match="models:/bikes@nope: no version holds the alias"):
        registry.resolve("nope")
    with pytest.raises(DataError, match="models:/bikes/99: no such version"):
        registry.version(99)

    move = registry.move_alias("staging", champion, reason="a test", previous=None)
    again = registry.move_alias("staging", champion, reason="once more", previous=champion)

    assert registry.holder("staging") == champion
    history = registry.history("staging")
    assert history == [move, again]
    assert (move.previous, move.version, move.reason) == (None, champion.number, "a test")
    assert move.by.startswith(locks.owner().rsplit(":", 1)[0])
    assert registry.history("champion")[-1].reason == "set by the training job"


def test_registry_fails_closed_on_a_broken_store(registered_model: dict[str, str]) -> None:
    registry = started().registry()
    with sqlite3.connect("mlflow.db") as connection:  # a store damaged under the job's feet
        connection.execute("DROP TABLE registered_model_aliases")
    with pytest.raises(Exception, match="registered_model_aliases") as error:
        registry.holder("champion")  # not "no champion yet": that would let any candidate pass
    assert not isinstance(error.value, DataError)


def test_local_lock_serializes_and_times_out(registered_model: dict[str, str]) -> None:
    registry = started().registry()
    order: list[str] = []

    def second() -> None:
        with registry.lock(timeout=5):
            order.append("second")

    with registry.lock(timeout=5):
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)
        order.append("first")
        with pytest.raises(InfraError, match=r"mlflow\.db\.bikes\.lock: .*still locked"):
            with locks.registry_lock(registry, registry.uri, timeout=0.1):
                pass
    thread.join(timeout=5)
    assert order == ["first", "second"]
    assert Path(".mlflow.db.bikes.lock").exists()


def test_local_store_paths() -> None:
    assert locks.local_store("sqlite:///data/mlflow.db") == Path("data/mlflow.db")
    assert locks.local_store("sqlite:////abs/mlflow.db") == Path("/abs/mlflow.db")
    assert locks.local_store("file:///srv/mlruns") == Path("/srv/mlruns")
    assert locks.local_store("mlruns") == Path("mlruns")
    assert locks.local_store("http://127.0.0.1:5000") is None
    assert locks.local_store("postgresql://u@h/db") is None


def test_version_of_an_mlflow_version(registered_model: dict[str, str]) -> None:
    registry = started().registry()
    (version,) = registry.versions()
    assert version == tracking.Version(
        name="bikes",
        number=int(registered_model["version"]),
        run_id=registered_model["run_id"],
        tags=version.tags,
    )
    assert registry.run_metric(version, "root_mean_squared_error") is not None
    assert registry.run_metric(version, "nope") is None


def test_run_metrics_read_by_split_or_by_their_old_names(tracking_uri: str) -> None:
    service = started()
    registry = service.registry()
    with service.run_context(services.MlflowService.RunConfig(name="old")) as run:
        run.log_metrics({"root_mean_squared_error": 2.0})  # as runs logged them before the splits
        run.log_metrics({"validation_root_mean_squared_error": 4.0})
    with service.run_context(services.MlflowService.RunConfig(name="new")) as new:
        new.log_metrics({"root_mean_squared_error": 1.0, "max_error": 3.0}, split="test")
    logged = service.client().get_run(new.id).data.metrics
    assert set(logged) == {"test_rmse", "test_max_error"}
    old_version = tracking.Version("bikes", 1, run.id, {})
    new_version = tracking.Version("bikes", 2, new.id, {})
    assert registry.run_metric(old_version, "root_mean_squared_error") == 2.0
    assert registry.run_metric(new_version, "root_mean_squared_error") == 1.0
    assert registry.run_metric(old_version, "root_mean_squared_error", "validation") == 4.0
    # a test score never stands in for a validation one: selection stays off the test split
    assert registry.run_metric(new_version, "root_mean_squared_error", "validation") is None


def test_registered_model_and_versions_are_described(registered_model: dict[str, str]) -> None:
    registry = started().registry()
    (version,) = registry.versions()
    registry.describe("the model")
    registry.describe("the version", version)
    client = registry.client
    assert client.get_registered_model("bikes").description == "the model"
    assert client.get_model_version("bikes", str(version.number)).description == "the version"


def test_experiment_opens_on_model_training_and_says_what_it_holds(tracking_uri: str) -> None:
    service = started()
    experiment = service.client().get_experiment_by_name(service.experiment_name)
    assert experiment is not None
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert "bike rentals" in experiment.tags["mlflow.note.content"]
    service.client().set_experiment_tag(experiment.experiment_id, "mlflow.note.content", "mine")
    started()  # a description of the user's stays
    tags = service.client().get_experiment(experiment.experiment_id).tags
    assert tags["mlflow.note.content"] == "mine"
