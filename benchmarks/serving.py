"""Load benchmark of the serving job, side by side with stock `mlflow models serve` on one model.

`uv run python -m benchmarks.serving [--quick] [--seconds S] [--rate R]` trains two versions of the
model on the real data in a temporary folder, then starts each server on a free loopback port and
measures: the time to ready (against the floor process, which imports mlflow, scikit-learn's
ensembles and pandas), the requests/s of single-row and 1,000-row requests (closed loop), their
p50/p99 latency at a fixed rate (open loop: from the time each request was due, so a server that
falls behind is not hidden by a client that waits for it), and, for the serving job only, zero
failures while the `champion` alias moves back and forth under load.

The load generator is an asyncio client (aiohttp, already in the environment through MLflow): it
costs 0.65 ms of CPU a request here, so it paces 200 requests/s with an eighth of a core beside
the server, times each request from when it was due (a closed-loop tool such as `wrk` waits for a
late server and hides its queue), and checks what a generic tool cannot: which version answered
each request, and that its prediction is that version's. Every phase is bounded in time and in
requests, and every request goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import math
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import typing as T
from pathlib import Path

from benchmarks import workspace

if T.TYPE_CHECKING:
    import pandas as pd

HOST = "127.0.0.1"  # loopback only
JSON_HEADERS = {"Content-Type": "application/json"}
FLOOR = "import mlflow, sklearn.ensemble, pandas"
MAX_REQUESTS = 200_000  # of any phase, whatever its duration
READY_TIMEOUT = 120.0
READY_STARTS = 3  # starts of each server, for the median time to ready
POLL_SECONDS = 1.0  # of the serving job's alias watcher: a look at the registry costs ~10 ms of CPU
SECOND_VERSION = ["job.model.KIND=GradientBoostingModel", "job.model.max_iter=30"]
TARGETS = {
    "single p50 at rate (ms)": "<= 5",
    "single p99 at rate (ms)": "<= 25",
    "1000-row p99 at rate (ms)": "<= 50",
    "ready / floor": "<= 1.5",
    "failed during alias moves": "0",
}


@dataclasses.dataclass(frozen=True)
class Options:
    """Settings of a benchmark run (see `parser`)."""

    source: str
    output: Path
    seconds: float
    rate: float
    batch_rate: float
    concurrency: int
    moves: int
    move_every: float
    workdir: Path | None


@dataclasses.dataclass
class Sample:
    """Requests of one phase: their latencies (seconds), failures and answering versions."""

    seconds: float = 0.0
    latencies: list[float] = dataclasses.field(default_factory=list)
    failures: int = 0
    versions: dict[str, int] = dataclasses.field(default_factory=dict)
    mixed: int = 0  # predictions that are not those of the version that answered

    def add(self, latency: float, ok: bool, version: str | None) -> None:
        """Count one request."""
        if not ok:
            self.failures += 1
            return
        self.latencies.append(latency)
        if version is not None:
            self.versions[version] = self.versions.get(version, 0) + 1

    def summary(self) -> dict[str, T.Any]:
        """Return requests/s, p50 and p99 latencies (ms), failures and versions."""
        done = len(self.latencies) + self.failures
        ordered = sorted(self.latencies) or [float("nan")]
        return {
            "requests": done,
            "requests_per_second": round(done / max(self.seconds, 1e-9), 1),
            "p50_ms": round(percentile(ordered, 50) * 1000, 2),
            "p99_ms": round(percentile(ordered, 99) * 1000, 2),
            "failures": self.failures,
            "versions": self.versions,
            "mixed": self.mixed,
        }


def percentile(ordered: T.Sequence[float], rank: float) -> float:
    """Return a percentile of sorted values (nearest rank)."""
    index = min(len(ordered), max(1, math.ceil(rank / 100 * len(ordered))))
    return ordered[index - 1]


# %% LOAD


async def post(
    session: T.Any, url: str, body: bytes, expected: dict[str, float] | None
) -> tuple[bool, str | None, bool]:
    """Send one request: whether it succeeded, the version that answered, whether it mixed."""
    import aiohttp

    try:
        async with session.post(url, data=body, headers=JSON_HEADERS) as response:
            payload = await response.read()
            version = response.headers.get("X-Model-Version")
            if response.status != 200:
                return False, version, False
    except (aiohttp.ClientError, OSError, TimeoutError):
        return False, None, False
    mixed = False
    if expected is not None and version is not None:
        first = json.loads(payload)["predictions"][0]
        mixed = abs(first - expected.get(version, first)) > 1e-9
    return True, version, mixed


async def closed_loop(url: str, body: bytes, concurrency: int, seconds: float) -> Sample:
    """Send requests back to back from `concurrency` connections for `seconds`."""
    import aiohttp

    sample = Sample()
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()
        deadline = start + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline and len(sample.latencies) < MAX_REQUESTS:
                sent = time.perf_counter()
                ok, version, _ = await post(session, url, body, None)
                sample.add(time.perf_counter() - sent, ok, version)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        sample.seconds = time.perf_counter() - start
    return sample


async def open_loop(
    url: str,
    body: bytes,
    rate: float,
    seconds: float,
    expected: dict[str, float] | None = None,
) -> Sample:
    """Send `rate` requests a second for `seconds`, each timed from when it was due."""
    import aiohttp

    sample = Sample()
    count = min(int(rate * seconds), MAX_REQUESTS)
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()

        async def one(index: int) -> None:
            due = start + index / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            ok, version, mixed = await post(session, url, body, expected)
            sample.add(time.perf_counter() - due, ok, version)
            sample.mixed += mixed

        await asyncio.gather(*(one(index) for index in range(count)))
        sample.seconds = time.perf_counter() - start
    return sample


# %% SERVERS


def free_port() -> int:
    """Return a free TCP port of the loopback interface."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """GET a URL: its status and body (0 when nothing answers)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback)
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return int(error.code), b""
    except OSError:
        return 0, b""


class Server:
    """A server process, in a session of its own: started on a free port, timed, stopped."""

    def __init__(
        self, name: str, command: T.Callable[[int], list[str]], ready: str, folder: Path
    ) -> None:
        """Describe the server (its command for a port); nothing starts before `start`."""
        self.name, self.command, self.ready, self.folder = name, command, ready, folder
        self.url = ""
        self.process: subprocess.Popen[bytes] | None = None
        self.log = folder / f"{name}.log"

    def start(self) -> float:
        """Start the server on a free port and return the seconds until it is ready."""
        port = free_port()
        self.url = f"http://{HOST}:{port}"
        env = workspace.environment(self.folder)
        env["OMP_NUM_THREADS"] = "1"  # both servers alike (the serving job's default)
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        start = time.perf_counter()
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 (commands built here)
                self.command(port),
                cwd=self.folder,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # stock MLflow starts uvicorn as a child: stop both
            )
        while time.perf_counter() - start < READY_TIMEOUT:
            if get(self.url + self.ready, timeout=1.0)[0] == 200:
                return time.perf_counter() - start
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"{self.name} not ready: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        """Stop the server's process group (SIGTERM, then SIGKILL after 20 s)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        deadline = time.perf_counter() + 20  # the group's other processes (uvicorn) too
        while time.perf_counter() < deadline and group_alive(self.process.pid):
            time.sleep(0.05)


def group_alive(group: int) -> bool:
    """Tell whether a process group still has a process."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def ours(folder: Path, poll_seconds: float) -> Server:
    """Return the serving job of the work folder."""

    def command(port: int) -> list[str]:
        extras = [f"job.port={port}", f"job.host={HOST}", f"job.poll_seconds={poll_seconds}"]
        return [*workspace.bikes_command(), "confs/serving.yaml", "-e", *extras]

    return Server("bikes serving", command, "/health/ready", folder)


def stock(folder: Path) -> Server:
    """Return stock `mlflow models serve` of the champion (no environment of its own)."""

    def command(port: int) -> list[str]:
        serve = ["models", "serve", "-m", "models:/bikes@champion", "--env-manager", "local"]
        return [sys.executable, "-m", "mlflow", *serve, "-h", HOST, "-p", str(port), "-w", "1"]

    return Server("mlflow models serve", command, "/ping", folder)


# %% RUN


def bodies(folder: Path) -> tuple[bytes, bytes]:
    """Return the bodies of a single-row and a 1,000-row request (test rows, no date)."""
    import pandas as pd

    inputs: pd.DataFrame = pd.read_parquet(folder / "data" / "inputs_test.parquet")
    inputs = inputs.drop(columns="dteday").reset_index(drop=True)

    def body(rows: pd.DataFrame) -> bytes:
        split = rows.to_dict(orient="split")
        return json.dumps({"dataframe_split": {k: split[k] for k in ("columns", "data")}}).encode()

    return body(inputs.head(1)), body(inputs.head(1000))


def run_bikes(folder: Path, source: str, config: str, extras: T.Sequence[str] = ()) -> None:
    """Run a job of the package in the work folder (raise on failure)."""
    command = [*workspace.bikes_command(), f"confs/{config}.yaml", "-e", *extras]
    env = workspace.environment(folder, source)
    done = subprocess.run(  # noqa: S603 (commands built here)
        command, cwd=folder, env=env, capture_output=True, text=True, check=False, timeout=900
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")


def seed(folder: Path, source: str) -> None:
    """Prepare the data and register two versions: 1 (the champion) and 2."""
    workspace.create(folder)
    run_bikes(folder, source, "preparation")
    run_bikes(folder, source, "training", ["job.registry_alias=champion"])
    run_bikes(folder, source, "training", SECOND_VERSION)


def floor_seconds(repeat: int = READY_STARTS) -> float:
    """Return the median time of a process that imports mlflow, scikit-learn and pandas."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", FLOOR], check=True, timeout=120)  # noqa: S603
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def phases(server: Server, options: Options, one: bytes, batch: bytes) -> dict[str, T.Any]:
    """Measure a ready server: throughput (closed loop), then latency at a rate (open loop)."""
    url, seconds = server.url + "/invocations", options.seconds
    asyncio.run(closed_loop(url, one, 2, min(seconds, 2.0)))  # warm-up, not counted
    return {
        "single closed loop": asyncio.run(closed_loop(url, one, options.concurrency, seconds)),
        "single at rate": asyncio.run(open_loop(url, one, options.rate, seconds)),
        "1000-row closed loop": asyncio.run(closed_loop(url, batch, 2, seconds)),
        "1000-row at rate": asyncio.run(open_loop(url, batch, options.batch_rate, seconds)),
    }


def alias_moves(folder: Path, server: Server, options: Options, one: bytes) -> Sample:
    """Move `champion` between versions 1 and 2 under a paced load; return that load's sample."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=workspace.tracking_uri(folder))
    expected: dict[str, float] = {}
    for version in ("1", "2"):
        client.set_registered_model_alias("bikes", "champion", version)
        deadline = time.perf_counter() + 30
        while time.perf_counter() < deadline:
            status, payload = post_sync(server.url + "/invocations", one)
            answer = json.loads(payload) if status == 200 else {}
            if str(answer.get("model", {}).get("version")) == version:
                expected[version] = float(answer["predictions"][0])
                break
            time.sleep(0.05)
    seconds = options.moves * options.move_every + 1.0

    async def load_and_move() -> Sample:
        load = asyncio.create_task(
            open_loop(server.url + "/invocations", one, options.rate, seconds, expected)
        )
        for move in range(options.moves):
            await asyncio.sleep(options.move_every)
            version = "1" if move % 2 else "2"
            await asyncio.to_thread(client.set_registered_model_alias, "bikes", "champion", version)
        return await load

    return asyncio.run(load_and_move())


def post_sync(url: str, body: bytes) -> tuple[int, bytes]:
    """POST a body (status 0 when nothing answers)."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=body, headers=JSON_HEADERS)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read()
    except OSError:
        return 0, b""


def measure(folder: Path, options: Options) -> dict[str, T.Any]:
    """Measure both servers on the model of a seeded work folder (ready: median of 3 starts)."""
    one, batch = bodies(folder)
    results: dict[str, T.Any] = {"floor_seconds": floor_seconds()}
    for server in (ours(folder, poll_seconds=POLL_SECONDS), stock(folder)):
        starts = []
        for _ in range(READY_STARTS - 1):
            starts.append(server.start())
            server.stop()
        starts.append(server.start())
        try:
            ready = statistics.median(starts)
            measured: dict[str, T.Any] = {"ready_seconds": ready, "ready_starts": starts}
            for name, sample in phases(server, options, one, batch).items():
                measured[name] = sample.summary()
            if server.name == "bikes serving":
                measured["alias moves"] = alias_moves(folder, server, options, one).summary()
        finally:
            server.stop()
        results[server.name] = measured
    return results


ROWS = (
    ("single-row requests/s (closed loop)", "single closed loop", "requests_per_second"),
    ("single-row p50 at rate (ms)", "single at rate", "p50_ms"),
    ("single-row p99 at rate (ms)", "single at rate", "p99_ms"),
    ("1000-row requests/s (closed loop)", "1000-row closed loop", "requests_per_second"),
    ("1000-row p50 at rate (ms)", "1000-row at rate", "p50_ms"),
    ("1000-row p99 at rate (ms)", "1000-row at rate", "p99_ms"),
)


def table(results: dict[str, T.Any], options: Options) -> str:
    """Return the results as a Markdown table: ours, stock MLflow, their ratio and the target."""
    ours_, stock_ = results["bikes serving"], results["mlflow models serve"]
    lines = [
        "| figure | bikes serving | mlflow models serve | ratio | target |",
        "| --- | --- | --- | --- | --- |",
    ]
    targets = {
        "single-row requests/s (closed loop)": ">= 2x stock",
        "single-row p50 at rate (ms)": "<= 5",
        "single-row p99 at rate (ms)": "<= 25",
        "1000-row p99 at rate (ms)": "<= 50",
    }
    for label, phase, key in ROWS:
        mine, theirs = ours_[phase][key], stock_[phase][key]
        ratio = f"{mine / theirs:.2f}x" if theirs else ""
        lines.append(f"| {label} | {mine} | {theirs} | {ratio} | {targets.get(label, '')} |")
    floor = results["floor_seconds"]
    for server in (ours_, stock_):
        server["ready_over_floor"] = round(server["ready_seconds"] / floor, 2)
    lines.append(
        f"| ready (s; floor {floor:.2f} s) | {ours_['ready_seconds']:.2f} "
        f"({ours_['ready_over_floor']}x floor) | {stock_['ready_seconds']:.2f} "
        f"({stock_['ready_over_floor']}x floor) | | <= 1.5x floor |"
    )
    failed = sum(phase["failures"] for name, phase in ours_.items() if isinstance(phase, dict))
    moves = ours_["alias moves"]
    lines.append(
        f"| failed requests (all phases) / during {options.moves} alias moves | {failed} / "
        f"{moves['failures']} (versions {moves['versions']}, mixed {moves['mixed']}) | "
        f"{sum(p['failures'] for p in stock_.values() if isinstance(p, dict))} / n.a. | | 0 |"
    )
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    """Return the parser of the command line."""
    default = os.environ.get(
        "BIKES_DATA_SOURCE",
        str(workspace.ROOT.parent / "shared" / "data" / "bike-sharing" / "hour.csv"),
    )
    parse = argparse.ArgumentParser(prog="python -m benchmarks.serving", description=__doc__)
    parse.add_argument("--source", default=default, help="the real hour.csv")
    parse.add_argument("--output", type=Path, default=workspace.ROOT / "reports" / "serving.json")
    parse.add_argument("--seconds", type=float, default=10.0, help="of each load phase")
    parse.add_argument("--rate", type=float, default=200.0, help="single-row requests/s")
    parse.add_argument("--batch-rate", type=float, default=10.0, help="1000-row requests/s")
    parse.add_argument("--concurrency", type=int, default=8, help="connections of closed loops")
    parse.add_argument("--moves", type=int, default=20, help="alias moves under load")
    parse.add_argument("--move-every", type=float, default=1.5, help="seconds between moves")
    parse.add_argument("--workdir", type=Path, default=None, help="keep the work folder there")
    parse.add_argument("--quick", action="store_true", help="2 s phases, 4 moves")
    return parse


def main(argv: T.Sequence[str] | None = None) -> int:
    """Run the benchmark, print its table and write its JSON."""
    args = parser().parse_args(argv)
    options = Options(
        source=str(Path(args.source).resolve()),
        output=args.output,
        seconds=2.0 if args.quick else args.seconds,
        rate=args.rate,
        batch_rate=args.batch_rate,
        concurrency=args.concurrency,
        moves=4 if args.quick else args.moves,
        move_every=args.move_every,
        workdir=args.workdir,
    )
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bikes-serving-") as temporary:
        folder = (options.workdir or Path(temporary)) / "work"
        if not (folder / "mlflow.db").exists():
            seed(folder, options.source)
        results = measure(folder, options)
    results["machine"] = {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_start": [round(value, 2) for value in load],
        "load_average_end": [round(value, 2) for value in os.getloadavg()],
    }
    report = table(results, options)
    print(report)
    print("ratio: bikes serving / mlflow models serve (requests/s: higher is better; ms: lower)")
    machine = results["machine"]
    start, end = machine["load_average_start"], machine["load_average_end"]
    print(f"{machine['cores']} cores; load average at the start {start}, at the end {end}")
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
