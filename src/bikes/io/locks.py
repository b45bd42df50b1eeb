"""Locks of a registered model, so that two jobs never move its aliases at the same time.

A local store (`sqlite:///...` or a folder) is locked with a lock file beside it, which the
operating system releases even if the process is killed. A tracking server has no shared file:
its lock is a lease, a tag of the registered model naming an owner and an expiry, written then read
back after a pause, so of two jobs that write it at once only the last one goes on.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import typing as T
from pathlib import Path

from bikes.core.errors import InfraError

if T.TYPE_CHECKING:
    from bikes.io.tracking import Registry

LEASE_TAG = "bikes.lock"
# pause between writing a lease and reading it back: longer than a registry round trip
LEASE_SETTLE = 0.5
POLL = 0.2


def owner() -> str:
    """Return who runs this process: user, host and process ID."""
    import getpass

    return f"{getpass.getuser()}@{socket.gethostname()}:{os.getpid()}"


def local_store(uri: str) -> Path | None:
    """Return the file or folder of a local store URI (None for a server)."""
    if uri.startswith("sqlite:///"):
        return Path(uri.removeprefix("sqlite:///"))
    if uri.startswith("file://"):
        return Path(uri.removeprefix("file://"))
    if "://" not in uri:
        return Path(uri)
    return None


@contextlib.contextmanager
def registry_lock(registry: Registry, uri: str, timeout: float) -> T.Iterator[None]:
    """Hold the lock of a registered model for the block, waiting at most `timeout` seconds."""
    store = local_store(uri)
    if store is None:
        with lease(registry, timeout):
            yield
        return
    import filelock

    path = store.parent / f".{store.name}.{registry.name}.lock"
    try:
        with filelock.FileLock(path, timeout=timeout):
            yield
    except filelock.Timeout as error:
        raise InfraError(
            f"{path}: registered model {registry.name!r} still locked by another job after"
            f" {timeout:.0f}s (a promotion or rollback in progress)"
        ) from error


@contextlib.contextmanager
def lease(registry: Registry, timeout: float, ttl: float = 600.0) -> T.Iterator[None]:
    """Hold a lease on a registered model (a tag with owner and expiry) for the block."""
    me = owner()
    deadline = time.monotonic() + timeout
    while True:
        current = json.loads(registry.model_tags().get(LEASE_TAG) or "{}")
        if not current or current.get("expires", 0) < time.time():
            registry.tag_model(LEASE_TAG, json.dumps({"owner": me, "expires": time.time() + ttl}))
            time.sleep(LEASE_SETTLE)
            if json.loads(registry.model_tags().get(LEASE_TAG) or "{}").get("owner") == me:
                break
        if time.monotonic() > deadline:
            raise InfraError(
                f"registered model {registry.name!r}: still leased by {current.get('owner')}"
                f" after {timeout:.0f}s (tag {LEASE_TAG}; remove it if that job is dead)"
            )
        time.sleep(POLL)
    try:
        yield
    finally:
        registry.tag_model(LEASE_TAG, "")
