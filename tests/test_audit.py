"""Tests of `inv checks.audit`: it fails when it could not audit, instead of a false green."""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import typing as T
from pathlib import Path

import pytest
from tasks import checks

ROOT = Path(__file__).parents[1]
NOT_FOUND = "Dependency not found on PyPI and could not be audited: {} ({})"
# what pip-audit 2.10 reports, in JSON, when its database answers 404 to every package
UNAUDITED = {
    "dependencies": [
        {"name": "aiohttp", "skip_reason": NOT_FOUND.format("aiohttp", "3.14.5")},
        {"name": "numpy", "skip_reason": NOT_FOUND.format("numpy", "2.4.1")},
    ],
    "fixes": [],
}
AUDITED = {
    "dependencies": [
        {"name": "aiohttp", "version": "3.14.5", "vulns": []},
        {"name": "numpy", "version": "2.4.1", "vulns": []},
    ],
    "fixes": [],
}
VULNERABLE = {
    "dependencies": [
        {"name": "numpy", "version": "2.4.1", "vulns": []},
        {
            "name": "requests",
            "version": "2.19.1",
            "vulns": [
                {"id": "PYSEC-2018-28", "fix_versions": ["2.20.0"]},
                {"id": "PYSEC-2023-74", "fix_versions": ["2.31.0"]},
            ],
        },
    ],
    "fixes": [],
}


def test_a_clean_audit_passes() -> None:
    assert checks.audit_failures(AUDITED) == []


def test_packages_not_audited_fail_the_audit() -> None:
    assert checks.audit_failures(UNAUDITED) == [
        "2 of 2 packages not audited (aiohttp: Dependency not found on PyPI and could not be"
        " audited: aiohttp (3.14.5))"
    ]
    partly = {"dependencies": [*AUDITED["dependencies"][:1], *UNAUDITED["dependencies"][1:]]}
    assert checks.audit_failures(partly)[0].startswith("1 of 2 packages not audited (numpy:")


def test_an_empty_report_fails_the_audit() -> None:
    assert checks.audit_failures({"dependencies": [], "fixes": []}) == [
        "the report lists no package"
    ]


def test_vulnerabilities_fail_the_audit() -> None:
    assert checks.audit_failures(VULNERABLE) == ["requests 2.19.1: PYSEC-2018-28, PYSEC-2023-74"]


class Database(http.server.BaseHTTPRequestHandler):
    """Answer as a vulnerability database would, or would not (on the path's demand)."""

    answers: T.ClassVar[dict[str, bytes]] = {
        "/vulnerable": json.dumps({"vulnerabilities": [{"id": "PYSEC-2018-28"}]}).encode(),
        "/none": json.dumps({"info": {}, "vulnerabilities": []}).encode(),
        "/page": b"<html>a mirror's page</html>",
    }

    def do_GET(self) -> None:
        """Send the answer of the path, or 404."""
        body = self.answers.get(self.path)
        self.send_response(404 if body is None else 200)
        self.end_headers()
        self.wfile.write(body or b"not found")

    def log_message(self, format: str, *args: T.Any) -> None:  # noqa: A002
        """Log nothing."""


@pytest.fixture
def database() -> T.Iterator[str]:
    """Serve `Database` on loopback; return its URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Database)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    """Return a loopback port that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("/vulnerable", None),
        ("/none", "the answer lists no vulnerability of a vulnerable release"),
        ("/missing", "HTTP Error 404: Not Found"),
        ("/page", "Expecting value"),
    ],
)
def test_the_probe_asks_for_the_vulnerabilities_of_a_vulnerable_release(
    database: str, path: str, problem: str | None
) -> None:
    found = checks.audit_service_problem(f"{database}{path}", timeout=5)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert found.startswith(f"{database}{path}: ")
        assert problem in found


def test_the_probe_of_a_closed_port() -> None:
    found = checks.audit_service_problem(f"http://127.0.0.1:{closed_port()}/x", timeout=5)
    assert found is not None
    assert "Connection refused" in found


def run_audit(*flags: str) -> subprocess.CompletedProcess[str]:
    """Run `inv checks.audit` with every HTTPS request sent to a closed loopback port."""
    proxy = f"http://127.0.0.1:{closed_port()}"
    env = {**os.environ, "HTTPS_PROXY": proxy, "https_proxy": proxy, "NO_PROXY": "", "no_proxy": ""}
    inv = Path(sys.executable).parent / "inv"
    return subprocess.run(
        [str(inv), "checks.audit", *flags],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


@pytest.mark.slow
@pytest.mark.integration
def test_the_audit_fails_when_its_database_does_not_answer() -> None:
    process = run_audit()
    assert process.returncode != 0, process.stdout
    assert "checks.audit failed" in process.stderr


@pytest.mark.slow
@pytest.mark.integration
def test_the_audit_is_skipped_on_demand_when_its_database_does_not_answer() -> None:
    process = run_audit("--if-reachable")
    assert process.returncode == 0, process.stderr
    assert process.stdout.startswith("checks.audit skipped: the vulnerability database does not")
    assert "pip-audit" not in process.stdout + process.stderr
