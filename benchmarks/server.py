"""A real `mlflow server` on loopback, for the jobs measured as deployed (and for the tests)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import typing as T
import urllib.request

if T.TYPE_CHECKING:
    from pathlib import Path

STARTUP_SECONDS = 120


def free_port() -> int:
    """Return a TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def tracking_server(store: Path, artifacts: Path | None = None) -> T.Iterator[str]:
    """Serve the SQLite store `store` on 127.0.0.1 and yield its URL; stop the server after.

    With `artifacts`, the server stores and serves the artifacts there (clients send them over
    HTTP); without, clients read and write the artifact paths recorded in the store themselves,
    as the jobs of a benchmark's work folder do. A server that does not answer `/health` within
    `STARTUP_SECONDS`, or that exits, is a `RuntimeError` with the end of its stderr.
    """
    port = free_port()
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", "1", "--backend-store-uri", f"sqlite:///{store}"]
    if artifacts is None:
        command += ["--no-serve-artifacts"]
    else:
        command += ["--artifacts-destination", str(artifacts)]
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    server = subprocess.Popen(  # noqa: S603 (this interpreter's mlflow)
        command, cwd=store.parent, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(server, url)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def wait_until_healthy(server: subprocess.Popen[bytes], url: str) -> None:
    """Poll the server's `/health` until it answers 200, within `STARTUP_SECONDS`."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{url}/health", timeout=2) as response,  # noqa: S310
        ):
            if response.status == 200:
                return
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            stderr = server.stderr.read().decode() if server.stderr else ""
            raise RuntimeError(f"mlflow server did not start at {url}: {stderr[-2000:]}")
        time.sleep(0.5)
