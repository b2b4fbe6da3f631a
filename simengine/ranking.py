"""Which drivers move a metric: rank correlations, variance shares and swings from stored trials.

For every sampled driver in a result file (run with --columns all), against one metric:
- Spearman's rank correlation (ties get average ranks), with the standard error
  (1 - rho^2) / sqrt(n - 3), the large-sample value for normal scores (Fieller et al. 1957);
- its share of explained variance: rho^2 / sum of every driver's rho^2, the usual
  "contribution to variance" of spreadsheet risk tools (exact for independent drivers and a
  rank-linear metric; with correlated drivers a guide, not a decomposition);
- its swing: the mean metric over trials with the driver at or below its 10th percentile
  and at or above its 90th, each with its standard error (for a 0/1 event driver: without
  and with the event).
No simulation is run. Trials where the metric is null are left out (and counted), except for
payback, where "never" ranks after every month as in the summary: such trials count in the
rank correlation, and each decile reports the mean over the trials that pay back beside the
number that never do (a mean cannot hold "never").
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from . import metrics as registry
from .errors import InputError, ResultFileError
from .stored import open_stored, require_columns
from .scenario import scenario_from_json

#: The metrics offered to `simengine sensitivity` (from the registry, simengine/metrics.py).
SENSITIVITY_METRICS = registry.sensitivity_names()
DECILE = 0.10


def mean_with_se(x: np.ndarray) -> tuple[float | None, float | None]:
    if x.size == 0:
        return None, None
    se = float(np.std(x, ddof=1) / math.sqrt(x.size)) if x.size > 1 else None
    return float(x.mean()), se


def driver_effect(driver: np.ndarray, metric: np.ndarray, metric_ranks: np.ndarray, count_never: bool = False) -> dict:
    """Spearman's rho (with se) and the decile swing of one driver against the metric.

    With `count_never`, the metric's +inf values ("never") rank last in rho, and each decile
    also counts them (`never`); its mean is over the finite values."""
    n = metric.size
    ranks = stats.rankdata(driver)
    if np.all(ranks == ranks[0]):
        rho = 0.0
    else:
        rho = float(np.corrcoef(ranks, metric_ranks)[0, 1])
    low_cut, high_cut = np.quantile(driver, [DECILE, 1.0 - DECILE], method="inverted_cdf")
    in_low, in_high = driver <= low_cut, driver >= high_cut
    # A driver with ties at its ends (an event's 0/1) can put a decile cut on its min or max:
    # then the groups are the values strictly beyond the other end (without / with the event).
    if low_cut == driver.max():
        in_low = driver < low_cut
    if high_cut == driver.min():
        in_high = driver > high_cut
    finite = np.isfinite(metric)
    low = metric[in_low & finite]
    high = metric[in_high & finite]
    low_mean, low_se = mean_with_se(low)
    high_mean, high_se = mean_with_se(high)
    swing = swing_se = None
    if low_mean is not None and high_mean is not None:
        swing = high_mean - low_mean
        if low_se is not None and high_se is not None:
            swing_se = math.hypot(low_se, high_se)
    out = {
        "spearman": {"value": rho, "se": (1.0 - rho * rho) / math.sqrt(n - 3) if n > 3 else None},
        "low": {"value": low_mean, "se": low_se, "trials": int(low.size), "driver_at_most": float(low_cut)},
        "high": {"value": high_mean, "se": high_se, "trials": int(high.size), "driver_at_least": float(high_cut)},
        "swing": {"value": swing, "se": swing_se},
    }
    if count_never:
        out["low"]["never"] = int(np.count_nonzero(in_low & ~finite))
        out["high"]["never"] = int(np.count_nonzero(in_high & ~finite))
    return out


def sensitivity(path, metric: str = "npv", max_trials: int | None = None) -> dict:
    """The sensitivity table of `metric` in a result file, drivers ranked by |Spearman|.

    With `max_trials`, only the file's first `max_trials` trials are used (a report on a
    huge run needs the ranking, not every trial).
    """
    if metric not in SENSITIVITY_METRICS:
        raise InputError(f"--metric: {metric!r} is not one of {', '.join(SENSITIVITY_METRICS)}")
    stored = open_stored(path)
    meta = stored.metadata
    scenario = scenario_from_json(meta["scenario"])
    names = stored.schema.names
    if not scenario.drivers():
        raise ResultFileError(f"{stored.where}: scenario {scenario.name} has no sampled drivers: nothing to rank")
    drivers = [d for d in scenario.drivers() if d in names]
    require_columns(stored, [metric, *([] if drivers else scenario.drivers())], scenario.drivers(),
                    "sensitivity needs the drivers and the metrics stored; this result was run with "
                    f"--columns {meta.get('columns', 'all')} (use --columns all)")
    limit = int(meta["trials"]) if max_trials is None else max_trials
    values = stored.head([metric], limit)[metric]
    nulls = np.isnan(values)
    null_is_never = registry.is_metric(metric) and registry.metric(metric).null_ranks_last
    if null_is_never:
        keep = np.ones(values.size, dtype=bool)
        values = np.where(nulls, np.inf, values)  # "never" ranks after every month
    else:
        keep = ~nulls
        values = values[keep]
    if values.size < 10:
        raise ResultFileError(f"{stored.where}: too few trials with {metric} defined ({values.size}) for a "
                              "sensitivity table")
    metric_ranks = stats.rankdata(values)
    if np.all(metric_ranks == metric_ranks[0]):  # every rank correlation would be 0 / 0
        raise ResultFileError(f"{stored.where}: {metric} is the same in every one of the {values.size:,} trials "
                              "used: no driver moves it, so there is nothing to rank")
    rows = []
    for name in drivers:
        column = stored.head([name], limit)[name][keep]
        rows.append({"driver": name, **driver_effect(column, values, metric_ranks, count_never=null_is_never)})
    total = sum(r["spearman"]["value"] ** 2 for r in rows)
    for r in rows:
        r["variance_share"] = r["spearman"]["value"] ** 2 / total if total > 0 else 0.0
    rows.sort(key=lambda r: -abs(r["spearman"]["value"]))
    return {"scenario": scenario.name, "metric": metric, "currency": scenario.currency,
            "trials": int(keep.size), "trials_used": int(values.size),
            "trials_null": int(nulls.sum()),
            "nulls": "rank last (never)" if null_is_never else "left out",
            "drivers": rows}
