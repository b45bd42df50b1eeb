"""Evaluate a registered model on the test data: metrics, plots and thresholds."""

from __future__ import annotations

import typing as T

import pydantic as pdt
from loguru import logger

from bikes.core.metrics import MetricsKind, SklearnMetric, Threshold
from bikes.io import datasets, registries, services
from bikes.jobs import base

if T.TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure


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


def model_uri(registry_name: str, alias_or_version: str | int) -> str:
    """Return the URI of a registered model by version (a number) or alias (a name)."""
    if isinstance(alias_or_version, int) or alias_or_version.isdigit():
        return registries.uri_for_model_version(registry_name, alias_or_version)
    return registries.uri_for_model_alias(registry_name, alias_or_version)


def read_aligned(
    inputs_reader: datasets.ReaderKind, targets_reader: datasets.ReaderKind
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read and validate inputs and targets, which must hold the same rows in the same order."""
    from bikes.core import schemas
    from bikes.core.errors import DataError

    inputs = schemas.InputsSchema.check(inputs_reader.read(), origin=inputs_reader.path)
    targets = schemas.TargetsSchema.check(targets_reader.read(), origin=targets_reader.path)
    if not inputs.index.equals(targets.index):
        raise DataError(
            f"{inputs_reader.path} and {targets_reader.path}: inputs ({len(inputs)} rows) and"
            f" targets ({len(targets)} rows) do not have the same index"
        )
    return inputs, targets


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

    run_config: services.MlflowService.RunConfig = services.MlflowService.RunConfig(
        name="Evaluations"
    )
    inputs: datasets.ReaderKind = pdt.Field(
        default=datasets.ParquetReader(path="data/inputs_test.parquet"), discriminator="KIND"
    )
    targets: datasets.ReaderKind = pdt.Field(
        default=datasets.ParquetReader(path="data/targets_test.parquet"), discriminator="KIND"
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
    def run(self) -> base.Locals:
        import mlflow

        from bikes.core import schemas
        from bikes.core.errors import CheckError

        # read
        inputs, targets = read_aligned(self.inputs, self.targets)
        logger.info("Read {} test rows from {}", len(inputs), self.inputs.path)
        # load
        uri = model_uri(self.mlflow_service.registry_name, self.alias_or_version)
        model = self.loader.load(uri=uri)
        logger.info("Loaded {} (version {})", uri, model.version)
        # predict
        outputs = schemas.OutputsSchema.check(model.predict(inputs), origin=uri)
        actual, predicted = targets[schemas.TARGET], outputs["prediction"]
        # score
        scores = {metric.name: metric.score(actual, predicted) for metric in self.metrics}
        for name, score in scores.items():
            logger.info("{} = {:.4f}", name, score)
        tags = {"model_uri": uri, "model_name": model.name, "model_version": model.version}
        with self.mlflow_service.run_context(run_config=self.run_config) as run:
            mlflow.set_tags({key: value for key, value in tags.items() if value is not None})
            evaluation = inputs.assign(**{schemas.TARGET: actual, "prediction": predicted})
            lineage = self.inputs.lineage(
                name="evaluation", data=evaluation, targets=schemas.TARGET, predictions="prediction"
            )
            mlflow.log_input(lineage, context="evaluation")
            mlflow.log_metrics(scores)
            for name, figure in plots(inputs, actual, predicted).items():
                mlflow.log_figure(figure, f"evaluations/{name}.png")
            # check
            breaches = []
            for threshold in self.thresholds:
                try:
                    threshold.check(scores[threshold.metric])
                except CheckError as error:
                    breaches.append(str(error))
            mlflow.set_tag("thresholds", "breached" if breaches else "passed")
            if breaches:
                raise CheckError(f"{uri} (version {model.version}): " + "; ".join(breaches))
        logger.info("Passed {} thresholds", len(self.thresholds))
        self.alerts_service.notify(
            title="Evaluations Job Finished",
            message=", ".join(f"{name} = {score:.4g}" for name, score in scores.items()),
        )
        return locals()


def timestamps(inputs: pd.DataFrame) -> pd.Series[T.Any]:
    """Return the hour of each input: its day (`dteday`) plus its hour (`hr`)."""
    import pandas as pd

    return pd.to_datetime(inputs["dteday"]) + pd.to_timedelta(inputs["hr"], unit="h")


def figure(width: float = 10.0, height: float = 5.0) -> Figure:
    """Return a figure drawn by the Agg backend (no display, no global pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    result = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(result)
    return result


def plots(
    inputs: pd.DataFrame, actual: pd.Series[T.Any], predicted: pd.Series[T.Any]
) -> dict[str, Figure]:
    """Plot predictions against actual counts over time, and the residuals."""
    import pandas as pd

    hours = timestamps(inputs)
    residuals = actual - predicted
    # over time: daily totals are readable over months, hours are not
    daily = (
        pd.DataFrame({"actual": actual.to_numpy(), "predicted": predicted.to_numpy()})
        .set_index(pd.DatetimeIndex(hours.to_numpy()))
        .resample("D")
        .sum()
    )
    over_time = figure()
    axes = over_time.subplots()
    axes.plot(daily.index, daily["actual"], label="actual", linewidth=1.2)
    axes.plot(daily.index, daily["predicted"], label="predicted", linewidth=1.2)
    axes.set(title="Rentals a day: actual and predicted", xlabel="day", ylabel="rentals a day")
    axes.legend()
    # predicted against actual
    scatter = figure(6.0, 6.0)
    axes = scatter.subplots()
    axes.scatter(actual, predicted, s=4, alpha=0.3)
    top = float(max(actual.max(), predicted.max()))
    axes.plot([0, top], [0, top], color="black", linewidth=1, label="perfect")
    axes.set(title="Predicted against actual", xlabel="actual", ylabel="predicted")
    axes.legend()
    # residuals: their distribution, and against the predictions
    residual = figure(12.0, 5.0)
    left, right = residual.subplots(1, 2)
    left.hist(residuals, bins=60)
    left.set(title="Residuals (actual - predicted)", xlabel="residual", ylabel="hours")
    right.scatter(predicted, residuals, s=4, alpha=0.3)
    right.axhline(0, color="black", linewidth=1)
    right.set(title="Residuals against predictions", xlabel="predicted", ylabel="residual")
    return {
        "predictions_over_time": over_time,
        "predicted_vs_actual": scatter,
        "residuals": residual,
    }
