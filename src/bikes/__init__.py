"""Forecast hourly bike-sharing demand with typed configs, MLflow tracking and registry.

Use it from the command line (`bikes confs/training.yaml`) or as a library:

```python
from bikes import jobs

with jobs.PreparationJob() as runner:
    runner.run()
```
"""

from importlib import metadata

__version__ = metadata.version("bikes")
