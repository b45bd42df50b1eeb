"""The report: figures with their targets, the Markdown table and the JSON document."""

from __future__ import annotations

import dataclasses
import datetime
import operator
import os
import platform
import shutil
import subprocess
import typing as T

from benchmarks import measure, workspace
from benchmarks.measure import Stats

GIB = 1024**3
Comparison = T.Literal["<", "<=", ">=", ">"]
COMPARE: dict[str, T.Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">=": operator.ge,
    ">": operator.gt,
}


@dataclasses.dataclass(frozen=True)
class Target:
    """A limit that a figure must respect, declared once: it renders as text and as a verdict.

    Attributes:
        limit: the bound.
        comparison: how the figure must compare to the bound.
        unit: the unit of the bound, shown after it (`s`, `MiB`, `x reference`, `x floor`...).
        on: what is compared: the figure's median, or its ratio to the reference (or floor).
    """

    limit: float
    comparison: Comparison
    unit: str = ""
    on: T.Literal["median", "ratio"] = "median"

    def __str__(self) -> str:
        """Render the target, e.g. `< 0.3 s` or `<= 1.25x floor`."""
        space = "" if self.unit.startswith("x") else " "
        return f"{self.comparison} {self.limit:g}{space}{self.unit}".rstrip()

    def met(self, result: Result) -> bool:
        """Tell whether a figure meets the target (False when it has no ratio to compare)."""
        value = result.default.median if self.on == "median" else result.ratio
        return value is not None and COMPARE[self.comparison](value, self.limit)


@dataclasses.dataclass(frozen=True)
class Result:
    """One figure of the report, for the default model and a reference (or the floor).

    Attributes:
        name: what was measured.
        unit: unit of the figure.
        default: the measures of the default configuration.
        reference: the measures it is compared to (the reference model, or the floor process).
        target: the limit the figure must respect, if any.
        note: how the figure was measured.
        versus: the name of what `reference` measured, shown beside the ratio.
        failed: why the measure is not valid (e.g. the process exited non-zero): not ok.
    """

    name: str
    unit: str
    default: Stats
    reference: Stats | None = None
    target: Target | None = None
    note: str = ""
    versus: str = "reference"
    failed: str = ""

    @property
    def ratio(self) -> float | None:
        """Return the median of the default over the median of the reference."""
        if self.reference is None or self.reference.median == 0:
            return None
        return self.default.median / self.reference.median

    @property
    def ok(self) -> bool | None:
        """Tell whether the figure meets its target (None without a target)."""
        if self.target is None:
            return None
        return not self.failed and self.target.met(self)

    def to_dict(self) -> dict[str, T.Any]:
        """Return the result as JSON-ready data."""
        return {
            "name": self.name,
            "unit": self.unit,
            "default": dataclasses.asdict(self.default),
            "reference": dataclasses.asdict(self.reference) if self.reference else None,
            "versus": self.versus,
            "ratio": self.ratio,
            "target": str(self.target) if self.target else None,
            "ok": self.ok,
            "note": self.note,
            "failed": self.failed,
        }


def fmt(value: float) -> str:
    """Format a figure with 3 significant digits (thousands separated)."""
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def line(result: Result) -> str:
    """Return the line printed as a figure comes: name, median, reference."""
    reference = f" | {result.versus} {fmt(result.reference.median)}" if result.reference else ""
    return f"  {result.name}: {fmt(result.default.median)} {result.unit}{reference}"


HEADER = ["benchmark", "unit", "default (median)", "spread (min-max)", "reference", "ratio"]


def row(result: Result) -> list[str]:
    """Return the cells of a figure in the table."""
    default = result.default
    spread = f"{fmt(default.low)}-{fmt(default.high)}" if len(default.values) > 1 else ""
    ratio = ""
    if result.ratio is not None:
        ratio = f"{result.ratio:.2f}x" + (
            f" {result.versus}" if result.versus != "reference" else ""
        )
    return [
        result.name,
        result.unit,
        fmt(default.median),
        spread,
        fmt(result.reference.median) if result.reference else "",
        ratio,
        str(result.target) if result.target else "",
        {True: "yes", False: "NO", None: ""}[result.ok],
    ]


def table(results: T.Sequence[Result]) -> str:
    """Format the results as a Markdown table."""
    header = [*HEADER, "target", "ok"]
    rows = [header, ["---"] * len(header), *(row(result) for result in results)]
    widths = [max(len(cells[index]) for cells in rows) for index in range(len(header))]
    lines = [
        "| "
        + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
        + " |"
        for cells in rows
    ]
    return "\n".join(lines)


def commit() -> str:
    """Return the short commit of the project's work tree (empty without git)."""
    git = shutil.which("git")
    if not git:
        return ""
    process = subprocess.run(  # noqa: S603 (git from the PATH)
        [git, "-C", str(workspace.ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return process.stdout.strip()


def machine() -> dict[str, T.Any]:
    """Describe the machine, the software and the load."""
    import sklearn

    return {
        "date": datetime.datetime.now(tz=datetime.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "memory_gib": round(measure.total_memory() / GIB, 1),
        "load_average": os.getloadavg(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "scikit_learn": sklearn.__version__,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "commit": commit(),
    }


def document(
    settings: dict[str, T.Any], results: T.Sequence[Result], before: dict[str, T.Any]
) -> dict[str, T.Any]:
    """Return the JSON report: the machine (with the load after the run), options and results."""
    return {
        "machine": {**before, "load_average_after": os.getloadavg()},
        "options": settings,
        "results": [result.to_dict() for result in results],
    }
