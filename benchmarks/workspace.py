"""Work folders of the benchmarks: each run in its own folder, with its own SQLite MLflow store.

MLflow records absolute artifact paths in its store. A seed folder (data, tuned params, models) is
built at the place where its copies will run, then moved aside (`stow`): each run gets a fresh copy
back at that place (`checkout`), where the copied store finds the copied artifacts as they are.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import typing as T
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFS = ROOT / "confs"


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


def stow(folder: Path, seed: Path) -> Path:
    """Move a work folder aside as a seed, to be copied back where it was built (`checkout`)."""
    return folder.rename(seed)


@contextlib.contextmanager
def checkout(seed: Path, folder: Path) -> T.Iterator[Path]:
    """Copy a seed back to the place it was built at, for one run; remove the copy afterwards."""
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(seed, folder)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def make_store(folder: Path) -> None:
    """Create the (migrated, empty) SQLite MLflow store of a work folder, in a subprocess."""
    code = "import mlflow, sys; mlflow.MlflowClient(sys.argv[1]).search_experiments()"
    subprocess.run(  # noqa: S603 (this interpreter)
        [sys.executable, "-c", code, tracking_uri(folder)],
        check=True,
        env=environment(folder),
        capture_output=True,
    )


def mlflow_client(folder: Path) -> T.Any:
    """Return an MLflow client of the store of a work folder."""
    from mlflow.tracking import MlflowClient

    uri = tracking_uri(folder)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def local_path(uri: str) -> Path:
    """Return the local path of a `file:` URI or a path."""
    return Path(uri.removeprefix("file://"))


class inside:  # noqa: N801 (used like contextlib.chdir)
    """Work in a folder with its MLflow store: the current directory and the tracking URI."""

    def __init__(self, folder: Path) -> None:
        """Keep the folder."""
        self.folder = folder
        self.previous: tuple[str, str | None] = ("", None)

    def __enter__(self) -> Path:
        """Enter the folder and point MLflow at its store."""
        import mlflow

        self.previous = (os.getcwd(), os.environ.get("MLFLOW_TRACKING_URI"))
        os.chdir(self.folder)
        os.environ["MLFLOW_TRACKING_URI"] = tracking_uri(self.folder)
        mlflow.set_tracking_uri(tracking_uri(self.folder))
        mlflow.set_registry_uri(tracking_uri(self.folder))
        return self.folder

    def __exit__(self, *args: object) -> None:
        """Go back to the previous folder and tracking URI."""
        cwd, uri = self.previous
        os.chdir(cwd)
        if uri is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = uri
