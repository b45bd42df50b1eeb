"""The interface of the engines: score the inputs of a job with a model, and write the outputs."""

from __future__ import annotations

import abc
import dataclasses
import sys
import typing as T
from pathlib import Path

import pydantic as pdt

if T.TYPE_CHECKING:
    import pandas as pd

    from bikes.io import datasets, registries


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class Scoring:
    """What an engine scores, and how.

    Attributes:
        inputs: reader of the inputs.
        outputs: writer of the predictions.
        model: the model, loaded (and checked) once by the job.
        batch_size: rows read, validated, predicted and written at once (memory is bounded by it).
        log_every: log the progress every this many batches (or partitions).
        sample_rows: rows of the first valid inputs given to `on_sample`.
        on_sample: called once, before the outputs are written, with a sample of the valid inputs
            (the job logs it as the lineage of its run).
    """

    inputs: datasets.ReaderKind
    outputs: datasets.WriterKind
    model: registries.LoadedModel
    batch_size: int
    log_every: int
    sample_rows: int
    on_sample: T.Callable[[pd.DataFrame], None]


@dataclasses.dataclass(frozen=True)
class Scored:
    """What an engine scored.

    Attributes:
        rows: predictions written.
        seconds: time spent reading, validating, predicting and writing (not starting a cluster).
        workers: processes that predicted.
        peak_memory: peak resident memory, in bytes, of the process that predicted the most.
    """

    rows: int
    seconds: float
    workers: int
    peak_memory: int


class Engine(abc.ABC, pdt.BaseModel, strict=True, frozen=True, extra="forbid"):
    """Score inputs with a model, batch by batch, and write the predictions atomically.

    Every engine applies the same rules (`validate`, then `predict`): each batch is validated
    against the inputs schema, predicted, and its outputs validated; a failure fails the whole job,
    names the batch and leaves no output behind.
    """

    KIND: str

    def check(self, inputs: datasets.ReaderKind, outputs: datasets.WriterKind) -> None:
        """Check that the engine can read these inputs and write these outputs (a `ValueError`)."""

    @abc.abstractmethod
    def score(self, scoring: Scoring) -> Scored:
        """Score the inputs and write the outputs, returning how many rows, how fast."""


def validate(batch: pd.DataFrame, origin: str) -> pd.DataFrame:
    """Return a batch of inputs validated by the inputs schema; an error names `origin`."""
    from bikes.core import schemas

    return schemas.InputsSchema.check(batch, origin=origin)


def predict(model: registries.LoadedModel, inputs: pd.DataFrame, origin: str) -> pd.DataFrame:
    """Predict valid inputs: the outputs, validated, with their hour and the model's version."""
    from bikes.core import schemas

    outputs = schemas.OutputsSchema.check(model.predict(inputs), origin=f"{origin} outputs")
    return outputs.assign(timestamp=schemas.hours(inputs), model_version=model.version)


def peak_memory() -> int:
    """Return the peak resident memory of this process, in bytes.

    Linux's `VmHWM` is the peak of this process alone, where `getrusage` reports at least the
    peak of the process that started it (a worker started by a big job would report the job's).
    """
    try:
        status = Path("/proc/self/status").read_text(encoding="utf-8")
    except OSError:  # not Linux: the peak since the process started (KiB, bytes on macOS)
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak if sys.platform == "darwin" else peak * 1024)
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024  # in kB
