"""Monitor the champion in production: drift, quality and performance, window by window."""

from __future__ import annotations

import dataclasses
import json
import typing as T
from pathlib import Path

import pydantic as pdt
from loguru import logger

from bikes.io import catalog, datasets, registries, services
from bikes.jobs import base
from bikes.monitoring.monitor import Checks

if T.TYPE_CHECKING:
    import pandas as pd

    from bikes.io import tracking
    from bikes.monitoring.monitor import Predict, Reference, WindowResult
    from bikes.monitoring.performance import Baseline
    from bikes.monitoring.windows import Window

# folder of the run's artifacts that holds the reports and the summary
ARTIFACTS = "monitoring"
# rows of the current inputs that describe them in the run (lineage), as the inference job does
LINEAGE_ROWS = 10_000


def write(path: Path, text: str) -> None:
    """Write a text file atomically (a failed write leaves nothing half-written)."""
    with datasets.atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def baseline(registry: tracking.Registry, version: tracking.Version) -> Baseline:
    """Return the test scores that the training run of a version logged."""
    from bikes.monitoring.performance import Baseline

    return Baseline(
        rmse=registry.run_metric(version, "root_mean_squared_error"),
        mae=registry.run_metric(version, "mean_absolute_error"),
    )


@dataclasses.dataclass(frozen=True)
class Session:
    """What every window of a run is monitored with, and where its results go.

    Attributes:
        run: the MLflow run.
        checks: the checks, their drift scaled by the whole reference.
        current: the production inputs.
        times: the hour of each of their rows.
        reference: the reference inputs and their predictions.
        actuals: the actual counts of the current inputs (None: none yet).
        baseline: the version's own test scores.
        predict: the model's predictions of valid inputs.
        folder: where the reports go.
        model: name of the model in the reports.
    """

    run: tracking.Run
    checks: Checks
    current: pd.DataFrame
    times: pd.Series[pd.Timestamp]
    reference: Reference
    actuals: pd.Series[int] | None
    baseline: Baseline
    predict: Predict
    folder: Path
    model: str

    def observe(self, window: Window) -> WindowResult:
        """Monitor a window, log its metrics at its step, write and log its report."""
        from bikes.monitoring import report

        inputs = self.current.loc[window.contains(self.times)]
        observed = self.checks.observe(
            window,
            inputs,
            reference=self.reference,
            predict=self.predict,
            actuals=self.actuals,
            baseline=self.baseline,
        )
        result = observed.result
        self.run.log_metrics(result.metrics(), step=window.step)
        page = report.page(observed, self.model, report.figures(observed))
        write(self.folder / f"{window.label}.html", page)
        self.run.log_text(page, f"{ARTIFACTS}/{window.label}.html")
        if result.breaches:
            logger.warning("Window {}: {}", window.label, "; ".join(result.breaches))
        else:
            logger.info("Window {}: quiet ({} rows)", window.label, result.quality.rows)
        return result


@dataclasses.dataclass(frozen=True)
class MonitoringResult(base.RunResult):
    """The windows monitored, those that breached a threshold, and where the reports are."""

    model_uri: str
    version: int
    windows: int
    alerts: int
    first_alert: str | None
    summary_path: str


class MonitoringJob(base.Job):
    """Compare windows of production inputs (and actuals) with the reference, and alert.

    Each window is compared with the reference hours of the same season: its data quality, the
    drift of each monitored column and of the predictions, and its errors once the actuals are
    known. Its metrics are logged with the window as step (its first day), and a self-contained
    HTML report of it and a JSON summary of the run are written to `reports_dir` and logged. A
    breached threshold sends an alert and fails the job (exit code 4), once every window is
    logged: a scheduler retrains on it.

    Attributes:
        run_config: MLflow run of the monitoring.
        reference: reader of the reference inputs: the training inputs of the version (checked
            against the version's `data_digest` tag).
        current: reader of the production inputs.
        current_targets: reader of their actual counts, when known (rows without one are not
            scored yet).
        alias_or_version: alias (e.g. `champion`) or version number of the registered model.
        loader: loader of the registered model.
        window_days: length of a window.
        replay: walk every window of `current` in turn (from its first day), instead of the
            latest one only, and report the first alert.
        checks: the checks of each window and their thresholds.
        reports_dir: folder of the reports (`<window>.html`) and the summary (`summary.json`).
    """

    KIND: T.Literal["MonitoringJob"] = "MonitoringJob"
    preloads: T.ClassVar[tuple[str, ...]] = base.MODEL_LOADING

    run_config: services.MlflowService.RunConfig = services.MlflowService.RunConfig(
        name="Monitoring"
    )
    reference: datasets.ReaderKind = pdt.Field(
        default=catalog.reader("inputs_train"), discriminator="KIND"
    )
    current: datasets.ReaderKind = pdt.Field(
        default=catalog.reader("inputs_test"), discriminator="KIND"
    )
    current_targets: datasets.ReaderKind | None = pdt.Field(default=None, discriminator="KIND")
    alias_or_version: str | int = "champion"
    loader: registries.LoaderKind = pdt.Field(
        default_factory=registries.SklearnLoader, discriminator="KIND"
    )
    window_days: int = pdt.Field(default=7, gt=0)
    replay: bool = False
    checks: Checks = pdt.Field(default_factory=Checks)
    reports_dir: str = catalog.path("monitoring")

    @T.override
    def registry_reads(self, registry: tracking.Registry) -> dict[str, int | None]:
        return {"model": registry.resolve(self.alias_or_version).number}

    @T.override
    def reads(self) -> list[str]:
        targets = [self.current_targets.path] if self.current_targets else []
        return [*super().reads(), *targets]

    @T.override
    def run(self) -> MonitoringResult:
        from bikes.core.errors import CheckError
        from bikes.monitoring import windows
        from bikes.monitoring.monitor import Reference

        registry = self.mlflow_service.registry()
        version = registry.resolve(self.alias_or_version)
        model = self.loader.load(version.uri, registry)
        logger.info("Monitoring {} (version {})", model.uri, version.number)
        reference_inputs = self.read_reference()
        current, actuals = self.current.read(), self.read_actuals()
        reference = Reference.of(reference_inputs, self.predictor(model))
        checks = self.checks.model_copy(
            update={"drift": self.checks.drift.scaled(reference.inputs)}
        )
        spans = windows.split(windows.timestamps(current), self.window_days, not self.replay)
        with self.run_context(self.run_config) as run:
            self.describe(run, version, reference_inputs, current)
            session = Session(
                run=run,
                checks=checks,
                current=current,
                times=windows.timestamps(current),
                reference=reference,
                actuals=actuals,
                baseline=baseline(registry, version),
                predict=self.predictor(model),
                folder=Path(self.reports_dir),
                model=f"{registry.name} version {version.number}",
            )
            results = [session.observe(window) for window in spans]
            summary = self.summarize(run, version, results)
            alerts = [result for result in results if result.breaches]
            run.set_tags({"alerts": len(alerts)})
            if alerts:  # in the run, which fails and still shows why
                first = alerts[0]
                message = f"window {first.window.label}: " + "; ".join(first.breaches)
                self.alerts_service.notify(title="Monitoring Alert", message=message)
                count = f"{len(alerts)} of {len(results)} windows breached"
                raise CheckError(f"{version.uri}: {count}; first {message}")
        logger.info("{} windows monitored, no threshold breached", len(results))
        return MonitoringResult(run.id, version.uri, version.number, len(results), 0, None, summary)

    def read_reference(self) -> pd.DataFrame:
        """Read and validate the reference inputs (they must be valid: they trained the model)."""
        from bikes.core import schemas

        inputs = schemas.InputsSchema.check(self.reference.read(), origin=self.reference.path)
        logger.info("Read {} reference rows from {}", len(inputs), self.reference.path)
        return inputs

    def read_actuals(self) -> pd.Series[int] | None:
        """Read the actual counts of the current inputs (None when there are none yet)."""
        from bikes.core import schemas

        if self.current_targets is None:
            logger.info("No actuals: performance is not judged")
            return None
        path = self.current_targets.path
        targets = schemas.TargetsSchema.check(self.current_targets.read(), origin=path)
        return targets[schemas.TARGET]

    def predictor(self, model: registries.LoadedModel) -> Predict:
        """Return a function predicting valid inputs with the model (and their bounds)."""
        from bikes.core import schemas

        def predict(inputs: pd.DataFrame) -> pd.DataFrame:
            checked = schemas.InputsSchema.check(inputs, origin=self.current.path)
            return schemas.OutputsSchema.check(model.predict(checked), origin=model.uri)

        return predict

    def describe(
        self,
        run: tracking.Run,
        version: tracking.Version,
        reference: pd.DataFrame,
        current: pd.DataFrame,
    ) -> None:
        """Tag the run with the model and the data, and tell whether the reference trained it."""
        lineage = self.reference.lineage(name="reference", data=reference)
        trained = version.tags.get("data_digest")
        if trained and trained != lineage.digest:
            logger.warning(
                "{} is not the training data of version {} (digest {} != {})",
                self.reference.path,
                version.number,
                lineage.digest,
                trained,
            )
        run.log_input(lineage, context="reference")
        run.log_input(
            self.current.lineage(name="current", data=current.head(LINEAGE_ROWS)), context="current"
        )
        run.set_tags(
            {
                "model_uri": version.uri,
                "model_version": version.number,
                "reference_is_training_data": trained == lineage.digest if trained else None,
                "window_days": self.window_days,
                "replay": self.replay,
            }
        )

    def summarize(
        self, run: tracking.Run, version: tracking.Version, results: list[WindowResult]
    ) -> str:
        """Write and log the JSON summary of the windows; return its path."""
        from bikes.monitoring import report

        context = {
            "model": {"uri": version.uri, "name": version.name, "version": version.number},
            "reference": self.reference.path,
            "current": self.current.path,
            "window_days": self.window_days,
            "replay": self.replay,
        }
        text = json.dumps(report.summary(results, context), indent=2) + "\n"
        path = Path(self.reports_dir) / "summary.json"
        write(path, text)
        run.log_text(text, f"{ARTIFACTS}/summary.json")
        return str(path)
