"""Tests of the report page of a version (a model card), in a real headless browser too."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
import typing as T
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from bikes import jobs
from bikes.core import models
from bikes.core.metrics import Threshold
from bikes.io import datasets, registries, reports, services

IMAGE = re.compile(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]+"')
# the probe that the browser test adds to a copy of the page: what the page shows once loaded
PROBE = """<script>
window.onerror = (message) => { document.documentElement.dataset.errors += message + ";"; };
window.addEventListener("load", () => {
  document.body.dataset.widths = [...document.images].map((image) => image.naturalWidth).join();
});
</script>"""


def evaluated(**fields: T.Any) -> jobs.EvaluationsResult:
    job = jobs.EvaluationsJob(thresholds=[Threshold(metric="r2_score", min=0.0)], **fields)
    with job as runner:
        return runner.run()


def test_shap_values_in_rentals_add_up_to_the_forecasts(registered_model: dict[str, str]) -> None:
    model = registries.SklearnLoader().load(registered_model["uri"])
    inputs = pd.read_parquet("data/inputs_test.parquet").head(200)
    values = reports.shap_in_rentals(model.pipeline, inputs)
    forecasts = model.pipeline.predict(inputs)
    base = forecasts - values.sum(axis=1).to_numpy()  # the same base forecast for every hour
    assert np.ptp(base) < 1e-6 * max(1.0, float(np.abs(forecasts).max()))
    assert reports.target_unit(model.pipeline).startswith("√(rentals an hour)")


def test_weekly_profile_forecasts_the_mean_of_the_same_hour() -> None:
    inputs = pd.DataFrame({"weekday": [1, 1, 2], "hr": [8, 8, 9]})
    train = datasets.Labelled(inputs, pd.DataFrame({"cnt": [10, 20, 6]}))
    asked = pd.DataFrame({"weekday": [1, 2, 3], "hr": [8, 9, 9]}, index=[7, 8, 9])
    profile = reports.weekly_profile(train, asked)
    assert profile.tolist() == [15.0, 6.0, 12.0]  # an hour never seen: the mean of all
    assert profile.index.tolist() == [7, 8, 9]


def test_evaluations_write_a_self_contained_report(
    registered_model: dict[str, str], tracking_uri: str
) -> None:
    out = evaluated()
    assert out.report == "outputs/reports/bikes-v1.html"
    page = Path(out.report).read_text(encoding="utf-8")
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # no request leaves the page
    assert len(IMAGE.findall(page)) == 4  # over time, against actual, residuals, importances
    assert "test_rmse (rentals an hour)" in page
    assert "weekly profile of the train data" in page
    assert f"<td>{registered_model['run_id']}</td>" in page  # the training run: its lineage
    assert "air temperature: (°C + 8) / 47" in page
    logged = MlflowClient().download_artifacts(out.run_id, reports.ARTIFACT)
    assert Path(logged).read_text(encoding="utf-8") == page


def test_a_large_model_is_explained_by_fewer_hours(
    registered_model: dict[str, str], tracking_uri: str
) -> None:
    model = registries.SklearnLoader().load(registered_model["uri"])
    budget = 7 * models.shap_cost(model.pipeline)  # the work of 7 hours
    out = evaluated(report=reports.ModelCard(shap_budget=budget))
    assert out.report is not None
    assert "on 7 evaluation hours drawn at random" in Path(out.report).read_text(encoding="utf-8")


def test_the_caption_counts_the_explained_hours() -> None:
    assert reports.hours_phrase(1) == "1 evaluation hour"
    assert reports.hours_phrase(1500) == "1,500 evaluation hours"


def test_report_can_be_turned_off(registered_model: dict[str, str], tracking_uri: str) -> None:
    out = evaluated(report=reports.ModelCard(enable=False))
    assert out.report is None
    assert not Path("outputs/reports").exists()


# %% IN A REAL BROWSER: headless Chromium (apt-get install chromium)


@pytest.fixture(scope="module")
def chromium() -> str:
    """Return the path of a Chromium that starts headless here, or skip saying why not."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("no chromium on the PATH (apt-get install chromium)")
    try:
        started = subprocess.run(
            [path, *HEADLESS, "--dump-dom", "about:blank"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.skip("chromium did not start headless within 120 s")
    if started.returncode != 0 or "<html" not in started.stdout:
        pytest.skip(f"chromium cannot start headless: {started.stderr.strip()[-300:]}")
    return path


HEADLESS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run"]


def browse(chromium: str, url: str, *flags: str, budget: int = 10_000) -> str:
    """Load a page in headless Chromium and return its DOM once loaded (or what `flags` print)."""
    command = [chromium, *HEADLESS, f"--virtual-time-budget={budget}", *flags, url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.browser
def test_report_shows_its_plots_in_a_browser(
    chromium: str, registered_model: dict[str, str], tracking_uri: str, tmp_path: Path
) -> None:
    out = evaluated()
    assert out.report is not None
    page = Path(out.report).read_text(encoding="utf-8")
    probed = tmp_path / "probed.html"  # the page's policy forbids scripts: the probe's copy may
    policy = re.search(r'<meta http-equiv="Content-Security-Policy"[^>]*>', page)
    assert policy is not None
    probed.write_text(page.replace(policy.group(0), "").replace("<body>", "<body>" + PROBE))
    dom = browse(chromium, probed.as_uri(), "--dump-dom")
    widths = re.search(r'data-widths="([\d,]*)"', dom)
    assert widths is not None, dom[:500]
    assert [int(width) > 0 for width in widths.group(1).split(",")] == [True] * 4
    assert "data-errors" not in dom
    shot = tmp_path / "report.png"
    browse(chromium, Path(out.report).resolve().as_uri(), f"--screenshot={shot}")
    assert shot.read_bytes().startswith(b"\x89PNG")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
@pytest.mark.browser
def test_mlflow_ui_shows_the_runs_names_and_descriptions(
    chromium: str, registered_model: dict[str, str], tracking_uri: str, tmp_path: Path
) -> None:
    port = free_port()
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", tracking_uri]
    ui = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.5)
        service = services.MlflowService()
        (page, _) = service.ui_lines(registered_model["run_id"])
        url = page.removeprefix("MLflow run: ").replace("127.0.0.1:5000", f"127.0.0.1:{port}")
        dom = browse(chromium, url, "--dump-dom", budget=30_000)
        assert "Training GradientBoosting" in dom
        assert "Fit a model on the train split" in dom
        shot = tmp_path / "ui.png"
        browse(chromium, url, "--window-size=1400,1000", f"--screenshot={shot}", budget=30_000)
        assert shot.read_bytes().startswith(b"\x89PNG")
    finally:
        ui.terminate()
        ui.wait(timeout=30)
