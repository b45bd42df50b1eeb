"""The cache of the pipeline's steps: an unchanged step is skipped, and its outputs reused.

A step is unchanged when its config, the code and its inputs are those of a finished run of it.
Its key (a fingerprint) is the SHA-256 of its resolved config, the package's version and
source code, the digests of the files it reads and the registry state it reads (e.g. the version
that holds `champion`). The key and the digests of the files the step wrote are tags of the step's
run; a later step with the same key reuses that run if its outputs are still there, unchanged.
"""

from __future__ import annotations

import functools
import hashlib
import json
import typing as T
from pathlib import Path

if T.TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

KEY_TAG = "bikes.cache.key"
OUTPUTS_TAG = "bikes.cache.outputs"
CHUNK = 1 << 20


def file_digest(path: str | Path) -> str | None:
    """Return the SHA-256 of a file, a folder's files (sorted by path), or None if it is missing."""
    target = Path(path)
    if not target.exists():
        return None
    files = sorted(target.rglob("*")) if target.is_dir() else [target]
    digest = hashlib.sha256()
    for file in (item for item in files if item.is_file()):
        digest.update(str(file.relative_to(target) if target.is_dir() else "").encode())
        with file.open("rb") as stream:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


@functools.cache
def code_digest() -> str:
    """Return the SHA-256 of the package's version and of its source files."""
    import bikes

    root = Path(bikes.__file__).parent
    digest = hashlib.sha256(bikes.__version__.encode())
    for file in sorted(root.rglob("*.py")):
        digest.update(str(file.relative_to(root)).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def key(
    config: T.Mapping[str, T.Any], reads: T.Iterable[str], registry: T.Mapping[str, T.Any]
) -> str:
    """Return the key of a step: its config, the code, the files and registry state it reads."""
    state = {
        "config": config,
        "code": code_digest(),
        "files": {path: file_digest(path) for path in sorted(set(reads))},
        "registry": dict(registry),
    }
    return hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode()).hexdigest()


class StepCache:
    """The finished runs of the steps of an experiment, found by their key."""

    def __init__(self, client: MlflowClient, experiment_id: str) -> None:
        """Bind the cache to the experiment of the pipeline."""
        self.client, self.experiment_id = client, experiment_id

    def lookup(self, step_key: str) -> str | None:
        """Return the ID of a finished run of the key whose outputs are unchanged, or None."""
        runs = self.client.search_runs(
            experiment_ids=[self.experiment_id],
            filter_string=f"tags.`{KEY_TAG}` = '{step_key}' and attributes.status = 'FINISHED'",
            order_by=["attributes.start_time DESC"],
            max_results=5,
        )
        for run in runs:
            outputs = json.loads(run.data.tags.get(OUTPUTS_TAG, "{}"))
            if all(file_digest(path) == digest for path, digest in outputs.items()):
                return str(run.info.run_id)
        return None

    def record(self, run_id: str, step_key: str, writes: T.Iterable[str]) -> None:
        """Record the key of a finished step and the digests of the files it wrote on its run."""
        outputs = {path: file_digest(path) for path in sorted(set(writes))}
        self.client.set_tag(run_id, KEY_TAG, step_key)
        self.client.set_tag(run_id, OUTPUTS_TAG, json.dumps(outputs, sort_keys=True))
