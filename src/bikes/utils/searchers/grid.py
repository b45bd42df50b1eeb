"""Grid search: every combination of a grid of params, each fold fitted in parallel processes.

Built on scikit-learn's `ParameterGrid` (the combinations) and joblib (the fits), not on
`GridSearchCV`: that one clones the model as a scikit-learn estimator (which a Pydantic model
refuses: its validation copies list params), scores the greater the better (errors negated),
swallows a failing fit as a NaN score by default, and reports its own results frame.
"""

from __future__ import annotations

import typing as T

import pydantic as pdt

from bikes.utils.searchers.base import Searcher, SearchResult, Value
from bikes.utils.searchers.selection import best_of
from bikes.utils.searchers.trials import COMPLETE, fold_score, folds, trial_row, with_params

if T.TYPE_CHECKING:
    import pandas as pd

    from bikes.core.metrics import Metric
    from bikes.core.models import Model, Params
    from bikes.utils.splitters import Splitter


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
    ) -> SearchResult:
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
        return best_of(pd.DataFrame(rows), metric)
