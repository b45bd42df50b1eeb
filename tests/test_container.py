"""Tests of the image, built offline (`inv containers.build --offline`) and run with no network.

They need a Docker engine: `dockerd` is started here (as root) when it is installed but not
running, and stopped at the end. The first build also needs debootstrap and Debian's mirror (the
base image) and the package index (the wheelhouse); later builds come from the cache.
Run them with `uv run pytest -m container -n 0 --no-cov`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import typing as T
from pathlib import Path

import pandas as pd
import pytest
from invoke.config import Config
from invoke.context import Context
from invoke.exceptions import Exit
from tasks import containers

pytestmark = pytest.mark.container

ROOT = Path(__file__).parents[1]
IMAGE = "bikes-test"
ENGINE_SECONDS = 60  # for dockerd to answer
RUN_SECONDS = 300  # for a container to end (the jobs take seconds, the first start longer)
STOP_SECONDS = 10  # docker stop's grace period, after which it kills the container (exit 137)


def docker(*args: str, timeout: float = RUN_SECONDS) -> subprocess.CompletedProcess[str]:
    """Run a docker command and return its result, whatever its exit code."""
    command = ["docker", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def answers() -> bool:
    """Tell whether a Docker engine answers."""
    return docker("info", timeout=ENGINE_SECONDS).returncode == 0


def start_engine(log: T.IO[str]) -> subprocess.Popen[bytes]:
    """Start dockerd and wait until it answers, or skip the tests saying why it cannot start."""
    if os.geteuid() != 0 or shutil.which("dockerd") is None:
        pytest.skip("no Docker engine answers, and dockerd cannot start here (root, docker.io)")
    process = subprocess.Popen(["dockerd"], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + ENGINE_SECONDS
    while process.poll() is None and time.monotonic() < deadline and not answers():
        time.sleep(1)
    if process.poll() is None and answers():
        return process
    stop_engine(process)
    log.seek(0)
    last = (log.read().strip().splitlines() or ["no output"])[-1]
    pytest.skip(f"dockerd did not start: {last}")


def stop_engine(process: subprocess.Popen[bytes]) -> None:
    """Stop the dockerd this module started."""
    process.terminate()
    try:
        process.wait(timeout=ENGINE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=ENGINE_SECONDS)


@pytest.fixture(scope="module")
def engine() -> T.Iterator[None]:
    """Make sure a Docker engine answers: the running one, or a dockerd started for the module."""
    if shutil.which("docker") is None:
        pytest.skip("no docker client (apt-get install docker.io)")
    if answers():
        yield
        return
    with tempfile.TemporaryFile("w+") as log:
        process = start_engine(log)
        try:
            yield
        finally:
            stop_engine(process)


@pytest.fixture(scope="module")
def image(engine: None) -> str:
    """Build the image offline (from the build cache after the first time) and return its name."""
    base = f"{containers.BASE}:{containers.RELEASE}"
    if docker("image", "inspect", base).returncode and shutil.which("debootstrap") is None:
        pytest.skip(f"no {base} image, and debootstrap is missing to make it (apt-get)")
    with contextlib.chdir(ROOT):
        try:
            ctx = Context(Config(overrides={"run": {"in_stream": False}}))  # pytest has no stdin
            containers.build(ctx, offline=True, image=IMAGE)
        except Exit as error:  # no client that builds with BuildKit
            pytest.skip(str(error.message))
    return f"{IMAGE}:latest"


def test_help(image: str) -> None:
    """`bikes --help` runs in the image, through tini, as the default command."""
    result = docker("run", "--rm", "--network", "none", image)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: bikes"), result.stdout
    assert "143 terminated (SIGTERM)" in " ".join(result.stdout.split())


def test_preparation(image: str, hours_csv: Path, hours_sha256: str, tmp_path: Path) -> None:
    """The data job reads the mounted data set and writes its splits, as the non-root user."""
    outputs = tmp_path / "outputs"
    outputs.mkdir(mode=0o777)
    outputs.chmod(0o777)  # the image's user (uid 10001) writes there, whatever the umask
    run = ["run", "--rm", "--network", "none", "--env", "BIKES_DATA_SOURCE=/data/hour.csv"]
    run += ["--volume", f"{hours_csv}:/data/hour.csv:ro", "--volume", f"{outputs}:/app/data"]

    result = docker(*run, image, "confs/preparation.yaml", "-e", f"job.sha256={hours_sha256}")

    assert result.returncode == 0, result.stderr
    written = {path.name: path for path in outputs.glob("*.parquet")}
    assert sorted(written) == [
        "inputs_test.parquet",
        "inputs_train.parquet",
        "targets_test.parquet",
        "targets_train.parquet",
    ]
    rows = sum(
        len(pd.read_parquet(written[f"inputs_{split}.parquet"])) for split in ("train", "test")
    )
    assert rows == len(pd.read_csv(hours_csv))
    assert {path.stat().st_uid for path in written.values()} == {10001}


def test_data_error_exit_code(image: str, hours_csv: Path) -> None:
    """A user's error leaves the container with its exit code (3) and one line, no traceback."""
    run = ["run", "--rm", "--network", "none", "--env", "BIKES_DATA_SOURCE=/data/hour.csv"]
    run += ["--volume", f"{hours_csv}:/data/hour.csv:ro"]

    result = docker(*run, image, "confs/preparation.yaml")  # the digest of the real data set

    assert result.returncode == 3, result.stderr
    assert "SHA-256" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def silent_server() -> T.Iterator[tuple[int, threading.Event]]:
    """Serve on loopback a download that never answers; the event is set once it is asked."""
    asked = threading.Event()
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(RUN_SECONDS)

        def accept() -> None:
            with contextlib.suppress(OSError), server.accept()[0] as connection:
                connection.recv(1024)  # the request: the job now waits for an answer
                asked.set()
                connection.recv(1024)  # until the job closes the connection

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        yield server.getsockname()[1], asked


def test_stop(image: str, silent_server: tuple[int, threading.Event]) -> None:
    """`docker stop` ends a running job at once with 143 (terminated), not 137 (killed)."""
    port, asked = silent_server
    source = f"job.source=http://127.0.0.1:{port}/hour.csv"
    run = ["run", "--detach", "--network", "host", image, "confs/preparation.yaml", "-e", source]
    started = docker(*run)
    assert started.returncode == 0, started.stderr
    container = started.stdout.strip()
    try:
        assert asked.wait(RUN_SECONDS), docker("logs", container).stderr

        begun = time.monotonic()
        stopped = docker("stop", "--time", str(STOP_SECONDS), container)
        elapsed = time.monotonic() - begun

        assert stopped.returncode == 0, stopped.stderr
        state = docker("inspect", "--format", "{{.State.ExitCode}}", container).stdout.strip()
        assert state == "143", docker("logs", container).stderr
        assert elapsed < STOP_SECONDS / 2
        assert "bikes: terminated" in docker("logs", container).stderr
    finally:
        docker("rm", "--force", container)
