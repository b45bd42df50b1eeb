"""The search space of Optuna in configs: one distribution a param, selected by its `type`.

A `float` or `int` distribution samples between `low` and `high` (on a log scale, or by a step), a
`categorical` one among its `choices`. Each knows its bounds, so a job can check that the model
accepts every value the search may try before any fit.
"""

from __future__ import annotations

import abc
import typing as T

import pydantic as pdt

from bikes.utils.searchers.base import Value

if T.TYPE_CHECKING:
    import optuna


class Distribution(abc.ABC, pdt.BaseModel, strict=True, frozen=True, extra="forbid"):
    """Values of a param that Optuna samples from."""

    type: str

    @abc.abstractmethod
    def suggest(self, trial: optuna.Trial, name: str) -> T.Any:
        """Sample a value of the param for a trial."""

    @abc.abstractmethod
    def bounds(self) -> list[T.Any]:
        """Return the extreme values (or the choices) of the distribution."""

    def contains(self, value: T.Any) -> bool:
        """Tell whether the distribution may sample the value."""
        bounds = self.bounds()
        return isinstance(value, int | float) and bounds[0] <= value <= bounds[1]


class FloatDistribution(Distribution):
    """Floats between `low` and `high` (on a log scale if `log`, by `step` if given)."""

    type: T.Literal["float"] = "float"
    low: float
    high: float
    log: bool = False
    step: float | None = pdt.Field(default=None, gt=0)

    @pdt.model_validator(mode="after")
    def ordered(self) -> T.Self:
        """Check that the bounds are ordered (and positive on a log scale)."""
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) is greater than high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError(f"low ({self.low}) must be positive on a log scale")
        if self.log and self.step is not None:
            raise ValueError("step cannot be used on a log scale")
        return self

    @T.override
    def suggest(self, trial: optuna.Trial, name: str) -> T.Any:
        return trial.suggest_float(name, self.low, self.high, log=self.log, step=self.step)

    @T.override
    def bounds(self) -> list[T.Any]:
        return [self.low, self.high]


class IntDistribution(Distribution):
    """Integers between `low` and `high` (on a log scale if `log`), by `step`."""

    type: T.Literal["int"] = "int"
    low: int
    high: int
    log: bool = False
    step: int = pdt.Field(default=1, gt=0)

    @pdt.model_validator(mode="after")
    def ordered(self) -> T.Self:
        """Check that the bounds are ordered (and positive on a log scale)."""
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) is greater than high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError(f"low ({self.low}) must be positive on a log scale")
        return self

    @T.override
    def suggest(self, trial: optuna.Trial, name: str) -> T.Any:
        return trial.suggest_int(name, self.low, self.high, log=self.log, step=self.step)

    @T.override
    def bounds(self) -> list[T.Any]:
        return [self.low, self.high]


class CategoricalDistribution(Distribution):
    """One of a list of choices."""

    type: T.Literal["categorical"] = "categorical"
    choices: list[Value] = pdt.Field(min_length=1)

    @T.override
    def suggest(self, trial: optuna.Trial, name: str) -> T.Any:
        return trial.suggest_categorical(name, self.choices)

    @T.override
    def bounds(self) -> list[T.Any]:
        return list(self.choices)

    @T.override
    def contains(self, value: T.Any) -> bool:
        return value in self.choices


DistributionKind = T.Annotated[
    FloatDistribution | IntDistribution | CategoricalDistribution,
    pdt.Field(discriminator="type"),
]
