"""Tests of the hyperparameter searchers (grid and Optuna) over time-series folds."""

from __future__ import annotations

import math
import typing as T

import pandas as pd
import pydantic as pdt
import pytest

from bikes.core import schemas
from bikes.core.errors import DataError
from bikes.core.metrics import SklearnMetric
from bikes.core.models import GradientBoostingModel, Model
from bikes.utils import searchers
from bikes.utils.searchers import selection, trials
from bikes.utils.splitters import TimeSeriesSplitter

if T.TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

GAP = 24


class ProbeModel(Model):
    """Predict a constant, and fail if a fold tests on rows before (or within the gap of) its train.

    Attributes:
        level: the constant prediction.
        gap: rows that must separate the train and test rows of a fold.
    """

    KIND: T.Literal["ProbeModel"] = "ProbeModel"
    level: float = 0.0
    gap: int = 0
    fits: T.ClassVar[list[tuple[int, int]]] = []
    _train_end: int = pdt.PrivateAttr(default=-1)

    def fit(self, inputs: pd.DataFrame, targets: pd.DataFrame) -> T.Self:
        """Remember the last train row."""
        self._train_end = int(inputs.index.max())
        ProbeModel.fits.append((int(inputs.index.min()), self._train_end))
        return self

    def predict(self, inputs: pd.DataFrame) -> pd.DataFrame:
        """Predict the level, after checking that the test rows come after the train and gap."""
        first = int(inputs.index.min())
        if first <= self._train_end + self.gap:
            raise AssertionError(f"test row {first} is not after train row {self._train_end}")
        return pd.DataFrame({"prediction": self.level}, index=inputs.index)

    def get_internal_model(self) -> Pipeline:
        """Have no pipeline."""
        raise NotImplementedError


@pytest.fixture
def data(hours: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return synthetic inputs and targets (90 days of hours)."""
    return schemas.InputsSchema.check(hours), schemas.TargetsSchema.check(hours)


@pytest.fixture(autouse=True)
def clear_probe() -> None:
    """Forget the fits of the probe model of other tests."""
    ProbeModel.fits.clear()


@pytest.mark.slow
def test_grid_search_tries_every_combination_in_parallel(
    data: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    inputs, targets = data
    searcher = searchers.GridCVSearcher(
        param_grid={"max_iter": [5, 40], "max_leaf_nodes": [7]}, n_jobs=2, verbose=0
    )
    result = searcher.search(
        model=GradientBoostingModel(),
        metric=SklearnMetric(),
        inputs=inputs,
        targets=targets,
        cv=TimeSeriesSplitter(n_splits=3),
    )
    results = result.trials
    assert list(results.columns) == [
        "trial", "state", "params", "score", "fold_1", "fold_2", "fold_3",
    ]  # fmt: skip
    assert results["params"].tolist() == [
        {"max_iter": 5, "max_leaf_nodes": 7},
        {"max_iter": 40, "max_leaf_nodes": 7},
    ]
    folds = results[["fold_1", "fold_2", "fold_3"]]
    assert results["score"].tolist() == pytest.approx(folds.mean(axis=1).tolist())
    assert result.best_score == results["score"].min() > 0  # an RMSE keeps its natural sign
    assert result.best_params == {"max_iter": 40, "max_leaf_nodes": 7}  # more trees fit better
    assert result.best_trial == 1


@pytest.mark.parametrize(
    "searcher",
    [
        searchers.GridCVSearcher(param_grid={"level": [100.0, 200.0]}, n_jobs=1, verbose=0),
        searchers.OptunaSearcher(
            space={"level": searchers.FloatDistribution(low=0, high=400)},
            n_trials=3,
            timeout=None,
            pruning=False,
            n_jobs=1,  # in this process, where the probe records its fits
        ),
    ],
    ids=["grid", "optuna"],
)
def test_searchers_honor_time_series_folds(
    searcher: searchers.Searcher, data: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    inputs, targets = data
    cv = TimeSeriesSplitter(n_splits=3, test_size=168, gap=GAP)
    results = searcher.search(ProbeModel(gap=GAP), SklearnMetric(), inputs, targets, cv).trials
    assert len(ProbeModel.fits) == 3 * len(results)
    starts, ends = zip(*ProbeModel.fits, strict=True)
    assert set(starts) == {int(inputs.index.min())}  # expanding windows from the first hour
    assert sorted(set(ends)) == [len(inputs) - 168 * k - GAP for k in (3, 2, 1)]


@pytest.mark.slow
def test_optuna_search_starts_with_the_model_and_finds_better(
    data: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    inputs, targets = data
    searcher = searchers.OptunaSearcher(
        space={
            "learning_rate": searchers.FloatDistribution(low=0.05, high=0.3, log=True),
            "max_iter": searchers.IntDistribution(low=5, high=40, step=5),
            "target": searchers.CategoricalDistribution(choices=["identity", "log"]),
        },
        n_trials=4,
        timeout=None,
        n_jobs=2,
    )
    model = GradientBoostingModel(learning_rate=0.05, max_iter=5, target="identity")
    result = searcher.search(
        model, SklearnMetric(name="r2_score"), inputs, targets, TimeSeriesSplitter(n_splits=2)
    )
    results, best_score, best_params = result.trials, result.best_score, result.best_params
    assert results["trial"].tolist() == [0, 1, 2, 3]
    assert results.at[0, "params"] == {"learning_rate": 0.05, "max_iter": 5, "target": "identity"}
    assert best_score == results["score"].max() > results.at[0, "score"]  # r2: the greater
    assert set(best_params) == {"learning_rate", "max_iter", "target"}
    GradientBoostingModel(**best_params)


def test_optuna_search_prunes_trials_on_bad_folds(
    data: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    inputs, targets = data
    searcher = searchers.OptunaSearcher(
        space={"level": searchers.FloatDistribution(low=0, high=10_000)},
        n_trials=12,
        timeout=None,
        start_with_model=False,
        pruner_startup_trials=2,
        n_jobs=1,
    )
    results = searcher.search(
        ProbeModel(), SklearnMetric(), inputs, targets, TimeSeriesSplitter(n_splits=3)
    ).trials
    pruned = results[results["state"] == searchers.PRUNED]
    assert not pruned.empty
    assert pruned["score"].isna().all()
    assert pruned["fold_3"].isna().all() and pruned["fold_1"].notna().all()
    assert len(ProbeModel.fits) < 3 * len(results)  # pruned trials skipped folds


def test_searchers_refuse_too_few_rows(data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    inputs, targets = data
    searcher = searchers.GridCVSearcher(param_grid={"level": [1.0]}, n_jobs=1)
    with pytest.raises(DataError, match="cannot split 4 rows"):
        searcher.search(
            ProbeModel(), SklearnMetric(), inputs[:4], targets[:4], TimeSeriesSplitter()
        )


def test_best_of_needs_a_complete_trial() -> None:
    results = pd.DataFrame([trials.trial_row(0, searchers.PRUNED, {"a": 1}, [1.0], 2)])
    assert math.isnan(results["fold_2"].iloc[0])
    with pytest.raises(DataError, match="completed no trial"):
        selection.best_of(results, SklearnMetric())


def complete(*folds: list[float]) -> pd.DataFrame:
    """Return complete trials of the given fold scores, with params naming their trial."""
    return pd.DataFrame(
        [
            trials.trial_row(number, searchers.COMPLETE, {"trial": number}, scores, len(scores))
            for number, scores in enumerate(folds)
        ]
    )


def test_best_of_keeps_a_trial_the_best_beats_only_by_noise() -> None:
    # the fold RMSEs of the model's defaults and of the best trial, tuned on the real data
    results = complete([63.89, 70.92, 53.62], [72.70, 61.56, 53.49])
    rmse = SklearnMetric()
    best = selection.best_of(results, rmse)
    assert best.trials is results
    assert best.best_trial == 1
    assert best.best_score == pytest.approx(62.583, abs=1e-3)
    assert best.best_params == {"trial": 1}
    kept = selection.best_of(results, rmse, keep=0, within=1.0)
    assert kept.best_trial == 0
    # 0.23 better on average, but +- 5.2 fold by fold
    assert kept.best_score == pytest.approx(62.81, abs=1e-3)
    assert kept.best_params == {"trial": 0}
    unkept = selection.best_of(results, rmse, keep=0, within=0.0)
    assert (unkept.best_trial, unkept.best_score, unkept.best_params) == (
        best.best_trial,
        best.best_score,
        best.best_params,
    )


@pytest.mark.parametrize(
    ("metric", "folds", "kept"),
    [
        (SklearnMetric(), ([60.0, 70.0, 50.0], [59.0, 69.2, 48.9]), False),  # 1 better every fold
        (SklearnMetric(), ([60.0, 70.0, 50.0], [52.0, 75.0, 50.0]), True),
        (SklearnMetric(name="r2_score"), ([0.80, 0.70], [0.85, 0.76]), False),
        (SklearnMetric(name="r2_score"), ([0.80, 0.70], [0.90, 0.65]), True),
        (SklearnMetric(), ([60.0], [59.0]), False),  # one fold: no noise to measure
    ],
)
def test_best_of_replaces_a_kept_trial_by_a_consistently_better_one(
    metric: SklearnMetric, folds: tuple[list[float], list[float]], kept: bool
) -> None:
    result = selection.best_of(complete(*folds), metric, keep=0, within=1.0)
    assert result.best_params == {"trial": 0 if kept else 1}
    assert result.best_trial == (0 if kept else 1)


def test_optuna_search_keeps_the_model_unless_a_trial_beats_it_beyond_noise(
    data: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    inputs, targets = data
    level = float(targets[schemas.TARGET].mean())
    space: dict[str, searchers.DistributionKind] = {
        "level": searchers.FloatDistribution(low=0, high=2 * level)
    }
    cv = TimeSeriesSplitter(n_splits=3)
    model = ProbeModel(level=0.5 * level)  # far from the best constant (about the mean)
    for within, kept in [(1e6, True), (None, False)]:
        searcher = searchers.OptunaSearcher(
            space=space, n_trials=8, timeout=None, pruning=False, n_jobs=1, keep_model_within=within
        )
        result = searcher.search(model, SklearnMetric(), inputs, targets, cv)
        first = result.trials.loc[0]
        assert first["params"] == {"level": 0.5 * level}
        assert (result.best_params == first["params"]) is kept
        assert bool(result.best_score == first["score"]) is kept
        assert (result.best_trial == 0) is kept


@pytest.mark.parametrize(
    ("kind", "settings", "message"),
    [
        (searchers.FloatDistribution, {"low": 1.0, "high": 0.5}, "greater than high"),
        (searchers.FloatDistribution, {"low": 0.0, "high": 1.0, "log": True}, "log scale"),
        (searchers.FloatDistribution, {"low": 0.1, "high": 1, "log": True, "step": 0.1}, "step"),
        (searchers.IntDistribution, {"low": 5, "high": 1}, "greater than high"),
        (searchers.IntDistribution, {"low": 0, "high": 8, "log": True}, "log scale"),
        (searchers.CategoricalDistribution, {"choices": []}, "at least 1"),
        (searchers.OptunaSearcher, {"n_trials": None, "timeout": None}, "never end"),
        (searchers.OptunaSearcher, {"n_jobs": 0}, "n_jobs must be"),
        (searchers.GridCVSearcher, {"param_grid": {"max_iter": []}}, "no value to try"),
    ],
)
def test_invalid_settings_are_refused(
    kind: type[pdt.BaseModel], settings: dict[str, T.Any], message: str
) -> None:
    with pytest.raises(pdt.ValidationError, match=message):
        kind.model_validate(settings)


def test_search_space_is_read_from_config() -> None:
    searcher = searchers.OptunaSearcher.model_validate(
        {
            "space": {
                "learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": True},
                "max_iter": {"type": "int", "low": 100, "high": 800},
                "target": {"type": "categorical", "choices": ["log", "identity"]},
            }
        }
    )
    assert isinstance(searcher.space["max_iter"], searchers.IntDistribution)
    assert searcher.samples() == {
        "learning_rate": [0.01, 0.3],
        "max_iter": [100, 800],
        "target": ["log", "identity"],
    }
    with pytest.raises(pdt.ValidationError, match="does not match any of the expected tags"):
        searchers.OptunaSearcher.model_validate({"space": {"a": {"type": "normal"}}})


def test_default_space_is_the_shipped_one_and_holds_the_model_defaults() -> None:
    from pathlib import Path

    import yaml

    config = yaml.safe_load((Path(__file__).parents[2] / "confs/tuning.yaml").read_text())
    shipped = searchers.OptunaSearcher.model_validate(config["job"]["searcher"])
    defaults = GradientBoostingModel().get_params()

    assert shipped.space == searchers.OptunaSearcher().space
    for name, distribution in shipped.space.items():
        assert isinstance(distribution, searchers.FloatDistribution | searchers.IntDistribution)
        assert distribution.low <= defaults[name] <= distribution.high, name
