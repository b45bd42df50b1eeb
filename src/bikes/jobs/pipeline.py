"""Run several jobs in order, each from its own config file: the whole DAG in one command."""

from __future__ import annotations

import dataclasses
import typing as T

import pydantic as pdt
from loguru import logger

from bikes.core.errors import BikesError, ConfigError
from bikes.io import cache, configs, services
from bikes.jobs import base

if T.TYPE_CHECKING:
    from bikes.io import tracking

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
class Skipped(base.RunResult):
    """A step skipped: its config, code and inputs are those of a finished run, reused."""


@dataclasses.dataclass(frozen=True)
class PipelineResult(base.RunResult):
    """The result of each step, by its config file."""

    steps: dict[str, base.Result]

    @property
    def skipped(self) -> list[str]:
        """Return the steps skipped, as unchanged since a finished run."""
        return [step for step, result in self.steps.items() if isinstance(result, Skipped)]

    @T.override
    def summary(self) -> str:
        return "; ".join(f"{step}: {result.summary()}" for step, result in self.steps.items())


class PipelineJob(base.Job):
    """Run the jobs of config files in order, stopping at the first failure.

    The pipeline's MLflow run is the parent of its steps' runs. A step whose resolved config, the
    package's code, the files and the registry state it reads have not changed since a finished
    run of it is skipped, and the files it wrote are reused (`bikes.io.cache`): changing a key of
    one step re-runs that step and the steps that read what it writes, nothing upstream.

    Attributes:
        steps: config files of the jobs to run, in order.
        extras: configs merged into each step (OmegaConf dot-lists or YAML mappings).
        force: run every step, even the unchanged ones.
        run_config: settings of the parent MLflow run.
    """

    KIND: T.Literal["PipelineJob"] = "PipelineJob"

    steps: list[str] = pdt.Field(default_factory=lambda: list(DEFAULT_STEPS), min_length=1)
    extras: list[str] = pdt.Field(default_factory=list)
    force: bool = False
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
            steps = cache.StepCache(run.client, run.experiment_id)
            for number, (step, job) in enumerate(zip(self.steps, jobs, strict=True), start=1):
                logger.info("Pipeline step {}/{}: {} ({})", number, len(jobs), job.KIND, step)
                results[step] = self.step(run, steps, job)
        skipped = sum(isinstance(result, Skipped) for result in results.values())
        self.alerts_service.notify(
            title="Pipeline Job Finished", message=f"{len(jobs)} steps, {skipped} unchanged"
        )
        return PipelineResult(run.id, results)

    def step(self, run: tracking.Run, steps: cache.StepCache, job: base.Job) -> base.Result:
        """Run a job as a child run of the pipeline's, unless a finished run of it is reusable."""
        key = self.key(job)
        cached = None if self.force or key is None else steps.lookup(key)
        if cached is not None:
            logger.info("Unchanged since run {}: skipped (force: true runs it again)", cached)
            return Skipped(cached)
        if job.uses_mlflow:
            with job.within(run) as runner:
                result = runner.run()
            if not isinstance(result, base.RunResult):
                raise TypeError(f"{job.KIND} uses MLflow but returned no run")  # a bug of the job
            run_id = result.run_id
        else:  # a job without a run of its own (preparation) gets one for its cache record
            with run.child(job.KIND) as child, job as runner:
                result = runner.run()
            run_id = child.id
        done = self.key(job)  # after the step: a step may write what it reads (e.g. an alias)
        if done is not None:
            steps.record(run_id, done, job.writes())
        return result

    def key(self, job: base.Job) -> str | None:
        """Return the cache key of a job, or None if its inputs cannot be read (it will say why)."""
        try:
            registry = job.registry_reads(job.mlflow_service.registry()) if job.uses_mlflow else {}
        except BikesError:
            return None
        return cache.key(job.model_dump(mode="json"), job.reads(), registry)
