"""Predict with a registered model, batch by batch, so that memory stays flat on large inputs."""

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

    from bikes.io import tracking

# rows of the first batch that describe the inputs in the run (lineage): the source, the schema and
# a digest, as MLflow's digests read at most 10,000 rows (but its schema inference reads them all)
LINEAGE_ROWS = 10_000


@dataclasses.dataclass(frozen=True)
class InferenceResult(base.RunResult):
    """The predictions written: how many, where, by which version, how fast."""

    model_uri: str
    version: int
    rows: int
    seconds: float
    path: str

    @property
    def rows_per_second(self) -> float:
        """Return the throughput of reading, validating, predicting and writing."""
        return self.rows / max(self.seconds, 1e-9)


class InferenceJob(base.Job):
    """Load a model by alias or version, and stream validated predictions of inputs to a file.

    Each prediction comes with its hour (`timestamp`) and the `model_version` that made it.

    Inputs are read, validated, predicted and written one batch at a time: no batch is kept once
    written, so memory depends on `batch_size`, not on the size of the inputs. The output is written
    atomically: a failure (e.g. a batch that violates the inputs schema) leaves no output behind.

    Attributes:
        inputs: reader of the inputs.
        outputs: writer of the predictions.
        alias: alias of the registered model to use (when `version` is None).
        version: version of the registered model to use (wins over `alias`).
        batch_size: rows read, predicted and written at once.
        log_outputs_max_bytes: the predictions file is logged to the run up to this size (else its
            path is a tag of the run).
        log_every: log the progress every this many batches.
        loader: loader of the model.
        run_config: settings of the MLflow run.
    """

    KIND: T.Literal["InferenceJob"] = "InferenceJob"

    inputs: datasets.ReaderKind = pdt.Field(
        default=catalog.reader("inputs_test"), discriminator="KIND"
    )
    outputs: datasets.WriterKind = pdt.Field(
        default=catalog.writer("predictions"), discriminator="KIND"
    )
    alias: str = pdt.Field(default="champion", min_length=1)
    version: int | None = pdt.Field(default=None, gt=0)
    batch_size: int = pdt.Field(default=100_000, gt=0)
    log_outputs_max_bytes: int = pdt.Field(default=50 * 2**20, ge=0)
    log_every: int = pdt.Field(default=10, gt=0)
    loader: registries.LoaderKind = pdt.Field(
        default=registries.SklearnLoader(), discriminator="KIND"
    )
    run_config: services.MlflowService.RunConfig = services.MlflowService.RunConfig(
        name="Inference"
    )

    @T.override
    def registry_reads(self, registry: tracking.Registry) -> dict[str, int | None]:
        version = registry.resolve(self.version or self.alias)
        return {"model": version.number}

    @T.override
    def run(self) -> InferenceResult:
        registry = self.mlflow_service.registry()
        uri = registry.model_uri(self.version or self.alias)
        with self.run_context(self.run_config) as run:
            model = self.loader.load(uri, registry)
            logger.info("Predicting {} with {} (version {})", self.inputs.path, uri, model.version)
            run.log_params(
                {
                    "model_uri": uri,
                    "model_name": model.name,
                    "model_version": model.version,
                    "batch_size": self.batch_size,
                }
            )
            start = time.perf_counter()
            rows = self.outputs.write_batches(self.predictions(model, run))
            seconds = time.perf_counter() - start
            version = model.version or 0
            result = InferenceResult(run.id, uri, version, rows, seconds, self.outputs.path)
            run.log_metrics({"rows": rows, "rows_per_second": result.rows_per_second})
            self.log_outputs(run)
        logger.info("Wrote {} predictions to {} in {:.1f}s", rows, result.path, result.seconds)
        self.alerts_service.notify(
            title="Inference Job Finished",
            message=f"{rows} predictions of {uri} (version {model.version})",
        )
        return result

    def log_outputs(self, run: tracking.Run) -> None:
        """Log the predictions file to the run, or only where it is when it is too big."""
        from pathlib import Path

        size = Path(self.outputs.path).stat().st_size
        if size <= self.log_outputs_max_bytes:
            run.log_artifact(self.outputs.path, folder="predictions")
        else:
            run.set_tags({"predictions_path": str(Path(self.outputs.path).resolve())})
            logger.info("Predictions of {} MiB: not logged to the run", size // 2**20)

    def predictions(
        self, model: registries.LoadedModel, run: tracking.Run
    ) -> T.Iterator[pd.DataFrame]:
        """Read, validate and predict the inputs batch by batch, logging the progress."""
        from bikes.core import schemas

        start, rows = time.perf_counter(), 0
        for number, batch in enumerate(self.inputs.read_batches(self.batch_size), start=1):
            origin = f"{self.inputs.path} (batch {number})"
            inputs = schemas.InputsSchema.check(batch, origin=origin)
            if number == 1:  # the source, schema and digest of a sample: MLflow reads every cell
                lineage = self.inputs.lineage(name="inputs", data=inputs.head(LINEAGE_ROWS))
                run.log_input(lineage, context="inference")
            outputs = schemas.OutputsSchema.check(model.predict(inputs), origin=f"{origin} outputs")
            outputs = outputs.assign(timestamp=schemas.hours(inputs), model_version=model.version)
            rows += len(outputs)
            if number % self.log_every == 0:
                speed = rows / max(time.perf_counter() - start, 1e-9)
                logger.info("Predicted {} rows in {} batches ({:.0f} rows/s)", rows, number, speed)
            yield outputs
