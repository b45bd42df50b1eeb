"""The interface of the searchers, and the result of a search: its trials and the one kept."""

from __future__ import annotations

import abc
import dataclasses
import typing as T

import pydantic as pdt

if T.TYPE_CHECKING:
    import pandas as pd

    from bikes.core.metrics import Metric
    from bikes.core.models import Model, Params
    from bikes.utils.splitters import Splitter

Value: T.TypeAlias = bool | int | float | str | None


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class SearchResult:
    """The trials of a search, and the trial it kept.

    Compare results field by field: a data frame has no single truth value, so `==` is identity.

    Attributes:
        trials: one row a trial, in the order they started: `trial` (number), `state` (`COMPLETE`
            or `PRUNED`), `params` (a mapping), mean `score` (NaN if pruned) and `fold_<k>` scores
            (NaN for the folds a pruned trial skipped).
        best_trial: number of the trial kept: the best complete one, or the model's own params
            when the best beats them only by the folds' noise.
        best_score: mean score of the trial kept, with the metric's natural sign.
        best_params: params of the trial kept (those searched, not the model's others).
    """

    trials: pd.DataFrame
    best_trial: int
    best_score: float
    best_params: Params


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
    ) -> SearchResult:
        """Score params of the model on each fold of `cv`, and return the trials and the best."""

    @abc.abstractmethod
    def samples(self) -> dict[str, list[T.Any]]:
        """Return values of each searched param that bound what the search may try."""
