"""Commit tasks: conventional commits and semantic version bumps with Commitizen."""

from invoke.context import Context
from invoke.tasks import task


@task
def info(ctx: Context) -> None:
    """Print the commit message convention of the project."""
    ctx.run("uv run cz info")


@task
def commit(ctx: Context) -> None:
    """Commit the staged changes with a conventional message (interactive)."""
    ctx.run("uv run cz commit", pty=True)


@task
def bump(ctx: Context, dry_run: bool = False) -> None:
    """Bump the version from the commits, update CHANGELOG.md, tag the release commit."""
    ctx.run("uv run cz bump" + (" --dry-run" if dry_run else ""))
