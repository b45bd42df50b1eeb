"""The built wheel installs in a fresh virtual environment and runs outside the repository.

Builds the wheel with `uv build`, installs it with `uv pip install` (pinned by `uv.lock`, so uv's
cache serves it) into a new venv of the interpreter running the tests, then, from a folder outside
the project, runs the installed `bikes --schema` and the data job on the real data set.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
OUTPUTS = ["inputs_train", "targets_train", "inputs_test", "targets_test"]


def run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a command, fail the test with its output when it fails."""
    process = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert process.returncode == 0, (
        f"{command} exited with {process.returncode}:\n{process.stdout}\n{process.stderr}"
    )
    return process


@pytest.mark.real
@pytest.mark.integration
def test_wheel_installs_and_runs_a_job_outside_the_repository(
    tmp_path: Path, real_data_path: Path
) -> None:
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "uv is needed to build and install the wheel"
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    env["UV_COMPILE_BYTECODE"] = "0"  # faster install; bytecode is compiled on first import
    outside = tmp_path / "outside"  # a folder without pyproject.toml: no project config applies
    outside.mkdir()
    # build the wheel and pin its dependencies like the lock file
    dist = tmp_path / "dist"
    build = [uv, "build", "--wheel", "--python", sys.executable, "--out-dir", str(dist)]
    run([*build, str(ROOT)], cwd=outside, env=env)  # this interpreter: no Python to search for
    wheels = list(dist.glob("bikes-*.whl"))
    assert len(wheels) == 1, wheels
    constraints = tmp_path / "constraints.txt"
    export = [uv, "export", "--project", str(ROOT), "--frozen", "--no-dev", "--no-hashes"]
    run([*export, "--no-emit-project", "--output-file", str(constraints)], cwd=outside, env=env)
    # install it into a fresh venv of the same interpreter
    venv = tmp_path / "venv"
    run([uv, "venv", "--quiet", "-p", sys.executable, str(venv)], cwd=outside, env=env)
    python = venv / "bin" / "python"
    install = [uv, "pip", "install", "--quiet", "--python", str(python)]
    run([*install, "--constraint", str(constraints), str(wheels[0])], cwd=outside, env=env)
    # the package comes from the venv, not from the sources of the repository
    where = run([str(python), "-c", "import bikes; print(bikes.__file__)"], cwd=outside, env=env)
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout
    # the installed command prints the schema of the jobs
    bikes = str(venv / "bin" / "bikes")
    schema = run([bikes, "--schema"], cwd=outside, env=env)
    assert "PreparationJob" in json.dumps(json.loads(schema.stdout))
    # the installed command runs the data job from a config file outside the repository
    config = outside / "preparation.yaml"
    config.write_text(f"job:\n  KIND: PreparationJob\n  source: {real_data_path}\n")
    run([bikes, str(config)], cwd=outside, env=env)
    for name in OUTPUTS:
        assert (outside / "data" / f"{name}.parquet").is_file(), name
