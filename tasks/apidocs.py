"""Run pdoc on the package as the type checker reads it: `uv run python tasks/apidocs.py ARGS`.

pandas' stubs make `pd.Series[int]` an annotation for mypy, but at run time `pd.Series` is not
subscriptable: pdoc evaluates the annotations and would render each of them as an error. The
defaults shown are those written in the code: one that matches an environment variable of the
machine building the docs (e.g. `SPARK_LOCAL_IP=127.0.0.1` and a default host) is no secret.
"""

import os
import types

import pandas as pd
from pdoc.__main__ import cli


def main() -> None:
    """Make `pd.Series[...]` a generic alias, then run pdoc's command line."""
    pd.Series.__class_getitem__ = classmethod(types.GenericAlias)  # type: ignore[attr-defined]
    os.environ["PDOC_DISPLAY_ENV_VARS"] = "1"
    cli()


if __name__ == "__main__":
    main()
