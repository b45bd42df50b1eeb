"""MLflow tasks (the `mlflow` collection): check the installation, serve the tracking store.

The module is not named `mlflow`: ruff would take the `mlflow` package for a first-party one.

The project's store is the SQLite database `mlflow.db` in the project folder, the same one the
jobs use by default (set `MLFLOW_TRACKING_URI` to point the jobs at a server instead).
"""

from invoke.context import Context
from invoke.tasks import task


@task
def doctor(ctx: Context) -> None:
    """Print the MLflow installation and environment information."""
    ctx.run("uv run mlflow doctor")


@task
def serve(
    ctx: Context,
    host: str = "127.0.0.1",
    port: int = 5000,
    backend_uri: str = "sqlite:///mlflow.db",
    workers: int = 1,
) -> None:
    """Serve the MLflow UI and tracking server on the project's store (Ctrl+C to stop)."""
    ctx.run(
        f"uv run mlflow server --host {host} --port {port} --workers {workers}"
        f" --backend-store-uri {backend_uri}",
        # the job-execution feature slows the start (about 1 min instead of 20 s here)
        env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
    )


@task(pre=[doctor], default=True)
def all(_: Context) -> None:  # noqa: A001 (the task name is part of the interface)
    """Run all the MLflow tasks (the doctor; `serve` blocks, run it on its own)."""
