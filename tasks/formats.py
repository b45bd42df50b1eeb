"""Format tasks: sort the imports and format the Python sources with ruff."""

from invoke.context import Context
from invoke.tasks import task


@task
def imports(ctx: Context) -> None:
    """Sort the imports of the Python sources with ruff."""
    ctx.run("uv run ruff check --select I --fix")


@task
def sources(ctx: Context) -> None:
    """Format the Python sources with ruff."""
    ctx.run("uv run ruff format")


@task(pre=[imports, sources], default=True)
def all(_: Context) -> None:  # noqa: A001 (the task name is part of the interface)
    """Run all the format tasks."""
