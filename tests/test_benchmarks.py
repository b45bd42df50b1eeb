"""Smoke tests of the benchmark code on tiny data (structure and values, never timings)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from benchmarks import measure, suite, workspace

from bikes.io import registries


def test_stats_summarize_median_spread_and_rates() -> None:
    stats = measure.Stats.of([4.0, 1.0, 2.0, 3.0])
    assert (stats.median, stats.low, stats.high) == (2.5, 1.0, 4.0)
    assert stats.iqr == pytest.approx(1.5)
    assert measure.Stats.of([2.0]).iqr == 0.0
    assert measure.Stats.of([2.0, 4.0]).inverse(8.0).values == (4.0, 2.0)
    with pytest.raises(ValueError, match="no values"):
        measure.Stats.of([])


def test_run_process_measures_the_peak_memory_and_the_exit_code(isolated: Path) -> None:
    code = "import time; block = bytearray(80 * 1024**2); time.sleep(0.5)"
    run = measure.run_process([sys.executable, "-c", code], cwd=isolated)
    assert run.returncode == 0
    assert run.seconds > 0
    assert run.peak_rss > 80 * 1024**2
    failed = measure.run_process(
        [sys.executable, "-c", "import sys; sys.exit('boom')"], cwd=isolated
    )
    assert failed.returncode == 1
    assert "boom" in failed.stderr_tail
    assert not list(isolated.glob(".bench-stderr-*"))


def test_clone_points_the_store_at_the_copied_artifacts(
    isolated: Path, mlflow_template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    import mlflow

    source = workspace.create(isolated / "source")
    shutil.copyfile(mlflow_template, source / "mlflow.db")  # migrated: MLflow need not migrate it
    monkeypatch.chdir(source)  # artifacts go to ./mlruns, like a job's in its work folder
    mlflow.set_tracking_uri(workspace.tracking_uri(source))
    mlflow.set_experiment(experiment_name="bench")
    with mlflow.start_run() as run:
        mlflow.log_text("hello", "note.txt")
    copy = workspace.clone(source, isolated / "copy")
    client = suite.mlflow_client(copy)
    artifact_uri = client.get_run(run.info.run_id).info.artifact_uri
    assert str(copy) in artifact_uri
    assert str(source) not in artifact_uri
    assert (suite.local_path(artifact_uri) / "note.txt").read_text() == "hello"
    assert (copy / "confs" / "training.yaml").is_file()


def test_repeated_rows_have_the_asked_size(isolated: Path) -> None:
    frame = pd.DataFrame({"hr": [0, 1, 2], "temp": [0.1, 0.2, 0.3]}).rename_axis("instant")
    repeated = suite.repeat_rows(frame, 7)
    assert len(repeated) == 7
    assert repeated["hr"].tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert repeated.index.is_unique
    suite.write_repeated(frame, 10, isolated / "big.parquet", chunk=5)
    written = pd.read_parquet(isolated / "big.parquet")
    assert len(written) == 10
    assert written.index.is_unique
    assert written["hr"].sum() == sum([0, 1, 2] * 3 + [0])


@pytest.mark.slow
def test_inference_speed_and_model_load_of_a_registered_model(
    isolated: Path, registered_model: dict[str, str]
) -> None:
    inputs = pd.read_parquet("data/inputs_test.parquet")
    path = isolated / "data" / "inputs_big.parquet"
    suite.repeat_rows(inputs, 1000).to_parquet(path)
    version = int(registered_model["version"])
    assert suite.inference_speed(path, version, isolated) > 0
    loaded = registries.SklearnLoader().load(registered_model["uri"])
    seconds = suite.predict_seconds({"model": loaded}, suite.repeat_rows(inputs, 1000), repeat=2)
    assert len(seconds["model"]) == 2 and all(second > 0 for second in seconds["model"])
    assert len(pd.read_parquet(isolated / "outputs" / "speed.parquet")) == 1000
    timings = suite.load_model_process(isolated, version)
    assert set(timings) == {"import", "load", "warm"}
    assert all(seconds > 0 for seconds in timings.values())


def test_parse_picks_groups_jobs_and_quick_sizes() -> None:
    options = suite.parse(["--quick", "--only", "cli", "training", "--source", "hour.csv"])
    assert options.groups == ("cli", "jobs")
    assert options.jobs == ("training",)
    assert options.repeat == 1
    assert options.big_rows < 1_000_000
    assert Path(options.source).is_absolute()
    full = suite.parse(["--with-tests"])
    assert "tests" in full.groups
    assert full.jobs == suite.JOBS
    assert full.huge_rows == 10_000_000
    with pytest.raises(SystemExit) as error:
        suite.parse(["--only", "nothing"])
    assert error.value.code == 2


def test_main_writes_the_report_and_prints_the_table(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = isolated / "reports" / "bench.json"
    args = ["--only", "cli", "--cli-repeat", "2", "--output", str(output)]
    assert suite.main([*args, "--workdir", str(isolated / "work")]) == 0
    report = json.loads(output.read_text())
    assert set(report) == {"machine", "options", "results"}
    assert report["machine"]["cpus"] >= 1
    names = [result["name"] for result in report["results"]]
    assert names == [
        "startup: python -c pass",
        "startup: bikes --help",
        "startup: bikes --schema",
    ]
    for result in report["results"]:
        assert len(result["default"]["values"]) == 2
        assert result["default"]["median"] > 0
    assert report["results"][1]["target"] == "< 0.3 s"
    assert isinstance(report["results"][1]["ok"], bool)
    assert not list((isolated / "work").iterdir())  # the work folders are removed
    printed = capsys.readouterr().out
    assert "| startup: bikes --schema" in printed


def test_table_shows_ratios_targets_and_verdicts() -> None:
    results = [
        suite.Result(
            "fit rows/s", "rows/s", measure.Stats.of([10.0, 30.0]), measure.Stats.of([5.0])
        ),
        suite.Result("load", "s", measure.Stats.of([0.7]), target="< 0.5 s", ok=False),
    ]
    lines = suite.table(results).splitlines()
    assert len(lines) == 4
    assert "4.00x" in lines[2]
    assert "10-30" in lines[2]
    assert "NO" in lines[3]
    assert suite.fmt(1234567.0) == "1,234,567"
    assert suite.fmt(0.01234) == "0.0123"
