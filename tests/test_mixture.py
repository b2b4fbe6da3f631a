"""Mixtures: a lognormal body with a capped Pareto tail reproduces the CRM prior of docs/reference-classes.md."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from simengine.distributions import parse_distribution
from simengine.errors import ScenarioError
from simengine.streams import uniforms

# "with probability 5/6 a lognormal body (median ratio 1.0, sigma 0.25), with probability 1/6
# a Pareto tail from ratio 1.5 with exponent 2, capped at ratio 10. It gives mean overrun
# about 32 %, P(overrun > 0) about 58 %, P(overrun >= 10 %) about 46 %."
CRM_PRIOR = {"dist": "mixture", "components": [
    {"weight": 5 / 6, "dist": "lognormal", "median": 1.0, "p90": float(np.exp(0.25 * 1.2815515655446004))},
    {"weight": 1 / 6, "dist": "pareto", "scale": 1.5, "alpha": 2, "cap": 10}]}
N = 200_000


def test_crm_cost_ratio_prior_reproduces_its_published_figures():
    d = parse_distribution(CRM_PRIOR, "x")
    overrun = d.ppf(uniforms(7, "x", 0, N)) - 1.0
    se = lambda p: 4 * np.sqrt(p * (1 - p) / N)  # noqa: E731
    assert overrun.mean() == pytest.approx(d.to_scipy().mean() - 1.0, abs=4 * overrun.std() / np.sqrt(N))
    assert abs(overrun.mean() - 0.32) < 0.01
    assert abs(np.mean(overrun > 0) - 0.58) < 0.01 + se(0.58)
    assert abs(np.mean(overrun >= 0.1) - 0.46) < 0.01 + se(0.46)
    assert np.mean(overrun + 1.0 == 10.0) == pytest.approx(d.to_scipy().cdf(10.0) - d.to_scipy().cdf(10.0 - 1e-9),
                                                            abs=se(0.004))


def test_mixture_quantile_is_exact_and_monotone():
    d = parse_distribution({"dist": "mixture", "components": [
        {"weight": 0.7, "dist": "normal", "mean": 0, "sd": 1},
        {"weight": 0.3, "dist": "triangular", "min": 1, "mode": 2, "max": 6}]}, "x")
    u = np.sort(uniforms(3, "x", 0, 50_000))
    x = d.ppf(u)
    assert np.all(np.diff(x) >= 0)
    cdf = d.to_scipy().cdf(x)
    np.testing.assert_allclose(cdf, u, atol=1e-12)  # F(F^-1(u)) = u for a continuous mixture
    assert stats.kstest(x, d.to_scipy().cdf).pvalue > 1e-3


@pytest.mark.parametrize("components,message", [
    ([{"weight": 0.5, "dist": "normal", "mean": 0, "sd": 1}, {"weight": 0.6, "dist": "normal", "mean": 1, "sd": 1}],
     "weights must sum to 1"),
    ([{"weight": 0.5, "dist": "pert", "min": 0, "mode": 1, "max": 2}, {"weight": 0.5, "dist": "normal", "mean": 1, "sd": 1}],
     "must be one of"),
    ([{"weight": 1.0, "dist": "normal", "mean": 0, "sd": 1}], "at least two"),
    ([{"weight": 0.5, "dist": "normal", "mean": 0, "sd": 1, "low": 0}, {"weight": 0.5, "dist": "normal", "mean": 1, "sd": 1}],
     "truncated normal"),
    ([{"dist": "normal", "mean": 0, "sd": 1}, {"weight": 0.5, "dist": "normal", "mean": 1, "sd": 1}], "needs a weight"),
])
def test_invalid_mixtures_are_one_line_errors(components, message):
    with pytest.raises(ScenarioError, match=message):
        parse_distribution({"dist": "mixture", "components": components}, "x")


def test_the_prior_as_an_overrun_is_the_ratio_minus_one():
    """Shifted by -1 (lognormal shift and Pareto shift), the mixture is the overrun itself."""
    overrun_prior = {"dist": "mixture", "components": [
        {**CRM_PRIOR["components"][0], "median": 0.0, "p90": CRM_PRIOR["components"][0]["p90"] - 1.0, "shift": -1.0},
        {**CRM_PRIOR["components"][1], "shift": -1.0}]}
    u = uniforms(9, "x", 0, 20_000)
    ratio = parse_distribution(CRM_PRIOR, "x").ppf(u)
    overrun = parse_distribution(overrun_prior, "x").ppf(u)
    np.testing.assert_allclose(overrun, ratio - 1.0, atol=1e-12)
    assert parse_distribution(overrun_prior, "x").support() == (-1.0, float("inf"))
