"""Predict with a registered model, batch by batch, in this process or on a Dask cluster."""

from __future__ import annotations

import dataclasses
import typing as T

import pydantic as pdt
from loguru import logger

from bikes.io import catalog, datasets, engines, registries, services
from bikes.jobs import base

if T.TYPE_CHECKING:
    import pandas as pd

    from bikes.io import tracking

# rows of the first batch that describe the inputs in the run (lineage): the source, the schema and
# a digest, as MLflow's digests read at most 10,000 rows (but its schema inference reads them all)
LINEAGE_ROWS = 10_000


@dataclasses.dataclass(frozen=True)
class InferenceResult(base.RunResult):
    """The predictions written: how many, where, by which version, how fast, on what."""

    model_uri: str
    version: int
    rows: int
    seconds: float
    path: str
    workers: int = 1
    peak_memory: int = 0

    @property
    def rows_per_second(self) -> float:
        """Return the throughput of reading, validating, predicting and writing."""
        return self.rows / max(self.seconds, 1e-9)


class InferenceJob(base.Job):
    """Load a model by alias or version, and write validated predictions of inputs atomically.

    Each prediction comes with its hour (`timestamp`) and the `model_version` that made it.

    The engine reads, validates, predicts and writes the inputs batch by batch, so memory depends on
    `batch_size`, not on the size of the inputs: `LocalEngine` in this process, `DaskEngine` on the
    workers of a Dask cluster (a Parquet folder of parts out). A failure (e.g. a batch that
    violates the inputs schema) names the batch and leaves no output behind.

    Attributes:
        inputs: reader of the inputs.
        outputs: writer of the predictions.
        alias: alias of the registered model to use (when `version` is None).
        version: version of the registered model to use (wins over `alias`).
        batch_size: rows read, predicted and written at once.
        log_outputs_max_bytes: the predictions file is logged to the run up to this size (else its
            path is a tag of the run).
        log_every: log the progress every this many batches (or partitions, on Dask).
        loader: loader of the model.
        engine: where and how the inputs are scored (`LocalEngine` or `DaskEngine`).
        run_config: settings of the MLflow run.
    """

    KIND: T.Literal["InferenceJob"] = "InferenceJob"
    preloads: T.ClassVar[tuple[str, ...]] = base.MODEL_LOADING

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
    engine: engines.EngineKind = pdt.Field(
        default_factory=engines.LocalEngine, discriminator="KIND"
    )
    run_config: services.MlflowService.RunConfig = services.MlflowService.RunConfig(
        name="Inference"
    )

    @pdt.model_validator(mode="after")
    def engine_fits(self) -> T.Self:
        """Check that the engine reads the inputs and writes the outputs of the job."""
        self.engine.check(self.inputs, self.outputs)
        return self

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
                    "engine": self.engine.KIND,
                }
            )
            scored = self.engine.score(self.scoring(model, run))
            result = InferenceResult(
                run.id,
                uri,
                model.version or 0,
                scored.rows,
                scored.seconds,
                self.outputs.path,
                scored.workers,
                scored.peak_memory,
            )
            run.log_metrics(
                {
                    "rows": result.rows,
                    "rows_per_second": result.rows_per_second,
                    "workers": result.workers,
                    "peak_memory_megabytes": result.peak_memory / 2**20,
                }
            )
            self.log_outputs(run)
        logger.info(
            "Wrote {} predictions to {} in {:.1f}s", result.rows, result.path, result.seconds
        )
        self.alerts_service.notify(
            title="Inference Job Finished",
            message=f"{result.rows} predictions of {uri} (version {model.version})",
        )
        return result

    def log_outputs(self, run: tracking.Run) -> None:
        """Log the predictions file to the run, or only its path (too big, or a folder of parts)."""
        from pathlib import Path

        path = Path(self.outputs.path)
        size = path.stat().st_size if path.is_file() else None
        if size is not None and size <= self.log_outputs_max_bytes:
            run.log_artifact(str(path), folder="predictions")
            return
        run.set_tags({"predictions_path": str(path.resolve())})
        if size is not None:
            logger.info("Predictions of {} MiB: not logged to the run", size // 2**20)

    def scoring(self, model: registries.LoadedModel, run: tracking.Run) -> engines.Scoring:
        """Return what the engine scores: its first valid inputs are the lineage of the run."""

        def lineage(sample: pd.DataFrame) -> None:
            run.log_input(self.inputs.lineage(name="inputs", data=sample), context="inference")

        return engines.Scoring(
            inputs=self.inputs,
            outputs=self.outputs,
            model=model,
            batch_size=self.batch_size,
            log_every=self.log_every,
            sample_rows=LINEAGE_ROWS,
            on_sample=lineage,
        )
