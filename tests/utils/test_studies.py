"""Tests of Optuna studies in a storage: shared by worker processes, resumed after a kill."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import typing as T
from pathlib import Path

import optuna
import pandas as pd
import pydantic as pdt
import pytest

from bikes.core import schemas
from bikes.core.errors import ConfigError, InfraError
from bikes.core.metrics import SklearnMetric
from bikes.core.models import GradientBoostingModel
from bikes.utils import searchers
from bikes.utils.searchers import studies
from bikes.utils.splitters import TimeSeriesSplitter

CONFS = Path(__file__).parents[2] / "confs"
SPLITTER = TimeSeriesSplitter(n_splits=2, test_size=200)


@pytest.fixture
def data(hours: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return synthetic inputs and targets (90 days of hours)."""
    return schemas.InputsSchema.check(hours), schemas.TargetsSchema.check(hours)


def searcher(**settings: T.Any) -> searchers.OptunaSearcher:
    """Return a quick Optuna search in a journal file, whose settings may be changed."""
    defaults: dict[str, T.Any] = {
        "space": {"max_iter": searchers.IntDistribution(low=5, high=20)},
        "n_trials": 3,
        "timeout": None,
        "n_jobs": 1,
        "startup_trials": 2,
        "storage": "journal:study.log",
    }
    return searchers.OptunaSearcher(**(defaults | settings))


def search(
    searching: searchers.OptunaSearcher, data: tuple[pd.DataFrame, pd.DataFrame]
) -> searchers.SearchResult:
    """Search the params of a small gradient boosting model on the data."""
    model = GradientBoostingModel(max_iter=10)
    return searching.search(model, SklearnMetric(), data[0], data[1], SPLITTER)


def load(name: str = "bikes-tuning", path: str = "study.log") -> optuna.Study:
    """Load a study of a journal file."""
    backend = optuna.storages.journal.JournalFileBackend(path)
    return optuna.load_study(study_name=name, storage=optuna.storages.JournalStorage(backend))


def test_a_stored_study_resumes_from_its_finished_trials(
    data: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    first = search(searcher(n_trials=2), data)
    again = search(searcher(n_trials=4), data)

    assert list(first.trials["trial"]) == [0, 1]
    assert list(again.trials["trial"]) == [0, 1, 2, 3]  # two more, not four
    pd.testing.assert_frame_equal(again.trials.iloc[:2], first.trials)
    assert again.trials["params"].iloc[0] == {"max_iter": 10}  # the model's, once
    assert len(load().trials) == 4


def test_a_finished_study_runs_no_more_trials(data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    first = search(searcher(), data)
    again = search(searcher(), data)

    assert len(load().trials) == 3
    assert again.best_trial == first.best_trial and again.best_params == first.best_params


def test_a_study_of_another_search_is_refused(data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    search(searcher(n_trials=1), data)
    other = (data[0].iloc[:-24], data[1].iloc[:-24])

    with pytest.raises(ConfigError, match="study 'bikes-tuning' searched other data"):
        search(searcher(n_trials=1), other)
    with pytest.raises(ConfigError, match="set another study_name"):
        search(
            searcher(n_trials=1, space={"max_iter": searchers.IntDistribution(low=1, high=9)}), data
        )
    assert len(search(searcher(n_trials=1, study_name="other"), other).trials) == 1


def test_trials_of_dead_processes_are_marked_failed(
    data: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    search(searcher(n_trials=1), data)
    study = load()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = study.ask()  # left running by a killed process of this machine
    orphan.set_user_attr(studies.WORKER_ATTR, f"{socket.gethostname()}:{dead.pid}")
    alive = study.ask()  # running in a process of another machine
    alive.set_user_attr(studies.WORKER_ATTR, "elsewhere:1")

    result = search(searcher(n_trials=2), data)

    states = {trial.number: trial.state.name for trial in load().trials}
    assert states == {0: "COMPLETE", 1: "FAIL", 2: "RUNNING", 3: "COMPLETE"}
    assert list(result.trials["trial"]) == [0, 3]


@pytest.mark.slow
@pytest.mark.integration
def test_two_worker_processes_share_the_study(
    data: tuple[pd.DataFrame, pd.DataFrame], isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for folder in ("first", "second"):  # joblib reuses its workers, started in the first folder
        (isolated / folder).mkdir()
        monkeypatch.chdir(isolated / folder)

        result = search(searcher(n_trials=4, n_workers=2), data)

        trials = load().trials
        assert list(result.trials["trial"]) == list(range(4))
        assert {trial.state.name for trial in trials} <= {"COMPLETE", "PRUNED"}
        workers = {trial.user_attrs[studies.WORKER_ATTR] for trial in trials}
        assert len(workers) == 2
        assert f"{socket.gethostname()}:{os.getpid()}" not in workers
        assert result.trials["params"].iloc[0] == {"max_iter": 10}


@pytest.mark.slow
@pytest.mark.integration
def test_a_killed_search_resumes_from_the_finished_trials(
    prepared: dict[str, Path], tracking_uri: str
) -> None:
    """`kill -9` the tuning job in the middle: run again, it goes on from the finished trials."""
    command = [sys.executable, "-m", "bikes", str(CONFS / "tuning-distributed.yaml"), "-e"]
    command += ["job.splitter.test_size=200", "job.searcher.n_trials=4", "job.searcher.n_workers=1"]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = Path("outputs/tuning/study.log")
    deadline = time.monotonic() + 240
    finished: list[optuna.trial.FrozenTrial] = []
    while len(finished) < 2 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
        if journal.exists():
            study = load(path=str(journal))
            states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
            finished = study.get_trials(states=states)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    assert len(finished) >= 2, "the search did not finish 2 trials in time"
    assert first.returncode == -signal.SIGKILL

    again = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert again.returncode == 0, again.stderr[-3000:]

    study = load(path=str(journal))
    done = [trial for trial in study.trials if trial.state.name in {"COMPLETE", "PRUNED"}]
    assert len(done) == 4
    kept = {trial.number: trial.params for trial in finished}
    assert {trial.number: trial.params for trial in done if trial.number in kept} == kept
    assert Path("outputs/tuning/best_params.json").exists()


def test_storages_are_checked_and_their_passwords_never_logged() -> None:
    with pytest.raises(pdt.ValidationError, match="n_workers > 1 needs a storage"):
        searchers.OptunaSearcher(n_workers=2)
    with pytest.raises(pdt.ValidationError, match="expected journal:<path> or a database URL"):
        searchers.OptunaSearcher(storage="study.log")
    url = "postgresql://bikes:secret@db:5432/optuna"
    assert studies.masked(url) == "postgresql://bikes:***@db:5432/optuna"
    assert studies.masked("postgresql://bikes@db/optuna") == "postgresql://bikes@db/optuna"
    assert studies.shares(5, 2) == [3, 2] and studies.shares(None, 2) == [None, None]


def test_an_unreachable_database_is_an_infra_error(
    data: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    url = "postgresql://bikes:secret@127.0.0.1:1/optuna"

    with pytest.raises(InfraError) as error:
        search(searcher(storage=url), data)

    assert str(error.value).startswith("postgresql://bikes:***@127.0.0.1:1/optuna: cannot open")
    assert "secret" not in str(error.value)
