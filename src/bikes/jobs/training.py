"""Train a model on the train split, score it on the held-out split, log and register it."""

from __future__ import annotations

import dataclasses
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
from bikes.io import cards, catalog, configs, datasets, registries, services
from bikes.jobs import base
from bikes.utils import signers

if T.TYPE_CHECKING:
    import pandas as pd

    from bikes.io import tracking

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


@dataclasses.dataclass(frozen=True)
class TrainingResult(base.RunResult):
    """The registered version of the trained model, and its scores on the held-out split."""

    version: int
    scores: dict[str, float]
    train_rows: int
    test_rows: int


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
        default=catalog.reader("inputs_train"), discriminator="KIND"
    )
    targets: datasets.ReaderKind = pdt.Field(
        default=catalog.reader("targets_train"), discriminator="KIND"
    )
    test_inputs: datasets.ReaderKind = pdt.Field(
        default=catalog.reader("inputs_test"), discriminator="KIND"
    )
    test_targets: datasets.ReaderKind = pdt.Field(
        default=catalog.reader("targets_test"), discriminator="KIND"
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
    def reads(self) -> list[str]:
        return [*super().reads(), *([self.params_file] if self.params_file else [])]

    @T.override
    def run(self) -> TrainingResult:
        from bikes.core import schemas

        model = self.tuned_model()
        with self.run_context(self.run_config) as run:
            logger.info("Training run {} ({})", run.name, run.id)
            train, test, digest = self.read(run)
            logger.info("Fitting {} on {} rows", model.KIND, len(train.inputs))
            run.log_params({"model": model.KIND, **model.get_params()})
            model.fit(inputs=train.inputs, targets=train.targets)
            outputs = schemas.OutputsSchema.check(model.predict(test.inputs), origin="predictions")
            actual = test.targets[schemas.TARGET]
            scores = {
                metric.name: metric.score(actual, outputs["prediction"]) for metric in self.metrics
            }
            run.log_metrics(scores, split="test")
            logger.info("Test scores: {}", base.rounded(scores))
            version = self.register(run, model, test.inputs, outputs, digest)
            registry = self.mlflow_service.registry()
            cards.describe(registry, version, scores=scores, train=train, test=test, digest=digest)
        self.alerts_service.notify(
            title="Training Job Finished",
            message=f"{version.name} version {version.number}: {base.rounded(scores)}",
        )
        return TrainingResult(run.id, version.number, scores, len(train.inputs), len(test.inputs))

    def read(self, run: tracking.Run) -> tuple[datasets.Labelled, datasets.Labelled, str]:
        """Read and validate the splits, log them as the run's inputs; return the train digest."""
        train = datasets.read_labelled(self.inputs, self.targets)
        test = datasets.read_labelled(self.test_inputs, self.test_targets)
        logger.info("Read {} train and {} test rows", len(train.inputs), len(test.inputs))
        lineages = [
            (self.inputs.lineage(name="inputs_train", data=train.inputs), "training"),
            (self.targets.lineage(name="targets_train", data=train.targets), "training"),
            (self.test_inputs.lineage(name="inputs_test", data=test.inputs), "testing"),
            (self.test_targets.lineage(name="targets_test", data=test.targets), "testing"),
        ]
        for lineage, context in lineages:
            run.log_input(lineage, context=context)
        return train, test, lineages[0][0].digest

    def register(
        self,
        run: tracking.Run,
        model: models.Model,
        inputs: pd.DataFrame,
        outputs: pd.DataFrame,
        data_digest: str,
    ) -> tracking.Version:
        """Save the model with its signature, register it, and move `registry_alias` to it."""
        columns = registries.model_columns(model.get_internal_model(), list(inputs.columns))
        signature = self.signer.sign(inputs=inputs[columns], outputs=outputs)
        info = self.saver.save(model=model, signature=signature, inputs=inputs[columns])
        tags = {"git_commit": git_commit(), "data_digest": data_digest}
        run.set_tags(tags)
        registry = self.mlflow_service.registry()
        version = self.registry.register(name=registry.name, model_uri=info.model_uri, tags=tags)
        logger.info("Registered {} version {}", version.name, version.number)
        if self.registry_alias is not None:
            previous = registry.holder(self.registry_alias)
            registry.move_alias(
                self.registry_alias, version, reason="set by the training job", previous=previous
            )
            logger.info("Alias {} now points to version {}", self.registry_alias, version.number)
        return version
