"""Reference classes: published evidence on IT and CRM outcomes, shipped as priors for scenario inputs.

The presets live in `reference_classes.toml` beside this module: per class and quantity a
distribution (in simengine's own format), its sources, and the published figures it was
fitted to, each with a tolerance. A scenario field can name one instead of a hand-made
distribution (`cost_overrun = { reference_class = "crm" }`); the resolved distribution is
stored with the scenario, so a result file reproduces even after the presets change.
"""

from __future__ import annotations

import functools
import math
import tomllib
from pathlib import Path

import numpy as np

from .errors import ScenarioError

DATA = Path(__file__).with_name("reference_classes.toml")
#: Scenario fields a reference class can fill, and the quantity each one is.
FIELDS = {
    "risks.cost_overrun": "cost_overrun",
    "risks.schedule_overrun": "schedule_overrun",
    "benefits.realization": "benefits_realization",
    "adoption.ceiling": "adoption_ceiling",
}


@functools.lru_cache(maxsize=1)
def presets() -> dict:
    """The parsed presets file: {"version": ..., "classes": {name: {quantity: {...}}}}."""
    with DATA.open("rb") as f:
        return tomllib.load(f)


def version() -> str:
    return presets()["version"]


def preset(name: str, quantity: str, path: str) -> dict:
    """One class's preset for one quantity, or a one-line error naming what exists."""
    from .distributions import suggest

    classes = presets()["classes"]
    if name not in classes:
        raise ScenarioError(f"{path}.reference_class", f"unknown reference class {name!r}{suggest(name, classes)}; "
                            f"known: {', '.join(classes)}")
    if quantity not in classes[name]:
        have = [q for q in classes[name] if isinstance(classes[name][q], dict)]
        raise ScenarioError(f"{path}.reference_class", f"class {name!r} has no {quantity} preset; it has "
                            f"{', '.join(have)}")
    return classes[name][quantity]


def bound95(p: float, n: int) -> float | None:
    """The exact one-sided 95 % bound of a share seen in 0 of n draws (upper) or n of n (lower),
    as `summary.probability` gives it for trials; None for any other share."""
    from .summary import probability

    est = probability(round(p * n), n)
    return est.get("upper95", est.get("lower95"))


def implied(figure: dict, sample: np.ndarray) -> tuple[float, float | None]:
    """The value a figure takes on a sample of the distribution, with its Monte Carlo standard error
    (None for a probability seen in none or all of the draws: see `bound95`).

    Statistics: `mean`; `p_above`, `p_at_least`, `p_below` a `threshold`; `p_outside` the
    interval [`low`, `high`]; `tail_mean`, the mean of the largest `share` of the sample;
    `tail_exponent`, the power-law exponent of the ratio 1 + x between the thresholds `low`
    and `high`, ln(P(X > low) / P(X > high)) / ln((1 + high) / (1 + low)).
    """
    n = sample.size
    statistic = figure["statistic"]
    if statistic == "mean":
        return float(sample.mean()), float(sample.std(ddof=1) / math.sqrt(n))
    if statistic in ("p_above", "p_at_least", "p_below", "p_outside"):
        if statistic == "p_above":
            hits = sample > figure["threshold"]
        elif statistic == "p_at_least":
            hits = sample >= figure["threshold"]
        elif statistic == "p_below":
            hits = sample < figure["threshold"]
        else:
            hits = (sample < figure["low"]) | (sample > figure["high"])
        from .summary import probability

        # the summary's share and standard error: none (not 0) for 0 or n of n; `bound95` gives the bound
        est = probability(int(np.count_nonzero(hits)), n)
        return est["value"], est["se"]
    if statistic == "tail_mean":
        k = max(1, int(round(figure["share"] * n)))
        top = np.partition(sample, n - k)[n - k:]
        # the spread of the tail values over sqrt(k); the error of the cut-off quantile is
        # second order for a conditional mean (its derivative in the cut-off is zero at the quantile)
        return float(top.mean()), float(top.std(ddof=1) / math.sqrt(k)) if k > 1 else math.inf
    if statistic == "tail_exponent":
        above_low = int(np.count_nonzero(sample > figure["low"]))
        above_high = int(np.count_nonzero(sample > figure["high"]))
        if above_high == 0:
            return math.nan, math.inf
        span = math.log((1.0 + figure["high"]) / (1.0 + figure["low"]))
        # ln(n_low / n_high): binomial counts, the second nested in the first (delta method)
        return (math.log(above_low / above_high) / span,
                math.sqrt(max(1.0 / above_high - 1.0 / above_low, 0.0)) / span)
    raise ValueError(f"unknown statistic {statistic!r}")
