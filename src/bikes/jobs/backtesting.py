"""Backtest a model month by month: refit at each origin, score the month after it."""

from __future__ import annotations

import dataclasses
import time
import typing as T

import pydantic as pdt
from loguru import logger

from bikes.core import baselines, models
from bikes.core import intervals as intervals_
from bikes.core.errors import DataError
from bikes.io import catalog, datasets, services
from bikes.jobs import base, training
from bikes.utils import splitters

if T.TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from bikes.core.schemas import Series
    from bikes.io import tracking

MODEL, NAIVE, REFERENCE = "model", "seasonal_naive", "reference"
SCORES = ("rmse", "mae", "bias")
BOUNDS = ("prediction_lower", "prediction_upper")


def scores(actual: Series, predicted: Series) -> dict[str, float]:
    """Return the RMSE, MAE and bias (mean of predicted - actual: > 0 over-forecasts)."""
    import numpy as np

    errors = predicted.to_numpy(dtype="float64") - actual.to_numpy(dtype="float64")
    return {
        "rmse": float(np.sqrt(np.mean(errors**2))),
        "mae": float(np.mean(np.abs(errors))),
        "bias": float(np.mean(errors)),
    }


def coverage(outputs: pd.DataFrame, actual: Series) -> float:
    """Return the share of actual counts within the predicted bounds (NaN: the model has none)."""
    if not set(BOUNDS) <= set(outputs.columns):
        return float("nan")
    lower, upper = (outputs[bound].to_numpy() for bound in BOUNDS)
    values = actual.to_numpy()
    return float(((lower <= values) & (values <= upper)).mean())


def numbers(row: T.Mapping[str, T.Any]) -> dict[str, float]:
    """Return the float values of a row that are numbers (not NaN), to log as metrics."""
    import math

    return {k: v for k, v in row.items() if isinstance(v, float) and not math.isnan(v)}


def markdown(table: pd.DataFrame, digits: int = 1) -> str:
    """Return a data frame as a Markdown table, its floats rounded."""
    header = "| " + " | ".join(map(str, table.columns)) + " |"
    rule = "|" + "|".join("---:" for _ in table.columns) + "|"
    lines = [
        "| " + " | ".join(f"{v:.{digits}f}" if isinstance(v, float) else str(v) for v in row) + " |"
        for row in table.itertuples(index=False)
    ]
    return "\n".join([header, rule, *lines]) + "\n"


def labelled(kind: T.Literal["inputs", "targets"]) -> list[datasets.ReaderKind]:
    """Return the readers of the labelled inputs or targets of the catalog: train, then test."""
    return [catalog.reader(f"{kind}_train"), catalog.reader(f"{kind}_test")]


@dataclasses.dataclass(frozen=True)
class BacktestingResult(base.RunResult):
    """The scores of each fold (one row a fold), their means, and the seconds it took.

    `folds` holds `fold`, `month`, `train_rows`, `test_rows`, then `<forecaster>_<score>` for the
    forecasters `model`, `seasonal_naive` and `reference`, the scores `rmse`, `mae` and `bias`, and
    `model_coverage` (NaN without intervals).
    """

    folds: pd.DataFrame
    means: dict[str, float]
    seconds: float


class BacktestingJob(base.Job):
    """Refit the model at each origin of rolling monthly folds and score the month after it.

    Each fold trains on every labelled hour before its month (an expanding window) and tests on
    the month, against two baselines: the seasonal naive forecast (the same hour one week
    earlier, from the hours known at the origin) and the reference random forest. The run holds
    the scores of each fold (the fold as the step), their means, the table (CSV and Markdown)
    and a plot of all folds.

    Attributes:
        run_config: MLflow run of the backtest.
        inputs: readers of the labelled inputs, read in turn (the train then the test split).
        targets: readers of their targets, in the same order.
        splitter: the monthly folds (the 12 months of 2012 by default).
        model: model refit at each origin (its defaults, updated by `params_file`).
        params_file: JSON object of hyperparameters of the model (those of the tuning job).
        intervals: how the model's intervals are calibrated at each origin, as the training job
            does (None: no bounds, no coverage).
        reference: model refit beside it (none when None).
        period: hours of the season of the naive forecast (a week).
    """

    KIND: T.Literal["BacktestingJob"] = "BacktestingJob"

    run_config: services.MlflowService.RunConfig = services.MlflowService.RunConfig(
        name="Backtesting"
    )
    inputs: list[T.Annotated[datasets.ReaderKind, pdt.Field(discriminator="KIND")]] = pdt.Field(
        default_factory=lambda: labelled("inputs"),
        min_length=1,
    )
    targets: list[T.Annotated[datasets.ReaderKind, pdt.Field(discriminator="KIND")]] = pdt.Field(
        default_factory=lambda: labelled("targets"),
        min_length=1,
    )
    splitter: splitters.MonthlySplitter = splitters.MonthlySplitter()
    model: models.ModelKind = pdt.Field(
        default_factory=models.GradientBoostingModel, discriminator="KIND"
    )
    params_file: str | None = None
    intervals: intervals_.Intervals | None = intervals_.Intervals()
    reference: models.ModelKind | None = pdt.Field(
        default_factory=models.BaselineSklearnModel, discriminator="KIND"
    )
    period: int = pdt.Field(default=baselines.WEEK, gt=0)

    @pdt.model_validator(mode="after")
    def paired(self) -> T.Self:
        """Check that each reader of inputs has its reader of targets."""
        if len(self.inputs) != len(self.targets):
            raise ValueError(
                f"{len(self.inputs)} readers of inputs but {len(self.targets)} of targets"
            )
        return self

    @T.override
    def reads(self) -> list[str]:
        files = [*self.inputs, *self.targets]
        return [reader.path for reader in files] + ([self.params_file] if self.params_file else [])

    @T.override
    def run(self) -> BacktestingResult:
        import pandas as pd

        model = training.tuned(self.model, self.params_file)
        start = time.perf_counter()
        with self.run_context(self.run_config) as run:
            data = self.read(run)
            run.log_params({"model": model.KIND, **model.get_params()})
            rows, forecasts = [], []
            for fold, (train, test) in enumerate(self.folds(data), start=1):
                row, forecast = self.fold(model, data, train, test)
                rows.append({"fold": fold, **row})
                forecasts.append(forecast)
                run.log_metrics(numbers(row), step=fold)
                logger.info("Fold {} ({}): {}", fold, row["month"], self.summary(row))
            folds = pd.DataFrame(rows)
            seconds = time.perf_counter() - start
            means = self.log(run, folds, pd.concat(forecasts), seconds)
        self.alerts_service.notify(
            title="Backtesting Job Finished",
            message=f"{len(folds)} folds: mean MAE {means[f'{MODEL}_mae']:.4g}",
        )
        return BacktestingResult(run.id, folds, means, seconds)

    def read(self, run: tracking.Run) -> datasets.Labelled:
        """Read the labelled data, each part in turn, and log it as the run's input."""
        pairs = zip(self.inputs, self.targets, strict=True)
        parts = [datasets.read_labelled(inputs, targets) for inputs, targets in pairs]
        try:
            data = datasets.concat(parts)
        except DataError as error:
            raise DataError(f"{', '.join(r.path for r in self.inputs)}: {error}") from error
        run.log_input(self.inputs[0].lineage(name="labelled", data=data.inputs), "backtesting")
        logger.info("Read {} labelled rows", len(data.inputs))
        return data

    def folds(self, data: datasets.Labelled) -> list[tuple[T.Any, T.Any]]:
        """Return the (train, test) positions of each fold (a `DataError` if a month is empty)."""
        try:
            return list(self.splitter.split(data.inputs))
        except ValueError as error:
            raise DataError(f"{', '.join(r.path for r in self.inputs)}: {error}") from error

    def fold(
        self, model: models.Model, data: datasets.Labelled, train: T.Any, test: T.Any
    ) -> tuple[dict[str, T.Any], pd.DataFrame]:
        """Fit and score each forecaster on one fold; return its row and its forecasts."""
        from bikes.core.schemas import TARGET, hours

        history, targets = data.inputs.iloc[train], data.targets.iloc[train]
        inputs, actual = data.inputs.iloc[test], data.targets[TARGET].iloc[test]
        outputs = model.model_copy(deep=True).fit(history, targets).predict(inputs)
        if self.intervals is not None:  # calibrated on the end of the history, as in training
            outputs = self.intervals.calibrate(model, history, targets).assign(outputs, inputs)
        forecasts = {
            MODEL: outputs["prediction"],
            NAIVE: baselines.seasonal_naive(history, targets, inputs, self.period)["prediction"],
        }
        if self.reference is not None:
            reference = self.reference.model_copy(deep=True).fit(history, targets)
            forecasts[REFERENCE] = reference.predict(inputs)["prediction"]
        month = f"{hours(inputs).min():%Y-%m}"
        row: dict[str, T.Any] = {"month": month, "train_rows": len(train), "test_rows": len(test)}
        for name, predicted in forecasts.items():
            row.update({f"{name}_{k}": v for k, v in scores(actual, predicted).items()})
        row[f"{MODEL}_coverage"] = coverage(outputs, actual)
        frame = inputs[["dteday", "hr"]].assign(actual=actual, **forecasts)
        return row, frame

    def summary(self, row: T.Mapping[str, T.Any]) -> str:
        """Return the MAE of each forecaster of a fold, for the log."""
        names = [MODEL, NAIVE, *([REFERENCE] if self.reference is not None else [])]
        return ", ".join(f"{name} MAE {row[f'{name}_mae']:.4g}" for name in names)

    def log(
        self, run: tracking.Run, folds: pd.DataFrame, forecasts: pd.DataFrame, seconds: float
    ) -> dict[str, float]:
        """Log the means of the scores, the table and the plot of the folds; return the means."""
        from bikes.io import plots

        columns = [c for c in folds.columns if c.rsplit("_", 1)[-1] in {*SCORES, "coverage"}]
        means = {name: float(folds[name].mean()) for name in columns}
        means["mae_skill"] = 1 - means[f"{MODEL}_mae"] / means[f"{NAIVE}_mae"]
        run.log_metrics({f"mean_{k}": v for k, v in numbers(means).items()} | {"seconds": seconds})
        run.set_tags({"folds": len(folds), "splitter": self.splitter.KIND})
        run.log_text(folds.to_csv(index=False), "backtesting/folds.csv")
        run.log_text(markdown(folds), "backtesting/folds.md")
        run.log_figure(figure(folds, forecasts, plots.figure(12.0, 8.0)), "backtesting/folds.png")
        logger.info("Mean scores over {} folds: {}", len(folds), base.rounded(means))
        return means


def figure(folds: pd.DataFrame, forecasts: pd.DataFrame, canvas: Figure) -> Figure:
    """Draw the daily totals of the folds' months, and the MAE of each forecaster by fold."""
    import numpy as np
    import pandas as pd

    top, bottom = canvas.subplots(2, 1)
    names = [c for c in (MODEL, NAIVE, REFERENCE) if c in forecasts.columns]
    daily = forecasts.groupby(pd.to_datetime(forecasts["dteday"]))[["actual", *names]].sum()
    for column in ["actual", *names]:
        top.plot(daily.index, daily[column], label=column, linewidth=1.0)
    top.set(title="Rentals a day in the tested months", ylabel="rentals a day")
    top.legend()
    width = 0.8 / len(names)
    positions = np.arange(len(folds))
    for k, name in enumerate(names):
        color = f"C{k + 1}"  # the color of its line above (`actual` is C0)
        bottom.bar(positions + k * width, folds[f"{name}_mae"], width, label=name, color=color)
    bottom.set_xticks(positions + width * (len(names) - 1) / 2, folds["month"])
    bottom.set(title="MAE of each fold (month tested)", ylabel="MAE (rentals an hour)")
    bottom.legend()
    return canvas
