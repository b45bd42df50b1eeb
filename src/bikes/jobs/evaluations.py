"""Evaluate a registered model on the test data: metrics, plots and thresholds.

A model with prediction intervals is scored on them too: `coverage`, `coverage_min_hour` (the
worst hour of the day), `mean_width` and `winkler_score` (`bikes.core.metrics.interval_scores`).
"""

from __future__ import annotations

import dataclasses
import typing as T

import pydantic as pdt
from loguru import logger

from bikes.core.intervals import LOWER, UPPER
from bikes.core.metrics import (
    INTERVAL_METRICS,
    MetricsKind,
    SklearnMetric,
    Threshold,
    interval_scores,
)
from bikes.io import catalog, datasets, registries, reports, services
from bikes.jobs import base

if T.TYPE_CHECKING:
    import pandas as pd

    from bikes.io import tracking


def default_metrics() -> list[SklearnMetric]:
    """Return the default metrics of an evaluation: RMSE, MAE and R2.

    MAPE stays available but is no default: the night hours count a handful of rentals, whose
    small errors weigh as much as the errors of the rush hours in a percentage.
    """
    names = ["root_mean_squared_error", "mean_absolute_error", "r2_score"]
    return [SklearnMetric(name=name) for name in names]


def default_thresholds() -> list[Threshold]:
    """Return the default thresholds: an RMSE of at most 90 and an R2 of at least 0.7."""
    return [
        Threshold(metric="root_mean_squared_error", max=90.0),
        Threshold(metric="r2_score", min=0.7),
    ]


def bounds_scores(
    model: registries.LoadedModel, test: datasets.Labelled, outputs: pd.DataFrame
) -> dict[str, float]:
    """Score the prediction intervals of a model (none for a model without them)."""
    from bikes.core.intervals import HOUR
    from bikes.core.schemas import TARGET

    if model.intervals is None:
        return {}
    actual, hours = test.targets[TARGET], test.inputs[HOUR]
    level = model.intervals.level
    return interval_scores(actual, outputs[LOWER], outputs[UPPER], level, hours)


def breached(thresholds: list[Threshold], scores: dict[str, float]) -> list[str]:
    """Return the message of each threshold that its metric's score breaches."""
    from bikes.core.errors import CheckError

    messages = []
    for threshold in thresholds:
        if threshold.metric not in scores:  # an interval metric of a model without intervals
            messages.append(f"metric {threshold.metric}: not scored (the model has no intervals)")
            continue
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
    report: str | None = None


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
        thresholds: bounds that the metrics must respect (an interval metric too, e.g. a minimum
            `coverage`: breached by a model without intervals).
        report: the report page of the version (a model card), logged and written to `outputs/`.
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
    report: reports.ModelCard = pdt.Field(default_factory=reports.ModelCard)

    @pdt.model_validator(mode="after")
    def thresholds_of_metrics(self) -> T.Self:
        """Check that each threshold bounds a metric that the job computes."""
        names = [metric.name for metric in self.metrics] + list(INTERVAL_METRICS)
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
        } | bounds_scores(model, test, outputs)
        logger.info("Scores: {}", base.rounded(scores))
        breaches = breached(self.thresholds, scores)
        with self.run_context(self.run_config) as run:
            run.set_tags(
                {"model_uri": uri, "model_name": model.name, "model_version": model.version}
            )
            run.log_metrics(scores, split="test")
            page = self.log(run, model, test, outputs, scores)
            run.set_tags({"thresholds": "breached" if breaches else "passed"})
            if breaches:  # in the run, which fails and still shows why
                raise CheckError(f"{uri} (version {model.version}): " + "; ".join(breaches))
        logger.info("Passed {} thresholds", len(self.thresholds))
        self.alerts_service.notify(
            title="Evaluations Job Finished",
            message=", ".join(f"{name} = {score:.4g}" for name, score in scores.items()),
        )
        version = model.version or 0
        return EvaluationsResult(run.id, uri, version, len(test.inputs), scores, breaches, page)

    def log(
        self,
        run: tracking.Run,
        model: registries.LoadedModel,
        test: datasets.Labelled,
        outputs: pd.DataFrame,
        scores: dict[str, float],
    ) -> str | None:
        """Log the evaluation data with its predictions (lineage), the plots and the report.

        Returns the path of the report page (None when it is off).
        """
        from bikes.core.schemas import TARGET
        from bikes.io import plots

        actual, predicted = test.targets[TARGET], outputs["prediction"]
        evaluation = test.inputs.assign(**{TARGET: actual, "prediction": predicted})
        lineage = self.inputs.lineage(
            name="evaluation", data=evaluation, targets=TARGET, predictions="prediction"
        )
        run.log_input(lineage, context="evaluation")
        bounds = outputs.get(LOWER), outputs.get(UPPER)
        figures = plots.evaluation(test.inputs, actual, predicted, *bounds)
        images = {name: plots.png(figure) for name, figure in figures.items()}  # drawn once
        for name, image in images.items():
            run.log_image(image, f"evaluations/{name}.png")
        if not self.report.enable or model.version is None:
            return None
        return self.report.report(
            run=run,
            registry=self.mlflow_service.registry(),
            loader=self.loader,
            model=model,
            test=test,
            scores=scores,
            metrics=self.metrics,
            images=images,
            test_digest=lineage.digest,
        )
