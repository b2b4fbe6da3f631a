"""Statistical checks of the summary: known answers within k standard errors (k stated), and
standard errors that match the real spread of estimates across independent seeds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from simengine.runner import run
from simengine.scenario import parse_scenario
from simengine.summary import describe_metric, percentile_with_se

# npv = 200 - cost with cost ~ U(100, 300): npv ~ U(-100, 100) exactly (r = 0, g = 1, H = 2).
KNOWN = {
    "name": "known answer", "discount_rate": 0.0, "horizon_months": 2,
    "schedule": {"planned_months": 1},
    "costs": {"c": {"timing": "upfront", "amount": {"dist": "uniform", "min": 100, "max": 300}}},
    "benefits": {"streams": {"b": {"amount": 2400, "scales_with_adoption": False}}},
    "decision": {"roi_min": 0.0},
}
TRUTH = {"mean": 0.0, "sd": 200 / math.sqrt(12), "p5": -90.0, "p10": -80.0, "p50": 0.0, "p90": 80.0, "p95": 90.0}
K = 4  # tolerance in standard errors for single known-answer checks


@pytest.fixture(scope="module")
def known():
    return parse_scenario(KNOWN)


def test_known_answers_within_k_standard_errors(known):
    s = run(known, trials=20_000, seed=8, out=None).summary
    npv = s["metrics"]["npv"]
    for key, truth in TRUTH.items():
        est = npv[key]
        assert abs(est["value"] - truth) <= K * est["se"], (key, est, truth)
    p = s["p_npv_negative"]
    assert abs(p["value"] - 0.5) <= K * p["se"]
    cv = s["cvar5_npv"]
    assert abs(cv["value"] - (-95.0)) <= K * cv["se"]
    # roi >= 0 exactly when npv >= 0
    assert abs(s["targets"]["roi_min"]["probability"]["value"] - 0.5) <= K * p["se"]


def test_standard_errors_match_the_spread_across_seeds(known):
    """z = (estimate - truth) / se over 60 seeds: sum z^2 must look chi-square(60)."""
    n_seeds = 60
    z = {key: [] for key in ("mean", "sd", "p10", "p90", "p_neg", "cvar")}
    for seed in range(n_seeds):
        s = run(known, trials=2000, seed=1000 + seed, out=None).summary
        npv = s["metrics"]["npv"]
        for key in ("mean", "sd", "p10", "p90"):
            z[key].append((npv[key]["value"] - TRUTH[key]) / npv[key]["se"])
        z["p_neg"].append((s["p_npv_negative"]["value"] - 0.5) / s["p_npv_negative"]["se"])
        z["cvar"].append((s["cvar5_npv"]["value"] + 95.0) / s["cvar5_npv"]["se"])
    lo, hi = stats.chi2.ppf([0.0005, 0.9995], n_seeds)
    for key, values in z.items():
        total = float(np.sum(np.square(values)))
        assert lo <= total <= hi, (key, total, (lo, hi))


def test_nulls_are_counted_and_payback_never_ranks_last():
    values = np.array([3.0, 5.0, np.nan, 7.0, np.nan] * 200)
    d = describe_metric(values, null_is_late=True)
    assert d["n"] == 600 and d["n_null"] == 400
    assert d["mean"]["value"] == pytest.approx(5.0)
    assert d["p90"]["value"] is None and d["p90"]["se"] is None     # 40 % never pay back
    assert d["p50"]["value"] == 7.0 and d["p10"]["value"] == 3.0
    d2 = describe_metric(values)
    assert d2["p50"]["value"] == 5.0 and d2["n_null"] == 400


def test_percentile_definition_and_se():
    x = np.arange(1.0, 101.0)
    value, se = percentile_with_se(x, 0.10)
    assert value == 10.0                                    # inverted CDF: x[ceil(n p) - 1]
    half = 1.959963984540054 * math.sqrt(100 * 0.1 * 0.9)
    lo, hi = math.floor(10 - half), math.ceil(10 + half)
    assert se == pytest.approx((hi - lo) / (2 * 1.959963984540054))
