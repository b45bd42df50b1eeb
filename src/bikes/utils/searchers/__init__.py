"""Search the hyperparameters of a model over time-series folds: a grid or Optuna (TPE).

Both searchers score each candidate on the folds of a `Splitter` (never shuffled), record one row
a trial (params, mean score, fold scores) and return a `SearchResult`: the trials and the trial
kept. Scores keep the metric's natural sign (an RMSE is positive): the best is the lowest error or
the highest score. The Optuna searcher keeps the model's own params unless a trial beats them
beyond the folds' noise.

Modules: `base` (the interface and the result), `trials` (fit, score and record a candidate on
each fold), `selection` (the trial kept: a paired one-standard-error rule), `grid`, `optuna`,
`distributions` (Optuna's search space in configs) and `studies` (an Optuna study shared by worker
processes through a journal file or a database, and resumed).
"""

from bikes.utils.searchers import studies
from bikes.utils.searchers.base import Searcher, SearchResult
from bikes.utils.searchers.distributions import (
    CategoricalDistribution,
    Distribution,
    DistributionKind,
    FloatDistribution,
    IntDistribution,
)
from bikes.utils.searchers.grid import GridCVSearcher
from bikes.utils.searchers.optuna import OptunaSearcher
from bikes.utils.searchers.trials import COMPLETE, PRUNED, with_params

SearcherKind = GridCVSearcher | OptunaSearcher

__all__ = [
    "COMPLETE",
    "PRUNED",
    "CategoricalDistribution",
    "Distribution",
    "DistributionKind",
    "FloatDistribution",
    "GridCVSearcher",
    "IntDistribution",
    "OptunaSearcher",
    "SearchResult",
    "Searcher",
    "SearcherKind",
    "base",
    "distributions",
    "grid",
    "optuna",
    "selection",
    "studies",
    "trials",
    "with_params",
]
