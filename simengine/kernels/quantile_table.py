"""Fast inverse CDFs from tables: cubic Hermite interpolation with exact nodes and slopes.

For families whose exact quantile function is costly (beta and PERT: scipy's incomplete
beta inverse takes ~2 us a draw) the quantile is tabulated once per distribution, twice:

- the bulk, u in [Phi(-2), Phi(2)] (95.4 % of draws): 8193 nodes equally spaced in u,
  slopes dx/du = 1 / f(x). A draw costs a few flops and no special function.
- the whole range in normal-score space, 4097 nodes equally spaced in z = Phi^-1(u) over
  |z| <= 8.3, slopes dx/dz = phi(z) / f(x). In z the quantile is smooth even in the tails
  where it is singular in u. Tail draws cost one ndtri; copula draws arrive as z already.

Both are accurate to ~1e-12 of the support width (tests/test_quantile_table.py measures it
against the exact inverse); the bulk table is checked against the z table when it is
built and dropped (every draw then goes through z) if it is ever worse than 1e-11.
"""

from __future__ import annotations

import numpy as np

from ..jit import jit

#: z range: uniforms are in [2^-53, 1 - 2^-53], i.e. |z| <= 8.21.
Z_MAX = 8.3
Z_NODES = 4097
#: The bulk table covers |z| <= Z_BULK in u.
Z_BULK = 2.0
U_NODES = 8193
#: Largest error (as a share of the support width) the bulk table may have against the z table.
BULK_TOLERANCE = 1e-11


def cubic_coefficients(h: float, x: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """Per cell k, the Hermite cubic as c0 + c1 t + c2 t^2 + c3 t^3 in t in [0, 1], flattened.

    Four contiguous doubles per cell: one cache line per draw, three multiply-adds.
    """
    x0, x1 = x[:-1], x[1:]
    m0, m1 = h * slope[:-1], h * slope[1:]
    coef = np.empty((x0.size, 4))
    coef[:, 0] = x0
    coef[:, 1] = m0
    coef[:, 2] = 3.0 * (x1 - x0) - 2.0 * m0 - m1
    coef[:, 3] = 2.0 * (x0 - x1) + m0 + m1
    return coef.reshape(-1)


def cubic_at_python(v, v0, inverse_h, coef):
    """The tabulated cubic at v: cell k = floor((v - v0) / h), clamped to the table."""
    s = (v - v0) * inverse_h
    last = coef.shape[0] // 4 - 1
    k = int(s) if s > 0.0 else 0
    if k > last:
        k = last
    t = s - k
    j = 4 * k
    return coef[j] + t * (coef[j + 1] + t * (coef[j + 2] + t * coef[j + 3]))


cubic_at = jit(cubic_at_python)


def cubic_many_python(v, v0, inverse_h, coef):
    """`cubic_at` over an array (the build-time check of the bulk table)."""
    out = np.empty(v.shape[0])
    for i in range(v.shape[0]):
        out[i] = cubic_at(v[i], v0, inverse_h, coef)
    return out


cubic_many = jit(cubic_many_python)


class QuantileTable:
    """Tables of a quantile function on [0, 1] built from exact `ppf_lower`, `ppf_upper`, `logpdf`.

    `ppf_lower(p)` must be exact for small p, `ppf_upper(q)` the quantile at 1 - q, exact for
    small q (so the upper tail keeps its precision). The sampling kernel reads the grids
    (`u0, uh, u1`, `z0, zh`) and the per-cell cubic coefficients `ucoef`, `zcoef`.
    """

    def __init__(self, ppf_lower, ppf_upper, logpdf):
        from scipy import special

        def values(p_lower, p_upper, lower):
            x = np.empty(lower.shape)
            x[lower] = ppf_lower(p_lower[lower])
            x[~lower] = ppf_upper(p_upper[~lower])
            return x

        def inverse_density(x, log_scale):
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                slope = np.exp(log_scale - logpdf(x))
            return np.where(np.isfinite(slope), slope, 0.0)

        z = np.linspace(-Z_MAX, Z_MAX, Z_NODES)
        zx = values(special.ndtr(z), special.ndtr(-z), z <= 0)
        zs = inverse_density(zx, -0.5 * z * z - 0.5 * np.log(2.0 * np.pi))
        self.z0, self.zh = float(z[0]), float(z[1] - z[0])

        u = np.linspace(special.ndtr(-Z_BULK), special.ndtr(Z_BULK), U_NODES)
        ux = values(u, 1.0 - u, u <= 0.5)
        us = inverse_density(ux, 0.0)
        self.u0, self.uh = float(u[0]), float(u[1] - u[0])
        self.u1 = float(u[-1])
        self.zcoef = cubic_coefficients(self.zh, zx, zs)
        self.ucoef = cubic_coefficients(self.uh, ux, us)
        if self.bulk_error() > BULK_TOLERANCE * (zx[-1] - zx[0]):
            self.u1 = self.u0  # an empty bulk: every draw goes through z

    def bulk_error(self) -> float:
        """Largest gap between the bulk and z tables at the bulk cells' midpoints."""
        from scipy import special

        mid = self.u0 + self.uh * (np.arange(U_NODES - 1) + 0.5)
        bulk = cubic_many(mid, self.u0, 1.0 / self.uh, self.ucoef)
        via_z = cubic_many(special.ndtri(mid), self.z0, 1.0 / self.zh, self.zcoef)
        return float(np.max(np.abs(bulk - via_z)))
