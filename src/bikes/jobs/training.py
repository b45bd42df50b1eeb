"""Train a model on the train split, score it on a validation window and the test split.

The validation window (the last hours of the train split) scores a copy of the model fitted before
it: those scores (`validation_<metric>`) select and gate versions (see PromotionJob). The test
scores (`test_rmse`...) only report: nothing is selected on them.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess  # nosec B404  # runs git only, with fixed arguments
import typing as T
from pathlib import Path

import pydantic as pdt
from loguru import logger

from bikes.core import intervals as intervals_
from bikes.core import metrics as metrics_
from bikes.core import models
from bikes.core.errors import ConfigError
from bikes.io import cards, catalog, configs, datasets, registries, services, tracking
from bikes.jobs import base
from bikes.utils import signers, splitters

if T.TYPE_CHECKING:
    import pandas as pd


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


def interval_scores(
    train: datasets.Labelled, test: datasets.Labelled, outputs: pd.DataFrame, level: float
) -> dict[str, float]:
    """Score the test intervals, and those of the hour-of-week baseline (`baseline_` names)."""
    from bikes.core.schemas import TARGET

    actual, hours = test.targets[TARGET], test.inputs[intervals_.HOUR]
    lower, upper = outputs[intervals_.LOWER], outputs[intervals_.UPPER]
    scores = metrics_.interval_scores(actual, lower, upper, level, hours)
    baseline = intervals_.hour_of_week(train.inputs, train.targets[TARGET], level)
    low, high = baseline(test.inputs)
    scores |= {
        f"baseline_{name}": score
        for name, score in metrics_.interval_scores(actual, low, high, level, hours).items()
    }
    return scores


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


def window(inputs: pd.DataFrame) -> str:
    """Return the first and last hours of inputs, as `<first> to <last>` (a run's tag)."""
    from bikes.core.schemas import hours

    stamps = hours(inputs)
    return f"{stamps.min():%Y-%m-%d %H:00} to {stamps.max():%Y-%m-%d %H:00}"


def tuned(model: models.Model, params_file: str | None) -> models.Model:
    """Return a copy of a model with the hyperparameters of `params_file`, if it exists."""
    copy = model.model_copy(deep=True)
    if params_file is None:
        return copy
    params = read_params(params_file)
    if params is None:
        logger.warning("No hyperparameters file at {}: using the model's own", params_file)
        return copy
    settings = {**copy.model_dump(), **params}
    return configs.validate(type(copy), settings, origin=params_file)


@dataclasses.dataclass(frozen=True)
class TrainingResult(base.RunResult):
    """The registered version of the trained model, its test and validation scores."""

    version: int
    scores: dict[str, float]
    train_rows: int
    test_rows: int
    validation_scores: dict[str, float] = dataclasses.field(default_factory=dict)


class TrainingJob(base.Job):
    """Fit a model on the train split, score it on the validation and test data, register it.

    The validation window, the last rows of the train split, scores a copy of the model fitted on
    the rows before it (`validation_<metric>`: what selection and the promotion gate compare);
    the model is then fitted on the whole train split and scored on the test split (`<metric>`:
    the report). The run's tags `validation_window` and `test_window` name their hours.

    Attributes:
        inputs: reader of the train inputs.
        targets: reader of the train targets.
        test_inputs: reader of the held-out inputs (scored, never fitted on).
        test_targets: reader of the held-out targets.
        model: model to fit (its defaults, updated by `params_file`).
        intervals: how its prediction intervals are calibrated, on the end of the train split
            (None: a model without intervals).
        params_file: JSON object of hyperparameters of the model (e.g. the best ones of the tuning
            job); when the file does not exist, the model keeps its own (with a warning).
        metrics: metrics scored on the validation window (as `validation_rmse`...) and the
            held-out split (as `test_rmse`...), logged with their natural sign.
        validation: the validation window: the last rows of the train split (none when None).
        refit_on_all: once scored, refit the model on all the labelled data (train and test
            splits) before registering it: a production model, whose later test scores are
            in-sample (the version's tag `refit_on_all` says so).
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
    intervals: intervals_.Intervals | None = intervals_.Intervals()
    params_file: str | None = None
    metrics: metrics_.MetricsKind = pdt.Field(default_factory=default_metrics, min_length=1)
    validation: splitters.TrainTestSplitter | None = splitters.TrainTestSplitter(test_size=0.1)
    refit_on_all: bool = False
    signer: signers.SignerKind = pdt.Field(default=signers.InferSigner(), discriminator="KIND")
    saver: registries.SaverKind = pdt.Field(default=registries.SklearnSaver(), discriminator="KIND")
    registry: registries.RegisterKind = pdt.Field(
        default=registries.MlflowRegister(), discriminator="KIND"
    )
    registry_alias: str | None = None
    run_config: services.MlflowService.RunConfig = services.MlflowService.RunConfig(name="Training")

    def tuned_model(self) -> models.Model:
        """Return a copy of the model with the hyperparameters of `params_file`, if it exists."""
        return tuned(self.model, self.params_file)

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
            validation = self.score_validation(run, model, train)
            conformal = self.calibrate(run, model, train)
            model.fit(inputs=train.inputs, targets=train.targets)
            outputs = model.predict(test.inputs)
            if conformal is not None:
                outputs = conformal.assign(outputs, test.inputs)
            outputs = schemas.OutputsSchema.check(outputs, origin="predictions")
            scores = self.score(test.targets[schemas.TARGET], outputs["prediction"])
            if conformal is not None:
                scores |= interval_scores(train, test, outputs, conformal.level)
            run.log_metrics(scores, split="test")
            run.set_tags({"test_window": window(test.inputs)})
            logger.info("Test scores: {}", base.rounded(scores))
            if self.refit_on_all:
                logger.info("Refitting {} on the train and test rows", model.KIND)
                everything = datasets.concat([train, test])
                model.fit(inputs=everything.inputs, targets=everything.targets)
            version = self.register(run, model, test.inputs, outputs, digest, conformal=conformal)
            registry = self.mlflow_service.registry()
            cards.describe(registry, version, scores=scores, train=train, test=test, digest=digest)
        self.alerts_service.notify(
            title="Training Job Finished",
            message=f"{version.name} version {version.number}: {base.rounded(scores)}",
        )
        rows = len(train.inputs), len(test.inputs)
        return TrainingResult(run.id, version.number, scores, *rows, validation)

    def score(self, actual: pd.Series[T.Any], predicted: pd.Series[T.Any]) -> dict[str, float]:
        """Score predictions with each metric."""
        return {metric.name: metric.score(actual, predicted) for metric in self.metrics}

    def score_validation(
        self, run: tracking.Run, model: models.Model, train: datasets.Labelled
    ) -> dict[str, float]:
        """Score a copy of the model, fitted before the validation window, on the window."""
        if self.validation is None:
            return {}
        from bikes.core.schemas import TARGET

        try:
            before, window_ = next(self.validation.split(train.inputs))
        except ValueError as error:
            raise ConfigError(f"{self.inputs.path}: validation window: {error}") from error
        inputs, targets = train.inputs.iloc[window_], train.targets[TARGET].iloc[window_]
        fitted = model.model_copy(deep=True).fit(
            train.inputs.iloc[before], train.targets.iloc[before]
        )
        scores = self.score(targets, fitted.predict(inputs)["prediction"])
        validation = {tracking.split_name(name, "validation"): v for name, v in scores.items()}
        run.log_metrics(validation)
        run.set_tags({"validation_window": window(inputs)})
        logger.info("Validation scores ({} rows): {}", len(inputs), base.rounded(validation))
        return validation

    def calibrate(
        self, run: tracking.Run, model: models.Model, train: datasets.Labelled
    ) -> intervals_.Conformal | None:
        """Calibrate the model's intervals on the end of the train split (None: no intervals)."""
        if self.intervals is None:
            return None
        run.log_params(
            {
                "intervals_level": self.intervals.level,
                "intervals_calibration_size": self.intervals.calibration_size,
            }
        )
        conformal = self.intervals.calibrate(model, train.inputs, train.targets)
        logger.info(
            "Calibrated {:.0%} intervals on the last {} train rows",
            conformal.level,
            conformal.calibration_rows,
        )
        return conformal

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
        *,
        conformal: intervals_.Conformal | None = None,
    ) -> tracking.Version:
        """Save the model with its signature and intervals, register it, and move the alias.

        The signature describes the point forecast: what stock MLflow predicts with the model.
        """
        columns = registries.model_columns(model.get_internal_model(), list(inputs.columns))
        signature = self.signer.sign(inputs=inputs[columns], outputs=outputs[["prediction"]])
        info = self.saver.save(
            model=model, signature=signature, inputs=inputs[columns], intervals=conformal
        )
        tags = {
            "git_commit": git_commit(),
            "data_digest": data_digest,
            "refit_on_all": str(self.refit_on_all).lower(),
        }
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
