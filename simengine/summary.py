"""Summary of a run (docs/model.md): moments, percentiles, tail risk and targets, each with its MC standard error.

Standard errors:
- mean: sd / sqrt(n);  sd: sqrt((m4 - s^4) / (4 s^2 n)) (delta method on the variance);
- a percentile: half the width of its distribution-free 95 % order-statistic interval
  (ranks n p -/+ 1.96 sqrt(n p (1 - p))) divided by 1.96, so no density estimate is needed;
  of a whole-month metric, the standard deviation of the sample percentile under the run's own
  distribution (`whole_month_percentile_se`): that interval spans only one month or two;
- a probability: sqrt(p (1 - p) / n); when it is 0 of n (or n of n) that is 0 and says
  nothing, so the estimate carries the exact one-sided 95 % bound instead (1 - 0.05^(1/n),
  about 3/n: the "rule of three");
- CVaR at 5 %: sqrt((Var(X | X <= q) + (1 - a)(ES - q)^2) / (n a)) (Manistre & Hancock 2005).
A single value has no standard error (None), never a misleading 0.
Nulls are counted, never dropped silently: moments and percentiles of roi, bcr and irr
use the defined trials (with `n_null` beside them); payback percentiles rank a trial that
never pays back as later than the horizon, so they are null ("never") once such trials
reach that percentile. Each metric's `coverage` says which share of the trials its mean and
sd, and its percentiles, are taken over.
"""

from __future__ import annotations

import math

import numpy as np

from . import metrics as registry

#: The summarized metrics, in the summary's order (from the registry, simengine/metrics.py).
SUMMARY_METRICS = registry.summarized_names()
#: The percentiles every summarized metric gets; P70 and P80 are the confidence levels budgets
#: and dates are set at (AACE 57R-09; NASA's joint confidence level is budgeted at 70 %).
PERCENTILES = (5, 10, 50, 70, 80, 90, 95)
#: The percentiles the text table shows (the others are in the JSON and the budget block).
TABLE_PERCENTILES = (5, 10, 50, 90, 95)
Z95 = 1.959963984540054
CVAR_ALPHA = 0.05


def finite_or_none(x) -> float | None:
    """A number for JSON: None where it is undefined (None, NaN or infinite)."""
    return None if x is None or not math.isfinite(x) else float(x)


def estimate(value, se) -> dict:
    """A JSON estimate: value and standard error, None where undefined."""
    return {"value": finite_or_none(value), "se": finite_or_none(se)}


#: Confidence of the bound given for a probability estimated as 0 of n or n of n.
BOUND_CONFIDENCE = 0.95


def probability(hits: int, n: int) -> dict:
    """A share of trials with its binomial standard error; 0 of n gets the exact one-sided
    95 % upper bound (`upper95`, from (1 - p)^n = 0.05) instead of a standard error of 0,
    and n of n the matching lower bound (`lower95`)."""
    if n == 0:
        return estimate(None, None)
    p = hits / n
    if hits == 0:
        return {**estimate(0.0, None), "upper95": -math.expm1(math.log(1.0 - BOUND_CONFIDENCE) / n)}
    if hits == n:
        return {**estimate(1.0, None), "lower95": math.exp(math.log(1.0 - BOUND_CONFIDENCE) / n)}
    return estimate(p, math.sqrt(p * (1.0 - p) / n))


def coverage(defined: int, total: int, percentiles_over_all: bool) -> dict:
    """Which share of the trials a metric's statistics cover: its mean and sd are taken over
    the trials where it is defined; its percentiles too, unless a null ranks last ("never"),
    when they are taken over every trial."""
    share = defined / total if total else None
    return {"mean_sd": share, "percentiles": (1.0 if total else None) if percentiles_over_all else share}


def needed_ranks(n: int, p: float) -> tuple[int, int, int]:
    """(lo, rank, hi): the rank of percentile p (0..1) among n values and the ends of its
    distribution-free 95 % order-statistic interval (1-based)."""
    spread = Z95 * math.sqrt(n * p * (1.0 - p))
    rank = max(1, math.ceil(n * p))
    lo = min(n, max(1, math.floor(n * p - spread)))
    hi = min(n, max(1, math.ceil(n * p + spread)))
    return lo, rank, hi


def percentile_with_se(sorted_x: np.ndarray, p: float) -> tuple[float, float]:
    """Percentile p (0..1, inverted-CDF definition) of sorted data and its order-statistic SE."""
    n = sorted_x.shape[0]
    if n == 0:
        return math.nan, math.nan
    lo, rank, hi = needed_ranks(n, p)
    value = sorted_x[rank - 1]
    if n == 1:
        return float(value), math.nan  # one value: no standard error
    with np.errstate(invalid="ignore"):
        se = (sorted_x[hi - 1] - sorted_x[lo - 1]) / (2.0 * Z95)
    return float(value), float(se)


#: The terms of a binomial left out of its sums hold less than e^-BINOMIAL_TAIL_LOG of it (Bernstein).
BINOMIAL_TAIL_LOG = 800.0
#: A whole-month percentile whose bootstrap distribution puts more than this on "never" gets no
#: standard error, as one whose 95 % interval reaches "never" would not.
NEVER_SHARE_MAX = 0.025


def binomial_tails(r: int, n: int, q: float) -> tuple[float, float]:
    """(P(X < r), P(X >= r)) for X ~ Binomial(n, q), each to about 1e-10 of itself (a
    tail near 1 does not swallow the other): the terms of the window that holds all but e^-800 of
    the distribution (Bernstein: P(|X - nq| >= t) <= 2 exp(-t^2 / (2 (var + t / 3)))), each from the
    one before by their ratio, summed on both sides of r and divided by the window's total (no
    factorial is taken: at n = 10^8 its rounding would cost seven digits)."""
    if r <= 0 or q >= 1.0:
        return 0.0, 1.0
    if r > n or q <= 0.0:
        return 1.0, 0.0
    mean, var = n * q, n * q * (1.0 - q)
    reach = BINOMIAL_TAIL_LOG / 3.0 + math.sqrt(BINOMIAL_TAIL_LOG ** 2 / 9.0 + 2.0 * BINOMIAL_TAIL_LOG * var)
    lo, hi = max(0, math.floor(mean - reach)), min(n, math.ceil(mean + reach))
    if r > hi:
        return 1.0, 0.0
    if r <= lo:
        return 0.0, 1.0
    k = np.arange(lo, hi, dtype=np.float64)
    steps = np.log((n - k) / (k + 1.0)) + (math.log(q) - math.log1p(-q))  # log(term k+1 / term k)
    logs = np.concatenate(([0.0], np.cumsum(steps)))  # terms lo..hi, relative to term lo
    terms = np.exp(logs - logs.max())
    below, above = float(terms[:r - lo].sum()), float(terms[r - lo:].sum())
    return below / (below + above), above / (below + above)


def whole_month_percentile_se(counts: dict[int, int], n: int, p: float) -> float | None:
    """Standard error of percentile p of a whole-month metric over n trials (`counts`: trials by
    month; the n - sum(counts) others are "never", ranked last): the standard deviation of the
    sample percentile under the run's own distribution. With F(k) the share at or below month k
    and r = ceil(n p), P(percentile <= k) = P(Binomial(n, F(k)) >= r) (docs/model.md)."""
    if n < 2:
        return None  # one value has no standard error
    rank = needed_ranks(n, p)[1]
    months = sorted(counts)
    weights = np.empty(len(months))
    below = 0
    later_before, earlier_before = 1.0, 0.0  # P(percentile > the previous month), P(<= it)
    for i, month in enumerate(months):
        below += counts[month]
        later, earlier = binomial_tails(rank, n, below / n)  # P(percentile > month), P(<= month)
        # the difference of whichever tail is the smaller keeps its digits
        weights[i] = max(0.0, earlier - earlier_before if earlier <= 0.5 else later_before - later)
        later_before, earlier_before = later, earlier
    if later_before > NEVER_SHARE_MAX or weights.sum() <= 0.0:
        return None
    weights /= weights.sum()
    values = np.asarray(months, dtype=np.float64)
    mean = float(weights @ values)
    return math.sqrt(max(0.0, float(weights @ np.square(values - mean))))


def summary_header(scenario, seed: int, trials: int, sampling: str) -> dict:
    """The facts that head every summary: which scenario, run how, by which version."""
    from ._version import __version__

    return {
        "scenario": scenario.name,
        "scenario_sha256": scenario.sha256,
        "currency": scenario.currency,
        "horizon_months": scenario.horizon_months,
        "seed": seed,
        "trials": trials,
        "sampling": sampling,
        "simengine_version": __version__,
    }
