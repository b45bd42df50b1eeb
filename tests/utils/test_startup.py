"""Tests of the start-up of a job process: heavy imports with the collector off, then frozen."""

from __future__ import annotations

import gc
import sys
import typing as T
from pathlib import Path

import pytest

from bikes.utils import startup

# a module that records whether the collector was on while it was imported
PROBE = "import gc\n\ncollecting = gc.isenabled()\n"


@pytest.fixture
def probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> T.Iterator[str]:
    """Return the name of a module never imported yet; unfreeze and forget it afterwards."""
    name = f"bikes_probe_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(PROBE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        yield name
    finally:
        sys.modules.pop(name, None)
        gc.unfreeze()
        gc.enable()


def test_starting_imports_with_the_collector_off_then_freezes(probe: str) -> None:
    gc.unfreeze()

    with startup.starting(probe):
        assert not gc.isenabled()

    assert sys.modules[probe].collecting is False
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0


def test_starting_leaves_the_collector_alone_once_imported(probe: str) -> None:
    gc.unfreeze()
    __import__(probe)

    with startup.starting(probe):
        assert gc.isenabled()

    assert gc.get_freeze_count() == 0


def test_starting_leaves_a_disabled_collector_off(probe: str) -> None:
    gc.unfreeze()
    gc.disable()

    with startup.starting(probe):
        pass

    assert probe in sys.modules
    assert not gc.isenabled()  # the caller turns it back on
    assert gc.get_freeze_count() == 0


def test_starting_turns_the_collector_back_on_after_an_error(probe: str) -> None:
    with pytest.raises(RuntimeError), startup.starting(probe):
        raise RuntimeError

    assert gc.isenabled()
