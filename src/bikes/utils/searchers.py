"""Search the hyperparameters of a model over time-series folds: a grid or Optuna (TPE).

Both searchers score each candidate on the folds of a `Splitter` (never shuffled), report one row
a trial (params, mean score, fold scores) and return the best score and params. Scores keep the
metric's natural sign (an RMSE is positive): the best is the lowest error or the highest score.
The Optuna searcher keeps the model's own params unless a trial beats them beyond the folds' noise.
"""

from __future__ import annotations

import abc
import math
import time
import typing as T

import pydantic as pdt

from bikes.core.errors import DataError

if T.TYPE_CHECKING:
    import optuna
    import pandas as pd

    from bikes.core.metrics import Metric
    from bikes.core.models import Model, Params
    from bikes.utils.splitters import Splitter, TrainTest

Value: T.TypeAlias = bool | int | float | str | None
Best: T.TypeAlias = "tuple[int, float, Params]"
Search: T.TypeAlias = "tuple[pd.DataFrame, int, float, Params]"

COMPLETE = "COMPLETE"
PRUNED = "PRUNED"


class Searcher(abc.ABC, pdt.BaseModel, strict=True, frozen=True, extra="forbid"):
    """Find the hyperparameters of a model that score best over cross-validation folds."""

    KIND: str

    @abc.abstractmethod
    def search(
        self,
        model: Model,
        metric: Metric,
        inputs: pd.DataFrame,
        targets: pd.DataFrame,
        cv: Splitter,
    ) -> Search:
        """Search the best params of the model.

        Returns:
            the trials (one row a trial: `trial`, `state`, `params`, mean `score`, `fold_<k>`
            scores), then the number, mean score and params of the best trial (or of the one
            kept).
        """

    @abc.abstractmethod
    def samples(self) -> dict[str, list[T.Any]]:
        """Return values of each searched param that bound what the search may try."""


def with_params(model: Model, params: Params) -> Model:
    """Return a new, unfitted model: a copy of `model` with `params` set (and validated)."""
    return type(model).model_validate(model.get_params() | params)


def fold_score(
    model: Model,
    metric: Metric,
    inputs: pd.DataFrame,
    targets: pd.DataFrame,
    fold: TrainTest,
) -> float:
    """Fit the model on the train rows of a fold and score it on its test rows."""
    from bikes.core.schemas import TARGET

    train, test = fold
    model.fit(inputs.iloc[train], targets.iloc[train])
    predictions = model.predict(inputs.iloc[test])
    return metric.score(targets.iloc[test][TARGET], predictions["prediction"])


def folds(cv: Splitter, inputs: pd.DataFrame) -> list[TrainTest]:
    """Return the (train, test) positions of each fold, as one clear error if there are none."""
    try:
        splits = list(cv.split(inputs))
    except ValueError as error:
        raise DataError(f"cannot split {len(inputs)} rows into {cv.KIND} folds: {error}") from None
    return splits


def trial_row(trial: int, state: str, params: Params, scores: list[float], n_folds: int) -> Params:
    """Return one row of the trials frame: params, mean score and the score of each fold."""
    score = sum(scores) / len(scores) if state == COMPLETE else math.nan
    row: Params = {"trial": trial, "state": state, "params": params, "score": score}
    for number in range(n_folds):
        row[f"fold_{number + 1}"] = scores[number] if number < len(scores) else math.nan
    return row


def best_of(
    results: pd.DataFrame, metric: Metric, keep: int | None = None, within: float = 0.0
) -> Best:
    """Return the number, mean score and params of the best complete trial.

    Args:
        results: the trials (one row a trial, as `Searcher.search` returns them).
        metric: the metric of the scores (its sign tells which is best).
        keep: trial to keep unless the best one beats it significantly (none when None).
        within: standard errors of the fold-by-fold differences within which the best trial's
            gain over `keep` is noise, so `keep` stays (1: a paired one-standard-error rule).
    """
    rows = T.cast("list[Params]", results.to_dict("records"))
    complete = {row["trial"]: row for row in rows if row["state"] == COMPLETE}
    if not complete:
        raise DataError("the search completed no trial: raise its budget (n_trials, timeout)")
    pick = max if metric.greater_is_better else min
    best = pick(complete, key=lambda trial: complete[trial]["score"])
    if keep in complete and best != keep:
        gain, error = paired_gain(complete[best], complete[keep], metric)
        if gain <= within * error:
            from loguru import logger

            logger.info(
                "Trial {} beats trial {} by {:.4f} {}, within {} standard error(s) ({:.4f}) of"
                " their fold differences: keeping trial {}",
                best,
                keep,
                gain,
                metric.name,
                within,
                error,
                keep,
            )
            best = keep
    return int(best), float(complete[best]["score"]), dict(complete[best]["params"])


def paired_gain(trial: Params, other: Params, metric: Metric) -> tuple[float, float]:
    """Return the mean gain of a trial row over another, fold by fold, and its standard error."""
    import statistics

    gains = [trial[name] - other[name] for name in trial if name.startswith("fold_")]
    if not metric.greater_is_better:
        gains = [-gain for gain in gains]
    error = statistics.stdev(gains) / math.sqrt(len(gains)) if len(gains) > 1 else 0.0
    return statistics.fmean(gains), error


def default_grid() -> dict[str, list[Value | list[str]]]:
    """Return the default grid of the gradient boosting model: 4 trials."""
    return {"learning_rate": [0.05, 0.1], "max_leaf_nodes": [15, 31]}


class GridCVSearcher(Searcher):
    """Try every combination of a grid of params on each fold, in parallel processes.

    Attributes:
        param_grid: values to try for each param (every combination is a trial).
        n_jobs: parallel (trial, fold) fits, in processes of one thread each: -1 for all cores.
        verbose: verbosity of joblib's progress messages (0 for none).
    """

    KIND: T.Literal["GridCVSearcher"] = "GridCVSearcher"
    param_grid: dict[str, list[Value | list[str]]] = pdt.Field(
        default_factory=default_grid, min_length=1
    )
    n_jobs: int | None = -1
    verbose: int = pdt.Field(default=1, ge=0)

    @pdt.field_validator("param_grid")
    @classmethod
    def not_empty(cls, param_grid: dict[str, list[T.Any]]) -> dict[str, list[T.Any]]:
        """Check that each param has at least one value to try."""
        for name, values in param_grid.items():
            if not values:
                raise ValueError(f"param {name!r} has no value to try")
        return param_grid

    @T.override
    def samples(self) -> dict[str, list[T.Any]]:
        return dict(self.param_grid)

    @T.override
    def search(
        self,
        model: Model,
        metric: Metric,
        inputs: pd.DataFrame,
        targets: pd.DataFrame,
        cv: Splitter,
    ) -> Search:
        import joblib
        import pandas as pd
        from loguru import logger
        from sklearn.model_selection import ParameterGrid

        splits = folds(cv, inputs)
        candidates: list[Params] = list(ParameterGrid(self.param_grid))
        logger.info("Grid search: {} trials x {} folds", len(candidates), len(splits))
        tasks = (
            joblib.delayed(fold_score)(with_params(model, params), metric, inputs, targets, fold)
            for params in candidates
            for fold in splits
        )
        parallel = joblib.Parallel(n_jobs=self.n_jobs, verbose=self.verbose, return_as="generator")
        scores = iter(parallel(tasks))
        rows = []
        for trial, params in enumerate(candidates):
            trial_scores = [next(scores) for _ in splits]
            row = trial_row(trial, COMPLETE, params, trial_scores, len(splits))
            logger.info(
                "Trial {}/{}: {} = {:.4f} {}",
                trial + 1,
                len(candidates),
                metric.name,
                row["score"],
                params,
            )
            rows.append(row)
        results = pd.DataFrame(rows)
        return results, *best_of(results, metric)


class Distribution(abc.ABC, pdt.BaseModel, strict=True, frozen=True, extra="forbid"):
    """Values of a param that Optuna samples from."""

    type: str

    @abc.abstractmethod
    def suggest(self, trial: optuna.Trial, name: str) -> T.Any:
        """Sample a value of the param for a trial."""

    @abc.abstractmethod
    def bounds(self) -> list[T.Any]:
        """Return the extreme values (or the choices) of the distribution."""

    def contains(self, value: T.Any) -> bool:
        """Tell whether the distribution may sample the value."""
        bounds = self.bounds()
        return isinstance(value, int | float) and bounds[0] <= value <= bounds[1]


class FloatDistribution(Distribution):
    """Floats between `low` and `high` (on a log scale if `log`, by `step` if given)."""

    type: T.Literal["float"] = "float"
    low: float
    high: float
    log: bool = False
    step: float | None = pdt.Field(default=None, gt=0)

    @pdt.model_validator(mode="after")
    def ordered(self) -> T.Self:
        """Check that the bounds are ordered (and positive on a log scale)."""
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) is greater than high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError(f"low ({self.low}) must be positive on a log scale")
        if self.log and self.step is not None:
            raise ValueError("step cannot be used on a log scale")
        return self

    @T.override
    def suggest(self, trial: optuna.Trial, name: str) -> T.Any:
        return trial.suggest_float(name, self.low, self.high, log=self.log, step=self.step)

    @T.override
    def bounds(self) -> list[T.Any]:
        return [self.low, self.high]


class IntDistribution(Distribution):
    """Integers between `low` and `high` (on a log scale if `log`), by `step`."""

    type: T.Literal["int"] = "int"
    low: int
    high: int
    log: bool = False
    step: int = pdt.Field(default=1, gt=0)

    @pdt.model_validator(mode="after")
    def ordered(self) -> T.Self:
        """Check that the bounds are ordered (and positive on a log scale)."""
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) is greater than high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError(f"low ({self.low}) must be positive on a log scale")
        return self

    @T.override
    def suggest(self, trial: optuna.Trial, name: str) -> T.Any:
        return trial.suggest_int(name, self.low, self.high, log=self.log, step=self.step)

    @T.override
    def bounds(self) -> list[T.Any]:
        return [self.low, self.high]


class CategoricalDistribution(Distribution):
    """One of a list of choices."""

    type: T.Literal["categorical"] = "categorical"
    choices: list[Value] = pdt.Field(min_length=1)

    @T.override
    def suggest(self, trial: optuna.Trial, name: str) -> T.Any:
        return trial.suggest_categorical(name, self.choices)

    @T.override
    def bounds(self) -> list[T.Any]:
        return list(self.choices)

    @T.override
    def contains(self, value: T.Any) -> bool:
        return value in self.choices


DistributionKind = T.Annotated[
    FloatDistribution | IntDistribution | CategoricalDistribution,
    pdt.Field(discriminator="type"),
]


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
    ) -> Search:
        import joblib
        import optuna
        import pandas as pd
        from loguru import logger

        splits = folds(cv, inputs)
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # one log line a trial, below
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
            defaults = model.get_params()
            study.enqueue_trial(
                {
                    name: defaults[name]
                    for name, space in self.space.items()
                    if name in defaults and space.contains(defaults[name])
                }
            )
        rows: list[Params] = []
        start = time.perf_counter()
        workers = joblib.effective_n_jobs(self.n_jobs)

        def objective(trial: optuna.Trial) -> float:
            params = {name: space.suggest(trial, name) for name, space in self.space.items()}
            candidate = with_params(model, params)
            scores: list[float] = []
            state = COMPLETE
            # score the folds in batches of parallel fits, reporting each fold to the pruner
            for first in range(0, len(splits), workers):
                batch = splits[first : first + workers]
                scores += parallel(
                    joblib.delayed(fold_score)(candidate, metric, inputs, targets, fold)
                    for fold in batch
                )
                for step in range(first, len(scores)):
                    trial.report(scores[step], step=step)
                if len(scores) < len(splits) and trial.should_prune():
                    state = PRUNED
                    break
            row = trial_row(trial.number, state, params, scores, len(splits))
            rows.append(row)
            logger.info(
                "Trial {} {} after {:.1f}s: {} = {:.4f} (folds {}) {}",
                trial.number,
                state.lower(),
                time.perf_counter() - start,
                metric.name,
                row["score"] if state == COMPLETE else scores[-1],
                [round(score, 4) for score in scores],
                params,
            )
            if state == PRUNED:
                raise optuna.TrialPruned()
            return T.cast(float, row["score"])

        logger.info(
            "Optuna search: {} trials or {}s, {} folds on {} cores",
            self.n_trials,
            self.timeout,
            len(splits),
            workers,
        )
        with joblib.Parallel(n_jobs=self.n_jobs) as parallel:
            study.optimize(
                objective,
                n_trials=self.n_trials,
                timeout=self.timeout,
                show_progress_bar=self.show_progress_bar,
            )
        results = pd.DataFrame(rows).sort_values("trial", ignore_index=True)
        keep = 0 if self.start_with_model and self.keep_model_within is not None else None
        return results, *best_of(results, metric, keep, self.keep_model_within or 0.0)


SearcherKind = GridCVSearcher | OptunaSearcher
