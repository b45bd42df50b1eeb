"""Optuna studies shared by several processes, on one machine or several, through a storage.

A study lives in memory (one process), in a journal file (`journal:<path>`: the processes of one
machine, or of machines sharing a folder), or in a database (an SQLAlchemy URL such as
`postgresql://user@host/optuna`: processes anywhere). A study in a storage is resumable: a search
killed in the middle, run again, goes on from the finished trials.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import typing as T
import warnings
from pathlib import Path

from bikes.core.errors import ConfigError, InfraError
from bikes.utils.searchers.trials import COMPLETE, PRUNED, trial_row

if T.TYPE_CHECKING:
    import optuna
    import pandas as pd

    from bikes.core.models import Params

JOURNAL = "journal:"
# seconds between two heartbeats of a running trial in a database, and the silence after which
# another process marks it failed (its process died): a journal file has no heartbeat, so the
# dead processes of this machine are found by their process id (`fail_dead_trials`)
HEARTBEAT_SECONDS = 30
GRACE_SECONDS = 90
WORKER_ATTR = "worker"  # user attribute of a trial: the host and process id that runs it
FINGERPRINT_ATTR = "fingerprint"  # user attribute of a study: what it searches, on what data


def check_storage(storage: str) -> str:
    """Check that a storage is a journal file (`journal:<path>`) or a database URL."""
    if storage.startswith(JOURNAL) and storage.removeprefix(JOURNAL).strip():
        return storage
    if "://" in storage and not storage.startswith(JOURNAL):
        return storage
    raise ValueError(
        f"expected journal:<path> or a database URL (e.g. postgresql://...), got {storage!r}"
    )


def absolute(storage: str | None) -> str | None:
    """Return a storage whose journal file has an absolute path (the same in any folder)."""
    if storage is None or not storage.startswith(JOURNAL):
        return storage
    return JOURNAL + str(Path(storage.removeprefix(JOURNAL)).resolve())


def masked(storage: str) -> str:
    """Return a storage as it may be logged: without the password of a database URL."""
    if "://" not in storage or "@" not in storage:
        return storage
    scheme, rest = storage.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else storage


def open_storage(storage: str | None) -> optuna.storages.BaseStorage | None:
    """Open the storage of a study (None: in memory).

    Raises:
        InfraError: the database cannot be reached, or the journal file cannot be written.
    """
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    if storage is None:
        return None
    try:
        if storage.startswith(JOURNAL):
            # the lock of a process killed while writing is released after 30 s: optuna's default
            # lock (a symbolic link) checks its age through the link, broken on a relative path
            path = Path(storage.removeprefix(JOURNAL)).resolve()
            path.parent.mkdir(parents=True, exist_ok=True)
            lock = JournalFileOpenLock(str(path))
            return optuna.storages.JournalStorage(JournalFileBackend(str(path), lock_obj=lock))
        with warnings.catch_warnings():  # the heartbeat is "experimental" since optuna 2.9
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                storage,
                engine_kwargs={"pool_pre_ping": True},
                heartbeat_interval=HEARTBEAT_SECONDS,
                grace_period=GRACE_SECONDS,
            )
    except Exception as error:
        detail = " ".join(str(error).split())[:300]
        raise InfraError(f"{masked(storage)}: cannot open the study storage ({detail})") from error


def fingerprint(
    searched: T.Mapping[str, T.Any], inputs: pd.DataFrame, targets: pd.DataFrame
) -> str:
    """Return a digest of a search and of its data: a study resumes only the same search."""
    import pandas as pd

    digest = hashlib.sha256(json.dumps(searched, sort_keys=True, default=str).encode())
    for frame in (inputs, targets):
        digest.update(pd.util.hash_pandas_object(frame).to_numpy().tobytes())
    return digest.hexdigest()


def check_fingerprint(study: optuna.Study, expected: str, storage: str) -> None:
    """Mark a new study with the fingerprint of its search, or check that of an existing one.

    Raises:
        ConfigError: the study was made for another search or other data.
    """
    found = study.user_attrs.get(FINGERPRINT_ATTR)
    if found is None:
        study.set_user_attr(FINGERPRINT_ATTR, expected)
    elif found != expected:
        raise ConfigError(
            f"{masked(storage)}: study {study.study_name!r} searched other data, params or folds:"
            " set another study_name to start a new study"
        )


def worker() -> str:
    """Return the name of this process in a trial: `<host>:<process id>`."""
    return f"{socket.gethostname()}:{os.getpid()}"


def fail_dead_trials(study: optuna.Study) -> list[int]:
    """Mark failed the running trials of this machine whose process died; return their numbers."""
    import optuna
    import psutil

    host = socket.gethostname()
    dead = []
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        name, _, pid = str(trial.user_attrs.get(WORKER_ATTR, "")).rpartition(":")
        if name == host and pid.isdigit() and not psutil.pid_exists(int(pid)):
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
            dead.append(trial.number)
    return dead


def finished(study: optuna.Study) -> int:
    """Return the number of finished trials of a study: complete or pruned."""
    import optuna

    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return len(study.get_trials(deepcopy=False, states=states))


def shares(trials: int | None, workers: int) -> list[int | None]:
    """Split trials among workers (each runs until the timeout when `trials` is None)."""
    if trials is None:
        return [None] * workers
    return [trials // workers + (index < trials % workers) for index in range(workers)]


def trial_rows(study: optuna.Study, n_folds: int) -> pd.DataFrame:
    """Return one row a finished trial of a study, by number (see `trial_row`)."""
    import optuna
    import pandas as pd

    states = {optuna.trial.TrialState.COMPLETE: COMPLETE, optuna.trial.TrialState.PRUNED: PRUNED}
    rows: list[Params] = []
    for trial in study.get_trials(deepcopy=False, states=tuple(states)):
        scores = [trial.intermediate_values[step] for step in sorted(trial.intermediate_values)]
        rows.append(trial_row(trial.number, states[trial.state], trial.params, scores, n_folds))
    return pd.DataFrame(rows).sort_values("trial", ignore_index=True) if rows else pd.DataFrame()
