"""The value-of-information estimators (simengine/voi.py) against closed forms and their own invariants.

The linear model: D = A + B1 U1 + B2 U2 with U1, U2 iid Uniform(0, 1), A = -1, B1 = 1.5, B2 = 1,
so E[D] = 0.25 and D is negative on a third of the trials. For U ~ Uniform(0, 1) and b > 0,

    h(c, b) = E[max(c + b U, 0)] = 0 if c <= -b;  (c + b)^2 / (2 b) if -b < c < 0;  c + b / 2 if c >= 0

(the middle case integrates c + b u over u in (-c / b, 1)).

EVPI. E[max(D, 0)] = E_U2[h(A + B2 U2, B1)] = (G(A + B2) - G(A)) / B2, where G is an antiderivative
of H(c) = h(c, B1):  G(c) = 0 for c <= -B1;  (c + B1)^3 / (6 B1) for -B1 < c < 0;  B1^2 / 6 + B1 c / 2 + c^2 / 2
for c >= 0 (continuous at both joins). So E[max(D, 0)] = G(0) - G(-1) = 3/8 - 1/72 and EVPI = that - 1/4 = 1/9.

EVPPI. E[D | U1] = A + B2 / 2 + B1 U1, so EVPPI(U1) = h(A + B2 / 2, B1) - 1/4 = 1/3 - 1/4 = 1/12;
likewise EVPPI(U2) = h(A + B1 / 2, B2) - 1/4 = 9/32 - 1/4 = 1/32. D is a function of (U1, U2), so the
EVPPI of the pair is the EVPI, 1/9; U3 does not enter D, so EVPPI(U3) = 0 and EVPPI(U1, U3) = 1/12.

Every comparison with a true value allows 4 reported standard errors plus the reported bias.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import rankdata

from simengine import voi

A, B1, B2 = -1.0, 1.5, 1.0
N = 200_000


def h(c: float, b: float) -> float:
    """E[max(c + b U, 0)] for U ~ Uniform(0, 1) and b > 0."""
    if c <= -b:
        return 0.0
    return (c + b) ** 2 / (2 * b) if c < 0 else c + b / 2


def big_g(c: float, b: float) -> float:
    """An antiderivative in c of h(c, b)."""
    if c <= -b:
        return 0.0
    return (c + b) ** 3 / (6 * b) if c < 0 else b ** 2 / 6 + b * c / 2 + c ** 2 / 2


MEAN = A + (B1 + B2) / 2
EVPI = (big_g(A + B2, B1) - big_g(A, B1)) / B2 - max(MEAN, 0.0)
EVPPI_U1 = h(A + B2 / 2, B1) - max(MEAN, 0.0)
EVPPI_U2 = h(A + B1 / 2, B2) - max(MEAN, 0.0)


def close(result: dict, truth: float) -> bool:
    """Whether an estimate is within 4 standard errors plus its reported bias of the true value."""
    return abs(result["value"] - truth) <= 4 * result["se"] + abs(result.get("bias", 0.0))


@pytest.fixture(scope="module")
def linear():
    """200,000 trials of (U1, U2, U3) and D; U3 is independent of D."""
    u = np.random.default_rng(20240611).random((N, 3))
    return u, A + B1 * u[:, 0] + B2 * u[:, 1]


@pytest.fixture(scope="module")
def estimates(linear):
    """EVPI, each single driver's EVPPI and two groups', computed once for the module."""
    u, d = linear
    singles = {f"U{j + 1}": voi.evppi(u[:, j], d, seed=1) for j in range(3)}
    groups = {"U1,U2": voi.evppi(u[:, :2], d, seed=1), "U1,U3": voi.evppi(u[:, [0, 2]], d, seed=1)}
    return {"evpi": voi.evpi(d), **singles, **groups}


def test_closed_forms_match_the_fractions_and_a_quadrature():
    """The derivation above: 1/9, 1/12, 1/32, and E[max(D, 0)] by a midpoint rule on a 2000 x 2000 grid."""
    assert (EVPI, EVPPI_U1, EVPPI_U2) == pytest.approx((1 / 9, 1 / 12, 1 / 32), abs=1e-15)
    grid = (np.arange(2000) + 0.5) / 2000
    d = A + B1 * grid[:, None] + B2 * grid[None, :]
    assert np.maximum(d, 0).mean() - MEAN == pytest.approx(EVPI, abs=1e-6)
    assert np.maximum(d.mean(axis=1), 0).mean() - MEAN == pytest.approx(EVPPI_U1, abs=1e-6)


def test_evpi_matches_its_closed_form(estimates, linear):
    """EVPI within 4 SE of 1/9, and its bookkeeping fields."""
    result = estimates["evpi"]
    assert close(result, EVPI)
    assert result["choose"] == 1 and result["trials"] == N
    assert abs(result["mean"] - MEAN) <= 4 * result["mean_se"]
    assert result["share_favouring_1"] == pytest.approx(np.mean(linear[1] > 0))


@pytest.mark.parametrize(("driver", "truth"), [("U1", EVPPI_U1), ("U2", EVPPI_U2)])
def test_single_driver_evppi_matches_its_closed_form(estimates, driver, truth):
    """The smoothing spline recovers E[max(E[D | Ui], 0)] - max(E[D], 0) of a continuous driver."""
    result = estimates[driver]
    assert result["method"] == "smoothing spline" and result["trials_fitted"] == N
    assert result["se"] > 0 and not result["capped"]
    assert close(result, truth)


def test_a_driver_outside_the_model_is_worth_nothing(estimates):
    """U3 does not enter D: its EVPPI is >= 0 and within 4 SE (plus bias) of 0."""
    result = estimates["U3"]
    assert 0.0 <= result["value"] <= 4 * result["se"] + abs(result["bias"])


def test_an_irrelevant_driver_on_a_knife_edge_decision():
    """E[D] near 0 and pure noise: the noise in the fit biases EVPPI up; it stays within 4 SE + bias of 0."""
    rng = np.random.default_rng(7)
    d = 0.01 + rng.standard_normal(20_000)
    result = voi.evppi(rng.random(20_000), d, seed=3)
    assert 0.0 <= result["value"] <= 4 * result["se"] + abs(result["bias"])


def test_evpi_bounds_every_evppi(estimates):
    """EVPI >= EVPPI >= 0 for every driver and group."""
    top = estimates["evpi"]["value"]
    for name in ("U1", "U2", "U3", "U1,U2", "U1,U3"):
        assert 0.0 <= estimates[name]["value"] <= top, name


def test_group_of_every_driver_recovers_the_evpi(estimates):
    """D is a function of (U1, U2): the group's EVPPI is within 4 SE of 1/9 and of the EVPI estimate.
    D is linear, so the regression spline predicts the held-out trials exactly and is chosen."""
    result, total = estimates["U1,U2"], estimates["evpi"]
    assert result["method"] == "regression spline" and result["detail"]["holdout_r2"]["regression spline"] > 0.999
    assert close(result, EVPI)
    assert abs(result["value"] - total["value"]) <= 4 * math.hypot(result["se"], total["se"]) + abs(result["bias"])


def test_group_with_an_irrelevant_member_matches_the_single_driver(estimates):
    """Adding U3 to U1 adds no information: the GP's EVPPI of (U1, U3) is within 4 SE of 1/12."""
    assert close(estimates["U1,U3"], EVPPI_U1)


def test_tied_driver_values_keep_the_spline_path_exact():
    """U1 rounded to 0.01 (101 values, ties): bins never split a tie, and EVPPI stays about 1/12.

    Rounding loses almost nothing here (E[D | rounded U1] is linear in it but for the two half-width ends).
    """
    rng = np.random.default_rng(11)
    u = rng.random((100_000, 2))
    d = A + B1 * u[:, 0] + B2 * u[:, 1]
    result = voi.evppi(np.round(u[:, 0], 2), d, seed=2)
    assert result["method"] == "smoothing spline"
    assert close(result, EVPPI_U1)


def test_event_driver_uses_exact_group_means():
    """D = c + e X + N(0, 1) with X ~ Bernoulli(p): EVPPI(X) = p max(c + e, 0) + (1 - p) max(c, 0) - max(c + p e, 0)."""
    c, e, p = 1.0, -3.0, 0.3
    truth = p * max(c + e, 0) + (1 - p) * max(c, 0) - max(c + p * e, 0)
    rng = np.random.default_rng(5)
    x = (rng.random(100_000) < p).astype(float)
    result = voi.evppi(x, c + e * x + rng.standard_normal(x.size), seed=4)
    assert result["method"] == "group means" and result["detail"]["groups"] == 2
    assert truth == pytest.approx(0.6)
    assert close(result, truth)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_no_information_has_value_when_every_trial_favours_one_option(sign):
    """All d > 0 (or all < 0): EVPI and every EVPPI are exactly 0.0, with 0.0 standard errors."""
    rng = np.random.default_rng(9)
    u = rng.random((5_000, 3))
    d = sign * (0.1 + u[:, 0] + rng.exponential(size=5_000))
    assert voi.evpi(d)["value"] == 0.0 and voi.evpi(d)["se"] == 0.0
    drivers = [u[:, 0], (u[:, 1] < 0.5).astype(float), u[:, :2], u]
    for x in drivers:
        result = voi.evppi(x, d)
        assert (result["value"], result["se"], result["bias"], result["capped"]) == (0.0, 0.0, 0.0, False)


def test_uniform_scores_are_average_ranks():
    """(average rank - 0.5) / n, ties averaged, in the input's order."""
    x = np.array([3.0, -1.0, 3.0, 7.0, 0.5, 3.0])
    assert voi.uniform_scores(x) == pytest.approx((rankdata(x) - 0.5) / x.size)
    y = np.random.default_rng(3).standard_t(2, 1_001)
    assert voi.uniform_scores(y) == pytest.approx((rankdata(y) - 0.5) / y.size)
    with pytest.raises(ValueError, match="NaN"):
        voi.uniform_scores(np.array([1.0, np.nan]))


def test_uniform_scores_of_tie_runs_equal_the_average_rank_formula_exactly():
    """The scores summed run by run in place equal (start + end) / 2n repeated over each run, bit for bit."""
    rng = np.random.default_rng(21)
    for x in (rng.random(5_000), rng.integers(0, 40, 5_000).astype(float), np.ones(9), np.array([2.0])):
        order, u, starts = voi._sorted_scores(x)
        ends = np.r_[starts[1:], x.size]
        assert np.array_equal(u, np.repeat((starts + ends) / (2.0 * x.size), ends - starts))
        assert np.array_equal(order, np.argsort(x, kind="stable"))


def test_the_spline_evaluated_in_blocks_equals_one_pass_bit_for_bit():
    """Blocks of SPLINE_BLOCK points give the values of the formula over every point at once,
    including points beyond both end knots (the linear tails) and a last, partial block."""
    rng = np.random.default_rng(4)
    knots = np.sort(rng.random(40))
    g, gamma = rng.standard_normal(40), rng.standard_normal(38)
    at = rng.uniform(-0.1, 1.1, 2 * voi.SPLINE_BLOCK + 123)
    second, h = np.r_[0.0, gamma, 0.0], np.diff(knots)
    whole = voi._natural_spline_block(knots, g, second, h, at)
    assert np.array_equal(voi._natural_spline(knots, g, gamma, at), whole)
    assert np.any(at < knots[0]) and np.any(at > knots[-1])


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=50))
def test_regret_of_one_column_is_the_loss_of_the_option_with_the_lower_mean(values):
    g = np.array(values)
    expected = np.where(g.mean() > 0, np.maximum(-g, 0.0), np.maximum(g, 0.0))
    assert np.array_equal(voi._regret(g), expected)


def test_results_are_deterministic_for_a_seed():
    """The same call twice gives identical dicts; another seed moves only the bootstrap's SE and bias."""
    rng = np.random.default_rng(13)
    u = rng.random((3_000, 2))
    d = A + B1 * u[:, 0] + B2 * u[:, 1] + rng.standard_normal(3_000)
    assert voi.evppi(u[:, 0], d, seed=8) == voi.evppi(u[:, 0], d, seed=8)
    assert voi.evppi(u, d, seed=8, gp_trials=300) == voi.evppi(u, d, seed=8, gp_trials=300)
    first, second = voi.evppi(u[:, 0], d, seed=8), voi.evppi(u[:, 0], d, seed=9)
    assert first["value"] == second["value"] and first["detail"]["lam"] == second["detail"]["lam"]
    assert first["se"] != second["se"] and second["se"] == pytest.approx(first["se"], rel=0.5)


def test_capping_at_the_evpi_is_flagged():
    """An EVPPI estimate above the EVPI estimate is cut to it and flagged, keeping the uncapped figure."""
    fit = {"value": 0.2, "se": 0.01, "bias": 0.0, "capped": False, "method": "smoothing spline",
           "trials_fitted": 100, "detail": {}}
    capped = voi._capped(fit, 0.15)
    assert capped["value"] == 0.15 and capped["capped"] and capped["detail"]["uncapped_value"] == 0.2
    assert voi._capped(fit, 0.25) is fit


GOOD = np.linspace(-1.0, 1.0, 100)


@pytest.mark.parametrize(("drivers", "incremental", "options", "message"), [
    (GOOD[:99], GOOD, {}, "lengths must match"),
    (GOOD[:40], GOOD[:40], {}, "at least 50 trials"),
    (GOOD, np.r_[GOOD[:-1], np.nan], {}, "incremental contains NaN"),
    (np.r_[GOOD[:-1], np.inf], GOOD, {}, "drivers contains NaN or infinite"),
    (np.tile(GOOD, (21, 1)).T, GOOD, {}, "1 to 20 drivers"),
    (np.empty((100, 0)), GOOD, {}, "1 to 20 drivers"),
    (np.zeros((100, 2, 2)), GOOD, {}, "1-D or 2-D"),
    (GOOD, np.tile(GOOD, (2, 1)), {}, "1-D array of per-trial"),
    (GOOD, GOOD, {"gp_trials": 10}, "gp_trials"),
    (GOOD, GOOD, {"replicates": 1}, "replicates"),
])
def test_bad_inputs_raise_value_errors_naming_the_problem(drivers, incremental, options, message):
    """Mismatched lengths, too few trials, NaN or inf, too many drivers, bad shapes and options."""
    with pytest.raises(ValueError, match=message):
        voi.evppi(drivers, incremental, **options)


def test_evpi_rejects_bad_inputs():
    """evpi validates like evppi."""
    with pytest.raises(ValueError, match="at least 50 trials"):
        voi.evpi(np.ones(10))
    with pytest.raises(ValueError, match="NaN"):
        voi.evpi(np.r_[np.ones(60), np.nan])


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(50, 400), distinct=st.sampled_from([2, 7, 64, 65, None]),
       shift=st.floats(-1.5, 1.5), slope=st.floats(-3.0, 3.0))
def test_evppi_is_between_zero_and_evpi_on_small_samples(seed, n, distinct, shift, slope):
    """0 <= EVPPI <= EVPI, finite non-negative SEs, for discrete and continuous drivers and few trials."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n) if distinct is None else rng.integers(0, distinct, n).astype(float)
    d = shift + slope * np.tanh(x) + rng.standard_normal(n)
    total = voi.evpi(d)
    result = voi.evppi(x, d, seed=seed % 1000, replicates=50)
    assert total["value"] >= 0.0 and total["se"] >= 0.0
    assert 0.0 <= result["value"] <= total["value"]
    assert math.isfinite(result["se"]) and result["se"] >= 0.0 and math.isfinite(result["bias"])


def test_an_interaction_the_spline_cannot_fit_goes_to_the_gaussian_process():
    """D = 0.1 + sin(2 pi U1) sin(2 pi U2) + N(0, 0.5^2): no sum of per-driver curves (nor u1 u2)
    fits the product; the GP does, and its EVPPI is within 4 SE + |bias| of E[max(0.1 + s1 s2, 0)] - 0.1
    (a midpoint rule on a 1000 x 1000 grid)."""
    rng = np.random.default_rng(11)
    u = rng.random((20_000, 2))
    d = 0.1 + np.sin(2 * np.pi * u[:, 0]) * np.sin(2 * np.pi * u[:, 1]) + 0.5 * rng.standard_normal(20_000)
    grid = np.sin(2 * np.pi * (np.arange(1000) + 0.5) / 1000)
    truth = np.maximum(0.1 + grid[:, None] * grid[None, :], 0.0).mean() - 0.1
    result = voi.evppi(u, d, seed=2)
    r2 = result["detail"]["holdout_r2"]
    assert result["method"] == "gaussian process" and r2["gaussian process"] > r2["regression spline"]
    assert abs(result["value"] - truth) <= 4 * result["se"] + abs(result["bias"])


def test_heavy_tailed_noise_does_not_make_a_large_group_valuable():
    """Ten drivers with small additive effects and Student-t(2) noise; E[D | U] >= 1 > 0 everywhere, so
    learning them cannot change the decision: the EVPPI is within 4 SE + |bias| of 0 (a GP fitted on a
    few hundred of such trials can interpolate the noise; the held-out trials reject it)."""
    rng = np.random.default_rng(12)
    u = rng.random((20_000, 10))
    d = 1.0 + 0.1 * u.sum(axis=1) + 2.0 * rng.standard_t(2, 20_000)
    result = voi.evppi(u, d, seed=4)
    assert result["method"] == "regression spline"
    assert 0.0 <= result["value"] <= 4 * result["se"] + abs(result["bias"])
