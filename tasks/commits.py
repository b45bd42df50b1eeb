"""Commit tasks: conventional commits and semantic version bumps with Commitizen.

CHANGELOG.md is kept by hand in Keep a Changelog form: `bump` turns its `[Unreleased]` section
into the new version's section, then Commitizen bumps the version in `pyproject.toml` (its single
source, `uv.lock` follows), commits and tags `v<version>`.
"""

import datetime
from pathlib import Path

from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

CHANGELOG = Path("CHANGELOG.md")
UNRELEASED = "## [Unreleased]"


@task
def info(ctx: Context) -> None:
    """Print the commit message convention of the project."""
    ctx.run("uv run cz info")


@task
def commit(ctx: Context) -> None:
    """Commit the staged changes with a conventional message (interactive)."""
    ctx.run("uv run cz commit", pty=True)


def release_changelog(text: str, version: str, date: datetime.date) -> str:
    """Return the changelog `text` with its Unreleased entries moved under `version`."""
    if UNRELEASED not in text:
        raise Exit(f"commits: no '{UNRELEASED}' section in {CHANGELOG}.", code=1)
    return text.replace(UNRELEASED, f"{UNRELEASED}\n\n## [{version}] - {date.isoformat()}", 1)


@task
def bump(ctx: Context, dry_run: bool = False) -> None:
    """Bump the version from the commits, release CHANGELOG.md's Unreleased section, tag."""
    if dry_run:
        ctx.run("uv run cz bump --yes --dry-run")
        return
    result = ctx.run("uv run cz bump --yes --get-next", hide="out")
    version = result.stdout.strip().splitlines()[-1] if result is not None else ""
    if not version:
        raise Exit("commits: Commitizen gave no next version.", code=1)
    text = CHANGELOG.read_text(encoding="utf-8")
    CHANGELOG.write_text(release_changelog(text, version, datetime.date.today()), encoding="utf-8")
    ctx.run(f"git add {CHANGELOG}")
    ctx.run("uv run cz bump --yes")
