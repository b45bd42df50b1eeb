"""Fixtures of the test suite: isolation, small synthetic data and the real data set."""

from __future__ import annotations

import gc
import hashlib
import os
import shutil
import typing as T
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).parents[1]
REAL_DATA = ROOT.parent / "shared" / "data" / "bike-sharing" / "hour.csv"
CONFS = ROOT / "confs"
SYNTHETIC_DAYS = 90


def pytest_configure(config: pytest.Config) -> None:
    """Give each xdist worker one OpenMP thread: two workers of two threads on two cores spin.

    The coverage gate (`fail_under` of `[tool.coverage.report]`) is the full suite's: a run of
    some files or tests (`pytest tests/core/test_metrics.py`, `-k`) reports coverage, never fails
    on it.
    """
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    coverage = config.pluginmanager.getplugin("_cov")
    partial = config.args_source is not pytest.Config.ArgsSource.TESTPATHS or config.option.keyword
    if coverage is not None and partial:
        coverage.options.cov_fail_under = 0


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Freeze the heap once the tests are over: the interpreter's exit need not collect it.

    Collecting the objects of mlflow, scikit-learn and pandas at exit takes seconds a worker, and
    the run waits for every worker to exit.
    """
    gc.freeze()


def isolate(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Work in a folder, with its own MLflow store (`mlflow.db`) and no ambient data source.

    Args:
        folder: the folder to work in.
        monkeypatch: undoes the changes (of the current directory and the environment).
    """
    monkeypatch.chdir(folder)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)  # mlflow.set_registry_uri sets it
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.delenv("BIKES_DATA_SOURCE", raising=False)


# markers of the tests that start an external component: integration tests, out of the default run
COMPONENTS = ("postgres", "container", "browser")


@pytest.hookimpl(tryfirst=True)  # before `-m` selects the tests
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests of external components as integration tests; deal the long ones first.

    Each xdist worker gets the real-data and slow tests first: work stealing fits the rest.

    Work stealing first splits the tests into one contiguous share a worker, then moves tests from
    the end of a busy worker's queue to an idle one. A long test at the end of a queue keeps one
    worker busy while the others have nothing left to do: so each share starts with its turn of
    the long tests, and ends with short ones.
    """
    for item in items:
        if any(item.get_closest_marker(name) for name in COMPONENTS):
            item.add_marker(pytest.mark.integration)
    workers: int = getattr(config, "workerinput", {}).get("workercount", 1)
    marked = [item.get_closest_marker("real") or item.get_closest_marker("slow") for item in items]
    long = [item for item, mark in zip(items, marked, strict=True) if mark]
    short = [item for item, mark in zip(items, marked, strict=True) if not mark]
    ordered: list[pytest.Item] = []
    for worker in range(workers):
        size = (len(items) - len(ordered)) // (workers - worker)  # as xdist splits them
        dealt = long[worker::workers]
        taken = max(size - len(dealt), 0)
        ordered += dealt + short[:taken]
        short = short[taken:]
    items[:] = ordered + short


def corrupt_sqlite_tables(store: Path, *tables: str) -> None:
    """Overwrite the first page of tables of a SQLite file with garbage (the header stays valid)."""
    import sqlite3

    connection = sqlite3.connect(store)
    size = connection.execute("PRAGMA page_size").fetchone()[0]
    marks = ", ".join("?" * len(tables))
    query = f"SELECT rootpage FROM sqlite_master WHERE name IN ({marks})"  # noqa: S608
    pages = [page for (page,) in connection.execute(query, tables)]
    connection.close()
    with store.open("r+b") as file:
        for page in pages:
            file.seek((page - 1) * size)
            file.write(b"garbage!" * (size // 8))


@pytest.fixture
def corrupt_tables() -> T.Callable[..., None]:
    """Return the function that corrupts tables of a SQLite store (a store the disk damaged)."""
    return corrupt_sqlite_tables


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run each test in its own folder, with its own MLflow store and no ambient data source."""
    isolate(tmp_path, monkeypatch)
    return tmp_path


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Create a migrated MLflow SQLite store once a worker (migrations take seconds)."""
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def tracking_uri(isolated: Path, mlflow_template: Path) -> str:
    """Return the URI of the test's own MLflow store (a copy of the migrated template)."""
    shutil.copyfile(mlflow_template, isolated / "mlflow.db")
    return os.environ["MLFLOW_TRACKING_URI"]


def make_hours(days: int = SYNTHETIC_DAYS, seed: int = 42) -> pd.DataFrame:
    """Make a small raw hourly data set shaped like the UCI one, with a learnable signal."""
    rng = np.random.default_rng(seed)
    stamps = pd.date_range("2011-01-01", periods=days * 24, freq="h")
    hr = stamps.hour.to_numpy()
    weekday = ((stamps.day_of_week.to_numpy() + 1) % 7).astype(int)
    workingday = ((weekday > 0) & (weekday < 6)).astype(int)
    temp = np.clip(
        0.5 + 0.3 * np.sin(np.arange(len(stamps)) / 500) + rng.normal(0, 0.05, len(stamps)), 0, 1
    )
    rush = np.exp(-((hr - 8) ** 2) / 4) + np.exp(-((hr - 17) ** 2) / 4)
    cnt = np.round(20 + 300 * rush * (0.5 + workingday) + 100 * temp + rng.poisson(5, len(stamps)))
    registered = np.round(cnt * 0.8)
    frame = pd.DataFrame(
        {
            "dteday": stamps.strftime("%Y-%m-%d"),
            "season": ((stamps.month.to_numpy() % 12) // 3 + 1).astype(int),
            "yr": (stamps.year.to_numpy() - 2011).astype(int),
            "mnth": stamps.month.to_numpy().astype(int),
            "hr": hr.astype(int),
            "holiday": np.zeros(len(stamps), dtype=int),
            "weekday": weekday,
            "workingday": workingday,
            "weathersit": rng.integers(1, 4, len(stamps)),
            "temp": temp.round(2),
            "atemp": (temp * 0.9).round(4),
            "hum": rng.uniform(0.2, 1.0, len(stamps)).round(2),
            "windspeed": rng.uniform(0.0, 0.6, len(stamps)).round(4),
            "casual": (cnt - registered).astype(int),
            "registered": registered.astype(int),
            "cnt": cnt.astype(int),
        },
        index=pd.RangeIndex(1, len(stamps) + 1, name="instant"),
    )
    return frame


@pytest.fixture
def hours() -> pd.DataFrame:
    """Return a small synthetic raw data set (90 days of hours)."""
    return make_hours()


@pytest.fixture
def hours_csv(isolated: Path, hours: pd.DataFrame) -> Path:
    """Write the synthetic raw data set as `hour.csv` and return its path."""
    path = isolated / "source" / "hour.csv"
    path.parent.mkdir()
    hours.to_csv(path)
    return path


@pytest.fixture
def hours_sha256(hours_csv: Path) -> str:
    """Return the SHA-256 of the synthetic `hour.csv`."""
    return hashlib.sha256(hours_csv.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def real_data_path() -> Path:
    """Return the real UCI `hour.csv` (BIKES_DATA_SOURCE or ../shared); skip when absent locally."""
    source = os.environ.get("BIKES_DATA_SOURCE")
    path = Path(source) if source else REAL_DATA
    if not path.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"the real data set is missing at {path} (set BIKES_DATA_SOURCE)")
        pytest.skip(f"the real data set is not at {path} (set BIKES_DATA_SOURCE)")
    return path.resolve()


SPLITS = ("inputs_train", "targets_train", "inputs_test", "targets_test")


@pytest.fixture(scope="session")
def prepared_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the preparation job on the synthetic data once a worker; return its folder.

    The folder holds the synthetic `source/hour.csv` and the four splits under `data/`.
    """
    from bikes import jobs

    folder = tmp_path_factory.mktemp("prepared-template")
    source = folder / "source" / "hour.csv"
    source.parent.mkdir()
    make_hours().to_csv(source)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    with pytest.MonkeyPatch.context() as patch:  # session fixtures come before `isolated`
        isolate(folder, patch)
        with jobs.PreparationJob(source=str(source), sha256=digest) as runner:
            runner.run()
    return folder


@pytest.fixture
def prepared(isolated: Path, prepared_template: Path) -> dict[str, Path]:
    """Give the test the splits of the synthetic data made by the preparation job; return them.

    The job runs once a worker (`prepared_template`): each test gets its own copy of `data/`.
    """
    shutil.copytree(prepared_template / "data", isolated / "data")
    return {name: isolated / "data" / f"{name}.parquet" for name in SPLITS}


@pytest.fixture
def write_config(isolated: Path) -> T.Callable[[str, str], Path]:
    """Return a function writing a config file in the test folder."""

    def write(name: str, text: str) -> Path:
        path = isolated / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="session")
def registered_template(
    tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path, prepared_template: Path
) -> tuple[Path, dict[str, str]]:
    """Train and register the small champion model of the tests once a worker, in its own folder.

    MLflow records absolute artifact paths: those of this store point into `<folder>/mlruns`. Once
    the model is registered, its artifacts move to `<folder>/artifacts`, and `<folder>/mlruns`
    becomes a link to the artifacts of the test at hand (see `registered_model`), so that each
    test's copy of the store finds its own copy of the artifacts as it is, never rewritten.

    Returns the folder (its `mlflow.db` and `artifacts/`, from a copy of the prepared synthetic
    data) and the model's registry `name`, `version`, `uri` and `run_id`.
    """
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    from bikes import jobs
    from bikes.core.models import GradientBoostingModel
    from bikes.io import registries

    folder = tmp_path_factory.mktemp("registered-template")
    shutil.copyfile(mlflow_template, folder / "mlflow.db")
    shutil.copytree(prepared_template / "data", folder / "data")
    with pytest.MonkeyPatch.context() as patch:  # session fixtures come before `isolated`
        isolate(folder, patch)  # before the job: its MLflow service reads the environment
        job = jobs.TrainingJob(model=GradientBoostingModel(max_iter=20), registry_alias="champion")
        with threadpool_limits(limits=1), job as runner:  # OpenMP threads thrash on busy cores
            trained = runner.run()
    (folder / "mlruns").rename(folder / "artifacts")
    return folder, {
        "name": "bikes",
        "version": str(trained.version),
        "uri": registries.uri_for_model_alias("bikes", "champion"),
        "run_id": trained.run_id,
    }


@pytest.fixture
def registered_model(
    isolated: Path,
    prepared: dict[str, Path],
    tracking_uri: str,
    registered_template: tuple[Path, dict[str, str]],
) -> dict[str, str]:
    """Give the test's store a small gradient boosting model, registered as the champion.

    The model is trained once a worker (`registered_template`): each test gets its own copy of
    that store and its artifacts, beside its own copy of the same prepared data. The copied store
    reaches the test's artifacts through the template's `mlruns` link (tests of a worker run one
    at a time), so writes of the test land in its own folder.

    Returns its registry `name`, `version`, `uri` (`models:/<name>@champion`) and `run_id`.
    """
    from bikes.io import services

    template, registered = registered_template
    shutil.copyfile(template / "mlflow.db", isolated / "mlflow.db")
    shutil.copytree(template / "artifacts", isolated / "mlruns")
    link = template / "mlruns"
    link.unlink(missing_ok=True)
    link.symlink_to(isolated / "mlruns", target_is_directory=True)
    services.MlflowService().start()  # point MLflow at the copy, as the training job would
    return dict(registered)
