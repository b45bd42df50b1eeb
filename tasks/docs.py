"""Doc tasks: build and serve the API documentation with pdoc (Google docstrings)."""

import os
import sys
from pathlib import Path

from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

# pdoc, with the real defaults of the Pydantic fields (see tasks/pdoc_site.py)
PDOC = "uv run python -m tasks.pdoc_site --docformat google --footer-text bikes bikes"
# the environment of a build: the site documents the defaults, never the builder's variables
KEPT = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "UV_CACHE_DIR", "UV_PYTHON_DOWNLOADS")


def environment() -> dict[str, str]:
    """Return the minimal environment of a build (pdoc hides defaults equal to any variable)."""
    return {name: os.environ[name] for name in KEPT if name in os.environ}


@task
def api(ctx: Context, output: str = "docs/") -> None:
    """Build the API documentation site into `output`, failing on any pdoc warning."""
    command = f"{PDOC} --output-directory {output}"
    result = ctx.run(command, hide="err", warn=True, env=environment(), replace_env=True)
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
    command = f"{PDOC} --host {host} --port {port} --no-browser"
    ctx.run(command, env=environment(), replace_env=True)


@task(pre=[api], default=True)
def all(_: Context) -> None:  # noqa: A001 (the task name is part of the interface)
    """Run all the doc tasks (build the site)."""
