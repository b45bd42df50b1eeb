"""Package tasks: build the wheel and the source distribution with uv."""

from invoke.context import Context
from invoke.tasks import task


@task
def build(ctx: Context, out_dir: str = "dist/") -> None:
    """Build the wheel and the sdist of the project into `out_dir`."""
    ctx.run(f"uv build --wheel --sdist --out-dir {out_dir}")


@task(pre=[build], default=True)
def all(_: Context) -> None:  # noqa: A001 (the task name is part of the interface)
    """Run all the package tasks."""
