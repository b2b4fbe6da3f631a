"""The per-trial model kernel: monthly cash flows (MODEL.md) and every per-trial metric.

Each function here is a plain Python twin (`*_python`) compiled once through
`simengine.jit`. The kernel reads one row of the input matrix per trial, builds that
trial's H monthly cash flows in a small per-thread buffer (never trials x months), and
writes one row of metrics. Nulls are NaN here; the output writer turns them into nulls.
"""

from __future__ import annotations

import math

import numpy as np

from ..jit import jit, parallel_jit, prange

# Columns of the per-trial input matrix (scalars first, then the variable-length groups).
DISCOUNT, PLANNED, DELAY, DELAY_COST, OVERRUN, MLOAD, MCAP, CEILING, RAMP, REALIZATION = range(10)
N_SCALARS = 10

# Cost timings and adoption curves, as the kernel's integer codes.
UPFRONT, IMPLEMENTATION, RECURRING = 0, 1, 2
LINEAR, LOGISTIC = 0, 1

# Columns of the per-trial metrics matrix.
METRICS = ("npv", "roi", "bcr", "irr", "payback_months", "discounted_payback_months", "go_live_month",
           "cost_pv", "benefit_pv", "total_cost", "total_benefit")
(NPV, ROI, BCR, IRR, PAYBACK, DPAYBACK, GO_LIVE,
 COST_PV, BENEFIT_PV, TOTAL_COST, TOTAL_BENEFIT) = range(len(METRICS))

IRR_LOW, IRR_HIGH = -0.99, 1.0
IRR_XTOL, IRR_RTOL, IRR_MAXITER = 1e-13, 4 * np.finfo(float).eps, 200
OVERRUN_FLOOR = -0.9
LOGISTIC_SLOPE = 2.0 * math.log(9.0)
TRIALS_PER_TASK = 256


def npv_sign_scaled_python(cf, n_months, rate):
    """sum cf_t (1+rate)^-t, divided by (1+rate)^-(H-1) when that factor exceeds 1.

    Same sign and roots as the NPV polynomial, continuous in `rate`, and free of overflow
    at rate = -0.99 (where (1+rate)^-t reaches 100^(H-1)).
    """
    if rate >= 0.0:
        v = 1.0 / (1.0 + rate)
        s = 0.0
        for t in range(n_months - 1, -1, -1):
            s = s * v + cf[t]
        return s
    w = 1.0 + rate
    s = 0.0
    for t in range(n_months):
        s = s * w + cf[t]
    return s


npv_sign_scaled = jit(npv_sign_scaled_python)


def irr_monthly_python(cf, n_months):
    """Monthly IRR by Brent's method on [-0.99, 1.0]; NaN when MODEL.md says null.

    The bracketing and step rules follow scipy's brentq, so with one sign change in the
    cash flows (the unique root) both agree to the tolerance.
    """
    all_zero = True
    for t in range(n_months):
        if cf[t] != 0.0:
            all_zero = False
            break
    if all_zero:
        return np.nan
    xpre, xcur = IRR_LOW, IRR_HIGH
    fpre = npv_sign_scaled(cf, n_months, xpre)
    fcur = npv_sign_scaled(cf, n_months, xcur)
    if fpre == 0.0:
        return xpre
    if fcur == 0.0:
        return xcur
    if (fpre > 0.0) == (fcur > 0.0):
        return np.nan
    xblk, fblk, spre, scur = 0.0, 0.0, 0.0, 0.0
    for _ in range(IRR_MAXITER):
        if fpre != 0.0 and fcur != 0.0 and ((fpre < 0.0) != (fcur < 0.0)):
            xblk, fblk = xpre, fpre
            spre = scur = xcur - xpre
        if abs(fblk) < abs(fcur):
            xpre, xcur, xblk = xcur, xblk, xcur
            fpre, fcur, fblk = fcur, fblk, fcur
        delta = 0.5 * (IRR_XTOL + IRR_RTOL * abs(xcur))
        sbis = 0.5 * (xblk - xcur)
        if fcur == 0.0 or abs(sbis) < delta:
            return xcur
        if abs(spre) > delta and abs(fcur) < abs(fpre):
            if xpre == xblk:
                stry = -fcur * (xcur - xpre) / (fcur - fpre)
            else:
                dpre = (fpre - fcur) / (xpre - xcur)
                dblk = (fblk - fcur) / (xblk - xcur)
                stry = -fcur * (fblk * dblk - fpre * dpre) / (dblk * dpre * (fblk - fpre))
            if 2.0 * abs(stry) < min(abs(spre), 3.0 * abs(sbis) - delta):
                spre, scur = scur, stry
            else:
                spre, scur = sbis, sbis
        else:
            spre, scur = sbis, sbis
        xpre, fpre = xcur, fcur
        if abs(scur) > delta:
            xcur += scur
        elif sbis > 0.0:
            xcur += delta
        else:
            xcur -= delta
        fcur = npv_sign_scaled(cf, n_months, xcur)
    return xcur


irr_monthly = jit(irr_monthly_python)


def adoption_python(t, g, ceiling, ramp, curve, phase_share, phase_offset):
    """A(t) = U * sum_k share_k a_k(t), with a_k = 0 before phase k starts."""
    total = 0.0
    for k in range(phase_share.shape[0]):
        x = t - (g + phase_offset[k]) + 1.0
        if x < 1.0:
            continue
        if curve == LINEAR:
            a = min(1.0, x / ramp)
        else:
            a = 1.0 / (1.0 + math.exp(-(x - 0.5 * ramp) * LOGISTIC_SLOPE / ramp))
        total += phase_share[k] * a
    return ceiling * total


adoption = jit(adoption_python)


def trial_python(row, cost_timing, cost_from_start, cost_overrun, cost_labor, benefit_scales,
                 phase_share, phase_offset, n_events, curve, n_months, cf, out):
    """One trial: fill `cf` with the H monthly net cash flows and `out` with the metrics."""
    n_costs = cost_timing.shape[0]
    n_benefits = benefit_scales.shape[0]
    c0 = N_SCALARS
    b0 = c0 + n_costs
    e0 = b0 + n_benefits  # occurred, cost, delay, loss: n_events columns each

    # Schedule: g = ceil(P + delta), event delays included.
    delta = max(row[DELAY], 0.0)
    event_cost = 0.0
    loss_factor = 1.0
    for e in range(n_events):
        if row[e0 + e] != 0.0:
            event_cost += row[e0 + n_events + e]
            delta += row[e0 + 2 * n_events + e]
            loss_factor *= 1.0 - row[e0 + 3 * n_events + e]
    g = np.ceil(row[PLANNED] + delta)  # a float: no integer overflow on absurd delays

    # Costs: one-time, spread, and monthly run rates.
    overrun = 1.0 + max(row[OVERRUN], OVERRUN_FLOOR)
    upfront = 0.0
    spread = row[DELAY_COST] * delta + event_cost
    labor = 0.0
    run_from_go_live = 0.0
    run_from_start = 0.0
    for c in range(n_costs):
        amount = row[c0 + c]
        if cost_overrun[c]:
            amount *= overrun
        if cost_labor[c]:
            labor += amount
        if cost_timing[c] == UPFRONT:
            upfront += amount
        elif cost_timing[c] == IMPLEMENTATION:
            spread += amount
        elif cost_from_start[c]:
            run_from_start += amount / 12.0
        else:
            run_from_go_live += amount / 12.0
    maintenance = min(max(row[MLOAD], 0.0), row[MCAP]) * labor / 12.0
    run_from_go_live += maintenance
    spread_monthly = spread / g

    # Benefits: monthly value at full adoption, after realization and event losses.
    scaled = 0.0
    flat = 0.0
    for b in range(n_benefits):
        monthly = row[b0 + b] / 12.0 * row[REALIZATION] * loss_factor
        if benefit_scales[b]:
            scaled += monthly
        else:
            flat += monthly

    m = (1.0 + row[DISCOUNT]) ** (1.0 / 12.0) - 1.0
    v = 1.0 / (1.0 + m)
    d = 1.0
    cost_pv = benefit_pv = total_cost = total_benefit = 0.0
    cum = dcum = 0.0
    payback = dpayback = np.nan
    for t in range(n_months):
        cost = run_from_start
        benefit = 0.0
        if t == 0:
            cost += upfront
        if t < g:
            cost += spread_monthly
        else:
            cost += run_from_go_live
            benefit += flat
        if scaled != 0.0:
            benefit += scaled * adoption(float(t), float(g), row[CEILING], row[RAMP], curve,
                                         phase_share, phase_offset)
        net = benefit - cost
        cf[t] = net
        cost_pv += cost * d
        benefit_pv += benefit * d
        total_cost += cost
        total_benefit += benefit
        cum += net
        dcum += net * d
        if cum >= 0.0 and payback != payback:
            payback = t + 1.0
        if dcum >= 0.0 and dpayback != dpayback:
            dpayback = t + 1.0
        d *= v

    npv = benefit_pv - cost_pv
    out[NPV] = npv
    out[ROI] = npv / cost_pv if cost_pv != 0.0 else np.nan
    out[BCR] = benefit_pv / cost_pv if cost_pv != 0.0 else np.nan
    i = irr_monthly(cf, n_months)
    out[IRR] = (1.0 + i) ** 12 - 1.0 if i == i else np.nan
    out[PAYBACK] = payback
    out[DPAYBACK] = dpayback
    out[GO_LIVE] = g
    out[COST_PV] = cost_pv
    out[BENEFIT_PV] = benefit_pv
    out[TOTAL_COST] = total_cost
    out[TOTAL_BENEFIT] = total_benefit


trial = jit(trial_python)


def simulate_python(params, cost_timing, cost_from_start, cost_overrun, cost_labor, benefit_scales,
                    phase_share, phase_offset, n_events, curve, n_months, out):
    """Every trial of `params` (n x k inputs) into `out` (n x len(METRICS)), in parallel tasks.

    Trials are independent and each is computed in a fixed order, so results do not
    depend on the thread count.
    """
    n = params.shape[0]
    n_tasks = (n + TRIALS_PER_TASK - 1) // TRIALS_PER_TASK
    for task in prange(n_tasks):
        cf = np.empty(n_months)
        stop = min(n, (task + 1) * TRIALS_PER_TASK)
        for i in range(task * TRIALS_PER_TASK, stop):
            trial(params[i], cost_timing, cost_from_start, cost_overrun, cost_labor, benefit_scales,
                  phase_share, phase_offset, n_events, curve, n_months, cf, out[i])


simulate = parallel_jit(simulate_python)
