"""Run the benchmarks: `uv run python -m benchmarks [--quick] [--only NAMES] [--with-tests]`."""

from benchmarks.cli import main

raise SystemExit(main())
