"""Per-month percentiles of cumulative cash: the fan chart's data, stored with each result file.

Exact order statistics of the first `FAN_TRIALS` trials (all of them in a smaller run): the
kernel writes those trials' cumulative cash by month into one bounded buffer (65,536 x H
floats: 31 MiB at H = 60), never trials x months for the whole run. Trials are independent
and identically distributed, so the first 65,536 are a fair sample of any longer run; each
band carries its order-statistic standard error, which at that size is about half a percent
of the band's spread, far below what a chart can show.
"""

from __future__ import annotations

import json

import numpy as np

from .summary import percentile_with_se

FAN_TRIALS = 1 << 16
FAN_PERCENTILES = (10, 25, 50, 75, 90)
METADATA_KEY = "cash_fan"


def fan_buffer(trials: int, months: int) -> np.ndarray:
    """The buffer the kernel fills: the first min(trials, FAN_TRIALS) trials x months."""
    return np.empty((min(trials, FAN_TRIALS), months))


class FanBuffer:
    """A run's fan buffer, released as soon as its rows are filled: their percentiles are
    taken then (by the consumer, while later chunks are computed), so the buffer does not
    stay for the rest of the run. An executor that fills it drops its own reference to the
    buffer once it has computed the trials of its last row."""

    def __init__(self, trials: int, months: int):
        self.buffer: np.ndarray | None = fan_buffer(trials, months)
        self.rows = self.buffer.shape[0]
        self._metadata: dict[str, str] | None = None

    def filled(self, stop: int) -> None:
        """Trials 0..stop-1 are computed (their cash rows written): once that covers every
        row, keep the fan's metadata and let the buffer go."""
        if self.buffer is not None and stop >= self.rows:
            self._metadata = fan_metadata(self.buffer)
            self.buffer = None

    def metadata(self) -> dict[str, str]:
        """`fan_metadata` of the filled buffer."""
        if self._metadata is None:
            self.filled(self.rows)
        return self._metadata


def fan_percentiles(cash: np.ndarray) -> dict:
    """Percentiles P10, P25, P50, P75, P90 of cumulative cash at the end of each month, with SEs.

    `cash` is trials x months (cumulative cash through month t in column t). Month t's value
    is the cash position after that month's flow, so column 0 is month 0's own net flow.
    """
    n, months = cash.shape
    values = {f"p{p}": [] for p in FAN_PERCENTILES}
    errors = {f"p{p}": [] for p in FAN_PERCENTILES}
    for t in range(months):
        column = np.sort(cash[:, t])
        for p in FAN_PERCENTILES:
            value, se = percentile_with_se(column, p / 100)
            values[f"p{p}"].append(value)
            errors[f"p{p}"].append(se)
    return {"trials": int(n), "months": int(months), "definition": "cumulative net cash through the end of "
            "month t, undiscounted; exact order statistics of the run's first trials", "percentiles": values,
            "se": errors}


def fan_metadata(cash: np.ndarray) -> dict[str, str]:
    """The fan as result-file metadata (JSON under simengine.cash_fan)."""
    return {METADATA_KEY: json.dumps(fan_percentiles(cash), separators=(",", ":"))}


def fan_series(fan: dict) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """What the fan chart plots: x = months elapsed k = 0..H, and each band's cumulative cash
    after k months (k = 0 is the start: no cash yet).

    The stored column t is the cash through the end of month t, i.e. after t + 1 months, so
    it is drawn at k = t + 1. This is payback's count (docs/model.md: the smallest k in 1..H
    with sum_{t<k} CF_t >= 0): in a deterministic run the first k with cash >= 0 is the
    payback month. The values are month-end positions, to be drawn as steps, not joined by
    lines, so no fractional crossing can be read off between two months.
    """
    months = int(fan["months"])
    x = np.arange(months + 1)
    y = {k: np.concatenate([[0.0], np.asarray(v, dtype=float)]) for k, v in fan["percentiles"].items()}
    return x, y
