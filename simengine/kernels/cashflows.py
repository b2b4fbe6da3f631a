"""The per-trial model kernel: monthly cash flows (MODEL.md) and every per-trial metric.

Each function here is a plain Python twin (`*_python`) compiled once through
`simengine.jit`. The kernel reads one column of the input matrix per trial, builds that
trial's H monthly cash flows in a small per-thread buffer (never trials x months), and
writes one column of the metrics matrix. Nulls are NaN here; the writer makes them nulls.

Speed comes from the shape of the cash flows, not from loop tuning:
- one pass over the months gives every PV, total and both paybacks; logistic adoption
  follows a geometric recurrence (two exp calls per phase, not one per month);
- the IRR is unique when the cash flows change sign once (Descartes), which is nearly
  always: then a safeguarded Halley iteration on log(PV of inflows) - log(PV of outflows)
  as a function of x = ln(1 + i) finds it. That function is close to linear in x (exactly
  so for one inflow and one outflow), so from the discount rate 3-4 steps reach full
  precision. Anything else (several sign
  changes, no convergence) falls back to Brent's method on the whole bracket.
"""

from __future__ import annotations

import math

import numpy as np

from ..jit import jit, parallel_jit, prange
from .. import metrics as registry
from .powers import int_power

# Columns of the per-trial input matrix (scalars first, then the variable-length groups).
(DISCOUNT, PLANNED, DELAY, DELAY_COST, OVERRUN, MLOAD, MCAP, CEILING, RAMP, REALIZATION, BASS_P, BASS_Q,
 SCHEDULE_OVERRUN) = range(13)
N_SCALARS = 13

# Cost timings and adoption curves, as the kernel's integer codes.
UPFRONT, IMPLEMENTATION, RECURRING, ROLLOUT = 0, 1, 2, 3
LINEAR, LOGISTIC, BASS = 0, 1, 2

# Rows of the per-trial metrics matrix: the order is the registry's (simengine/metrics.py);
# numba needs plain ints as globals, so each row is looked up once here.
METRICS = registry.names()
NPV, ROI, BCR, IRR = map(registry.index, ("npv", "roi", "bcr", "irr"))
PAYBACK, DPAYBACK = map(registry.index, ("payback_months", "discounted_payback_months"))
GO_LIVE, COST_PV, BENEFIT_PV = map(registry.index, ("go_live_month", "cost_pv", "benefit_pv"))
TOTAL_COST, TOTAL_BENEFIT = map(registry.index, ("total_cost", "total_benefit"))
ONE_TIME_COST, PAYBACK_AFTER_GO_LIVE = map(registry.index, ("one_time_cost", "payback_after_go_live_months"))

IRR_LOW, IRR_HIGH = -0.99, 1.0
IRR_XTOL, IRR_RTOL, IRR_MAXITER = 1e-13, 4 * np.finfo(float).eps, 200
#: Steps on x = ln(1 + i): one below ACCEPT_STEP[order] (order 2, 3 or 4) is the last, since the
#: error it leaves is about C step^order, with C below 20 here; give up (to Brent) after NEWTON_MAXITER.
ACCEPT_STEP, NEWTON_MAXITER = (0.0, 0.0, 1e-8, 1e-6, 1e-5), 30
LOG_IRR_LOW, LOG_IRR_HIGH = math.log(1.0 + IRR_LOW), math.log(1.0 + IRR_HIGH)
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
            # Interpolate; a zero denominator (values that underflow to equal) makes C's
            # brentq step infinite or NaN, which it then rejects for bisection: the same here,
            # without dividing by zero (which raises in compiled code).
            stry = np.inf
            if xpre == xblk:
                if fcur != fpre:
                    stry = -fcur * (xcur - xpre) / (fcur - fpre)
            elif xpre != xcur and xblk != xcur:
                dpre = (fpre - fcur) / (xpre - xcur)
                dblk = (fblk - fcur) / (xblk - xcur)
                denominator = dblk * dpre * (fblk - fpre)
                if denominator != 0.0:
                    stry = -fcur * (fblk * dblk - fpre * dpre) / denominator
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


def adoption_into_python(adopt, g, first_month, ramp, curve, bass_p, bass_q, phase_share, phase_offset, n_months):
    """adopt[t] = sum_k share_k a_k(t) for months first_month..H-1 (a_k = 0 before phase k starts).

    The ceiling U is applied by the caller. Logistic: a(x) = 1 / (1 + e_x) with
    e_x = exp(-(x - R/2) s), s = 2 ln 9 / R, and e_{x+1} = e_x exp(-s): two exp calls per
    phase. e_x <= 9 for x >= 1, so nothing overflows. Bass: a(x) = f_x / (1 + (q/p) e_x) with
    e_x = exp(-(p + q) x / 12) (p and q per year) and f_x = 1 - e_x = -expm1(-(p + q) x / 12),
    never 1 - e_x by subtraction (it cancels when (p + q) x is small: 5e-8 relative error at
    p = 1e-8, q = 0). Every 16th month takes f_x and e_x from expm1 and exp; the
    months between follow f_{x+1} = f_x + e_x h and e_{x+1} = e_x (1 - h), h = -expm1(-(p + q) / 12),
    sums of positive terms that lose at most a few rounding errors before the next restart.
    So a(x) stays within 1e-14 relative of the exact curve (a few 1e-15 measured; see
    tests/test_edges.py), at about the cost of the plain recurrence.
    """
    for t in range(first_month, n_months):
        adopt[t] = 0.0
    for k in range(phase_share.shape[0]):
        first = g + phase_offset[k]  # month where x = 1
        if first >= n_months:
            continue
        t0 = int(first)
        share = phase_share[k]
        if curve == LINEAR:
            # min(1, x / R), dividing only on the ramp: x / R rounds to >= 1 exactly when x >= R.
            for t in range(t0, n_months):
                x = t - first + 1.0
                adopt[t] += share * (x / ramp if x < ramp else 1.0)
        elif curve == BASS:
            rate = bass_p + bass_q  # per year
            ratio = bass_q / bass_p
            h = -math.expm1(-rate / 12.0)  # the share of the remaining gap that closes each month
            keep = math.exp(-rate / 12.0)
            block = 16  # months per restart from expm1/exp
            t = t0
            while t < n_months:
                arg = rate * (t - t0 + 1.0) / 12.0  # (p + q) tau at x = t - t0 + 1
                f = -math.expm1(-arg)
                e = math.exp(-arg)
                adopt[t] += share * f / (1.0 + ratio * e)
                stop = min(n_months, t + block)
                for u in range(t + 1, stop):
                    f += e * h
                    e *= keep
                    adopt[u] += share * f / (1.0 + ratio * e)
                t = stop
        else:
            slope = LOGISTIC_SLOPE / ramp
            e = math.exp(-(1.0 - 0.5 * ramp) * slope)
            step = math.exp(-slope)
            for t in range(t0, n_months):
                adopt[t] += share / (1.0 + e)
                e *= step


adoption_into = jit(adoption_into_python)


def irr_newton_python(cf, n_months, split, x, f, slope, curve, skew):
    """Monthly IRR by safeguarded fourth-order (Householder) iteration on
    F(x) = ln PV(later flows) - ln PV(earlier flows).

    Valid when the cash flows change sign once, at `split` (the first month on the later
    side). F is strictly decreasing in x = ln(1 + i) with exactly one root, so the IRR is
    in [-0.99, 1] iff F changes sign there; the end points are only evaluated when a step
    tries to leave the bracket. (f, slope, curve, skew) are F, F', F'' and F''' at the start
    x when the caller has them (the month pass does), else f is NaN. A step converges with
    order 4 (3 for Halley's, 2 for Newton's, the fall-backs when a higher-order step points
    the wrong way), so a step below ACCEPT_STEP[order] leaves an error far below 1e-16 and
    is taken as the last one.
    Returns (i, ok): i is NaN with ok True when the root is outside the bracket (null),
    ok False when the iteration did not settle (the caller then uses Brent's method).
    """
    lo, hi = LOG_IRR_LOW, LOG_IRR_HIGH
    ends_checked = False
    for iteration in range(NEWTON_MAXITER):
        if iteration > 0 or f != f:
            f, slope, curve, skew = log_ratio(cf, n_months, split, x)
        if f != f or slope != slope or curve != curve or skew != skew or slope >= 0.0:
            return np.nan, False
        if f == 0.0:
            return math.expm1(x), True
        if f > 0.0:
            lo = x
        else:
            hi = x
        step, order = root_step(f, slope, curve, skew)
        x_new = x + step
        if abs(step) <= ACCEPT_STEP[order] and LOG_IRR_LOW <= x_new <= LOG_IRR_HIGH:
            # The last step: taken even when it rounds onto (or a hair past) a bracket end.
            return math.expm1(x_new), True
        if not lo < x_new < hi:
            if not ends_checked:
                f_low = log_ratio(cf, n_months, split, LOG_IRR_LOW)[0]
                f_high = log_ratio(cf, n_months, split, LOG_IRR_HIGH)[0]
                if f_low != f_low or f_high != f_high:
                    return np.nan, False
                if not (f_low > 0.0 and f_high < 0.0):
                    return np.nan, True  # the same sign at both ends: no IRR in the bracket
                ends_checked = True
            x_new = 0.5 * (lo + hi)  # the step overshot: bisect
        x = x_new
    return np.nan, False


def root_step_python(f, slope, curve, skew):
    """The step towards F's root from F and its first three derivatives, and its order of
    convergence: Householder's fourth-order step, else Halley's, else Newton's (F' < 0).

    A higher-order step is used only when it points the way Newton's does (far from the
    root its denominator can change sign); near the root all three agree.
    """
    newton = -f / slope
    denominator = 6.0 * slope * slope * slope - 6.0 * f * slope * curve + f * f * skew
    if denominator != 0.0:
        step = -(6.0 * f * slope * slope - 3.0 * f * f * curve) / denominator
        if step * newton > 0.0:
            return step, 4
    denominator = 2.0 * slope * slope - f * curve
    if denominator > 0.0:
        return -2.0 * f * slope / denominator, 3
    return newton, 2


def log_ratio_python(cf, n_months, split, x):
    """F(x) = ln(sum |cf_t| e^(-x (t - split)) over t >= split) - ln(the same over t < split),
    F', F'' and F''' (see `ratio_moments`).

    Weights are taken relative to month `split`, which cancels in F and keeps them in range;
    each sum runs two interleaved weight chains (even and odd months) to halve the latency.
    """
    w = math.exp(x)
    w2 = w * w
    before = before_t = before_t2 = before_t3 = 0.0
    d0, d1 = w, w2  # weights of months split-1 and split-2
    t = split - 1
    while t >= 1:
        a0 = abs(cf[t]) * d0
        a1 = abs(cf[t - 1]) * d1
        before += a0 + a1
        a0 *= t
        a1 *= t - 1
        before_t += a0 + a1
        a0 *= t
        a1 *= t - 1
        before_t2 += a0 + a1
        before_t3 += a0 * t + a1 * (t - 1)
        d0 *= w2
        d1 *= w2
        t -= 2
    if t == 0:
        before += abs(cf[0]) * d0
    v = 1.0 / w
    v2 = v * v
    after = after_t = after_t2 = after_t3 = 0.0
    d0, d1 = 1.0, v
    t = split
    while t + 1 < n_months:
        a0 = abs(cf[t]) * d0
        a1 = abs(cf[t + 1]) * d1
        after += a0 + a1
        a0 *= t
        a1 *= t + 1
        after_t += a0 + a1
        a0 *= t
        a1 *= t + 1
        after_t2 += a0 + a1
        after_t3 += a0 * t + a1 * (t + 1)
        d0 *= v2
        d1 *= v2
        t += 2
    if t < n_months:
        a0 = abs(cf[t]) * d0
        after += a0
        a0 *= t
        after_t += a0
        a0 *= t
        after_t2 += a0
        after_t3 += a0 * t
    return ratio_moments(after, after_t, after_t2, after_t3, before, before_t, before_t2, before_t3)


def ratio_moments_python(a, a_t, a_t2, a_t3, b, b_t, b_t2, b_t3):
    """F = ln A - ln B and F', F'', F''' from the sums A = sum w_t, sum w_t t, sum w_t t^2 and
    sum w_t t^3 of the later months (a...) and the earlier ones (b...); NaN when a side is empty.

    With the weights as a distribution over months, (ln A)' = -mean(t), (ln A)'' = var(t) and
    (ln A)''' = -(the third central moment of t).
    """
    if a <= 0.0 or b <= 0.0:
        return np.nan, np.nan, np.nan, np.nan
    mean_a, mean_b = a_t / a, b_t / b
    square_a, square_b = a_t2 / a, b_t2 / b
    third_a = a_t3 / a - mean_a * (3.0 * square_a - 2.0 * mean_a * mean_a)
    third_b = b_t3 / b - mean_b * (3.0 * square_b - 2.0 * mean_b * mean_b)
    f = math.log(a / b)
    slope = mean_b - mean_a
    curve = (square_a - mean_a * mean_a) - (square_b - mean_b * mean_b)
    skew = third_b - third_a
    return f, slope, curve, skew


ratio_moments = jit(ratio_moments_python)
root_step = jit(root_step_python)
log_ratio = jit(log_ratio_python)
irr_newton = jit(irr_newton_python)


def tail_sign_changes_python(cf, n_months):
    """Sign changes of the running totals from the end, `sum(cf[k:])` for k = n-1 down to 0.

    By Descartes' rule on the reversed polynomial (Norstrom's criterion read from the end),
    they bound the number of IRRs below zero, as the running totals from the start bound
    those above it.
    """
    total = 0.0
    sign = 0.0
    changes = 0
    for t in range(n_months - 1, -1, -1):
        total += cf[t]
        if total != 0.0:
            now = 1.0 if total > 0.0 else -1.0
            if now * sign < 0.0:
                changes += 1
            sign = now
    return changes


tail_sign_changes = jit(tail_sign_changes_python)


def trial_python(x, i, cost_timing, cost_from_start, cost_overrun, cost_labor, benefit_scales,
                 phase_share, phase_offset, n_events, curve, n_months, cf, adopt, rate_memo, out):
    """Trial i, whose inputs are the vector x (indexed by the column constants): fill `cf` with
    its H monthly net cash flows and column i of `out` with its metrics. On return `adopt`
    holds each month's cost C_t (its benefits are read month by month, then overwritten):
    a portfolio's spend by year (kernels/portfolio.py)."""
    n_costs = cost_timing.shape[0]
    n_benefits = benefit_scales.shape[0]
    c0 = N_SCALARS
    b0 = c0 + n_costs
    e0 = b0 + n_benefits  # occurred, cost, delay, loss: n_events columns each

    # Schedule: g = ceil(P + delta); delta = max(delay + schedule overrun x P, 0) plus event delays.
    delta = max(x[DELAY] + x[SCHEDULE_OVERRUN] * x[PLANNED], 0.0)
    event_cost = 0.0
    loss_factor = 1.0
    for e in range(n_events):
        if x[e0 + e] != 0.0:
            event_cost += x[e0 + n_events + e]
            delta += x[e0 + 2 * n_events + e]
            loss_factor *= 1.0 - x[e0 + 3 * n_events + e]
    g = np.ceil(x[PLANNED] + delta)  # a float: no integer overflow on absurd delays

    # Costs: one-time, spread, and monthly run rates.
    overrun = 1.0 + max(x[OVERRUN], OVERRUN_FLOOR)
    upfront = 0.0
    spread = x[DELAY_COST] * delta + event_cost
    rollout = 0.0  # split over the adoption phases, each share in the month its wave starts
    labor = 0.0
    run_from_go_live = 0.0
    run_from_start = 0.0
    for c in range(n_costs):
        amount = x[c0 + c]
        if cost_overrun[c]:
            amount *= overrun
        if cost_labor[c]:
            labor += amount
        if cost_timing[c] == UPFRONT:
            upfront += amount
        elif cost_timing[c] == IMPLEMENTATION:
            spread += amount
        elif cost_timing[c] == ROLLOUT:
            rollout += amount
        elif cost_from_start[c]:
            run_from_start += amount / 12.0
        else:
            run_from_go_live += amount / 12.0
    maintenance = min(max(x[MLOAD], 0.0), x[MCAP]) * labor / 12.0
    run_from_go_live += maintenance
    spread_monthly = spread / g

    # Benefits: monthly value at full adoption, after realization and event losses.
    scaled = 0.0
    flat = 0.0
    for b in range(n_benefits):
        monthly = x[b0 + b] / 12.0 * x[REALIZATION] * loss_factor
        if benefit_scales[b]:
            scaled += monthly
        else:
            flat += monthly
    # Months before go-live (inside the horizon) and from go-live on.
    g_end = n_months if g >= n_months else int(g)
    if scaled != 0.0:
        adoption_into(adopt, g, g_end, x[RAMP], curve, x[BASS_P], x[BASS_Q], phase_share, phase_offset, n_months)
        scaled *= x[CEILING]

    # Monthly rate m = (1 + r)^(1/12) - 1; memo of the last one (r is usually the same each trial).
    if x[DISCOUNT] != rate_memo[0]:
        rate_memo[0] = x[DISCOUNT]
        rate_memo[1] = (1.0 + x[DISCOUNT]) ** (1.0 / 12.0) - 1.0
    m = rate_memo[1]
    v = 1.0 / (1.0 + m)

    # Benefits by month into `adopt` (none before go-live), then one pass over the months:
    # cash flows, PVs, totals, paybacks and the sign changes (for the IRR method).
    benefits = adopt
    for t in range(g_end):
        benefits[t] = 0.0
    for t in range(g_end, n_months):
        benefits[t] = flat + scaled * adopt[t] if scaled != 0.0 else flat
    before = spread_monthly + run_from_start
    after = run_from_go_live + run_from_start
    # Rollout costs by month, staged in `cf` (read before each month's net flow overwrites it).
    if rollout != 0.0:
        for t in range(n_months):
            cf[t] = 0.0
        for k in range(phase_share.shape[0]):
            wave = g + phase_offset[k]
            if wave < n_months:
                cf[int(wave)] += rollout * phase_share[k]
    d = 1.0
    cost_pv = benefit_pv = total_cost = total_benefit = 0.0
    cum = dcum = 0.0
    paid = dpaid = -1  # the month whose running total first reaches 0 (-1: not yet)
    # Sign changes of the flows and of their running total (Norstrom's criterion for the IRR):
    # the sign of the last nonzero value as -1, 0 (none yet) or 1; NaN counts as negative.
    last = cum_last = 0
    changes = cum_changes = 0
    split = 0
    # sum w_t t^k (k = 0..3), w_t = |CF_t| v^t, of the positive and the negative flows: with one
    # sign change these are the IRR iteration's sums on both sides at the discount rate.
    pos = pos_t = pos_t2 = pos_t3 = neg = neg_t = neg_t2 = neg_t3 = 0.0
    for t in range(n_months):
        cost = before if t < g_end else after
        if t == 0:
            cost += upfront
        if rollout != 0.0:
            cost += cf[t]
        benefit = benefits[t]
        benefits[t] = cost
        net = benefit - cost
        cf[t] = net
        cost_pv += cost * d
        benefit_pv += benefit * d
        total_cost += cost
        total_benefit += benefit
        cum += net
        dcum += net * d
        if paid < 0 and cum >= 0.0:
            paid = t
        if dpaid < 0 and dcum >= 0.0:
            dpaid = t
        if net > 0.0:
            if last < 0:
                changes += 1
                split = t
            last = 1
            w = net * d
            pos += w
            w *= t
            pos_t += w
            w *= t
            pos_t2 += w
            pos_t3 += w * t
        elif net != 0.0:
            if last > 0:
                changes += 1
                split = t
            last = -1
            w = -net * d
            neg += w
            w *= t
            neg_t += w
            w *= t
            neg_t2 += w
            neg_t3 += w * t
        if cum > 0.0:
            cum_changes += cum_last < 0
            cum_last = 1
        elif cum != 0.0:
            cum_changes += cum_last > 0
            cum_last = -1
        d *= v
    payback = paid + 1.0 if paid >= 0 else np.nan
    dpayback = dpaid + 1.0 if dpaid >= 0 else np.nan

    npv = benefit_pv - cost_pv
    out[NPV, i] = npv
    out[ROI, i] = npv / cost_pv if cost_pv != 0.0 else np.nan
    out[BCR, i] = benefit_pv / cost_pv if cost_pv != 0.0 else np.nan
    irr = np.nan
    # No sign change: no root (all zero, or one sign throughout). Several (rollout costs after
    # go-live can dip a month below zero again): the root is still unique when the running
    # totals from the start and from the end together change sign exactly once and the total
    # is not zero (Norstrom 1972 on both sides of i = 0), and Brent's method finds it;
    # otherwise the IRR is not unique and is null.
    settled = changes == 0
    if changes > 1:
        settled = cum == 0.0 or cum_changes + tail_sign_changes(cf, n_months) != 1
    if changes == 1:
        # Start at x = ln(1 + m), the discount rate, inside the bracket: where the month pass's
        # sums give F and its derivatives (the later side has the sign of the last flow).
        x0 = math.log1p(m)
        start = min(max(x0, LOG_IRR_LOW + 0.01), LOG_IRR_HIGH - 0.01)
        f = slope = curve = skew = np.nan
        if start == x0:
            if last > 0:
                f, slope, curve, skew = ratio_moments(pos, pos_t, pos_t2, pos_t3, neg, neg_t, neg_t2, neg_t3)
            else:
                f, slope, curve, skew = ratio_moments(neg, neg_t, neg_t2, neg_t3, pos, pos_t, pos_t2, pos_t3)
        irr, settled = irr_newton(cf, n_months, split, start, f, slope, curve, skew)
    if not settled:
        irr = irr_monthly(cf, n_months)
    out[IRR, i] = int_power(1.0 + irr, 12) - 1.0 if irr == irr else np.nan
    out[PAYBACK, i] = payback
    out[DPAYBACK, i] = dpayback
    out[GO_LIVE, i] = g
    out[COST_PV, i] = cost_pv
    out[BENEFIT_PV, i] = benefit_pv
    out[TOTAL_COST, i] = total_cost
    out[TOTAL_BENEFIT, i] = total_benefit
    out[ONE_TIME_COST, i] = upfront + spread + rollout  # in full, even past the horizon
    out[PAYBACK_AFTER_GO_LIVE, i] = payback - g  # NaN (never) stays NaN


trial = jit(trial_python)


def trial_major_python(x, start, stop):
    """Columns start..stop-1 of `x` (inputs x trials) as a trial-major block (one row a trial):
    reading a trial's ~60 inputs from ~60 rows of the matrix would touch ~60 cache lines."""
    block = np.empty((stop - start, x.shape[0]))
    for r in range(x.shape[0]):
        for j in range(stop - start):
            block[j, r] = x[r, start + j]
    return block


trial_major = jit(trial_major_python)


def simulate_python(x, cost_timing, cost_from_start, cost_overrun, cost_labor, benefit_scales,
                    phase_share, phase_offset, n_events, curve, n_months, out, cash):
    """Every trial of `x` (inputs x trials) into `out` (len(METRICS) x trials), in parallel tasks.

    The first `cash.shape[0]` trials also leave their cumulative cash by month in the rows of
    `cash` (trials x months; pass a 0-row array for none): the fan chart's raw material,
    kept for a bounded number of trials only, never trials x months for a whole run.

    Each task copies its trials' inputs into a trial-major block first: reading a trial's
    ~60 inputs from ~60 rows of the matrix would touch ~60 cache lines per trial. Trials are
    independent and each is computed in a fixed order, so results do not depend on the
    thread count.
    """
    n = x.shape[1]
    n_tasks = (n + TRIALS_PER_TASK - 1) // TRIALS_PER_TASK
    for task in prange(n_tasks):
        cf = np.empty(n_months)
        adopt = np.empty(n_months)
        rate_memo = np.full(2, np.nan)  # NaN never equals a rate: the first trial computes it
        start = task * TRIALS_PER_TASK
        stop = min(n, start + TRIALS_PER_TASK)
        block = trial_major(x, start, stop)
        for j in range(stop - start):
            trial(block[j], start + j, cost_timing, cost_from_start, cost_overrun, cost_labor, benefit_scales,
                  phase_share, phase_offset, n_events, curve, n_months, cf, adopt, rate_memo, out)
            if start + j < cash.shape[0]:
                running = 0.0
                for t in range(n_months):
                    running += cf[t]
                    cash[start + j, t] = running


simulate = parallel_jit(simulate_python)
