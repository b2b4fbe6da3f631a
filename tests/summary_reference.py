"""The run summary of docs/model.md in its plainest form, from metric columns held in memory.

The package streams the summary (simengine/summary_stream.py) so that memory does not grow
with the trial count; the tests check that it gives exactly what this direct definition
gives: sort everything, take order statistics and moments.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from simengine import metrics as registry
from simengine.summary import PERCENTILES, coverage, estimate, percentile_with_se, probability


def whole_month_se(ranked: np.ndarray, p: float) -> float | None:
    """The standard deviation of percentile p of whole months (inf = never) under the empirical
    distribution, from scipy's binomial: P(percentile <= k) = P(Binomial(n, F(k)) >= ceil(n p))."""
    n = ranked.size
    if n < 2:
        return None
    rank = max(1, math.ceil(n * p))
    months = np.unique(ranked[np.isfinite(ranked)])
    shares = np.searchsorted(ranked, months, side="right") / n
    at_most = stats.binom.sf(rank - 1, n, shares)  # P(percentile <= month)
    later = stats.binom.cdf(rank - 1, n, shares)  # P(percentile > month), exact where at_most rounds to 1
    if later[-1] > 0.025:
        return None
    # each month's chance from the differences of the tail that is small there (the other rounds to 1)
    weights = np.where(at_most <= 0.5, np.diff(np.concatenate(([0.0], at_most))),
                       -np.diff(np.concatenate(([1.0], later))))
    weights /= weights.sum()
    mean = weights @ months
    return math.sqrt(weights @ (months - mean) ** 2)


def describe_metric(values: np.ndarray, null_is_late: bool = False, whole_months: bool = False) -> dict:
    """Moments and percentiles of one metric (NaN = null), each with its standard error."""
    defined = values[~np.isnan(values)]
    n, n_null = int(defined.size), int(values.size - defined.size)
    out: dict = {"n": n, "n_null": n_null}
    if n:
        # Moments about a shift (the first value): exact for constant data, less cancellation.
        shifted = defined - defined[0]
        shifted_mean = float(np.mean(shifted))
        mean = float(defined[0]) + shifted_mean
        dev = shifted - shifted_mean
        var = float(np.mean(dev * dev))
        sd = math.sqrt(var * n / (n - 1)) if n > 1 else math.nan
        m4 = float(np.mean(dev ** 4))
        sd_se = math.sqrt(max(m4 - var * var, 0.0) / (4.0 * var * n)) if var > 0 else 0.0
        out["mean"] = estimate(mean, sd / math.sqrt(n))
        out["sd"] = estimate(sd, sd_se if n > 1 else None)
    else:
        out["mean"] = out["sd"] = estimate(None, None)
    ranked = np.sort(np.where(np.isnan(values), np.inf, values)) if null_is_late else np.sort(defined)
    for p in PERCENTILES:
        value, se = percentile_with_se(ranked, p / 100.0)
        if whole_months and math.isfinite(value):
            se = whole_month_se(ranked, p / 100.0)
        out[f"p{p}"] = estimate(value, se if math.isfinite(value) else None)
    out["coverage"] = coverage(n, int(values.size), null_is_late)
    return out


def cvar(values: np.ndarray, alpha: float = 0.05) -> dict:
    """Mean of the worst `alpha` share of values (lower tail) with its standard error."""
    x = np.sort(values[~np.isnan(values)])
    n = x.size
    if n == 0:
        return estimate(None, None)
    k = max(1, math.ceil(alpha * n))
    tail = x[:k]
    es = float(tail.mean())
    q = float(x[k - 1])
    var_tail = float(tail.var())
    se = math.sqrt((var_tail + (1.0 - alpha) * (es - q) * (es - q)) / (n * alpha)) if n > 1 else None
    return estimate(es, se)


def summarize_columns(columns: dict[str, np.ndarray], decision) -> dict:
    """The run summary from metric columns held in memory (NaN = null)."""
    npv = columns["npv"]
    n = int(npv.size)
    metrics = {m.name: describe_metric(columns[m.name], null_is_late=m.null_ranks_last, whole_months=m.histogram)
               for m in registry.summarized()}
    out = {
        "trials": n,
        "metrics": metrics,
        "p_npv_negative": probability(int(np.count_nonzero(npv < 0)), n),
        "cvar5_npv": cvar(npv),
        "targets": {},
    }
    met_all = np.ones(n, dtype=bool)
    any_target = False
    # NaN compares False, so a null metric never meets a target.
    for rule, target in registry.decision_targets(decision):
        hits = rule.met(columns[rule.metric], target)
        met_all &= hits
        any_target = True
        out["targets"][rule.key] = {"target": target, "probability": probability(int(hits.sum()), n)}
    if any_target:
        out["targets"]["all"] = {"probability": probability(int(met_all.sum()), n)}
    return out
