"""Container tasks: build and run the image of the project, start the compose stack.

Each task first checks that a Docker engine answers (`docker info`): without one it prints a
single line saying so and exits with a non-zero code.
"""

import tomllib
from pathlib import Path

from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

IMAGE = "bikes"


def _version() -> str:
    """Return the version of the project, from its single source: `pyproject.toml`."""
    with Path("pyproject.toml").open("rb") as reader:
        version: str = tomllib.load(reader)["project"]["version"]
    return version


def _require_engine(ctx: Context) -> None:
    """Exit with one clear line when no Docker engine answers."""
    result = ctx.run("docker info", hide=True, warn=True, echo=False)
    if result is None or not result.ok:
        raise Exit("containers: no Docker engine answers (`docker info` failed).", code=1)


@task
def build(ctx: Context, tag: str = "") -> None:
    """Build the image of the project (tagged `latest` and with the project version)."""
    _require_engine(ctx)
    tags = f"--tag {IMAGE}:latest --tag {IMAGE}:{tag or _version()}"
    ctx.run(f"docker build {tags} .")


@task
def run(ctx: Context, args: str = "--help") -> None:
    """Run the image of the project with `args` for `bikes` (default: `--help`)."""
    _require_engine(ctx)
    ctx.run(f"docker run --rm --volume ./confs:/app/confs:ro {IMAGE}:latest {args}", pty=True)


@task
def compose(ctx: Context, detach: bool = True) -> None:
    """Start the compose stack: MLflow (PostgreSQL + MinIO) and the `bikes` image."""
    _require_engine(ctx)
    result = ctx.run("docker compose version", hide=True, warn=True, echo=False)
    if result is None or not result.ok:
        raise Exit("containers: the Docker Compose plugin is missing (`docker compose`).", code=1)
    ctx.run("docker compose up --build" + (" --detach" if detach else ""))


@task(pre=[build], default=True)
def all(_: Context) -> None:  # noqa: A001 (the task name is part of the interface)
    """Run all the container tasks (build the image)."""
