"""The deterministic scenario against figures derived by hand from docs/model.md.

Hand derivation (H = 24, g = 6, r = 10 %, v = 1.1^(-1/12)):
  costs:    C_0 = 60,000 + 20,000;  C_1..5 = 20,000;  C_6..23 = 2,000 support + 1,000 maintenance
  benefits: B_6, B_7, B_8 = 5,000, 10,000, 15,000 (linear ramp 1/4, 2/4, 3/4);  B_9..23 = 20,000
  net:      -80,000; -20,000 x 5; 2,000; 7,000; 12,000; 17,000 x 15
Present values use the geometric sum  S(a, b) = sum_{t=a}^{b} v^t = (v^a - v^(b+1)) / (1 - v).
"""

from __future__ import annotations

import math

import pytest
from scipy.optimize import brentq

from simengine.bundled import bundled_scenarios
from simengine.runner import run
from simengine.scenario import load_scenario
from simengine.summary import SUMMARY_METRICS

V = 1.1 ** (-1 / 12)


def S(a: int, b: int, v: float = V) -> float:
    return (v ** a - v ** (b + 1)) / (1 - v)


COST_PV = 60_000 + 20_000 * S(0, 5) + 3_000 * S(6, 23)
BENEFIT_PV = 5_000 * V ** 6 + 10_000 * V ** 7 + 15_000 * V ** 8 + 20_000 * S(9, 23)
NPV = BENEFIT_PV - COST_PV


def npv_at(i: float) -> float:
    w = 1 / (1 + i)
    return -80_000 - 20_000 * S(1, 5, w) + 2_000 * w ** 6 + 7_000 * w ** 7 + 12_000 * w ** 8 + 17_000 * S(9, 23, w)


def discounted_payback() -> int:
    """First k with sum_{t<k} CF_t v^t >= 0, from the closed-form partial sums."""
    for k in range(1, 25):
        t = k - 1
        partial = -80_000 - 20_000 * S(1, min(t, 5)) if t >= 1 else -80_000
        if t >= 6:
            partial += 2_000 * V ** 6
        if t >= 7:
            partial += 7_000 * V ** 7
        if t >= 8:
            partial += 12_000 * V ** 8
        if t >= 9:
            partial += 17_000 * S(9, t)
        if partial >= 0:
            return k
    return -1


@pytest.fixture(scope="module")
def summary(tmp_path_factory):
    sc = load_scenario(bundled_scenarios()["deterministic_example"])
    return run(sc, trials=50, seed=1, out=None).summary, sc


def test_hand_derived_figures(summary):
    s, _ = summary
    m = s["metrics"]
    assert m["npv"]["mean"]["value"] == pytest.approx(NPV, rel=1e-9)
    assert m["roi"]["mean"]["value"] == pytest.approx(NPV / COST_PV, rel=1e-9)
    assert m["bcr"]["mean"]["value"] == pytest.approx(BENEFIT_PV / COST_PV, rel=1e-9)
    monthly = brentq(npv_at, -0.99, 1.0, xtol=1e-15, rtol=1e-15)
    assert m["irr"]["mean"]["value"] == pytest.approx((1 + monthly) ** 12 - 1, rel=1e-9)
    assert m["payback_months"]["mean"]["value"] == 19
    for key in SUMMARY_METRICS:
        assert m[key]["sd"]["value"] == 0 and m[key]["n_null"] == 0


def test_totals_and_discounted_payback():
    from support import metrics_of
    sc = load_scenario(bundled_scenarios()["deterministic_example"])
    got = metrics_of(sc, 3)
    assert got["total_cost"][0] == pytest.approx(80_000 + 5 * 20_000 + 18 * 3_000, rel=1e-12)
    assert got["total_benefit"][0] == pytest.approx(5_000 + 10_000 + 15_000 + 15 * 20_000, rel=1e-12)
    assert got["go_live_month"][0] == 6
    assert got["discounted_payback_months"][0] == discounted_payback() == 20
    assert got["cost_pv"][0] == pytest.approx(COST_PV, rel=1e-12)
    assert got["benefit_pv"][0] == pytest.approx(BENEFIT_PV, rel=1e-12)


def test_targets_as_derived(summary):
    s, _ = summary
    t = s["targets"]
    assert t["payback_months_max"]["probability"]["value"] == 0.0   # 19 > 18
    assert t["bcr_min"]["probability"]["value"] == 1.0              # BCR 1.30 >= 1.2
    assert t["roi_min"]["probability"]["value"] == 1.0              # ROI 29.6 % >= 20 %
    assert t["all"]["probability"]["value"] == 0.0
    assert s["p_npv_negative"]["value"] == 0.0
    assert math.isclose(s["cvar5_npv"]["value"], NPV, rel_tol=1e-9)


def test_bass_adoption_follows_its_closed_form():
    """curve = "bass": benefits grow as F(x/12) = (1 - e^{-(p+q)x/12}) / (1 + (q/p) e^{-(p+q)x/12})."""
    import copy

    from support import BASE, metrics_of
    from simengine.scenario import parse_scenario

    data = copy.deepcopy(BASE)
    data["adoption"] = {"curve": "bass", "bass_p": 0.03, "bass_q": 0.38, "ceiling": 0.8}
    sc = parse_scenario(data)
    got = metrics_of(sc, 1)
    g, H, amount = 6, 36, 200000 / 12  # BASE: planned 6 months, horizon 36, one stream of 200,000 a year
    want = sum(amount * 0.8 * (1 - math.exp(-(0.41) * x / 12)) / (1 + (0.38 / 0.03) * math.exp(-(0.41) * x / 12))
               for x in range(1, H - g + 1))
    assert got["total_benefit"][0] == pytest.approx(want, rel=1e-12)
    assert parse_scenario(sc.canonical).canonical == sc.canonical


@pytest.mark.parametrize("delay,overrun,go_live", [
    (0.0, 0.5, 9),     # 6 planned months, 50 % late: g = ceil(6 + 3)
    (1.0, 0.25, 9),    # delay and overrun add: ceil(6 + 1 + 1.5)
    (2.0, -0.5, 6),    # an early-finish overrun offsets the delay, and delta is clipped at 0
    (0.0, 1 / 3, 8),   # ceil(6 + 2)
])
def test_schedule_overrun_is_a_fraction_of_planned_months(delay, overrun, go_live):
    """Delta = max(delay_months + schedule_overrun * planned_months, 0) (docs/model.md)."""
    import copy

    from support import BASE, metrics_of
    from simengine.scenario import parse_scenario

    data = copy.deepcopy(BASE)
    data["schedule"] = {"planned_months": 6, "delay_months": delay}
    data.setdefault("risks", {})["schedule_overrun"] = overrun
    got = metrics_of(parse_scenario(data), 1)
    assert got["go_live_month"][0] == go_live
    g, H, amount = go_live, 36, 200000 / 12
    # BASE's one stream on a linear 6-month ramp from go-live
    assert got["total_benefit"][0] == pytest.approx(sum(amount * min(1, x / 6) for x in range(1, H - g + 1)),
                                                    rel=1e-12)


@pytest.mark.parametrize("horizon", [24, 10])
def test_rollout_costs_fall_in_each_wave_month(horizon):
    """A rollout item of 100,000 over waves of 50 / 30 / 20 % starting 0, 2 and 5 months after
    go-live (month 6): -50,000 in month 6, -30,000 in month 8, -20,000 in month 11 (outside a
    10-month horizon, so not in total_cost, but in the one-time cost, which is not cut)."""
    import numpy as np

    from simengine.engine import Simulation
    from simengine.scenario import parse_scenario

    sc = parse_scenario({
        "name": "waves", "discount_rate": 0.0, "horizon_months": horizon,
        "schedule": {"planned_months": 6},
        "costs": {"training": {"timing": "rollout", "amount": 100_000, "overrun": False, "labor": True}},
        "adoption": {"ramp_months": 1, "phases": [{"share": 0.5, "offset_months": 0},
                                                  {"share": 0.3, "offset_months": 2},
                                                  {"share": 0.2, "offset_months": 5}]},
        "benefits": {"streams": {"b": {"amount": 0}}}})
    sim = Simulation(sc)
    cash = np.empty((1, horizon))
    metrics = sim.structure.run_kernel(sim.inputs(1, 0, 1), cash=cash)
    flows = np.diff(np.concatenate([[0.0], cash[0]]))
    want = np.zeros(horizon)
    for month, amount in ((6, 50_000), (8, 30_000), (11, 20_000)):
        if month < horizon:
            want[month] = -amount
    np.testing.assert_allclose(flows, want, atol=1e-9)
    from simengine.metrics import names

    got = dict(zip(names(), metrics[:, 0]))
    assert got["one_time_cost"] == pytest.approx(100_000, rel=1e-12)
    assert got["total_cost"] == pytest.approx(-want.sum(), rel=1e-12)
