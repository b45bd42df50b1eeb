"""Task collections of the project, run them with `uv run inv <collection>.<task>`.

Each module of this package is one collection (`checks`, `cleans`, ...). The namespace built
here is what `uv run inv --list` shows.
"""

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from tasks import (
    checks,
    cleans,
    commits,
    containers,
    docs,
    formats,
    installs,
    packages,
    projects,
    tracking,
)


@task
def bench(ctx: Context) -> None:
    """Run the benchmarks of the project (the `benchmarks` package)."""
    ctx.run("uv run python -m benchmarks")


ns = Collection(
    bench,
    checks,
    cleans,
    commits,
    containers,
    docs,
    formats,
    installs,
    packages,
    projects,
)
# the module is not named mlflow (see its docstring)
ns.add_collection(Collection.from_module(tracking), name="mlflow")
ns.configure({"run": {"echo": True}})
