"""Tell the faults of resources outside the package from bugs, as `InfraError`s that name them.

A job that fails because a tracking server does not answer, an MLflow store is locked, corrupt or
of another schema version, or a disk is full or denies a write, has no bug to show: the CLI turns
such an exception into one line that names the resource and what to do (exit code 5). Any other
exception stays a bug (its traceback, exit code 1).

This module imports no library: an exception can only be of a module that was imported already.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import sys
import typing as T
import urllib.parse
from pathlib import Path

from bikes.core.errors import InfraError

NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
DENIED = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})
# exceptions of `requests` (MLflow's HTTP client) that say a server could not be reached in time
UNREACHABLE = ("ConnectionError", "Timeout", "RetryError")
# what the database says of a failed store (lower case), and what to do about it
STORE_FAULTS = (
    ("is locked", "the store is locked by another process: retry once it is done"),
    ("not a database", "the store is corrupt: restore it from a backup, or move it away"),
    ("malformed", "the store is corrupt: restore it from a backup, or move it away"),
    ("disk is full", "no space left for the store: free some disk space"),
    ("readonly database", "cannot write the store: check the permissions of the file"),
    ("unable to open", "cannot open the store: check that its folder exists and is writable"),
)
# the schema version that MLflow found in a store it cannot use as is
SCHEMA_VERSION = re.compile(
    r"out-of-date database schema \(found version (\w+)|Can't locate revision identified by '(\w+)'"
)


def without_traceback(record: logging.LogRecord) -> bool:
    """Drop a log record that carries a traceback: MLflow logs those of store errors it raises."""
    return record.exc_info is None


def classify(error: BaseException) -> InfraError | None:
    """Return the `InfraError` that an exception stands for, or None when it is no such fault.

    The exception and those it was raised from (its cause or context, as a traceback shows them)
    are read in turn from the outermost: MLflow, for one, raises its own exception while handling
    the one of `requests` or SQLAlchemy.
    """
    for link in chain(error):
        fault = server_fault(link) or store_fault(link) or disk_fault(link)
        if fault is not None:
            return fault
    return None


def chain(error: BaseException) -> T.Iterator[BaseException]:
    """Yield an exception, then the exceptions it was raised from, innermost last."""
    seen: set[int] = set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or (None if link.__suppress_context__ else link.__context__)


def is_a(error: BaseException, module: str, *names: str) -> bool:
    """Tell whether an exception is of one of the named classes of a module, if it was imported."""
    loaded = sys.modules.get(module)
    kinds = [getattr(loaded, name, None) for name in names]
    return any(isinstance(kind, type) and isinstance(error, kind) for kind in kinds)


def server_fault(error: BaseException) -> InfraError | None:
    """Return the fault of an HTTP server that does not answer, or that refuses the credentials."""
    if is_a(error, "requests.exceptions", *UNREACHABLE):
        tracking = tracking_uri()
        url = str(getattr(getattr(error, "request", None), "url", None) or tracking)
        server = tracking if tracking and url.startswith(tracking) else origin(url)
        return InfraError(
            f"{redact(server)}: the server does not answer ({reason(error)}): check that it runs"
            " and that the URI is right"
        )
    code = getattr(error, "error_code", None)
    if is_a(error, "mlflow.exceptions", "MlflowException") and code in {
        "UNAUTHENTICATED",
        "PERMISSION_DENIED",
    }:
        return InfraError(
            f"{redact(tracking_uri())}: access denied ({first_line(error)}): check"
            " MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD"
        )
    return None


def store_fault(error: BaseException) -> InfraError | None:
    """Return the fault of a database store: locked, corrupt, full, read-only or out of date."""
    if is_a(error, "mlflow.exceptions", "MlflowException") or is_a(
        error, "alembic.util.exc", "CommandError"
    ):
        match = SCHEMA_VERSION.search(str(error))
        return schema_fault(match.group(1) or match.group(2)) if match else None
    if not is_a(error, "sqlalchemy.exc", "DBAPIError"):
        return None
    detail = first_line(getattr(error, "orig", None) or error)
    store = " or ".join(stores())
    for words, advice in STORE_FAULTS:
        if words in detail.lower():
            return InfraError(f"{store}: {advice} ({detail})")
    if is_a(error, "sqlalchemy.exc", "OperationalError"):  # e.g. a database server that is down
        return InfraError(f"{store}: the store failed ({detail}): check that it is reachable")
    return None


def schema_fault(version: str) -> InfraError:
    """Return the fault of a store whose schema version is not the one of the installed MLflow."""
    mlflow = sys.modules["mlflow"]
    migrations = Path(str(mlflow.__file__)).parent / "store" / "db_migrations" / "versions"
    uris = stores()
    store = " or ".join(uris)
    if any(migrations.glob(f"{version}_*.py")):
        target = uris[0] if len(uris) == 1 else "<URI of the store>"
        return InfraError(
            f"{store}: the store's schema ({version}) is older than MLflow {mlflow.__version__}'s:"
            f" back it up, then run `mlflow db upgrade {target}`"
        )
    return InfraError(
        f"{store}: the store was made by a newer MLflow (schema {version}, MLflow"
        f" {mlflow.__version__} is installed): upgrade mlflow, or use another store"
    )


def disk_fault(error: BaseException) -> InfraError | None:
    """Return the fault of a full disk, or of a denied or read-only file or folder."""
    if not isinstance(error, OSError) or error.errno not in NO_SPACE | DENIED:
        return None
    files = [str(name) for name in (error.filename, error.filename2) if name]  # e.g. a copy's
    where = f"{' -> '.join(files)}: " if files else ""
    reason = os.strerror(error.errno)
    if error.errno in NO_SPACE:
        return InfraError(f"{where}no space left ({reason}): free some disk space, then retry")
    return InfraError(f"{where}access denied ({reason}): check the permissions of its folder")


def reason(error: BaseException) -> str:
    """Return the reason at the bottom of an exception chain, e.g. `Connection refused`."""
    *_, innermost = chain(error)
    if isinstance(innermost, OSError) and innermost.strerror:
        return innermost.strerror
    return first_line(innermost) or type(innermost).__name__


def first_line(error: BaseException) -> str:
    """Return the first line of the message of an exception."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else ""


def tracking_uri() -> str:
    """Return the tracking URI that MLflow uses (its environment variable before MLflow loads)."""
    mlflow = sys.modules.get("mlflow")
    if mlflow is None:
        return os.getenv("MLFLOW_TRACKING_URI", "")
    return str(mlflow.get_tracking_uri())


def stores() -> list[str]:
    """Return the URIs of the MLflow stores in use: tracking, then registry if it is another."""
    tracking = redact(tracking_uri())
    mlflow = sys.modules.get("mlflow")
    registry = redact(str(mlflow.get_registry_uri())) if mlflow else tracking
    return [tracking] if registry == tracking else [tracking, registry]


def origin(url: str) -> str:
    """Return the scheme and host of a URL (e.g. `http://127.0.0.1:5000`)."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else url


def redact(uri: str) -> str:
    """Hide the password of a URI (e.g. `postgresql://user:***@host/db`)."""
    parts = urllib.parse.urlsplit(uri)
    if parts.password is None:
        return uri
    user, _, host = parts.netloc.rpartition("@")
    name = user.partition(":")[0]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{name}:***@{host}"))
