"""Jobs of the package, each selected by its `KIND` in a config, each returning a typed result."""

import typing as T

import pydantic as pdt

from bikes.jobs.backtesting import BacktestingJob, BacktestingResult
from bikes.jobs.base import Job, Result
from bikes.jobs.evaluations import EvaluationsJob, EvaluationsResult
from bikes.jobs.explanations import ExplanationsJob, ExplanationsResult
from bikes.jobs.inference import InferenceJob, InferenceResult
from bikes.jobs.monitoring import MonitoringJob, MonitoringResult
from bikes.jobs.pipeline import PipelineJob, PipelineResult
from bikes.jobs.preparation import PreparationJob, PreparationResult
from bikes.jobs.promotion import PromotionJob, PromotionResult
from bikes.jobs.rollback import RollbackJob, RollbackResult
from bikes.jobs.serving import ServingJob, ServingResult
from bikes.jobs.training import TrainingJob, TrainingResult
from bikes.jobs.tuning import TuningJob, TuningResult

JobKind = T.Annotated[
    PreparationJob
    | PipelineJob
    | TrainingJob
    | PromotionJob
    | RollbackJob
    | InferenceJob
    | TuningJob
    | EvaluationsJob
    | ExplanationsJob
    | ServingJob
    | MonitoringJob
    | BacktestingJob,
    pdt.Field(discriminator="KIND"),
]

__all__ = [
    "BacktestingJob",
    "BacktestingResult",
    "EvaluationsJob",
    "EvaluationsResult",
    "ExplanationsJob",
    "ExplanationsResult",
    "InferenceJob",
    "InferenceResult",
    "Job",
    "JobKind",
    "MonitoringJob",
    "MonitoringResult",
    "PipelineJob",
    "PipelineResult",
    "PreparationJob",
    "PreparationResult",
    "PromotionJob",
    "PromotionResult",
    "Result",
    "RollbackJob",
    "RollbackResult",
    "ServingJob",
    "ServingResult",
    "TrainingJob",
    "TrainingResult",
    "TuningJob",
    "TuningResult",
]
