"""Services that jobs start on enter and stop on exit: logging, alerts and MLflow tracking."""

from __future__ import annotations

import abc
import contextlib
import functools
import logging
import os
import sys
import typing as T
import warnings

import loguru
import pydantic as pdt

from bikes.core.errors import ConfigError
from bikes.io import faults, tracking

if T.TYPE_CHECKING:
    from mlflow.entities import Experiment
    from mlflow.tracking import MlflowClient


class Service(abc.ABC, pdt.BaseModel, strict=True, frozen=True, extra="forbid"):
    """A global context (logging, alerts, tracking) that a job starts and stops."""

    @abc.abstractmethod
    def start(self) -> None:
        """Start the service."""

    def stop(self) -> None:
        """Stop the service (nothing to do by default)."""


class InterceptHandler(logging.Handler):
    """Route the records of the standard `logging` (MLflow, Optuna, Alembic...) to loguru."""

    def emit(self, record: logging.LogRecord) -> None:
        """Log the record with loguru, at its level, under the library's logger name."""
        try:
            level: str | int = loguru.logger.level(record.levelname).name
        except ValueError:
            level = record.levelno

        def origin(logged: loguru.Record) -> None:
            logged["name"], logged["function"] = record.name, record.funcName
            logged["line"] = record.lineno

        patched = loguru.logger.patch(origin)
        patched.opt(exception=record.exc_info).log(level, record.getMessage())


class LoggerService(Service):
    """Configure loguru: where the log goes and how it looks, for the package and its libraries.

    The libraries' own logs (MLflow, Optuna, Alembic...) go through the same sink and format, from
    `libraries_level` up: a quiet console by default, everything with `libraries_level: DEBUG`.

    Attributes:
        sink: `stderr`, `stdout` or a file path.
        level: minimum level of the messages to keep.
        libraries_level: minimum level of the messages of other libraries.
        format: loguru format of a message.
        colorize: color the messages (only on a terminal when None).
        serialize: write JSON lines instead of text.
        backtrace: extend the stack trace of exceptions beyond the catch point.
        diagnose: show variable values in stack traces (may leak data: off by default).
    """

    sink: str = "stderr"
    level: str = "INFO"
    format: str = (
        "<green>[{time:YYYY-MM-DD HH:mm:ss.SSS}]</green>"
        "<level>[{level}]</level>"
        "<cyan>[{name}:{function}:{line}]</cyan>"
        " <level>{message}</level>"
    )
    libraries_level: str = "WARNING"
    colorize: bool | None = None
    serialize: bool = False
    backtrace: bool = False
    diagnose: bool = False

    @T.override
    def start(self) -> None:
        loguru.logger.remove()
        sinks: dict[str, T.TextIO] = {"stderr": sys.stderr, "stdout": sys.stdout}
        loguru.logger.add(
            sinks.get(self.sink, self.sink),
            level=self.level,
            format=self.format,
            colorize=self.colorize,
            serialize=self.serialize,
            backtrace=self.backtrace,
            diagnose=self.diagnose,
        )
        os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")  # MLflow's loggers propagate
        logging.basicConfig(handlers=[InterceptHandler()], level=self.libraries_level, force=True)
        for name in ("mlflow", "alembic", "optuna"):  # whatever configured them before us
            library = logging.getLogger(name)
            library.handlers, library.propagate = [], True
            library.setLevel(logging.NOTSET)

    @T.override
    def stop(self) -> None:
        loguru.logger.complete()


class AlertsService(Service):
    """Send desktop notifications, falling back to the log where there is no desktop.

    Attributes:
        enable: send notifications at all.
        app_name: name of the application shown in the notification.
        timeout: seconds the notification stays on screen.
    """

    enable: bool = True
    app_name: str = "Bikes"
    timeout: int | None = None

    # why the desktop is out of reach, said once a process, then only the alerts are logged
    no_desktop: T.ClassVar[list[str]] = []

    @T.override
    def start(self) -> None:
        pass

    def notify(self, title: str, message: str) -> None:
        """Notify the user on the desktop, or in the log when that is not possible."""
        if not self.enable:
            return
        if self.no_desktop:
            loguru.logger.info("[alert] {}: {}", title, message)
            return
        try:
            from plyer import notification

            with warnings.catch_warnings():  # plyer warns about each backend it cannot find
                warnings.simplefilter("ignore")
                notification.notify(
                    title=title, message=message, app_name=self.app_name, timeout=self.timeout
                )
        except Exception as error:  # no desktop (CI, container): log instead
            self.no_desktop.append(str(error))
            loguru.logger.info("[alert] {}: {} (no desktop: {})", title, message, error)


# where `mlflow ui` listens by default
UI_ADDRESS = "http://127.0.0.1:5000"
# the view of the MLflow UI (3.17+) for classic model training, not GenAI (its default)
UI_VIEW = "workflowType=machine_learning"
# the experiment's kind in MLflow 3's UI: classic model training, not GenAI (traces, prompts)
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"
EXPERIMENT_DESCRIPTION = """\
Hourly demand of bike rentals (UCI Capital Bikeshare data, Washington D.C., 2011-2012), forecast by
the jobs of the `bikes` package: each run is a job (preparation, tuning, training, promotion,
inference, evaluations, explanations, monitoring), a pipeline's steps are its child runs.

- Training runs register a version of the model `{name}`, scored on the held-out split
  (`test_rmse`, `test_mae`: rentals an hour; `test_r2`).
- Evaluation runs log the report of the version (`report/model_card.html`) and its plots.
- The `champion` alias of `{name}` is the version served and used for inference.
"""


def default_tracking_uri() -> str:
    """Return the tracking URI of the environment, or the embedded SQLite store."""
    return os.getenv("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db")


def default_registry_uri() -> str:
    """Return the registry URI of the environment, or the tracking URI."""
    return os.getenv("MLFLOW_REGISTRY_URI", default_tracking_uri())


def default_from_env(name: str, default: int) -> int:
    """Return the integer of an environment variable, or `default` when it is unset or empty."""
    value = os.getenv(name, "").strip()
    try:
        return int(value) if value else default
    except ValueError:
        raise ConfigError(f"{name}={value!r}: expected an integer") from None


class MlflowService(Service):
    """Configure MLflow tracking and registry for a job.

    Attributes:
        tracking_uri: where runs go (`MLFLOW_TRACKING_URI`, or the embedded `sqlite:///mlflow.db`).
        registry_uri: where models are registered (`MLFLOW_REGISTRY_URI`, or the tracking URI).
        experiment_name: experiment of the runs.
        registry_name: name of the registered model.
        autolog_disable: turn MLflow autologging off (the jobs log what matters explicitly).
        autolog_log_models: let autologging save models too (big artifacts: off by default).
        autolog_silent: silence autologging's warnings.
        enable_system_metrics: log the CPU and memory use of runs (`system/` metrics).
        system_metrics_interval: seconds between two samples (MLflow's default, 10, misses short
            jobs).
        system_metrics_min_seconds: runs shorter than this keep no system metrics (the UI lists
            them above the model's metrics).
        http_request_timeout: seconds to wait for an answer of the tracking server
            (`MLFLOW_HTTP_REQUEST_TIMEOUT`, or 5 instead of MLflow's 120).
        http_request_max_retries: retries of a failed request (`MLFLOW_HTTP_REQUEST_MAX_RETRIES`,
            or 3 instead of MLflow's 7): a server that does not answer fails a job in seconds,
            not in 4 minutes.
        http_request_backoff_factor: the retries wait 0, 2, 4... times this many seconds
            (`MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR`, or 1 instead of MLflow's 2).
    """

    class RunConfig(pdt.BaseModel, strict=True, frozen=True, extra="forbid"):
        """Run settings: name, description, tags and system metrics."""

        name: str
        description: str | None = None
        tags: dict[str, T.Any] | None = None
        log_system_metrics: bool | None = True

    tracking_uri: str = pdt.Field(default_factory=default_tracking_uri)
    registry_uri: str = pdt.Field(default_factory=default_registry_uri)
    experiment_name: str = "bikes"
    registry_name: str = "bikes"
    autolog_disable: bool = True
    autolog_log_models: bool = False
    autolog_silent: bool = True
    enable_system_metrics: bool = True
    system_metrics_interval: float = 1.0
    system_metrics_min_seconds: float = pdt.Field(default=30.0, ge=0)
    http_request_timeout: int = pdt.Field(
        default_factory=lambda: default_from_env("MLFLOW_HTTP_REQUEST_TIMEOUT", 5), gt=0
    )
    http_request_max_retries: int = pdt.Field(
        default_factory=lambda: default_from_env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", 3), ge=0
    )
    http_request_backoff_factor: int = pdt.Field(
        default_factory=lambda: default_from_env("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", 1), ge=0
    )

    @T.override
    def start(self) -> None:
        import mlflow

        # MLflow hints at every integer column when it infers a schema: ours have no missing values
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")
        # and warns that pip is missing from uv's environments: the requirements are given anyway
        logging.getLogger("mlflow.utils.environment").setLevel(logging.ERROR)
        # and logs the traceback of the store errors it raises: the CLI reports them in one line
        logging.getLogger("mlflow.store.db.utils").addFilter(faults.without_traceback)
        # its HTTP client warns at each retry: a server that does not answer fails in one line
        logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
        # MLflow reads its HTTP settings from the environment, at each request
        os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(self.http_request_timeout)
        os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = str(self.http_request_max_retries)
        os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] = str(self.http_request_backoff_factor)
        # and prints links to each ended run on stdout, fetching the run again, over HTTP
        os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
        # and draws a progress bar on stderr at each model it loads (milliseconds from a store)
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        mlflow.set_tracking_uri(uri=self.tracking_uri)
        mlflow.set_registry_uri(uri=self.registry_uri)
        project_run = os.getenv("MLFLOW_RUN_ID")
        if mlflow.active_run() is not None:  # a step of a pipeline: its runs go with the parent
            pass
        elif project_run:  # under `mlflow run`: log into the project's run, in its experiment
            mlflow.set_experiment(experiment_id=mlflow.get_run(project_run).info.experiment_id)
        else:
            self.describe_experiment(mlflow.set_experiment(experiment_name=self.experiment_name))
        mlflow.autolog(
            disable=self.autolog_disable,
            log_models=self.autolog_log_models,
            silent=self.autolog_silent,
        )

    @contextlib.contextmanager
    def run_context(
        self, run_config: RunConfig, parent: tracking.Run | None = None
    ) -> T.Iterator[tracking.Run]:
        """Yield a run (a child of `parent` if given) that ends with the status of the block.

        The run ends FINISHED, FAILED on an error, or KILLED when the job is interrupted (SIGINT,
        SIGTERM). Under `mlflow run`, the first run of the process is the project's run.
        """
        import mlflow

        active = mlflow.start_run(
            run_name=run_config.name,
            tags=run_config.tags,
            description=run_config.description,
            experiment_id=parent.experiment_id if parent else None,
            parent_run_id=parent.id if parent else None,
            nested=parent is not None,
            log_system_metrics=False,  # sampled by `tracking.SystemMetrics`, which stops at once
        )
        client = self.client()
        run = tracking.Run(
            client, active.info.run_id, active.info.run_name, active.info.experiment_id
        )
        sampler = None
        if self.enable_system_metrics and run_config.log_system_metrics:
            sampler = tracking.SystemMetrics(
                client, run.id, self.system_metrics_interval, self.system_metrics_min_seconds
            )
            sampler.start()
        status = "FAILED"
        try:
            yield run
            status = "FINISHED"
        except BaseException as error:
            status = tracking.end_status(type(error))
            raise
        finally:
            if sampler is not None:
                sampler.stop()
            mlflow.end_run(status=status)

    def describe_experiment(self, experiment: Experiment) -> None:
        """Tag the experiment for classic model training, and describe it (once: if untagged).

        MLflow 3 opens an experiment without a kind in its GenAI view (traces, prompts): the
        `mlflow.experimentKind` tag opens it on its runs and models.
        """
        tags = {
            EXPERIMENT_KIND_TAG: EXPERIMENT_KIND,
            tracking.NOTE_TAG: EXPERIMENT_DESCRIPTION.format(name=self.registry_name),
        }
        for key, value in tags.items():
            if key not in experiment.tags:
                self.client().set_experiment_tag(experiment.experiment_id, key, value)

    def describe_run(self, run_id: str, description: str) -> None:
        """Set the description of a run (markdown, shown on its page in the UI)."""
        tracking.Run(self.client(), run_id, name="", experiment_id="").describe(description)

    def ui_lines(self, run_id: str) -> list[str]:
        """Return where to look at a run: the address of its page, and how to start the UI."""
        experiment_id = self.client().get_run(run_id).info.experiment_id
        remote = self.tracking_uri.startswith(("http://", "https://"))
        root = self.tracking_uri.rstrip("/") if remote else UI_ADDRESS
        page = f"{root}/#/experiments/{experiment_id}/runs/{run_id}?{UI_VIEW}"
        lines = [f"MLflow run: {page}"]
        if not remote:
            lines.append(f"MLflow UI: mlflow ui --backend-store-uri {self.tracking_uri}")
        return lines

    def registry(self) -> tracking.Registry:
        """Return the registered model of this service (`registry_name`) in its registry."""
        return tracking.Registry(self.client(), self.registry_name, self.registry_uri)

    def client(self) -> MlflowClient:
        """Return the client of this tracking server and registry (one a process)."""
        return cached_client(self.tracking_uri, self.registry_uri)


@functools.lru_cache(maxsize=8)
def cached_client(tracking_uri: str, registry_uri: str) -> MlflowClient:
    """Return a client of a tracking server and registry, made once for the pair of URIs."""
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri)
