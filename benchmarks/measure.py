"""Measures: summary statistics of repeated runs, and whole processes with their peak memory."""

from __future__ import annotations

import dataclasses
import os
import statistics
import subprocess
import time
import typing as T
from pathlib import Path

import psutil

POLL_SECONDS = 0.05


@dataclasses.dataclass(frozen=True)
class Stats:
    """Summary of repeated measures: median and spread (min, max, interquartile range)."""

    values: tuple[float, ...]
    median: float
    low: float
    high: float
    iqr: float

    @classmethod
    def of(cls, values: T.Sequence[float]) -> Stats:
        """Summarize one or more values."""
        if not values:
            raise ValueError("no values to summarize")
        ordered = sorted(values)
        if len(ordered) >= 2:
            quartiles = statistics.quantiles(ordered, n=4, method="inclusive")
            iqr = quartiles[2] - quartiles[0]
        else:
            iqr = 0.0
        return cls(
            values=tuple(values),
            median=statistics.median(ordered),
            low=ordered[0],
            high=ordered[-1],
            iqr=iqr,
        )

    def inverse(self, numerator: float) -> Stats:
        """Return the statistics of `numerator / value` (e.g. rows/s from seconds)."""
        return Stats.of([numerator / max(value, 1e-12) for value in self.values])


@dataclasses.dataclass(frozen=True)
class ProcessRun:
    """A whole process: its wall and CPU times, the peak RSS of its process tree, its exit code.

    The CPU time (user and system, of the process and the children it waited for) holds better than
    the wall time on a busy machine: it leaves out the time spent waiting for a core.
    """

    seconds: float
    peak_rss: int
    returncode: int
    stderr_tail: str
    cpu_seconds: float = 0.0


def tree_rss(process: psutil.Process) -> int:
    """Return the resident memory of a process and all its descendants, in bytes."""
    total = 0
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.Error:
        return 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            continue
    return total


def run_process(
    command: T.Sequence[str],
    cwd: Path,
    env: T.Mapping[str, str] | None = None,
    timeout: float | None = None,
    poll: float = POLL_SECONDS,
) -> ProcessRun:
    """Run a command to its end, polling the RSS of its process tree for the peak.

    The peak is sampled every `poll` seconds (a spike shorter than that may be missed); stdout is
    discarded and the last lines of stderr are kept for error messages.
    """
    log = cwd / f".bench-stderr-{time.monotonic_ns()}.log"
    before = children_cpu()
    with log.open("wb") as stderr:
        start = time.perf_counter()
        popen = subprocess.Popen(  # noqa: S603 (commands built by the suite itself)
            list(command),
            cwd=cwd,
            env=dict(env if env is not None else os.environ),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        process = psutil.Process(popen.pid)
        peak = 0
        while popen.poll() is None:
            peak = max(peak, tree_rss(process))
            if timeout is not None and time.perf_counter() - start > timeout:
                popen.kill()
                popen.wait()
                break
            time.sleep(poll)
        seconds = time.perf_counter() - start
    tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:])
    log.unlink()
    cpu = children_cpu() - before
    return ProcessRun(seconds, peak, popen.returncode, tail, cpu_seconds=cpu)


def children_cpu() -> float:
    """Return the CPU seconds (user and system) of the terminated children of this process."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed[R](function: T.Callable[[], R]) -> tuple[float, R]:
    """Call a function and return its wall time in seconds with its result."""
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def total_memory() -> int:
    """Return the memory of the machine, in bytes."""
    return int(psutil.virtual_memory().total)


def folder_bytes(path: Path) -> int:
    """Return the total size of the files under a folder, in bytes."""
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())
