"""Forecast hourly bike-sharing demand with typed configs, MLflow tracking and registry.

Use it from the command line (`bikes confs/training.yaml`) or as a library:

```python
from bikes import jobs

with jobs.PreparationJob() as runner:
    runner.run()
```

.. include:: ../../README.md
   :start-line: 1
"""

import typing as T


def __getattr__(name: str) -> T.Any:
    """Return `__version__` from the installed metadata, read on first use (fast start-up)."""
    if name == "__version__":
        from importlib import metadata

        return metadata.version("bikes")
    raise AttributeError(f"module 'bikes' has no attribute {name!r}")
