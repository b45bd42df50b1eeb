"""Serve the registered model over HTTP: a validated forecast API that follows an alias."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import tempfile
import threading
import time
import typing as T

import pydantic as pdt
from loguru import logger

from bikes.io import registries
from bikes.jobs import base

if T.TYPE_CHECKING:
    from bikes.serving import app

# uvicorn's log levels (loguru has more)
UVICORN_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


@dataclasses.dataclass(frozen=True)
class ServingResult(base.Result):
    """Where the server listened, and for how long."""

    url: str
    seconds: float


@contextlib.contextmanager
def terminated_in_peace() -> T.Iterator[None]:
    """End normally on SIGTERM, once uvicorn has shut down gracefully (as its workers' parent does).

    uvicorn raises the signal again after its shutdown, which would kill the process (exit 143).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def multiprocess_metrics() -> T.Iterator[None]:
    """Give the workers' metrics a fresh folder (`PROMETHEUS_MULTIPROC_DIR`), removed at exit."""
    from bikes.serving.metrics import MULTIPROCESS

    folder = tempfile.mkdtemp(prefix="bikes-metrics-")
    previous = os.environ.get(MULTIPROCESS)
    os.environ[MULTIPROCESS] = folder
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(MULTIPROCESS, None)
        else:
            os.environ[MULTIPROCESS] = previous
        shutil.rmtree(folder, ignore_errors=True)


class ServingJob(base.Job):
    """Serve forecasts of the registered model over HTTP until interrupted (Ctrl+C, SIGTERM).

    The server follows an alias: every `poll_seconds`, a new holder of the alias is loaded in the
    background and swapped in at once; a version that fails to load leaves the old one serving.
    It accepts requests once the first model is loaded (or failed to load: `/health/ready`
    answers 503 until one is). See the README's "Serving" section for the endpoints, and `/docs`
    on the server for their schemas.

    Attributes:
        host: address to listen on (`0.0.0.0` for every interface, e.g. in a container).
        port: port to listen on.
        workers: processes of uvicorn (each loads the model and follows the alias).
        alias: alias of the registered model to follow (when `version` is None).
        version: version of the registered model to serve (wins over `alias`).
        poll_seconds: seconds between two looks at the alias.
        max_rows: rows (or hours) of one request at most (413 beyond).
        threads: OpenMP threads of a prediction (`OMP_NUM_THREADS`, set before the model loads):
            one keeps latencies steady beside other busy processes, where threads that wait for
            each other spin (a single row took 280 ms with two threads on two busy cores, 6 ms
            with one).
        access_log: log every request (uvicorn's access log).
        loader: loader of the model versions.
    """

    KIND: T.Literal["ServingJob"] = "ServingJob"
    uses_mlflow: T.ClassVar[bool] = False  # no run: the app points MLflow at the registry itself

    host: str = pdt.Field(default="127.0.0.1", min_length=1)
    port: int = pdt.Field(default=8000, ge=0, le=65535)
    workers: int = pdt.Field(default=1, ge=1)
    alias: str = pdt.Field(default="champion", min_length=1)
    version: int | None = pdt.Field(default=None, gt=0)
    poll_seconds: float = pdt.Field(default=10.0, gt=0)
    max_rows: int = pdt.Field(default=100_000, gt=0)
    threads: int = pdt.Field(default=1, ge=1)
    access_log: bool = False
    loader: registries.LoaderKind = pdt.Field(
        default=registries.SklearnLoader(), discriminator="KIND"
    )

    def settings(self) -> app.Settings:
        """Return the settings of the app."""
        from bikes.serving.app import Settings

        return Settings(
            alias=self.alias,
            version=self.version,
            poll_seconds=self.poll_seconds,
            max_rows=self.max_rows,
            loader=self.loader,
            mlflow_service=self.mlflow_service,
        )

    @T.override
    def run(self) -> ServingResult:
        import uvicorn

        from bikes.serving.app import SETTINGS_VARIABLE

        os.environ["OMP_NUM_THREADS"] = str(self.threads)  # read once OpenMP loads
        settings = self.settings()
        url = f"http://{self.host}:{self.port}"
        model = f"version {self.version}" if self.version else f"@{self.alias}"
        logger.info(
            "Serving {} {} on {} ({} worker(s))",
            self.mlflow_service.registry_name,
            model,
            url,
            self.workers,
        )
        level = self.logger_service.level.lower()
        options: dict[str, T.Any] = {
            "host": self.host,
            "port": self.port,
            "access_log": self.access_log,
            "log_level": level if level in UVICORN_LEVELS else "info",
        }
        start = time.perf_counter()
        if self.workers == 1:
            served = settings.app()
            with terminated_in_peace():
                uvicorn.run(served, **options)
        else:  # each worker builds its app from the settings in the environment
            os.environ[SETTINGS_VARIABLE] = settings.model_dump_json()
            with multiprocess_metrics():
                uvicorn.run(
                    "bikes.serving.app:from_environment",
                    factory=True,
                    workers=self.workers,
                    **options,
                )
        return ServingResult(url=url, seconds=time.perf_counter() - start)
