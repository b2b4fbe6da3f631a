"""The Gaussian copula's mixing step: correlated normal scores from independent ones, per trial."""

from __future__ import annotations

import numpy as np

from ..jit import parallel_jit, prange

TRIALS_PER_TASK = 1024


def mix_rows_python(values, rows, factor):
    """Replace rows `rows` of `values` (independent N(0,1) scores) by `factor @ z`, trial by trial.

    The sum for each trial runs over the factor's columns in a fixed order, so a trial's
    result does not depend on the chunk it is in or on the thread count (a BLAS matmul's
    summation order would).
    """
    k = rows.shape[0]
    n = values.shape[1]
    for task in prange((n + TRIALS_PER_TASK - 1) // TRIALS_PER_TASK):
        z = np.empty(k)  # one scratch vector per task, not per trial
        for i in range(task * TRIALS_PER_TASK, min(n, (task + 1) * TRIALS_PER_TASK)):
            for j in range(k):
                z[j] = values[rows[j], i]
            for j in range(k):
                acc = 0.0
                for m in range(k):
                    if factor[j, m] != 0.0:
                        acc += factor[j, m] * z[m]
                values[rows[j], i] = acc


mix_rows = parallel_jit(mix_rows_python)
