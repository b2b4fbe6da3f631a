"""Fit distribution families to a user's own history (past overruns, durations, ...).

Each candidate family is fitted by maximum likelihood with scipy (`rv_continuous.fit`),
then ranked by AIC = 2 k - 2 ln L (k = the parameters fitted); the Kolmogorov-Smirnov
distance to the data is shown beside it (its p-value would be optimistic, since the
parameters come from the same data, so none is shown). The best fit is written as a TOML
inline table, ready to paste into a scenario; every candidate converts to one of
simengine's own families, so what is pasted is exactly what was fitted.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
from scipy import stats

from .distributions import fmt, parse_distribution
from .errors import InputError

MIN_OBSERVATIONS = 8


def _normal(x):
    mean, sd = stats.norm.fit(x)
    return {"dist": "normal", "mean": mean, "sd": sd}, 2


def _lognormal(x):
    if np.min(x) <= 0:
        return None
    sigma, _, scale = stats.lognorm.fit(x, floc=0.0)
    return {"dist": "lognormal", "mu": math.log(scale), "sigma": sigma}, 2


def _shifted_lognormal(x):
    """A lognormal with a shift: for overruns that can be negative (a ratio minus 1)."""
    sigma, loc, scale = stats.lognorm.fit(x)
    if not (sigma > 0 and np.min(x) > loc):
        return None
    return {"dist": "lognormal", "mu": math.log(scale), "sigma": sigma, "shift": loc}, 3


def _beta(x):
    a, b, loc, scale = stats.beta.fit(x)
    if not (a > 0 and b > 0 and scale > 0):
        return None
    return {"dist": "beta", "alpha": a, "beta": b, "min": loc, "max": loc + scale}, 4


def _uniform(x):
    return {"dist": "uniform", "min": float(np.min(x)), "max": float(np.max(x))}, 2


def _triangular(x):
    c, loc, scale = stats.triang.fit(x)
    return {"dist": "triangular", "min": loc, "mode": loc + c * scale, "max": loc + scale}, 3


CANDIDATES = {"normal": _normal, "lognormal": _lognormal, "shifted_lognormal": _shifted_lognormal,
              "beta": _beta, "uniform": _uniform, "triangular": _triangular}


def read_column(path: Path, column: str | None) -> np.ndarray:
    """The finite values of one numeric column of a CSV or Parquet file."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq
        table = pq.read_table(path)
    else:
        from pyarrow import csv
        try:
            table = csv.read_csv(path)
        except Exception as exc:  # pyarrow raises several types for malformed CSV
            raise InputError(f"{path}: cannot read as CSV ({exc})") from None
    numeric = [f.name for f in table.schema if pa.types.is_integer(f.type) or pa.types.is_floating(f.type)]
    if column is None:
        if len(numeric) != 1:
            raise InputError(f"{path}: give --column, one of {', '.join(numeric) or '(no numeric columns)'}")
        column = numeric[0]
    if column not in table.schema.names:
        raise InputError(f"--column: {column!r} is not a column of {path}; columns: {', '.join(table.schema.names)}")
    if column not in numeric:
        raise InputError(f"--column: {column!r} is not numeric")
    values = table.column(column).to_numpy(zero_copy_only=False).astype(float)
    values = values[np.isfinite(values)]
    if values.size < MIN_OBSERVATIONS:
        raise InputError(f"{path}: {column!r} has {values.size} finite values; fitting needs at least {MIN_OBSERVATIONS}")
    return values


def fit(values: np.ndarray, families=None) -> list[dict]:
    """Every candidate's fitted parameters, log-likelihood, AIC and KS distance, best AIC first."""
    results = []
    for name in families or CANDIDATES:
        if name not in CANDIDATES:
            raise InputError(f"--families: unknown family {name!r}; known: {', '.join(CANDIDATES)}")
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy's optimizers warn on poor candidates; AIC judges them
            try:
                fitted = CANDIDATES[name](values)
            except (ValueError, RuntimeError, FloatingPointError):
                fitted = None
        if fitted is None:
            continue
        raw, k = fitted
        raw = {key: (float(v) if not isinstance(v, str) else v) for key, v in raw.items()}
        try:
            dist = parse_distribution(raw, name).to_scipy()
        except InputError:
            continue
        with np.errstate(all="ignore"):
            loglik = float(np.sum(dist.logpdf(values)))
        if not math.isfinite(loglik):
            continue
        results.append({"family": name, "distribution": raw, "parameters": k, "log_likelihood": loglik,
                        "aic": 2 * k - 2 * loglik, "ks_distance": float(stats.kstest(values, dist.cdf).statistic)})
    results.sort(key=lambda r: r["aic"])
    return results


def toml_inline(raw: dict) -> str:
    """`{ dist = "lognormal", mu = 0.12, sigma = 0.3 }` with enough digits to reproduce the fit."""
    parts = [f'dist = "{raw["dist"]}"'] + [f"{k} = {v!r}" for k, v in raw.items() if k != "dist"]
    return "{ " + ", ".join(parts) + " }"


def describe_data(values: np.ndarray) -> str:
    q = np.quantile(values, [0.1, 0.5, 0.9])
    return (f"{values.size} values, mean {fmt(float(values.mean()))}, P10 {fmt(float(q[0]))}, "
            f"P50 {fmt(float(q[1]))}, P90 {fmt(float(q[2]))}")
