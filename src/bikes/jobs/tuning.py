"""Tune the hyperparameters of a model on the training data, over time-series folds."""

from __future__ import annotations

import dataclasses
import json
import typing as T

import pydantic as pdt
from loguru import logger

from bikes.core import metrics, models
from bikes.io import catalog, datasets, services
from bikes.jobs import base
from bikes.utils import searchers, splitters

if T.TYPE_CHECKING:
    import pandas as pd

    from bikes.io import tracking


@dataclasses.dataclass(frozen=True)
class TuningResult(base.RunResult):
    """The params kept by the search, their score, the trials, and where the params were written.

    `trials` holds one row a trial: `trial`, `state`, `params`, mean `score`, `fold_<k>` scores.
    """

    best_trial: int
    best_score: float
    best_params: dict[str, T.Any]
    trials: pd.DataFrame
    params_file: str


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
        default=catalog.reader("inputs_train"), discriminator="KIND"
    )
    targets: datasets.ReaderKind = pdt.Field(
        default=catalog.reader("targets_train"), discriminator="KIND"
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
    params_file: str = catalog.path("best_params")

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
    def writes(self) -> list[str]:
        return [*super().writes(), self.params_file]

    @T.override
    def run(self) -> TuningResult:
        from bikes.core import schemas

        train = datasets.read_labelled(self.inputs, self.targets)
        logger.info("Read {} train rows from {}", len(train.inputs), self.inputs.path)
        with self.run_context(self.run_config) as run:
            run.log_input(self.inputs.lineage(name="inputs_train", data=train.inputs), "train")
            targets = self.targets.lineage(
                name="targets_train", data=train.targets, targets=schemas.TARGET
            )
            run.log_input(targets, "train")
            result = self.searcher.search(
                model=self.model,
                metric=self.metric,
                inputs=train.inputs,
                targets=train.targets,
                cv=self.splitter,
            )
            best = f"{self.metric.name} = {result.best_score:.4g} (trial {result.best_trial})"
            logger.info("Best {} with {}", best, result.best_params)
            self.log_search(run, result)
            with datasets.atomic_path(self.params_file) as temporary:
                temporary.write_text(json.dumps(result.best_params, sort_keys=True) + "\n")
            run.log_artifact(self.params_file)
            logger.info("Wrote the best params to {}", self.params_file)
        self.alerts_service.notify(
            title="Tuning Job Finished", message=f"best {best} of {len(result.trials)} trials"
        )
        return TuningResult(
            run.id,
            result.best_trial,
            result.best_score,
            result.best_params,
            result.trials,
            self.params_file,
        )

    def log_search(self, run: tracking.Run, result: searchers.SearchResult) -> None:
        """Log the best params and score of a search, and its trials as child runs."""
        self.log_trials(run, result.trials)
        run.log_params(result.best_params)
        run.log_metrics({f"best_{self.metric.name}": result.best_score})
        run.set_tags(
            {
                "best_params": json.dumps(result.best_params, sort_keys=True),
                "best_trial": result.best_trial,
                "model": self.model.KIND,
                "searcher": self.searcher.KIND,
                "splitter": self.splitter.KIND,
                "n_trials": len(result.trials),
            }
        )

    def log_trials(self, run: tracking.Run, trials: pd.DataFrame) -> None:
        """Log each trial as a child run of the run: params, mean and fold scores."""
        import math

        folds = [column for column in trials.columns if column.startswith("fold_")]
        for trial in trials.to_dict("records"):
            with run.child(f"trial-{trial['trial']}") as child:
                child.log_params(trial["params"])
                child.set_tags({"state": trial["state"]})
                scores = {
                    f"{self.metric.name}_{fold}": trial[fold]
                    for fold in folds
                    if not math.isnan(trial[fold])
                }
                if not math.isnan(trial["score"]):
                    scores[self.metric.name] = trial["score"]
                child.log_metrics(scores)
