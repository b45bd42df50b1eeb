"""Prometheus metrics of the server: requests, latency, errors, predicted rows, model loads.

Each app counts in its own registry (tests start several in one process). With several uvicorn
workers, the job sets `PROMETHEUS_MULTIPROC_DIR`: the workers write their values to files there, and
`/metrics` answers the sum over the workers (the model version: one series a worker).
"""

from __future__ import annotations

import os
import time
import typing as T

import prometheus_client as prom
from prometheus_client import multiprocess

if T.TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from bikes.serving.holder import Served

# seconds: a single row takes a few milliseconds, 1,000 rows tens of them
BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
ENDPOINTS = frozenset(
    {"/invocations", "/forecast", "/model", "/health/live", "/health/ready", "/metrics"}
)
MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR"


def reason(status: int) -> str | None:
    """Return why a request failed, by its status code (None: it did not)."""
    if status < 400:
        return None
    return {422: "invalid", 503: "not_ready"}.get(status, "internal" if status >= 500 else "client")


class Metrics:
    """The metrics of one app, in their own registry."""

    def __init__(self) -> None:
        """Create the metrics (without the `_created` series, which no dashboard reads)."""
        prom.disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = prom.CollectorRegistry()
        self.requests = prom.Counter(
            "bikes_requests",
            "Requests answered, by endpoint, method and status code.",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        self.latency = prom.Histogram(
            "bikes_request_duration_seconds",
            "Time from the request to the end of the response, by endpoint.",
            ["endpoint"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.errors = prom.Counter(
            "bikes_request_errors",
            "Requests refused or failed, by endpoint and reason (invalid, not_ready, internal...).",
            ["endpoint", "reason"],
            registry=self.registry,
        )
        self.rows = prom.Counter(
            "bikes_predicted_rows",
            "Rows predicted, by endpoint.",
            ["endpoint"],
            registry=self.registry,
        )
        self.version = prom.Gauge(
            "bikes_model_version",
            "Version of the registered model served.",
            ["name", "alias"],
            multiprocess_mode="liveall",
            registry=self.registry,
        )
        self.loads = prom.Counter(
            "bikes_model_loads",
            "Loads of model versions, by outcome (loaded, failed).",
            ["outcome"],
            registry=self.registry,
        )

    def loaded(self, served: Served, previous: Served | None) -> None:
        """Count a load and show the version now served (the same series for every version)."""
        self.version.labels(served.version.name, served.alias or "").set(served.version.number)
        self.loads.labels("loaded").inc()

    def failed(self) -> None:
        """Count a refresh that failed (the served model, if any, was kept)."""
        self.loads.labels("failed").inc()

    def observe(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        """Count a request answered."""
        self.requests.labels(endpoint, method, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)
        why = reason(status)
        if why is not None:
            self.errors.labels(endpoint, why).inc()

    def exposition(self) -> bytes:
        """Return the metrics in Prometheus' text format (summed over the workers, if several)."""
        if os.environ.get(MULTIPROCESS):
            registry = prom.CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return prom.generate_latest(registry)
        return prom.generate_latest(self.registry)


class MetricsMiddleware:
    """Time and count every HTTP request (a plain ASGI middleware: a few microseconds)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        """Wrap an ASGI app."""
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, and count it once answered."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            path = scope["path"] if scope["path"] in ENDPOINTS else "other"
            self.metrics.observe(path, scope["method"], status, time.perf_counter() - start)
