"""The metalog distribution (Keelin 2016): a quantile function fitted exactly through 3 to 9 quantiles.

M(y) = sum_k a_k phi_k(y), with phi_1 = 1, phi_2 = L, phi_3 = (y - 1/2) L, phi_4 = y - 1/2,
then alternately (y - 1/2)^j and (y - 1/2)^j L for j = 2, 3, 4, where L = ln(y / (1 - y)).
With n quantile pairs (p_i, x_i) and n terms the coefficients solve a square linear system,
so the fitted distribution passes through every given quantile. Bounds transform x:
  unbounded  x = M(y)
  lower b_l  x = b_l + e^M(y)                (M fitted to ln(x - b_l))
  upper b_u  x = b_u - e^-M(y)               (M fitted to -ln(b_u - x))
  both       x = (b_l + b_u e^M) / (1 + e^M) (M fitted to ln((x - b_l) / (b_u - x)))
The result is a distribution only if M is increasing on (0, 1); that is checked on a dense
grid reaching far into both tails, and quantiles that fail it are an input error.
"""

from __future__ import annotations

import numpy as np

MIN_TERMS, MAX_TERMS = 3, 9
UNBOUNDED, LOWER, UPPER, BOTH = 0, 1, 2, 3


def basis(y: np.ndarray, terms: int) -> np.ndarray:
    """The first `terms` metalog basis functions at probabilities y (len(y) x terms)."""
    y = np.asarray(y, dtype=float)
    logit = np.log(y / (1.0 - y))
    c = y - 0.5
    cols = [np.ones_like(y), logit, c * logit, c]
    for k in range(5, terms + 1):
        power = (k - 1) // 2
        cols.append(c ** power if k % 2 == 1 else c ** (power) * logit)
    return np.column_stack(cols[:terms])


def transform(x: np.ndarray, kind: int, lower: float, upper: float) -> np.ndarray:
    """The values M must take at the given quantiles, for each kind of bounds."""
    if kind == LOWER:
        return np.log(x - lower)
    if kind == UPPER:
        return -np.log(upper - x)
    if kind == BOTH:
        return np.log((x - lower) / (upper - x))
    return x


def untransform(m: np.ndarray, kind: int, lower: float, upper: float) -> np.ndarray:
    if kind == LOWER:
        return lower + np.exp(m)
    if kind == UPPER:
        return upper - np.exp(-m)
    if kind == BOTH:
        return (lower + upper * np.exp(m)) / (1.0 + np.exp(m))
    return m


def fit(probabilities, values, kind: int, lower: float, upper: float) -> np.ndarray:
    """Coefficients of the metalog through (p_i, x_i), one term per pair."""
    p = np.asarray(probabilities, dtype=float)
    return np.linalg.solve(basis(p, p.size), transform(np.asarray(values, dtype=float), kind, lower, upper))


def check_grid() -> np.ndarray:
    """Probabilities from 1e-12 to 1 - 1e-12, dense in logit space (the tails matter)."""
    z = np.linspace(-27.6, 27.6, 20001)
    return 1.0 / (1.0 + np.exp(-z))


def is_increasing(coefficients: np.ndarray) -> bool:
    """Whether M is strictly increasing over the check grid (so x(y) is a quantile function)."""
    m = basis(check_grid(), coefficients.size) @ coefficients
    return bool(np.all(np.diff(m) > 0) and np.all(np.isfinite(m)))


def quantile(y, coefficients: np.ndarray, kind: int, lower: float, upper: float) -> np.ndarray:
    """x(y) (the kernel's twin, for fitting checks and tests)."""
    return untransform(basis(np.atleast_1d(y), coefficients.size) @ coefficients, kind, lower, upper)
