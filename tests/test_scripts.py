"""Tests of the command line: schema, help, errors and start-up imports."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import typing as T
from pathlib import Path

import pytest

from bikes import scripts, settings

# corrupts tables of a SQLite store (the `corrupt_tables` fixture)
CorruptTables = T.Callable[..., None]

CONFS = Path(__file__).parents[1] / "confs"

HEAVY_MODULES = ("mlflow", "sklearn", "shap", "pandas", "pyarrow", "pandera", "optuna", "numpy")

WriteConfig = T.Callable[[str, str], Path]


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = scripts.main(argv)
    return code, capsys.readouterr().err


def test_schema_lists_every_job(capsys: pytest.CaptureFixture[str]) -> None:
    assert scripts.main(["--schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    kinds = {
        definition["properties"]["KIND"]["const"]
        for definition in schema["$defs"].values()
        if "KIND" in definition.get("properties", {})
        and "Job" in definition["properties"]["KIND"].get("const", "")
    }
    assert {"PreparationJob", "PipelineJob"} <= kinds


def test_shipped_schema_is_the_schema_of_the_settings() -> None:
    shipped = scripts.SCHEMA.read_text(encoding="utf-8")
    assert shipped == settings.json_schema(), "stale: run `uv run inv docs.schema`"


@pytest.mark.parametrize("path", sorted(CONFS.glob("*.yaml")), ids=lambda path: path.name)
def test_shipped_configs_follow_the_schema(path: Path) -> None:
    import jsonschema
    import yaml

    schema = json.loads(scripts.SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    assert not [error.message for error in validator.iter_errors(yaml.safe_load(path.read_text()))]
    assert path.read_text().startswith("# yaml-language-server: $schema=../src/bikes/schema.json")


def test_schema_rejects_a_mistyped_field() -> None:
    import jsonschema

    schema = json.loads(scripts.SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid({"job": {"KIND": "TrainingJob"}})
    assert not validator.is_valid({"job": {"KIND": "TrainingJob", "modle": {}}})


@pytest.mark.parametrize("flag", ["--help", "--schema"])
def test_startup_imports_no_heavy_library(flag: str) -> None:
    process = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bikes", flag],
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {line.split("|")[-1].strip().split(".")[0] for line in process.stderr.splitlines()}
    assert imported.isdisjoint(HEAVY_MODULES), imported & set(HEAVY_MODULES)
    assert "bikes" in imported  # the measure itself works


@pytest.mark.slow
def test_console_script_runs_a_job(
    write_config: WriteConfig, hours_csv: Path, hours_sha256: str
) -> None:
    config = write_config("prep.yaml", f"job:\n  KIND: PreparationJob\n  source: {hours_csv}\n")
    bikes = Path(sys.executable).parent / "bikes"
    process = subprocess.run(
        [str(bikes), str(config), "-e", f"job.sha256={hours_sha256}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert process.returncode == 0, process.stderr
    assert Path("data/inputs_test.parquet").is_file()


def test_no_config_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as error:
        scripts.main([])
    assert error.value.code == 2
    assert "give at least one config file" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("job: [KIND: x\n", "line 2, column 1: invalid YAML"),
        ("", "config is empty"),
        ("- a\n- b\n", "must be a mapping"),
        ("job:\n  KIND: NopeJob\n", "NopeJob"),
        ("job:\n  KIND: PreparationJob\n  sourc: x\n", "job.PreparationJob.sourc: Extra inputs"),
        ("job:\n  KIND: PreparationJob\n  cache_dir: 3\n", "job.PreparationJob.cache_dir"),
        ("job:\n  KIND: PreparationJob\n  sha256: abc\n", "job.PreparationJob.sha256"),
        ("other: 1\n", "job: Field required"),
        ("job:\n  KIND: PreparationJob\n  source: ${nope}\n", "interpolation"),
    ],
)
def test_bad_configs_give_one_clear_line(
    text: str, expected: str, write_config: WriteConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config("bad.yaml", text)
    code, err = run_main([str(config)], capsys)
    assert code == 2
    assert err.startswith(f"bikes: error: {config}") or err.startswith("bikes: error: config")
    assert expected in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("job.source=[unclosed", "--extras"),
        ("[1, 2]", "must be a mapping"),
        ("{a: [", "invalid YAML"),
    ],
)
def test_bad_extras_give_one_clear_line(
    extra: str, expected: str, write_config: WriteConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config("ok.yaml", "job:\n  KIND: PreparationJob\n")
    code, err = run_main([str(config), "-e", extra], capsys)
    assert code == 2
    assert expected in err
    assert "Traceback" not in err


def test_missing_config_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_main(["nowhere.yaml"], capsys)
    assert (code, err) == (2, "bikes: error: nowhere.yaml: config file not found\n")


def test_extras_override_files_and_interpolate(
    write_config: WriteConfig, hours_csv: Path, hours_sha256: str
) -> None:
    config = write_config(
        "prep.yaml",
        "job:\n  KIND: PreparationJob\n  source: nowhere.csv\n"
        "  inputs_test: {KIND: ParquetWriter, path: '${job.cache_dir}/inputs_test.parquet'}\n",
    )
    extras = [f"job.source={hours_csv} job.sha256={hours_sha256}", "{job: {cache_dir: out}}"]
    assert scripts.main([str(config), "-e", *extras]) == 0
    assert Path("out/inputs_test.parquet").is_file()


def test_data_errors_exit_3_without_traceback(
    write_config: WriteConfig, hours_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config("prep.yaml", f"job:\n  KIND: PreparationJob\n  source: {hours_csv}\n")
    code, err = run_main([str(config)], capsys)
    assert code == 3
    assert f"{hours_csv}: SHA-256 mismatch" in err
    assert "Traceback" not in err


def test_verbose_shows_the_traceback(write_config: WriteConfig) -> None:
    config = write_config("bad.yaml", "job:\n  KIND: NopeJob\n")
    process = subprocess.run(
        [sys.executable, "-m", "bikes", str(config), "--verbose"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert process.returncode == 1
    assert "Traceback" in process.stderr
    assert "ConfigError" in process.stderr


# %% FAULTS OF THE INFRASTRUCTURE: exit code 5, one line naming the resource


def closed_port() -> int:
    """Return a loopback port that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_bikes(*argv: str, **env: str) -> tuple[int, str, float]:
    """Run the `bikes` command with extra environment variables: exit code, stderr and seconds."""
    bikes = Path(sys.executable).parent / "bikes"
    unset = ("MLFLOW_HTTP_REQUEST_TIMEOUT", "MLFLOW_HTTP_REQUEST_MAX_RETRIES")
    environ = {key: value for key, value in os.environ.items() if key not in unset}
    start = time.monotonic()
    process = subprocess.run(
        [str(bikes), *argv], capture_output=True, text=True, check=False, env={**environ, **env}
    )
    return process.returncode, process.stderr, time.monotonic() - start


@pytest.mark.slow
@pytest.mark.integration
def test_unreachable_tracking_server_fails_fast_naming_it() -> None:
    uri = f"http://127.0.0.1:{closed_port()}"
    code, err, seconds = run_bikes(str(CONFS / "inference.yaml"), MLFLOW_TRACKING_URI=uri)
    assert code == 5, err
    assert err.startswith(f"bikes: error: {uri}: the server does not answer (Connection refused)")
    assert len(err.splitlines()) == 1, err
    assert seconds < 120  # MLflow's default retries took 249 s (a bound, not a benchmark)


@pytest.mark.slow
@pytest.mark.integration
def test_locked_store_is_a_fault_naming_it(
    registered_model: dict[str, str], tracking_uri: str
) -> None:
    holder = sqlite3.connect(tracking_uri.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # as a job or `mlflow ui` writing to the store
    try:
        code, err, _ = run_bikes(str(CONFS / "inference.yaml"))
    finally:
        holder.close()
    assert code == 5, err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"bikes: error: {tracking_uri}: the store is locked by another process")
    assert "Traceback" not in err
    assert not Path("outputs").exists()


@pytest.mark.slow
@pytest.mark.integration
def test_garbage_store_is_a_fault_naming_it(prepared: dict[str, Path], tracking_uri: str) -> None:
    Path(tracking_uri.removeprefix("sqlite:///")).write_bytes(b"not an MLflow store\n" * 100)
    code, err, _ = run_bikes(str(CONFS / "training.yaml"))
    assert code == 5, err
    assert err == (
        f"bikes: error: {tracking_uri}: the store is corrupt: restore it from a backup, or move"
        " it away (file is not a database)\n"
    )


def test_corrupt_registry_is_a_fault_not_a_missing_model(
    registered_model: dict[str, str],
    tracking_uri: str,
    capsys: pytest.CaptureFixture[str],
    corrupt_tables: CorruptTables,
) -> None:
    corrupt_tables(Path(tracking_uri.removeprefix("sqlite:///")), "registered_model_aliases")
    code, err = run_main([str(CONFS / "inference.yaml")], capsys)
    assert code == 5, err
    assert err.splitlines()[-1] == (
        f"bikes: error: {tracking_uri}: the store is corrupt: restore it from a backup, or move"
        " it away (database disk image is malformed)"
    )
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("0584bdc529eb", "the store's schema (0584bdc529eb) is older than MLflow"),
        ("ffffffffffff", "the store was made by a newer MLflow (schema ffffffffffff"),
    ],
)
def test_store_of_another_mlflow_is_a_fault(
    tracking_uri: str, version: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with sqlite3.connect(tracking_uri.removeprefix("sqlite:///")) as connection:
        connection.execute("UPDATE alembic_version SET version_num = ?", (version,))
    connection.close()
    code, err = run_main([str(CONFS / "training.yaml")], capsys)
    assert code == 5, err
    assert err.startswith(f"bikes: error: {tracking_uri}: {expected}")
    assert len(err.splitlines()) == 1


def test_verbose_shows_the_traceback_of_a_fault(tracking_uri: str) -> None:
    Path(tracking_uri.removeprefix("sqlite:///")).write_bytes(b"not an MLflow store\n" * 100)
    with pytest.raises(Exception, match="file is not a database"):  # the original exception
        scripts.main([str(CONFS / "training.yaml"), "--verbose"])


def test_other_exceptions_stay_bugs(monkeypatch: pytest.MonkeyPatch) -> None:
    def bug(_: object) -> int:
        raise ZeroDivisionError

    monkeypatch.setattr(scripts, "run", bug)
    with pytest.raises(ZeroDivisionError):  # its traceback, exit code 1
        scripts.main(["any.yaml"])


def can_mount() -> bool:
    """Tell whether this user may mount a file system in a namespace of its own (`unshare`)."""
    unshare = shutil.which("unshare")
    command = [str(unshare), "-rm", "mount", "-t", "tmpfs", "tmpfs", "/mnt"]
    return unshare is not None and subprocess.run(command, check=False).returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not can_mount(), reason="cannot mount a file system in a user namespace")
@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ("size=16k", "no space left (No space left on device): free some disk space, then retry"),
        ("ro", "access denied (Read-only file system): check the permissions of its folder"),
    ],
    ids=["full", "read-only"],
)
@pytest.mark.integration
def test_full_or_read_only_artifact_store_is_a_fault(
    prepared: dict[str, Path], tracking_uri: str, options: str, expected: str
) -> None:
    Path(
        "mlruns"
    ).mkdir()  # where the new experiment keeps its artifacts: a small or read-only disk
    bikes = Path(sys.executable).parent / "bikes"
    mount = f"mount -t tmpfs -o {options} tmpfs mlruns && exec {bikes} {CONFS / 'training.yaml'}"
    process = subprocess.run(
        ["unshare", "-rm", "sh", "-c", mount], capture_output=True, text=True, check=False
    )
    assert process.returncode == 5, process.stderr
    last = process.stderr.strip().splitlines()[-1]
    assert f"{Path.cwd()}/mlruns/" in last
    assert last.endswith(expected)
    assert "Traceback" not in process.stderr


# %% SAMPLE INPUTS: what `mlflow models predict` and the serving job take


@pytest.mark.parametrize("name", ["inputs.csv", "inputs.json"])
def test_sample_inputs_are_what_the_model_takes(
    name: str, registered_model: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    import pandas as pd

    from bikes.io import registries

    assert scripts.main(["--sample-inputs", name]) == 0
    assert f"wrote 24 hours of model inputs to {name}" in capsys.readouterr().err
    if name.endswith(".json"):
        split = json.loads(Path(name).read_text())["dataframe_split"]
        inputs = pd.DataFrame(split["data"], columns=split["columns"])
    else:
        inputs = pd.read_csv(name)
    assert inputs["hr"].tolist() == list(range(24))
    model = registries.SklearnLoader().load(registered_model["uri"])
    assert list(inputs.columns) == registries.model_columns(model.pipeline, list(inputs.columns))
    predictions = model.predict(inputs)
    assert len(predictions) == 24 and (predictions["prediction"] >= 0).all()


@pytest.mark.slow
@pytest.mark.integration
def test_mlflow_models_predict_runs_on_the_sample_inputs(registered_model: dict[str, str]) -> None:
    assert scripts.main(["--sample-inputs", "inputs.csv"]) == 0
    mlflow = Path(sys.executable).parent / "mlflow"
    command = [str(mlflow), "models", "predict", "-m", "models:/bikes@champion"]
    process = subprocess.run(
        [*command, "-i", "inputs.csv", "-t", "csv", "--env-manager", "local"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert process.returncode == 0, process.stderr[-2000:]
    assert len(json.loads(process.stdout.strip().splitlines()[-1])["predictions"]) == 24
