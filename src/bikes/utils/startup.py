"""Start a job process fast: its heavy imports with the garbage collector off, then frozen.

Starting a job imports thousands of modules (MLflow, its SQL store, scikit-learn, skops) and makes
millions of objects, none of them garbage. With the collector on, CPython traverses them again
and again while they are made, and once more when the process exits: the inference job spent
about a third of its CPU time there. `gc.freeze()` moves them out of every later collection.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import sys
import typing as T


@contextlib.contextmanager
def starting(*modules: str) -> T.Iterator[None]:
    """Import `modules` in order and run the block with the collector off, then freeze the heap.

    Once a process: when the modules are already imported (a later job of a pipeline, a test), or
    the collector is already off (a caller doing the same), the collector is left alone, so no
    garbage of a long-lived process is ever frozen.
    """
    first = gc.isenabled() and not all(module in sys.modules for module in modules)
    if first:
        gc.disable()
    try:
        for module in modules:
            importlib.import_module(module)
        yield
    finally:
        if first:
            gc.freeze()
            gc.enable()
