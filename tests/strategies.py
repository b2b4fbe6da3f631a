"""Hypothesis strategies: random valid scenarios (as TOML-like dicts) and distributions."""

from __future__ import annotations

from hypothesis import strategies as st

money = st.floats(0, 2e6, allow_nan=False)
small = st.floats(0.05, 1.0)


@st.composite
def amount(draw, hi=2e6, fixed=False):
    kind = "fixed" if fixed else draw(st.sampled_from(["fixed", "uniform", "pert", "lognormal", "triangular"]))
    lo = draw(st.floats(0, hi / 2))
    width = draw(st.floats(1.0, hi / 2))
    if kind == "fixed":
        return lo
    if kind == "uniform":
        return {"dist": "uniform", "min": lo, "max": lo + width}
    if kind == "lognormal":
        return {"dist": "lognormal", "median": lo + 1.0, "p90": lo + 1.0 + width}
    mode = lo + draw(st.floats(0, 1)) * width
    return {"dist": kind, "min": lo, "mode": mode, "max": lo + width}


@st.composite
def unit(draw):
    kind = draw(st.sampled_from(["fixed", "beta", "uniform"]))
    if kind == "fixed":
        return draw(st.floats(0, 1))
    if kind == "beta":
        return {"dist": "beta", "alpha": draw(st.floats(0.5, 10)), "beta": draw(st.floats(0.5, 10))}
    lo = draw(st.floats(0, 0.9))
    return {"dist": "uniform", "min": lo, "max": draw(st.floats(lo + 0.01, 1.0))}


@st.composite
def scenario_dicts(draw, max_items=4, fixed_amounts=False):
    """A random valid scenario covering every MODEL.md feature."""
    horizon = draw(st.integers(1, 96))
    n_costs = draw(st.integers(0, max_items))
    costs = {}
    for i in range(n_costs):
        timing = draw(st.sampled_from(["upfront", "implementation", "recurring"]))
        item = {"timing": timing, "amount": draw(amount(fixed=fixed_amounts))}
        if timing == "recurring":
            item["start"] = draw(st.sampled_from(["go_live", "start"]))
        else:
            item["labor"] = draw(st.booleans())
        item["overrun"] = draw(st.booleans())
        costs[f"c{i}"] = item
    streams = {f"b{i}": {"amount": draw(amount(hi=4e6, fixed=fixed_amounts)), "scales_with_adoption": draw(st.booleans())}
               for i in range(draw(st.integers(0, max_items)))}
    n_phases = draw(st.integers(1, 3))
    raw_shares = [draw(st.integers(1, 5)) for _ in range(n_phases)]
    shares = [s / sum(raw_shares) for s in raw_shares]
    shares[-1] = 1.0 - sum(shares[:-1])
    phases = [{"share": s, "offset_months": draw(st.integers(0, 12))} for s in shares]
    events = {}
    for i in range(draw(st.integers(0, 3))):
        events[f"e{i}"] = {"probability": draw(st.floats(0, 1)), "cost": draw(amount(hi=5e5, fixed=fixed_amounts)),
                           "delay_months": draw(st.floats(0, 12)), "benefit_loss": draw(unit())}
    adoption = {"ceiling": draw(unit()), "ramp_months": draw(st.floats(0.5, 36)),
                "curve": draw(st.sampled_from(["linear", "logistic", "bass"])), "phases": phases}
    if adoption["curve"] == "bass":
        adoption["bass_p"] = draw(st.one_of(st.floats(0.005, 0.5), st.just({"dist": "uniform", "min": 0.01, "max": 0.1})))
        adoption["bass_q"] = draw(st.floats(0.0, 2.0))
    return {
        "name": "random", "horizon_months": horizon,
        "discount_rate": draw(st.one_of(st.floats(-0.5, 0.5), st.just({"dist": "uniform", "min": 0.0, "max": 0.2}))),
        "schedule": {"planned_months": draw(st.one_of(st.floats(0.1, 48),
                                                      st.just({"dist": "triangular", "min": 3, "mode": 6, "max": 20}))),
                     "delay_months": draw(st.one_of(st.floats(-5, 24),
                                                    st.just({"dist": "normal", "mean": 1, "sd": 3}))),
                     "delay_cost_per_month": draw(st.floats(0, 5e4))},
        "costs": costs,
        "risks": {"cost_overrun": draw(st.one_of(st.floats(-1.5, 3), st.just({"dist": "normal", "mean": 0.3, "sd": 0.5}))),
                  "maintenance_load": draw(st.one_of(st.floats(-0.2, 0.8), st.just({"dist": "uniform", "min": 0, "max": 0.7}))),
                  "maintenance_cap": draw(st.floats(0, 0.6)),
                  "schedule_overrun": draw(st.one_of(st.floats(-0.5, 1.5), st.just({"dist": "lognormal", "median": 0.2,
                                                                                  "p90": 0.7, "shift": -1.0})))},
        "adoption": adoption,
        "benefits": {"realization": draw(unit()), "streams": streams},
        "events": events,
    }
