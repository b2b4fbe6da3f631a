"""Parity: the numba kernel against the independent reference model, trial by trial."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reference_model import reference_trial
from simengine import metrics as registry
from simengine.kernels import cashflows as k
from simengine.model import ModelStructure
from simengine.engine import Simulation
from simengine.scenario import parse_scenario
from strategies import scenario_dicts
from support import metrics_of, reference_specs

TRIALS = 12


#: Metrics with their own tolerance below; every other registry metric is compared by its type.
SPECIFIC = {"npv", "cost_pv", "benefit_pv", "total_cost", "total_benefit", "roi", "bcr", "payback_months",
            "discounted_payback_months", "go_live_month", "irr"}


def assert_trial_matches(kernel: dict, ref: dict, j: int) -> None:
    """Every metric of the registry agrees between the kernel and the reference (nulls: NaN / None)."""
    assert set(kernel) == set(registry.names())
    for name in registry.names():
        if name in SPECIFIC:
            continue
        got, want = kernel[name][j], ref[name]
        if want is None:
            assert math.isnan(got), (name, got)
        elif registry.metric(name).integer:
            assert got == float(want), (name, got, want)
        else:
            assert got == pytest.approx(want, rel=1e-9, abs=1e-9), (name, got, want)
    scale = max(1.0, abs(ref["cost_pv"]) + abs(ref["benefit_pv"]))
    for name in ("npv", "cost_pv", "benefit_pv"):
        assert abs(kernel[name][j] - ref[name]) <= 1e-9 * scale, (name, kernel[name][j], ref[name])
    for name in ("total_cost", "total_benefit"):
        tot = max(1.0, abs(ref["total_cost"]) + abs(ref["total_benefit"]))
        assert abs(kernel[name][j] - ref[name]) <= 1e-9 * tot, (name, kernel[name][j], ref[name])
    for name in ("roi", "bcr"):
        if ref[name] is None:
            assert math.isnan(kernel[name][j]), name
        else:
            assert kernel[name][j] == pytest.approx(ref[name], rel=1e-8, abs=1e-8), name
    for name in ("payback_months", "discounted_payback_months", "go_live_month"):
        expected = math.nan if ref[name] is None else float(ref[name])
        got = kernel[name][j]
        assert (math.isnan(got) and math.isnan(expected)) or got == expected, (name, got, expected)
    if ref["irr"] is None:
        assert math.isnan(kernel["irr"][j]), ("irr", kernel["irr"][j])
    else:
        # Compare the monthly rates: the root finders agree to ~1e-13 on the monthly scale. An
        # annual 1 + irr below 1e-6 keeps too few digits to be turned back into a monthly rate,
        # so there the annual values are compared.
        if 1.0 + ref["irr"] < 1e-6:
            assert abs(kernel["irr"][j] - ref["irr"]) <= 1e-13, ("irr", kernel["irr"][j], ref["irr"])
        else:
            got = (1.0 + kernel["irr"][j]) ** (1 / 12) - 1
            want = (1.0 + ref["irr"]) ** (1 / 12) - 1
            assert abs(got - want) <= 1e-9, ("irr", kernel["irr"][j], ref["irr"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=scenario_dicts(), seed=st.integers(0, 2**32))
def test_kernel_matches_reference_on_random_scenarios(data, seed):
    sc = parse_scenario(data)
    got = metrics_of(sc, TRIALS, seed)
    for j, spec in enumerate(reference_specs(sc, seed, 0, TRIALS)):
        assert_trial_matches(got, reference_trial(spec), j)


def test_kernel_matches_reference_on_bundled_scenarios(bundled):
    for sc in bundled.values():
        got = metrics_of(sc, 200, seed=3, start=1000)
        for j, spec in enumerate(reference_specs(sc, 3, 1000, 1200)):
            assert_trial_matches(got, reference_trial(spec), j)


def test_cash_flows_match_reference_month_by_month(bundled):
    """The kernel's per-trial cash-flow buffer equals the reference's B_t - C_t."""
    for sc in bundled.values():
        structure = ModelStructure.of(sc)
        inputs = Simulation(sc).inputs(5, 0, 20)
        cf = np.empty(sc.horizon_months)
        adopt = np.empty(sc.horizon_months)
        out = np.empty((len(k.METRICS), 20))
        for j, spec in enumerate(reference_specs(sc, 5, 0, 20)):
            k.trial(np.ascontiguousarray(inputs[:, j]), j, structure.cost_timing, structure.cost_from_start, structure.cost_overrun,
                    structure.cost_labor, structure.benefit_scales, structure.phase_share, structure.phase_offset,
                    structure.n_events, structure.curve, structure.n_months, cf, adopt, np.full(2, np.nan), out)
            ref = reference_trial(spec)
            want = np.array(ref["benefits_by_month"]) - np.array(ref["costs_by_month"])
            np.testing.assert_allclose(cf, want, rtol=1e-12, atol=1e-6)


def test_python_twin_equals_compiled_kernel(bundled):
    """The plain-Python twin and the jitted kernel give bit-identical results."""
    sc = bundled["crm_upgrade_big_bang"] if "crm_upgrade_big_bang" in bundled else next(iter(bundled.values()))
    structure = ModelStructure.of(sc)
    inputs = Simulation(sc).inputs(9, 0, 300)
    args = (structure.cost_timing, structure.cost_from_start, structure.cost_overrun, structure.cost_labor,
            structure.benefit_scales, structure.phase_share, structure.phase_offset, structure.n_events,
            structure.curve, structure.n_months)
    compiled = np.empty((len(k.METRICS), 300))
    twin = np.empty((len(k.METRICS), 300))
    cash_compiled = np.empty((200, structure.n_months))
    cash_twin = np.empty((200, structure.n_months))
    k.simulate(inputs, *args, compiled, cash_compiled)
    k.simulate_python(inputs, *args, twin, cash_twin)
    np.testing.assert_array_equal(compiled, twin)
    np.testing.assert_array_equal(cash_compiled, cash_twin)


@pytest.mark.parametrize("go_live", [1, 3, 12])
@pytest.mark.parametrize("inflow", [3.387888649449005e-139, 1e-150, 1e-200])
def test_brent_survives_interpolation_denominators_that_underflow(go_live, inflow):
    """An outlay of 1 and monthly inflows near 1e-150 (a benefit with a tiny realization, found
    by hypothesis) drive Brent's interpolation to a zero denominator; the compiled kernel
    used to raise ZeroDivisionError there. Like scipy's C brentq it must bisect instead, and
    find the same root as the reference model."""
    from reference_model import _irr

    months = 120
    cf = np.zeros(months)
    cf[0] = -1.0
    cf[go_live:] = inflow
    monthly = k.irr_monthly(cf, months)
    want = _irr(list(cf))
    if want is None:
        assert math.isnan(monthly)
    elif 1.0 + want < 1e-6:  # too few digits left in the annual rate to invert it: compare annual
        assert abs((1.0 + monthly) ** 12 - 1.0 - want) <= 1e-13, (monthly, want)
    else:
        assert abs(monthly - ((1.0 + want) ** (1 / 12) - 1)) <= 1e-9, (monthly, want)
    assert monthly == k.irr_monthly_python(cf, months) or (math.isnan(monthly) and
                                                          math.isnan(k.irr_monthly_python(cf, months)))


def _wave_scenario(build, wave_cost, last_wave_offset):
    """Build for 6 months, EUR 20,000 a month of benefit from go-live, and a rollout item of
    which 1 % falls at go-live and 99 % `last_wave_offset` months later (horizon 48)."""
    return parse_scenario({
        "name": "waves", "discount_rate": 0.05, "horizon_months": 48,
        "schedule": {"planned_months": 6},
        "costs": {"build": {"timing": "implementation", "amount": build, "overrun": False},
                  "wave": {"timing": "rollout", "amount": wave_cost, "overrun": False}},
        "adoption": {"ramp_months": 1, "phases": [{"share": 0.01, "offset_months": 0},
                                                  {"share": 0.99, "offset_months": last_wave_offset}]},
        "benefits": {"streams": {"b": {"amount": 240_000, "scales_with_adoption": False}}}})


@pytest.mark.parametrize("build,wave_cost,offset,sign", [
    # Never pays back: the running total from the start never changes sign (no rate above 0
    # solves the equation) and the one from the end changes once: a unique rate below 0.
    (1_000_000, 100_000, 30, -1),
    # Pays back, and a last wave in the final month is big enough to make the last flow
    # negative but not to undo payback: one root above 0 and one below: no unique IRR.
    (300_000, 500_000, 41, 0),
])
def test_an_irr_below_zero_is_unique_when_only_the_tail_totals_change_sign(build, wave_cost, offset, sign):
    """The uniqueness rule counts the roots on both sides of i = 0 (docs/model.md, the IRR
    method): the running totals from the start bound the rates above 0, those from the end
    the rates below it. Kernel and reference agree on the root, or on its absence."""
    from reference_model import reference_trial

    sc = _wave_scenario(build, wave_cost, offset)
    got = metrics_of(sc, 1, 1)
    (spec,) = reference_specs(sc, 1, 0, 1)
    ref = reference_trial(spec)
    if sign == 0:
        assert ref["irr"] is None and math.isnan(got["irr"][0])
        return
    assert ref["irr"] is not None and ref["irr"] < 0 and got["irr"][0] < 0
    got_monthly = (1.0 + got["irr"][0]) ** (1 / 12) - 1
    assert abs(got_monthly - ((1.0 + ref["irr"]) ** (1 / 12) - 1)) <= 1e-9


@pytest.mark.parametrize("wave_cost,unique", [(30_000, True), (3_000_000, False)])
def test_an_irr_with_several_sign_changes_is_given_only_when_unique(wave_cost, unique):
    """A rollout wave after go-live makes the flows change sign three times. With a small wave
    the running total still changes sign once (Norstrom's criterion): one root, found by
    both implementations. A wave big enough to turn the running total negative again after
    payback leaves no unique root: the IRR is null in both."""
    from reference_model import reference_trial

    sc = parse_scenario({
        "name": "waves", "discount_rate": 0.05, "horizon_months": 48,
        "schedule": {"planned_months": 6},
        "costs": {"build": {"timing": "implementation", "amount": 300_000, "overrun": False},
                  "wave": {"timing": "rollout", "amount": wave_cost, "overrun": False}},
        "adoption": {"ramp_months": 1, "phases": [{"share": 0.01, "offset_months": 0},
                                                  {"share": 0.99, "offset_months": 30}]},
        "benefits": {"streams": {"b": {"amount": 240_000, "scales_with_adoption": False}}}})
    got = metrics_of(sc, 1, 1)
    (spec,) = reference_specs(sc, 1, 0, 1)
    ref = reference_trial(spec)
    if unique:
        assert ref["irr"] is not None and math.isfinite(got["irr"][0])
        got_monthly = (1.0 + got["irr"][0]) ** (1 / 12) - 1
        assert abs(got_monthly - ((1.0 + ref["irr"]) ** (1 / 12) - 1)) <= 1e-9
    else:
        assert ref["irr"] is None and math.isnan(got["irr"][0])
