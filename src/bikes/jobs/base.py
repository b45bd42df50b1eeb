"""Base of the jobs: a typed config that runs inside its services and returns a typed result."""

from __future__ import annotations

import abc
import dataclasses
import types as TS
import typing as T

import pydantic as pdt
from loguru import logger

from bikes.io import services
from bikes.utils import startup

if T.TYPE_CHECKING:
    from bikes.io import tracking

# the preloads of the jobs that load models: skops, imported before MLflow, as it searches every
# module already loaded for SciPy's ufuncs (the trusted types): a quarter of a second less
MODEL_LOADING = ("skops.io",)


@dataclasses.dataclass(frozen=True)
class Result:
    """What a job made, for the people and programs that run it (one subclass a job)."""

    def summary(self) -> str:
        """Return one line that sums up the result."""
        fields = (f"{field.name}={getattr(self, field.name)}" for field in dataclasses.fields(self))
        return ", ".join(fields)

    def lines(self) -> list[str]:
        """Return the lines of the closing summary: one a field, numbers rounded, steps indented."""
        lines = []
        for field in dataclasses.fields(self):
            value, name = getattr(self, field.name), field.name.replace("_", " ")
            if (
                isinstance(value, dict)
                and value
                and all(isinstance(v, Result) for v in value.values())
            ):
                for key, nested in value.items():
                    lines += [f"{key}:", *(f"  {line}" for line in nested.lines())]
            else:
                lines.append(f"{name}: {display(value)}")
        return lines


@dataclasses.dataclass(frozen=True)
class RunResult(Result):
    """What a job made, logged in its MLflow run.

    Attributes:
        run_id: ID of the run.
    """

    run_id: str


def display(value: object) -> str:
    """Return a value as a person reads it: 4 significant digits, lists and mappings flat."""
    if isinstance(value, float | int) and not isinstance(value, bool):
        return f"{value:.4g}" if isinstance(value, float) else f"{value:,}"  # 437,555,200
    if isinstance(value, dict):
        return ", ".join(f"{key} {display(item)}" for key, item in value.items()) or "none"
    if isinstance(value, list | tuple):
        return ", ".join(display(item) for item in value) or "none"
    if value is None:
        return "none"
    if hasattr(value, "shape"):  # a data frame or an array: its size, not its values
        return f"{len(T.cast(T.Sized, value))} rows"
    return str(value)


def rounded(scores: T.Mapping[str, float], digits: int = 4) -> dict[str, float]:
    """Return scores rounded to significant digits, for a log a person reads."""
    return {name: float(f"{score:.{digits}g}") for name, score in scores.items()}


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
    # heavy libraries that the job needs, imported at its start before MLflow (`utils.startup`)
    preloads: T.ClassVar[tuple[str, ...]] = ()

    logger_service: services.LoggerService = services.LoggerService()
    alerts_service: services.AlertsService = services.AlertsService()
    mlflow_service: services.MlflowService = pdt.Field(default_factory=services.MlflowService)

    _parent: tracking.Run | None = pdt.PrivateAttr(default=None)

    def within(self, parent: tracking.Run) -> T.Self:
        """Return a copy of the job whose run is a child of `parent` (e.g. a pipeline's run)."""
        job = self.model_copy()
        job._parent = parent
        return job

    def __enter__(self) -> T.Self:
        """Start the services: logger, alerts, then MLflow (when the job uses it).

        The job's heavy imports (`preloads`, then MLflow and its store) are made once a process,
        with the garbage collector off (`utils.startup`).
        """
        self.logger_service.start()
        logger.debug("[START] {}", self.KIND)
        self.alerts_service.start()
        imports = (*self.preloads, "mlflow") if self.uses_mlflow else self.preloads
        with startup.starting(*imports):
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

    def run_context(
        self, run_config: services.MlflowService.RunConfig
    ) -> T.ContextManager[tracking.Run]:
        """Return the context of the job's MLflow run (a child run within a pipeline).

        The run is named to tell it apart from the job's other runs (`run_name`), and described
        by the job's docstring unless its config describes it.
        """
        named = run_config.model_copy(
            update={
                "name": self.run_name(run_config.name),
                "description": run_config.description or self.description(),
            }
        )
        return self.mlflow_service.run_context(named, parent=self._parent)

    def run_name(self, name: str) -> str:
        """Return the name of a run: the configured name, the model or alias, the start time.

        E.g. `Training GradientBoosting 12-04 09:45:23`, `Evaluations @champion 12-04 09:45:30`.
        """
        import datetime

        parts = [name]
        model = getattr(getattr(self, "model", None), "KIND", None)  # training, tuning
        if isinstance(model, str):
            parts.append(model.removesuffix("Model"))
        target = getattr(self, "alias_or_version", getattr(self, "alias", None))
        if isinstance(target, int) or (isinstance(target, str) and target.isdigit()):
            parts.append(f"v{target}")
        elif isinstance(target, str):
            parts.append(f"@{target}")
        parts.append(f"{datetime.datetime.now():%m-%d %H:%M:%S}")
        return " ".join(parts)

    def description(self) -> str:
        """Return what the job does: the first paragraph of its docstring."""
        return (type(self).__doc__ or self.KIND).split("\n\n")[0].strip()

    def reads(self) -> list[str]:
        """Return the files the job reads: the paths of its readers (for the pipeline's cache)."""
        from bikes.io import datasets

        fields = (getattr(self, name) for name in type(self).model_fields)
        return [field.path for field in fields if isinstance(field, datasets.FileReader)]

    def writes(self) -> list[str]:
        """Return the files the job writes: the paths of its writers (for the pipeline's cache)."""
        from bikes.io import datasets

        fields = (getattr(self, name) for name in type(self).model_fields)
        return [field.path for field in fields if isinstance(field, datasets.Writer)]

    def registry_reads(self, registry: tracking.Registry) -> dict[str, int | None]:
        """Return the registry state the job reads, e.g. the version holding an alias (none)."""
        return {}

    def conclude(self, result: Result, seconds: float) -> str:
        """Log and return the closing summary of a run: what it made, where to look at it.

        The summary describes the job's MLflow run too, below what the job does.
        """
        lines = [f"{self.KIND} done in {seconds:.1f}s", *result.lines()]
        if isinstance(result, RunResult) and self.uses_mlflow:
            done = "\n".join(f"- {line}" for line in lines)
            self.mlflow_service.describe_run(result.run_id, f"{self.description()}\n\n{done}\n")
            lines += self.mlflow_service.ui_lines(result.run_id)
        summary = "\n  ".join(lines)
        logger.info("{}", summary)
        return summary

    @abc.abstractmethod
    def run(self) -> Result:
        """Run the job and return what it made."""
