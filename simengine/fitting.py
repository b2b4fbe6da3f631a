"""Fit distribution families to a user's own history (past overruns, durations, ...).

Each candidate family is fitted by maximum likelihood with scipy (`rv_continuous.fit`),
except the uniform (below), then ranked by AIC = 2 k - 2 ln L (k = the parameters fitted);
the Kolmogorov-Smirnov distance to the data is shown beside it. The best fit is written as a
TOML inline table, ready to paste into a scenario; every candidate converts to one of
simengine's own families, so what is pasted is exactly what was fitted.

Fits need 5 values per parameter (10 at least), and a constant column is refused: it is a
fixed amount, not a distribution. A family that does not apply is reported with the reason.

A fit is offered (ranked, and suggested as the best) only when it is sound; otherwise it is
reported as not fitted, with the reason (`check_sound`):

- not degenerate: maximum likelihood can run to the edge of a family's parameter space,
  where the likelihood grows without bound or stops depending on the data, and AIC is then
  meaningless. Refused: a density that is infinite at a value; a shifted lognormal whose
  shift is within GAP (a millionth of the data's range) of the smallest value (the
  likelihood is unbounded there, the more so where values tie at the minimum) or more than
  MAX_WIDTH ranges below it (the normal limit: sigma -> 0, shift -> -inf); a beta with
  alpha < 1 (beta < 1) whose min (max) is within GAP of the smallest (largest) value, or
  with a shape parameter above MAX_SHAPE (the gamma or normal limit); and any fit whose
  P1 to P99 span (a bounded family: whose support) is more than MAX_WIDTH times the data's
  range.
- a fit that is not rejected by the KS test at P_MIN, with the fitted parameters. That
  p-value is optimistic (too high), since the parameters were fitted to the same values, so
  a fit it rejects fits poorly indeed.
- a snippet that the scenario validation accepts (`scenario.parse_scenario`): as the field
  the user names, or else as a field that takes any finite number, so that every draw the
  sampler can make must be finite.

The uniform is not scipy's maximum-likelihood fit (the smallest and largest value, which are
biased inward: a new value falls outside them with probability 2 / (n + 1)), but the unbiased
estimates min - (max - min) / (n - 1) and max + (max - min) / (n - 1); its AIC is taken at
those estimates, since the likelihood at the sample extremes is not comparable with the
other families' (it rises without bound as the support shrinks onto the values).
"""

from __future__ import annotations

import math
import tomllib
import warnings

import numpy as np
from scipy import stats

from .distributions import fmt, parse_distribution
from .errors import InputError, ScenarioError

#: Values needed per fitted parameter: with fewer, maximum likelihood mostly fits the noise
#: (a 4-parameter beta needs 20 values, a 2-parameter normal 10).
MIN_PER_PARAMETER = 5
#: Parameters each family fits (the lognormal's location is fixed at 0).
PARAMETERS = {"normal": 2, "lognormal": 2, "shifted_lognormal": 3, "beta": 4, "uniform": 2, "triangular": 3}
#: The fewest values any fit needs: those of the families with the fewest parameters.
MIN_OBSERVATIONS = MIN_PER_PARAMETER * min(PARAMETERS.values())
#: A spread (max - min) at most this fraction of the largest |value| is zero to rounding.
RELATIVE_SPREAD = 1e-12
#: A fit is offered only if the KS test with its fitted parameters gives at least this p-value.
P_MIN = 0.01
#: A support end this close to a value (as a fraction of the data's range) is at the value.
GAP = 1e-6
#: A beta shape parameter above this is at the edge of its space (the gamma or normal limit).
MAX_SHAPE = 1e3
#: A fit spanning more than this many times the data's range has an absurd scale.
MAX_WIDTH = 100.0
#: The field a snippet is validated as when none is named: it takes any finite number.
NEUTRAL_FIELD = "risks.maintenance_load"


class NotApplicable(Exception):
    """A family that cannot describe these values, or whose fit is not sound; the message says why."""


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
    """The unbiased estimates of the ends, not scipy's maximum likelihood (the extremes)."""
    low, high = float(np.min(x)), float(np.max(x))
    pad = (high - low) / (x.size - 1)
    return {"dist": "uniform", "min": low - pad, "max": high + pad}


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
    with np.errstate(over="ignore"):  # a spread past the largest double is infinite, and no constant
        spread = np.ptp(values)
    if spread <= RELATIVE_SPREAD * np.max(np.abs(values)):
        value = fmt(float(np.median(values)))
        raise InputError(f"{what}: all {n} values are {value}; a constant is a fixed amount, not a distribution "
                         f"(write {value} in the scenario)")


def check_families(families) -> None:
    """A one-line error for a family name that is not a candidate."""
    for name in families or ():
        if name not in CANDIDATES:
            raise InputError(f"--families: unknown family {name!r}; known: {', '.join(CANDIDATES)}")


def fit_candidates(values: np.ndarray, families=None, field: str | None = None) -> tuple[list[dict], list[dict]]:
    """(fits, not fitted): every sound candidate's fitted parameters, log-likelihood, AIC, KS distance
    and KS p-value, best AIC first; and {family, reason} for each candidate that does not apply to
    these values or whose fit is not sound (see check_sound; `field` is the scenario field the
    snippet is validated as, None for any finite number)."""
    check_families(families)
    check_field(field)
    require_fittable(values)
    results, not_fitted = [], []
    for name in families or CANDIDATES:
        try:
            results.append(fit_one(name, values, field))
        except NotApplicable as exc:
            not_fitted.append({"family": name, "reason": str(exc)})
    results.sort(key=lambda r: r["aic"])
    return results, not_fitted


def fit(values: np.ndarray, families=None, field: str | None = None) -> list[dict]:
    """The sound candidates, best AIC first (see fit_candidates)."""
    return fit_candidates(values, families, field)[0]


def fit_one(name: str, values: np.ndarray, field: str | None = None) -> dict:
    """One family fitted by maximum likelihood, or NotApplicable saying why it cannot be, or why
    its fit is not sound."""
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
    if np.any(np.isnan(logpdf) | (logpdf == -np.inf)):
        outside = int(np.count_nonzero(np.isnan(logpdf) | (logpdf == -np.inf)))
        raise NotApplicable(f"the fitted density is zero at {outside} of the values")
    if np.any(logpdf == np.inf):
        raise NotApplicable(f"degenerate fit (the fitted density is infinite at {int(np.sum(logpdf == np.inf))} "
                            "of the values: the likelihood is unbounded there)")
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ks = stats.kstest(values, dist.cdf)
    loglik = float(np.sum(logpdf))
    result = {"family": name, "distribution": raw, "parameters": k, "log_likelihood": loglik,
              "aic": 2 * k - 2 * loglik, "ks_distance": float(ks.statistic), "ks_pvalue": float(ks.pvalue)}
    check_sound(result, dist, values, field)
    return result


def check_sound(result: dict, dist, values: np.ndarray, field: str | None = None) -> None:
    """NotApplicable with the reason unless the fit is sound (the module's docstring gives the
    criteria): not degenerate, not rejected by the KS test, and accepted by the scenario validation."""
    reason = degenerate(result["family"], result["distribution"], dist, values)
    if reason:
        raise NotApplicable(f"degenerate fit ({reason})")
    if not result["ks_pvalue"] >= P_MIN:
        raise NotApplicable(f"fits poorly (KS distance {result['ks_distance']:.4f}, p-value "
                            f"{result['ks_pvalue']:.2g} < {P_MIN}, and optimistic: the parameters were "
                            "fitted to these same values)")
    refusal = scenario_refusal(result["distribution"], field)
    if refusal:
        raise NotApplicable(refusal)


def degenerate(name: str, raw: dict, dist, values: np.ndarray) -> str:
    """Why the fit is at a degenerate edge of its family's parameters, or ''."""
    low, high = float(np.min(values)), float(np.max(values))
    spread = high - low
    if name == "shifted_lognormal":
        shift, sigma = raw["shift"], raw["sigma"]
        if low - shift <= GAP * spread:
            return (f"sigma {fmt(sigma)} at a shift of {fmt(shift)}: the likelihood is unbounded "
                    f"{_at_end(values, low, 'minimum', 'shift')}")
        if low - shift > MAX_WIDTH * spread:
            return (f"a shift of {fmt(shift)}, {(low - shift) / spread:.2g} times the data's range below the "
                    f"smallest value, with sigma {fmt(sigma)}: the fit ran to the normal limit, where the shift "
                    "is not set by the data")
    if name == "beta":
        a, b, lo, hi = raw["alpha"], raw["beta"], raw["min"], raw["max"]
        if a < 1 and low - lo <= GAP * spread:
            return (f"alpha {fmt(a)} at a min of {fmt(lo)}: the likelihood is unbounded "
                    f"{_at_end(values, low, 'minimum', 'min')}")
        if b < 1 and hi - high <= GAP * spread:
            return (f"beta {fmt(b)} at a max of {fmt(hi)}: the likelihood is unbounded "
                    f"{_at_end(values, high, 'maximum', 'max')}")
        if max(a, b) > MAX_SHAPE:
            shape = f"alpha {fmt(a)}" if a > b else f"beta {fmt(b)}"
            return (f"{shape} with a support of [{fmt(lo)}, {fmt(hi)}], {(hi - lo) / spread:.2g} times the "
                    f"data's range: a shape above {fmt(MAX_SHAPE)} is at the edge of its space, where the beta "
                    "becomes a gamma or a normal and its bounds are not set by the data")
    lo, hi = (float(v) for v in dist.support())
    what = "support"
    if not (math.isfinite(lo) and math.isfinite(hi)):
        with np.errstate(all="ignore"):
            lo, hi = (float(v) for v in dist.ppf([0.01, 0.99]))
        what = "P1 to P99"
    if not hi - lo <= MAX_WIDTH * spread:  # also when not finite
        return (f"its {what} [{fmt(lo)}, {fmt(hi)}] is {(hi - lo) / spread:.2g} times the data's range "
                f"{fmt(spread)}: an absurd scale for these values")
    return ""


def _at_end(values: np.ndarray, end: float, which: str, parameter: str) -> str:
    ties = int(np.count_nonzero(values == end))
    if ties > 1:
        return f"where values tie at the {which} ({ties} values are {fmt(end)})"
    return f"as the {parameter} reaches the {'smallest' if which == 'minimum' else 'largest'} value {fmt(end)}"


def scenario_with(field: str, value) -> dict:
    """A small scenario with `value` as `field` (a dotted path such as risks.cost_overrun or
    costs.NAME.amount), and what the field needs beside it (a cost's timing, an event's probability)."""
    data: dict = {"name": "fit check", "discount_rate": 0.0, "schedule": {"planned_months": 12.0}}
    parts = field.split(".")
    table = data
    for key in parts[:-1]:
        table = table.setdefault(key, {})
        if not isinstance(table, dict):
            raise InputError(f"--field: {field!r} is not a scenario field")
    if parts[0] == "costs" and len(parts) == 3:
        table.setdefault("timing", "upfront")
    if parts[0] == "events" and len(parts) == 3:
        table.setdefault("probability", 0.5)
    if parts[0] == "adoption" and parts[-1] in ("bass_p", "bass_q"):
        table["curve"] = "bass"
    table[parts[-1]] = value
    return data


def check_field(field: str | None) -> None:
    """A one-line error unless `field` is a numeric scenario field (None: none named)."""
    if field is None:
        return
    from .scenario import parse_scenario
    try:
        fields = parse_scenario(scenario_with(field, 1.0)).fields()
    except ScenarioError as exc:
        raise InputError(f"--field: {field!r} is not a scenario field ({exc})") from None
    if field not in fields:
        raise InputError(f"--field: {field!r} is not a numeric scenario field; e.g. {', '.join(list(fields)[:9])}, "
                         "costs.NAME.amount, benefits.streams.NAME.amount, events.NAME.cost")


def scenario_refusal(raw: dict, field: str | None = None) -> str:
    """Why the scenario validation refuses the snippet of `raw` as `field` (None: as a field that
    takes any finite number), or '' when it accepts it."""
    from .scenario import parse_scenario
    try:
        snippet = tomllib.loads(f"x = {toml_inline(raw)}")["x"]
        parse_scenario(scenario_with(field or NEUTRAL_FIELD, snippet))
    except ScenarioError as exc:
        problem = exc.problem if exc.path == (field or NEUTRAL_FIELD) else str(exc)
        return f"refused as {field or 'a scenario input'}: {problem}"
    except (InputError, tomllib.TOMLDecodeError) as exc:
        return f"refused as {field or 'a scenario input'}: {first_line(exc)}"
    return ""


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
