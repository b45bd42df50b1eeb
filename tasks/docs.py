"""Doc tasks: build and serve the API documentation with pdoc (Google docstrings)."""

from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

PDOC = "uv run pdoc --docformat google --footer-text bikes bikes"


@task
def api(ctx: Context, output: str = "docs/") -> None:
    """Build the API documentation site into `output`, failing on any pdoc warning."""
    result = ctx.run(f"{PDOC} --output-directory {output}", hide="err")
    warnings = [line for line in result.stderr.splitlines() if "warn" in line.lower()]
    if warnings:
        print(result.stderr, end="")
        raise Exit(f"pdoc reported {len(warnings)} warning(s): fix the docstrings.", code=1)


@task
def serve(ctx: Context, host: str = "127.0.0.1", port: int = 8088) -> None:
    """Serve the API documentation with live reload (Ctrl+C to stop)."""
    ctx.run(f"{PDOC} --host {host} --port {port} --no-browser")


@task(pre=[api], default=True)
def all(_: Context) -> None:  # noqa: A001 (the task name is part of the interface)
    """Run all the doc tasks (build the site)."""
