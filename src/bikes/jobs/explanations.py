"""Explain a registered model: global feature importances and per-sample SHAP values."""

from __future__ import annotations

import typing as T

import pydantic as pdt
from loguru import logger

from bikes.io import datasets, registries, services
from bikes.jobs import base
from bikes.jobs.evaluations import figure, model_uri

if T.TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure
    from sklearn.pipeline import Pipeline


class ExplanationsJob(base.Job):
    """Compute SHAP values of samples and the feature importances they add up to.

    SHAP values come from the tree explainer of the model's fitted pipeline: exact, in C++ on one
    core, in a time that grows with the trees and their leaves (about 3 ms a sample for 800 trees
    of 22 leaves). One column a model feature, one row a sample, in the unit of the model's output
    (log1p(cnt) for a model fitted on the log target). Both tables are written as Parquet and
    plotted to MLflow (a beeswarm summary and a bar chart of the importances).

    Attributes:
        run_config: MLflow run of the explanations.
        inputs: reader of the inputs to explain (the test data by default).
        samples: number of inputs to explain, drawn at random (all of them when None).
        seed: seed of the draw of the samples.
        alias_or_version: alias (e.g. `champion`) or version number of the registered model.
        loader: loader of the registered model.
        shap_values: writer of the SHAP values.
        feature_importances: writer of the feature importances.
    """

    KIND: T.Literal["ExplanationsJob"] = "ExplanationsJob"

    run_config: services.MlflowService.RunConfig = services.MlflowService.RunConfig(
        name="Explanations"
    )
    inputs: datasets.ReaderKind = pdt.Field(
        default=datasets.ParquetReader(path="data/inputs_test.parquet"), discriminator="KIND"
    )
    samples: int | None = pdt.Field(default=None, gt=0)
    seed: int = 42
    alias_or_version: str | int = "champion"
    loader: registries.LoaderKind = pdt.Field(
        default_factory=registries.SklearnLoader, discriminator="KIND"
    )
    shap_values: datasets.WriterKind = pdt.Field(
        default=datasets.ParquetWriter(path="outputs/explanations/shap_values.parquet"),
        discriminator="KIND",
    )
    feature_importances: datasets.WriterKind = pdt.Field(
        default=datasets.ParquetWriter(path="outputs/explanations/feature_importances.parquet"),
        discriminator="KIND",
    )

    @T.override
    def run(self) -> base.Locals:
        import time

        import mlflow

        from bikes.core import models, schemas

        # read
        inputs = schemas.InputsSchema.check(self.inputs.read(), origin=self.inputs.path)
        if self.samples is not None and self.samples < len(inputs):
            inputs = inputs.sample(n=self.samples, random_state=self.seed).sort_index()
        logger.info("Explaining {} samples of {}", len(inputs), self.inputs.path)
        # load
        uri = model_uri(self.mlflow_service.registry_name, self.alias_or_version)
        model = self.loader.load(uri=uri)
        logger.info("Loaded {} (version {})", uri, model.version)
        # explain
        start = time.perf_counter()
        shap_values = models.shap_values(model.pipeline, inputs)
        shap_seconds = time.perf_counter() - start
        shap_values = schemas.SHAPValuesSchema.check(shap_values, origin="shap values")
        logger.info("Computed SHAP values of {} samples in {:.2f}s", len(inputs), shap_seconds)
        importances = models.feature_importances(shap_values)
        importances = schemas.FeatureImportancesSchema.check(importances, origin="importances")
        # write
        self.shap_values.write(shap_values)
        self.feature_importances.write(importances)
        logger.info("Wrote {} and {}", self.shap_values.path, self.feature_importances.path)
        # log
        tags = {"model_uri": uri, "model_name": model.name, "model_version": model.version}
        with self.mlflow_service.run_context(run_config=self.run_config) as run:
            mlflow.set_tags({key: value for key, value in tags.items() if value is not None})
            mlflow.log_input(self.inputs.lineage(name="explained", data=inputs), context="explain")
            mlflow.log_params({"samples": len(inputs)})
            mlflow.log_metric("shap_seconds", shap_seconds)
            features = feature_values(model.pipeline, inputs)
            mlflow.log_figure(summary_plot(shap_values, features), "explanations/shap_summary.png")
            mlflow.log_figure(importances_plot(importances), "explanations/importances.png")
            mlflow.log_artifact(self.feature_importances.path, artifact_path="explanations")
        self.alerts_service.notify(
            title="Explanations Job Finished",
            message=f"{len(inputs)} samples, top feature {importances['feature'].iloc[0]}",
        )
        return locals()


def feature_values(pipeline: Pipeline, inputs: pd.DataFrame) -> pd.DataFrame:
    """Return the features that the pipeline's last step sees (the values that SHAP explains)."""
    import pandas as pd

    features = pipeline[:-1].transform(inputs)
    if hasattr(features, "toarray"):  # a sparse matrix (one-hot encodings)
        features = features.toarray()
    names = list(pipeline[:-1].get_feature_names_out())
    return pd.DataFrame(features, columns=names, index=inputs.index)


def summary_plot(shap_values: pd.DataFrame, features: pd.DataFrame) -> Figure:
    """Plot the SHAP values of each feature, colored by the feature's value (a beeswarm)."""
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
    axes.set_title("SHAP values of the samples")
    return result


def importances_plot(importances: pd.DataFrame) -> Figure:
    """Plot the features by their mean absolute SHAP value."""
    result = figure(8.0, 0.35 * len(importances) + 1.5)
    axes = result.subplots()
    ranked = importances.iloc[::-1]
    axes.barh(ranked["feature"], ranked["importance"])
    axes.set(title="Feature importances (mean |SHAP value|)", xlabel="mean |SHAP value|")
    return result
