"""One-pass block statistics for the streaming summary: moments and band membership.

`block_moments` gives the count, NaN count, mean and central sums M2..M4 of a block
(about its first defined value, so constant data gives exact zeros). `block_bands` counts
and sums the values below each band and copies the values inside it. Both replace a dozen
numpy passes (and their temporaries) per block and metric.
"""

from __future__ import annotations

from ..jit import jit


def block_moments_python(x):
    """(n defined, n NaN, mean, M2, M3, M4) of a block; NaN values are skipped."""
    n = 0
    shift = 0.0
    total = 0.0
    for i in range(x.shape[0]):
        v = x[i]
        if v != v:
            continue
        if n == 0:
            shift = v
        total += v - shift
        n += 1
    if n == 0:
        return 0, x.shape[0], 0.0, 0.0, 0.0, 0.0
    shifted_mean = total / n
    m2 = m3 = m4 = 0.0
    for i in range(x.shape[0]):
        v = x[i]
        if v != v:
            continue
        d = (v - shift) - shifted_mean
        d2 = d * d
        m2 += d2
        m3 += d2 * d
        m4 += d2 * d2
    return n, x.shape[0] - n, shift + shifted_mean, m2, m3, m4


def block_bands_python(x, lows, highs, below, below_sum, below_sumsq, inside, inside_n):
    """For each band b: add the count, sum and sum of squares of values < lows[b] to below*[b],
    and copy the values in [lows[b], highs[b]] to inside[b, :inside_n[b]] (inside has a row of
    len(x) slots a band). NaN values are skipped.

    Branch-free: a value sits below, inside or above a band at random, so branches on it would
    be mispredicted about half the time. Adding 0.0 for a value not below leaves the sums'
    doubles unchanged (they start at +0.0 and so are never -0.0), and every value is stored
    at slot k, which advances only past a value inside (k <= i: within the row).
    """
    for b in range(lows.shape[0]):
        lo, hi = lows[b], highs[b]
        count = 0
        s = 0.0
        sq = 0.0
        k = 0
        for i in range(x.shape[0]):
            v = x[i]
            below_lo = v < lo
            count += below_lo
            s += v if below_lo else 0.0
            sq += v * v if below_lo else 0.0
            inside[b, k] = v
            k += (v >= lo) & (v <= hi)
        below[b] += count
        below_sum[b] += s
        below_sumsq[b] += sq
        inside_n[b] = k


block_moments = jit(block_moments_python)
block_bands = jit(block_bands_python)
