"""Tests of the classification of faults, on the exceptions that real components raise."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import socket
import sqlite3
import time
import typing as T
from pathlib import Path

import mlflow
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from bikes.core.errors import ConfigError, InfraError
from bikes.io import faults, services

# corrupts tables of a SQLite store (the `corrupt_tables` fixture)
CorruptTables = T.Callable[..., None]


def closed_port() -> int:
    """Return a loopback port that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def raised(action: T.Callable[[], object]) -> BaseException:
    """Return the exception that an action raises."""
    with pytest.raises(BaseException) as caught:
        action()
    return caught.value


def classify(error: BaseException) -> str:
    """Return the message of the fault that an exception stands for (failing when it is none)."""
    fault = faults.classify(error)
    assert isinstance(fault, InfraError), f"not a fault: {error!r}"
    assert len(str(fault).splitlines()) == 1
    return str(fault)


def search_experiments(store: Path) -> None:
    """Open an MLflow SQLite store, as the store of the process, and read its experiments."""
    mlflow.set_tracking_uri(f"sqlite:///{store}")  # as `MlflowService.start` does
    mlflow.set_registry_uri(f"sqlite:///{store}")
    MlflowClient().search_experiments()


def set_schema_version(store: Path, version: str) -> None:
    """Write another schema version into an MLflow SQLite store, as another MLflow would have."""
    with sqlite3.connect(store) as connection:
        connection.execute("UPDATE alembic_version SET version_num = ?", (version,))
    connection.close()


@pytest.fixture(autouse=True)
def mlflow_uris(monkeypatch: pytest.MonkeyPatch) -> None:
    """Restore MLflow's tracking and registry URIs (globals of MLflow) after each test."""
    from mlflow.tracking._model_registry import utils as registry
    from mlflow.tracking._tracking_service import utils as tracking

    monkeypatch.setattr(tracking, "_tracking_uri", tracking._tracking_uri)
    monkeypatch.setattr(registry, "_registry_uri", registry._registry_uri)


@pytest.fixture
def store(tracking_uri: str) -> Path:
    """Return the path of the test's MLflow SQLite store (a migrated copy)."""
    return Path(tracking_uri.removeprefix("sqlite:///"))


@pytest.fixture
def http_settings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Unset MLflow's HTTP settings in the test; restore them after (`start` sets them)."""
    names = [f"MLFLOW_HTTP_REQUEST_{name}" for name in ("TIMEOUT", "MAX_RETRIES", "BACKOFF_FACTOR")]
    for name in names:
        monkeypatch.setenv(name, "")  # recorded: the end of the test restores the variable
        monkeypatch.delenv(name)
    return names


def test_http_settings_come_from_the_config_the_environment_or_the_defaults(
    http_settings: list[str], monkeypatch: pytest.MonkeyPatch, tracking_uri: str
) -> None:
    service = services.MlflowService()
    assert (service.http_request_timeout, service.http_request_max_retries) == (5, 3)
    assert service.http_request_backoff_factor == 1
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
    assert services.MlflowService().http_request_timeout == 60
    service = services.MlflowService(http_request_timeout=7, enable_system_metrics=False)
    service.start()
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "7"  # where MLflow reads it
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "many")
    with pytest.raises(ConfigError, match="MLFLOW_HTTP_REQUEST_MAX_RETRIES='many'"):
        services.MlflowService()


def test_unreachable_server_names_its_uri_and_fails_fast(
    http_settings: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    start = time.monotonic()
    error = raised(services.MlflowService(enable_system_metrics=False).start)
    seconds = time.monotonic() - start
    message = classify(error)
    assert message.startswith(f"{uri}: the server does not answer (Connection refused)")
    assert seconds < 120, f"{seconds:.1f} s"  # MLflow's default retries took 249 s


def test_locked_store(store: Path) -> None:
    holder = sqlite3.connect(store, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        message = classify(raised(lambda: search_experiments(store)))
    finally:
        holder.close()
    assert message.startswith(f"sqlite:///{store}: the store is locked by another process")
    assert message.endswith("(database is locked)")


def test_garbage_store(isolated: Path) -> None:
    store = isolated / "mlflow.db"
    store.write_bytes(os.urandom(8192))
    assert classify(raised(lambda: search_experiments(store))) == (
        f"sqlite:///{store}: the store is corrupt: restore it from a backup, or move it away"
        " (file is not a database)"
    )


def test_malformed_registry_is_a_fault_not_a_missing_model(
    registered_model: dict[str, str], isolated: Path, corrupt_tables: CorruptTables
) -> None:
    from bikes.io import registries

    corrupt_tables(isolated / "mlflow.db", "registered_model_aliases", "model_versions")
    error = raised(lambda: registries.resolve(registered_model["uri"]))
    assert isinstance(error, MlflowException), error  # not a DataError: "model not found"
    assert "the store is corrupt" in classify(error)
    assert "(database disk image is malformed)" in classify(error)


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("0584bdc529eb", "the store's schema (0584bdc529eb) is older than MLflow"),
        ("ffffffffffff", "the store was made by a newer MLflow (schema ffffffffffff"),
    ],
)
def test_store_of_another_schema_version(store: Path, version: str, expected: str) -> None:
    set_schema_version(store, version)
    message = classify(raised(lambda: search_experiments(store)))
    assert message.startswith(f"sqlite:///{store}: {expected}")
    if "older" in expected:
        assert message.endswith(f"run `mlflow db upgrade sqlite:///{store}`")


def test_read_only_store(store: Path) -> None:
    connection = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    error = raised(lambda: connection.execute("DELETE FROM experiments"))
    connection.close()
    assert isinstance(error, sqlite3.OperationalError)
    import sqlalchemy.exc

    wrapped = sqlalchemy.exc.OperationalError("DELETE FROM experiments", {}, error)
    assert "cannot write the store" in classify(wrapped)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full (not Linux)")
def test_full_disk() -> None:
    def write() -> None:
        with open("/dev/full", "w", encoding="utf-8") as file:
            file.write("x")

    message = classify(raised(write))
    assert message.startswith("no space left (No space left on device): free some disk space")


def test_server_that_refuses_the_credentials() -> None:
    from mlflow.exceptions import RestException

    mlflow.set_tracking_uri("http://x:5000")
    body = {"error_code": "PERMISSION_DENIED", "message": "no access to bikes"}  # a 403 answer
    error = RestException(body)  # type: ignore[no-untyped-call]
    assert classify(error).startswith("http://x:5000: access denied (PERMISSION_DENIED: no access")


def test_denied_file_is_named() -> None:
    error = PermissionError(errno.EACCES, os.strerror(errno.EACCES), "mlruns/1/meta.yaml")
    assert classify(error) == (
        "mlruns/1/meta.yaml: access denied (Permission denied): check the permissions of its folder"
    )


def test_fault_found_in_the_context_of_another_exception() -> None:
    def fail() -> None:
        try:
            shutil.copyfile(__file__, "/dev/full")
        except OSError as error:
            raise RuntimeError("copy failed") from error

    assert "no space left" in classify(raised(fail))


@pytest.mark.parametrize(
    "error",
    [
        ValueError("boom"),
        KeyError("x"),
        FileNotFoundError(errno.ENOENT, "No such file or directory", "x"),
        MlflowException("Invalid metric name"),
    ],
    ids=repr,
)
def test_other_exceptions_stay_bugs(error: BaseException) -> None:
    assert faults.classify(error) is None


def test_passwords_are_not_shown() -> None:
    assert faults.redact("postgresql://bikes:s3cret@db:5432/mlflow") == (
        "postgresql://bikes:***@db:5432/mlflow"
    )
    assert faults.redact("sqlite:////tmp/mlflow.db") == "sqlite:////tmp/mlflow.db"


class Recorder(logging.Handler):
    """Keep the log records it handles."""

    def __init__(self) -> None:
        """Start with no record."""
        super().__init__()
        self.records: list[logging.LogRecord] = []

    @T.override
    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_mlflow_logs_no_traceback_of_the_store_errors_it_raises(tracking_uri: str) -> None:
    handler = Recorder()
    logger = logging.getLogger("mlflow.store.db.utils")
    logger.addHandler(handler)
    try:
        service = services.MlflowService(enable_system_metrics=False)
        service.start()
        with sqlite3.connect(tracking_uri.removeprefix("sqlite:///")) as connection:
            connection.execute("DROP TABLE experiment_tags")  # a damaged store
        connection.close()
        error = raised(service.client().search_experiments)
    finally:
        logger.removeHandler(handler)
    assert "(no such table: experiment_tags)" in classify(error)
    assert not [record for record in handler.records if record.exc_info]
