"""Engines of batch inference: where and how the inputs are scored, selected by `KIND`.

`LocalEngine` scores with pandas in the job's process, one batch after the other. `DaskEngine`
scores the partitions of a Parquet dataset in parallel on a Dask cluster: a local one started for
the job (`address: null`), or a cluster's scheduler (an address). Both apply the same validation
and error rules, and write their outputs atomically.

Modules: `base` (the interface and the rules), `local`, `dask` (needs the extra `bikes[dask]`) and
`partitions` (slices of a Parquet dataset that workers read on their own).
"""

from bikes.io.engines.base import Engine, Scored, Scoring
from bikes.io.engines.dask import DaskEngine
from bikes.io.engines.local import LocalEngine

EngineKind = LocalEngine | DaskEngine

__all__ = ["DaskEngine", "Engine", "EngineKind", "LocalEngine", "Scored", "Scoring"]
