"""Smoke tests of the serving benchmark on tiny loads (structure and counts, never timings)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import typing as T
from pathlib import Path

import pytest
from benchmarks import serving

Registered = dict[str, str]


@contextlib.contextmanager
def running(**settings: T.Any) -> T.Iterator[str]:
    """Serve the registry of the test with uvicorn in a thread; yield its URL once ready."""
    import uvicorn

    from bikes.serving.app import Settings

    port = serving.free_port()
    config = uvicorn.Config(Settings(**settings).app(), host=serving.HOST, port=port)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://{serving.HOST}:{port}"
    deadline = time.monotonic() + 30
    while serving.get(f"{url}/health/ready")[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_samples_summarize_rates_percentiles_and_versions() -> None:
    sample = serving.Sample(seconds=2.0)
    for index in range(100):
        sample.add((index + 1) / 1000, ok=True, version="1")
    sample.add(1.0, ok=False, version=None)

    summary = sample.summary()

    assert summary["requests"] == 101
    assert summary["requests_per_second"] == 50.5
    assert (summary["p50_ms"], summary["p99_ms"]) == (50.0, 99.0)
    assert (summary["failures"], summary["versions"]) == (1, {"1": 100})
    assert serving.Sample().summary()["requests"] == 0


def test_load_generators_count_answers_versions_and_mixed_predictions(
    registered_model: Registered, prepared: dict[str, Path]
) -> None:
    one, batch = serving.bodies(prepared["inputs_test"].parents[1])
    assert len(json.loads(one)["dataframe_split"]["data"]) == 1
    assert len(json.loads(batch)["dataframe_split"]["data"]) > 100  # up to 1,000 test rows
    with running() as url:
        closed = asyncio.run(serving.closed_loop(f"{url}/invocations", one, 2, 0.5))
        status, payload = serving.post_sync(f"{url}/invocations", one)
        right = {"1": json.loads(payload)["predictions"][0]}
        paced = asyncio.run(serving.open_loop(f"{url}/invocations", batch, 20, 0.5, right))
        wrong = asyncio.run(serving.open_loop(f"{url}/invocations", one, 20, 0.2, {"1": -1.0}))
        refused = asyncio.run(serving.open_loop(f"{url}/nowhere", one, 20, 0.2))

    assert status == 200
    assert closed.failures == 0
    assert closed.versions == {"1": len(closed.latencies)} != {}
    assert paced.summary()["requests"] == 10
    assert (paced.failures, paced.mixed) == (0, 0)  # the same first row, the same prediction
    assert wrong.mixed == 4
    assert refused.failures == 4


def test_table_compares_the_servers_with_their_targets() -> None:
    phase = {
        "requests": 10,
        "requests_per_second": 100.0,
        "p50_ms": 2.0,
        "p99_ms": 9.0,
        "failures": 0,
        "versions": {"1": 10},
        "mixed": 0,
    }
    phases = {name: dict(phase) for _, name, _ in serving.ROWS}
    results = {
        "floor_seconds": 4.0,
        "bikes serving": {"ready_seconds": 5.0, **phases, "alias moves": dict(phase)},
        "mlflow models serve": {"ready_seconds": 12.0, **phases},
    }
    options = serving.Options("", Path(), 1.0, 200.0, 10.0, 8, 20, 0.5, None)

    table = serving.table(results, options)

    assert "| single-row requests/s (closed loop) | 100.0 | 100.0 | 1.00x | >= 2x stock |" in table
    assert "| ready (s; floor 4.00 s) | 5.00 (1.25x floor) | 12.00 (3.0x floor) |" in table
    assert "during 20 alias moves | 0 / 0" in table


@pytest.mark.parametrize(("values", "rank", "expected"), [([1.0], 99, 1.0), ([1.0, 2.0], 50, 1.0)])
def test_percentile_is_the_nearest_rank(values: list[float], rank: float, expected: float) -> None:
    assert serving.percentile(values, rank) == expected
