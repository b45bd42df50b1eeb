"""Run pdoc with the real defaults of Pydantic fields and runtime generics of pandas.

Run by `inv docs.api` as `python -m tasks.pdoc_site <pdoc arguments>`. Two gaps of pdoc 16 are
filled for the time of the build only, the package itself unchanged:

- pdoc shows `PydanticUndefined` as the default of a required field and of a field with a
  `default_factory`: a required field shows none, a factory's field the value it makes (the
  build runs in a minimal environment: no variable of the builder's leaks into the site).
- pandas-stubs makes `pd.Series[float]` a valid annotation, which pandas cannot evaluate at run
  time: `Series` is made subscriptable, as `list` is, so pdoc renders such annotations.
- pandera sets `SPARK_LOCAL_IP=127.0.0.1` on import (for pyspark) unless it is set, and pdoc
  hides the defaults equal to a variable: the serving job's host would be hidden. It is set empty.
"""

from __future__ import annotations

import types
import typing as T


def default_value(parent: T.Any, name: str, obj: T.Any) -> T.Any:
    """Return the default of a field of a Pydantic model (pdoc's `empty` when it has none)."""
    from pdoc import _pydantic
    from pdoc.doc_types import empty
    from pydantic_core import PydanticUndefined

    if not _pydantic.is_pydantic_model(parent) or name not in parent.__pydantic_fields__:
        return obj
    field = parent.__pydantic_fields__[name]
    if field.default is not PydanticUndefined:
        return field.default
    if field.default_factory is not None and not field.default_factory_takes_validated_data:
        return field.default_factory()  # type: ignore[call-arg]
    return empty


def main() -> None:
    """Patch pdoc and pandas for the build, then run pdoc's command line."""
    import os

    os.environ.setdefault("SPARK_LOCAL_IP", "")  # before pandera is imported

    import pandas as pd
    from pdoc import __main__, _pydantic

    _pydantic.default_value = default_value
    T.cast(T.Any, pd.Series).__class_getitem__ = classmethod(types.GenericAlias)
    __main__.cli()


if __name__ == "__main__":
    main()
