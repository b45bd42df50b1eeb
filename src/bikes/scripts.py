"""Command line of the package: `bikes [FILES...] [-e EXTRAS...] [-s] [-v]`."""

from __future__ import annotations

import argparse
import sys
import typing as T
from pathlib import Path

EPILOG = """\
configs are merged from left to right, then the extras, with OmegaConf (interpolation included).
exit codes: 0 done, 1 internal error, 2 invalid command line or config, 3 invalid or missing data,
4 a check refused to go on (threshold breached, promotion gated), 130 interrupted.
examples: bikes confs/preparation.yaml
          bikes confs/training.yaml -e job.inputs.limit=1000
          bikes confs/pipeline.yaml
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


def main(argv: T.Sequence[str] | None = None) -> int:
    """Run the job of the merged configs and return the exit code."""
    args = parser.parse_args(argv)
    try:
        return run(args)
    except KeyboardInterrupt:
        print("bikes: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        from bikes.core.errors import BikesError

        if args.verbose or not isinstance(error, BikesError):
            raise
        print(f"bikes: error: {error}", file=sys.stderr)
        return error.exit_code


def run(args: argparse.Namespace) -> int:
    """Print the schema, or validate the settings and run the job."""
    if args.schema:
        print(SCHEMA.read_text(encoding="utf-8"), end="")
        return 0

    from bikes import settings
    from bikes.io import configs

    if not args.files and not args.extras:
        parser.error("give at least one config file (or --extras)")
    files = [configs.parse_file(file) for file in args.files]
    strings = [configs.parse_string(string) for string in args.extras]
    config = configs.merge_configs([*files, *strings])
    origin = ", ".join(args.files) or "--extras"
    setting = configs.validate(settings.MainSettings, configs.to_object(config), origin=origin)
    with setting.job as runner:
        runner.run()
    return 0


def cli() -> T.NoReturn:
    """Run `main` with the process arguments and exit with its code."""
    sys.exit(main())
