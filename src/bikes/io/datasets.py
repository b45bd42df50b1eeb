"""Read and write data frames (Parquet, CSV) and describe them as MLflow datasets (lineage)."""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import errno
import os
import re
import shutil
import typing as T
from pathlib import Path

import pydantic as pdt
from loguru import logger

from bikes.core.errors import DataError, InfraError

if T.TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    from mlflow.data.pandas_dataset import PandasDataset

Lineage: T.TypeAlias = "PandasDataset"

# errors of the storage, not of the data or the code: the disk is full or denies the write
STORAGE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM}
)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> T.Iterator[Path]:
    """Yield a temporary path beside `path`, moved into place only if the block succeeds.

    The previous file at `path` stays intact on any failure. A full disk or a denied write raises
    one `InfraError` naming `path` and the reason; removing the temporary file never hides the
    first error. Temporary files that killed runs left beside `path` are removed first.

    Raises:
        InfraError: the storage refused the write (full, read-only or denied).
    """
    target = Path(path)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(target)
        yield temporary
        move_into_place(temporary, target)
    except OSError as error:
        paths = {temporary, target, *target.parents}
        if error.errno not in STORAGE_ERRNOS or error.filename not in {None, *map(str, paths)}:
            raise  # not the storage of this output (e.g. an input read lazily by the block)
        reason = os.strerror(error.errno)
        raise InfraError(f"{path}: cannot write ({reason})") from error
    finally:
        with contextlib.suppress(OSError):  # the failure that matters is the first one
            remove(temporary)


@contextlib.contextmanager
def atomic_folder(path: str | Path) -> T.Iterator[Path]:
    """Yield a new temporary folder beside `path`, moved into place only if the block succeeds.

    The folder of a partitioned output (one file a part), written as `atomic_path` writes a file:
    nothing is visible at `path` until every part is written, and the previous output (a file or
    a folder) stays intact on any failure.

    Raises:
        InfraError: the storage refused the write (full, read-only or denied).
    """
    with atomic_path(path) as temporary:
        temporary.mkdir()
        yield temporary


def move_into_place(temporary: Path, target: Path) -> None:
    """Move a written file or folder to `target`, replacing what was there (a file or a folder).

    A file replaces a file atomically. A folder, or a file over a folder, cannot replace it in one
    step: the previous output is moved aside first, then removed once the new one is in place.
    """
    if not target.is_dir() and not temporary.is_dir():
        temporary.replace(target)
        return
    previous = target.with_name(f".{target.name}.{os.getpid()}.old")
    if target.exists():
        target.rename(previous)
    temporary.rename(target)
    with contextlib.suppress(OSError):  # the output is in place: a leftover is removed next time
        remove(previous)


def remove(path: Path) -> None:
    """Remove a file or a folder, if it exists."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def remove_stale_temporaries(target: Path) -> None:
    """Remove the temporary files (and folders) of `target` left by runs that ended (e.g. killed).

    A file whose process id is alive is kept (a write under way, or an id reused since). Ids are
    those of this machine: in a folder that several machines write, the write under way of another
    one would fail (never half-written), so give each machine its own output paths.
    """
    pattern = re.compile(rf"\.{re.escape(target.name)}\.(\d+)\.(tmp|old)")
    removed = []
    for entry in target.parent.iterdir():
        match = pattern.fullmatch(entry.name)
        if not match or is_alive(int(match.group(1))):
            continue
        try:
            remove(entry)
        except OSError:  # removed by another run meanwhile, or not ours to remove: write anyway
            continue
        removed.append(entry.name)
    if removed:
        names = ", ".join(sorted(removed))
        logger.warning(
            "Removed temporary files of runs that ended (killed?) beside {}: {}", target, names
        )


def is_alive(pid: int) -> bool:
    """Tell whether a process runs with this id (of any user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, as another user
        pass
    return True


def data_error(path: str, error: Exception) -> DataError:
    """Turn a reader's exception into a one-line error naming the file."""
    if isinstance(error, FileNotFoundError):
        return DataError(f"{path}: file not found")
    if isinstance(error, IsADirectoryError | PermissionError):
        return DataError(f"{path}: cannot read file ({error.strerror})")
    detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return DataError(f"{path}: cannot read data ({detail})")


def some_rows(path: str, data: pd.DataFrame) -> pd.DataFrame:
    """Return the data read from `path`, raising a `DataError` when it has no rows."""
    if not len(data):
        raise DataError(f"{path}: no rows")
    return data


def nonempty_batches(path: str, batches: T.Iterable[pd.DataFrame]) -> T.Iterator[pd.DataFrame]:
    """Yield the batches that have rows, raising a `DataError` at the end when none had any."""
    rows = 0
    for batch in batches:
        if len(batch):
            rows += len(batch)
            yield batch
    if not rows:
        raise DataError(f"{path}: no rows")


class Reader(abc.ABC, pdt.BaseModel, strict=True, frozen=True, extra="forbid"):
    """Read a data frame from a source: a source without rows is a `DataError` (`no rows`).

    Attributes:
        limit: keep only the first rows (for quick runs), all when None.
    """

    KIND: str
    limit: int | None = pdt.Field(default=None, gt=0)

    @abc.abstractmethod
    def read(self) -> pd.DataFrame:
        """Read the whole data frame (up to `limit` rows)."""

    @abc.abstractmethod
    def read_batches(self, batch_size: int) -> T.Iterator[pd.DataFrame]:
        """Read the data frame in batches of 1 to `batch_size` rows, with flat memory."""

    @abc.abstractmethod
    def lineage(
        self,
        name: str,
        data: pd.DataFrame,
        targets: str | None = None,
        predictions: str | None = None,
    ) -> Lineage:
        """Describe the data read as an MLflow dataset (source, digest, schema)."""


class FileReader(Reader):
    """Read a data frame from a local file.

    Attributes:
        path: path of the file.
    """

    path: str

    @T.override
    def lineage(
        self,
        name: str,
        data: pd.DataFrame,
        targets: str | None = None,
        predictions: str | None = None,
    ) -> Lineage:
        import warnings

        from mlflow.data.pandas_dataset import from_pandas

        with warnings.catch_warnings():  # a local path matches two equivalent MLflow sources
            warnings.filterwarnings("ignore", message="The specified dataset source")
            return from_pandas(
                df=data,
                source=str(Path(self.path).resolve()),  # a lineage that names the file anywhere
                name=name,
                targets=targets,
                predictions=predictions,
            )

    def limited(self, batches: T.Iterator[pd.DataFrame]) -> T.Iterator[pd.DataFrame]:
        """Stop the batches once `limit` rows have been read."""
        remaining = self.limit
        for batch in batches:
            if remaining is None:
                yield batch
                continue
            yield batch.iloc[:remaining]
            remaining -= len(batch)
            if remaining <= 0:
                return


class ParquetReader(FileReader):
    """Read a data frame from a Parquet file, or from a folder of Parquet parts.

    The parts of a folder are read one after the other, in name order (hidden files skipped, as
    pyarrow skips them), each with its own index restored, as the Dask engine reads them.
    """

    KIND: T.Literal["ParquetReader"] = "ParquetReader"

    @T.override
    def read(self) -> pd.DataFrame:
        import pandas as pd

        if self.limit is not None or Path(self.path).is_dir():
            return pd.concat(self.read_batches(batch_size=self.limit or 1_000_000))
        try:
            data = pd.read_parquet(self.path)
        except Exception as error:
            raise data_error(self.path, error) from error
        return some_rows(self.path, data)

    @T.override
    def read_batches(self, batch_size: int) -> T.Iterator[pd.DataFrame]:
        batches = (batch for file in self.files() for batch in parquet_batches(file, batch_size))
        yield from self.limited(nonempty_batches(self.path, batches))

    def files(self) -> list[str]:
        """Return the file, or the parts of the folder in name order."""
        import pyarrow.dataset as ds

        if not Path(self.path).is_dir():
            return [self.path]
        try:
            return sorted(ds.dataset(self.path, format="parquet").files)
        except Exception as error:
            raise data_error(self.path, error) from error


def parquet_batches(path: str, batch_size: int) -> T.Iterator[pd.DataFrame]:
    """Read a Parquet file in batches, restoring its index (a range index too)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        file = pq.ParquetFile(path)
    except Exception as error:
        raise data_error(path, error) from error
    schema = file.schema_arrow
    batches: T.Iterator[pd.DataFrame] = (
        pa.Table.from_batches([batch], schema=schema).to_pandas()
        for batch in file.iter_batches(batch_size=batch_size)
    )
    ranged = range_index(schema)
    yield from with_range_index(batches, ranged) if ranged else batches


def range_index(schema: pa.Schema) -> dict[str, T.Any] | None:
    """Return the metadata of the range index that pandas stored in a Parquet schema (or None)."""
    indexes = (schema.pandas_metadata or {}).get("index_columns", [])
    ranges = [
        index for index in indexes if isinstance(index, dict) and index.get("kind") == "range"
    ]
    return ranges[0] if ranges else None


def with_range_index(
    frames: T.Iterable[pd.DataFrame], metadata: dict[str, T.Any]
) -> T.Iterator[pd.DataFrame]:
    """Restore, batch by batch, the range index that pandas stored as Parquet metadata only."""
    import pandas as pd

    start, step, offset = int(metadata["start"]), int(metadata["step"]), 0
    for frame in frames:
        begin = start + offset * step
        frame.index = pd.RangeIndex(begin, begin + len(frame) * step, step, name=metadata["name"])
        offset += len(frame)
        yield frame


class CSVReader(FileReader):
    """Read a data frame from a CSV file.

    Attributes:
        index_col: column to use as the index (e.g. `instant`), none when None.
    """

    KIND: T.Literal["CSVReader"] = "CSVReader"
    index_col: str | None = None

    @T.override
    def read(self) -> pd.DataFrame:
        import pandas as pd

        try:
            data = pd.read_csv(self.path, index_col=self.index_col, nrows=self.limit)
        except Exception as error:
            raise data_error(self.path, error) from error
        return some_rows(self.path, data)

    @T.override
    def read_batches(self, batch_size: int) -> T.Iterator[pd.DataFrame]:
        import pandas as pd

        try:
            with pd.read_csv(self.path, index_col=self.index_col, chunksize=batch_size) as chunks:
                yield from self.limited(nonempty_batches(self.path, chunks))
        except DataError:
            raise
        except Exception as error:
            raise data_error(self.path, error) from error


ReaderKind = ParquetReader | CSVReader


class Writer(abc.ABC, pdt.BaseModel, strict=True, frozen=True, extra="forbid"):
    """Write a data frame atomically: a failed job never leaves a half-written output.

    Writing zero rows is a `DataError` (`no rows to write`) of every writer alike, and the previous
    file stays: an empty output is never a silent success.

    Attributes:
        path: path of the file to write.
    """

    KIND: str
    path: str

    def write(self, data: pd.DataFrame) -> None:
        """Write a whole data frame."""
        self.write_batches([data])

    def write_batches(self, batches: T.Iterable[pd.DataFrame]) -> int:
        """Write a stream of data frames as one file, and return the number of rows written.

        Raises:
            DataError: no batch had any row.
            InfraError: the storage refused the write (full, read-only or denied).
        """
        with atomic_path(self.path) as temporary:
            rows = self.write_file(temporary, (batch for batch in batches if len(batch)))
            if not rows:
                raise DataError(f"{self.path}: no rows to write")
        return rows

    @abc.abstractmethod
    def write_file(self, path: Path, batches: T.Iterable[pd.DataFrame]) -> int:
        """Write batches (none of them empty) to `path` as one file, and return the rows written."""


class ParquetWriter(Writer):
    """Write a data frame to a Parquet file (index included)."""

    KIND: T.Literal["ParquetWriter"] = "ParquetWriter"

    @T.override
    def write_file(self, path: Path, batches: T.Iterable[pd.DataFrame]) -> int:
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = 0
        writer: pq.ParquetWriter | None = None
        try:
            for batch in batches:
                table = pa.Table.from_pandas(batch, preserve_index=True)
                if writer is None:
                    writer = pq.ParquetWriter(path, table.schema)
                writer.write_table(table.cast(writer.schema))
                rows += len(batch)
        except BaseException:
            if writer is not None:
                with contextlib.suppress(Exception):  # the first error is the one to report
                    writer.close()
            raise
        if writer is not None:
            writer.close()
        return rows


class CSVWriter(Writer):
    """Write a data frame to a CSV file (index included)."""

    KIND: T.Literal["CSVWriter"] = "CSVWriter"

    @T.override
    def write_file(self, path: Path, batches: T.Iterable[pd.DataFrame]) -> int:
        rows = 0
        for batch in batches:
            batch.to_csv(path, mode="a" if rows else "w", header=not rows)
            rows += len(batch)
        return rows


WriterKind = ParquetWriter | CSVWriter


@dataclasses.dataclass(frozen=True)
class Labelled:
    """Inputs and their targets: the same rows, in the same order."""

    inputs: pd.DataFrame
    targets: pd.DataFrame


def read_labelled(inputs: ReaderKind, targets: ReaderKind) -> Labelled:
    """Read and validate inputs and their targets, checking that they hold the same rows."""
    from bikes.core import schemas

    data = Labelled(
        schemas.InputsSchema.check(inputs.read(), origin=inputs.path),
        schemas.TargetsSchema.check(targets.read(), origin=targets.path),
    )
    if not data.inputs.index.equals(data.targets.index):
        raise DataError(
            f"{inputs.path} and {targets.path}: inputs ({len(data.inputs)} rows) and targets"
            f" ({len(data.targets)} rows) do not have the same index"
        )
    return data


def concat(parts: T.Sequence[Labelled]) -> Labelled:
    """Put labelled parts one after the other (e.g. the train then the test split)."""
    import pandas as pd

    inputs = pd.concat([part.inputs for part in parts])
    if not inputs.index.is_unique:
        raise DataError("labelled parts share rows: the same index is in more than one part")
    return Labelled(inputs, pd.concat([part.targets for part in parts]))
