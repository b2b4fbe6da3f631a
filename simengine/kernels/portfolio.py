"""Portfolio kernels: a member's trials into the portfolio's accumulators, and the portfolio's payback.

A member's trials run through the model kernel (`cashflows.trial`) unchanged; its monthly
net cash and costs are then added, scaled and shifted by its start month, into the
portfolio's per-trial buffers (docs/model.md, "Portfolios"). The net-cash buffer is
sub-chunk x H_p, bounded by the caller, never trials x months of a whole run.
"""

from __future__ import annotations

import numpy as np

from ..jit import parallel_jit, prange
from .cashflows import METRICS, trial, trial_major
from .powers import int_power

TRIALS_PER_TASK = 256
#: Rows of `contrib`: the member's NPV, cost PV and benefit PV, scaled and discounted to month 0.
CONTRIB_NPV, CONTRIB_COST_PV, CONTRIB_BENEFIT_PV = 0, 1, 2
NPV_ROW = METRICS.index("npv")
COST_PV_ROW = METRICS.index("cost_pv")
BENEFIT_PV_ROW = METRICS.index("benefit_pv")


def member_pass_python(x, cost_timing, cost_from_start, cost_overrun, cost_labor, benefit_scales, phase_share,
                       phase_offset, n_events, curve, n_months, offset, scale, out, contrib, net, years):
    """Every trial of `x` (inputs x trials) of one member starting at portfolio month `offset`.

    Writes the member's metrics into `out` (len(METRICS) x trials) and its contributions into
    `contrib` (3 x trials: NPV, cost PV, benefit PV times scale x (1 + m)^-offset); adds
    scale x CF_t into `net[j, offset + t]` (trials x H_p; pass a 0-row array for none) and
    scale x C_t into `years[(offset + t) // 12, j]` (years x trials).
    """
    n = x.shape[1]
    keep_net = net.shape[0] > 0
    for task in prange((n + TRIALS_PER_TASK - 1) // TRIALS_PER_TASK):
        cf = np.empty(n_months)
        adopt = np.empty(n_months)
        rate_memo = np.full(2, np.nan)
        start = task * TRIALS_PER_TASK
        stop = min(n, start + TRIALS_PER_TASK)
        block = trial_major(x, start, stop)
        for j in range(stop - start):
            i = start + j
            trial(block[j], i, cost_timing, cost_from_start, cost_overrun, cost_labor, benefit_scales,
                  phase_share, phase_offset, n_events, curve, n_months, cf, adopt, rate_memo, out)
            factor = scale / int_power(1.0 + rate_memo[1], offset)
            contrib[CONTRIB_NPV, i] = factor * out[NPV_ROW, i]
            contrib[CONTRIB_COST_PV, i] = factor * out[COST_PV_ROW, i]
            contrib[CONTRIB_BENEFIT_PV, i] = factor * out[BENEFIT_PV_ROW, i]
            for t in range(n_months):
                month = offset + t
                years[month // 12, i] += scale * adopt[t]
                if keep_net:
                    net[i, month] += scale * cf[t]


member_pass = parallel_jit(member_pass_python)


def payback_python(net, n, out):
    """The portfolio's payback month of trials 0..n-1 of `net` (trials x H_p monthly cash):
    the smallest K with sum_{T<K} CF_T >= 0, NaN when none."""
    months = net.shape[1]
    for task in prange((n + TRIALS_PER_TASK - 1) // TRIALS_PER_TASK):
        for i in range(task * TRIALS_PER_TASK, min(n, (task + 1) * TRIALS_PER_TASK)):
            running = 0.0
            out[i] = np.nan
            for t in range(months):
                running += net[i, t]
                if running >= 0.0:
                    out[i] = t + 1.0
                    break


payback = parallel_jit(payback_python)
