"""The local engine: pandas in the job's own process, one batch after the other."""

from __future__ import annotations

import time
import typing as T

from loguru import logger

from bikes.io.engines.base import Engine, Scored, Scoring, peak_memory, predict, validate

if T.TYPE_CHECKING:
    import pandas as pd


class LocalEngine(Engine):
    """Read, validate, predict and write the inputs batch by batch, in this process.

    No batch is kept once written, so memory depends on `batch_size`, not on the size of the
    inputs. Reads any reader (a Parquet file or folder of parts, a CSV file); writes one file.
    """

    KIND: T.Literal["LocalEngine"] = "LocalEngine"

    @T.override
    def score(self, scoring: Scoring) -> Scored:
        start = time.perf_counter()
        rows = scoring.outputs.write_batches(self.predictions(scoring))
        return Scored(rows, time.perf_counter() - start, workers=1, peak_memory=peak_memory())

    def predictions(self, scoring: Scoring) -> T.Iterator[pd.DataFrame]:
        """Read, validate and predict the inputs batch by batch, logging the progress."""
        start, rows = time.perf_counter(), 0
        batches = scoring.inputs.read_batches(scoring.batch_size)
        for number, batch in enumerate(batches, start=1):
            origin = f"{scoring.inputs.path} (batch {number})"
            inputs = validate(batch, origin)
            if number == 1:
                scoring.on_sample(inputs.head(scoring.sample_rows))
            outputs = predict(scoring.model, inputs, origin)
            rows += len(outputs)
            if number % scoring.log_every == 0:
                speed = rows / max(time.perf_counter() - start, 1e-9)
                logger.info("Predicted {} rows in {} batches ({:.0f} rows/s)", rows, number, speed)
            yield outputs
