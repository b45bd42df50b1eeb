"""Command line of the benchmarks: `python -m benchmarks [--quick] [--only NAMES...]`."""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import typing as T
from pathlib import Path

from benchmarks import (
    imports,
    jobs,
    memory,
    models,
    pipeline,
    report,
    shap_values,
    startup,
    testsuite,
)
from benchmarks.session import Options, Session
from bikes.jobs.pipeline import DAG

# the groups in the order they run: each is a function of the session
GROUPS: dict[str, T.Callable[[Session], None]] = {
    "cli": startup.run,
    "imports": imports.run,
    "jobs": jobs.run,
    "pipeline": pipeline.run,
    "models": models.run,
    "shap": shap_values.run,
    "huge": memory.run,
    "tests": testsuite.run,
}
JOBS = DAG

parser = argparse.ArgumentParser(
    prog="python -m benchmarks",
    description="Benchmark the bikes package on the real data, against the reference model.",
)
parser.add_argument(
    "--source",
    default=None,
    help="path or URL of hour.csv or its zip archive (default: BIKES_DATA_SOURCE, else UCI)",
)
parser.add_argument("--output", default="reports/benchmarks.json", help="JSON report path")
parser.add_argument(
    "--only",
    nargs="+",
    default=None,
    help=f"groups ({', '.join(GROUPS)}) or jobs ({', '.join(JOBS)}) to run (default: all groups"
    " but tests)",
)
parser.add_argument("--repeat", type=int, default=None, help="runs of each cheap figure (3)")
parser.add_argument("--repeat-heavy", type=int, default=1, help="runs of tuning and pipeline (1)")
parser.add_argument("--cli-repeat", type=int, default=None, help="runs of each startup (10)")
parser.add_argument("--with-tests", action="store_true", help="also time the test suite (long)")
parser.add_argument("--quick", action="store_true", help="1 run each, small sizes, small tuning")
parser.add_argument("--big-rows", type=int, default=None, help="large throughput size (1M)")
parser.add_argument(
    "--fit-rows",
    type=int,
    default=None,
    help="large fit size (100k: the forest needs minutes at 1M)",
)
parser.add_argument("--huge-rows", type=int, default=None, help="large inference size (10M)")
parser.add_argument(
    "--shap-reference-rows", type=int, default=None, help="rows explained for the reference (20)"
)
parser.add_argument("--workdir", default=None, help="parent of the work folders (a temp dir)")
parser.add_argument("--keep", action="store_true", help="keep the work folders")


def selection(args: argparse.Namespace) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Return the groups and the jobs that the command line selects."""
    selected = args.only or [group for group in GROUPS if group != "tests"]
    unknown = [name for name in selected if name not in GROUPS and name not in JOBS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    jobs = tuple(name for name in selected if name in JOBS)
    groups = tuple(name for name in selected if name in GROUPS)
    if jobs:
        groups = (*groups, "jobs")
    if args.with_tests:
        groups = (*groups, "tests")
    return groups, jobs or JOBS


def parse(argv: T.Sequence[str] | None = None) -> Options:
    """Parse the command line into options (quick mode changes the defaults)."""
    from bikes.jobs.preparation import default_source

    args = parser.parse_args(argv)
    quick = bool(args.quick)
    groups, jobs = selection(args)
    source = args.source or default_source()
    if "://" not in source:
        source = str(Path(source).resolve())
    return Options(
        source=source,
        output=Path(args.output),
        groups=groups,
        jobs=jobs,
        repeat=args.repeat or (1 if quick else 3),
        repeat_heavy=args.repeat_heavy,
        cli_repeat=args.cli_repeat or (3 if quick else 10),
        big_rows=args.big_rows or (100_000 if quick else 1_000_000),
        fit_rows=args.fit_rows or (20_000 if quick else 100_000),
        huge_rows=args.huge_rows or (300_000 if quick else 10_000_000),
        shap_reference_rows=args.shap_reference_rows or (5 if quick else 20),
        quick=quick,
        workdir=Path(args.workdir) if args.workdir else None,
        keep=bool(args.keep),
    )


def run(session: Session) -> list[report.Result]:
    """Run the selected groups in order."""
    for group, function in GROUPS.items():
        if group in session.options.groups:
            print(f"[{group}]", flush=True)
            function(session)
    return session.results


def main(argv: T.Sequence[str] | None = None) -> int:
    """Run the benchmarks, print the table, write the JSON report; return the exit code."""
    options = parse(argv)
    before = report.machine()
    print(f"Benchmarks on {before['cpus']} cores, load {before['load_average']}", flush=True)
    if options.workdir:
        options.workdir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="bikes-bench-", dir=options.workdir))
    try:
        results = run(Session(options, root))
    finally:
        if not options.keep:
            shutil.rmtree(root, ignore_errors=True)
    data = report.document(options.settings(), results, before)
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print()
    print(report.table(results))
    after = data["machine"]["load_average_after"]
    print(f"\nReport: {options.output} (load average after: {after})")
    return 0
