"""Summary of a run (docs/model.md): moments, percentiles, tail risk and targets, each with its MC standard error.

Standard errors:
- mean: sd / sqrt(n);  sd: sqrt((m4 - s^4) / (4 s^2 n)) (delta method on the variance);
- a percentile: half the width of its distribution-free 95 % order-statistic interval
  (ranks n p -/+ 1.96 sqrt(n p (1 - p))) divided by 1.96, so no density estimate is needed;
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
