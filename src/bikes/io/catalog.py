"""One catalog of the project's data: where each split and output lives, written once.

The jobs' defaults read their paths here, and configs refer to them by name, as
`path: ${catalog:inputs_test}`, so moving a file is one edit.
"""

from __future__ import annotations

import typing as T

from bikes.io import datasets

PATHS: T.Final[dict[str, str]] = {
    "cache": "data/cache",
    "inputs_train": "data/inputs_train.parquet",
    "targets_train": "data/targets_train.parquet",
    "inputs_test": "data/inputs_test.parquet",
    "targets_test": "data/targets_test.parquet",
    "best_params": "outputs/tuning/best_params.json",
    "predictions": "outputs/predictions.parquet",
    "shap_values": "outputs/explanations/shap_values.parquet",
    "feature_importances": "outputs/explanations/feature_importances.parquet",
    "monitoring": "outputs/monitoring",
}


def path(name: str) -> str:
    """Return the path of a data set of the catalog by its name."""
    try:
        return PATHS[name]
    except KeyError:
        raise KeyError(
            f"no data set {name!r} in the catalog: pick one of {', '.join(PATHS)}"
        ) from None


def reader(name: str) -> datasets.ParquetReader:
    """Return a reader of a data set of the catalog."""
    return datasets.ParquetReader(path=path(name))


def writer(name: str) -> datasets.ParquetWriter:
    """Return a writer of a data set of the catalog."""
    return datasets.ParquetWriter(path=path(name))
