"""The report page of a registered version (a model card): one self-contained HTML file.

The page shows the version's scores beside references, plots in rentals with their scores,
explanations in rentals, the data the version saw and scored, its lineage and its input columns.
Its images are inline PNGs and its content security policy forbids any request: it opens offline,
from `outputs/reports/` or from the evaluation run's artifacts (`report/model_card.html`).
"""

from __future__ import annotations

import dataclasses
import datetime
import html
import typing as T

import pydantic as pdt

from bikes.io import cards, catalog, datasets, tracking

if T.TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline

    from bikes.core.metrics import Metric
    from bikes.io.registries import LoadedModel, Loader

ARTIFACT = "report/model_card.html"
# no request leaves the page: inline styles and images only
POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{margin-bottom:0}p.lead{color:#555;margin-top:.3em}table{border-collapse:collapse;margin:1em 0}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left}th{background:#f3f3f3}
td.n{text-align:right;font-variant-numeric:tabular-nums}figure{margin:1.5em 0}
img{max-width:100%;height:auto;border:1px solid #eee}figcaption{color:#555;font-size:.9em}
code{background:#f6f6f6;padding:0 .2em}
"""


@dataclasses.dataclass(frozen=True)
class Scored:
    """Scores of a model, or of a reference, on the evaluation data.

    Attributes:
        label: what was scored (e.g. `version 3`, `weekly profile of the train data`).
        scores: score of each metric, by its name.
    """

    label: str
    scores: dict[str, float]


@dataclasses.dataclass(frozen=True)
class Facts:
    """What the page says of a version: scores, data, lineage (no figure).

    Attributes:
        model: the version evaluated.
        version: its registry entry (training run, tags).
        evaluation_run: ID of the evaluation run.
        scored: the version's scores first, then the references'.
        train: the train split, as read now (rows, period, digest).
        test: the evaluation data (rows, period, digest).
        explained: evaluation hours whose SHAP values explain the version.
    """

    model: LoadedModel
    version: tracking.Version
    evaluation_run: str
    scored: list[Scored]
    train: tuple[int, str, str]
    test: tuple[int, str, str]
    explained: int


def weekly_profile(train: datasets.Labelled, inputs: pd.DataFrame) -> pd.Series[float]:
    """Predict each hour by the mean rentals of its weekday and hour in the train data."""
    from bikes.core.schemas import TARGET

    keys = ["weekday", "hr"]
    profile = train.targets[TARGET].groupby([train.inputs[k] for k in keys]).mean()
    index = [tuple(row) for row in inputs[keys].itertuples(index=False)]
    return profile.reindex(index).fillna(float(train.targets[TARGET].mean())).set_axis(inputs.index)


def shap_in_rentals(pipeline: Pipeline, inputs: pd.DataFrame) -> pd.DataFrame:
    """Return SHAP values of a fitted pipeline in rentals an hour, adding up to its predictions.

    A model fitted on a transformed target (e.g. the square root of the count) is explained in
    that space: value `v` of a feature, of an hour whose transformed prediction is `f` and base
    `b` (= `f` minus the sum of its values), becomes `v * (g(f) - g(b)) / (f - b)` in rentals,
    with `g` the inverse transform. The values of an hour then add up to its prediction minus
    `g(b)` exactly; for the square root, `v * (f + b)`.
    """
    import numpy as np
    from sklearn.compose import TransformedTargetRegressor

    from bikes.core import models

    values = models.shap_values(pipeline, inputs)
    regressor = pipeline[-1]
    if not isinstance(regressor, TransformedTargetRegressor) or regressor.inverse_func is None:
        return values
    features = pipeline[:-1].transform(inputs)
    raw = np.asarray(regressor.regressor_.predict(features), dtype=float)
    base = raw - values.to_numpy().sum(axis=1)
    inverse = regressor.inverse_func
    step = raw - base
    flat = np.abs(step) < 1e-9  # no contribution: the local slope of the inverse instead
    safe = np.where(flat, 1e-6, step)
    slope = (inverse(base + safe) - inverse(base)) / safe
    return values.mul(slope, axis=0)


def target_unit(pipeline: Pipeline) -> str:
    """Return the unit of a pipeline's SHAP values: its target, transformed or not."""
    import numpy as np
    from sklearn.compose import TransformedTargetRegressor

    regressor = pipeline[-1]
    if not isinstance(regressor, TransformedTargetRegressor):
        return "rentals an hour"
    units = {np.square: "√(rentals an hour), the model's target", np.expm1: "log(1 + rentals)"}
    return units.get(regressor.inverse_func, "the model's transformed target")


def data_facts(data: pd.DataFrame, digest: str) -> tuple[int, str, str]:
    """Return the rows, period and digest of inputs."""
    return len(data), cards.period(data), digest


class ModelCard(pdt.BaseModel, strict=True, frozen=True, extra="forbid"):
    """The report page of the version that the evaluations job scores (a model card).

    Attributes:
        enable: write the report (to `folder` and to the evaluation run).
        folder: folder of the reports, one file a version (`<model>-v<version>.html`).
        reference: alias or version of a registered model to compare with, skipped when it is
            the version evaluated or when no version holds it (e.g. the reference design's model,
            trained and registered with `BaselineSklearnModel`).
        train_inputs: reader of the train inputs (the data the version saw, and the profile).
        train_targets: reader of the train targets.
        explained: hours whose SHAP values explain the version, drawn at random.
        shap_budget: work of those SHAP values (`models.shap_cost` times the hours, about 5 s
            here): a large model is explained by fewer hours (the reference forest by about 8),
            and the page says how many.
        seed: seed of the draw.
    """

    enable: bool = True
    folder: str = "outputs/reports"
    reference: str | int | None = "champion"
    train_inputs: datasets.ReaderKind = pdt.Field(
        default=catalog.reader("inputs_train"), discriminator="KIND"
    )
    train_targets: datasets.ReaderKind = pdt.Field(
        default=catalog.reader("targets_train"), discriminator="KIND"
    )
    explained: int = pdt.Field(default=500, gt=0)
    shap_budget: int = pdt.Field(default=5_000_000_000, gt=0)
    seed: int = 42

    def references(
        self,
        test: datasets.Labelled,
        train: datasets.Labelled,
        *,
        metrics: T.Sequence[Metric],
        registry: tracking.Registry,
        loader: Loader,
        model: LoadedModel,
    ) -> list[Scored]:
        """Score the references on the evaluation data: the weekly profile, the registered one."""
        from bikes.core.schemas import TARGET

        actual = test.targets[TARGET]
        predictions = {"weekly profile of the train data": weekly_profile(train, test.inputs)}
        holder = None if self.reference is None else find(registry, self.reference)
        if holder is not None and holder.number != model.version:
            reference = loader.load(holder.uri, registry)
            label = f"version {holder.number} ({self.reference})"
            predictions[label] = reference.predict(test.inputs)["prediction"]
        return [
            Scored(label, {metric.name: metric.score(actual, predicted) for metric in metrics})
            for label, predicted in predictions.items()
        ]

    def report(
        self,
        *,
        run: tracking.Run,
        registry: tracking.Registry,
        loader: Loader,
        model: LoadedModel,
        test: datasets.Labelled,
        scores: dict[str, float],
        metrics: T.Sequence[Metric],
        images: dict[str, bytes],
        test_digest: str,
    ) -> str:
        """Score the references, explain the version in rentals, write the page; return its path."""
        from bikes.core.models import feature_importances, shap_cost
        from bikes.io import plots

        train = datasets.read_labelled(self.train_inputs, self.train_targets)
        train_digest = self.train_inputs.lineage(name="inputs_train", data=train.inputs).digest
        references = self.references(
            test, train, metrics=metrics, registry=registry, loader=loader, model=model
        )
        affordable = max(1, self.shap_budget // max(1, shap_cost(model.pipeline)))
        explained = min(self.explained, len(test.inputs), affordable)
        sample = test.inputs.sample(n=explained, random_state=self.seed).sort_index()
        values = shap_in_rentals(model.pipeline, sample)
        importances = plots.importances(feature_importances(values), unit="rentals an hour")
        facts = Facts(
            model=model,
            version=registry.version(T.cast(int, model.version)),
            evaluation_run=run.id,
            scored=[Scored(f"version {model.version}", scores), *references],
            train=data_facts(train.inputs, train_digest),
            test=data_facts(test.inputs, test_digest),
            explained=explained,
        )
        return self.write(run, facts, {**images, "importances": plots.png(importances)})

    def write(self, run: tracking.Run, facts: Facts, images: dict[str, bytes]) -> str:
        """Write the page to `folder` (atomically) and log it to the run; return its path."""
        from pathlib import Path

        page = render(facts, images)
        path = Path(self.folder) / f"{facts.model.name}-v{facts.model.version}.html"
        with datasets.atomic_path(path) as temporary:
            temporary.write_text(page, encoding="utf-8")
        run.log_text(page, ARTIFACT)
        return str(path)


def find(registry: tracking.Registry, alias_or_version: str | int) -> tracking.Version | None:
    """Return the version of a number or alias, None when there is none."""
    from bikes.core.errors import DataError

    try:
        return registry.resolve(alias_or_version)
    except DataError:
        return None


def image(png: bytes) -> str:
    """Return a PNG image as an inline image (a data URI)."""
    import base64

    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def table(header: T.Sequence[str], rows: T.Iterable[T.Sequence[object]]) -> str:
    """Return an HTML table (cells escaped; numbers right-aligned, 4 significant digits)."""

    def cell(value: object) -> str:
        if isinstance(value, float):
            return f'<td class="n">{value:.4g}</td>'
        return f"<td>{html.escape(str(value))}</td>"

    head = "".join(f"<th>{html.escape(name)}</th>" for name in header)
    body = "".join("<tr>" + "".join(map(cell, row)) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def scores_table(scored: list[Scored]) -> str:
    """Return the scores of the version and its references, one row a metric."""
    names = list(scored[0].scores)
    rows = [
        [
            f"{tracking.split_name(name, 'test')} ({cards.METRIC_UNITS.get(name, 'ratio')})",
            *(item.scores.get(name, float("nan")) for item in scored),
        ]
        for name in names
    ]
    return table(["metric", *(item.label for item in scored)], rows)


def render(facts: Facts, images: dict[str, bytes]) -> str:
    """Return the page of a version: scores, plots, explanations, data, lineage, columns."""
    model, version = facts.model, facts.version
    title = f"{model.name} version {model.version}"
    (train_rows, train_period, train_digest), (test_rows, test_period, test_digest) = (
        facts.train,
        facts.test,
    )
    trained_on = version.tags.get("data_digest", "unknown")
    same = "the same data" if trained_on == train_digest else "other data (the split changed since)"
    lineage = [
        ("model", f"{model.uri} = models:/{model.name}/{model.version}"),
        ("training run", version.run_id or "unknown"),
        ("evaluation run", facts.evaluation_run),
        ("code (git commit)", version.tags.get("git_commit", "unknown")),
        ("training data digest", trained_on),
    ]
    sections = [
        f"<h1>{html.escape(title)}</h1>",
        '<p class="lead">Forecasts of the bike rentals of an hour (Capital Bikeshare), in rentals'
        f" an hour. Report of {datetime.datetime.now():%Y-%m-%d %H:%M}.</p>",
        "<h2>Scores on the held-out hours</h2>",
        f"<p>{test_rows:,} hours, {html.escape(test_period)}, never seen in training. Lower is"
        " better, except R² (1 is perfect).</p>",
        scores_table(facts.scored),
        "<h2>Forecasts against what happened</h2>",
        *(figure_html(images[name], caption) for name, caption in CAPTIONS.items()),
        "<h2>What drives the forecasts</h2>",
        figure_html(images["importances"], EXPLAINED.format(hours=hours_phrase(facts.explained))),
        "<h2>Data</h2>",
        table(
            ["split", "hours", "period", "digest"],
            [
                ["train", train_rows, train_period, f"{train_digest} ({same} as the version's)"],
                ["evaluation", test_rows, test_period, test_digest],
            ],
        ),
        "<h2>Lineage</h2>",
        table(["what", "which"], lineage),
        "<h2>Input columns</h2>",
        table(["column", "type", "range", "meaning"], cards.columns()),
    ]
    return PAGE.format(
        policy=POLICY, title=html.escape(title), style=STYLE, body="\n".join(sections)
    )


def hours_phrase(count: int) -> str:
    """Return how many evaluation hours, in words (`1 evaluation hour`, `500 evaluation hours`)."""
    return f"{count:,} evaluation hour{'' if count == 1 else 's'}"


def figure_html(png: bytes, caption: str) -> str:
    """Return a figure with its caption."""
    return (
        f'<figure><img src="{image(png)}" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


CAPTIONS = {
    "predictions_over_time": "Rentals a day, actual and forecast, over the evaluation period.",
    "predicted_vs_actual": "Each hour's forecast against its actual rentals, with the scores.",
    "residuals": "Residuals (actual - forecast), in rentals an hour.",
}
EXPLAINED = (
    "Mean absolute SHAP value of each feature on {hours} drawn at random, in rentals an hour: how"
    " many rentals the feature moves the forecast of an hour, on average. A model fitted on a"
    " transformed count (the default model: its square root) is explained in that space; its"
    " SHAP values are converted to rentals, so that each hour's values add up to its forecast"
    " minus the base forecast."
)
PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{policy}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>{style}</style></head>
<body>
{body}
</body></html>
"""
