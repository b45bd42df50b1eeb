"""Tests of the coverage gate: the full suite's, never a partial run's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


@pytest.mark.slow
@pytest.mark.integration
def test_one_test_file_runs_without_tripping_the_gate(tmp_path: Path) -> None:
    report = tmp_path / "coverage.xml"
    command = [sys.executable, "-m", "pytest", "tests/core/test_metrics.py", "-n", "0", "-q"]
    process = subprocess.run(
        [*command, "-p", "no:cacheprovider", f"--cov-report=xml:{report}"],
        cwd=ROOT,
        env={**os.environ, "COVERAGE_FILE": str(tmp_path / ".coverage")},  # not the suite's data
        capture_output=True,
        text=True,
        check=False,
    )
    assert process.returncode == 0, process.stdout[-2000:]
    assert "Required test coverage" not in process.stdout
    assert report.is_file()  # coverage was measured and reported, only not gated
