"""Clean tasks: remove what the tools, the jobs and the builds generate.

`cleans.all` (the default) removes caches, reports and build outputs; `cleans.reset` also removes
the MLflow store, the job outputs, the prepared data and the virtual environment, which brings the
folder back to a fresh clone (`uv run inv installs` sets it up again).
"""

from invoke.context import Context
from invoke.tasks import task


def _remove(ctx: Context, *paths: str) -> None:
    """Remove files and folders, without failing on the missing ones."""
    ctx.run("rm -rf " + " ".join(paths))


@task
def tools(ctx: Context) -> None:
    """Remove the caches of the tools (mypy, ruff, pytest)."""
    _remove(ctx, ".mypy_cache/", ".ruff_cache/", ".pytest_cache/")


@task
def coverage(ctx: Context) -> None:
    """Remove the coverage data and reports."""
    _remove(ctx, ".coverage", ".coverage.*", "reports/")


@task
def dist(ctx: Context) -> None:
    """Remove the built packages (wheel, sdist)."""
    _remove(ctx, "dist/", "build/")


@task
def docs(ctx: Context) -> None:
    """Remove the generated API documentation."""
    _remove(ctx, "docs/")


@task
def python(ctx: Context) -> None:
    """Remove the Python bytecode caches of the project (not of the venv)."""
    ctx.run(
        "find src tests tasks -type d -name __pycache__ -prune -exec rm -rf {} +",
        warn=True,
    )


@task
def mlflow(ctx: Context) -> None:
    """Remove the local MLflow store: the SQLite database and the artifact folders."""
    _remove(ctx, "mlflow.db", "mlruns/", "mlartifacts/")


@task
def outputs(ctx: Context) -> None:
    """Remove the outputs of the jobs."""
    _remove(ctx, "outputs/")


@task
def data(ctx: Context) -> None:
    """Remove the data prepared by the jobs (the source data set is never in the project)."""
    _remove(ctx, "data/")


@task
def requirements(ctx: Context) -> None:
    """Remove the exported requirements file."""
    _remove(ctx, "requirements.txt")


@task
def venv(ctx: Context) -> None:
    """Remove the virtual environment."""
    _remove(ctx, ".venv/")


@task(pre=[tools, coverage, dist, docs, python, requirements], default=True)
def all(_: Context) -> None:  # noqa: A001 (the task name is part of the interface)
    """Remove the caches, reports and build outputs."""


@task(pre=[all, mlflow, outputs, data, venv])
def reset(_: Context) -> None:
    """Remove everything generated, the venv included: back to a fresh clone."""
