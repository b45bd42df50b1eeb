"""Command line of the package: `bikes [FILES...] [-e EXTRAS...] [-s] [-v]`."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
import time
import types as TS
import typing as T
from pathlib import Path

if T.TYPE_CHECKING:
    from bikes.io import configs

EPILOG = """\
configs are merged from left to right, then the extras, with OmegaConf (interpolation included).
exit codes: 0 done, 1 internal error, 2 invalid command line or config, 3 invalid or missing data,
4 a check refused to go on (threshold breached, promotion gated), 5 a resource failed (tracking
server, MLflow store, disk, permissions), 130 interrupted (SIGINT), 143 terminated (SIGTERM).
A run interrupted or terminated ends as KILLED in MLflow.
examples: bikes confs/preparation.yaml
          bikes confs/training.yaml -e job.inputs.limit=1000
          bikes confs/pipeline.yaml
completion: add `eval "$(bikes --completion bash)"` to ~/.bashrc (zsh: ~/.zshrc; fish:
          bikes --completion fish > ~/.config/fish/completions/bikes.fish)
"""

# the JSON schema of the configs, generated from `settings.MainSettings` by `inv docs.schema` (a
# test checks it is up to date): printed without importing the jobs, and used by editors
SCHEMA = Path(__file__).with_name("schema.json")

parser = argparse.ArgumentParser(
    prog="bikes",
    description="Run an MLOps job of the bikes package from config files.",
    epilog=EPILOG,
    formatter_class=argparse.RawDescriptionHelpFormatter,
)
parser.add_argument("files", nargs="*", help="config files (YAML or JSON; paths or cloud URLs)")
parser.add_argument(
    "-e", "--extras", nargs="*", default=[], help="configs merged last (YAML, or a.b=1 c=two words)"
)
parser.add_argument(
    "-s", "--schema", action="store_true", help="print the JSON schema of the configs and exit"
)
parser.add_argument("-v", "--verbose", action="store_true", help="show tracebacks of errors")
parser.add_argument(
    "--sample-inputs",
    metavar="FILE",
    help="write 24 hours of model inputs (CSV, or JSON for .json) for mlflow models predict, exit",
)
parser.add_argument(
    "--completion",
    choices=["bash", "zsh", "fish"],
    help='print the shell completion of bikes and exit: eval "$(bikes --completion bash)"',
)


class Terminated(KeyboardInterrupt):
    """The process was asked to stop with SIGTERM (docker stop, Kubernetes, systemd, CI).

    A `KeyboardInterrupt` to the code it interrupts: SIGTERM stops a job as SIGINT does (the
    runs end as KILLED, the temporary files are removed), only the exit code differs.
    """


def terminate(signum: int, frame: TS.FrameType | None) -> T.NoReturn:
    """Raise `Terminated` (a second SIGTERM, during the clean-up, kills the process at once)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    raise Terminated


@contextlib.contextmanager
def terminable() -> T.Iterator[None]:
    """Raise `Terminated` on SIGTERM in the block, as SIGINT raises `KeyboardInterrupt`.

    By default SIGINT unwinds the stack, but SIGTERM ends the process on the spot: its MLflow run
    would stay RUNNING forever, and its temporary files would stay behind.
    Signals reach the main thread only: elsewhere, the block runs as is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def main(argv: T.Sequence[str] | None = None) -> int:
    """Run the job of the merged configs and return the exit code."""
    args = parser.parse_args(argv)
    try:
        with terminable():
            return run(args)
    except Terminated:
        print("bikes: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("bikes: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    except Exception as error:
        from bikes.core.errors import BikesError
        from bikes.io import faults

        fault = error if isinstance(error, BikesError) else faults.classify(error)
        if args.verbose or fault is None:  # a bug, or a user who asks for the traceback
            raise
        print(f"bikes: error: {fault}", file=sys.stderr)
        return fault.exit_code


def run(args: argparse.Namespace) -> int:
    """Print the schema, or validate the settings and run the job."""
    if args.schema:
        print(SCHEMA.read_text(encoding="utf-8"), end="")
        return 0
    if args.sample_inputs:
        write_sample_inputs(args.sample_inputs)
        print(f"bikes: wrote 24 hours of model inputs to {args.sample_inputs}", file=sys.stderr)
        return 0
    if args.completion:
        from bikes import completions

        print(completions.script(parser, args.completion), end="")
        return 0

    from bikes.io import configs

    if not args.files and not args.extras:
        parser.error("give at least one config file (or --extras)")
    files = [configs.parse_file(file) for file in args.files]
    strings = [configs.parse_string(string) for string in args.extras]
    config = configs.merge_configs([*files, *strings])
    origin = ", ".join(args.files) or "--extras"
    announce(config, origin)
    from bikes import settings  # the jobs and their libraries: seconds

    setting = configs.validate(settings.MainSettings, configs.to_object(config), origin=origin)
    with setting.job as runner:
        start = time.perf_counter()
        result = runner.run()
        runner.conclude(result, time.perf_counter() - start)
    return 0


def write_sample_inputs(path: str) -> None:
    """Write the 24 hours of July 4, 2012 in the model's encodings (CSV, or JSON for `.json`).

    The inputs of `mlflow models predict -i FILE -t csv` (or `-t json`): the columns of the
    model's signature, one row an hour of the serving example's day. Written atomically.
    """
    import csv
    import os

    from bikes.serving.encodings import EXAMPLE_INPUTS

    rows = [{**EXAMPLE_INPUTS, "hr": hour} for hour in range(24)]
    target = Path(path)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with temporary.open("w", encoding="utf-8", newline="") as file:
        if target.suffix == ".json":  # MLflow's scoring protocol, split orientation
            columns = list(EXAMPLE_INPUTS)
            data = [[row[name] for name in columns] for row in rows]
            json.dump({"dataframe_split": {"columns": columns, "data": data}}, file)
        else:
            writer = csv.DictWriter(file, fieldnames=list(EXAMPLE_INPUTS))
            writer.writeheader()
            writer.writerows(rows)
    temporary.replace(target)


def announce(config: configs.Config, origin: str) -> None:
    """Say what the job is about to do, before its libraries load (seconds for MLflow, pandas).

    Said to a person at a terminal only: a log read later has the job's own lines, and an error
    stays one line. The line comes from the job's description in the shipped schema: no job module
    is imported, no interpolation resolved. Nothing is said for an unknown job (the validation
    names it) or a job that logs JSON lines.
    """
    import omegaconf as oc

    if not sys.stderr.isatty():
        return

    try:
        kind = oc.OmegaConf.select(config, "job.KIND")
        serialize = oc.OmegaConf.select(config, "job.logger_service.serialize")
    except oc.errors.OmegaConfBaseException:  # the validation says what is wrong
        return
    definitions = json.loads(SCHEMA.read_text(encoding="utf-8"))["$defs"]
    if serialize is True or not isinstance(kind, str) or kind not in definitions:
        return
    what = definitions[kind].get("description", "").split("\n")[0].rstrip(".")
    what = what[:1].lower() + what[1:]
    print(f"bikes: {kind} ({origin}): {what}...", file=sys.stderr, flush=True)


def cli() -> T.NoReturn:
    """Run `main` with the process arguments and exit with its code."""
    sys.exit(main())
