"""Promote a registered model version to an alias (`champion`), gated on the evaluation data."""

from __future__ import annotations

import typing as T

import pydantic as pdt
from loguru import logger

from bikes.core import metrics as metrics_
from bikes.core.errors import CheckError, DataError
from bikes.io import datasets, registries, services
from bikes.jobs import base

if T.TYPE_CHECKING:
    import pandas as pd
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.tracking import MlflowClient


class PromotionJob(base.Job):
    """Move an alias to a version (given, latest or best), unless it scores worse than the holder.

    The candidate and the current holder of the alias are scored on the evaluation data with
    `metric`: a candidate that scores worse is refused (a `CheckError`, exit code 4) unless `force`.
    The first promotion (no holder yet) always passes; promoting the holder again changes nothing.

    Attributes:
        alias: alias to move.
        version: version to promote (else chosen by `strategy`).
        strategy: `latest` version, or the `best` by `metric` as logged by its training run.
        metric: metric of the `best` strategy and of the gate.
        inputs: reader of the evaluation inputs (the held-out split by default).
        targets: reader of the evaluation targets.
        loader: loader of the candidate and the current holder of the alias.
        force: promote even a candidate that scores worse than the current holder.
        run_config: settings of the MLflow run.
    """

    KIND: T.Literal["PromotionJob"] = "PromotionJob"

    alias: str = pdt.Field(default="champion", min_length=1)
    version: int | None = pdt.Field(default=None, gt=0)
    strategy: T.Literal["latest", "best"] = "latest"
    metric: metrics_.MetricKind = pdt.Field(
        default=metrics_.SklearnMetric(name="root_mean_squared_error"), discriminator="KIND"
    )
    inputs: datasets.ReaderKind = pdt.Field(
        default=datasets.ParquetReader(path="data/inputs_test.parquet"), discriminator="KIND"
    )
    targets: datasets.ReaderKind = pdt.Field(
        default=datasets.ParquetReader(path="data/targets_test.parquet"), discriminator="KIND"
    )
    loader: registries.LoaderKind = pdt.Field(
        default=registries.SklearnLoader(), discriminator="KIND"
    )
    force: bool = False
    run_config: services.MlflowService.RunConfig = services.MlflowService.RunConfig(
        name="Promotion"
    )

    def candidate(self, client: MlflowClient, name: str) -> ModelVersion:
        """Return the version to promote: the given one, the latest or the best by the metric."""
        if self.version is not None:
            uri = registries.uri_for_model_version(name, self.version)
            return T.cast("ModelVersion", registries.resolve(uri))  # models:/ URIs resolve or raise
        versions = client.search_model_versions(filter_string=f"name='{name}'")
        if not versions:
            raise DataError(f"models:/{name}: no registered version to promote")
        if self.strategy == "latest":
            return max(versions, key=lambda version: int(version.version))
        scored = []  # newest first: the latest version wins a tie
        for version in sorted(versions, key=lambda version: -int(version.version)):
            if not version.run_id:
                continue
            score = client.get_run(version.run_id).data.metrics.get(self.metric.name)
            if score is not None:
                scored.append((score, version))
        if not scored:
            raise DataError(f"models:/{name}: no version has a training metric {self.metric.name}")
        best_score, best = scored[0]
        for score, version in scored[1:]:
            if self.metric.better(score, best_score):
                best_score, best = score, version
        return best

    def holder(self, client: MlflowClient, name: str) -> ModelVersion | None:
        """Return the version that holds the alias now (None before the first promotion)."""
        from mlflow.exceptions import MlflowException

        try:
            return client.get_model_version_by_alias(name=name, alias=self.alias)
        except MlflowException:
            return None

    def score(
        self, role: str, version: ModelVersion, inputs: pd.DataFrame, targets: pd.DataFrame
    ) -> float:
        """Score a version on the evaluation data, and log the score as `<role>_<metric>`."""
        import mlflow

        from bikes.core.schemas import TARGET

        uri = registries.uri_for_model_version(version.name, version.version)
        outputs = self.loader.load(uri).predict(inputs)
        score = self.metric.score(targets[TARGET], outputs["prediction"])
        mlflow.log_metric(f"{role}_{self.metric.name}", score)
        logger.info(
            "{} version {}: {} = {:.4g}", role.title(), version.version, self.metric.name, score
        )
        return score

    @T.override
    def run(self) -> base.Locals:
        import mlflow

        from bikes.core import schemas

        client = self.mlflow_service.client()
        name = self.mlflow_service.registry_name
        candidate = self.candidate(client, name)
        champion = self.holder(client, name)
        promoted = False
        with self.mlflow_service.run_context(run_config=self.run_config) as run:
            mlflow.log_params(
                {
                    "alias": self.alias,
                    "candidate_version": candidate.version,
                    "champion_version": champion.version if champion else None,
                    "strategy": "version" if self.version is not None else self.strategy,
                    "metric": self.metric.name,
                    "force": self.force,
                }
            )
            if champion is not None and str(champion.version) == str(candidate.version):
                logger.info("{} version {} already holds {}", name, candidate.version, self.alias)
                return locals()
            # evaluate
            inputs = schemas.InputsSchema.check(self.inputs.read(), origin=self.inputs.path)
            targets = schemas.TargetsSchema.check(self.targets.read(), origin=self.targets.path)
            mlflow.log_input(self.inputs.lineage(name="inputs", data=inputs), context="evaluation")
            candidate_score = self.score("candidate", candidate, inputs, targets)
            if champion is not None:
                champion_score = self.score("champion", champion, inputs, targets)
                if self.metric.better(champion_score, candidate_score):
                    message = (
                        f"refused to promote {name} version {candidate.version} to '{self.alias}':"
                        f" its {self.metric.name} = {candidate_score:.4g} is worse than"
                        f" {champion_score:.4g} of version {champion.version} (the current"
                        f" '{self.alias}'); set force: true to promote it anyway"
                    )
                    if not self.force:
                        raise CheckError(message)
                    logger.warning("Forced: {}", message.replace("refused to promote", "promoting"))
            # promote
            client.set_registered_model_alias(
                name=name, alias=self.alias, version=candidate.version
            )
            promoted = True
            logger.info("Promoted {} version {} to {}", name, candidate.version, self.alias)
        self.alerts_service.notify(
            title="Promotion Job Finished",
            message=f"{name} version {candidate.version} is now '{self.alias}'",
        )
        return locals()
