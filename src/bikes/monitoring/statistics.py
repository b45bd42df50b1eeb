"""Distances between a reference sample and a current one: effect sizes, never p-values.

Each function takes two 1-D samples without missing values. The thresholds of the monitoring job
bound these numbers, so they must not grow with the sample size (as a test statistic's p-value
does): a Wasserstein distance is in the unit of the values, a Jensen-Shannon distance in [0, 1],
a PSI in nats.
"""

from __future__ import annotations

import typing as T

if T.TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Sample: T.TypeAlias = npt.ArrayLike
    Shares: T.TypeAlias = npt.NDArray[np.float64]

# floor of a bin's share in a PSI: an empty bin would make the logarithm infinite
PSI_FLOOR = 1e-4
PSI_BINS = 10


def wasserstein(reference: Sample, current: Sample, scale: float = 1.0) -> float:
    """Return the Wasserstein (earth mover's) distance of two samples, in units of `scale`.

    For a shift of every value by `d`, it is `|d| / scale`: with the reference's standard
    deviation as `scale`, it reads as "the window moved by this many standard deviations".
    """
    from scipy import stats

    return float(stats.wasserstein_distance(reference, current)) / (scale or 1.0)


def kolmogorov_smirnov(reference: Sample, current: Sample) -> float:
    """Return the Kolmogorov-Smirnov statistic: the largest gap of the two CDFs, in [0, 1]."""
    from scipy import stats

    return float(stats.ks_2samp(reference, current).statistic)


def shares(values: Sample, categories: T.Sequence[T.Any]) -> Shares:
    """Return the share of each category among the values (values of other categories ignored)."""
    import numpy as np
    import pandas as pd

    counts = pd.Series(np.asarray(values)).value_counts().reindex(list(categories), fill_value=0)
    total = counts.sum()
    return T.cast("Shares", (counts / total if total else counts).to_numpy(dtype=float))


def jensen_shannon(reference: Shares, current: Shares) -> float:
    """Return the Jensen-Shannon distance (base 2) of two distributions of shares, in [0, 1]."""
    from scipy.spatial.distance import jensenshannon

    return float(jensenshannon(reference, current, base=2))


def psi_of_shares(reference: Shares, current: Shares) -> float:
    """Return the population stability index of two distributions over the same bins."""
    import numpy as np

    expected = np.clip(reference, PSI_FLOOR, None)
    actual = np.clip(current, PSI_FLOOR, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def psi(reference: Sample, current: Sample, bins: int = PSI_BINS) -> float:
    """Return the PSI of a continuous sample over the deciles (by default) of the reference.

    The rule of thumb reads a PSI under 0.1 as stable and over 0.2 as shifted, for independent
    draws: hours of one week are not, so it is logged as a second opinion, not bounded.
    """
    import numpy as np

    base = np.asarray(reference, dtype=float)
    edges = np.unique(np.quantile(base, np.linspace(0, 1, bins + 1)[1:-1]))
    expected = np.bincount(np.searchsorted(edges, base, side="right"), minlength=len(edges) + 1)
    window = np.searchsorted(edges, np.asarray(current, dtype=float), side="right")
    actual = np.bincount(window, minlength=len(edges) + 1)
    return psi_of_shares(expected / max(len(base), 1), actual / max(len(window), 1))
