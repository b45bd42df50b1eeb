"""Run several jobs in order, each from its own config file: the whole DAG in one command."""

from __future__ import annotations

import os
import typing as T

import pydantic as pdt
from loguru import logger

from bikes.core.errors import ConfigError
from bikes.io import configs
from bikes.jobs import base

# the jobs of the project in the order of their dependencies, each with its config confs/<job>.yaml
DAG = (
    "preparation",
    "tuning",
    "training",
    "promotion",
    "inference",
    "evaluations",
    "explanations",
)
DEFAULT_STEPS = [f"confs/{name}.yaml" for name in DAG]


class PipelineJob(base.Job):
    """Run the jobs of config files in order, stopping at the first failure.

    Attributes:
        steps: config files of the jobs to run, in order.
        extras: configs merged into each step (OmegaConf dot-lists or YAML mappings).
    """

    KIND: T.Literal["PipelineJob"] = "PipelineJob"
    uses_mlflow: T.ClassVar[bool] = False

    steps: list[str] = pdt.Field(default_factory=lambda: list(DEFAULT_STEPS), min_length=1)
    extras: list[str] = pdt.Field(default_factory=list)

    @T.override
    def run(self) -> base.Locals:
        from bikes.jobs import JobKind

        extras = [configs.parse_string(extra) for extra in self.extras]
        # validate every step before running any, so a typo fails in seconds, not at the end
        jobs: list[base.Job] = []
        for step in self.steps:
            config = configs.merge_configs([configs.parse_file(step), *extras])
            settings = configs.to_object(config)
            if "job" not in settings:
                raise ConfigError(f"{step}: job: Field required")
            jobs.append(configs.validate(JobKind, settings["job"], origin=step))  # type: ignore[arg-type]
        # under `mlflow run`, MLFLOW_RUN_ID would make every step resume the project's one run
        project_run = os.environ.pop("MLFLOW_RUN_ID", None)
        try:
            for number, (step, job) in enumerate(zip(self.steps, jobs, strict=True), start=1):
                logger.info("Pipeline step {}/{}: {} ({})", number, len(jobs), job.KIND, step)
                with job as runner:
                    runner.run()
                self.logger_service.start()  # the step reconfigured the logger: take it back
        finally:
            if project_run is not None:
                os.environ["MLFLOW_RUN_ID"] = project_run
        self.alerts_service.notify(title="Pipeline Job Finished", message=f"{len(jobs)} steps")
        return locals()
