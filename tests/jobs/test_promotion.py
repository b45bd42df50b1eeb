"""Tests of the promotion job."""

from __future__ import annotations

import typing as T
from pathlib import Path

import mlflow
import pytest
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from bikes import jobs, scripts
from bikes.core.errors import CheckError, DataError
from bikes.core.metrics import SklearnMetric
from bikes.core.models import GradientBoostingModel

WriteConfig = T.Callable[[str, str], Path]
VALIDATION_RMSE = "validation_rmse"
Registered = dict[str, str]


def train(max_iter: int) -> str:
    """Train and register a version (without alias); return its version."""
    job = jobs.TrainingJob(model=GradientBoostingModel(max_iter=max_iter))
    with threadpool_limits(limits=1), job as runner:  # OpenMP threads thrash on busy cores
        return str(runner.run().version)


def champion() -> str:
    return str(mlflow.MlflowClient().get_model_version_by_alias("bikes", "champion").version)


def promote(**fields: T.Any) -> jobs.PromotionResult:
    with jobs.PromotionJob(**fields) as runner:
        return runner.run()


def test_first_promotion_always_passes(prepared: dict[str, Path], tracking_uri: str) -> None:
    version = train(max_iter=2)

    out = promote()

    assert out.promoted is True
    assert champion() == version
    run = mlflow.MlflowClient().get_run(out.run_id)
    assert run.data.params["candidate_version"] == version
    assert "candidate_validation_rmse" in run.data.metrics
    assert "champion_validation_rmse" not in run.data.metrics


def test_promotion_of_the_champion_changes_nothing(registered_model: Registered) -> None:
    out = promote()

    assert out.promoted is False
    assert champion() == registered_model["version"]


def test_gate_refuses_a_worse_candidate_unless_forced(
    registered_model: Registered, write_config: WriteConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    worse = train(max_iter=1)
    config = write_config("promotion.yaml", "job:\n  KIND: PromotionJob\n")

    with pytest.raises(CheckError) as error:
        promote()
    assert scripts.main([str(config)]) == 4

    message = str(error.value)
    assert f"refused to promote bikes version {worse} to 'champion'" in message
    assert "validation_rmse" in message
    assert f"of version {registered_model['version']} (the current 'champion')" in message
    assert "force: true" in message
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"bikes: error: {message}"
    assert champion() == registered_model["version"]
    runs = mlflow.search_runs(filter_string="attributes.run_name LIKE 'Promotion %'")
    assert set(runs["status"]) == {"FAILED"}
    assert runs["metrics.champion_validation_rmse"].notna().all()
    assert (
        runs["metrics.candidate_validation_rmse"] > runs["metrics.champion_validation_rmse"]
    ).all()

    out = promote(force=True)

    assert out.promoted is True
    assert champion() == worse


def test_better_candidate_is_promoted(registered_model: Registered) -> None:
    better = train(max_iter=60)

    out = promote(metric=SklearnMetric(name="r2_score"))

    assert out.scores["candidate"] > out.scores["champion"]
    assert champion() == better


def test_promotion_of_a_given_version_and_the_best(registered_model: Registered) -> None:
    worse = train(max_iter=1)

    promote(version=int(worse), force=True)
    assert champion() == worse
    promote(strategy="best")  # the best training RMSE: the first version

    assert champion() == registered_model["version"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "models:/bikes: no registered version to promote"),
        ({"strategy": "best"}, "models:/bikes: no registered version to promote"),
        ({"version": 3}, "models:/bikes/3: no such version"),
    ],
)
def test_nothing_to_promote_is_a_data_error(
    tracking_uri: str, fields: dict[str, T.Any], message: str
) -> None:
    with pytest.raises(DataError, match=message):
        promote(**fields)


def test_best_needs_a_logged_metric(registered_model: Registered) -> None:
    with pytest.raises(DataError, match="no version has a training metric validation_max_error"):
        promote(strategy="best", metric=SklearnMetric(name="max_error"))


def scores_of(versions: list[str]) -> dict[str, float]:
    """Return the validation RMSE of each version, as the gate reads it."""
    return {
        version: T.cast(
            float,
            registry().run_metric(
                registry().version(version), "root_mean_squared_error", split="validation"
            ),
        )
        for version in versions
    }


@pytest.mark.slow
@pytest.mark.integration
def test_two_promotions_at_once_keep_the_better_model(
    registered_model: Registered, write_config: WriteConfig
) -> None:
    import subprocess
    import sys

    candidates = [train(max_iter=60), train(max_iter=35)]
    scores = scores_of([registered_model["version"], *candidates])
    best = min(scores, key=scores.__getitem__)
    # a real race: each candidate passes the gate against the champion (of 20 trees) alone
    assert all(scores[version] < scores[registered_model["version"]] for version in candidates)
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "bikes", str(write_config(f"p{version}.yaml", config))],
            stderr=subprocess.PIPE,
            text=True,
        )
        for version in candidates
        for config in [f"job: {{KIND: PromotionJob, version: {version}}}\n"]
    ]
    outcomes = [(process.wait(timeout=120), process.stderr) for process in processes]
    logs = [stream.read() if stream else "" for _, stream in outcomes]

    assert champion() == best  # whichever process took the lock first
    assert {code for code, _ in outcomes} <= {0, 4}
    assert sum("Promoted bikes version" in log for log in logs) >= 1
    winner = f"Promoted bikes version {best} to champion"
    assert best == registered_model["version"] or any(winner in log for log in logs)
    history = [(move.previous, move.version) for move in registry().history("champion")]
    assert history[-1][1] == int(best)


def registry() -> T.Any:
    from bikes.io import services

    return services.MlflowService().registry()


def test_promotions_leave_an_audit_trail_and_roll_back(registered_model: Registered) -> None:
    first = int(registered_model["version"])
    worse = train(max_iter=1)

    promote(version=int(worse), force=True)

    moves = registry().history("champion")
    assert [(move.previous, move.version) for move in moves] == [(None, first), (first, int(worse))]
    assert moves[-1].reason.startswith("forced: ")
    assert "@" in moves[-1].by and moves[-1].at.endswith("+00:00")

    with jobs.RollbackJob(reason="worse on the test months") as runner:
        out = runner.run()

    assert (out.previous, out.version) == (int(worse), first)
    assert champion() == registered_model["version"]
    last = registry().history("champion")[-1]
    assert (last.previous, last.version) == (int(worse), first)
    assert last.reason == "rollback: worse on the test months"
    with jobs.RollbackJob() as runner:  # rolling back the rollback returns to the forced version
        assert runner.run().version == int(worse)


def test_rollback_needs_a_recorded_previous_version(registered_model: Registered) -> None:
    with pytest.raises(DataError, match="no previous version to roll back to"):
        with jobs.RollbackJob() as runner:
            runner.run()
    with pytest.raises(DataError, match="bikes@nope: no version holds the alias"):
        with jobs.RollbackJob(alias="nope") as runner:
            runner.run()


def test_a_tie_keeps_the_champion(registered_model: Registered) -> None:
    same = train(max_iter=20)  # the champion's own config, on the same data: the same model

    out = promote()

    assert out.promoted is False
    assert out.scores["candidate"] == out.scores["champion"]
    assert champion() == registered_model["version"] != same


def test_the_gate_never_reads_the_test_split(
    registered_model: Registered, prepared: dict[str, Path]
) -> None:
    better = train(max_iter=60)
    for name in ("inputs_test", "targets_test"):  # the evaluations job's data, not the gate's
        prepared[name].unlink()

    out = promote()

    assert out.promoted is True
    assert champion() == better
    expected = scores_of([better, registered_model["version"]])
    assert out.scores == {
        "candidate": expected[better],
        "champion": expected[registered_model["version"]],
    }


def test_a_version_without_validation_scores_needs_force(registered_model: Registered) -> None:
    job = jobs.TrainingJob(model=GradientBoostingModel(max_iter=60), validation=None)
    with threadpool_limits(limits=1), job as runner:
        unvalidated = runner.run().version

    with pytest.raises(DataError, match=f"bikes/{unvalidated}: its training run logged no valid"):
        promote()
    out = promote(version=unvalidated, force=True)

    assert out.promoted is True
    assert champion() == str(unvalidated)
