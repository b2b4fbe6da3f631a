"""The S-curves' points and axis quantiles: what the charts draw from a million trials.

The charts take one sorted copy of the finite values and their quantiles from it
(`charts._sorted_finite`), and draw the empirical CDF through evenly spaced ranks
(`charts._ecdf_points`). These tests hold them to numpy's own sort and quantiles.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from simengine.charts import SCALE_RANGE, SPREAD, _ecdf_points, _histogram_bars, _sorted_finite

values = hnp.arrays(np.float64, st.integers(0, 9000),
                    elements=st.one_of(st.floats(-1e9, 1e9), st.sampled_from([np.nan, np.inf, -np.inf, 0.0])))


@given(values)
def test_sorted_finite_is_numpys_sort_and_quantiles_and_leaves_the_input(v):
    before = v.copy()
    x, q = _sorted_finite(v)
    finite = before[np.isfinite(before)]
    assert np.array_equal(x, np.sort(finite))
    if finite.size:
        assert np.array_equal(q, np.quantile(finite, SPREAD + SCALE_RANGE))
    else:
        assert q is None
    assert np.array_equal(v, before, equal_nan=True)
    assert _sorted_finite(v, [])[1] is None


@given(values)
def test_ecdf_points_lie_on_the_curve_and_span_it(v):
    x = np.sort(v[np.isfinite(v)])
    if x.size == 0:
        return
    px, py = _ecdf_points(x)
    k = np.rint(py * x.size).astype(int)
    assert np.array_equal(py, k / x.size)  # each y is k / n exactly
    assert np.array_equal(px, x[k - 1])  # at the k-th smallest value
    assert k[0] == 1 and k[-1] == x.size  # from the smallest value to the largest
    assert np.all(np.diff(k) > 0)
    assert k.size == x.size if x.size <= 4000 else 1900 <= k.size <= 2000


def test_histogram_bars_of_a_copy_match_an_untouched_array():
    rng = np.random.default_rng(5)
    v = rng.standard_normal(100_001) * 1e6
    share, edges, below, above = _histogram_bars(v.copy())
    lo, hi = np.quantile(v, [0.005, 0.995])
    assert edges[0] <= lo and edges[-1] >= hi and 0.0 in edges
    counts, _ = np.histogram(v, bins=edges)
    assert np.array_equal(share, counts / v.size)
    assert below == np.count_nonzero(v < edges[0]) / v.size and above == np.count_nonzero(v > edges[-1]) / v.size
