"""Hypothesis strategies: random valid scenarios (as TOML-like dicts) and distributions.

Every float field is drawn by `real(lo, hi, floor)`. With `floor = 0` (the default) that is
plain `st.floats(lo, hi)`, subnormals and all. A positive `floor` keeps every drawn number
either exactly 0 or at least `floor` in magnitude (subnormals excluded): see
`NORMAL_FLOOR` for why the scale-invariance property needs it.
"""

from __future__ import annotations

from hypothesis import strategies as st

#: Smallest nonzero magnitude for properties that are exact only away from underflow.
#: Doubling a double is exact, and IEEE rounding commutes with it (round(2x) = 2 round(x))
#: only while results stay normal (|x| >= 2.2e-308). Below that, doubles are a fixed grid
#: of 5e-324 steps, so e.g. 5e-324 x 1 month / 2 months rounds to 0 (a tie, to even) while
#: the doubled 1e-323 x 1 / 2 is exactly 5e-324: the original run has no cost at all (ROI
#: null, payback in month 1), the doubled one does (ROI -1, no payback). The engine is right
#: (that is correctly rounded arithmetic); "doubling every amount changes no ratio" is only
#: true in that range. With every drawn number 0 or >= 1e-6, the longest product in the
#: model (amount x realization x ceiling x event losses x adoption x 1/12 x discount factor,
#: or a delay cost x delay / go-live month) stays above 1e-200, far from underflow, and the
#: doubled run's cash flows are then exactly twice the original's, bit for bit.
NORMAL_FLOOR = 1e-6


def real(lo, hi, floor=0.0):
    """A float in [lo, hi]; with floor > 0, 0.0 or one of magnitude >= floor (never subnormal)."""
    if floor <= 0.0:
        return st.floats(lo, hi)
    return st.floats(lo, hi, allow_subnormal=False).map(lambda x: 0.0 if abs(x) < floor else x)


money = st.floats(0, 2e6, allow_nan=False)
small = st.floats(0.05, 1.0)


@st.composite
def amount(draw, hi=2e6, fixed=False, floor=0.0):
    kind = "fixed" if fixed else draw(st.sampled_from(["fixed", "uniform", "pert", "lognormal", "triangular"]))
    lo = draw(real(0, hi / 2, floor))
    width = draw(real(1.0, hi / 2, floor))
    if kind == "fixed":
        return lo
    if kind == "uniform":
        return {"dist": "uniform", "min": lo, "max": lo + width}
    if kind == "lognormal":  # p90 at most 11 x the median: its most extreme draw stays below 1e15
        return {"dist": "lognormal", "median": lo + 1.0, "p90": lo + 1.0 + min(width, 10.0 * (lo + 1.0))}
    mode = lo + draw(real(0, 1, floor)) * width
    return {"dist": kind, "min": lo, "mode": mode, "max": lo + width}


@st.composite
def unit(draw, floor=0.0):
    kind = draw(st.sampled_from(["fixed", "beta", "uniform"]))
    if kind == "fixed":
        return draw(real(0, 1, floor))
    if kind == "beta":
        return {"dist": "beta", "alpha": draw(real(0.5, 10, floor)), "beta": draw(real(0.5, 10, floor))}
    lo = draw(real(0, 0.9, floor))
    return {"dist": "uniform", "min": lo, "max": draw(real(lo + 0.01, 1.0, floor))}


@st.composite
def scenario_dicts(draw, max_items=4, fixed_amounts=False, floor=0.0):
    """A random valid scenario covering every MODEL.md feature (every float 0 or >= `floor` in size)."""
    horizon = draw(st.integers(1, 96))
    n_costs = draw(st.integers(0, max_items))
    costs = {}
    for i in range(n_costs):
        timing = draw(st.sampled_from(["upfront", "implementation", "recurring", "rollout"]))
        item = {"timing": timing, "amount": draw(amount(fixed=fixed_amounts, floor=floor))}
        if timing == "recurring":
            item["start"] = draw(st.sampled_from(["go_live", "start"]))
        else:
            item["labor"] = draw(st.booleans())
        item["overrun"] = draw(st.booleans())
        costs[f"c{i}"] = item
    streams = {f"b{i}": {"amount": draw(amount(hi=4e6, fixed=fixed_amounts, floor=floor)),
                         "scales_with_adoption": draw(st.booleans())}
               for i in range(draw(st.integers(0, max_items)))}
    n_phases = draw(st.integers(1, 3))
    raw_shares = [draw(st.integers(1, 5)) for _ in range(n_phases)]
    shares = [s / sum(raw_shares) for s in raw_shares]
    shares[-1] = 1.0 - sum(shares[:-1])
    phases = [{"share": s, "offset_months": draw(st.integers(0, 12))} for s in shares]
    events = {}
    for i in range(draw(st.integers(0, 3))):
        events[f"e{i}"] = {"probability": draw(real(0, 1, floor)),
                           "cost": draw(amount(hi=5e5, fixed=fixed_amounts, floor=floor)),
                           "delay_months": draw(real(0, 12, floor)), "benefit_loss": draw(unit(floor))}
    adoption = {"ceiling": draw(unit(floor)), "ramp_months": draw(real(0.5, 36, floor)),
                "curve": draw(st.sampled_from(["linear", "logistic", "bass"])), "phases": phases}
    if adoption["curve"] == "bass":  # bass takes p and q instead of a ramp
        del adoption["ramp_months"]
        adoption["bass_p"] = draw(st.one_of(real(0.005, 0.5, floor), st.just({"dist": "uniform", "min": 0.01, "max": 0.1})))
        adoption["bass_q"] = draw(real(0.0, 2.0, floor))
    return {
        "name": "random", "horizon_months": horizon,
        "discount_rate": draw(st.one_of(real(-0.5, 0.5, floor), st.just({"dist": "uniform", "min": 0.0, "max": 0.2}))),
        "schedule": {"planned_months": draw(st.one_of(real(0.1, 48, floor),
                                                      st.just({"dist": "triangular", "min": 3, "mode": 6, "max": 20}))),
                     "delay_months": draw(st.one_of(real(-5, 24, floor),
                                                    st.just({"dist": "normal", "mean": 1, "sd": 3}))),
                     "delay_cost_per_month": draw(real(0, 5e4, floor))},
        "costs": costs,
        "risks": {"cost_overrun": draw(st.one_of(real(-1.5, 3, floor), st.just({"dist": "normal", "mean": 0.3, "sd": 0.5}))),
                  "maintenance_load": draw(st.one_of(real(-0.2, 0.8, floor), st.just({"dist": "uniform", "min": 0, "max": 0.7}))),
                  "maintenance_cap": draw(real(0, 0.6, floor)),
                  "schedule_overrun": draw(st.one_of(real(-0.5, 1.5, floor), st.just({"dist": "lognormal", "median": 0.2,
                                                                                    "p90": 0.7, "shift": -1.0})))},
        "adoption": adoption,
        "benefits": {"realization": draw(unit(floor)), "streams": streams},
        "events": events,
    }
