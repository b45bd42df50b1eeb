"""Tests of the scaling benchmark's helpers (the benchmark itself runs for minutes)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from benchmarks import scaling


def test_repeated_parts_have_unique_instants(
    hours: pd.DataFrame, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scaling, "PART_ROWS", 1000)

    folder = scaling.write_parts(hours.drop(columns="cnt"), 2500, isolated / "parts")

    assert sorted(path.name for path in folder.iterdir()) == [
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    data = pd.read_parquet(folder)
    assert len(data) == 2500 and data.index.is_unique and data.index.name == "instant"
    first = hours.drop(columns="cnt").iloc[:10].reset_index(drop=True)
    assert data.iloc[2000:2010].reset_index(drop=True).equals(first)  # each part: the same rows


def test_table_says_which_targets_hold() -> None:
    run = {"rows": 10, "seconds": 1.0, "workers": 1, "peak_memory_gib": 0.5, "load_average": 1.0}
    figures = {
        "sample_rows": 5,
        "identical": True,
        "inference": {
            "dask-1": run | {"rows_per_second": 100.0},
            "dask-2": run | {"rows_per_second": 190.0, "workers": 2},
            "pandas": run | {"rows_per_second": 120.0},
        },
        "tuning": {
            "1": {"trials": 4, "seconds": 10.0, "trial_seconds": 8.0, "load_average": 1.0},
            "2": {"trials": 4, "seconds": 7.0, "trial_seconds": 9.0, "load_average": 1.0},
        },
    }

    text = scaling.table(figures)

    assert "| Dask scaling efficiency | 0.95 | >= 0.8 | yes |" in text
    assert "| tuning time, 2 processes / 1 | 0.70 | <= 0.6 | no |" in text
    assert "| Dask = pandas on 5 rows | True | True | yes |" in text
    assert "| tuning trial-seconds, 2 processes / 1 | 1.12 |  |  |" in text
