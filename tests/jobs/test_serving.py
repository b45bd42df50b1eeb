"""Tests of the serving job: `bikes confs/serving.yaml` as a whole process, one or two workers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bikes import jobs
from bikes.io import configs
from bikes.serving import app, metrics

CONFS = Path(__file__).parents[2] / "confs"
Registered = dict[str, str]
HOUR = {
    "date": "2012-07-04",
    "hour": 8,
    "temperature": 27,
    "feels_like": 30,
    "humidity": 65,
    "wind_speed": 11,
    "weather": "clear",
    "holiday": True,
}


def free_port() -> int:
    """Return a free TCP port of the loopback interface."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def fetch(url: str, body: object = None) -> tuple[int, str]:
    """GET a URL, or POST a JSON body; return the status and the text (0 when none answers)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""


def serve(*extras: str) -> tuple[subprocess.Popen[str], str]:
    """Start `bikes confs/serving.yaml` on a free port; wait until it is ready (2 min at most)."""
    port = free_port()
    command = [sys.executable, "-m", "bikes", str(CONFS / "serving.yaml"), "-e"]
    process = subprocess.Popen(
        [*command, f"job.port={port}", "job.poll_seconds=0.2", *extras],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120  # two workers load on two cores busy with other tests
    while time.monotonic() < deadline and fetch(f"{url}/health/ready")[0] != 200:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        time.sleep(0.1)
    return process, url


def stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    """Stop a server as a supervisor would (SIGTERM); return its exit code and its log."""
    process.send_signal(signal.SIGTERM)
    try:
        _, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    return process.returncode, err


def test_shipped_config_serves_the_champion_on_loopback() -> None:
    config = configs.to_object(configs.parse_file(str(CONFS / "serving.yaml")))
    job = configs.validate(jobs.ServingJob, config["job"], origin="serving.yaml")

    assert (job.host, job.port, job.workers, job.alias, job.version) == (
        "127.0.0.1",
        8000,
        1,
        "champion",
        None,
    )
    settings = job.settings()
    assert (settings.alias, settings.poll_seconds, settings.max_rows) == ("champion", 10.0, 100_000)
    assert settings.mlflow_service == job.mlflow_service


def test_workers_read_the_settings_from_the_environment(
    registered_model: Registered, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = app.Settings(version=1, poll_seconds=3.0, max_rows=7)
    monkeypatch.setenv(app.SETTINGS_VARIABLE, settings.model_dump_json())

    served = app.from_environment()

    assert served.state.max_rows == 7
    assert served.state.holder.version == 1
    with jobs.serving.multiprocess_metrics():
        folder = Path(os.environ[metrics.MULTIPROCESS])
        assert folder.is_dir()
    assert metrics.MULTIPROCESS not in os.environ
    assert not folder.exists()


@pytest.mark.slow
@pytest.mark.integration
def test_bikes_serves_forecasts_until_terminated(registered_model: Registered) -> None:
    process, url = serve()
    try:
        status, text = fetch(f"{url}/forecast", {"hours": [HOUR]})
        card = json.loads(fetch(f"{url}/model")[1])
    finally:
        code, log = stop(process)

    assert status == 200, text
    forecast = json.loads(text)
    assert forecast["model"] == {"name": "bikes", "version": 1, "alias": "champion"}
    assert forecast["forecasts"][0]["prediction"] >= 0
    assert card["run_id"] == registered_model["run_id"]
    assert code == 0, log  # a graceful shutdown
    assert "Application shutdown complete" in log
    assert "Serving bikes @champion on http://127.0.0.1:" in log
    assert "Serving bikes version 1" in log


@pytest.mark.slow
@pytest.mark.integration
def test_workers_share_their_metrics(registered_model: Registered) -> None:
    process, url = serve("job.workers=2")
    try:
        answers = [fetch(f"{url}/forecast", {"hours": [HOUR]})[0] for _ in range(6)]
        exposition, deadline = "", time.monotonic() + 120
        while exposition.count("bikes_model_version{") < 2 and time.monotonic() < deadline:
            exposition = fetch(f"{url}/metrics")[1]  # the second worker may still be loading
            time.sleep(0.1)
    finally:
        code, log = stop(process)

    assert answers == [200] * 6, log  # a worker accepts requests once its model is loaded
    assert 'bikes_requests_total{endpoint="/forecast",method="POST",status="200"} 6.0' in (
        exposition
    ), exposition
    assert exposition.count("bikes_model_version{") == 2, exposition  # one a worker
    assert code == 0, log
