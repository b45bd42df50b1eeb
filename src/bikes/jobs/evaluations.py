"""Evaluate a registered model on the test data: metrics, plots and thresholds."""

from __future__ import annotations

import dataclasses
import typing as T

import pydantic as pdt
from loguru import logger

from bikes.core.metrics import MetricsKind, SklearnMetric, Threshold
from bikes.io import catalog, datasets, registries, services
from bikes.jobs import base

if T.TYPE_CHECKING:
    import pandas as pd

    from bikes.io import tracking


def default_metrics() -> list[SklearnMetric]:
    """Return the default metrics of an evaluation: RMSE, MAE, R2 and MAPE."""
    names = [
        "root_mean_squared_error",
        "mean_absolute_error",
        "r2_score",
        "mean_absolute_percentage_error",
    ]
    return [SklearnMetric(name=name) for name in names]


def default_thresholds() -> list[Threshold]:
    """Return the default thresholds: an RMSE of at most 90 and an R2 of at least 0.7."""
    return [
        Threshold(metric="root_mean_squared_error", max=90.0),
        Threshold(metric="r2_score", min=0.7),
    ]


def breached(thresholds: list[Threshold], scores: dict[str, float]) -> list[str]:
    """Return the message of each threshold that its metric's score breaches."""
    from bikes.core.errors import CheckError

    messages = []
    for threshold in thresholds:
        try:
            threshold.check(scores[threshold.metric])
        except CheckError as error:
            messages.append(str(error))
    return messages


@dataclasses.dataclass(frozen=True)
class EvaluationsResult(base.RunResult):
    """The scores of a version, and the thresholds it breached (none when it passed)."""

    model_uri: str
    version: int
    rows: int
    scores: dict[str, float]
    breaches: list[str]


class EvaluationsJob(base.Job):
    """Score a registered model on the test data, log metrics and plots, and check thresholds.

    A breached threshold fails the job (exit code 4) after the metrics and plots are logged, so the
    failed run still shows why.

    Attributes:
        run_config: MLflow run of the evaluation.
        inputs: reader of the test inputs (never the training data).
        targets: reader of the test targets.
        alias_or_version: alias (e.g. `champion`) or version number of the registered model.
        loader: loader of the registered model.
        metrics: metrics to compute, logged with their natural sign.
        thresholds: bounds that the metrics must respect.
    """

    KIND: T.Literal["EvaluationsJob"] = "EvaluationsJob"
    preloads: T.ClassVar[tuple[str, ...]] = base.MODEL_LOADING

    run_config: services.MlflowService.RunConfig = services.MlflowService.RunConfig(
        name="Evaluations"
    )
    inputs: datasets.ReaderKind = pdt.Field(
        default=catalog.reader("inputs_test"), discriminator="KIND"
    )
    targets: datasets.ReaderKind = pdt.Field(
        default=catalog.reader("targets_test"), discriminator="KIND"
    )
    alias_or_version: str | int = "champion"
    loader: registries.LoaderKind = pdt.Field(
        default_factory=registries.SklearnLoader, discriminator="KIND"
    )
    metrics: MetricsKind = pdt.Field(default_factory=default_metrics, min_length=1)
    thresholds: list[Threshold] = pdt.Field(default_factory=default_thresholds)

    @pdt.model_validator(mode="after")
    def thresholds_of_metrics(self) -> T.Self:
        """Check that each threshold bounds a metric that the job computes."""
        names = [metric.name for metric in self.metrics]
        for threshold in self.thresholds:
            if threshold.metric not in names:
                known = ", ".join(names)
                raise ValueError(
                    f"threshold of {threshold.metric!r}: not a metric of the job ({known})"
                )
        return self

    @T.override
    def registry_reads(self, registry: tracking.Registry) -> dict[str, int | None]:
        version = registry.resolve(self.alias_or_version)
        return {"model": version.number}

    @T.override
    def run(self) -> EvaluationsResult:
        from bikes.core import schemas
        from bikes.core.errors import CheckError

        test = datasets.read_labelled(self.inputs, self.targets)
        registry = self.mlflow_service.registry()
        uri = registry.model_uri(self.alias_or_version)
        model = self.loader.load(uri, registry)
        logger.info("Scoring {} (version {}) on {} rows", uri, model.version, len(test.inputs))
        outputs = schemas.OutputsSchema.check(model.predict(test.inputs), origin=uri)
        scores = {
            metric.name: metric.score(test.targets[schemas.TARGET], outputs["prediction"])
            for metric in self.metrics
        }
        logger.info("Scores: {}", base.rounded(scores))
        breaches = breached(self.thresholds, scores)
        with self.run_context(self.run_config) as run:
            run.set_tags(
                {"model_uri": uri, "model_name": model.name, "model_version": model.version}
            )
            self.log(run, test, outputs)
            run.log_metrics(scores)
            run.set_tags({"thresholds": "breached" if breaches else "passed"})
            if breaches:  # in the run, which fails and still shows why
                raise CheckError(f"{uri} (version {model.version}): " + "; ".join(breaches))
        logger.info("Passed {} thresholds", len(self.thresholds))
        self.alerts_service.notify(
            title="Evaluations Job Finished",
            message=", ".join(f"{name} = {score:.4g}" for name, score in scores.items()),
        )
        version = model.version or 0
        return EvaluationsResult(run.id, uri, version, len(test.inputs), scores, breaches)

    def log(self, run: tracking.Run, test: datasets.Labelled, outputs: pd.DataFrame) -> None:
        """Log the evaluation data with its predictions (lineage), and the evaluation's plots."""
        from bikes.core.schemas import TARGET
        from bikes.io import plots

        actual, predicted = test.targets[TARGET], outputs["prediction"]
        evaluation = test.inputs.assign(**{TARGET: actual, "prediction": predicted})
        lineage = self.inputs.lineage(
            name="evaluation", data=evaluation, targets=TARGET, predictions="prediction"
        )
        run.log_input(lineage, context="evaluation")
        for name, figure in plots.evaluation(test.inputs, actual, predicted).items():
            run.log_figure(figure, f"evaluations/{name}.png")
