"""Explain a registered model: global feature importances and per-sample SHAP values."""

from __future__ import annotations

import dataclasses
import time
import typing as T

import pydantic as pdt
from loguru import logger

from bikes.io import catalog, datasets, registries, services
from bikes.jobs import base

if T.TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline

    from bikes.io import tracking


@dataclasses.dataclass(frozen=True)
class ExplanationsResult(base.RunResult):
    """The samples explained, the features ranked by importance, and the cost of SHAP."""

    version: int
    samples: int
    ranking: list[str]
    shap_seconds: float


class ExplanationsJob(base.Job):
    """Compute SHAP values of samples and the feature importances they add up to.

    SHAP values come from the tree explainer of the model's fitted pipeline: exact, in C++ on one
    core, in a time that grows with the trees and their leaves. One column a model feature, one
    row a sample, in the unit of the model's transformed target (e.g. the square root of the
    count for the default model). Both tables are written as Parquet and plotted to MLflow (a
    beeswarm summary and a bar chart of the importances).

    The reference design's field names are accepted too: `inputs_samples` (`inputs`),
    `samples_explanations` (`shap_values`) and `models_explanations` (`feature_importances`).

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
    preloads: T.ClassVar[tuple[str, ...]] = base.MODEL_LOADING

    run_config: services.MlflowService.RunConfig = services.MlflowService.RunConfig(
        name="Explanations"
    )
    inputs: datasets.ReaderKind = pdt.Field(
        default=catalog.reader("inputs_test"),
        discriminator="KIND",
        validation_alias=pdt.AliasChoices("inputs", "inputs_samples"),
    )
    samples: int | None = pdt.Field(default=None, gt=0)
    seed: int = 42
    alias_or_version: str | int = "champion"
    loader: registries.LoaderKind = pdt.Field(
        default_factory=registries.SklearnLoader, discriminator="KIND"
    )
    shap_values: datasets.WriterKind = pdt.Field(
        default=catalog.writer("shap_values"),
        discriminator="KIND",
        validation_alias=pdt.AliasChoices("shap_values", "samples_explanations"),
    )
    feature_importances: datasets.WriterKind = pdt.Field(
        default=catalog.writer("feature_importances"),
        discriminator="KIND",
        validation_alias=pdt.AliasChoices("feature_importances", "models_explanations"),
    )

    @T.override
    def registry_reads(self, registry: tracking.Registry) -> dict[str, int | None]:
        version = registry.resolve(self.alias_or_version)
        return {"model": version.number}

    @T.override
    def run(self) -> ExplanationsResult:
        from bikes.core import models, schemas

        inputs = self.read()
        registry = self.mlflow_service.registry()
        uri = registry.model_uri(self.alias_or_version)
        model = self.loader.load(uri, registry)
        logger.info("Explaining {} samples with {} (version {})", len(inputs), uri, model.version)
        start = time.perf_counter()
        values = models.shap_values(model.pipeline, inputs)
        shap_seconds = time.perf_counter() - start
        values = schemas.SHAPValuesSchema.check(values, origin="shap values")
        importances = models.feature_importances(values)
        importances = schemas.FeatureImportancesSchema.check(importances, origin="importances")
        logger.info("Computed SHAP values in {:.2f}s", shap_seconds)
        self.shap_values.write(values)
        self.feature_importances.write(importances)
        logger.info("Wrote {} and {}", self.shap_values.path, self.feature_importances.path)
        with self.run_context(self.run_config) as run:
            run.set_tags(
                {"model_uri": uri, "model_name": model.name, "model_version": model.version}
            )
            run.log_input(self.inputs.lineage(name="explained", data=inputs), context="explain")
            run.log_params({"samples": len(inputs)})
            run.log_metrics({"shap_seconds": shap_seconds})
            self.log_plots(run, model.pipeline, inputs, values, importances)
        ranking = list(importances["feature"])
        self.alerts_service.notify(
            title="Explanations Job Finished",
            message=f"{len(inputs)} samples, top feature {ranking[0]}",
        )
        return ExplanationsResult(run.id, model.version or 0, len(inputs), ranking, shap_seconds)

    def log_plots(
        self,
        run: tracking.Run,
        pipeline: Pipeline,
        inputs: pd.DataFrame,
        values: pd.DataFrame,
        importances: pd.DataFrame,
    ) -> None:
        """Log the SHAP summary and the importances as figures (in the model's target's unit)."""
        from bikes.io import plots, reports

        features, unit = plots.feature_values(pipeline, inputs), reports.target_unit(pipeline)
        summary = plots.shap_summary(values, features, unit=unit)
        run.log_figure(summary, "explanations/shap_summary.png")
        run.log_figure(plots.importances(importances, unit=unit), "explanations/importances.png")
        run.log_artifact(self.feature_importances.path, folder="explanations")

    def read(self) -> pd.DataFrame:
        """Read and validate the inputs, and draw the samples to explain."""
        from bikes.core import schemas

        inputs = schemas.InputsSchema.check(self.inputs.read(), origin=self.inputs.path)
        if self.samples is not None and self.samples < len(inputs):
            inputs = inputs.sample(n=self.samples, random_state=self.seed).sort_index()
        return inputs
