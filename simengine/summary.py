"""Summary of a run (MODEL.md): moments, percentiles, tail risk and targets, each with its MC standard error.

Standard errors:
- mean: sd / sqrt(n);  sd: sqrt((m4 - s^4) / (4 s^2 n)) (delta method on the variance);
- a percentile: half the width of its distribution-free 95 % order-statistic interval
  (ranks n p -/+ 1.96 sqrt(n p (1 - p))) divided by 1.96, so no density estimate is needed;
- a probability: sqrt(p (1 - p) / n);
- CVaR at 5 %: sqrt((Var(X | X <= q) + (1 - a)(ES - q)^2) / (n a)) (Manistre & Hancock 2005).
Nulls are counted, never dropped silently: moments and percentiles of npv, roi, bcr and irr
use the defined trials (with `n_null` beside them); payback percentiles rank a trial that
never pays back as later than the horizon, so they are null ("never") once such trials
reach that percentile.
"""

from __future__ import annotations

import math

import numpy as np

from . import metrics as registry

#: The summarized metrics, in the summary's order (from the registry, simengine/metrics.py).
SUMMARY_METRICS = registry.summarized_names()
PERCENTILES = (5, 10, 50, 90, 95)
Z95 = 1.959963984540054
CVAR_ALPHA = 0.05


def finite_or_none(x) -> float | None:
    """A number for JSON: None where it is undefined (None, NaN or infinite)."""
    return None if x is None or not math.isfinite(x) else float(x)


def estimate(value, se) -> dict:
    """A JSON estimate: value and standard error, None where undefined."""
    return {"value": finite_or_none(value), "se": finite_or_none(se)}


def probability(hits: int, n: int) -> dict:
    """A share of trials with its binomial standard error."""
    if n == 0:
        return estimate(None, None)
    p = hits / n
    return estimate(p, math.sqrt(p * (1.0 - p) / n))


def percentile_with_se(sorted_x: np.ndarray, p: float) -> tuple[float, float]:
    """Percentile p (0..1, inverted-CDF definition) of sorted data and its order-statistic SE."""
    n = sorted_x.shape[0]
    if n == 0:
        return math.nan, math.nan
    rank = max(1, math.ceil(n * p))
    value = sorted_x[rank - 1]
    spread = Z95 * math.sqrt(n * p * (1.0 - p))
    lo = min(n, max(1, math.floor(n * p - spread)))
    hi = min(n, max(1, math.ceil(n * p + spread)))
    with np.errstate(invalid="ignore"):
        se = (sorted_x[hi - 1] - sorted_x[lo - 1]) / (2.0 * Z95)
    return float(value), float(se)


def describe_metric(values: np.ndarray, null_is_late: bool = False) -> dict:
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
        sd = math.sqrt(var * n / (n - 1)) if n > 1 else 0.0
        m4 = float(np.mean(dev ** 4))
        sd_se = math.sqrt(max(m4 - var * var, 0.0) / (4.0 * var * n)) if var > 0 else 0.0
        out["mean"] = estimate(mean, sd / math.sqrt(n))
        out["sd"] = estimate(sd, sd_se)
    else:
        out["mean"] = out["sd"] = estimate(None, None)
    ranked = np.sort(np.where(np.isnan(values), np.inf, values)) if null_is_late else np.sort(defined)
    for p in PERCENTILES:
        value, se = percentile_with_se(ranked, p / 100.0)
        out[f"p{p}"] = estimate(value, se if math.isfinite(value) else None)
    return out


def cvar(values: np.ndarray, alpha: float = CVAR_ALPHA) -> dict:
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
    se = math.sqrt((var_tail + (1.0 - alpha) * (es - q) ** 2) / (n * alpha))
    return estimate(es, se)


def summarize_columns(columns: dict[str, np.ndarray], decision) -> dict:
    """The run summary of MODEL.md from metric columns held in memory (NaN = null).

    The definition in its plainest form; runs use the streaming equivalent in
    summary_stream.py, and the tests check that the two agree.
    """
    npv = columns["npv"]
    n = int(npv.size)
    metrics = {m.name: describe_metric(columns[m.name], null_is_late=m.null_ranks_last)
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
