"""Prepare the data: obtain the UCI hourly file, verify it, validate it, split it in time."""

from __future__ import annotations

import dataclasses
import os
import typing as T
from pathlib import Path

import pydantic as pdt
from loguru import logger

from bikes.io import catalog, datasets
from bikes.jobs import base
from bikes.utils import splitters

UCI_URL = "https://archive.ics.uci.edu/static/public/275/bike+sharing+dataset.zip"
HOUR_SHA256 = "e03de4ee4ef4dc376ac6e04bf829673c6269e8eba5c60fa121640fa2f829504f"


def default_source() -> str:
    """Return `BIKES_DATA_SOURCE` if set, else the public UCI archive."""
    return os.getenv("BIKES_DATA_SOURCE") or UCI_URL


@dataclasses.dataclass(frozen=True)
class PreparationResult(base.Result):
    """The verified source and the splits written."""

    source: str
    sha256: str
    train_rows: int
    test_rows: int
    paths: list[str]


class PreparationJob(base.Job):
    """Obtain `hour.csv`, check its SHA-256 and schema, and write chronological train/test splits.

    Attributes:
        source: URL (http, s3, gs, az), local path or `file://` URL of the zip archive or of
            `hour.csv` (`BIKES_DATA_SOURCE`, or the public UCI archive).
        sha256: expected SHA-256 of `hour.csv`.
        cache_dir: folder of downloads.
        splitter: chronological split (the last 20% of hours to test by default).
        inputs_train: writer of the train inputs.
        targets_train: writer of the train targets.
        inputs_test: writer of the test inputs.
        targets_test: writer of the test targets.
    """

    KIND: T.Literal["PreparationJob"] = "PreparationJob"
    uses_mlflow: T.ClassVar[bool] = False

    source: str = pdt.Field(default_factory=default_source)
    sha256: str = pdt.Field(default=HOUR_SHA256, pattern=r"^[0-9a-fA-F]{64}$")
    cache_dir: str = catalog.path("cache")
    splitter: splitters.TrainTestSplitter = splitters.TrainTestSplitter()
    inputs_train: datasets.WriterKind = pdt.Field(
        default=catalog.writer("inputs_train"), discriminator="KIND"
    )
    targets_train: datasets.WriterKind = pdt.Field(
        default=catalog.writer("targets_train"), discriminator="KIND"
    )
    inputs_test: datasets.WriterKind = pdt.Field(
        default=catalog.writer("inputs_test"), discriminator="KIND"
    )
    targets_test: datasets.WriterKind = pdt.Field(
        default=catalog.writer("targets_test"), discriminator="KIND"
    )

    @T.override
    def reads(self) -> list[str]:
        return [] if "://" in self.source else [self.source]  # a URL: its checksum stands for it

    @T.override
    def run(self) -> PreparationResult:
        from bikes.core import schemas
        from bikes.io import sources

        # obtain
        cache_dir = Path(self.cache_dir)
        archive = sources.fetch(self.source, cache_dir=cache_dir)
        path = sources.extract(archive, member="hour.csv", cache_dir=cache_dir)
        sources.verify(path, expected=self.sha256)
        logger.info("Verified SHA-256 of {}", path)
        # validate
        raw = datasets.CSVReader(path=str(path), index_col="instant").read()
        raw = schemas.RawSchema.check(raw, origin=str(path)).sort_index()
        logger.info("Read {} hours from {} to {}", len(raw), raw.dteday.min(), raw.dteday.max())
        # split
        train_index, test_index = next(self.splitter.split(raw))
        train, test = raw.iloc[train_index], raw.iloc[test_index]
        # write
        outputs = [
            (self.inputs_train, schemas.InputsSchema.check(train)),
            (self.targets_train, schemas.TargetsSchema.check(train)),
            (self.inputs_test, schemas.InputsSchema.check(test)),
            (self.targets_test, schemas.TargetsSchema.check(test)),
        ]
        for writer, data in outputs:
            writer.write(data)
            logger.info("Wrote {} rows to {}", len(data), writer.path)
        self.alerts_service.notify(
            title="Preparation Job Finished",
            message=f"{len(train)} train and {len(test)} test hours",
        )
        return PreparationResult(
            str(path), self.sha256, len(train), len(test), [writer.path for writer, _ in outputs]
        )
