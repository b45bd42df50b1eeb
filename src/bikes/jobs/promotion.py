"""Promote a registered model version to an alias (`champion`), gated on validation scores."""

from __future__ import annotations

import dataclasses
import typing as T

import pydantic as pdt
from loguru import logger

from bikes.core import metrics as metrics_
from bikes.core.errors import CheckError, DataError
from bikes.io import registries, services, tracking
from bikes.jobs import base


@dataclasses.dataclass(frozen=True)
class PromotionResult(base.RunResult):
    """The verdict of the gate: the candidate, the holder it was scored against, their scores."""

    alias: str
    candidate: int
    champion: int | None
    promoted: bool
    scores: dict[str, float]


def number(version: tracking.Version | None) -> int | None:
    """Return the number of a version (None for no version)."""
    return None if version is None else version.number


class PromotionJob(base.Job):
    """Move an alias to a version (given, latest or best), unless it scores worse than the holder.

    The candidate and the current holder of the alias are compared by the validation score that
    their training runs logged (`validation_rmse`...: a validation window at the end of the train
    split, scored by the model fitted before it), never by the test split, which the evaluations
    job reports on: a candidate that scores worse is refused (a `CheckError`, exit code 4) unless
    `force`. The first promotion (no holder yet) always passes; promoting the holder again, or a
    candidate that ties with it (e.g. a retraining on the same data), changes nothing.

    The move is a compare-and-set under the registered model's lock: two promotions never
    interleave, and the holder is read again right before the alias moves (if another tool moved
    it meanwhile, the candidate is scored against the new holder, at most `attempts` times). Only
    "alias not found" means "no holder": any other registry error stops the job (fail closed).
    Each move is recorded on the registered model (who, when, from which version, why).

    Attributes:
        alias: alias to move.
        version: version to promote (else chosen by `strategy`).
        strategy: `latest` version, or the `best` by the validation `metric` of its training run.
        metric: metric of the `best` strategy and of the gate (read as `validation_rmse`...).
        loader: loader of the candidate, which must load (pass the checks of a safe model) before
            it takes the alias.
        force: promote even a candidate that scores worse than the current holder.
        lock_timeout: seconds to wait for another promotion of the same model to finish.
        attempts: times to score against a holder that changed during the scoring.
        run_config: settings of the MLflow run.
    """

    KIND: T.Literal["PromotionJob"] = "PromotionJob"
    preloads: T.ClassVar[tuple[str, ...]] = base.MODEL_LOADING

    alias: str = pdt.Field(default="champion", min_length=1)
    version: int | None = pdt.Field(default=None, gt=0)
    strategy: T.Literal["latest", "best"] = "latest"
    metric: metrics_.MetricKind = pdt.Field(
        default=metrics_.SklearnMetric(name="root_mean_squared_error"), discriminator="KIND"
    )
    loader: registries.LoaderKind = pdt.Field(
        default=registries.SklearnLoader(), discriminator="KIND"
    )
    force: bool = False
    lock_timeout: float = pdt.Field(default=300.0, gt=0)
    attempts: int = pdt.Field(default=3, gt=0)
    run_config: services.MlflowService.RunConfig = services.MlflowService.RunConfig(
        name="Promotion"
    )

    @T.override
    def registry_reads(self, registry: tracking.Registry) -> dict[str, int | None]:
        holder = registry.holder(self.alias)
        return {"candidate": self.candidate(registry).number, "holder": number(holder)}

    @T.override
    def run(self) -> PromotionResult:
        registry = self.mlflow_service.registry()
        candidate = self.candidate(registry)
        with self.run_context(self.run_config) as run, registry.lock(self.lock_timeout):
            run.log_params(
                {
                    "alias": self.alias,
                    "candidate_version": candidate.number,
                    "strategy": "version" if self.version is not None else self.strategy,
                    "metric": self.metric.name,
                    "force": self.force,
                }
            )
            result = self.gate(run, registry, candidate)
        if result.promoted:
            self.alerts_service.notify(
                title="Promotion Job Finished",
                message=f"{registry.name} version {candidate.number} is now '{self.alias}'",
            )
        return result

    def candidate(self, registry: tracking.Registry) -> tracking.Version:
        """Return the version to promote: the given one, the latest or the best by the metric."""
        if self.version is not None:
            return registry.version(self.version)
        versions = registry.versions()
        if not versions:
            raise DataError(f"models:/{registry.name}: no registered version to promote")
        if self.strategy == "latest":
            return versions[-1]
        scored = [(self.validation_score(registry, version), version) for version in versions]
        best: tuple[float, tracking.Version] | None = None
        for score, version in reversed(scored):  # newest first: the latest version wins a tie
            if score is not None and (best is None or self.metric.better(score, best[0])):
                best = (score, version)
        if best is None:
            raise DataError(
                f"models:/{registry.name}: no version has a training metric {self.validation}"
            )
        return best[1]

    def gate(
        self, run: tracking.Run, registry: tracking.Registry, candidate: tracking.Version
    ) -> PromotionResult:
        """Score the candidate against the holder, and move the alias if it is not worse."""
        holder = registry.holder(self.alias)
        scores: dict[str, float] = {}
        for _ in range(self.attempts):
            if number(holder) == candidate.number:
                logger.info("{} version {} holds {}", registry.name, candidate.number, self.alias)
                return PromotionResult(
                    run.id, self.alias, candidate.number, number(holder), False, scores
                )
            if "candidate" not in scores:
                self.loader.load(candidate.uri, registry)  # refuses an unsafe model (a DataError)
                scores["candidate"] = self.score(run, registry, "candidate", candidate)
            if holder is not None:
                scores["champion"] = self.score(run, registry, "champion", holder)
            if holder is not None and not self.force and scores["candidate"] == scores["champion"]:
                logger.info(
                    "Version {} ties with version {}: kept", candidate.number, holder.number
                )
                return PromotionResult(
                    run.id, self.alias, candidate.number, holder.number, False, scores
                )
            reason = self.verdict(registry, candidate, holder, scores)
            moved = registry.holder(self.alias)  # compare-and-set: the holder that was scored?
            if number(moved) == number(holder):
                self.move(run, registry, candidate, holder, reason)
                return PromotionResult(
                    run.id, self.alias, candidate.number, number(holder), True, scores
                )
            logger.warning(
                "{} moved to version {} meanwhile: scoring against it", self.alias, number(moved)
            )
            holder = moved
        message = (
            f"'{self.alias}' of {registry.name} kept moving: gave up after {self.attempts} attempts"
        )
        raise CheckError(message)

    def move(
        self,
        run: tracking.Run,
        registry: tracking.Registry,
        candidate: tracking.Version,
        holder: tracking.Version | None,
        reason: str,
    ) -> None:
        """Move the alias to the candidate, and record the move."""
        registry.move_alias(self.alias, candidate, reason=reason, previous=holder)
        run.set_tags({"champion_version": number(holder), "promoted": "true"})
        logger.info(
            "Promoted {} version {} to {} ({})", registry.name, candidate.number, self.alias, reason
        )

    def verdict(
        self,
        registry: tracking.Registry,
        candidate: tracking.Version,
        holder: tracking.Version | None,
        scores: dict[str, float],
    ) -> str:
        """Return why the candidate may take the alias, or raise a `CheckError` if it may not."""
        name = self.validation
        if holder is None:
            return f"first '{self.alias}': {name} = {scores['candidate']:.4g}"
        if not self.metric.better(scores["champion"], scores["candidate"]):
            candidate_score, holder_score = scores["candidate"], scores["champion"]
            return f"{name} = {candidate_score:.4g}, version {holder.number}'s = {holder_score:.4g}"
        message = (
            f"refused to promote {registry.name} version {candidate.number} to '{self.alias}':"
            f" its {name} = {scores['candidate']:.4g} is worse than {scores['champion']:.4g} of"
            f" version {holder.number} (the current '{self.alias}'); set force: true to promote it"
            " anyway"
        )
        if not self.force:
            raise CheckError(message)
        logger.warning("Forced: {}", message.replace("refused to promote", "promoting"))
        return "forced: " + message.removeprefix("refused to promote ")

    @property
    def validation(self) -> str:
        """Return the name of the metric that training runs log on their validation window."""
        return tracking.split_name(self.metric.name, "validation")

    def validation_score(
        self, registry: tracking.Registry, version: tracking.Version
    ) -> float | None:
        """Return the validation score of a version's training run (None when it logged none)."""
        return registry.run_metric(version, self.metric.name, split="validation")

    def score(
        self, run: tracking.Run, registry: tracking.Registry, role: str, version: tracking.Version
    ) -> float:
        """Return the validation score of a version's training run, logged as `<role>_<metric>`."""
        score = self.validation_score(registry, version)
        if score is None and self.force:
            logger.warning("{} has no {}: forced", version.uri, self.validation)
            return float("nan")
        if score is None:
            raise DataError(
                f"{version.uri}: its training run logged no {self.validation} (trained without a"
                " validation window?): promote it with `version` and `force: true`"
            )
        run.log_metrics({f"{role}_{self.validation}": score})
        logger.info(
            "{} version {}: {} = {:.4g}", role.title(), version.number, self.validation, score
        )
        return score
