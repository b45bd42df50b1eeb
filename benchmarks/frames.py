"""Inputs of the size figures: test rows repeated to any number of rows, in memory or on disk."""

from __future__ import annotations

import typing as T

if T.TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd


def repeat_rows(frame: pd.DataFrame, rows: int) -> pd.DataFrame:
    """Return the first `rows` rows of a frame repeated as many times as needed."""
    import numpy as np
    import pandas as pd

    copies = -(-rows // len(frame))
    result = pd.concat([frame] * copies).iloc[:rows]
    result.index = pd.Index(np.arange(rows, dtype="int64"), name=frame.index.name)
    return result


def write_repeated(frame: pd.DataFrame, rows: int, path: Path, chunk: int = 1_000_000) -> None:
    """Write `rows` rows of a frame repeated to a Parquet file, chunk by chunk (flat memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    chunk = max(1, chunk // len(frame)) * len(frame)  # whole copies: the pattern goes on
    block = repeat_rows(frame, min(chunk, rows))
    table = pa.Table.from_pandas(block, preserve_index=True)
    with pq.ParquetWriter(path, table.schema) as writer:
        written = 0
        while written < rows:
            size = min(chunk, rows - written)
            part = block.iloc[:size]
            part.index = part.index + written
            writer.write_table(pa.Table.from_pandas(part, schema=table.schema, preserve_index=True))
            written += size
