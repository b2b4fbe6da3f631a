"""The tabulated beta/PERT quantile against scipy's exact incomplete-beta inverse."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from simengine.distributions import beta_quantile_table, beta_spec

SHAPES = [(1.2, 3.8), (3.0, 3.0), (5.0, 1.0), (1.0, 1.0), (0.5, 0.7), (2.5, 7.5), (0.3, 4.0), (20.0, 2.0),
          (1.01, 4.9), (4.5, 1.02)]
TOLERANCE = 1e-11  # of the support width; measured worst case ~2e-12


def probe_uniforms() -> np.ndarray:
    """Random bulk draws, both tails down to 1e-16, and the extreme uniforms the streams give."""
    return np.concatenate([np.random.default_rng(0).random(100_000),
                           np.logspace(-16, -1, 3000), 1 - np.logspace(-15.6, -1, 3000),
                           [2.0**-53, 1 - 2.0**-53]])


def table_quantiles(a, b, values, is_z=False):
    out = np.array(values, dtype=float)
    beta_spec(a, b, 0.0, 1.0).apply(out, is_z)
    return out


@pytest.mark.parametrize("a,b", SHAPES)
def test_table_matches_exact_inverse_everywhere_including_tails(a, b):
    u = probe_uniforms()
    assert np.max(np.abs(table_quantiles(a, b, u) - special.betaincinv(a, b, u))) < TOLERANCE


@pytest.mark.parametrize("a,b", SHAPES)
def test_normal_score_input_matches_exact_inverse(a, b):
    u = probe_uniforms()
    got = table_quantiles(a, b, special.ndtri(u), is_z=True)
    assert np.max(np.abs(got - special.betaincinv(a, b, u))) < TOLERANCE


@pytest.mark.parametrize("a,b", SHAPES)
def test_bulk_table_is_used_for_ordinary_shapes(a, b):
    table = beta_quantile_table(a, b)
    assert table.u1 > table.u0  # the fast path is on, and the error test above covers it


@pytest.mark.parametrize("a,b", SHAPES)
def test_table_is_monotone(a, b):
    u = np.sort(np.random.default_rng(1).random(200_000))
    assert np.all(np.diff(table_quantiles(a, b, u)) >= 0)
