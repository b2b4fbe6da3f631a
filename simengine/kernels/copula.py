"""The Gaussian copula's mixing step: correlated normal scores from independent ones, per trial."""

from __future__ import annotations

import numpy as np

from ..jit import parallel_jit, prange


def mix_rows_python(values, rows, factor):
    """Replace rows `rows` of `values` (independent N(0,1) scores) by `factor @ z`, trial by trial.

    The sum for each trial runs over the factor's columns in a fixed order, so a trial's
    result does not depend on the chunk it is in or on the thread count (a BLAS matmul's
    summation order would).
    """
    k = rows.shape[0]
    for i in prange(values.shape[1]):
        z = np.empty(k)
        for j in range(k):
            z[j] = values[rows[j], i]
        for j in range(k):
            acc = 0.0
            for m in range(k):
                if factor[j, m] != 0.0:
                    acc += factor[j, m] * z[m]
            values[rows[j], i] = acc


mix_rows = parallel_jit(mix_rows_python)
