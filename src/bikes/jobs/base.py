"""Base of the jobs: a typed config that runs inside its services."""

from __future__ import annotations

import abc
import types as TS
import typing as T

import pydantic as pdt
from loguru import logger

from bikes.io import services

Locals = dict[str, T.Any]


class Job(abc.ABC, pdt.BaseModel, strict=True, frozen=True, extra="forbid"):
    """A job: a context manager that starts its services, runs, then stops them in reverse.

    Attributes:
        KIND: the kind of job, which selects it in a config.
        logger_service: logging of the job.
        alerts_service: desktop alerts of the job.
        mlflow_service: MLflow tracking and registry of the job.
    """

    KIND: str
    uses_mlflow: T.ClassVar[bool] = True

    logger_service: services.LoggerService = services.LoggerService()
    alerts_service: services.AlertsService = services.AlertsService()
    mlflow_service: services.MlflowService = pdt.Field(default_factory=services.MlflowService)

    def __enter__(self) -> T.Self:
        """Start the services: logger, alerts, then MLflow (when the job uses it)."""
        self.logger_service.start()
        logger.debug("[START] {}", self.KIND)
        self.alerts_service.start()
        if self.uses_mlflow:
            self.mlflow_service.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        exc_traceback: TS.TracebackType | None,
    ) -> T.Literal[False]:
        """Stop the services in reverse order, and let any exception propagate."""
        if self.uses_mlflow:
            self.mlflow_service.stop()
        self.alerts_service.stop()
        logger.debug("[STOP] {}", self.KIND)
        self.logger_service.stop()
        return False

    @abc.abstractmethod
    def run(self) -> Locals:
        """Run the job and return its local variables (handy to inspect and test)."""
