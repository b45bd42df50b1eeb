"""Reports of the monitoring: one self-contained HTML page a window, one JSON summary a run.

The page embeds its figures as base64 PNGs and has no script nor link: it opens anywhere, from
the MLflow UI or from a mail. The figures: the distributions of each monitored column side by side
(reference and window), the drift of each column against its threshold, and the errors over time.
"""

from __future__ import annotations

import base64
import html
import io
import math
import typing as T

from bikes.monitoring import drift, windows

if T.TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from bikes.monitoring.monitor import Observed, WindowResult

COLUMNS_A_ROW = 3
REFERENCE_COLOR, CURRENT_COLOR, ALERT_COLOR = "tab:blue", "tab:orange", "tab:red"
STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.5em; }
.alert { color: #b00; } .ok { color: #070; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
img { max-width: 100%; }
"""


def png(figure: Figure) -> str:
    """Return a figure as the base64 text of a PNG."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def distributions(observed: Observed) -> Figure:
    """Plot each monitored column of the window beside its reference (shares of the values)."""
    from bikes.io import plots

    found = observed.result.drift
    drifts = [*found.columns, *([found.prediction] if found.prediction else [])]
    rows = max(math.ceil(len(drifts) / COLUMNS_A_ROW), 1)
    result = plots.figure(4.0 * COLUMNS_A_ROW, 3.0 * rows)
    axes = result.subplots(rows, COLUMNS_A_ROW, squeeze=False).ravel()
    for axis, column in zip(axes, drifts, strict=False):
        before = observed.reference.get(column.column)
        after = observed.current.get(column.column)
        if before is not None and after is not None:
            side_by_side(axis, before.dropna(), after.dropna(), column.statistic)
        color = ALERT_COLOR if column.drifted else "black"
        score = "n/a" if column.score is None else f"{column.score:.3g}"
        axis.set_title(f"{column.column}: {score} (max {column.threshold:g})", color=color)
    for axis in axes[len(drifts) :]:
        axis.set_visible(False)
    if drifts:
        axes[0].legend(loc="upper right", fontsize="small")
    return result


def side_by_side(axis: T.Any, before: pd.Series[T.Any], after: pd.Series[T.Any], kind: str) -> None:
    """Draw the shares of the reference's and the window's values on one axis."""
    import numpy as np

    if kind in (drift.JENSEN_SHANNON, drift.SEASONAL_SHARES):
        categories = sorted(set(before.unique()) | set(after.unique()))
        places = np.arange(len(categories))
        for offset, values, label, color in [
            (-0.2, before, "reference", REFERENCE_COLOR),
            (0.2, after, "window", CURRENT_COLOR),
        ]:
            shares = values.value_counts(normalize=True).reindex(categories, fill_value=0)
            axis.bar(places + offset, shares, width=0.4, label=label, color=color)
        axis.set_xticks(places, [str(category) for category in categories])
    else:
        both = np.concatenate([before.to_numpy(dtype=float), after.to_numpy(dtype=float)])
        bins = np.histogram_bin_edges(both, bins=30) if len(both) else 10
        for values, label, color in [
            (before, "reference", REFERENCE_COLOR),
            (after, "window", CURRENT_COLOR),
        ]:
            axis.hist(values, bins=bins, density=True, alpha=0.5, label=label, color=color)
    axis.set_ylabel("share")


def drift_bars(result: WindowResult) -> Figure:
    """Plot the score of each column as a multiple of its threshold (over 1: drifted)."""
    from bikes.io import plots

    found = result.drift
    drifts = [*found.columns, *([found.prediction] if found.prediction else [])]
    scored = [column for column in drifts if column.score is not None]
    figure = plots.figure(8.0, 0.4 * len(scored) + 1.5)
    axis = figure.subplots()
    ratios = [T.cast(float, column.score) / column.threshold for column in scored]
    colors = [ALERT_COLOR if column.drifted else REFERENCE_COLOR for column in scored]
    axis.barh([column.column for column in scored][::-1], ratios[::-1], color=colors[::-1])
    axis.axvline(1.0, color="black", linewidth=1)
    axis.set(title="Drift of each column (score / threshold)", xlabel="score / threshold")
    return figure


def over_time(current: pd.DataFrame) -> Figure:
    """Plot the predictions (and the actuals, when known) and their errors, hour by hour."""
    from bikes.io import plots

    columns = [name for name in (drift.PREDICTION, "actual") if name in current]
    hourly = current[columns].groupby(windows.timestamps(current)).sum(min_count=1)
    figure = plots.figure(12.0, 5.0)
    top, bottom = figure.subplots(2, 1, sharex=True)
    top.plot(hourly.index, hourly[drift.PREDICTION], label="predicted", linewidth=1)
    if "actual" in hourly and hourly["actual"].notna().any():
        top.plot(hourly.index, hourly["actual"], label="actual", linewidth=1)
        bottom.plot(hourly.index, hourly[drift.PREDICTION] - hourly["actual"], linewidth=1)
        bottom.axhline(0, color="black", linewidth=1)
    else:
        bottom.text(0.5, 0.5, "no actuals yet", ha="center", transform=bottom.transAxes)
    top.set(title="Rentals an hour: predicted and actual", ylabel="rentals an hour")
    top.legend()
    bottom.set(title="Error (predicted - actual)", xlabel="hour", ylabel="rentals an hour")
    return figure


def figures(observed: Observed) -> dict[str, str]:
    """Return the figures of a window as base64 PNGs, by title."""
    return {
        "Distributions: reference and window": png(distributions(observed)),
        "Drift of each column": png(drift_bars(observed.result)),
        "Errors over time": png(over_time(observed.current)),
    }


def table(header: T.Sequence[str], rows: T.Iterable[T.Sequence[object]]) -> str:
    """Return an HTML table (values escaped; floats with 4 significant digits)."""

    def cell(value: object) -> str:
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        return html.escape("" if value is None else text)

    head = "".join(f"<th>{html.escape(name)}</th>" for name in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def yes(flag: bool) -> str:
    """Return `yes` for a true flag, nothing for a false one."""
    return "yes" if flag else ""


def sections(result: WindowResult) -> list[str]:
    """Return the HTML tables of a window: drift, quality and performance."""
    found, checked = result.drift, result.quality
    drifts = [*found.columns, *([found.prediction] if found.prediction else [])]
    parts = [
        "<h2>Drift</h2>",
        f"<p>Drifted columns: <b>{html.escape(', '.join(found.drifted) or 'none')}</b>"
        f" ({found.share:.0%} of {len(found.columns)}); reference:"
        f" {found.reference_rows} hours {'of the same season' if found.seasonal else ''}</p>",
        table(
            ["column", "statistic", "score", "threshold", "PSI", "drifted", "what moved"],
            [
                (d.column, d.statistic, d.score, d.threshold, d.psi, yes(d.drifted), d.detail)
                for d in drifts
            ],
        ),
        "<h2>Quality</h2>",
        f"<p>{checked.rows} rows, {checked.hours} of {checked.expected_hours} hours"
        f" ({checked.volume_ratio:.1%}), {checked.valid_rows} valid rows predicted</p>",
        table(
            ["column", "missing", "out of range"],
            [(n, checked.missing[n], checked.out_of_range[n]) for n in checked.missing],
        ),
        "<h2>Performance</h2>",
    ]
    scored = result.performance
    if scored is None or scored.rmse is None:
        known = 0 if scored is None else scored.actuals
        parts.append(f"<p>Not judged: {known} hours with actuals so far.</p>")
    else:
        names = ("actuals", "rmse", "mae", "bias", "rmse_ratio", "mae_ratio", "bias_ratio")
        parts.append(table(["metric", "value"], [(n, getattr(scored, n)) for n in names]))
        parts.append("<p>Interval coverage: not measured (the model gives no intervals).</p>")
    return parts


def page(observed: Observed, model: str, images: dict[str, str]) -> str:
    """Return the self-contained HTML report of a window."""
    result = observed.result
    window = result.window
    title = f"Monitoring of {model}: {window.start:%Y-%m-%d %H:%M} to {window.end:%Y-%m-%d %H:%M}"
    verdict = (
        "<p class='alert'><b>ALERT</b>: "
        + "; ".join(html.escape(b) for b in result.breaches)
        + "</p>"
        if result.breaches
        else "<p class='ok'><b>Quiet</b>: no threshold breached.</p>"
    )
    pictures = [
        f"<h2>{html.escape(name)}</h2>"
        f"<img alt='{html.escape(name)}' src='data:image/png;base64,{data}'>"
        for name, data in images.items()
    ]
    body = "\n".join([f"<h1>{html.escape(title)}</h1>", verdict, *sections(result), *pictures])
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>\n{body}\n</body></html>\n"
    )


def summary(results: T.Sequence[WindowResult], context: dict[str, T.Any]) -> dict[str, T.Any]:
    """Return the JSON summary of a run: its context, each window, and the first alert."""
    alerts = [result for result in results if result.breaches]
    first = alerts[0] if alerts else None
    return {
        **context,
        "windows": [result.to_dict() for result in results],
        "alerts": len(alerts),
        "first_alert": None
        if first is None
        else {
            "window": first.window.label,
            "number": first.window.number,
            "breaches": first.breaches,
        },
    }
