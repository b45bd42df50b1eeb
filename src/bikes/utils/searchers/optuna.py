"""Optuna search: TPE samples the params, the median pruner stops trials whose first folds lag.

The search starts with the model's own params (a trial to beat), and keeps them unless a trial beats
them beyond the folds' noise (`selection.best_of`). The folds of a trial are fitted in parallel
processes, in batches; each fold's score is reported to the pruner as the trial goes. Trials may
run in several worker processes that share the study through a storage (`studies`).
"""

from __future__ import annotations

import dataclasses
import os
import time
import typing as T

import pydantic as pdt

from bikes.utils.searchers import studies
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
        storage: where the study lives: None in memory; `journal:<path>` a journal file (worker
            processes of one machine, or of machines sharing the folder); a database URL, e.g.
            `postgresql://user@host/optuna` (workers anywhere: use a database of its own, not
            MLflow's). A study in a storage resumes: run again, it goes on from its finished
            trials until it has `n_trials`, and other jobs with the same storage and
            `study_name` join it (on other machines too).
        study_name: name of the study in the storage (a new name starts a new study; a study
            searched on other data or params is refused).
        n_workers: processes that run trials at once on this machine (needs a storage), each
            with `n_jobs` fold fits: e.g. 2 workers of `n_jobs: 1` on 2 cores. TPE is then no
            longer reproducible (each worker has its own seed: `seed` + its index).
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
    storage: T.Annotated[str, pdt.AfterValidator(studies.check_storage)] | None = None
    study_name: str = pdt.Field(default="bikes-tuning", min_length=1)
    n_workers: int = pdt.Field(default=1, gt=0)

    @pdt.model_validator(mode="after")
    def bounded(self) -> T.Self:
        """Check that the search has a budget (trials or a timeout) and some threads."""
        if self.n_trials is None and self.timeout is None:
            raise ValueError("set n_trials or timeout: the search would never end")
        if self.n_jobs == 0:
            raise ValueError("n_jobs must be -1 (all cores) or a positive number of processes")
        if self.n_workers > 1 and self.storage is None:
            raise ValueError(
                "n_workers > 1 needs a storage that the workers share"
                " (e.g. storage: journal:outputs/tuning/study.log)"
            )
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
        from loguru import logger

        splits = folds(cv, inputs)
        study = self.study(model, metric, inputs, targets, splits)
        done = studies.finished(study)
        left = None if self.n_trials is None else max(self.n_trials - done, 0)
        logger.info(
            "Optuna search: {} trials ({} finished) or {}s, {} folds, {} worker(s) of {} cores",
            self.n_trials,
            done,
            self.timeout,
            len(splits),
            self.n_workers,
            joblib.effective_n_jobs(self.n_jobs),
        )
        task = Task(model=model, metric=metric, inputs=inputs, targets=targets, splits=splits)
        shares = studies.shares(left, self.n_workers)
        if self.n_workers == 1:  # in this process, with the study at hand (in memory, maybe)
            self.optimize(study, task, shares[0])
        else:  # workers reused by joblib may work in another folder: give them absolute paths
            searcher = self.model_copy(update={"storage": studies.absolute(self.storage)})
            with joblib.Parallel(n_jobs=self.n_workers, backend="loky") as parallel:
                parallel(
                    joblib.delayed(run_trials)(searcher, task, worker, share, os.getpid())
                    for worker, share in enumerate(shares)
                )
        trials = studies.trial_rows(study, len(splits))
        keep = 0 if self.start_with_model and self.keep_model_within is not None else None
        return best_of(trials, metric, keep, self.keep_model_within or 0.0)

    def study(
        self,
        model: Model,
        metric: Metric,
        inputs: pd.DataFrame,
        targets: pd.DataFrame,
        splits: list[TrainTest],
    ) -> optuna.Study:
        """Create the study or load it from its storage, failing the trials of dead processes.

        A new study's first trial has the model's params, if asked. A stored study must search
        the same params of the same model, on the same data and folds (its fingerprint).
        """
        from loguru import logger

        study = self.load(metric, worker=0)
        if self.storage is not None:
            searched = {
                "model": model.model_dump(),
                "metric": metric.model_dump(),
                "space": {name: space.model_dump() for name, space in self.space.items()},
                "splits": [[train.tolist(), test.tolist()] for train, test in splits],
                "start_with_model": self.start_with_model,
            }
            digest = studies.fingerprint(searched, inputs, targets)
            studies.check_fingerprint(study, digest, self.storage)
            if dead := studies.fail_dead_trials(study):
                logger.warning("Trials {} of processes that died are marked failed", dead)
            logger.info("Study {!r} in {}", self.study_name, studies.masked(self.storage))
        if self.start_with_model and not study.trials:
            study.enqueue_trial(model_params(model, self.space))
        return study

    def load(self, metric: Metric, worker: int) -> optuna.Study:
        """Create or load the study, with a pruner and a TPE sampler seeded for the worker.

        The seed is `seed` + the worker's index + the trials the study already has: a resumed
        study, or another worker, does not sample the same params again.
        """
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
            storage=studies.open_storage(self.storage),
            study_name=self.study_name if self.storage else None,
            direction="maximize" if metric.greater_is_better else "minimize",
            pruner=pruner,
            load_if_exists=True,
        )
        offset = worker + len(study.get_trials(deepcopy=False))
        study.sampler = optuna.samplers.TPESampler(
            seed=None if self.seed is None else self.seed + offset,
            n_startup_trials=self.startup_trials,
            constant_liar=self.storage is not None,  # trials of other workers may be running
        )
        return study

    def optimize(
        self, study: optuna.Study, task: Task, n_trials: int | None, parent: int | None = None
    ) -> None:
        """Run trials of the study in this process: `n_trials`, or until the timeout.

        Stops early once the study has `n_trials` finished trials (other workers ran some), or
        once `parent`, the process that started this one, died.
        """
        import joblib
        import optuna

        if n_trials == 0:
            return
        states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        callbacks: list[T.Callable[[optuna.Study, optuna.trial.FrozenTrial], None]] = []
        if self.n_trials is not None:
            callbacks.append(optuna.study.MaxTrialsCallback(self.n_trials, states=states))
        if parent is not None:
            callbacks.append(StopWithParent(parent))
        with joblib.Parallel(n_jobs=self.n_jobs) as parallel:
            objective = Objective(
                space=self.space,
                model=task.model,
                metric=task.metric,
                inputs=task.inputs,
                targets=task.targets,
                splits=task.splits,
                parallel=parallel,
                workers=joblib.effective_n_jobs(self.n_jobs),
            )
            study.optimize(
                objective,
                n_trials=n_trials,
                timeout=self.timeout,
                callbacks=callbacks,
                show_progress_bar=self.show_progress_bar,
            )


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class Task:
    """What the trials of a search score: params of a model, by a metric, over folds of data."""

    model: Model
    metric: Metric
    inputs: pd.DataFrame
    targets: pd.DataFrame
    splits: list[TrainTest]


def run_trials(
    searcher: OptunaSearcher, task: Task, worker: int, n_trials: int | None, parent: int
) -> None:
    """Run trials of the searcher's study in a worker process (its sampler seeded by `worker`)."""
    study = searcher.load(task.metric, worker)
    searcher.optimize(study, task, n_trials, parent)


@dataclasses.dataclass(frozen=True)
class StopWithParent:
    """Stop the trials of a worker, after the current one, once the process that started it died."""

    parent: int

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        """Stop the study in this process if its parent process is gone."""
        if os.getppid() != self.parent:
            study.stop()


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
    """What a study optimizes: the mean fold score of a trial's params (its folds reported).

    Attributes:
        space: distribution of each searched param.
        model: model whose other params the trials keep.
        metric: metric of the fold scores.
        inputs: inputs of every fold.
        targets: targets of every fold.
        splits: (train, test) positions of each fold.
        parallel: processes that fit the folds of a trial.
        workers: folds fitted at once (a batch), before the pruner is asked.
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
    start: float = dataclasses.field(default_factory=time.perf_counter)

    def __call__(self, trial: optuna.Trial) -> float:
        """Return the mean score of the trial's params, or raise `TrialPruned` after some folds."""
        import optuna
        from loguru import logger

        trial.set_user_attr(studies.WORKER_ATTR, studies.worker())  # found if the process dies
        params = {name: space.suggest(trial, name) for name, space in self.space.items()}
        scores = self.scores(trial, with_params(self.model, params))
        state = COMPLETE if len(scores) == len(self.splits) else PRUNED
        row = trial_row(trial.number, state, params, scores, len(self.splits))
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
