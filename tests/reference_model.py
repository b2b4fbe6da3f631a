"""Independent reference implementation ("witness") of ONE simulation trial.

This module recomputes, slowly and month by month, what the fast simulation kernel
(simengine) is supposed to compute for a single Monte Carlo trial whose drivers have
already been sampled.  It was written from the model contract, now ``docs/model.md``
(sections *Time*, *Schedule*, *Costs*, *Adoption and benefits*, *Risk events*,
*Metrics, per trial*) plus the team's written semantics decisions, WITHOUT looking
at the kernel's source.  Its only purpose is to be an independent witness in tests:
when the kernel and this file agree on many random trials, both are likely right.

Sampling, correlation and run summaries are deliberately out of scope: the caller
passes a fully sampled trial.

Clarity over speed: every quantity is built per month in plain Python loops.

Input ``spec`` (one trial, all values already sampled)::

    {
      "horizon_months": int H,
      "discount_rate": float r (annual),
      "planned_months": float P (> 0),
      "delay_months": float,                 # schedule's own delay draw
      "schedule_overrun": float S,           # optional (default 0): delay as a fraction of P
      "delay_cost_per_month": float,
      "cost_overrun": float O,               # clipped at -0.9
      "maintenance_load": float M,           # clipped to [0, cap]
      "maintenance_cap": float cap,
      "costs": [{"amount", "timing": "upfront"|"implementation"|"recurring",
                 "start": "go_live"|"start", "overrun": bool, "labor": bool}, ...],
      "adoption": {"ceiling": U, "ramp_months": R, "curve": "linear"|"logistic",
                   "phases": [{"share", "offset_months"}, ...]},
      "realization": float Q,
      "benefits": [{"amount" (annual), "scales_with_adoption": bool}, ...],
      "events": [{"occurred": bool, "cost", "delay_months", "benefit_loss"}, ...],
    }

Output: dict with the per-trial metrics of docs/model.md, keyed and ordered as the metrics
registry lists them (``simengine.metrics.names()``: "npv", "roi", "bcr", "irr",
"payback_months", ...; ``None`` for nulls), plus the monthly streams "costs_by_month"
(C_t) and "benefits_by_month" (B_t), t = 0..H-1.  Only the names and their order come
from the registry; every value is computed here, independently of the kernel.  A metric
the registry lists but this witness does not compute is an error, so a new metric cannot
slip past the parity tests.

Numerical notes (choices of this witness, not of the contract):
  * PVs and totals are summed with ``math.fsum`` (correctly rounded sums).
  * Payback cumulative sums are done exactly (``fractions.Fraction`` of the float
    terms), so a tie "cumulative == 0" is decided exactly.  A kernel that sums
    left-to-right in floats can differ from this only on knife-edge ties.
  * IRR: the bracket-end signs are decided exactly with rational arithmetic (the
    lower end uses i = -99/100 exactly; at that end (1+i)^-t = 100^t would overflow a
    float for t > ~154).  The root itself is found by ``scipy.optimize.brentq`` on the
    float NPV-in-i function with xtol = rtol = 1e-14.
"""

import math
from fractions import Fraction
from itertools import accumulate

from scipy.optimize import brentq

from simengine.metrics import names as metric_names

# Bracket of the monthly IRR, docs/model.md "Metrics, per trial": i in [-0.99, 1.0].
IRR_LO = -0.99
IRR_HI = 1.0
IRR_LO_EXACT = Fraction(-99, 100)
IRR_HI_EXACT = Fraction(1)


# --------------------------------------------------------------------------------
# Schedule (docs/model.md "Schedule" + "Risk events")
# --------------------------------------------------------------------------------
def _schedule(spec):
    """Return (delta, g): total delay Δ and go-live month g = ceil(P + Δ)."""
    P = float(spec["planned_months"])
    # Δ = schedule.delay_months + S * P (S = risks.schedule_overrun), clipped at 0 ...
    delta = max(float(spec["delay_months"]) + float(spec.get("schedule_overrun", 0.0)) * P, 0.0)
    # ... plus the delay_months of every risk event that occurs.
    for ev in spec.get("events", []):
        if ev["occurred"]:
            delta += float(ev["delay_months"])
    g = math.ceil(P + delta)
    return delta, int(g)


# --------------------------------------------------------------------------------
# Costs (docs/model.md "Costs" + "Risk events")
# --------------------------------------------------------------------------------
def _costs_by_month(spec, H, g, delta):
    """Monthly cost stream C_t, t = 0..H-1, and the one-time cost: everything that is not a
    run cost (upfront items and the whole implementation spread, even past the horizon)."""
    # O = risks.cost_overrun, clipped at -0.9.
    O = max(float(spec["cost_overrun"]), -0.9)
    # M = risks.maintenance_load clipped to [0, cap].
    cap = float(spec["maintenance_cap"])
    M = min(max(float(spec["maintenance_load"]), 0.0), cap)

    C = [0.0] * H

    upfront_total = 0.0          # goes to month 0
    implementation_total = 0.0   # spread evenly over months 0..g-1
    rollout_total = 0.0          # share_k of it in month g + offset_k of each adoption phase
    L = 0.0                      # initial labor base
    recurring = []               # (monthly amount, first month)

    for item in spec.get("costs", []):
        amount = float(item["amount"])
        timing = item["timing"]
        # `overrun` flag: amount multiplied by (1 + O).
        if item.get("overrun", False):
            amount = amount * (1.0 + O)
        if timing == "upfront":
            upfront_total += amount
        elif timing == "implementation":
            implementation_total += amount
        elif timing == "rollout":
            rollout_total += amount
        elif timing == "recurring":
            if item.get("labor", False):
                # docs/model.md: `labor` on a recurring item is an error.
                raise ValueError("labor flag is not allowed on a recurring cost item")
            # amount is per year: amount/12 each month from `start` to H-1.
            start = item.get("start", "go_live")
            if start == "go_live":
                first = g
            elif start == "start":
                first = 0
            else:
                raise ValueError("unknown recurring start %r" % (start,))
            recurring.append((amount / 12.0, first))
            continue
        else:
            raise ValueError("unknown cost timing %r" % (timing,))
        # `labor` (upfront / implementation only): amount after overrun counts toward L.
        if item.get("labor", False):
            L += amount

    # Delay cost: delay_cost_per_month * Δ is added to the implementation spread
    # (not multiplied by overrun -- team decision).
    spread_total = implementation_total + float(spec.get("delay_cost_per_month", 0.0)) * delta
    # Risk events: one-time cost of each occurring event added to the spread
    # (not multiplied by overrun -- team decision).
    for ev in spec.get("events", []):
        if ev["occurred"]:
            spread_total += float(ev["cost"])

    for t in range(H):
        c = 0.0
        # upfront: whole amount in month 0
        if t == 0:
            c += upfront_total
        # implementation spread: (spread total) / g in each month 0..g-1
        # (months at or after H are outside the horizon and dropped).
        if t < g:
            c += spread_total / g
        # recurring: amount/12 each month from its start to H-1
        for monthly, first in recurring:
            if t >= first:
                c += monthly
        # maintenance: M * L / 12 each month from g to H-1
        if t >= g:
            c += M * L / 12.0
        # rollout: each adoption phase's share of the rollout items when that wave starts
        for phase in spec["adoption"].get("phases") or [{"share": 1.0, "offset_months": 0}]:
            if t == g + int(phase["offset_months"]):
                c += rollout_total * float(phase["share"])
        C[t] = c
    return C, math.fsum([upfront_total, spread_total, rollout_total])


# --------------------------------------------------------------------------------
# Adoption and benefits (docs/model.md "Adoption and benefits" + "Risk events")
# --------------------------------------------------------------------------------
def _phase_adoption(t, g_k, R, curve, bass_p=0.0, bass_q=0.0):
    """Adoption a_k(t) of one phase starting at month g_k (0 before it starts)."""
    if t < g_k:
        return 0.0  # team decision: a = 0 before the phase starts (see report)
    x = t - g_k + 1
    if curve == "linear":
        return min(1.0, x / R)
    if curve == "logistic":
        # R is the 10 % -> 90 % rise time.
        return 1.0 / (1.0 + math.exp(-(x - R / 2.0) * 2.0 * math.log(9.0) / R))
    if curve == "bass":
        # Bass diffusion F(tau) = (1 - e^{-(p+q) tau}) / (1 + (q/p) e^{-(p+q) tau}), tau = x / 12 years.
        # The numerator is -expm1(-(p+q) tau), evaluated directly every month: 1 - e would cancel
        # when (p+q) tau is small (5e-8 relative error at p = 1e-8, q = 0).
        arg = (bass_p + bass_q) * x / 12.0
        return -math.expm1(-arg) / (1.0 + (bass_q / bass_p) * math.exp(-arg))
    raise ValueError("unknown adoption curve %r" % (curve,))


def _adoption(t, g, adoption):
    """A(t) = U * sum_k share_k * a_k(t)."""
    U = float(adoption["ceiling"])
    R = float(adoption["ramp_months"])
    curve = adoption["curve"]
    phases = adoption.get("phases") or [{"share": 1.0, "offset_months": 0}]
    s = 0.0
    for ph in phases:
        g_k = g + int(ph["offset_months"])
        s += float(ph["share"]) * _phase_adoption(t, g_k, R, curve, float(adoption.get("bass_p", 0.0)),
                                                  float(adoption.get("bass_q", 0.0)))
    return U * s


def _benefits_by_month(spec, H, g):
    """Monthly benefit stream B_t, t = 0..H-1."""
    Q = float(spec["realization"])
    # Benefit-loss factor: product over occurring events of (1 - benefit_loss).
    F = 1.0
    for ev in spec.get("events", []):
        if ev["occurred"]:
            F *= (1.0 - float(ev["benefit_loss"]))

    B = [0.0] * H
    for t in range(H):
        A = _adoption(t, g, spec["adoption"])
        b = 0.0
        for stream in spec.get("benefits", []):
            base = float(stream["amount"]) / 12.0 * Q * F
            if stream.get("scales_with_adoption", True):
                b += base * A
            else:
                b += base * (1.0 if t >= g else 0.0)
        B[t] = b
    return B


# --------------------------------------------------------------------------------
# IRR (docs/model.md "Metrics, per trial")
# --------------------------------------------------------------------------------
def _npv_exact(cf, i):
    """Exact sum_t CF_t (1+i)^-t for rational i > -1 (Horner in w = 1/(1+i))."""
    w = 1 / (1 + Fraction(i))
    acc = Fraction(0)
    for c in reversed(cf):
        acc = acc * w + Fraction(c)
    return acc


def _sign(x):
    return (x > 0) - (x < 0)


def _exact_to_float(x):
    """Float of a Fraction, clamped so that the sign survives over/underflow."""
    try:
        f = float(x)
    except OverflowError:
        return math.copysign(1e308, _sign(x))
    if f == 0.0 and x != 0:
        return math.copysign(5e-324, _sign(x))
    return f


def _npv_float(cf, i):
    """Float sum_t CF_t (1+i)^-t; falls back to exact evaluation on overflow."""
    v = 1.0 + i
    try:
        terms = [c * v ** (-t) for t, c in enumerate(cf)]
        s = math.fsum(terms)
        if math.isfinite(s):
            return s
    except (OverflowError, ValueError):
        pass
    return _exact_to_float(_npv_exact(cf, Fraction(i)))


def _irr(cf):
    """Annual IRR (1+i)^12 - 1, i the monthly root on [-0.99, 1.0]; or None (also when it is
    not unique: the flows change sign more than once and their running totals from the start
    and from the end do not together change sign exactly once)."""
    if all(c == 0 for c in cf):
        return None
    def sign_changes(values):
        signs = [v > 0 for v in values if v != 0]
        return sum(a != b for a, b in zip(signs, signs[1:]))

    if sign_changes(cf) > 1:
        # Several sign changes: the root is unique only when the running totals from the start
        # (roots above i = 0) and from the end (roots below it) together change sign exactly
        # once and the total is not zero (Norstrom's criterion on both sides); otherwise there
        # is no single IRR.
        exact = [Fraction(c) for c in cf]
        heads = list(accumulate(exact))
        tails = list(accumulate(reversed(exact)))
        if heads[-1] == 0 or sign_changes(heads) + sign_changes(tails) != 1:
            return None
    f_lo_exact = _npv_exact(cf, IRR_LO_EXACT)
    f_hi_exact = _npv_exact(cf, IRR_HI_EXACT)
    # Exactly zero at an end: that end is the root (lower end checked first,
    # as scipy's brentq does).
    if f_lo_exact == 0:
        return (1.0 + IRR_LO) ** 12 - 1.0
    if f_hi_exact == 0:
        return (1.0 + IRR_HI) ** 12 - 1.0
    # Same sign at both ends: null.
    if _sign(f_lo_exact) == _sign(f_hi_exact):
        return None

    f_lo = _exact_to_float(f_lo_exact)
    f_hi = _exact_to_float(f_hi_exact)

    def f(i):
        # At the bracket ends use the exactly evaluated values (so brentq sees
        # the same signs as the decision above); inside, the plain float NPV.
        if i == IRR_LO:
            return f_lo
        if i == IRR_HI:
            return f_hi
        return _npv_float(cf, i)

    i_root = brentq(f, IRR_LO, IRR_HI, xtol=1e-14, rtol=1e-14, maxiter=1000)
    return (1.0 + i_root) ** 12 - 1.0


# --------------------------------------------------------------------------------
# Payback (docs/model.md "Metrics, per trial")
# --------------------------------------------------------------------------------
def _payback(flows):
    """Smallest k in 1..H with sum_{t<k} flows_t >= 0 (exact cumulative); else None."""
    cum = Fraction(0)
    for k in range(1, len(flows) + 1):
        cum += Fraction(flows[k - 1])
        if cum >= 0:
            return k
    return None


# --------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------
def reference_trial(spec: dict) -> dict:
    """Compute every per-trial metric of docs/model.md for one fully sampled trial."""
    # Time: periods t = 0..H-1, monthly rate m = (1+r)^(1/12) - 1, d_t = (1+m)^-t.
    H = int(spec["horizon_months"])
    r = float(spec["discount_rate"])
    m = (1.0 + r) ** (1.0 / 12.0) - 1.0
    d = [(1.0 + m) ** (-t) for t in range(H)]

    delta, g = _schedule(spec)
    C, one_time_cost = _costs_by_month(spec, H, g, delta)
    B = _benefits_by_month(spec, H, g)
    CF = [B[t] - C[t] for t in range(H)]

    cost_pv = math.fsum(C[t] * d[t] for t in range(H))
    benefit_pv = math.fsum(B[t] * d[t] for t in range(H))
    npv = benefit_pv - cost_pv
    roi = None if cost_pv == 0 else npv / cost_pv
    bcr = None if cost_pv == 0 else benefit_pv / cost_pv

    payback = _payback(CF)
    computed = {
        "npv": npv,
        "roi": roi,
        "bcr": bcr,
        "irr": _irr(CF),
        "payback_months": payback,
        "discounted_payback_months": _payback([CF[t] * d[t] for t in range(H)]),
        "go_live_month": g,
        "cost_pv": cost_pv,
        "benefit_pv": benefit_pv,
        "total_cost": math.fsum(C),
        "total_benefit": math.fsum(B),
        "one_time_cost": one_time_cost,
        "payback_after_go_live_months": None if payback is None else payback - g,
    }
    missing = [name for name in metric_names() if name not in computed]
    unknown = [name for name in computed if name not in metric_names()]
    if missing or unknown:
        raise NotImplementedError(f"the reference model and the metrics registry disagree: not computed here "
                                  f"{missing}, not in the registry {unknown}")
    out = {name: computed[name] for name in metric_names()}
    out["costs_by_month"] = C
    out["benefits_by_month"] = B
    return out
