"""Check tasks: lock file, formatting, lints, types, security, tests, coverage, CI/CD files."""

from invoke.context import Context
from invoke.tasks import task


@task
def lock(ctx: Context) -> None:
    """Check that `uv.lock` is in sync with `pyproject.toml`."""
    ctx.run("uv lock --check")


@task
def format(ctx: Context) -> None:  # noqa: A001 (the task name is part of the interface)
    """Check the formatting of the Python sources with ruff."""
    ctx.run("uv run ruff format --check")


@task
def code(ctx: Context) -> None:
    """Lint the Python sources with ruff."""
    ctx.run("uv run ruff check")


@task
def type(ctx: Context) -> None:  # noqa: A001 (the task name is part of the interface)
    """Check the types of the sources, tests and tasks with mypy (strict, see pyproject)."""
    ctx.run("uv run mypy")


@task
def security(ctx: Context) -> None:
    """Scan the package sources for security issues with bandit (see `[tool.bandit]`)."""
    ctx.run("uv run bandit --configfile pyproject.toml --recursive src")


@task
def test(ctx: Context) -> None:
    """Run the test suite, exactly as the README says (options come from pyproject)."""
    ctx.run("uv run pytest")


@task(pre=[test])
def coverage(ctx: Context) -> None:
    """Report the coverage of the last test run, fail under the threshold, write HTML."""
    ctx.run("uv run coverage report")
    ctx.run("uv run coverage html --directory reports/coverage")


@task
def workflows(ctx: Context) -> None:
    """Lint the GitHub Actions workflows with actionlint and their schema."""
    ctx.run("uv run actionlint")
    ctx.run(
        "uv run check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml"
    )


@task
def dockerfile(ctx: Context) -> None:
    """Lint the Dockerfile with hadolint."""
    ctx.run("uv run hadolint Dockerfile")


@task
def compose(ctx: Context) -> None:
    """Validate docker-compose.yml against the Compose Specification (offline, vendored)."""
    ctx.run("uv run check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml")


@task(
    pre=[lock, format, code, type, security, workflows, dockerfile, compose, test, coverage],
    default=True,
)
def all(_: Context) -> None:  # noqa: A001 (the task name is part of the interface)
    """Run all the check tasks."""
