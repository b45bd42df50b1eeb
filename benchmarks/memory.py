"""Memory of a large inference: a Parquet input of repeated test rows streamed by `bikes`."""

from __future__ import annotations

import typing as T

from benchmarks.frames import write_repeated
from benchmarks.measure import Stats
from benchmarks.report import Result, Target

if T.TYPE_CHECKING:
    from benchmarks.session import Session

MIB = 1024**2
PEAK = Target(2048, "<", "MiB")


def run(session: Session) -> None:
    """Stream a large Parquet input (repeated test rows) through the inference job."""
    import pandas as pd

    rows = session.options.huge_rows
    path = session.root / f"inputs_{rows}.parquet"
    if not path.exists():
        write_repeated(pd.read_parquet(session.seed / "data/inputs_test.parquet"), rows, path)
    extras = [f"job.inputs.path={path}", "job.outputs.path=outputs/huge.parquet"]
    with session.checkout() as folder:
        run = session.bikes(folder, "confs/inference.yaml", extras)
    note = "whole process, default model"
    peak = Stats.of([run.peak_rss / MIB])
    session.add(Result(f"inference of {rows:,} rows peak RSS", "MiB", peak, None, PEAK, note))
    speed = f"{rows / run.seconds:,.0f} rows/s, whole process"
    session.add(
        Result(f"inference of {rows:,} rows wall", "s", Stats.of([run.seconds]), note=speed)
    )
