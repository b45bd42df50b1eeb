"""Tests of the batcher, holder and predictor: rows predicted together, never across versions."""

from __future__ import annotations

import asyncio
import typing as T
from pathlib import Path

import numpy as np
import pandas as pd

from bikes.core.models import FEATURES
from bikes.io import registries, services
from bikes.serving import batching, holder

Registered = dict[str, str]


def two_versions() -> tuple[holder.Served, holder.Served]:
    """Register a second, different version and return both, loaded."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    from bikes import jobs
    from bikes.core.models import GradientBoostingModel

    job = jobs.TrainingJob(model=GradientBoostingModel(max_iter=5))
    with threadpool_limits(limits=1), job as runner:
        second = runner.run().version
    registry = services.MlflowService().registry()
    held = holder.ModelHolder(lambda: registry, registries.SklearnLoader())
    return held.load(registry.version(1)), held.load(registry.version(second))


def test_requests_share_a_call_of_their_version_only(
    registered_model: Registered, prepared: dict[str, Path]
) -> None:
    first, second = two_versions()
    inputs = pd.read_parquet(prepared["inputs_test"]).head(6)
    parts = [inputs.iloc[[i]] for i in range(6)]
    checked = [
        first.rules.check({c: part[c].to_numpy() for c in FEATURES}, 1, "r") for part in parts
    ]
    served = [first if i % 2 == 0 else second for i in range(6)]
    expected = [
        model.model.predict(part).to_numpy().tolist()
        for model, part in zip(served, parts, strict=True)
    ]
    calls: list[int] = []
    for model in (first, second):
        predict = model.predict

        def counted(frame: pd.DataFrame, predict: T.Any = predict) -> pd.DataFrame:
            calls.append(len(frame))
            return T.cast(pd.DataFrame, predict(frame))

        object.__setattr__(model, "predict", counted)

    async def requests(batcher: batching.Batcher) -> list[pd.DataFrame]:
        pending = [
            batcher.predict(model, part, 1) for model, part in zip(served, checked, strict=True)
        ]
        return await asyncio.gather(*pending)  # all ready in one turn of the loop

    answers = asyncio.run(requests(batching.Batcher()))
    assert [answer.to_numpy().tolist() for answer in answers] == expected
    assert calls == [3, 3]  # one call a version, whatever the order of arrival
    calls.clear()
    answers = asyncio.run(requests(batching.Batcher(max_rows=2)))
    assert [answer.to_numpy().tolist() for answer in answers] == expected
    assert calls == [2, 2, 1, 1]  # at most 2 rows a call, the oldest request first


def test_a_failed_call_fails_its_requests_only(
    registered_model: Registered, prepared: dict[str, Path]
) -> None:
    registry = services.MlflowService().registry()
    held = holder.ModelHolder(lambda: registry, registries.SklearnLoader())
    served = held.load(registry.version(1))
    inputs = pd.read_parquet(prepared["inputs_test"]).head(2)
    good = served.rules.check({c: inputs[c].to_numpy() for c in FEATURES}, 2, "r")
    broken = {**good, "hr": np.array(["x", "y"], dtype=object)}  # not checked: fails to predict

    async def requests() -> list[object]:
        batcher = batching.Batcher(max_rows=2)
        pending = [batcher.predict(served, broken, 2), batcher.predict(served, good, 2)]
        return list(await asyncio.gather(*pending, return_exceptions=True))

    failed, answered = asyncio.run(requests())
    assert isinstance(failed, ValueError)
    assert isinstance(answered, pd.DataFrame)
    assert list(answered.columns) == ["prediction", "prediction_lower", "prediction_upper"]
    assert len(answered) == 2


def test_holder_keeps_the_served_model_when_a_refresh_fails(registered_model: Registered) -> None:
    registry = services.MlflowService().registry()
    held = holder.ModelHolder(lambda: registry, registries.SklearnLoader(), alias="champion")
    assert held.refresh() is True
    assert held.refresh() is False  # the same version: nothing to load
    served = held.current
    held.alias = "missing"

    assert held.refresh() is False
    assert held.refresh() is False

    assert held.current is served
    assert held.problem is not None
    assert "models:/bikes@missing: no version holds the alias" in held.problem


def test_a_version_that_failed_to_load_waits_before_another_try(
    registered_model: Registered, isolated: Path
) -> None:
    (saved,) = isolated.glob("mlruns/**/model.skops")
    model = saved.read_bytes()
    saved.write_bytes(b"not a model")
    held = holder.ModelHolder(services.MlflowService().registry, registries.SklearnLoader())
    tries: list[str] = []

    class Tries:
        def loaded(self, served: holder.Served, previous: holder.Served | None) -> None:
            tries.append("loaded")

        def failed(self) -> None:
            tries.append("failed")

    held.observers.append(Tries())
    assert held.refresh() is False
    assert held.refresh() is False  # too soon: not tried
    assert tries == ["failed"]
    assert held.problem is not None
    assert held.problem.startswith("cannot load version 1 of bikes: ")
    saved.write_bytes(model)
    held.retry_at = 0.0  # as if `RETRY_SECONDS` went by
    assert held.refresh() is True
    assert tries == ["failed", "loaded"]


def test_the_shortcut_skips_a_column_selection_only_when_exact(
    registered_model: Registered, prepared: dict[str, Path]
) -> None:
    from bikes.core.models import BaselineSklearnModel, GradientBoostingModel
    from bikes.serving.predictors import Predictor

    inputs = pd.read_parquet(prepared["inputs_test"])
    targets = pd.read_parquet(prepared["targets_train"])
    train = pd.read_parquet(prepared["inputs_train"])
    champion = registries.SklearnLoader().load(registered_model["uri"])
    forest = BaselineSklearnModel(n_estimators=3, max_depth=3).fit(train, targets)
    numpy_output = GradientBoostingModel(max_iter=3).build()
    numpy_output[0].set_output(transform="default")  # the next step fits on arrays, not names
    numpy_output.fit(train, targets["cnt"])

    def predictor(pipeline: T.Any) -> Predictor:
        return Predictor(registries.LoadedModel("test", pipeline), inputs.head(1))

    fast = Predictor(champion, inputs.head(1))
    assert fast.columns == FEATURES
    assert fast.predict(inputs).equals(champion.predict(inputs))  # every test row, exactly
    assert predictor(forest.get_internal_model()).columns is None  # one-hot encodes
    assert predictor(numpy_output).columns is None  # warns of feature names: whole pipeline
    assert (
        predictor(numpy_output)
        .predict(inputs)
        .equals(registries.LoadedModel("test", numpy_output).predict(inputs))
    )
