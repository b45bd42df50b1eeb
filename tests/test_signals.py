"""Tests of a job stopped by a signal: one line, its exit code, a KILLED run, no temporary file."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import typing as T
from pathlib import Path

import pandas as pd
import pytest

from bikes import scripts

BIKES = Path(sys.executable).parent / "bikes"
DEADLINE_SECONDS = 120


def query(store: Path, sql: str) -> list[T.Any]:
    """Return the first column of a query of a SQLite store, read only."""
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5) as connection:
        return [row[0] for row in connection.execute(sql)]


def run_statuses(store: Path) -> list[str]:
    """Return the statuses of the runs of a SQLite store, oldest first."""
    return query(store, "SELECT status FROM runs ORDER BY start_time")


def wait_for(condition: T.Callable[[], bool], job: subprocess.Popen[str], what: str) -> None:
    """Wait until `condition` holds while the job runs; fail past the deadline or if it exits."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if job.poll() is not None:
            pytest.fail(f"the job exited ({job.returncode}) before {what}: {job.stderr.read()}")  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            job.kill()
            pytest.fail(f"the job did not reach {what} in {DEADLINE_SECONDS} s")
        time.sleep(0.05)


def stop(job: subprocess.Popen[str], signum: int) -> tuple[int, str]:
    """Send a signal to the job; return its exit code and stderr once it exited."""
    job.send_signal(signum)
    try:
        _, err = job.communicate(timeout=DEADLINE_SECONDS)
    except subprocess.TimeoutExpired:
        job.kill()
        pytest.fail("the job did not exit after the signal")
    return job.returncode, err


def start(*argv: str) -> subprocess.Popen[str]:
    """Start the `bikes` command of this environment with its stderr piped."""
    return subprocess.Popen(
        [str(BIKES), *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signum", "code", "line"),
    [(signal.SIGTERM, 143, "bikes: terminated"), (signal.SIGINT, 130, "bikes: interrupted")],
)
@pytest.mark.integration
def test_a_signal_during_training_kills_the_run(
    prepared: dict[str, Path], tracking_uri: str, signum: int, code: int, line: str
) -> None:
    store = Path(tracking_uri.removeprefix("sqlite:///"))
    training = str(scripts.SCHEMA.parents[2] / "confs" / "training.yaml")
    job = start(training, "-e", "job.model.max_iter=100000")  # a fit that outlasts any load
    fitting = "SELECT key FROM params WHERE key = 'model'"  # logged just before the fit
    wait_for(lambda: run_statuses(store) == ["RUNNING"] and bool(query(store, fitting)), job, "fit")
    returncode, err = stop(job, signum)
    assert returncode == code, err
    assert err.strip().splitlines()[-1] == line
    assert "Traceback" not in err
    assert run_statuses(store) == ["KILLED"]


@pytest.mark.slow
@pytest.mark.integration
def test_sigterm_during_inference_leaves_no_temporary_file(
    registered_model: dict[str, str], prepared: dict[str, Path], tracking_uri: str
) -> None:
    inputs = pd.read_parquet(prepared["inputs_test"])
    big = pd.concat([inputs] * 200, ignore_index=True)  # 86,400 rows in 1,000-row batches
    big.index.name = inputs.index.name
    big.to_parquet("data/big.parquet")
    store = Path(tracking_uri.removeprefix("sqlite:///"))
    before = run_statuses(store)
    outputs = Path("outputs")
    job = start(
        str(scripts.SCHEMA.parents[2] / "confs" / "inference.yaml"),
        "-e",
        "job.inputs.path=data/big.parquet",
        "job.batch_size=1000",
    )
    wait_for(lambda: any(outputs.glob(".*.tmp")), job, "writing its output")
    returncode, err = stop(job, signal.SIGTERM)
    assert returncode == 143, err
    assert err.strip().splitlines()[-1] == "bikes: terminated"
    assert run_statuses(store) == [*before, "KILLED"]
    assert not list(outputs.iterdir())  # neither the temporary file nor a partial output


def test_the_cli_restores_the_sigterm_handler(write_config: T.Callable[[str, str], Path]) -> None:
    before = signal.getsignal(signal.SIGTERM)
    config = write_config("bad.yaml", "job:\n  KIND: NopeJob\n")
    assert scripts.main([str(config)]) == 2
    assert signal.getsignal(signal.SIGTERM) is before


def test_sigterm_in_process_exits_143(capsys: pytest.CaptureFixture[str]) -> None:
    def terminate(_: T.Any) -> int:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises here, at once
        return 0

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scripts, "run", terminate)
        assert scripts.main(["x.yaml"]) == 143
    assert capsys.readouterr().err == "bikes: terminated\n"


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, scripts.Terminated])
def test_an_interrupted_run_ends_as_killed(
    tracking_uri: str, interrupt: type[KeyboardInterrupt]
) -> None:
    from bikes.io import services

    service = services.MlflowService(enable_system_metrics=False)
    service.start()
    with pytest.raises(interrupt), service.run_context(service.RunConfig(name="stopped")) as run:
        raise interrupt
    assert service.client().get_run(run.id).info.status == "KILLED"
