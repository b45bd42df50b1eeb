"""Roll an alias (`champion`) back to the version that held it before its last move."""

from __future__ import annotations

import dataclasses
import typing as T

import pydantic as pdt
from loguru import logger

from bikes.core.errors import DataError
from bikes.io import services
from bikes.jobs import base


@dataclasses.dataclass(frozen=True)
class RollbackResult(base.RunResult):
    """The alias moved back: from which version to which."""

    alias: str
    previous: int
    version: int


class RollbackJob(base.Job):
    """Move an alias back to its previous holder, as recorded by its last move, and say why.

    The previous holder is read from the audit trail of the registered model (the tags that
    promotions and rollbacks write), under the same lock as promotions; the rollback is recorded
    there too, so rolling back twice returns to where it started.

    Attributes:
        alias: alias to move back.
        reason: why (recorded on the registered model with who and when).
        lock_timeout: seconds to wait for a promotion of the same model to finish.
        run_config: settings of the MLflow run.
    """

    KIND: T.Literal["RollbackJob"] = "RollbackJob"

    alias: str = pdt.Field(default="champion", min_length=1)
    reason: str = pdt.Field(default="rolled back by hand", min_length=1)
    lock_timeout: float = pdt.Field(default=300.0, gt=0)
    run_config: services.MlflowService.RunConfig = services.MlflowService.RunConfig(name="Rollback")

    @T.override
    def run(self) -> RollbackResult:
        registry = self.mlflow_service.registry()
        with self.run_context(self.run_config) as run, registry.lock(self.lock_timeout):
            holder = registry.resolve(self.alias)
            moves = [move for move in registry.history(self.alias) if move.version == holder.number]
            if not moves or moves[-1].previous is None:
                raise DataError(
                    f"models:/{registry.name}@{self.alias}: no previous version to roll back to"
                    f" (version {holder.number} holds it, and no recorded move says from where)"
                )
            previous = registry.version(moves[-1].previous)
            registry.move_alias(
                self.alias, previous, reason=f"rollback: {self.reason}", previous=holder
            )
            run.log_params(
                {"alias": self.alias, "from_version": holder.number, "to_version": previous.number}
            )
            run.set_tags({"reason": self.reason})
        logger.info(
            "Rolled {} back from version {} to {}", self.alias, holder.number, previous.number
        )
        self.alerts_service.notify(
            title="Rollback Job Finished",
            message=f"{registry.name} version {previous.number} is '{self.alias}' again",
        )
        return RollbackResult(run.id, self.alias, holder.number, previous.number)
