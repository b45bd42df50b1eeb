"""Tests of readers, writers and lineage."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bikes.core.errors import DataError
from bikes.io import datasets


def test_parquet_round_trip_keeps_index(tmp_path: Path, hours: pd.DataFrame) -> None:
    path = str(tmp_path / "out" / "hours.parquet")
    datasets.ParquetWriter(path=path).write(hours)
    reader = datasets.ParquetReader(path=path)
    pd.testing.assert_frame_equal(reader.read(), hours)
    batches = list(reader.read_batches(batch_size=500))
    assert [len(batch) for batch in batches] == [500, 500, 500, 500, 160]
    assert all(batch.index.name == "instant" for batch in batches)
    pd.testing.assert_frame_equal(pd.concat(batches), hours)


def test_limit_keeps_the_first_rows(tmp_path: Path, hours: pd.DataFrame) -> None:
    path = str(tmp_path / "hours.parquet")
    datasets.ParquetWriter(path=path).write(hours)
    limited = datasets.ParquetReader(path=path, limit=700)
    pd.testing.assert_frame_equal(limited.read(), hours.head(700))
    assert sum(len(batch) for batch in limited.read_batches(batch_size=300)) == 700


def test_csv_reader_and_writer(tmp_path: Path, hours: pd.DataFrame) -> None:
    path = str(tmp_path / "hours.csv")
    assert (
        datasets.CSVWriter(path=path).write_batches([hours.iloc[:1000], hours.iloc[1000:]]) == 2160
    )
    reader = datasets.CSVReader(path=path, index_col="instant")
    pd.testing.assert_frame_equal(reader.read(), hours)
    assert sum(len(batch) for batch in reader.read_batches(batch_size=1000)) == 2160
    assert len(datasets.CSVReader(path=path, limit=10).read()) == 10


def test_streaming_parquet_writer_writes_every_batch(tmp_path: Path, hours: pd.DataFrame) -> None:
    path = str(tmp_path / "streamed.parquet")
    source = datasets.ParquetWriter(path=str(tmp_path / "source.parquet"))
    source.write(hours)
    reader = datasets.ParquetReader(path=source.path)
    rows = datasets.ParquetWriter(path=path).write_batches(reader.read_batches(batch_size=333))
    assert rows == len(hours)
    pd.testing.assert_frame_equal(pd.read_parquet(path), hours)


def test_failed_write_leaves_nothing(tmp_path: Path, hours: pd.DataFrame) -> None:
    def batches() -> object:
        yield hours.head(10)
        raise RuntimeError("boom")

    path = tmp_path / "partial.parquet"
    with pytest.raises(RuntimeError, match="boom"):
        datasets.ParquetWriter(path=str(path)).write_batches(batches())  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("writer_type", [datasets.ParquetWriter, datasets.CSVWriter])
@pytest.mark.parametrize("batches", [[], [pd.DataFrame({"a": []})]], ids=["none", "empty"])
def test_writers_refuse_zero_rows_and_keep_the_previous_file(
    tmp_path: Path, writer_type: type[datasets.WriterKind], batches: list[pd.DataFrame]
) -> None:
    path = tmp_path / "kept.out"
    writer = writer_type(path=str(path))
    writer.write(pd.DataFrame({"a": [1, 2]}))
    old = path.read_bytes()
    with pytest.raises(DataError, match=f"^{path}: no rows to write$"):
        writer.write_batches(batches)
    assert path.read_bytes() == old
    assert [item.name for item in tmp_path.iterdir()] == ["kept.out"]


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_zero_rows_is_an_error_of_the_input(
    tmp_path: Path, hours: pd.DataFrame, suffix: str
) -> None:
    path = tmp_path / f"empty.{suffix}"
    empty = hours.head(0)
    reader: datasets.ReaderKind
    if suffix == "parquet":
        empty.to_parquet(path)
        reader = datasets.ParquetReader(path=str(path))
    else:
        empty.to_csv(path)
        reader = datasets.CSVReader(path=str(path), index_col="instant")
    with pytest.raises(DataError, match=f"^{path}: no rows$"):
        reader.read()
    with pytest.raises(DataError, match=f"^{path}: no rows$"):
        list(reader.read_batches(batch_size=10))
    with pytest.raises(DataError, match=f"^{path}: no rows$"):
        reader.model_copy(update={"limit": 5}).read()


@pytest.mark.parametrize("reader_type", [datasets.ParquetReader, datasets.CSVReader])
def test_missing_file_is_a_data_error(
    reader_type: type[datasets.ParquetReader | datasets.CSVReader],
) -> None:
    with pytest.raises(DataError, match=r"^missing.file: file not found$"):
        reader_type(path="missing.file").read()
    with pytest.raises(DataError, match=r"^missing.file: file not found$"):
        list(reader_type(path="missing.file").read_batches(10))


def test_corrupt_parquet_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.parquet"
    path.write_bytes(b"PAR1 not really parquet")
    with pytest.raises(DataError, match="corrupt.parquet: cannot read data"):
        datasets.ParquetReader(path=str(path)).read()


def test_lineage_describes_the_source(tmp_path: Path, hours: pd.DataFrame) -> None:
    path = str(tmp_path / "hours.parquet")
    reader = datasets.ParquetReader(path=path)
    datasets.ParquetWriter(path=path).write(hours)
    lineage = reader.lineage(name="hours", data=hours, targets="cnt")
    assert lineage.name == "hours"
    assert lineage.targets == "cnt"
    assert lineage.source.to_dict()["uri"] == path
    assert lineage.digest == reader.lineage(name="again", data=reader.read()).digest


def test_parquet_reader_reads_a_folder_of_parts_in_name_order(
    tmp_path: Path, hours: pd.DataFrame
) -> None:
    folder = tmp_path / "parts"
    folder.mkdir()
    for number, start in enumerate(range(0, len(hours), 1000)):  # 3 parts: 1000, 1000, 160
        hours.iloc[start : start + 1000].to_parquet(folder / f"part-{number}.parquet")
    (folder / ".part-9.parquet.123.tmp").write_bytes(b"a write under way: hidden, skipped")
    reader = datasets.ParquetReader(path=str(folder))

    batches = list(reader.read_batches(batch_size=400))

    assert max(len(batch) for batch in batches) == 400
    pd.testing.assert_frame_equal(pd.concat(batches), hours)
    pd.testing.assert_frame_equal(reader.read(), hours)
    limited = datasets.ParquetReader(path=str(folder), limit=1100)
    assert pd.concat(limited.read_batches(batch_size=400)).index.equals(hours.index[:1100])


def test_atomic_folder_replaces_a_file_or_a_folder_once_complete(tmp_path: Path) -> None:
    target = tmp_path / "predictions.parquet"
    target.write_text("a file of the local engine")

    with datasets.atomic_folder(target) as folder:
        (folder / "part-0.parquet").write_text("part")
        assert target.read_text() == "a file of the local engine"  # nothing visible yet
    assert [path.name for path in target.iterdir()] == ["part-0.parquet"]
    with datasets.atomic_path(target) as temporary:
        temporary.write_text("a file again")

    assert target.read_text() == "a file again"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["predictions.parquet"]


def test_failed_atomic_folder_keeps_the_previous_one_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "predictions.parquet"
    target.mkdir()
    (target / "part-0.parquet").write_text("previous")

    with pytest.raises(DataError), datasets.atomic_folder(target) as folder:
        (folder / "part-0.parquet").write_text("new")
        raise DataError("a partition failed")

    assert sorted(path.name for path in tmp_path.iterdir()) == ["predictions.parquet"]
    assert (target / "part-0.parquet").read_text() == "previous"


def test_stale_temporary_folders_of_dead_runs_are_removed(tmp_path: Path) -> None:
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    target = tmp_path / "predictions.parquet"
    for suffix in ("tmp", "old"):  # killed while writing, or while moving the new output in
        stale = tmp_path / f".predictions.parquet.{dead.pid}.{suffix}"
        stale.mkdir()
        (stale / "part-0.parquet").write_text("stale")

    with datasets.atomic_folder(target) as folder:
        (folder / "part-0.parquet").write_text("new")

    assert sorted(path.name for path in tmp_path.iterdir()) == ["predictions.parquet"]
