"""The one seam between the jobs and MLflow: the run a job logs into, and the model registry.

The MLflow service hands a job a `Run` (bound to its client and run ID) and a `Registry` (bound to
its client and registered model). Jobs log and register through them and never import mlflow, so
no job depends on MLflow's process-wide state, and a pipeline passes its run down to its steps.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import typing as T

from bikes.core.errors import DataError

if T.TYPE_CHECKING:
    from matplotlib.figure import Figure
    from mlflow.data.pandas_dataset import PandasDataset
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.tracking import MlflowClient

# MLflow's own prefix of system metrics, so its UI groups them in their own section
SYSTEM_PREFIX = "system/"
# samples kept in memory before they are written: one write a minute at the default interval
SYSTEM_FLUSH_EVERY = 60
# tags of the registered model that record the moves of its aliases: `audit.<alias>.<time>`
AUDIT_PREFIX = "audit."
# MLflow's tag of the description of a run or an experiment (markdown, shown by its UI)
NOTE_TAG = "mlflow.note.content"
# the short names of the metrics that a person reads in the UI (`test_rmse`); others keep theirs
SHORT_NAMES = {
    "root_mean_squared_error": "rmse",
    "mean_absolute_error": "mae",
    "mean_squared_error": "mse",
    "median_absolute_error": "medae",
    "mean_absolute_percentage_error": "mape",
    "r2_score": "r2",
    "explained_variance_score": "explained_variance",
    "d2_absolute_error_score": "d2_absolute_error",
}


def split_name(metric: str, split: str) -> str:
    """Return the name of a metric scored on a split, as logged (`test_rmse`)."""
    return f"{split}_{SHORT_NAMES.get(metric, metric)}"


def stringify(value: object) -> str:
    """Return a param or tag value as MLflow stores it (None as an empty string)."""
    return "" if value is None else str(value)


class SystemMetrics:
    """Sample the CPU and memory use of the machine and the process in a background thread.

    MLflow's own monitor reopens the store at every sample and is joined when the run ends, which
    held up the end of short jobs by seconds: this one keeps its samples in memory, writes them in
    one batch (every `SYSTEM_FLUSH_EVERY` samples and at the end) and stops at once.

    A run shorter than `min_seconds` keeps no samples: MLflow's UI lists system metrics above the
    model's, and a few seconds of them say nothing that the run's duration does not.
    """

    def __init__(
        self, client: MlflowClient, run_id: str, interval: float, min_seconds: float = 0.0
    ) -> None:
        """Bind the sampler to a run; `interval` is the number of seconds between samples."""
        self.client, self.run_id, self.interval = client, run_id, interval
        self.min_seconds, self.started = min_seconds, time.monotonic()
        self.stopped = threading.Event()
        self.samples: list[tuple[int, int, dict[str, float]]] = []
        self.thread = threading.Thread(target=self.loop, name="bikes-system-metrics", daemon=True)

    def start(self) -> None:
        """Start sampling."""
        self.thread.start()

    def loop(self) -> None:
        """Take a sample every `interval` seconds until stopped."""
        import psutil

        process = psutil.Process()
        psutil.cpu_percent()  # the first reading only starts the measurement
        step = 0
        while not self.stopped.wait(self.interval):
            memory = psutil.virtual_memory()
            values = {
                "cpu_utilization_percentage": psutil.cpu_percent(),
                "system_memory_usage_megabytes": (memory.total - memory.available) / 2**20,
                "system_memory_usage_percentage": memory.percent,
                "process_memory_rss_megabytes": process.memory_info().rss / 2**20,
            }
            self.samples.append((int(time.time() * 1000), step, values))
            step += 1
            if len(self.samples) >= SYSTEM_FLUSH_EVERY and step * self.interval >= self.min_seconds:
                self.flush()

    def flush(self) -> None:
        """Write the samples taken so far to the run."""
        from mlflow.entities import Metric

        samples, self.samples = self.samples, []
        metrics = [
            Metric(key=SYSTEM_PREFIX + key, value=value, timestamp=stamp, step=step)
            for stamp, step, values in samples
            for key, value in values.items()
        ]
        if metrics:
            self.client.log_batch(run_id=self.run_id, metrics=metrics, synchronous=True)

    def stop(self) -> None:
        """Stop sampling at once and write what was sampled (nothing for a short run)."""
        self.stopped.set()
        self.thread.join(timeout=5.0)
        if time.monotonic() - self.started >= self.min_seconds:
            self.flush()


class Run:
    """An MLflow run that a job logs into: params, metrics, tags, datasets, figures, files.

    Attributes:
        client: the MLflow client of the job's tracking server.
        id: ID of the run.
        name: name of the run.
        experiment_id: ID of the experiment of the run.
    """

    def __init__(self, client: MlflowClient, id: str, name: str, experiment_id: str) -> None:  # noqa: A002
        """Bind the run to a client."""
        self.client, self.id, self.name, self.experiment_id = client, id, name, experiment_id

    def __repr__(self) -> str:
        """Name the run."""
        return f"Run(id={self.id!r}, name={self.name!r})"

    def log_params(self, params: T.Mapping[str, object]) -> None:
        """Log params (values as strings; None as an empty string)."""
        from mlflow.entities import Param

        entities = [Param(key, stringify(value)) for key, value in params.items()]
        self.client.log_batch(run_id=self.id, params=entities, synchronous=True)

    def log_metrics(
        self, metrics: T.Mapping[str, float], step: int | None = None, split: str | None = None
    ) -> None:
        """Log metrics, at a step when given (e.g. a monitoring window), named by their split."""
        from mlflow.entities import Metric

        if split is not None:
            metrics = {split_name(name, split): value for name, value in metrics.items()}
        stamp = int(time.time() * 1000)
        entities = [
            Metric(key=key, value=float(value), timestamp=stamp, step=step or 0)
            for key, value in metrics.items()
        ]
        self.client.log_batch(run_id=self.id, metrics=entities, synchronous=True)

    def set_tags(self, tags: T.Mapping[str, object | None]) -> None:
        """Set tags on the run; tags whose value is None are skipped."""
        from mlflow.entities import RunTag

        entities = [RunTag(key, str(value)) for key, value in tags.items() if value is not None]
        self.client.log_batch(run_id=self.id, tags=entities, synchronous=True)

    def log_input(self, dataset: PandasDataset, context: str) -> None:
        """Log a dataset (source, digest, schema) as an input of the run, in a context."""
        from mlflow.entities import DatasetInput, InputTag
        from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

        entity = DatasetInput(
            dataset=dataset._to_mlflow_entity(),
            tags=[InputTag(key=MLFLOW_DATASET_CONTEXT, value=context)],
        )
        self.client.log_inputs(run_id=self.id, datasets=[entity])

    def log_figure(self, figure: Figure, path: str) -> None:
        """Log a figure as a PNG artifact at `path` (e.g. `evaluations/residuals.png`)."""
        from bikes.io import plots

        self.log_image(plots.png(figure), path)

    def log_image(self, image: bytes, path: str) -> None:
        """Log an image already encoded (e.g. a PNG) as an artifact file at `path`."""
        import tempfile
        from pathlib import Path, PurePosixPath

        artifact = PurePosixPath(path)
        with tempfile.TemporaryDirectory() as folder:
            local = Path(folder) / artifact.name
            local.write_bytes(image)
            self.log_artifact(str(local), str(artifact.parent) if artifact.parent.parts else None)

    def log_artifact(self, path: str, folder: str | None = None) -> None:
        """Log a local file as an artifact, in `folder` of the run's artifacts."""
        self.client.log_artifact(run_id=self.id, local_path=path, artifact_path=folder)

    def log_text(self, text: str, path: str) -> None:
        """Log a text as an artifact file at `path`."""
        self.client.log_text(run_id=self.id, text=text, artifact_file=path)

    def describe(self, description: str) -> None:
        """Set the description of the run (markdown, shown on its page in the UI)."""
        self.set_tags({NOTE_TAG: description})

    def child(self, name: str) -> T.ContextManager[Run]:
        """Return a context of a child run of this one (without system metrics)."""
        return child_run(self, name)


@dataclasses.dataclass(frozen=True)
class Version:
    """A version of a registered model.

    Attributes:
        name: name of the registered model.
        number: number of the version.
        run_id: run that logged the model of the version (None if unknown).
        tags: tags of the version.
    """

    name: str
    number: int
    run_id: str | None
    tags: dict[str, str]

    @classmethod
    def of(cls, version: ModelVersion) -> Version:
        """Convert MLflow's version entity."""
        return cls(
            name=version.name,
            number=int(version.version),
            run_id=version.run_id or None,
            tags=dict(version.tags or {}),
        )

    @property
    def uri(self) -> str:
        """Return the URI of the version (`models:/<name>/<number>`)."""
        from bikes.io.registries import uri_for_model_version

        return uri_for_model_version(self.name, self.number)


@dataclasses.dataclass(frozen=True)
class AliasMove:
    """A move of an alias, as recorded on the registered model (its audit trail).

    Attributes:
        alias: the alias moved.
        previous: the version that held it before (None for the first move).
        version: the version that holds it since.
        by: who moved it (user, host and process).
        at: when (UTC, ISO 8601).
        reason: why (the gate's verdict, or the reason of a rollback).
    """

    alias: str
    previous: int | None
    version: int
    by: str
    at: str
    reason: str


def not_found(error: Exception) -> bool:
    """Tell whether an MLflow error means that a model, version or alias does not exist.

    MLflow reports a missing alias as an invalid parameter, with its own message.
    """
    code = getattr(error, "error_code", None)
    message = str(getattr(error, "message", error))
    missing_alias = (
        code == "INVALID_PARAMETER_VALUE" and "alias" in message and "not found" in message
    )
    return code == "RESOURCE_DOES_NOT_EXIST" or missing_alias


class Registry:
    """The registered model of a job: its versions, aliases and the audit trail of the aliases.

    Attributes:
        client: the MLflow client of the job's registry.
        name: name of the registered model.
        uri: URI of the registry (where its lock lives).
    """

    def __init__(self, client: MlflowClient, name: str, uri: str) -> None:
        """Bind the registry to a client and a registered model."""
        self.client, self.name, self.uri = client, name, uri

    @classmethod
    def current(cls, name: str) -> Registry:
        """Return a registered model in the registry of MLflow's current URIs (the service's)."""
        import mlflow

        return cls(mlflow.MlflowClient(), name, mlflow.get_registry_uri())

    def __repr__(self) -> str:
        """Name the registered model."""
        return f"Registry(name={self.name!r})"

    def model_uri(self, alias_or_version: str | int) -> str:
        """Return the URI of a version (a number) or of the holder of an alias (a name)."""
        from bikes.io.registries import uri_for_model_alias, uri_for_model_version

        if isinstance(alias_or_version, int) or alias_or_version.isdigit():
            return uri_for_model_version(self.name, alias_or_version)
        return uri_for_model_alias(self.name, alias_or_version)

    def version(self, number: int | str) -> Version:
        """Return a version by number (a `DataError` when it does not exist)."""
        from mlflow.exceptions import MlflowException

        try:
            return Version.of(self.client.get_model_version(name=self.name, version=str(number)))
        except MlflowException as error:
            if not_found(error):
                raise DataError(f"models:/{self.name}/{number}: no such version") from error
            raise

    def versions(self) -> list[Version]:
        """Return every version of the registered model, oldest first."""
        found = self.client.search_model_versions(filter_string=f"name='{self.name}'")
        return sorted((Version.of(version) for version in found), key=lambda v: v.number)

    def holder(self, alias: str) -> Version | None:
        """Return the version holding an alias, None when no version holds it.

        Only "not found" means "no holder": any other registry error propagates (fail closed).
        """
        from mlflow.exceptions import MlflowException

        try:
            return Version.of(self.client.get_model_version_by_alias(name=self.name, alias=alias))
        except MlflowException as error:
            if not_found(error):
                return None
            raise

    def resolve(self, alias_or_version: str | int) -> Version:
        """Return the version of a number or the holder of an alias (a `DataError` if none)."""
        if isinstance(alias_or_version, int) or alias_or_version.isdigit():
            return self.version(alias_or_version)
        holder = self.holder(alias_or_version)
        if holder is None:
            raise DataError(f"models:/{self.name}@{alias_or_version}: no version holds the alias")
        return holder

    def run_metric(self, version: Version, metric: str, split: str = "test") -> float | None:
        """Return a metric of the run that logged a version (None when it has none).

        The metric is read by its name on the split (`test_rmse`), or as runs logged it before
        their metrics had short names (`validation_root_mean_squared_error`; a test metric by its
        own name: `root_mean_squared_error`). A metric of another split is never returned.
        """
        if version.run_id is None:
            return None
        metrics = self.client.get_run(version.run_id).data.metrics
        names = [split_name(metric, split), f"{split}_{metric}"] + (
            [metric] if split == "test" else []
        )
        value = next((metrics[name] for name in names if name in metrics), None)
        return None if value is None else float(value)

    def describe(self, description: str, version: Version | None = None) -> None:
        """Set the description of the registered model, or of one of its versions (markdown)."""
        if version is None:
            self.client.update_registered_model(name=self.name, description=description)
        else:
            self.client.update_model_version(
                name=self.name, version=str(version.number), description=description
            )

    def move_alias(
        self, alias: str, version: Version, reason: str, previous: Version | None = None
    ) -> AliasMove:
        """Point an alias to a version, and record who moved it, when, from where and why."""
        import datetime
        import json

        from bikes.io.locks import owner

        self.client.set_registered_model_alias(
            name=self.name, alias=alias, version=str(version.number)
        )
        now = datetime.datetime.now(datetime.UTC)
        move = AliasMove(
            alias=alias,
            previous=previous.number if previous else None,
            version=version.number,
            by=owner(),
            at=now.isoformat(timespec="seconds"),
            reason=reason,
        )
        key = f"{AUDIT_PREFIX}{alias}.{now.strftime('%Y%m%dT%H%M%S%fZ')}"
        self.tag_model(key, json.dumps(dataclasses.asdict(move)))
        return move

    def history(self, alias: str) -> list[AliasMove]:
        """Return the recorded moves of an alias, oldest first."""
        import json

        prefix = f"{AUDIT_PREFIX}{alias}."
        tags = self.model_tags()
        return [
            AliasMove(**json.loads(tags[key])) for key in sorted(tags) if key.startswith(prefix)
        ]

    def lock(self, timeout: float) -> T.ContextManager[None]:
        """Return a context holding the lock of the registered model (moves of its aliases)."""
        from bikes.io.locks import registry_lock

        return registry_lock(self, self.uri, timeout)

    def tag_model(self, key: str, value: str) -> None:
        """Set a tag on the registered model (e.g. the last move of an alias)."""
        self.client.set_registered_model_tag(name=self.name, key=key, value=value)

    def model_tags(self) -> dict[str, str]:
        """Return the tags of the registered model (none before its first version)."""
        from mlflow.exceptions import MlflowException

        try:
            return dict(self.client.get_registered_model(name=self.name).tags or {})
        except MlflowException as error:
            if not_found(error):
                return {}
            raise


class child_run:  # noqa: N801  # a context manager used like a function
    """Context of a child run of a run: FINISHED on success, FAILED on error, KILLED if stopped."""

    def __init__(self, parent: Run, name: str) -> None:
        """Start nothing yet: the run starts on enter."""
        self.parent, self.name = parent, name

    def __enter__(self) -> Run:
        """Create the child run."""
        from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME

        created = self.parent.client.create_run(
            experiment_id=self.parent.experiment_id,
            run_name=self.name,
            tags={MLFLOW_PARENT_RUN_ID: self.parent.id, MLFLOW_RUN_NAME: self.name},
        )
        self.run = Run(
            self.parent.client, created.info.run_id, self.name, created.info.experiment_id
        )
        return self.run

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> T.Literal[False]:
        """End the child run with the status of the block."""
        self.run.client.set_terminated(self.run.id, status=end_status(exc_type))
        return False


def end_status(exc_type: type[BaseException] | None) -> str:
    """Return the status of a run ended by a block: FINISHED, KILLED (interrupted) or FAILED."""
    if exc_type is None:
        return "FINISHED"
    if issubclass(exc_type, KeyboardInterrupt | SystemExit):  # SIGINT, SIGTERM
        return "KILLED"
    return "FAILED"
