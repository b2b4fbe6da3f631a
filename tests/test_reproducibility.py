"""docs/model.md's reproducibility contract for plain Monte Carlo."""

from __future__ import annotations

import numpy as np
import pytest

from support import iter_chunks
from simengine.streams import BLOCK_SIZE, uniforms

from support import scenario


def collect(sc, trials, seed=11, **kwargs):
    chunks = list(iter_chunks(sc, trials, seed, **kwargs))
    metrics = np.concatenate([c.metrics for c in chunks], axis=1)
    drivers = {k: np.concatenate([c.drivers[k] for c in chunks]) for k in chunks[0].drivers}
    return metrics, drivers


@pytest.fixture(scope="module")
def uncertain(bundled):
    return bundled.get("crm_upgrade_big_bang") or next(iter(bundled.values()))


def test_identical_across_thread_counts(uncertain):
    one, _ = collect(uncertain, 5000, threads=1)
    two, _ = collect(uncertain, 5000, threads=2)
    np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("chunk_size", [1, 777, 4096, BLOCK_SIZE + 3])
def test_identical_across_chunk_sizes(uncertain, chunk_size):
    trials = 1000 if chunk_size == 1 else BLOCK_SIZE + 500
    base, base_drivers = collect(uncertain, trials, chunk_size=10**6)
    other, other_drivers = collect(uncertain, trials, chunk_size=chunk_size)
    np.testing.assert_array_equal(base, other)
    for name in base_drivers:
        np.testing.assert_array_equal(base_drivers[name], other_drivers[name])


def test_first_n_trials_of_a_longer_run_equal_a_run_of_n(uncertain):
    short, _ = collect(uncertain, 700)
    long, _ = collect(uncertain, 7000)
    np.testing.assert_array_equal(short, long[:, :700])


def test_a_driver_keeps_its_draws_when_another_changes():
    """Common random numbers: changing one driver's distribution leaves the others' draws alone."""
    a = scenario(costs={"impl": {"timing": "implementation", "amount": {"dist": "uniform", "min": 1, "max": 2}},
                        "lic": {"timing": "upfront", "amount": {"dist": "uniform", "min": 5, "max": 9}}})
    b = scenario(costs={"impl": {"timing": "implementation", "amount": {"dist": "pert", "min": 0, "mode": 1, "max": 9}},
                        "lic": {"timing": "upfront", "amount": {"dist": "uniform", "min": 5, "max": 9}}})
    _, da = collect(a, 2000)
    _, db = collect(b, 2000)
    np.testing.assert_array_equal(da["costs.lic.amount"], db["costs.lic.amount"])
    assert not np.array_equal(da["costs.impl.amount"], db["costs.impl.amount"])


def test_uniforms_are_open_and_independent_of_slicing():
    whole = uniforms(5, "x", 0, 2 * BLOCK_SIZE)
    assert whole.min() > 0 and whole.max() < 1
    np.testing.assert_array_equal(uniforms(5, "x", BLOCK_SIZE - 10, BLOCK_SIZE + 10), whole[BLOCK_SIZE - 10:BLOCK_SIZE + 10])
    assert not np.array_equal(uniforms(5, "x", 0, 100), uniforms(5, "y", 0, 100))
    assert not np.array_equal(uniforms(5, "x", 0, 100), uniforms(6, "x", 0, 100))
