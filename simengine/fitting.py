"""Fit distribution families to a user's own history (past overruns, durations, ...).

Each candidate family is fitted by maximum likelihood with scipy (`rv_continuous.fit`),
then ranked by AIC = 2 k - 2 ln L (k = the parameters fitted); the Kolmogorov-Smirnov
distance to the data is shown beside it (its p-value would be optimistic, since the
parameters come from the same data, so none is shown). The best fit is written as a TOML
inline table, ready to paste into a scenario; every candidate converts to one of
simengine's own families, so what is pasted is exactly what was fitted.

Fits need 5 values per parameter (10 at least), and a constant column is refused: it is a
fixed amount, not a distribution. A family that does not apply is reported with the reason.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats

from .distributions import fmt, parse_distribution
from .errors import InputError

#: Values needed per fitted parameter: with fewer, maximum likelihood mostly fits the noise
#: (a 4-parameter beta needs 20 values, a 2-parameter normal 10).
MIN_PER_PARAMETER = 5
#: Parameters each family fits (the lognormal's location is fixed at 0).
PARAMETERS = {"normal": 2, "lognormal": 2, "shifted_lognormal": 3, "beta": 4, "uniform": 2, "triangular": 3}
#: The fewest values any fit needs: those of the families with the fewest parameters.
MIN_OBSERVATIONS = MIN_PER_PARAMETER * min(PARAMETERS.values())
#: A spread (max - min) at most this fraction of the largest |value| is zero to rounding.
RELATIVE_SPREAD = 1e-12


class NotApplicable(Exception):
    """A family that cannot describe these values; the message says why."""


def _normal(x):
    mean, sd = stats.norm.fit(x)
    return {"dist": "normal", "mean": mean, "sd": sd}


def _lognormal(x):
    if (below := int(np.count_nonzero(x <= 0))):
        raise NotApplicable(f"needs every value > 0 ({below} {'is' if below == 1 else 'are'} <= 0)")
    sigma, _, scale = stats.lognorm.fit(x, floc=0.0)
    return {"dist": "lognormal", "mu": math.log(scale), "sigma": sigma}


def _shifted_lognormal(x):
    """A lognormal with a shift: for overruns that can be negative (a ratio minus 1)."""
    sigma, loc, scale = stats.lognorm.fit(x)
    if not sigma > 0:
        raise NotApplicable(f"the maximum-likelihood fit has sigma {fmt(float(sigma))}, not > 0")
    if not np.min(x) > loc:
        raise NotApplicable(f"the maximum-likelihood shift {fmt(float(loc))} is not below the smallest "
                            f"value {fmt(float(np.min(x)))}")
    return {"dist": "lognormal", "mu": math.log(scale), "sigma": sigma, "shift": loc}


def _beta(x):
    a, b, loc, scale = stats.beta.fit(x)
    if not (a > 0 and b > 0 and scale > 0):
        raise NotApplicable(f"the maximum-likelihood fit is not a beta (alpha {fmt(float(a))}, "
                            f"beta {fmt(float(b))}, width {fmt(float(scale))})")
    return {"dist": "beta", "alpha": a, "beta": b, "min": loc, "max": loc + scale}


def _uniform(x):
    return {"dist": "uniform", "min": float(np.min(x)), "max": float(np.max(x))}


def _triangular(x):
    c, loc, scale = stats.triang.fit(x)
    return {"dist": "triangular", "min": loc, "mode": loc + c * scale, "max": loc + scale}


CANDIDATES = {"normal": _normal, "lognormal": _lognormal, "shifted_lognormal": _shifted_lognormal,
              "beta": _beta, "uniform": _uniform, "triangular": _triangular}


def require_fittable(values: np.ndarray, what: str = "the data", skipped: str = "") -> None:
    """Refuse too few values, or a constant (all equal, or a spread that is zero to rounding):
    neither has a distribution to fit. `what` names the data, `skipped` says what was left out."""
    n = int(values.size)
    if n < MIN_OBSERVATIONS:
        raise InputError(f"{what} has {n} value{'' if n == 1 else 's'}; fitting needs at least {MIN_OBSERVATIONS} "
                         f"({MIN_PER_PARAMETER} per fitted parameter){f'; {skipped}' if skipped else ''}")
    if np.ptp(values) <= RELATIVE_SPREAD * np.max(np.abs(values)):
        value = fmt(float(np.median(values)))
        raise InputError(f"{what}: all {n} values are {value}; a constant is a fixed amount, not a distribution "
                         f"(write {value} in the scenario)")


def check_families(families) -> None:
    """A one-line error for a family name that is not a candidate."""
    for name in families or ():
        if name not in CANDIDATES:
            raise InputError(f"--families: unknown family {name!r}; known: {', '.join(CANDIDATES)}")


def fit_candidates(values: np.ndarray, families=None) -> tuple[list[dict], list[dict]]:
    """(fits, not fitted): every candidate's fitted parameters, log-likelihood, AIC and KS distance,
    best AIC first; and {family, reason} for each candidate that does not apply to these values."""
    check_families(families)
    require_fittable(values)
    results, not_fitted = [], []
    for name in families or CANDIDATES:
        try:
            results.append(fit_one(name, values))
        except NotApplicable as exc:
            not_fitted.append({"family": name, "reason": str(exc)})
    results.sort(key=lambda r: r["aic"])
    return results, not_fitted


def fit(values: np.ndarray, families=None) -> list[dict]:
    """The candidates that apply, best AIC first (see fit_candidates)."""
    return fit_candidates(values, families)[0]


def fit_one(name: str, values: np.ndarray) -> dict:
    """One family fitted by maximum likelihood, or NotApplicable saying why it cannot be."""
    k = PARAMETERS[name]
    if values.size < MIN_PER_PARAMETER * k:
        raise NotApplicable(f"needs at least {MIN_PER_PARAMETER * k} values for its {k} parameters "
                            f"(there are {values.size})")
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's optimizers warn on poor candidates; AIC judges them
        try:
            raw = CANDIDATES[name](values)
        except (ValueError, RuntimeError, FloatingPointError) as exc:
            raise NotApplicable(f"scipy's fit failed ({first_line(exc)})") from None
    raw = {key: (float(v) if not isinstance(v, str) else v) for key, v in raw.items()}
    try:
        dist = parse_distribution(raw, name).to_scipy()
    except InputError as exc:
        raise NotApplicable(f"the fitted parameters are not a valid {raw['dist']} ({first_line(exc)})") from None
    with np.errstate(all="ignore"):
        logpdf = dist.logpdf(values)
    if not np.all(np.isfinite(logpdf)):
        outside = int(np.count_nonzero(~np.isfinite(logpdf)))
        raise NotApplicable(f"the fitted density is zero at {outside} of the values")
    loglik = float(np.sum(logpdf))
    return {"family": name, "distribution": raw, "parameters": k, "log_likelihood": loglik,
            "aic": 2 * k - 2 * loglik, "ks_distance": float(stats.kstest(values, dist.cdf).statistic)}


def first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def toml_inline(raw: dict) -> str:
    """`{ dist = "lognormal", mu = 0.12, sigma = 0.3 }` with enough digits to reproduce the fit."""
    parts = [f'dist = "{raw["dist"]}"'] + [f"{k} = {v!r}" for k, v in raw.items() if k != "dist"]
    return "{ " + ", ".join(parts) + " }"


def describe_data(values: np.ndarray) -> str:
    q = np.quantile(values, [0.1, 0.5, 0.9])
    return (f"{values.size} values, mean {fmt(float(values.mean()))}, P10 {fmt(float(q[0]))}, "
            f"P50 {fmt(float(q[1]))}, P90 {fmt(float(q[2]))}")
