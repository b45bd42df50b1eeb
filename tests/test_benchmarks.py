"""Smoke tests of the benchmark code on tiny data (structure and values, never timings)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from benchmarks import cli, frames, jobs, loading, measure, prediction, report, workspace
from benchmarks.report import Result, Target

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
    assert run.seconds > 0.5
    assert 0 < run.cpu_seconds < 0.5  # asleep: the wall time counts, not the CPU time
    busy = "import time; end = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    assert measure.run_process([sys.executable, "-c", busy], cwd=isolated).cpu_seconds >= 0.3
    assert run.peak_rss > 80 * 1024**2
    failed = measure.run_process(
        [sys.executable, "-c", "import sys; sys.exit('boom')"], cwd=isolated
    )
    assert failed.returncode == 1
    assert "boom" in failed.stderr_tail
    assert not list(isolated.glob(".bench-stderr-*"))


def test_a_checkout_of_a_stowed_seed_finds_its_artifacts(
    isolated: Path, mlflow_template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    import mlflow

    work = workspace.create(isolated / "work")
    shutil.copyfile(mlflow_template, work / "mlflow.db")  # migrated: MLflow need not migrate it
    monkeypatch.chdir(work)  # artifacts go to ./mlruns, like a job's in its work folder
    mlflow.set_tracking_uri(workspace.tracking_uri(work))
    mlflow.set_experiment(experiment_name="bench")
    with mlflow.start_run() as run:
        mlflow.log_text("hello", "note.txt")
    monkeypatch.chdir(isolated)
    seed = workspace.stow(work, isolated / "seed")
    assert not work.exists()

    for _ in range(2):  # each checkout is a fresh copy: the first one's changes are gone
        with workspace.checkout(seed, work) as folder:
            client = workspace.mlflow_client(folder)
            artifact_uri = client.get_run(run.info.run_id).info.artifact_uri
            note = workspace.local_path(artifact_uri) / "note.txt"
            assert note.read_text() == "hello"
            assert (folder / "confs" / "training.yaml").is_file()
            note.write_text("changed")
        assert not work.exists()
    assert (seed / "mlflow.db").is_file()


def test_repeated_rows_have_the_asked_size(isolated: Path) -> None:
    frame = pd.DataFrame({"hr": [0, 1, 2], "temp": [0.1, 0.2, 0.3]}).rename_axis("instant")
    repeated = frames.repeat_rows(frame, 7)
    assert len(repeated) == 7
    assert repeated["hr"].tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert repeated.index.is_unique
    frames.write_repeated(frame, 10, isolated / "big.parquet", chunk=5)
    written = pd.read_parquet(isolated / "big.parquet")
    assert len(written) == 10
    assert written.index.is_unique
    assert written["hr"].sum() == sum([0, 1, 2] * 3 + [0])


@pytest.mark.slow
@pytest.mark.integration
def test_inference_speed_and_model_load_of_a_registered_model(
    isolated: Path, registered_model: dict[str, str]
) -> None:
    inputs = pd.read_parquet("data/inputs_test.parquet")
    path = isolated / "data" / "inputs_big.parquet"
    frames.repeat_rows(inputs, 1000).to_parquet(path)
    version = int(registered_model["version"])
    assert prediction.inference_speed(path, version, isolated) > 0
    loaded = registries.SklearnLoader().load(registered_model["uri"])
    seconds = prediction.predict_seconds(
        {"model": loaded}, frames.repeat_rows(inputs, 1000), repeat=2
    )
    assert len(seconds["model"]) == 2 and all(second > 0 for second in seconds["model"])
    assert len(pd.read_parquet(isolated / "outputs" / "speed.parquet")) == 1000
    timings = loading.load_model_process(isolated, version)
    assert set(timings) == {"import", "load", "warm"}
    assert all(seconds > 0 for seconds in timings.values())


def test_parse_picks_groups_jobs_and_quick_sizes() -> None:
    options = cli.parse(["--quick", "--only", "cli", "training", "--source", "hour.csv"])
    assert options.groups == ("cli", "jobs")
    assert options.jobs == ("training",)
    assert options.repeat == 1
    assert options.big_rows < 1_000_000
    assert Path(options.source).is_absolute()
    full = cli.parse(["--with-tests"])
    assert "tests" in full.groups
    assert full.jobs == cli.JOBS
    assert full.huge_rows == 10_000_000
    with pytest.raises(SystemExit) as error:
        cli.parse(["--only", "nothing"])
    assert error.value.code == 2


def test_main_writes_the_report_and_prints_the_table(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = isolated / "reports" / "bench.json"
    args = ["--only", "cli", "--cli-repeat", "2", "--output", str(output)]
    assert cli.main([*args, "--workdir", str(isolated / "work")]) == 0
    document = json.loads(output.read_text())
    assert set(document) == {"machine", "options", "results"}
    assert document["machine"]["cpus"] >= 1
    names = [result["name"] for result in document["results"]]
    assert names == [
        "startup: python -c pass",
        "startup: bikes --help",
        "startup: bikes --schema",
    ]
    for result in document["results"]:
        assert len(result["default"]["values"]) == 2
        assert result["default"]["median"] > 0
    assert document["results"][1]["target"] == "< 0.3 s"
    assert isinstance(document["results"][1]["ok"], bool)
    assert not list((isolated / "work").iterdir())  # the work folders are removed
    printed = capsys.readouterr().out
    assert "| startup: bikes --schema" in printed


def test_table_shows_ratios_targets_and_verdicts() -> None:
    results = [
        Result("fit rows/s", "rows/s", measure.Stats.of([10.0, 30.0]), measure.Stats.of([5.0])),
        Result("load", "s", measure.Stats.of([0.7]), target=Target(0.5, "<", "s")),
        Result(
            "job wall",
            "s",
            measure.Stats.of([6.0]),
            measure.Stats.of([5.0]),
            Target(1.25, "<=", "x floor", on="ratio"),
            versus="floor",
        ),
    ]
    lines = report.table(results).splitlines()
    assert len(lines) == 5
    assert "4.00x" in lines[2]
    assert "10-30" in lines[2]
    assert "< 0.5 s" in lines[3] and "NO" in lines[3]
    assert "1.20x floor" in lines[4] and "<= 1.25x floor" in lines[4] and "yes" in lines[4]
    assert report.fmt(1234567.0) == "1,234,567"
    assert report.fmt(0.01234) == "0.0123"


def test_a_target_is_declared_once_and_renders_its_text_and_verdict() -> None:
    stats = measure.Stats.of
    startup = Target(0.3, "<", "s")
    assert str(startup) == "< 0.3 s"
    assert Result("startup", "s", stats([0.2]), target=startup).ok is True
    assert Result("startup", "s", stats([0.3]), target=startup).ok is False
    faster = Target(5, ">=", "x reference", on="ratio")
    assert str(faster) == ">= 5x reference"
    assert Result("rows/s", "rows/s", stats([50.0]), stats([10.0]), faster).ok is True
    assert Result("rows/s", "rows/s", stats([40.0]), stats([10.0]), faster).ok is False
    assert Result("rows/s", "rows/s", stats([40.0]), None, faster).ok is False  # no ratio
    assert str(Target(60, "<=")) == "<= 60"
    assert Result("rmse", "", stats([58.6]), target=Target(60, "<=")).ok is True
    failed = Result("suite", "s", stats([80.0]), target=Target(90, "<", "s"), failed="exit 1")
    assert failed.ok is False
    assert failed.to_dict()["target"] == "< 90 s"
    assert Result("plain", "s", stats([1.0])).ok is None


@pytest.mark.integration
def test_job_runs_are_recorded_beside_the_floor(isolated: Path) -> None:
    from benchmarks.session import Options, Session

    options = cli.parse(["--quick", "--only", "inference", "--source", "hour.csv"])
    assert isinstance(options, Options)
    session = Session(options, isolated)
    floor = jobs.floor(isolated)
    assert floor.returncode == 0 and floor.seconds > 0
    run = measure.ProcessRun(
        seconds=floor.seconds * 1.2, peak_rss=2 * floor.peak_rss, returncode=0, stderr_tail=""
    )
    jobs.add_runs(session, "job: inference", [run], [floor], jobs.TARGETS["inference"])
    wall, cpu, rss = session.results
    assert (wall.name, wall.versus, wall.ok) == ("job: inference wall", "floor", True)
    assert wall.ratio == pytest.approx(1.2)
    assert cpu.name == "job: inference CPU" and cpu.target is None
    assert rss.ratio == pytest.approx(2.0)
    assert str(wall.target) == "<= 1.25x floor"


def test_imports_are_timed_beside_the_floor(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from benchmarks import imports
    from benchmarks.session import Session

    monkeypatch.setattr(jobs, "FLOOR", "import json")  # a light floor: the test times the plumbing
    monkeypatch.setattr(imports, "COSTS", {"csv": "import csv; assert STORE.startswith('sqlite')"})
    monkeypatch.setattr(workspace, "make_store", lambda folder: None)
    session = Session(cli.parse(["--quick", "--only", "imports", "--source", "x.csv"]), isolated)

    imports.run(session)

    (result,) = session.results
    assert (result.name, result.versus) == ("floor + csv, CPU", "floor")
    assert result.reference is not None and result.ratio is not None
    assert "over the floor: import csv" in result.note
    monkeypatch.setattr(imports, "COSTS", {"broken": "raise SystemExit(3)"})
    with pytest.raises(RuntimeError, match="exited 3"):
        imports.run(session)


@pytest.mark.integration
def test_a_tracking_server_that_cannot_start_is_one_error_with_its_stderr(isolated: Path) -> None:
    from benchmarks import server

    garbage = isolated / "garbage.db"
    garbage.write_text("not a database")
    with pytest.raises(RuntimeError, match="mlflow server did not start") as error:
        with server.tracking_server(garbage):
            pytest.fail("the server should not have started")
    assert "file is not a database" in str(error.value)  # the end of its stderr
