"""Partitions of a Parquet dataset: slices of row groups that workers read on their own.

A dataset is a Parquet file or a folder of parts (hidden files skipped, parts in name order), on a
local or shared disk or on object storage (any URI that pyarrow's file systems open: `s3://`,
`gs://`, `hdfs://`...). Only the footers are read to cut it: workers read the rows.
"""

from __future__ import annotations

import dataclasses
import math
import typing as T
from pathlib import Path

from bikes.io import datasets

if T.TYPE_CHECKING:
    import pandas as pd
    from pyarrow import fs
    from pyarrow.parquet import FileMetaData


@dataclasses.dataclass(frozen=True)
class Partition:
    """Consecutive row groups of one file of a dataset.

    Attributes:
        number: position of the partition in the dataset (its output is `part-<number>.parquet`).
        file: the file: an absolute local path or a URI.
        row_groups: row groups of the file to read.
        offset: rows of the file before the first row group (to restore a range index).
        rows: rows to keep (fewer than the row groups hold when the reader has a limit).
    """

    number: int
    file: str
    row_groups: tuple[int, ...]
    offset: int
    rows: int

    @property
    def name(self) -> str:
        """Return the name of the partition's part in the output folder."""
        return f"part-{self.number:05d}.parquet"

    def origin(self, batch: int | None = None) -> str:
        """Name the partition (and a batch of it) in messages."""
        where = f"partition {self.number}" + (f", batch {batch}" if batch else "")
        return f"{self.file} ({where})"


def filesystem(path: str) -> tuple[fs.FileSystem, str]:
    """Return the file system of a local path or a URI, and the path in it (absolute if local)."""
    from pyarrow import fs

    if "://" in path:
        return T.cast("tuple[fs.FileSystem, str]", fs.FileSystem.from_uri(path))
    return fs.LocalFileSystem(), str(Path(path).resolve())


def plan(path: str, max_rows: int, limit: int | None = None) -> list[Partition]:
    """Cut a dataset into partitions of at most `max_rows` rows (or of one bigger row group).

    Args:
        path: the Parquet file or folder of parts, local or a URI.
        max_rows: rows of a partition at most, unless one row group holds more.
        limit: keep only the first rows of the dataset (all when None).

    Raises:
        DataError: the dataset cannot be read.
    """
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    try:
        system, root = filesystem(path)
        files = sorted(ds.dataset(root, filesystem=system, format="parquet").files)
        footers = [(file, pq.ParquetFile(file, filesystem=system).metadata) for file in files]
    except Exception as error:
        raise datasets.data_error(path, error) from error
    scheme = f"{path.split('://', 1)[0]}://" if "://" in path else ""
    partitions: list[Partition] = []
    left = math.inf if limit is None else limit
    for file, metadata in footers:
        offset = 0
        for groups, rows in slices(metadata, max_rows):
            kept = int(min(rows, left))
            partitions.append(Partition(len(partitions), scheme + file, groups, offset, kept))
            offset, left = offset + rows, left - kept
            if left <= 0:
                return partitions
    return partitions


def slices(metadata: FileMetaData, max_rows: int) -> T.Iterator[tuple[tuple[int, ...], int]]:
    """Yield consecutive row groups of a file holding at most `max_rows` rows, and their rows."""
    groups: list[int] = []
    rows = 0
    for index in range(metadata.num_row_groups):
        size = metadata.row_group(index).num_rows
        if groups and rows + size > max_rows:
            yield tuple(groups), rows
            groups, rows = [], 0
        groups.append(index)
        rows += size
    if groups:
        yield tuple(groups), rows


def read(partition: Partition, batch_size: int) -> T.Iterator[pd.DataFrame]:
    """Read the rows of a partition in batches of at most `batch_size` rows.

    Raises:
        DataError: the file cannot be read.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        system, path = filesystem(partition.file)
        file = pq.ParquetFile(path, filesystem=system)
        schema = file.schema_arrow
        left = partition.rows
        batches = file.iter_batches(batch_size=batch_size, row_groups=list(partition.row_groups))
        frames: T.Iterator[pd.DataFrame] = (
            pa.Table.from_batches([batch], schema=schema).to_pandas() for batch in batches
        )
        ranged = datasets.range_index(schema)
        if ranged:
            start = ranged["start"] + partition.offset * ranged["step"]
            frames = datasets.with_range_index(frames, ranged | {"start": start})
        for frame in frames:
            if left <= 0:
                return
            yield frame.iloc[:left]
            left -= len(frame)
    except Exception as error:
        raise datasets.data_error(partition.origin(), error) from error
