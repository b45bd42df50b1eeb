"""Tune the hyperparameters of a model on the training data, over time-series folds."""

from __future__ import annotations

import json
import typing as T

import pydantic as pdt
from loguru import logger

from bikes.core import metrics, models
from bikes.io import datasets, services
from bikes.jobs import base
from bikes.utils import searchers, splitters

if T.TYPE_CHECKING:
    import pandas as pd


class TuningJob(base.Job):
    """Search the best params of a model and write them where the training job reads them.

    Each trial is logged as a child run (params, mean score, fold scores) of one parent run, which
    holds the best params and score, the best trial's number (tag `best_trial`: the searcher may
    keep the model's own params over a trial that beats them only by noise), and the best params
    as JSON (tag `best_params` and artifact).

    Attributes:
        run_config: MLflow run of the search (the parent of the trials' runs).
        inputs: reader of the train inputs.
        targets: reader of the train targets.
        model: model to tune (its fields are the params not searched).
        metric: metric to optimize (its natural sign is kept: the best RMSE is the lowest).
        splitter: time-series folds of the cross-validation (never shuffled).
        searcher: search of the params, selected by its `KIND`.
        params_file: JSON file of the best params (a flat mapping of the model's param names).
    """

    KIND: T.Literal["TuningJob"] = "TuningJob"

    run_config: services.MlflowService.RunConfig = services.MlflowService.RunConfig(name="Tuning")
    inputs: datasets.ReaderKind = pdt.Field(
        default=datasets.ParquetReader(path="data/inputs_train.parquet"), discriminator="KIND"
    )
    targets: datasets.ReaderKind = pdt.Field(
        default=datasets.ParquetReader(path="data/targets_train.parquet"), discriminator="KIND"
    )
    model: models.ModelKind = pdt.Field(
        default_factory=models.GradientBoostingModel, discriminator="KIND"
    )
    metric: metrics.MetricKind = pdt.Field(
        default_factory=metrics.SklearnMetric, discriminator="KIND"
    )
    splitter: splitters.SplitterKind = pdt.Field(
        default_factory=splitters.TimeSeriesSplitter, discriminator="KIND"
    )
    searcher: searchers.SearcherKind = pdt.Field(
        default_factory=searchers.OptunaSearcher, discriminator="KIND"
    )
    params_file: str = "outputs/tuning/best_params.json"

    @pdt.model_validator(mode="after")
    def searchable(self) -> T.Self:
        """Check that the model accepts every param the searcher may try."""
        accepted = self.model.get_params()
        for name, values in self.searcher.samples().items():
            if name not in accepted:
                known = ", ".join(sorted(accepted))
                raise ValueError(f"{self.model.KIND} has no param {name!r} (params: {known})")
            for value in values:
                try:
                    searchers.with_params(self.model, {name: value})
                except pdt.ValidationError as error:
                    message = error.errors(include_url=False)[0]["msg"]
                    raise ValueError(
                        f"{self.model.KIND} refuses {name}={value!r} ({message})"
                    ) from None
        return self

    @T.override
    def run(self) -> base.Locals:
        import mlflow

        from bikes.core import schemas

        # read
        inputs = schemas.InputsSchema.check(self.inputs.read(), origin=self.inputs.path)
        targets = schemas.TargetsSchema.check(self.targets.read(), origin=self.targets.path)
        if not inputs.index.equals(targets.index):
            raise_misaligned(self.inputs.path, self.targets.path, inputs, targets)
        logger.info("Read {} train rows from {}", len(inputs), self.inputs.path)
        with self.mlflow_service.run_context(run_config=self.run_config) as run:
            mlflow.log_input(self.inputs.lineage(name="inputs_train", data=inputs), context="train")
            mlflow.log_input(
                self.targets.lineage(name="targets_train", data=targets, targets=schemas.TARGET),
                context="train",
            )
            # search
            result = self.searcher.search(
                model=self.model,
                metric=self.metric,
                inputs=inputs,
                targets=targets,
                cv=self.splitter,
            )
            logger.info(
                "Best {} = {:.4f} (trial {}) with {}",
                self.metric.name,
                result.best_score,
                result.best_trial,
                result.best_params,
            )
            # log
            self.log_trials(result.trials)
            best_json = json.dumps(result.best_params, sort_keys=True)
            mlflow.log_params(result.best_params)
            mlflow.log_metric(f"best_{self.metric.name}", result.best_score)
            mlflow.set_tags(
                {
                    "best_params": best_json,
                    "best_trial": str(result.best_trial),
                    "model": self.model.KIND,
                    "searcher": self.searcher.KIND,
                    "splitter": self.splitter.KIND,
                    "n_trials": str(len(result.trials)),
                }
            )
            # write
            with datasets.atomic_path(self.params_file) as temporary:
                temporary.write_text(best_json + "\n", encoding="utf-8")
            mlflow.log_artifact(self.params_file)
            logger.info("Wrote the best params to {}", self.params_file)
        self.alerts_service.notify(
            title="Tuning Job Finished",
            message=(
                f"best {self.metric.name} = {result.best_score:.4f} in {len(result.trials)} trials"
            ),
        )
        return locals()

    def log_trials(self, results: pd.DataFrame) -> None:
        """Log each trial as a child run of the active run: params, mean and fold scores."""
        import math

        import mlflow

        folds = [column for column in results.columns if column.startswith("fold_")]
        for trial in results.to_dict("records"):
            with mlflow.start_run(
                run_name=f"trial-{trial['trial']}", nested=True, log_system_metrics=False
            ):
                mlflow.log_params(trial["params"])
                mlflow.set_tag("state", trial["state"])
                scores = {
                    f"{self.metric.name}_{fold}": trial[fold]
                    for fold in folds
                    if not math.isnan(trial[fold])
                }
                if not math.isnan(trial["score"]):
                    scores[self.metric.name] = trial["score"]
                mlflow.log_metrics(scores)


def raise_misaligned(
    inputs_path: str, targets_path: str, inputs: pd.DataFrame, targets: pd.DataFrame
) -> T.NoReturn:
    """Raise a `DataError`: inputs and targets must have the same rows, in the same order."""
    from bikes.core.errors import DataError

    raise DataError(
        f"{inputs_path} and {targets_path}: inputs ({len(inputs)} rows) and targets"
        f" ({len(targets)} rows) do not have the same index"
    )
