"""Optuna search: TPE samples the params, the median pruner stops trials whose first folds lag.

The search starts with the model's own params (a trial to beat), and keeps them unless a trial beats
them beyond the folds' noise (`selection.best_of`). The folds of a trial are fitted in parallel
processes, in batches; each fold's score is reported to the pruner as the trial goes.
"""

from __future__ import annotations

import dataclasses
import time
import typing as T

import pydantic as pdt

from bikes.utils.searchers.base import Searcher, SearchResult
from bikes.utils.searchers.distributions import (
    DistributionKind,
    FloatDistribution,
    IntDistribution,
)
from bikes.utils.searchers.selection import best_of
from bikes.utils.searchers.trials import COMPLETE, PRUNED, fold_score, folds, trial_row, with_params

if T.TYPE_CHECKING:
    import joblib
    import optuna
    import pandas as pd

    from bikes.core.metrics import Metric
    from bikes.core.models import Model, Params
    from bikes.utils.splitters import Splitter, TrainTest


def default_space() -> dict[str, DistributionKind]:
    """Return the default search space of the gradient boosting model.

    The same space as `confs/tuning.yaml`: 40 to 60 trees keep predictions fast (their cost grows
    with the number and the depth of the trees). The target transform stays the model's (`sqrt`:
    never negative counts, even served by stock MLflow); the model's defaults are inside the space,
    so they are tried first.
    """
    return {
        "learning_rate": FloatDistribution(low=0.3, high=0.45),
        "max_iter": IntDistribution(low=40, high=60, step=10),
        "max_leaf_nodes": IntDistribution(low=15, high=31, log=True),
        "min_samples_leaf": IntDistribution(low=10, high=40, log=True),
        "l2_regularization": FloatDistribution(low=0.0, high=2.0),
    }


class OptunaSearcher(Searcher):
    """Sample params with Optuna's TPE sampler, pruning trials whose first folds score badly.

    The folds of a trial are fitted in parallel processes, in batches of `n_jobs`. Each fold's score
    is reported as an intermediate value: after each batch, the median pruner stops a trial whose
    folds score worse than the median of the previous trials on the same folds.

    Attributes:
        space: distribution of each searched param, selected by its `type`.
        n_trials: number of trials (no limit when None: then `timeout` must be set).
        timeout: seconds after which no new trial starts (no limit when None).
        seed: seed of the TPE sampler (trials run one after the other: the search is
            reproducible, and each trial learns from all the previous ones).
        startup_trials: random trials before TPE samples from what it learned (few, for small
            budgets).
        n_jobs: parallel fold fits of a trial, in processes: -1 for all cores. Each process
            fits with one thread: OpenMP threads of several fits fighting for the same cores
            (or of other processes) slow a fit down tenfold.
        start_with_model: try the model's own params first (those inside the space; the others
            are sampled).
        keep_model_within: keep the model's own params (the first trial, with `start_with_model`)
            unless the best trial beats them by more than this many standard errors of their
            fold-by-fold score differences (1: a paired one-standard-error rule). A gain within the
            folds' noise is not worth a change, nor the slower predictions of bigger trees. None:
            the best trial always wins.
        pruning: stop unpromising trials after each fold (median pruner).
        pruner_startup_trials: trials completed before any pruning.
        pruner_warmup_steps: folds of a trial before it may be pruned.
        show_progress_bar: show Optuna's progress bar (a log line a trial is always written).
    """

    KIND: T.Literal["OptunaSearcher"] = "OptunaSearcher"
    space: dict[str, DistributionKind] = pdt.Field(default_factory=default_space, min_length=1)
    n_trials: int | None = pdt.Field(default=15, gt=0)
    timeout: float | None = pdt.Field(default=90.0, gt=0)
    seed: int | None = 42
    startup_trials: int = pdt.Field(default=5, ge=1)
    n_jobs: int = pdt.Field(default=-1, ge=-1)
    start_with_model: bool = True
    keep_model_within: float | None = pdt.Field(default=1.0, ge=0)
    pruning: bool = True
    pruner_startup_trials: int = pdt.Field(default=5, ge=0)
    pruner_warmup_steps: int = pdt.Field(default=0, ge=0)
    show_progress_bar: bool = False

    @pdt.model_validator(mode="after")
    def bounded(self) -> T.Self:
        """Check that the search has a budget (trials or a timeout) and some threads."""
        if self.n_trials is None and self.timeout is None:
            raise ValueError("set n_trials or timeout: the search would never end")
        if self.n_jobs == 0:
            raise ValueError("n_jobs must be -1 (all cores) or a positive number of processes")
        return self

    @T.override
    def samples(self) -> dict[str, list[T.Any]]:
        return {name: distribution.bounds() for name, distribution in self.space.items()}

    @T.override
    def search(
        self,
        model: Model,
        metric: Metric,
        inputs: pd.DataFrame,
        targets: pd.DataFrame,
        cv: Splitter,
    ) -> SearchResult:
        import joblib
        import pandas as pd
        from loguru import logger

        splits = folds(cv, inputs)
        study = self.study(model, metric)
        workers = joblib.effective_n_jobs(self.n_jobs)
        logger.info(
            "Optuna search: {} trials or {}s, {} folds on {} cores",
            self.n_trials,
            self.timeout,
            len(splits),
            workers,
        )
        with joblib.Parallel(n_jobs=self.n_jobs) as parallel:
            objective = Objective(
                space=self.space,
                model=model,
                metric=metric,
                inputs=inputs,
                targets=targets,
                splits=splits,
                parallel=parallel,
                workers=workers,
            )
            study.optimize(
                objective,
                n_trials=self.n_trials,
                timeout=self.timeout,
                show_progress_bar=self.show_progress_bar,
            )
        trials = pd.DataFrame(objective.rows).sort_values("trial", ignore_index=True)
        keep = 0 if self.start_with_model and self.keep_model_within is not None else None
        return best_of(trials, metric, keep, self.keep_model_within or 0.0)

    def study(self, model: Model, metric: Metric) -> optuna.Study:
        """Create the study (TPE sampler, pruner), its first trial the model's params if asked."""
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)  # one log line a trial, by Objective
        pruner = (
            optuna.pruners.MedianPruner(
                n_startup_trials=self.pruner_startup_trials,
                n_warmup_steps=self.pruner_warmup_steps,
            )
            if self.pruning
            else optuna.pruners.NopPruner()
        )
        study = optuna.create_study(
            direction="maximize" if metric.greater_is_better else "minimize",
            sampler=optuna.samplers.TPESampler(
                seed=self.seed, n_startup_trials=self.startup_trials
            ),
            pruner=pruner,
        )
        if self.start_with_model:
            study.enqueue_trial(model_params(model, self.space))
        return study


def model_params(model: Model, space: dict[str, DistributionKind]) -> Params:
    """Return the model's own values of the searched params, those the space may sample."""
    defaults = model.get_params()
    return {
        name: defaults[name]
        for name, distribution in space.items()
        if name in defaults and distribution.contains(defaults[name])
    }


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class Objective:
    """What a study optimizes: the mean fold score of a trial's params, each trial kept as a row.

    Attributes:
        space: distribution of each searched param.
        model: model whose other params the trials keep.
        metric: metric of the fold scores.
        inputs: inputs of every fold.
        targets: targets of every fold.
        splits: (train, test) positions of each fold.
        parallel: processes that fit the folds of a trial.
        workers: folds fitted at once (a batch), before the pruner is asked.
        rows: one row a trial (see `trial_row`), in the order they ended.
        start: `time.perf_counter` at the start of the search.
    """

    space: dict[str, DistributionKind]
    model: Model
    metric: Metric
    inputs: pd.DataFrame
    targets: pd.DataFrame
    splits: list[TrainTest]
    parallel: joblib.Parallel
    workers: int
    rows: list[Params] = dataclasses.field(default_factory=list)
    start: float = dataclasses.field(default_factory=time.perf_counter)

    def __call__(self, trial: optuna.Trial) -> float:
        """Return the mean score of the trial's params, or raise `TrialPruned` after some folds."""
        import optuna
        from loguru import logger

        params = {name: space.suggest(trial, name) for name, space in self.space.items()}
        scores = self.scores(trial, with_params(self.model, params))
        state = COMPLETE if len(scores) == len(self.splits) else PRUNED
        row = trial_row(trial.number, state, params, scores, len(self.splits))
        self.rows.append(row)
        logger.info(
            "Trial {} {} after {:.1f}s: {} = {:.4f} (folds {}) {}",
            trial.number,
            state.lower(),
            time.perf_counter() - self.start,
            self.metric.name,
            row["score"] if state == COMPLETE else scores[-1],
            [round(score, 4) for score in scores],
            params,
        )
        if state == PRUNED:
            raise optuna.TrialPruned()
        return T.cast(float, row["score"])

    def scores(self, trial: optuna.Trial, candidate: Model) -> list[float]:
        """Score the folds in parallel batches, reporting each to the pruner, until pruned."""
        import joblib

        scores: list[float] = []
        for first in range(0, len(self.splits), self.workers):
            batch = self.splits[first : first + self.workers]
            scores += self.parallel(
                joblib.delayed(fold_score)(candidate, self.metric, self.inputs, self.targets, fold)
                for fold in batch
            )
            for step in range(first, len(scores)):
                trial.report(scores[step], step=step)
            if len(scores) < len(self.splits) and trial.should_prune():
                break
        return scores
