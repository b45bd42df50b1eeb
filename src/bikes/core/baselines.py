"""Baselines that a model must beat: forecasts from the past counts alone, without fitting."""

from __future__ import annotations

import typing as T

if T.TYPE_CHECKING:
    import pandas as pd

WEEK = 168  # hours


def seasonal_naive(
    history: pd.DataFrame, targets: pd.DataFrame, inputs: pd.DataFrame, period: int = WEEK
) -> pd.DataFrame:
    """Forecast each hour by the count of the same hour one period earlier, known in `history`.

    Only the history is known when forecasting: an hour more than one period after its end takes
    the same hour of the last period that the history holds (the last week, repeated), and an
    hour that the history misses takes the count one period before it. A phase of the period that
    the history never saw takes the history's mean count.

    Args:
        history: inputs of the hours known at the origin of the forecast (`dteday` and `hr`).
        targets: counts of the known hours (`cnt`), in the order of `history`.
        inputs: inputs of the hours to forecast.
        period: hours of the season (a week by default).

    Returns:
        The forecasts, in a `prediction` column indexed like the inputs.
    """
    import pandas as pd

    from bikes.core.schemas import TARGET, hours

    known = pd.DataFrame(
        {"hour": hours(history).to_numpy(), "count": targets[TARGET].to_numpy(dtype="float64")}
    ).sort_values("hour", kind="stable")
    last = known.groupby(phases(known["hour"], period))["count"].last()
    predictions = phases(hours(inputs), period).map(last).fillna(known["count"].mean())
    return pd.DataFrame({"prediction": predictions.to_numpy(dtype="float64")}, index=inputs.index)


def phases(stamps: pd.Series[T.Any], period: int) -> pd.Series[T.Any]:
    """Return the phase of each hour in a period of hours, counted from 1970-01-01 00:00."""
    import pandas as pd

    elapsed = (stamps - pd.Timestamp(0)) // pd.Timedelta(hours=1)
    return T.cast("pd.Series[T.Any]", elapsed % period)
