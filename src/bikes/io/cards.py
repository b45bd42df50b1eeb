"""Descriptions of the registered model and its versions, in the markdown that MLflow's UI shows.

The columns' meanings, units, ranges and encodings come from the inputs schema
(`bikes.core.schemas.InputsSchema`), so the descriptions never drift from what the model takes.
"""

from __future__ import annotations

import typing as T

from bikes.io import tracking

if T.TYPE_CHECKING:
    import pandas as pd

    from bikes.io import datasets

# the unit of each metric's score, for a person (none for a ratio)
METRIC_UNITS = {
    "root_mean_squared_error": "rentals an hour",
    "mean_absolute_error": "rentals an hour",
    "median_absolute_error": "rentals an hour",
    "max_error": "rentals an hour",
    "mean_absolute_percentage_error": "share of the actual count (misleading on night hours)",
}

MODEL_DESCRIPTION = """\
Forecasts the number of bike rentals of an hour (Capital Bikeshare, Washington D.C.) from its
calendar and weather: one row an hour, the prediction in rentals an hour (never negative).
Each version is trained by a training run of the `bikes` package on the hours before a date and
scored on the hours after it; its description gives its scores and data, its evaluation run
holds its report (`report/model_card.html`). The `champion` alias is the version served.

{columns}
"""


def column_range(checks: T.Sequence[T.Any]) -> str:
    """Return the range of a column as its checks bound it (`0..23`, `{0, 1}`), or `any`."""
    statistics: dict[str, T.Any] = {}
    for check in checks:
        statistics.update(check.statistics or {})
    if "allowed_values" in statistics:
        return "{" + ", ".join(map(str, statistics["allowed_values"])) + "}"
    if "min_value" in statistics or "max_value" in statistics:
        return f"{statistics.get('min_value', '')}..{statistics.get('max_value', '')}"
    return "any"


def columns() -> list[tuple[str, str, str, str]]:
    """Return each input column of the model: name, type, range, meaning (with unit, encoding)."""
    from bikes.core.schemas import InputsSchema

    schema = InputsSchema.to_schema()
    rows = [
        (name, str(column.dtype), column_range(column.checks), column.description or "")
        for name, column in schema.columns.items()
    ]
    index = schema.index
    if index is not None:
        rows.insert(0, (str(index.name), str(index.dtype), "0..", index.description or ""))
    return rows


def columns_markdown() -> str:
    """Return the input columns as a markdown table, after a line that introduces it."""
    lines = [
        "The input columns, as the inputs schema checks them:",
        "",
        "| input column | type | range | meaning |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| `{name}` | {kind} | {bounds} | {what} |" for name, kind, bounds, what in columns()
    ]
    return "\n".join(lines)


def score_text(name: str, score: float) -> str:
    """Return a score with 4 significant digits and its unit."""
    unit = METRIC_UNITS.get(name)
    return f"{score:.4g} {unit}" if unit else f"{score:.4g}"


def period(inputs: pd.DataFrame) -> str:
    """Return the first and last hour of inputs (`2011-01-01 00:00 to 2012-08-08 23:00`)."""
    from bikes.core.schemas import hours

    stamps = hours(inputs)
    return f"{stamps.min():%Y-%m-%d %H:%M} to {stamps.max():%Y-%m-%d %H:%M}"


def version_description(
    version: tracking.Version,
    scores: T.Mapping[str, float],
    train: datasets.Labelled,
    test: datasets.Labelled,
    digest: str,
) -> str:
    """Return the description of a trained version: its run, data, scores and input columns."""
    lines = [
        f"Trained by run `{version.run_id}` on {len(train.inputs):,} hours, {period(train.inputs)}"
        f" (data digest `{digest}`), scored on the {len(test.inputs):,} held-out hours that"
        f" follow, {period(test.inputs)}.",
        "",
        "| metric, on the test split | score |",
        "| --- | --- |",
        *(
            f"| `{tracking.split_name(name, 'test')}` | {score_text(name, score)} |"
            for name, score in scores.items()
        ),
        "",
        columns_markdown(),
        "",
    ]
    return "\n".join(lines)


def describe(
    registry: tracking.Registry,
    version: tracking.Version,
    *,
    scores: T.Mapping[str, float],
    train: datasets.Labelled,
    test: datasets.Labelled,
    digest: str,
) -> None:
    """Describe the registered model and a new version of it in the registry."""
    registry.describe(MODEL_DESCRIPTION.format(columns=columns_markdown()))
    registry.describe(version_description(version, scores, train, test, digest), version)
