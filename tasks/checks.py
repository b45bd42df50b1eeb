"""Check tasks: lock file, formatting, lints, types, security, tests, coverage, CI/CD files."""

import json
import tempfile
import typing as T
import urllib.request
from pathlib import Path

from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import call, task

# what pip-audit asks its vulnerability database (PyPI's JSON API) of a release known to be
# vulnerable (CVE-2018-18074): a mirror or proxy that serves only the packages answers 404 instead
AUDIT_PROBE = "https://pypi.org/pypi/requests/2.19.1/json"


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


def audit_service_problem(url: str = AUDIT_PROBE, timeout: float = 10) -> str | None:
    """Return why the vulnerability database does not answer as it should, or None if it does."""
    try:  # an https URL (http on loopback in the tests)
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            body = json.load(response)
    except (OSError, ValueError) as error:  # no network, HTTP errors, an answer that is no JSON
        return f"{url}: {error}"
    if not isinstance(body, dict) or not body.get("vulnerabilities"):
        return f"{url}: the answer lists no vulnerability of a vulnerable release"
    return None


def audit_failures(report: dict[str, T.Any]) -> list[str]:
    """Return why a pip-audit JSON report fails: packages it could not audit, or vulnerabilities.

    pip-audit says "No known vulnerabilities found" (exit 0) even when it audited no package, as
    when its database does not answer: here, a package that was not audited fails the check.
    """
    packages = report.get("dependencies", [])
    skipped = [
        f"{item['name']}: {item['skip_reason']}" for item in packages if "skip_reason" in item
    ]
    problems = [] if packages else ["the report lists no package"]
    if skipped:
        problems.append(f"{len(skipped)} of {len(packages)} packages not audited ({skipped[0]})")
    problems += [
        f"{item['name']} {item['version']}: {', '.join(vuln['id'] for vuln in item['vulns'])}"
        for item in packages
        if item.get("vulns")
    ]
    return problems


@task(help={"if_reachable": "skip (and pass) when the vulnerability database does not answer"})
def audit(ctx: Context, if_reachable: bool = False) -> None:
    """Audit the locked runtime requirements for known vulnerabilities with pip-audit.

    Fails on a vulnerability, and when a package could not be audited (see `audit_failures`).
    """
    if if_reachable and (problem := audit_service_problem()):
        print(f"checks.audit skipped: the vulnerability database does not answer ({problem})")
        return
    with tempfile.TemporaryDirectory(prefix="bikes-audit-") as folder:
        requirements, report = Path(folder, "requirements.txt"), Path(folder, "audit.json")
        ctx.run(
            "uv export --frozen --no-dev --no-emit-project --format requirements.txt"
            f" --output-file {requirements}",
            hide="both",
        )
        ctx.run(
            f"uv run pip-audit --requirement {requirements} --disable-pip --require-hashes"
            f" --format json --output {report} --progress-spinner off",
            warn=True,  # exit 1 on a vulnerability: the report says which
        )
        if not report.is_file():
            raise Exit("checks.audit failed: pip-audit wrote no report (see above)", code=1)
        audited = json.loads(report.read_text(encoding="utf-8"))
    problems = audit_failures(audited)
    if problems:
        raise Exit(f"checks.audit failed: {'; '.join(problems)}", code=1)
    print(f"checks.audit: {len(audited['dependencies'])} packages audited, no known vulnerability")


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
    pre=[
        lock,
        format,
        code,
        type,
        security,
        call(audit, if_reachable=True),
        workflows,
        dockerfile,
        compose,
        test,
        coverage,
    ],
    default=True,
)
def all(_: Context) -> None:  # noqa: A001 (the task name is part of the interface)
    """Run all the check tasks."""
