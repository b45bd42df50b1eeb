"""Tests against a real PostgreSQL: the tracking store of an `mlflow server` and Optuna's studies.

A throwaway cluster is made with `initdb` and started with `pg_ctl` on a free loopback port (as the
`postgres` user when the tests run as root, since PostgreSQL refuses to run as root). The tests
skip, saying why, where PostgreSQL is not installed, except on CI, which installs it.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import typing as T
import urllib.request
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from bikes import jobs
from bikes.core.models import GradientBoostingModel
from bikes.utils import searchers, splitters

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

STARTUP_SECONDS = 180
USER = "bikes"


def free_port() -> int:
    """Return a free TCP port on the loopback interface."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def binaries() -> Path:
    """Return the folder of PostgreSQL's server programs (newest version), or skip."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda path: int(path.split("/")[4])
    )
    initdb = found[-1] if found else shutil.which("initdb")
    if initdb is None:
        reason = "PostgreSQL is not installed (apt-get install -y postgresql)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: .ci/run installs it")
        pytest.skip(reason)
    return Path(initdb).parent


def as_server_user(command: list[str]) -> list[str]:
    """Return a command run as the `postgres` user when this is root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@pytest.fixture(scope="module")
def postgres() -> T.Iterator[str]:
    """Start a throwaway PostgreSQL on 127.0.0.1 with databases `mlflow` and `optuna`.

    Returns the URL of the server, without a database: `postgresql://bikes@127.0.0.1:<port>`.
    """
    import psycopg

    bin_dir = binaries()
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root, and no `postgres` user to run PostgreSQL as")
    folder = Path(tempfile.mkdtemp(prefix="bikes-postgres-"))
    if os.geteuid() == 0:
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    data, port = folder / "data", free_port()
    initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8"]
    subprocess.run(as_server_user(initdb), check=True, capture_output=True, timeout=120)
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w", "-t", "60"]
    started = subprocess.run(
        as_server_user([*pg_ctl, "-o", options, "start"]),
        check=False,
        capture_output=True,
        text=True,
    )
    if started.returncode:
        log = (folder / "log").read_text() if (folder / "log").exists() else ""
        pytest.fail(f"PostgreSQL did not start: {started.stderr} {log[-2000:]}")
    try:
        server = f"postgresql://{USER}@127.0.0.1:{port}"
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:  # no transaction
            admin.execute("CREATE DATABASE mlflow")
            admin.execute("CREATE DATABASE optuna")
        yield server
    finally:
        stop = as_server_user([*pg_ctl, "-m", "immediate", "stop"])
        subprocess.run(stop, check=False, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def tracking_server(postgres: str, tmp_path_factory: pytest.TempPathFactory) -> T.Iterator[str]:
    """Start `mlflow server` on 127.0.0.1, its tracking store in PostgreSQL; stop it after."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", "1", "--backend-store-uri", f"{postgres}/mlflow"]
    command += ["--artifacts-destination", str(folder / "artifacts")]
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    log = (folder / "server.log").open("w")
    server = subprocess.Popen(command, cwd=folder, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS  # it migrates the database first
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    text = (folder / "server.log").read_text()
                    pytest.fail(f"mlflow server did not start: {text[-2000:]}")
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def count(postgres: str, database: str, query: str) -> int:
    """Return the integer that a query counts in a database of the server."""
    import psycopg

    with psycopg.connect(f"{postgres}/{database}") as db:
        row = db.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def test_training_and_promotion_with_the_tracking_store_in_postgres(
    postgres: str,
    tracking_server: str,
    prepared: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_server)

    with jobs.TrainingJob(model=GradientBoostingModel(max_iter=10)) as runner:
        trained = runner.run()
    with jobs.PromotionJob() as runner:
        runner.run()

    champion = MlflowClient(tracking_uri=tracking_server).get_model_version_by_alias(
        "bikes", "champion"
    )
    assert int(champion.version) == trained.version
    query = f"SELECT count(*) FROM runs WHERE run_uuid = '{trained.run_id}'"  # noqa: S608
    assert count(postgres, "mlflow", query) == 1
    assert count(postgres, "mlflow", "SELECT count(*) FROM registered_model_aliases") >= 1
    assert not Path("mlruns").exists() and not Path("mlflow.db").exists()


def test_distributed_tuning_with_the_study_in_postgres(
    postgres: str,
    tracking_server: str,
    prepared: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_server)
    searcher = searchers.OptunaSearcher(
        space={"max_iter": searchers.IntDistribution(low=5, high=20)},
        n_trials=4,
        timeout=None,
        n_jobs=1,
        startup_trials=2,
        storage=f"{postgres}/optuna",
        study_name="tuning-in-postgres",
        n_workers=2,
    )
    job = jobs.TuningJob(splitter=splitters.TimeSeriesSplitter(n_splits=2), searcher=searcher)

    with job as runner:
        tuned = runner.run()

    assert list(tuned.trials["trial"]) == [0, 1, 2, 3]
    assert count(postgres, "optuna", "SELECT count(*) FROM trials") == 4
    workers = "SELECT count(DISTINCT value_json) FROM trial_user_attributes WHERE key = 'worker'"
    assert count(postgres, "optuna", workers) == 2
    client = MlflowClient(tracking_uri=tracking_server)
    children = client.search_runs(
        [client.get_run(tuned.run_id).info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{tuned.run_id}'",
    )
    assert len(children) == 4
