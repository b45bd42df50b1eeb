"""Jobs of the package, each selected by its `KIND` in a config."""

import typing as T

import pydantic as pdt

from bikes.jobs.base import Job, Locals
from bikes.jobs.pipeline import PipelineJob
from bikes.jobs.preparation import PreparationJob
from bikes.jobs.training import TrainingJob

JobKind = T.Annotated[PreparationJob | PipelineJob | TrainingJob, pdt.Field(discriminator="KIND")]

__all__ = ["Job", "JobKind", "Locals", "PipelineJob", "PreparationJob", "TrainingJob"]
