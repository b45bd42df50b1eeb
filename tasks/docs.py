"""Doc tasks: build and serve the API documentation with pdoc (Google docstrings)."""

import sys
from pathlib import Path

from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

PDOC = "uv run python tasks/apidocs.py --docformat google --footer-text bikes bikes"


@task
def api(ctx: Context, output: str = "docs/") -> None:
    """Build the API documentation site into `output`, failing on any pdoc warning."""
    result = ctx.run(f"{PDOC} --output-directory {output}", hide="err", warn=True)
    stderr = result.stderr if result is not None else ""
    warnings = [line for line in stderr.splitlines() if "warn" in line.lower()]
    if result is None or result.failed or warnings:
        print(stderr, end="", file=sys.stderr)
        raise Exit(f"docs: pdoc failed or warned ({len(warnings)} warning(s)).", code=1)


@task
def schema(_: Context) -> None:
    """Regenerate the JSON schema of the configs, `src/bikes/schema.json` (`bikes --schema`)."""
    from bikes import scripts, settings

    path = Path(scripts.SCHEMA)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(settings.json_schema(), encoding="utf-8")
    temporary.replace(path)
    print(f"docs: wrote {path}")


@task
def serve(ctx: Context, host: str = "127.0.0.1", port: int = 8088) -> None:
    """Serve the API documentation with live reload (Ctrl+C to stop)."""
    ctx.run(f"{PDOC} --host {host} --port {port} --no-browser")


@task(pre=[api], default=True)
def all(_: Context) -> None:  # noqa: A001 (the task name is part of the interface)
    """Run all the doc tasks (build the site)."""
