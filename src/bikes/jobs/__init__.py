"""Jobs of the package, each selected by its `KIND` in a config."""

import typing as T

import pydantic as pdt

from bikes.jobs.base import Job, Locals
from bikes.jobs.evaluations import EvaluationsJob
from bikes.jobs.explanations import ExplanationsJob
from bikes.jobs.inference import InferenceJob
from bikes.jobs.pipeline import PipelineJob
from bikes.jobs.preparation import PreparationJob
from bikes.jobs.promotion import PromotionJob
from bikes.jobs.training import TrainingJob
from bikes.jobs.tuning import TuningJob

JobKind = T.Annotated[
    PreparationJob
    | PipelineJob
    | TrainingJob
    | PromotionJob
    | InferenceJob
    | TuningJob
    | EvaluationsJob
    | ExplanationsJob,
    pdt.Field(discriminator="KIND"),
]

__all__ = [
    "EvaluationsJob",
    "ExplanationsJob",
    "InferenceJob",
    "Job",
    "JobKind",
    "Locals",
    "PipelineJob",
    "PreparationJob",
    "PromotionJob",
    "TrainingJob",
    "TuningJob",
]
