"""The portfolio's summary, streamed: named per-trial columns through the run summary's exact
estimators, the worst 5 % of trials with every member's contribution (Euler allocation of CVaR),
and the counts behind P(npv < 0), P(budget exceeded) and the targets (docs/model.md, "Portfolios")."""

from __future__ import annotations

import math

import numpy as np

from .kernels.summary_block import block_moments
from .streams import BLOCK_SIZE
from .summary import CVAR_ALPHA, estimate
from .summary_stream import (PILOT, ContinuousMetric, HistogramMetric, MetricPartial, histogram_partial,
                             reduce_to_bands)


class ColumnSummary:
    """Moments and exact order statistics of named columns fed in trial order, block by block
    (BLOCK_SIZE trials), like a run's summary: a pilot fixes value bands, later blocks keep only
    the values inside them, and `incomplete()` names columns that need a second pass."""

    def __init__(self, continuous: list[str], histograms: list[str], tails: set[str] = frozenset(),
                 pilot: int = PILOT):
        self.pilot = pilot
        self.metrics = {name: ContinuousMetric(name, (), pilot) for name in continuous}
        for name in tails:
            self.metrics[name].tail = True
        self.histograms = {name: HistogramMetric(name) for name in histograms}
        self.trials = 0
        self._pending: list[dict[str, np.ndarray]] = []
        self._pending_n = 0

    def add(self, cols: dict[str, np.ndarray]) -> None:
        """The next trials' values of every column (equal lengths, NaN = null)."""
        n = len(next(iter(cols.values())))
        self._pending.append({name: np.array(cols[name], dtype=np.float64) for name in self._names()})
        self._pending_n += n
        while self._pending_n >= BLOCK_SIZE - self.trials % BLOCK_SIZE:
            self._flush(BLOCK_SIZE - self.trials % BLOCK_SIZE)

    def _names(self) -> list[str]:
        return list(self.metrics) + list(self.histograms)

    def _flush(self, size: int) -> None:
        names = self._names()
        stacked = {name: (np.concatenate([p[name] for p in self._pending]) if len(self._pending) > 1
                          else self._pending[0][name]) for name in names}
        block = {name: stacked[name][:size] for name in names}
        rest = {name: stacked[name][size:] for name in names}
        self._pending_n -= size
        self._pending = [rest] if self._pending_n else []
        for name, metric in self.metrics.items():
            x = block[name]
            moments = tuple(block_moments(x))
            limits = metric.limits()
            metric.merge(MetricPartial(moments, x.copy(), None) if limits is None
                         else MetricPartial(moments, None, reduce_to_bands(x, *limits)))
        for name, histogram in self.histograms.items():
            histogram.merge(histogram_partial(block[name]))
        self.trials += size
        if self.trials == self.pilot:
            for metric in self.metrics.values():
                metric.end_pilot()

    def finish(self) -> None:
        if self._pending_n:
            self._flush(self._pending_n)
        for metric in self.metrics.values():
            metric.finish()

    def incomplete(self) -> list[str]:
        return [name for name, metric in self.metrics.items() if not metric.complete()]

    def describe(self, name: str) -> dict:
        return (self.metrics[name] if name in self.metrics else self.histograms[name]).describe()


class TailSet:
    """The k trials with the lowest portfolio NPV so far (ties: the lower trial index), with each
    member's contribution: exact, since trials arrive in index order and a trial once outside
    the k worst never returns. Pruned by partition when the buffer doubles, so O(trials)."""

    def __init__(self, k: int, members: int):
        self.k = k
        self.npv = np.empty(0)
        self.index = np.empty(0, dtype=np.int64)
        self.contrib = np.empty((members, 0))
        self.threshold = math.inf  # once k are held: the k-th lowest NPV (equal later ones lose the tie)

    def add(self, start: int, npv: np.ndarray, contrib: np.ndarray) -> None:
        enter = np.flatnonzero(npv < self.threshold) if self.npv.size >= self.k else np.arange(npv.size)
        if enter.size == 0:
            return
        self.npv = np.concatenate([self.npv, npv[enter]])
        self.index = np.concatenate([self.index, start + enter])
        self.contrib = np.concatenate([self.contrib, contrib[:, enter]], axis=1)
        if self.npv.size >= 2 * self.k:
            self._prune()

    def _prune(self) -> None:
        if self.npv.size <= self.k:
            if self.npv.size == self.k:
                self.threshold = float(self.npv.max())
            return
        order = np.lexsort((self.index, self.npv))[:self.k]
        order.sort()  # keep trial order (indices ascending)
        self.npv, self.index, self.contrib = self.npv[order], self.index[order], self.contrib[:, order]
        self.threshold = float(self.npv.max())

    def finish(self) -> None:
        self._prune()

    def contributions(self) -> np.ndarray:
        """Each member's mean contribution over the k worst trials."""
        return self.contrib.mean(axis=1) if self.npv.size else np.full(self.contrib.shape[0], np.nan)

    def standard_errors(self, n: int) -> np.ndarray:
        """Each contribution's standard error, by the CVaR formula applied to the member's share
        (Hong & Liu 2009): sqrt((Var(C | tail) + (1 - a)(E[C | tail] - E[C | X = q])^2) / (n a)),
        with E[C | X = q] taken over the tenth of the tail nearest its end."""
        k = self.npv.size
        if k < 2 or n < 2:
            return np.full(self.contrib.shape[0], np.nan)
        near = np.argsort(self.npv, kind="stable")[-max(1, k // 10):]
        at_q = self.contrib[:, near].mean(axis=1)
        mean = self.contrib.mean(axis=1)
        var = self.contrib.var(axis=1)
        return np.sqrt((var + (1.0 - CVAR_ALPHA) * (mean - at_q) ** 2) / (n * CVAR_ALPHA))

    def mean(self) -> float:
        return float(self.npv.mean()) if self.npv.size else math.nan


def cvar_trials(n: int) -> int:
    """k = ceil(0.05 n): the trials CVaR 5 % averages."""
    return max(1, math.ceil(CVAR_ALPHA * n))


def euler_block(tail: TailSet, columns: ColumnSummary, members: list[str]) -> dict:
    """CVaR 5 % of portfolio NPV, each member's Euler contribution and the diversification benefit."""
    cvar = columns.metrics["npv"].cvar()
    contributions = tail.contributions()
    own = {m: columns.metrics[f"{m}.npv_in_portfolio"].cvar() for m in members}
    own_sum = sum(o["value"] for o in own.values()) if all(o["value"] is not None for o in own.values()) else None
    total = cvar["value"]
    ses = tail.standard_errors(columns.metrics["npv"].moments.n)
    rows = {}
    for m, c, se in zip(members, contributions, ses):
        share = float(c / total) if total not in (None, 0.0) and math.isfinite(c) else None
        rows[m] = {"contribution": estimate(float(c), float(se)), "share": share, "own_cvar5": own[m]}
    benefit = (total - own_sum) if total is not None and own_sum is not None else None
    # The estimates are correlated: the sum of their standard errors bounds the difference's.
    parts = [cvar["se"]] + [o["se"] for o in own.values()]
    bound = float(sum(parts)) if benefit is not None and all(p is not None for p in parts) else None
    return {"cvar5_npv": cvar, "trials_in_tail": tail.npv.size, "contributions": rows,
            "contributions_sum": float(math.fsum(float(c) for c in contributions)),
            "members_cvar5_sum": own_sum, "diversification_benefit": {**estimate(benefit, bound), "se_is_bound": True}}

