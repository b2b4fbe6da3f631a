"""Inverse CDFs of every distribution family, as one compiled column kernel.

A distribution becomes a `code`, a parameter vector and up to four tables (see
`QuantileSpec` in distributions.py); `quantile_column` maps a column of uniforms, or of
normal scores when a Gaussian copula produced them, to values in place. It is serial and
releases the GIL, so the sampler runs one column block per worker thread while it is hot
in cache. The normal CDF and its inverse are our ports of scipy's (kernels/normal.py), so
results equal scipy.special's bit for bit without importing it.
"""

from __future__ import annotations

import math

from ..jit import jit
from .normal import ndtr, ndtri
from .powers import int_power
from .quantile_table import cubic_at

from ..designs import U_MAX as U_TOP, U_MIN as U_BOTTOM  # the most extreme uniforms any design gives

# Family codes.
CONST, AFFINE, TRIANGULAR, TABLE, NORMAL, LOGNORMAL, TRUNCNORM, STEP, METALOG, PARETO, MIXTURE = range(11)
#: Families a MIXTURE component may be (closed-form CDF and quantile), and its parameter stride.
COMPONENT_CODES = (AFFINE, TRIANGULAR, NORMAL, LOGNORMAL, PARETO)
COMPONENT_STRIDE = 4
MIXTURE_ITERATIONS = 200
#: The mixture quantile's bracket is closed to this relative width (about 50 float steps),
#: far below any input's meaning; a bracket of adjacent floats costs many more steps.
MIXTURE_XTOL = 1e-14
#: Codes whose natural input is a normal score z rather than a uniform u.
Z_CODES = (TABLE, NORMAL, LOGNORMAL)

# Parameter slots of TABLE: the affine map y -> loc + scale * clip(y, 0, 1), then the bulk
# grid (u0, 1/h, u1) and the z grid (z0, 1/h). Tables: bulk and z cubic coefficients.
T_LOC, T_SCALE, T_U0, T_UH, T_U1, T_Z0, T_ZH = range(7)
# TRUNCNORM: mean, sd, the CDF window [pa, pb] (upper-tail CDF when mirrored), low, high.
N_MEAN, N_SD, N_PA, N_PB, N_MIRROR, N_LOW, N_HIGH = range(7)


def table_column_python(p, ucoef, zcoef, values, is_z):
    """TABLE: bulk draws from the u table, tail draws (and normal scores) from the z table."""
    loc, scale, u0, inv_uh, u1, z0, inv_zh = p[T_LOC], p[T_SCALE], p[T_U0], p[T_UH], p[T_U1], p[T_Z0], p[T_ZH]
    if is_z:
        for i in range(values.shape[0]):
            values[i] = loc + scale * min(max(cubic_at(values[i], z0, inv_zh, zcoef), 0.0), 1.0)
        return
    for i in range(values.shape[0]):
        v = values[i]
        if u0 <= v <= u1:
            y = cubic_at(v, u0, inv_uh, ucoef)
        else:
            y = cubic_at(ndtri(v), z0, inv_zh, zcoef)
        values[i] = loc + scale * min(max(y, 0.0), 1.0)


def step_column_python(cum_values, cum, values):
    """STEP: the smallest value whose cumulative probability reaches u (a binary search)."""
    last = cum.shape[0] - 1
    for i in range(values.shape[0]):
        u = values[i]
        lo, hi = 0, last
        while lo < hi:
            mid = (lo + hi) // 2
            if cum[mid] >= u:
                hi = mid
            else:
                lo = mid + 1
        values[i] = cum_values[lo]


def metalog_column_python(p, values):
    """METALOG: p = [bounds kind, lower, upper, terms, a_1..a_terms] (see simengine/metalog.py)."""
    kind, lower, upper, terms = int(p[0]), p[1], p[2], int(p[3])
    for i in range(values.shape[0]):
        y = values[i]
        logit = math.log(y / (1.0 - y))
        c = y - 0.5
        m = p[4] + p[5] * logit
        if terms > 2:
            m += p[6] * c * logit
        if terms > 3:
            m += p[7] * c
        for k in range(5, terms + 1):
            power = (k - 1) // 2
            term = int_power(c, power)
            m += p[3 + k] * (term if k % 2 == 1 else term * logit)
        if kind == 1:
            values[i] = lower + math.exp(m)
        elif kind == 2:
            values[i] = upper - math.exp(-m)
        elif kind == 3:
            e = math.exp(m) if m < 700.0 else math.inf
            values[i] = upper if e == math.inf else (lower + upper * e) / (1.0 + e)
        else:
            values[i] = m


def component_cdf_python(code, p, x):
    """CDF of one mixture component (parameters as in its own family's QuantileSpec)."""
    if code == AFFINE:  # uniform: p = [min, width]
        return min(max((x - p[0]) / p[1], 0.0), 1.0)
    if code == TRIANGULAR:
        lo, mode, hi = p[0], p[1], p[2]
        if x <= lo:
            return 0.0
        if x >= hi:
            return 1.0
        if x <= mode:
            return (x - lo) * (x - lo) / ((hi - lo) * (mode - lo))
        return 1.0 - (hi - x) * (hi - x) / ((hi - lo) * (hi - mode))
    if code == NORMAL:
        return ndtr((x - p[0]) / p[1])
    if code == LOGNORMAL:
        if x <= p[2]:
            return 0.0
        return ndtr((math.log(x - p[2]) - p[0]) / p[1])
    # PARETO, capped and shifted: p = [scale, alpha, cap, shift]
    y = x - p[3]
    if y < p[0]:
        return 0.0
    if y >= p[2]:
        return 1.0
    return 1.0 - (p[0] / y) ** p[1]


def component_quantile_python(code, p, u):
    """The closed-form quantile of a uniform, triangular, normal, lognormal or Pareto draw
    (for those columns and for mixture components)."""
    if code == AFFINE:
        return p[0] + p[1] * u
    if code == TRIANGULAR:
        lo, mode, hi = p[0], p[1], p[2]
        width = hi - lo
        if u < (mode - lo) / width:
            return lo + math.sqrt(u * width * (mode - lo))
        return hi - math.sqrt((1.0 - u) * width * (hi - mode))
    if code == NORMAL:
        return p[0] + p[1] * ndtri(u)
    if code == LOGNORMAL:
        return p[2] + math.exp(p[0] + p[1] * ndtri(u))
    # Pareto: shift + min(scale (1 - u)^(-1/alpha), cap); 1 - u keeps the upper tail exact.
    return p[3] + min(p[0] * (1.0 - u) ** (-1.0 / p[1]), p[2])


def mixture_cdf_python(weights, codes, params, x):
    """sum_k w_k F_k(x): the mixture's CDF."""
    f = 0.0
    for c in range(weights.shape[0]):
        f += weights[c] * component_cdf(int(codes[c]), params[c * COMPONENT_STRIDE:(c + 1) * COMPONENT_STRIDE], x)
    return f


def mixture_column_python(weights, codes, params, values):
    """MIXTURE: x with sum_k w_k F_k(x) = u, to about 1e-14 relative (F(x) >= u).

    The root lies between the components' own quantiles at u. It is found by the Illinois
    variant of regula falsi inside that bracket (superlinear on the smooth CDFs here: about
    ten CDF evaluations where bisection to the last bit took ~55), with a bisection step
    whenever the secant point is not strictly inside or the bracket has not halved in two
    steps (the CDF has a kink where a Pareto component starts and jumps at its cap). It
    stops when F(x) = u exactly in floating point or the bracket is MIXTURE_XTOL wide, and
    returns the upper end: F(lo) < u <= F(hi) holds throughout.
    """
    k = weights.shape[0]
    for i in range(values.shape[0]):
        u = values[i]
        lo = math.inf
        hi = -math.inf
        for c in range(k):
            q = component_quantile(int(codes[c]), params[c * COMPONENT_STRIDE:(c + 1) * COMPONENT_STRIDE], u)
            lo = min(lo, q)
            hi = max(hi, q)
        f_lo = mixture_cdf(weights, codes, params, lo) - u
        f_hi = mixture_cdf(weights, codes, params, hi) - u
        kept = 0  # +1: the upper end moved last; -1: the lower end
        width_1 = width_2 = math.inf  # the bracket's width one and two steps ago
        for _ in range(MIXTURE_ITERATIONS):
            mid = 0.5 * (lo + hi)
            width = hi - lo
            if mid <= lo or mid >= hi or width <= MIXTURE_XTOL * max(abs(lo), abs(hi)):
                break
            x = mid
            if f_hi > f_lo and width <= 0.5 * width_2 and math.isfinite(width):
                x = lo - f_lo * (width / (f_hi - f_lo))
                if not (lo < x < hi):
                    x = mid
            width_2 = width_1
            width_1 = width
            f = mixture_cdf(weights, codes, params, x) - u
            if f == 0.0:  # F(x) = u exactly in floating point: x is the root to full precision
                hi = x
                break
            if f > 0.0:
                hi = x
                f_hi = f
                if kept == 1:
                    f_lo *= 0.5  # Illinois: the lower end stayed twice, halve its weight
                kept = 1
            else:
                lo = x
                f_lo = f
                if kept == -1:
                    f_hi *= 0.5
                kept = -1
        values[i] = hi


def quantile_column_python(code, p, t0, t1, t2, t3, values, is_z):
    """Replace each draw in `values` (uniforms, or normal scores when `is_z`) by its quantile, in place.

    The family is chosen once per column; each family's loop is branch-light.
    """
    if code == TABLE:
        table_column(p, t0, t1, values, is_z)
        return
    if code == NORMAL or code == LOGNORMAL:
        for i in range(values.shape[0]):
            z = values[i] if is_z else ndtri(values[i])
            values[i] = p[0] + p[1] * z if code == NORMAL else p[2] + math.exp(p[0] + p[1] * z)
        return
    if is_z:  # the remaining families read uniforms
        for i in range(values.shape[0]):
            # A normal score above about 8.29 rounds to a uniform of exactly 1 (below -38, to
            # 0), where a mixture's or metalog's quantile is infinite: keep the uniform inside
            # (0, 1) at the sampler's own extremes, 2^-53 and 1 - 2^-53.
            u = ndtr(values[i])
            values[i] = U_TOP if u >= 1.0 else U_BOTTOM if u <= 0.0 else u
    if code == CONST:
        values[:] = p[0]
    elif code == AFFINE or code == TRIANGULAR or code == PARETO:
        for i in range(values.shape[0]):
            values[i] = component_quantile(code, p, values[i])
    elif code == METALOG:
        metalog_column(p, values)
    elif code == MIXTURE:
        mixture_column(t0, t1, t2, values)
    elif code == TRUNCNORM:
        # Work in the tail where the CDF has precision: mirrored when the window is above 0.
        pa, pb = p[N_PA], p[N_PB]
        for i in range(values.shape[0]):
            u = values[i]
            if p[N_MIRROR] != 0.0:
                z = -ndtri(pb - u * (pb - pa))
            else:
                z = ndtri(pa + u * (pb - pa))
            values[i] = min(max(p[N_MEAN] + p[N_SD] * z, p[N_LOW]), p[N_HIGH])
    else:
        step_column(t0, t1, values)


table_column = jit(table_column_python)
component_cdf = jit(component_cdf_python)
component_quantile = jit(component_quantile_python)
mixture_cdf = jit(mixture_cdf_python)
mixture_column = jit(mixture_column_python)
metalog_column = jit(metalog_column_python)
step_column = jit(step_column_python)
quantile_column = jit(quantile_column_python)
