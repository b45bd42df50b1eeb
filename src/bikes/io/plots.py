"""Figures of the jobs: predictions against actual counts, residuals, SHAP values, importances.

Every figure is drawn by matplotlib's Agg backend on its own canvas: no display, no global pyplot
state, safe in any thread. Counts are in rentals an hour (or a day, said so); the figures of an
evaluation carry its scores.
"""

from __future__ import annotations

import typing as T

if T.TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from sklearn.pipeline import Pipeline

    from bikes.core.schemas import Series


def figure(width: float = 10.0, height: float = 5.0) -> Figure:
    """Return a figure drawn by the Agg backend (no display, no global pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    result = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(result)
    return result


def png(figure: Figure) -> bytes:
    """Return a figure as a PNG image, drawn once for both the run's artifacts and the report."""
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96, pil_kwargs={"compress_level": 3})
    return buffer.getvalue()


INTERVAL_DAYS = 14  # the last days of the hourly plot of the intervals


def over_time(
    inputs: pd.DataFrame,
    actual: Series,
    predicted: Series,
    lower: Series | None = None,
    upper: Series | None = None,
) -> Figure:
    """Plot the daily totals of actual and predicted rentals (hours are unreadable over months).

    With bounds, a second panel shades the interval of each hour over the last 14 days: a sum
    of hourly bounds is no interval of a daily total, so the daily panel has none.
    """
    import pandas as pd

    from bikes.core.schemas import hours

    columns = {"actual": actual, "predicted": predicted, "lower": lower, "upper": upper}
    hourly = pd.DataFrame(
        {name: values.to_numpy() for name, values in columns.items() if values is not None},
        index=pd.DatetimeIndex(hours(inputs).to_numpy()),
    )
    daily = hourly[["actual", "predicted"]].resample("D").sum()
    result = figure(10.0, 5.0 if lower is None else 9.0)
    axes = result.subplots(1 if lower is None else 2, 1, squeeze=False)[:, 0]
    axes[0].plot(daily.index, daily["actual"], label="actual", linewidth=1.2)
    axes[0].plot(daily.index, daily["predicted"], label="predicted", linewidth=1.2)
    axes[0].set(title="Rentals a day: actual and predicted", xlabel="day", ylabel="rentals a day")
    gap = float((daily["predicted"] - daily["actual"]).abs().mean())
    annotate(axes[0], f"{len(daily)} days\nmean daily gap {gap:,.0f} rentals")
    axes[0].legend(loc="upper right")
    if lower is not None and upper is not None:
        last = hourly.loc[hourly.index >= hourly.index.max() - pd.Timedelta(days=INTERVAL_DAYS)]
        interval(axes[1], last)
    return result


def interval(axes: T.Any, hourly: pd.DataFrame) -> None:
    """Plot hourly actual and predicted rentals, the prediction interval shaded."""
    axes.fill_between(
        hourly.index, hourly["lower"], hourly["upper"], alpha=0.3, step="mid", label="interval"
    )
    axes.plot(hourly.index, hourly["predicted"], label="predicted", linewidth=1)
    axes.plot(hourly.index, hourly["actual"], ".", markersize=3, label="actual", color="black")
    axes.set(
        title="Rentals an hour, with the prediction interval (last days)",
        xlabel="hour",
        ylabel="rentals an hour",
    )
    axes.legend()


def annotate(axes: Axes, text: str) -> None:
    """Write a note in the upper left corner of a plot, in a box."""
    box = {"boxstyle": "round", "facecolor": "white", "alpha": 0.85}
    axes.text(0.03, 0.97, text, transform=axes.transAxes, va="top", fontsize=10, bbox=box)


def scores_note(actual: Series, predicted: Series) -> str:
    """Return the RMSE, MAE and R2 of predictions, with their units, for a plot."""
    import numpy as np

    errors = (actual.to_numpy() - predicted.to_numpy()).astype(float)
    rmse, mae = float(np.sqrt(np.mean(errors**2))), float(np.mean(np.abs(errors)))
    spread = float(np.sum((actual.to_numpy() - actual.mean()) ** 2))
    r2 = 1 - float(np.sum(errors**2)) / spread if spread else float("nan")
    return f"RMSE {rmse:.1f} rentals an hour\nMAE {mae:.1f} rentals an hour\nR² {r2:.3f}"


def against_actual(actual: Series, predicted: Series) -> Figure:
    """Plot the predicted against the actual rentals of each hour, with the scores."""
    result = figure(6.0, 6.0)
    axes = result.subplots()
    axes.scatter(actual, predicted, s=4, alpha=0.3, label=f"{len(actual):,} hours")
    top = float(max(actual.max(), predicted.max()))
    axes.plot([0, top], [0, top], color="black", linewidth=1, label="perfect forecast")
    axes.set(
        title="Predicted against actual rentals, an hour",
        xlabel="actual rentals an hour",
        ylabel="predicted rentals an hour",
    )
    annotate(axes, scores_note(actual, predicted))
    axes.legend(loc="lower right")
    return result


def residuals(actual: Series, predicted: Series) -> Figure:
    """Plot the distribution of the residuals, and the residuals against the predictions."""
    errors = actual - predicted
    result = figure(12.0, 5.0)
    left, right = result.subplots(1, 2)
    left.hist(errors, bins=60)
    left.axvline(0, color="black", linewidth=1)
    left.set(
        title="Residuals: actual - predicted rentals an hour",
        xlabel="residual (rentals an hour; > 0: the forecast was too low)",
        ylabel="hours",
    )
    bias, spread = float(errors.mean()), float(errors.std())
    annotate(left, f"mean {bias:+.1f} rentals an hour\nstandard deviation {spread:.1f}")
    right.scatter(predicted, errors, s=4, alpha=0.3)
    right.axhline(0, color="black", linewidth=1)
    right.set(
        title="Residuals against predictions",
        xlabel="predicted rentals an hour",
        ylabel="residual (rentals an hour)",
    )
    busy = predicted >= predicted.quantile(0.75)
    quiet, loud = float(errors[~busy].abs().mean()), float(errors[busy].abs().mean())
    annotate(right, f"mean absolute residual\nbusiest quarter {loud:.1f}\nother hours {quiet:.1f}")
    return result


def evaluation(
    inputs: pd.DataFrame,
    actual: Series,
    predicted: Series,
    lower: Series | None = None,
    upper: Series | None = None,
) -> dict[str, Figure]:
    """Return the figures of an evaluation by name: over time (with the intervals), residuals..."""
    return {
        "predictions_over_time": over_time(inputs, actual, predicted, lower, upper),
        "predicted_vs_actual": against_actual(actual, predicted),
        "residuals": residuals(actual, predicted),
    }


def feature_values(pipeline: Pipeline, inputs: pd.DataFrame) -> pd.DataFrame:
    """Return the features that the pipeline's last step sees (the values that SHAP explains)."""
    import pandas as pd

    features = pipeline[:-1].transform(inputs)
    if hasattr(features, "toarray"):  # a sparse matrix (one-hot encodings)
        features = features.toarray()
    names = list(pipeline[:-1].get_feature_names_out())
    return pd.DataFrame(features, columns=names, index=inputs.index)


def shap_summary(
    shap_values: pd.DataFrame, features: pd.DataFrame, unit: str = "the model's target"
) -> Figure:
    """Plot the SHAP values of each feature, colored by the feature's value (a beeswarm).

    `unit` names the unit of the values (e.g. `√(rentals an hour)`: the model's target).
    """
    import shap

    result = figure(9.0, 0.45 * shap_values.shape[1] + 1.5)
    axes = result.subplots()
    explanation = shap.Explanation(
        values=shap_values.to_numpy(),
        data=features[shap_values.columns].to_numpy(dtype=float),
        feature_names=list(shap_values.columns),
    )
    shap.plots.beeswarm(
        explanation, max_display=shap_values.shape[1], ax=axes, show=False, plot_size=None
    )
    axes.set_title(f"SHAP values of {len(shap_values):,} hours, in {unit}")
    axes.set_xlabel(f"SHAP value: what the feature adds to the forecast, in {unit}")
    return result


def importances(ranking: pd.DataFrame, unit: str = "the model's target") -> Figure:
    """Plot the features by their mean absolute SHAP value, in `unit`."""
    result = figure(8.0, 0.35 * len(ranking) + 1.5)
    axes = result.subplots()
    ranked = ranking.iloc[::-1]
    bars = axes.barh(ranked["feature"], ranked["importance"])
    axes.bar_label(bars, fmt="%.3g", padding=3, fontsize=8)
    axes.set(
        title="Feature importances: how much each feature moves the forecast",
        xlabel=f"mean |SHAP value|, in {unit}",
    )
    return result
