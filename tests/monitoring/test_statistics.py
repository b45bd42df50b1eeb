"""Tests of the distances: effect sizes that do not grow with the sample size."""

from __future__ import annotations

import numpy as np
import pytest

from bikes.monitoring import statistics


def test_wasserstein_of_a_shift_is_the_shift_in_units_of_the_scale() -> None:
    values = np.random.default_rng(0).normal(0, 2, 5_000)
    assert statistics.wasserstein(values, values + 1.0, scale=2.0) == pytest.approx(0.5)
    assert statistics.wasserstein(values, values) == 0.0


def test_distances_do_not_grow_with_the_sample_size_as_p_values_do() -> None:
    rng = np.random.default_rng(0)
    small = statistics.wasserstein(rng.normal(0, 1, 500), rng.normal(0.05, 1, 500))
    large = statistics.wasserstein(rng.normal(0, 1, 50_000), rng.normal(0.05, 1, 50_000))
    assert small < 0.2
    assert large < 0.1
    assert 0 <= statistics.kolmogorov_smirnov(rng.normal(0, 1, 500), rng.normal(0, 1, 500)) < 0.1


def test_psi_is_small_for_the_same_law_and_large_for_a_shift() -> None:
    rng = np.random.default_rng(0)
    reference = rng.normal(0, 1, 10_000)
    assert statistics.psi(reference, rng.normal(0, 1, 10_000)) < 0.02
    assert statistics.psi(reference, rng.normal(1, 1, 10_000)) > 0.2


def test_jensen_shannon_and_shares_of_categories() -> None:
    shares = statistics.shares([1, 1, 2, 3, 9], categories=[1, 2, 3])
    assert shares == pytest.approx([0.5, 0.25, 0.25])  # 9 is not a category: ignored
    assert statistics.jensen_shannon(shares, shares) == pytest.approx(0.0)
    assert statistics.jensen_shannon(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == 1.0
    assert statistics.psi_of_shares(shares, shares) == pytest.approx(0.0)
    assert list(statistics.shares([], categories=[1, 2])) == [0.0, 0.0]
