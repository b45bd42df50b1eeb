"""Work folders of the benchmarks: each run in its own folder, with its own SQLite MLflow store."""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFS = ROOT / "confs"
# files and folders of a work folder that a clone copies (data, outputs, confs, the MLflow store)
CLONED = ("confs", "data", "outputs", "mlruns", "mlflow.db")


def bikes_command() -> list[str]:
    """Return the command of the `bikes` script of this environment."""
    script = Path(sys.executable).with_name("bikes")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "bikes"]


def tracking_uri(folder: Path) -> str:
    """Return the URI of the SQLite MLflow store of a work folder."""
    return f"sqlite:///{folder / 'mlflow.db'}"


def environment(folder: Path, source: str | None = None) -> dict[str, str]:
    """Return the environment of a process working in `folder` (its own store, no ambient run)."""
    env = dict(os.environ)
    for name in ("MLFLOW_REGISTRY_URI", "MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID"):
        env.pop(name, None)
    env["MLFLOW_TRACKING_URI"] = tracking_uri(folder)
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    if source is not None:
        env["BIKES_DATA_SOURCE"] = source
    return env


def create(folder: Path) -> Path:
    """Create an empty work folder holding a copy of the project's configs."""
    folder.mkdir(parents=True, exist_ok=False)
    shutil.copytree(CONFS, folder / "confs")
    return folder


def rewrite_paths(database: Path, old: str, new: str) -> None:
    """Replace a folder prefix in every text column of a SQLite store (absolute artifact paths)."""
    with sqlite3.connect(database) as connection:
        tables = [
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        for table in tables:
            columns = connection.execute(f'PRAGMA table_info("{table}")').fetchall()
            for column in columns:
                name, kind = column[1], str(column[2]).upper()
                if "CHAR" not in kind and "TEXT" not in kind:
                    continue
                connection.execute(
                    f'UPDATE "{table}" SET "{name}" = replace("{name}", ?, ?) '  # noqa: S608 (names from the schema)
                    f'WHERE instr("{name}", ?) > 0',
                    (old, new, old),
                )
    connection.close()


def clone(source: Path, folder: Path) -> Path:
    """Copy a work folder, and point the copied MLflow store at the copied artifacts."""
    folder.mkdir(parents=True, exist_ok=False)
    for name in CLONED:
        path = source / name
        if path.is_dir():
            shutil.copytree(path, folder / name)
        elif path.is_file():
            shutil.copyfile(path, folder / name)
    if (folder / "mlflow.db").exists():
        rewrite_paths(folder / "mlflow.db", str(source), str(folder))
    return folder
