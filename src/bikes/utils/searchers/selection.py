"""Select the trial a search keeps: the best, unless it beats a kept trial only by noise.

Fold scores are noisy: a trial whose mean beats the model's own params by less than the spread of
their fold-by-fold differences is no real gain, and not worth a change (nor, often, the slower
predictions of bigger trees). `best_of` keeps the given trial then: a paired one-standard-error
rule when `within` is 1.
"""

from __future__ import annotations

import math
import typing as T

from bikes.core.errors import DataError
from bikes.utils.searchers.base import SearchResult
from bikes.utils.searchers.trials import COMPLETE

if T.TYPE_CHECKING:
    import pandas as pd

    from bikes.core.metrics import Metric
    from bikes.core.models import Params


def best_of(
    trials: pd.DataFrame, metric: Metric, keep: int | None = None, within: float = 0.0
) -> SearchResult:
    """Return the trials with the number, mean score and params of the best complete trial.

    Args:
        trials: one row a trial (as `SearchResult.trials`).
        metric: the metric of the scores (its sign tells which is best).
        keep: trial to keep unless the best one beats it significantly (none when None).
        within: standard errors of the fold-by-fold differences within which the best trial's
            gain over `keep` is noise, so `keep` stays (1: a paired one-standard-error rule).
    """
    rows = T.cast("list[Params]", trials.to_dict("records"))
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
    return SearchResult(
        trials=trials,
        best_trial=int(best),
        best_score=float(complete[best]["score"]),
        best_params=dict(complete[best]["params"]),
    )


def paired_gain(trial: Params, other: Params, metric: Metric) -> tuple[float, float]:
    """Return the mean gain of a trial row over another, fold by fold, and its standard error."""
    import statistics

    gains = [trial[name] - other[name] for name in trial if name.startswith("fold_")]
    if not metric.greater_is_better:
        gains = [-gain for gain in gains]
    error = statistics.stdev(gains) / math.sqrt(len(gains)) if len(gains) > 1 else 0.0
    return statistics.fmean(gains), error
