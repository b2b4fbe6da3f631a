"""Hypothesis properties of the model: monotonicity, scale invariance, schedule order, IRR root."""

from __future__ import annotations

import copy
import math

import numpy as np
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from reference_model import reference_trial
from simengine.scenario import parse_scenario
from strategies import NORMAL_FLOOR, scenario_dicts
from support import metrics_of, reference_specs

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TRIALS = 8


def run(data, seed):
    return metrics_of(parse_scenario(data), TRIALS, seed)


@SETTINGS
@given(data=scenario_dicts(), seed=st.integers(0, 2**32), bump=st.floats(1.0, 1e6), pick=st.integers(0, 100))
def test_npv_increases_with_every_benefit_amount(data, seed, bump, pick):
    names = list(data["benefits"]["streams"])
    assume(names)
    name = names[pick % len(names)]
    low = copy.deepcopy(data)
    low["benefits"]["streams"][name]["amount"] = 1000.0
    high = copy.deepcopy(low)
    high["benefits"]["streams"][name]["amount"] = 1000.0 + bump
    a, b = run(low, seed), run(high, seed)
    assert np.all(b["npv"] >= a["npv"] - 1e-9 * np.abs(a["npv"]))
    assert np.all(b["total_benefit"] >= a["total_benefit"])


@SETTINGS
@given(data=scenario_dicts(), seed=st.integers(0, 2**32), bump=st.floats(1.0, 1e6), pick=st.integers(0, 100))
def test_npv_decreases_with_every_cost_amount(data, seed, bump, pick):
    names = list(data["costs"])
    assume(names)
    name = names[pick % len(names)]
    low = copy.deepcopy(data)
    low["costs"][name]["amount"] = 1000.0
    high = copy.deepcopy(low)
    high["costs"][name]["amount"] = 1000.0 + bump
    a, b = run(low, seed), run(high, seed)
    assert np.all(b["npv"] <= a["npv"] + 1e-9 * np.abs(a["npv"]))
    assert np.all(b["cost_pv"] >= a["cost_pv"])


def doubled(data):
    """Every cash amount times two: cost items, benefit streams, delay cost, event costs."""
    out = copy.deepcopy(data)
    for item in out["costs"].values():
        item["amount"] *= 2
    for item in out["benefits"]["streams"].values():
        item["amount"] *= 2
    for event in out["events"].values():
        event["cost"] *= 2
    out["schedule"]["delay_cost_per_month"] *= 2
    return out


def delay_cost_only(delay_cost, delay_months=1.0):
    """The reported failure's shape: no cost item, no benefit, only a delay cost; go-live in month 2."""
    return {"name": "random", "horizon_months": 12, "discount_rate": 0.0,
            "schedule": {"planned_months": 1.0, "delay_months": delay_months, "delay_cost_per_month": delay_cost},
            "costs": {}, "risks": {}, "adoption": {"ramp_months": 1.0}, "benefits": {"streams": {}}, "events": {}}


# The property holds (bit for bit, in fact) only while no amount or product of amounts falls
# into the subnormal range; scenario_dicts(floor=NORMAL_FLOOR) keeps every drawn number 0 or
# >= 1e-6 in size (see tests/strategies.py). The subnormal case is test_doubling_a_subnormal_delay_cost.
@SETTINGS
@given(data=scenario_dicts(fixed_amounts=True, floor=NORMAL_FLOOR), seed=st.integers(0, 2**32))
@example(data=delay_cost_only(NORMAL_FLOOR), seed=0)  # the reported case (5e-324), at the range's floor
def test_doubling_every_cash_flow_leaves_roi_irr_payback_unchanged(data, seed):
    a, b = run(data, seed), run(doubled(data), seed)
    np.testing.assert_allclose(b["npv"], 2 * a["npv"], rtol=1e-12, atol=1e-6)
    for name in ("roi", "bcr", "irr"):
        np.testing.assert_allclose(b[name], a[name], rtol=1e-12, atol=1e-12, equal_nan=True)
    for name in ("payback_months", "discounted_payback_months", "go_live_month"):
        np.testing.assert_array_equal(b[name], a[name])


@settings(max_examples=30, deadline=None)
@given(delay_cost=st.floats(0, np.finfo(float).smallest_normal, exclude_max=True), delay=st.floats(0.01, 24))
@example(delay_cost=5e-324, delay=1.0)  # seen in `make test`: 5e-324 x 1 / 2 rounds to 0, 1e-323 x 1 / 2 does not
def test_doubling_a_subnormal_delay_cost(delay_cost, delay):
    """Below the normal range doubling is not exact (a fixed 5e-324 grid), so a cost can round
    to 0 in one run and not in the doubled one. What still holds: the doubled cost is never
    smaller, ROI is -1 (BCR 0) exactly when a cost survives and null when none does, and
    nothing but the costs changes."""
    data = delay_cost_only(delay_cost, delay)
    a, b = run(data, 0), run(doubled(data), 0)
    np.testing.assert_allclose(b["npv"], 2 * a["npv"], rtol=0, atol=1e-300)
    assert np.all(b["cost_pv"] >= a["cost_pv"]) and np.all(a["cost_pv"] >= 0.0)
    for m in (a, b):
        paid = m["cost_pv"] > 0.0
        np.testing.assert_array_equal(m["roi"], np.where(paid, -1.0, np.nan))
        np.testing.assert_array_equal(m["bcr"], np.where(paid, 0.0, np.nan))
        np.testing.assert_array_equal(m["payback_months"], np.where(paid, np.nan, 1.0))
        assert np.all(np.isnan(m["irr"]))
    np.testing.assert_array_equal(b["go_live_month"], a["go_live_month"])


@SETTINGS
@given(data=scenario_dicts(), seed=st.integers(0, 2**32), d1=st.floats(-5, 30), extra=st.floats(0, 30))
def test_more_delay_never_makes_go_live_earlier(data, seed, d1, extra):
    early = copy.deepcopy(data)
    early["schedule"]["delay_months"] = d1
    late = copy.deepcopy(data)
    late["schedule"]["delay_months"] = d1 + extra
    a, b = run(early, seed), run(late, seed)
    assert np.all(b["go_live_month"] >= a["go_live_month"])


@SETTINGS
@given(data=scenario_dicts(), seed=st.integers(0, 2**32))
def test_npv_at_the_irr_is_zero(data, seed):
    sc = parse_scenario(data)
    got = metrics_of(sc, TRIALS, seed)
    for j, spec in enumerate(reference_specs(sc, seed, 0, TRIALS)):
        irr = got["irr"][j]
        # An annual 1 + irr below ~1e-6 (monthly below about -68 %) keeps too few digits to
        # turn back into the monthly rate at 1e-8 precision (the kernel solves it monthly).
        if math.isnan(irr) or 1 + irr < 1e-6:
            continue
        ref = reference_trial(spec)
        cf = np.array(ref["benefits_by_month"]) - np.array(ref["costs_by_month"])
        monthly = (1 + irr) ** (1 / 12) - 1
        # Evaluate on the overflow-free side, as the kernel does (same sign and roots).
        t = np.arange(cf.size)
        w = (1 + monthly) ** (-t) if monthly >= 0 else (1 + monthly) ** (cf.size - 1 - t)
        assert abs(np.sum(cf * w)) <= 1e-8 * np.sum(np.abs(cf) * w)
