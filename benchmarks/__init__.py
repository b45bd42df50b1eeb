"""Benchmarks of the bikes package: `uv run python -m benchmarks --help` (or `uv run inv bench`).

Each figure is measured for the default model and, side by side in the same run, for the reference
configuration (`BaselineSklearnModel`: a random forest of 200 trees of depth 20), so the report
shows ratios that hold on a shared, noisy machine. See the README's "Performance" section.
"""
