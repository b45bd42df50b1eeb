"""Train a model on the train split, score it on the held-out split, log and register it."""

from __future__ import annotations

import json
import shutil
import subprocess  # nosec B404  # runs git only, with fixed arguments
import typing as T
from pathlib import Path

import pydantic as pdt
from loguru import logger

from bikes.core import metrics as metrics_
from bikes.core import models
from bikes.core.errors import ConfigError
from bikes.io import configs, datasets, registries, services
from bikes.jobs import base
from bikes.utils import signers

UNKNOWN_COMMIT = "unknown"


def default_metrics() -> list[metrics_.MetricKind]:
    """Return the default metrics of a trained model: RMSE, MAE and R2."""
    names = ["root_mean_squared_error", "mean_absolute_error", "r2_score"]
    return [metrics_.SklearnMetric(name=name) for name in names]


def git_commit(folder: str | Path | None = None) -> str:
    """Return the commit of the git work tree holding `folder` (this package), or `unknown`."""
    git = shutil.which("git")
    if git is None:
        return UNKNOWN_COMMIT
    folder = folder or Path(__file__).parent
    try:
        process = subprocess.run(  # noqa: S603  # nosec B603  # fixed arguments, git from the PATH
            [git, "-C", str(folder), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return UNKNOWN_COMMIT
    commit = process.stdout.strip()
    return commit if process.returncode == 0 and commit else UNKNOWN_COMMIT


def read_params(path: str) -> dict[str, T.Any] | None:
    """Read hyperparameters from a JSON file (None when the file does not exist)."""
    file = Path(path)
    if not file.exists():
        return None
    try:
        params = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"{path}: cannot read hyperparameters ({error})") from error
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: hyperparameters must be a JSON object, got {params!r:.40}")
    return params


class TrainingJob(base.Job):
    """Fit a model on the train split, score it on the test split, log it and register it.

    Attributes:
        inputs: reader of the train inputs.
        targets: reader of the train targets.
        test_inputs: reader of the held-out inputs (scored, never fitted on).
        test_targets: reader of the held-out targets.
        model: model to fit (its defaults, updated by `params_file`).
        params_file: JSON object of hyperparameters of the model (e.g. the best ones of the tuning
            job); when the file does not exist, the model keeps its own (with a warning).
        metrics: metrics scored on the held-out split (logged with their natural sign).
        signer: signer of the logged model.
        saver: saver of the model to the run.
        registry: register of the model version (`register` would shadow `ABCMeta.register`).
        registry_alias: alias to move to the new version (none by default: see PromotionJob).
        run_config: settings of the MLflow run.
    """

    KIND: T.Literal["TrainingJob"] = "TrainingJob"

    inputs: datasets.ReaderKind = pdt.Field(
        default=datasets.ParquetReader(path="data/inputs_train.parquet"), discriminator="KIND"
    )
    targets: datasets.ReaderKind = pdt.Field(
        default=datasets.ParquetReader(path="data/targets_train.parquet"), discriminator="KIND"
    )
    test_inputs: datasets.ReaderKind = pdt.Field(
        default=datasets.ParquetReader(path="data/inputs_test.parquet"), discriminator="KIND"
    )
    test_targets: datasets.ReaderKind = pdt.Field(
        default=datasets.ParquetReader(path="data/targets_test.parquet"), discriminator="KIND"
    )
    model: models.ModelKind = pdt.Field(
        default_factory=models.GradientBoostingModel, discriminator="KIND"
    )
    params_file: str | None = None
    metrics: metrics_.MetricsKind = pdt.Field(default_factory=default_metrics, min_length=1)
    signer: signers.SignerKind = pdt.Field(default=signers.InferSigner(), discriminator="KIND")
    saver: registries.SaverKind = pdt.Field(default=registries.SklearnSaver(), discriminator="KIND")
    registry: registries.RegisterKind = pdt.Field(
        default=registries.MlflowRegister(), discriminator="KIND"
    )
    registry_alias: str | None = None
    run_config: services.MlflowService.RunConfig = services.MlflowService.RunConfig(name="Training")

    def tuned_model(self) -> models.Model:
        """Return a copy of the model with the hyperparameters of `params_file`, if it exists."""
        model = self.model.model_copy(deep=True)
        if self.params_file is None:
            return model
        params = read_params(self.params_file)
        if params is None:
            logger.warning(
                "No hyperparameters file at {}: training with the model's own", self.params_file
            )
            return model
        settings = {**model.model_dump(), **params}
        return configs.validate(type(model), settings, origin=self.params_file)

    @T.override
    def run(self) -> base.Locals:
        import mlflow

        from bikes.core import schemas

        model = self.tuned_model()
        with self.mlflow_service.run_context(run_config=self.run_config) as run:
            logger.info("Training run {} ({})", run.info.run_name, run.info.run_id)
            # read and validate
            inputs = schemas.InputsSchema.check(self.inputs.read(), origin=self.inputs.path)
            targets = schemas.TargetsSchema.check(self.targets.read(), origin=self.targets.path)
            test_inputs = schemas.InputsSchema.check(
                self.test_inputs.read(), origin=self.test_inputs.path
            )
            test_targets = schemas.TargetsSchema.check(
                self.test_targets.read(), origin=self.test_targets.path
            )
            logger.info("Read {} train and {} test rows", len(inputs), len(test_inputs))
            # lineage
            inputs_lineage = self.inputs.lineage(name="inputs_train", data=inputs)
            lineages = [
                (inputs_lineage, "training"),
                (self.targets.lineage(name="targets_train", data=targets), "training"),
                (self.test_inputs.lineage(name="inputs_test", data=test_inputs), "testing"),
                (self.test_targets.lineage(name="targets_test", data=test_targets), "testing"),
            ]
            for lineage, context in lineages:
                mlflow.log_input(dataset=lineage, context=context)
            # fit
            logger.info("Fitting {} on {} rows", model.KIND, len(inputs))
            mlflow.log_params({"model": model.KIND, **model.get_params()})
            model.fit(inputs=inputs, targets=targets)
            # score
            outputs = schemas.OutputsSchema.check(model.predict(test_inputs), origin="predictions")
            scores = {
                metric.name: metric.score(test_targets[schemas.TARGET], outputs["prediction"])
                for metric in self.metrics
            }
            mlflow.log_metrics(scores)
            logger.info("Test scores: {}", scores)
            # save
            columns = registries.model_columns(
                model.get_internal_model(), list(test_inputs.columns)
            )
            signature = self.signer.sign(inputs=test_inputs[columns], outputs=outputs)
            model_info = self.saver.save(
                model=model, signature=signature, inputs=test_inputs[columns]
            )
            # register
            tags = {"git_commit": git_commit(), "data_digest": inputs_lineage.digest}
            mlflow.set_tags(tags)
            name = self.mlflow_service.registry_name
            model_version = self.registry.register(
                name=name, model_uri=model_info.model_uri, tags=tags
            )
            logger.info("Registered {} version {}", name, model_version.version)
            if self.registry_alias is not None:
                client = self.mlflow_service.client()
                client.set_registered_model_alias(
                    name=name, alias=self.registry_alias, version=model_version.version
                )
                logger.info(
                    "Alias {} now points to version {}", self.registry_alias, model_version.version
                )
        self.alerts_service.notify(
            title="Training Job Finished",
            message=f"{name} version {model_version.version}: {scores}",
        )
        return locals()
