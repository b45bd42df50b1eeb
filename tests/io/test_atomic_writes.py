"""Tests of atomic writes on failing file systems: full disk, read-only folder, denied access.

A failed write raises one `InfraError` naming the output and the reason, keeps the previous output
intact and leaves no temporary file. File systems are real: small tmpfs mounts (we run as root in
the container; the tests skip, saying why, where mounting is not allowed).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import typing as T
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from loguru import logger

from bikes.core.errors import InfraError
from bikes.io import datasets

Mount = T.Callable[[Path, str], Path]
NOBODY = 65534


@pytest.fixture
def mount() -> T.Iterator[Mount]:
    """Mount small tmpfs file systems on demand, and unmount them at teardown."""
    mounted: list[Path] = []

    def make(folder: Path, options: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        command = ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)]
        try:
            result = subprocess.run(command, capture_output=True, text=True, check=False)
        except FileNotFoundError:
            pytest.skip("no `mount` command to make a full or read-only file system")
        if result.returncode:
            pytest.skip(f"cannot mount a tmpfs here (no privilege?): {result.stderr.strip()}")
        mounted.append(folder)
        return folder

    yield make
    for folder in reversed(mounted):
        subprocess.run(["umount", str(folder)], check=True)


@pytest.fixture
def logs() -> T.Iterator[list[str]]:
    """Collect the messages logged with loguru during the test."""
    messages: list[str] = []
    handler = logger.add(lambda message: messages.append(message.record["message"]))
    yield messages
    logger.remove(handler)


def big_frame(rows: int = 100_000) -> pd.DataFrame:
    """Make a frame of random floats (about 0.8 MB a column in Parquet: it does not compress)."""
    rng = np.random.default_rng(0)
    return pd.DataFrame({"a": rng.random(rows), "b": rng.random(rows)})


@pytest.mark.parametrize("writer_type", [datasets.ParquetWriter, datasets.CSVWriter])
def test_full_disk_is_one_infra_error_and_keeps_the_old_file(
    tmp_path: Path, mount: Mount, writer_type: type[datasets.WriterKind]
) -> None:
    folder = mount(tmp_path / "disk", "size=256k")
    path = folder / "predictions.out"
    writer = writer_type(path=str(path))
    writer.write(big_frame(rows=10))
    old = path.read_bytes()
    with pytest.raises(InfraError) as error:
        writer.write(big_frame())
    assert str(error.value) == f"{path}: cannot write (No space left on device)"
    assert path.read_bytes() == old
    assert [item.name for item in folder.iterdir()] == ["predictions.out"]


@pytest.mark.parametrize("writer_type", [datasets.ParquetWriter, datasets.CSVWriter])
def test_read_only_folder_is_one_infra_error_and_keeps_the_old_file(
    tmp_path: Path, mount: Mount, writer_type: type[datasets.WriterKind]
) -> None:
    folder = mount(tmp_path / "disk", "size=1m")
    path = folder / "predictions.out"
    writer = writer_type(path=str(path))
    writer.write(big_frame(rows=10))
    old = path.read_bytes()
    subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
    with pytest.raises(InfraError) as error:
        writer.write(big_frame(rows=10))
    assert str(error.value) == f"{path}: cannot write (Read-only file system)"
    assert path.read_bytes() == old


def test_cleanup_never_hides_the_first_error(tmp_path: Path, mount: Mount) -> None:
    folder = mount(tmp_path / "disk", "ro")  # removing the temporary file fails here too
    with pytest.raises(RuntimeError, match="^first$"), datasets.atomic_path(folder / "out.txt"):
        raise RuntimeError("first")


@contextlib.contextmanager
def unprivileged() -> T.Iterator[None]:
    """Act as `nobody` (root may write anywhere): the effective user only, restored at exit."""
    if os.geteuid() != 0:
        yield
        return
    try:
        os.seteuid(NOBODY)
    except PermissionError:
        pytest.skip("root cannot act as another user here (no CAP_SETUID)")
    try:
        yield
    finally:
        os.seteuid(0)


@pytest.mark.parametrize("writer_type", [datasets.ParquetWriter, datasets.CSVWriter])
def test_permission_denied_is_one_infra_error_and_keeps_the_old_file(
    writer_type: type[datasets.WriterKind],
) -> None:
    with tempfile.TemporaryDirectory() as scratch:  # a folder that `nobody` may traverse
        Path(scratch).chmod(0o755)
        folder = Path(scratch) / "locked"
        path = folder / "predictions.out"
        writer = writer_type(path=str(path))
        writer.write(big_frame(rows=10))  # also imports what the writer needs, as root
        old = path.read_bytes()
        folder.chmod(0o555)
        with unprivileged(), pytest.raises(InfraError) as error:
            writer.write(big_frame(rows=10))
        assert str(error.value) == f"{path}: cannot write (Permission denied)"
        assert path.read_bytes() == old
        assert [item.name for item in folder.iterdir()] == ["predictions.out"]


@pytest.mark.slow
def test_next_write_removes_the_temporary_file_of_a_killed_run(
    tmp_path: Path, hours: pd.DataFrame, logs: list[str]
) -> None:
    path = tmp_path / "predictions.parquet"
    code = textwrap.dedent(f"""
        import time
        import pandas as pd
        from bikes.io import datasets

        def batches():
            yield pd.DataFrame({{"a": [1.0, 2.0]}})
            print("writing", flush=True)
            time.sleep(60)

        datasets.ParquetWriter(path={str(path)!r}).write_batches(batches())
    """)
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) as run:
        assert run.stdout is not None
        assert run.stdout.readline() == "writing\n"
        run.send_signal(signal.SIGKILL)
    stale = tmp_path / f".predictions.parquet.{run.pid}.tmp"
    assert stale.exists()
    live = tmp_path / f".predictions.parquet.{os.getppid()}.tmp"  # a write under way elsewhere
    live.write_bytes(b"")
    other = tmp_path / f".other.parquet.{run.pid}.tmp"  # another output's: not ours to remove
    other.write_bytes(b"")
    datasets.ParquetWriter(path=str(path)).write(hours)
    assert sorted(item.name for item in tmp_path.iterdir()) == sorted(
        [live.name, other.name, path.name]
    )
    assert logs == [
        f"Removed temporary files of runs that ended (killed?) beside {path}: {stale.name}"
    ]
