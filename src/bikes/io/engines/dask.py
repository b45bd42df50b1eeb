"""The Dask engine: the partitions of a Parquet dataset scored in parallel on a Dask cluster."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import time
import typing as T
from pathlib import Path

import pydantic as pdt
from loguru import logger

from bikes.core.errors import BikesError, DataError, InfraError
from bikes.io import datasets
from bikes.io.engines import partitions
from bikes.io.engines.base import Engine, Scored, Scoring, peak_memory, predict, validate

if T.TYPE_CHECKING:
    from distributed import Client, Future

    from bikes.io import registries


class DaskEngine(Engine):
    """Score the partitions of a Parquet dataset in parallel, on a Dask cluster.

    With `address: null`, the engine starts a `LocalCluster` of `n_workers` processes on this
    machine, and stops it at the end; with an address (e.g. `tcp://scheduler:8786`), it joins the
    workers of that scheduler, which must have this package installed (`bikes[dask]`) and see the
    inputs and the outputs at the same paths (a shared folder) or URIs.

    The inputs (a Parquet file or a folder of parts, local or on object storage) are cut into
    partitions of consecutive row groups (`partitions.plan`). Each worker reads, validates and
    predicts a partition in batches of `batch_size` rows, under the same rules as the local engine,
    and writes it as one part of the output folder. The model is loaded and checked once by the
    job, then sent once to each worker. The parts are written in a temporary folder, moved into
    place once all are written: a failed partition fails the job, naming it, and leaves no output.

    Attributes:
        address: address of the scheduler to join; None to start a local cluster.
        n_workers: worker processes of the local cluster (one machine: up to its cores).
        threads_per_worker: threads of each worker of the local cluster.
        partition_rows: rows of a partition at most (unless one row group holds more).
        connect_timeout: seconds to reach the scheduler and find a worker.
    """

    KIND: T.Literal["DaskEngine"] = "DaskEngine"

    address: str | None = pdt.Field(default=None, min_length=1)
    n_workers: int = pdt.Field(default=2, gt=0)
    threads_per_worker: int = pdt.Field(default=1, gt=0)
    partition_rows: int = pdt.Field(default=1_000_000, gt=0)
    connect_timeout: float = pdt.Field(default=30.0, gt=0)

    @T.override
    def check(self, inputs: datasets.ReaderKind, outputs: datasets.WriterKind) -> None:
        if not isinstance(inputs, datasets.ParquetReader):
            raise ValueError(f"{self.KIND} reads Parquet inputs only, not {inputs.KIND}")
        if not isinstance(outputs, datasets.ParquetWriter):
            raise ValueError(f"{self.KIND} writes Parquet outputs only, not {outputs.KIND}")

    @T.override
    def score(self, scoring: Scoring) -> Scored:
        plan = partitions.plan(scoring.inputs.path, self.partition_rows, scoring.inputs.limit)
        first = next((partition for partition in plan if partition.rows), None)
        if first is None:
            raise DataError(f"{scoring.inputs.path}: no rows")
        sample = next(partitions.read(first, min(scoring.sample_rows, scoring.batch_size)))
        scoring.on_sample(validate(sample, first.origin(batch=1)))
        with self.client() as client, datasets.atomic_folder(scoring.outputs.path) as folder:
            start = time.perf_counter()
            model = client.scatter(scoring.model, broadcast=True, hash=False)
            task = functools.partial(  # `batch_size` is also an argument of `client.map`
                score_partition,
                folder=str(folder.resolve()),  # as workers elsewhere see it (a shared disk)
                output=scoring.outputs.path,
                batch_size=scoring.batch_size,
            )
            futures = client.map(task, plan, model=model, pure=False)
            rows = self.collect(client, dict(zip(futures, plan, strict=True)), scoring.log_every)
            seconds = time.perf_counter() - start
            peaks = client.run(peak_memory)
            if not rows:
                raise DataError(f"{scoring.outputs.path}: no rows to write")
        return Scored(rows, seconds, workers=len(peaks), peak_memory=max(peaks.values()))

    @contextlib.contextmanager
    def client(self) -> T.Iterator[Client]:
        """Yield a client of a new local cluster, or of the scheduler at `address`."""
        from distributed import Client, LocalCluster

        through_root_logger("distributed")
        if self.address is None:
            logger.info("Starting a local Dask cluster of {} workers", self.n_workers)
            with (
                LocalCluster(
                    n_workers=self.n_workers,
                    threads_per_worker=self.threads_per_worker,
                    processes=True,
                    dashboard_address="127.0.0.1:0",  # any free port, on this machine only
                ) as cluster,
                Client(cluster) as client,
            ):
                yield client
            return
        try:
            client = Client(self.address, timeout=self.connect_timeout)
        except (OSError, TimeoutError) as error:
            raise InfraError(f"{self.address}: cannot reach the Dask scheduler ({error})") from None
        with client:
            try:
                client.wait_for_workers(1, timeout=self.connect_timeout)
            except TimeoutError:
                raise InfraError(f"{self.address}: no Dask worker joined the scheduler") from None
            workers = len(client.scheduler_info()["workers"])
            logger.info("Joined the Dask scheduler at {} ({} workers)", self.address, workers)
            yield client

    def collect(
        self, client: Client, plan: dict[Future[int], partitions.Partition], every: int
    ) -> int:
        """Wait for the partitions, logging the progress; cancel the others when one fails."""
        from distributed import as_completed

        start, rows, done = time.perf_counter(), 0, 0
        try:
            for future in as_completed(plan):
                rows += result(future, plan[future])
                done += 1
                if done % every == 0 or done == len(plan):
                    speed = rows / max(time.perf_counter() - start, 1e-9)
                    logger.info(
                        "Predicted {} rows in {}/{} partitions ({:.0f} rows/s)",
                        rows,
                        done,
                        len(plan),
                        speed,
                    )
        finally:
            client.cancel(list(plan))
        return rows


def through_root_logger(name: str) -> None:
    """Send the logs of a library that installs its own handler through the root logger.

    Dask's distributed logs at INFO to its own handler once imported: reset, it logs through the
    handler of `LoggerService` from the libraries' level, as MLflow and Optuna do.
    """
    library = logging.getLogger(name)
    library.handlers, library.propagate = [], True
    library.setLevel(logging.NOTSET)


def result(future: Future[int], partition: partitions.Partition) -> int:
    """Return the rows of a scored partition, or raise its error naming the partition."""
    from distributed import KilledWorker

    try:
        return int(future.result())
    except BikesError:
        raise  # it names the partition already
    except (KilledWorker, OSError, TimeoutError) as error:  # the cluster failed, not the data
        raise InfraError(
            f"{partition.origin()}: failed on the Dask cluster ({type(error).__name__}: {error})"
        ) from error
    except Exception as error:
        error.add_note(f"while scoring {partition.origin()}")
        raise


def score_partition(
    partition: partitions.Partition,
    folder: str,
    output: str,
    model: registries.LoadedModel,
    batch_size: int,
) -> int:
    """Score a partition on a worker and write it as a part of `folder`; return its rows.

    Raises:
        DataError: a batch cannot be read or violates a schema (named by partition and batch).
        InfraError: the storage of `output` refused the write.
    """
    batches = partitions.read(partition, batch_size)
    outputs = (
        predict(model, validate(batch, partition.origin(number)), partition.origin(number))
        for number, batch in enumerate(batches, start=1)
    )
    path = Path(folder) / partition.name
    try:
        return datasets.ParquetWriter(path=str(path)).write_file(path, outputs)
    except BikesError as error:  # sent back without its cause (pandera's holds the batch)
        error.__cause__ = error.__context__ = None
        raise
    except OSError as error:
        if error.errno not in datasets.STORAGE_ERRNOS:
            raise
        raise InfraError(f"{output}: cannot write ({os.strerror(error.errno)})") from error
