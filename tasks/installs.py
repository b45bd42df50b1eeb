"""Install tasks: the project environment (uv) and the git hooks (pre-commit)."""

from invoke.context import Context
from invoke.tasks import task


@task
def dependencies(ctx: Context) -> None:
    """Install the project and its dependencies (with the dev group) from `uv.lock`."""
    ctx.run("uv sync --compile-bytecode")


@task
def pre_commit(ctx: Context) -> None:
    """Install the pre-commit and commit-msg git hooks of `.pre-commit-config.yaml`."""
    ctx.run("uv run pre-commit install --hook-type pre-commit --hook-type commit-msg")


@task(pre=[dependencies, pre_commit], default=True)
def all(_: Context) -> None:  # noqa: A001 (the task name is part of the interface)
    """Run all the install tasks."""
