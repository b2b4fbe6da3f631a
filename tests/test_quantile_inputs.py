"""Distributions given by experts' quantiles: lognormal and normal through two, metalog through 3 to 9."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from simengine import metalog
from simengine.distributions import parse_distribution
from simengine.errors import ScenarioError
from simengine.scenario import parse_scenario, scenario_from_json
from simengine.streams import uniforms
from support import BASE


def quantiles_of(raw) -> tuple[np.ndarray, np.ndarray]:
    levels = sorted(int(k[1:]) / 100 for k in raw if k.startswith("p") and k[1:].isdigit())
    values = [raw[f"p{round(p * 100)}"] for p in levels]
    return np.array(levels), np.array(values, dtype=float)


@pytest.mark.parametrize("raw", [
    {"dist": "lognormal", "p10": 50, "p90": 200},
    {"dist": "lognormal", "p5": 1.2, "p50": 3.0},
    {"dist": "lognormal", "p25": 110, "p75": 160, "shift": 100},
    {"dist": "normal", "p5": 10, "p95": 30},
    {"dist": "normal", "p20": -3, "p60": 4, "low": -10},
])
def test_two_quantile_families_reproduce_their_quantiles(raw):
    d = parse_distribution(raw, "x")
    p, x = quantiles_of(raw)
    if "low" in raw:  # quantiles describe the normal before truncation
        np.testing.assert_allclose(stats.norm(*d.mean_sd).ppf(p), x, rtol=1e-12)
        return
    np.testing.assert_allclose(d.ppf(p), x, rtol=1e-12)
    np.testing.assert_allclose(d.to_scipy().ppf(p), x, rtol=1e-12)
    assert parse_distribution(d.canonical(), "x") == d  # the stored form round-trips


METALOGS = [
    {"dist": "metalog", "p10": 50, "p50": 80, "p90": 150},
    {"dist": "metalog", "p10": 50, "p50": 80, "p90": 150, "lower": 0},
    {"dist": "metalog", "p10": 50, "p50": 80, "p90": 150, "upper": 300},
    {"dist": "metalog", "p10": 50, "p25": 60, "p50": 80, "p75": 110, "p90": 150, "lower": 0, "upper": 400},
    {"dist": "metalog", **{f"p{p}": v for p, v in zip((1, 5, 10, 25, 50, 75, 90, 95, 99),
                                                        (-40, -20, -10, 0, 8, 15, 30, 45, 90))}},
]


@pytest.mark.parametrize("raw", METALOGS)
def test_metalog_passes_through_every_given_quantile(raw):
    d = parse_distribution(raw, "x")
    p, x = quantiles_of(raw)
    np.testing.assert_allclose(d.ppf(p), x, rtol=1e-9, atol=1e-9)
    # the compiled quantile equals the plain-numpy twin in simengine/metalog.py
    u = uniforms(1, "metalog", 0, 20_000)
    lower, upper = raw.get("lower", 0.0), raw.get("upper", 0.0)
    np.testing.assert_allclose(d.ppf(u), metalog.quantile(u, d.coefficients, d.kind, lower, upper),
                               rtol=1e-12, atol=1e-9)
    ordered = np.sort(u)
    assert np.all(np.diff(d.ppf(ordered)) >= 0)
    lo, hi = d.support()
    assert np.all((d.ppf(u) > lo) & (d.ppf(u) < hi))
    # a large sample's empirical quantiles sit at the given ones
    sample = d.ppf(uniforms(2, "metalog", 0, 200_000))
    for level, value in zip(p, x):
        assert np.mean(sample <= value) == pytest.approx(level, abs=4 * np.sqrt(level * (1 - level) / sample.size))
    assert stats.kstest(sample[:20_000], d.to_scipy().cdf).pvalue > 1e-3


@pytest.mark.parametrize("raw,message", [
    ({"dist": "metalog", "p10": 50, "p50": 51, "p60": 150, "p90": 151}, "not increasing"),
    ({"dist": "metalog", "p10": 50, "p90": 150}, "needs 3 to 9 quantiles"),
    ({"dist": "metalog", "p10": 50, "p50": 40, "p90": 150}, "must increase with the percent"),
    ({"dist": "metalog", "p10": 50, "p50": 80, "p90": 150, "lower": 60}, "inside the bounds"),
    ({"dist": "lognormal", "p10": 50, "p50": 80, "p90": 150}, "exactly two"),
    ({"dist": "lognormal", "p10": -5, "p90": 150}, "must be above shift 0"),
    ({"dist": "normal", "p10": 1, "p90": 2, "sd": 1}, "mean and sd, or exactly two quantiles"),
    ({"dist": "metalog", "p10": 50, "p50": 80, "p100": 150}, "unknown parameter"),
])
def test_invalid_quantile_inputs_are_one_line_errors(raw, message):
    with pytest.raises(ScenarioError, match=message):
        parse_distribution(raw, "x")


def test_a_scenario_with_expert_quantiles_runs_and_round_trips():
    data = dict(BASE)
    data["costs"] = {"impl": {"timing": "implementation", "labor": True,
                              "amount": {"dist": "metalog", "p10": 90000, "p50": 120000, "p90": 200000, "lower": 0}}}
    data["benefits"] = {"streams": {"prod": {"amount": {"dist": "lognormal", "p10": 120000, "p90": 320000}}}}
    sc = parse_scenario(data)
    again = scenario_from_json(sc.canonical_json)
    assert again.sha256 == sc.sha256
    from support import simulate_chunk
    chunk = simulate_chunk(sc, 1, 0, 5000)
    amounts = chunk.drivers["costs.impl.amount"]
    assert np.quantile(amounts, 0.5) == pytest.approx(120000, rel=0.02)
