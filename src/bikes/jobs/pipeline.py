"""Run several jobs in order, each from its own config file: the whole DAG in one command."""

from __future__ import annotations

import dataclasses
import typing as T

import pydantic as pdt
from loguru import logger

from bikes.core.errors import ConfigError
from bikes.io import configs, services
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


@dataclasses.dataclass(frozen=True)
class PipelineResult(base.Result):
    """The result of each step, by its config file."""

    run_id: str
    steps: dict[str, base.Result]

    @T.override
    def summary(self) -> str:
        return "; ".join(f"{step}: {result.summary()}" for step, result in self.steps.items())


class PipelineJob(base.Job):
    """Run the jobs of config files in order, stopping at the first failure.

    The pipeline's MLflow run is the parent of its steps' runs.

    Attributes:
        steps: config files of the jobs to run, in order.
        extras: configs merged into each step (OmegaConf dot-lists or YAML mappings).
        run_config: settings of the parent MLflow run.
    """

    KIND: T.Literal["PipelineJob"] = "PipelineJob"

    steps: list[str] = pdt.Field(default_factory=lambda: list(DEFAULT_STEPS), min_length=1)
    extras: list[str] = pdt.Field(default_factory=list)
    run_config: services.MlflowService.RunConfig = services.MlflowService.RunConfig(
        name="Pipeline", log_system_metrics=False
    )

    def jobs(self) -> list[base.Job]:
        """Validate the job of every step before running any: a typo fails in seconds."""
        from bikes.jobs import JobKind

        extras = [configs.parse_string(extra) for extra in self.extras]
        jobs: list[base.Job] = []
        for step in self.steps:
            settings = configs.to_object(configs.merge_configs([configs.parse_file(step), *extras]))
            if "job" not in settings:
                raise ConfigError(f"{step}: job: Field required")
            jobs.append(configs.validate(JobKind, settings["job"], origin=step))  # type: ignore[arg-type]
        return jobs

    @T.override
    def run(self) -> PipelineResult:
        jobs = self.jobs()
        results: dict[str, base.Result] = {}
        with self.run_context(self.run_config) as run:
            for number, (step, job) in enumerate(zip(self.steps, jobs, strict=True), start=1):
                logger.info("Pipeline step {}/{}: {} ({})", number, len(jobs), job.KIND, step)
                with job.within(run) as runner:
                    results[step] = runner.run()
        self.alerts_service.notify(title="Pipeline Job Finished", message=f"{len(jobs)} steps")
        return PipelineResult(run.id, results)
