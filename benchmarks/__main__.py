"""Run the benchmarks: `uv run python -m benchmarks [--quick] [--only NAMES] [--with-tests]`."""

from benchmarks.suite import main

raise SystemExit(main())
