"""Distribution families: conformance with scipy, quantile parameterizations, validation messages."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from simengine.distributions import FAMILIES, parse_distribution
from simengine.errors import ScenarioError
from simengine.streams import uniforms

# Every registered family must have examples here: adding a family without tests fails.
EXAMPLES = {
    "fixed": [{"dist": "fixed", "value": 3.5}],
    "uniform": [{"dist": "uniform", "min": -2, "max": 5}],
    "triangular": [{"dist": "triangular", "min": 1, "mode": 2, "max": 6},
                   {"dist": "triangular", "min": 0, "mode": 0, "max": 1}],
    "pert": [{"dist": "pert", "min": 100, "mode": 150, "max": 300},
             {"dist": "pert", "min": 0, "mode": 9, "max": 10, "lambda": 2.5}],
    "normal": [{"dist": "normal", "mean": 10, "sd": 2},
               {"dist": "normal", "mean": 0.3, "sd": 0.2, "low": 0},
               {"dist": "normal", "mean": 0, "sd": 1, "low": 2.5, "high": 4},
               {"dist": "normal", "p5": 10, "p95": 30}],
    "lognormal": [{"dist": "lognormal", "mu": 0.1, "sigma": 0.4},
                  {"dist": "lognormal", "median": 1.0, "p90": 1.6},
                  {"dist": "lognormal", "low": 2, "high": 20},
                  {"dist": "lognormal", "median": 1.0, "p90": 2.0, "shift": -0.5},
                  {"dist": "lognormal", "p10": 50, "p90": 200}],
    "beta": [{"dist": "beta", "alpha": 2, "beta": 5}, {"dist": "beta", "alpha": 0.7, "beta": 0.9, "min": 3, "max": 8}],
    "bernoulli": [{"dist": "bernoulli", "p": 0.3}],
    "discrete": [{"dist": "discrete", "values": [3, 1, 2], "probabilities": [0.2, 0.5, 0.3]}],
    "empirical": [{"dist": "empirical", "values": [0.1, 0.4, 0.4, 0.9, 1.5]}],
    "pareto": [{"dist": "pareto", "scale": 1.5, "alpha": 2, "cap": 10},
               {"dist": "pareto", "scale": 1.0, "alpha": 0.8, "cap": 50}],
    "mixture": [{"dist": "mixture", "components": [{"weight": 0.7, "dist": "normal", "mean": 0, "sd": 1},
                                                   {"weight": 0.3, "dist": "lognormal", "mu": 1, "sigma": 0.5}]}],
    "metalog": [{"dist": "metalog", "p10": 50, "p50": 80, "p90": 150, "lower": 0},
                {"dist": "metalog", "p5": -1, "p25": 0.5, "p50": 1, "p75": 2, "p95": 6}],
}
CASES = [(family, raw) for family, raws in EXAMPLES.items() for raw in raws]
N = 20_000


def test_every_family_has_examples():
    assert set(EXAMPLES) == set(FAMILIES)


def draw(raw, n=N, seed=2024):
    return parse_distribution(raw, "x").ppf(uniforms(seed, "x", 0, n))


@pytest.mark.parametrize("family,raw", [c for c in CASES if not parse_distribution(c[1], "x").attains_bounds])
def test_continuous_families_pass_ks_against_scipy(family, raw):
    x = draw(raw)
    dist = parse_distribution(raw, "x").to_scipy()
    assert stats.kstest(x, dist.cdf).pvalue > 1e-3
    lo, hi = parse_distribution(raw, "x").support()
    assert x.min() >= lo and x.max() <= hi


#: A continuous body with an atom at an end: tested on its own below.
MIXED = {"pareto", "mixture"}


@pytest.mark.parametrize("family,raw", [c for c in CASES if parse_distribution(c[1], "x").attains_bounds
                                        and c[0] not in {"fixed", *MIXED}])
def test_discrete_families_pass_chi_square_against_scipy(family, raw):
    """KS is not valid for atoms; the chi-square test on the support points is."""
    x = draw(raw)
    dist = parse_distribution(raw, "x").to_scipy()
    support = np.unique(dist.xk) if hasattr(dist, "xk") else np.array([0.0, 1.0])
    observed = np.array([(x == v).sum() for v in support])
    assert observed.sum() == N
    expected = dist.pmf(support) * N
    assert stats.chisquare(observed, expected).pvalue > 1e-3


@pytest.mark.parametrize("raw", EXAMPLES["pareto"])
def test_capped_pareto_has_its_tail_atom_and_mean(raw):
    """Below the cap the draws follow the Pareto (KS on the conditional law); at the cap sits
    the mass (scale / cap)^alpha; the mean is the closed form E[min(X, cap)] (finite for alpha <= 1)."""
    dist = parse_distribution(raw, "x")
    ref = dist.to_scipy()
    x = draw(raw, n=200_000)
    atom = np.mean(x == raw["cap"])
    assert abs(atom - ref.atom) < 4 * np.sqrt(ref.atom * (1 - ref.atom) / x.size)
    body = x[x < raw["cap"]]
    conditional = stats.pareto(raw["alpha"], scale=raw["scale"])
    assert stats.kstest(body, lambda v: conditional.cdf(v) / conditional.cdf(raw["cap"])).pvalue > 1e-3
    assert x.mean() == pytest.approx(ref.mean(), abs=4 * x.std() / np.sqrt(x.size))
    assert x.min() >= raw["scale"] and x.max() == raw["cap"]


def test_fixed_is_constant():
    assert np.all(draw(EXAMPLES["fixed"][0], 100) == 3.5)


@pytest.mark.parametrize("family,raw", CASES)
def test_ppf_matches_scipy_ppf(family, raw):
    u = np.linspace(0.001, 0.999, 199)
    dist = parse_distribution(raw, "x")
    np.testing.assert_allclose(dist.ppf(u), dist.to_scipy().ppf(u), rtol=1e-8, atol=1e-10)


@settings(max_examples=60, deadline=None)
@given(u=st.lists(st.floats(1e-12, 1 - 1e-12), min_size=2, max_size=50))
def test_ppf_is_monotone_for_every_example(u):
    """The copula relies on monotone inverse CDFs."""
    u = np.sort(np.array(u))
    for _, raw in CASES:
        assert np.all(np.diff(parse_distribution(raw, "x").ppf(u)) >= 0)


@pytest.mark.parametrize("raw,quantiles", [
    ({"dist": "lognormal", "median": 120_000, "p90": 200_000}, {0.5: 120_000, 0.9: 200_000}),
    ({"dist": "lognormal", "low": 0.05, "high": 0.8}, {0.05: 0.05, 0.95: 0.8}),
    ({"dist": "lognormal", "median": 1.0, "p90": 3.0, "shift": -0.9}, {0.5: 1.0, 0.9: 3.0}),
])
def test_quantile_parameterizations_hit_their_quantiles(raw, quantiles):
    dist = parse_distribution(raw, "x")
    for p, q in quantiles.items():
        assert dist.ppf(np.array([p]))[0] == pytest.approx(q, rel=1e-12)
        # and the sample hits them within sampling error (order-statistic bound, 4 se)
        x = draw(raw, 50_000)
        se = np.sqrt(p * (1 - p) / x.size)
        assert p - 4 * se <= np.mean(x <= q) <= p + 4 * se


def test_pert_mean_and_lambda():
    dist = parse_distribution({"dist": "pert", "min": 100, "mode": 150, "max": 300, "lambda": 4}, "x")
    assert dist.to_scipy().mean() == pytest.approx((100 + 4 * 150 + 300) / 6, rel=1e-12)


@pytest.mark.parametrize("raw,message", [
    ({"dist": "uniform", "min": 200, "max": 100}, "x: max 100 is below min 200"),
    ({"dist": "pert", "min": 1, "mode": 5, "max": 3}, "x: mode 5 is outside [min 1, max 3]"),
    ({"dist": "normal", "mean": 1, "sd": 0}, "x.sd: must be > 0, got 0"),
    ({"dist": "lognormal", "mu": 0, "sigma": -1}, "x.sigma: must be > 0, got -1"),
    ({"dist": "lognormal", "median": 2, "p90": 1}, "x: p90 1 is not above median 2"),
    ({"dist": "lognormal", "median": 2, "sigma": 1}, "x: lognormal mixes parameterizations"),
    ({"dist": "bernoulli", "p": 1.5}, "x.p: probability must be in [0, 1], got 1.5"),
    ({"dist": "discrete", "values": [1, 2], "probabilities": [0.5, 0.6]}, "x.probabilities: must sum to 1"),
    ({"dist": "discrete", "values": [1, 2], "probabilities": [1]}, "x: 2 values but 1 probabilities"),
    ({"dist": "beta", "alpha": 2, "beta": 3, "min": 1}, "x: beta needs both min and max"),
    ({"dist": "pret", "min": 1, "mode": 2, "max": 3}, 'x.dist: unknown distribution \'pret\' (did you mean "pert"?)'),
    ({"dist": "uniform", "min": 1, "maxx": 3}, 'x.maxx: unknown parameter for uniform (did you mean "max"?)'),
    ({"dist": "uniform", "min": 1}, "x: uniform distribution needs max"),
    ({"dist": "uniform", "min": "1", "max": 2}, "x.min: expected a number, got str '1'"),
    ({"dist": "empirical", "values": [1]}, "x.values: needs at least 2 value(s), got 1"),
    ({"min": 1, "max": 2}, "x: a distribution table needs dist"),
    (True, "x: expected a number, got bool True"),
])
def test_invalid_parameters_name_the_field(raw, message):
    with pytest.raises(ScenarioError) as exc:
        parse_distribution(raw, "x")
    assert str(exc.value).startswith(message)
    assert "\n" not in str(exc.value)


def test_the_beta_density_of_the_quantile_tables_is_scipys_bit_for_bit():
    """The PERT and beta tables take their density from scipy.special (beta_logpdf), so that a
    run need not import scipy.stats; it must be scipy.stats.beta.logpdf exactly, endpoints too."""
    from scipy import stats

    from simengine.distributions import beta_logpdf

    rng = np.random.default_rng(7)
    for a, b in rng.uniform(0.5, 60.0, (200, 2)):
        x = np.concatenate([rng.uniform(0.0, 1.0, 200), rng.uniform(0.0, 1e-9, 20), 1.0 - rng.uniform(0.0, 1e-9, 20),
                            [0.0, 0.5, 1.0]])
        np.testing.assert_array_equal(beta_logpdf(x, a, b), stats.beta.logpdf(x, a, b))


def test_the_written_out_normal_scores_are_scipys():
    """distributions.py spells these out so that importing it needs no scipy."""
    from scipy import special

    from simengine import distributions
    from simengine.designs import U_MAX

    assert distributions.Z90 == float(special.ndtri(0.90))
    assert distributions.Z95 == float(special.ndtri(0.95))
    assert distributions.Z_MAX == float(special.ndtri(U_MAX))
