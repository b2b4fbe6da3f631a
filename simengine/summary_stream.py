"""The run summary of docs/model.md computed as chunks stream past, in memory that does not grow with trials.

- Moments: per block of BLOCK_SIZE trials (count, mean, 2nd-4th central sums), merged in
  trial order with Pebay's pairwise formulas. Blocks are aligned to trial indices, not to
  chunks, so the summary is bit-identical for any chunk size.
- Percentiles, their order-statistic standard errors and CVaR: exact. The first PILOT
  trials are kept; from them, for each percentile p, a value band is fixed that holds the
  ranks p +/- 7 pilot standard errors (it contains the final sample's percentile and its
  standard-error ranks unless the pilot is off by more than 5 sigma). Afterwards only
  values inside the bands are kept (about 3 % of the trials of each metric), with the
  count and sums of the values below each band. A rank that falls outside its band is
  detected exactly (`incomplete`); the runner then re-simulates the run (trials are
  reproducible) and that metric's order statistics come from all its values.
- whole-month metrics (payback 1..H or "never", the go-live month): exact histograms.
Counts (nulls, P(npv < 0), targets) are exact integers.

Every block of trials is reduced to a `BlockPartial` (`block_partial`), which may be
computed anywhere (another thread, process or machine), and partials merged in block
order give exactly the summary of the whole run: the local runner merges the partials
it computes itself, and other executors merge the ones their tasks return. A block after
the pilot is reduced through the pilot's bands when they are given (`Bands.limits`);
one reduced without them keeps its values and is reduced when it is merged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import metrics as registry
from .kernels.summary_block import block_bands, block_moments
from .streams import BLOCK_SIZE
from .joint import JOINT_LEVEL, JointFrontier, costs_by_month
from .summary import (CVAR_ALPHA, PERCENTILES, SUMMARY_METRICS, Z95, coverage, estimate, needed_ranks,
                      probability, whole_month_percentile_se)

PILOT = 16 * BLOCK_SIZE
BAND_SIGMAS = 7.0
CONTINUOUS = registry.continuous_names()  # npv, roi, bcr, irr, ...: streamed through value bands
HISTOGRAMS = registry.histogram_names()  # payback and go-live months: exact histograms
#: Costs whose share of trials within the base estimate is counted exactly.
ANCHORED = ("one_time_cost", "total_cost")
#: The key of the joint frontier's bands among a summary's band limits.
JOINT = "joint:one_time_cost,go_live_month"
#: Largest spread of values a block's histogram counts densely (else by sorting).
HISTOGRAM_SPAN = 1 << 16


class Moments:
    """Count, mean and central sums M2..M4 of a stream, merged block by block (Pebay 2008)."""

    def __init__(self):
        self.n, self.mean, self.m2, self.m3, self.m4 = 0, 0.0, 0.0, 0.0, 0.0


    def merge(self, nb: int, mb: float, m2b: float, m3b: float, m4b: float) -> None:
        """Merge another part's count, mean and central sums into this one (Pebay's formulas)."""
        if nb == 0:
            return
        na = self.n
        if na == 0:
            self.n, self.mean, self.m2, self.m3, self.m4 = nb, mb, m2b, m3b, m4b
            return
        n = na + nb
        d = mb - self.mean
        ma2, ma3 = self.m2, self.m3
        self.m4 = (self.m4 + m4b + d ** 4 * na * nb * (na * na - na * nb + nb * nb) / n ** 3
                   + 6.0 * d * d * (na * na * m2b + nb * nb * ma2) / n ** 2 + 4.0 * d * (na * m3b - nb * ma3) / n)
        self.m3 = ma3 + m3b + d ** 3 * na * nb * (na - nb) / n ** 2 + 3.0 * d * (na * m2b - nb * ma2) / n
        self.m2 = ma2 + m2b + d * d * na * nb / n
        self.mean += d * nb / n
        self.n = n

    def describe(self) -> dict:
        n = self.n
        if n == 0:
            return {"mean": estimate(None, None), "sd": estimate(None, None)}
        if n == 1:  # one value: no spread and no standard errors
            return {"mean": estimate(self.mean, None), "sd": estimate(None, None)}
        var = self.m2 / n
        sd = math.sqrt(self.m2 / (n - 1))
        m4 = self.m4 / n
        sd_se = math.sqrt(max(m4 - var * var, 0.0) / (4.0 * var * n)) if var > 0 else 0.0
        return {"mean": estimate(self.mean, sd / math.sqrt(n)), "sd": estimate(sd, sd_se)}


def percentiles(order_statistic, n: int) -> dict:
    """p5..p95 with their order-statistic standard errors, from `order_statistic(rank)` over n values.

    A percentile that is +inf (payback "never") is null, with no standard error.
    """
    out = {}
    for p in PERCENTILES:
        if n == 0:
            out[f"p{p}"] = estimate(None, None)
            continue
        lo, rank, hi = needed_ranks(n, p / 100.0)
        value = order_statistic(rank)
        finite = math.isfinite(value) and n > 1  # one value has no standard error
        se = (order_statistic(hi) - order_statistic(lo)) / (2.0 * Z95) if finite else None
        out[f"p{p}"] = estimate(value, se)
    return out


def band_ranks(n: int, p: float) -> tuple[int, int]:
    """The ranks (0-based) of the pilot's value band for the order statistic of level p among n
    values: p +/- BAND_SIGMAS pilot standard errors, and two ranks."""
    delta = BAND_SIGMAS * math.sqrt(p * (1.0 - p) / n) + 2.0 / n
    return max(0, math.floor((p - delta) * n) - 1), min(n - 1, math.ceil((p + delta) * n))


def band_around(sorted_values: np.ndarray, p: float) -> tuple[float, float]:
    """The pilot's value band for the order statistic of level p, from the sorted pilot values."""
    low, high = band_ranks(sorted_values.size, p)
    return sorted_values[low], sorted_values[high]


class PilotValues:
    """The values of the pilot's blocks, in trial order, in one growing array (no list of
    blocks to concatenate at the end of the pilot: that doubled its memory)."""

    def __init__(self, capacity: int = 0, dtype=np.float64):
        # np.empty: pages are touched (and resident) only as values are written
        self._data = np.empty(max(capacity, 0), dtype=dtype)
        self.size = 0

    def append(self, values: np.ndarray) -> None:
        stop = self.size + values.size
        if stop > self._data.size:  # more than announced (a pilot that is not whole blocks): grow
            grown = np.empty(max(stop, 2 * self._data.size), dtype=self._data.dtype)
            grown[:self.size] = self._data[:self.size]
            self._data = grown
        self._data[self.size:stop] = values
        self.size = stop

    def view(self) -> np.ndarray:
        """The values so far (a view: sorting it sorts them in place)."""
        return self._data[:self.size]


class Bands:
    """Value bands [low_b, high_b] of one metric: the values inside each, and the count and
    sums of the values below each."""

    def __init__(self, lows, highs):
        self.lows = np.asarray(lows, dtype=np.float64)
        self.highs = np.asarray(highs, dtype=np.float64)
        k = self.lows.size
        self.below = np.zeros(k, dtype=np.int64)
        self.below_sum = np.zeros(k)
        self.below_sumsq = np.zeros(k)
        self.parts: list[list[np.ndarray]] = [[] for _ in range(k)]
        self._sorted: dict[int, np.ndarray] = {}

    def add(self, x: np.ndarray) -> None:
        """Add values (NaN skipped) to the bands."""
        self.merge(reduce_to_bands(x, self.lows, self.highs))

    def merge(self, part: "BandPartial") -> None:
        """Add a block's reduction through these bands."""
        self.below += part.below
        self.below_sum += part.below_sum
        self.below_sumsq += part.below_sumsq
        for b, inside in enumerate(part.inside):
            self.parts[b].append(inside)
        self._sorted.clear()

    def values(self, b: int) -> np.ndarray:
        """The sorted values inside band b.

        They replace the band's parts (the same values, one array), so that the sorted copy
        does not double the band's memory.
        """
        if b not in self._sorted:
            parts = self.parts[b]
            if not parts:
                self._sorted[b] = np.empty(0)
            else:
                # Parts are this object's own arrays (copies made by `reduce_to_bands`, or handed
                # over to `keep_all`): one is sorted where it is, as np.sort would sort a copy.
                one = len(parts) == 1 and parts[0].flags.writeable
                values = parts[0] if one else np.concatenate(parts)
                values.sort()
                self.parts[b] = [values]
                self._sorted[b] = values
        return self._sorted[b]

    def keep_all(self, values: np.ndarray) -> None:
        """Take `values` (NaN-free, handed over: used by no one else) as a part of the band
        (-inf, inf): what `add` would keep, without its copies."""
        assert self.lows.size == 1 and self.lows[0] == -math.inf and self.highs[0] == math.inf
        self.parts[0].append(values)
        self._sorted.clear()

    def kept(self) -> int:
        return sum(sum(p.size for p in part) for part in self.parts)

    def at_most(self, value: float) -> int | None:
        """How many values are <= `value`, exactly, when a band [value, value] was fixed for it
        (an anchor) or every value is kept; else None."""
        for b in range(self.lows.size):
            if self.lows[b] == self.highs[b] == value:
                return int(self.below[b]) + self.values(b).size
        if self.lows.size == 1 and self.lows[0] == -math.inf:  # every value kept
            return int(np.searchsorted(self.values(0), value, side="right"))
        return None

    def find(self, rank: int) -> int | None:
        """A band that holds the rank-th smallest value, or None."""
        for b in range(self.lows.size):
            if self.below[b] < rank <= self.below[b] + self.values(b).size:
                return b
        return None


class ContinuousMetric:
    """Moments and exact order statistics of one metric with nulls (NaN) counted apart."""

    def __init__(self, name: str, anchors: tuple[float, ...] = (), pilot: int = 0):
        self.name = name
        #: whether the summary needs its lower tail's mean (CVaR), so the rank of the tail's end
        self.tail = name == "npv"
        #: values whose count of trials at or below them is kept exactly (a base estimate)
        self.anchors = tuple(float(a) for a in anchors)
        self.moments = Moments()
        self.nulls = 0
        #: the pilot's values, NaN included, in trial order (None once the bands are fixed)
        self.pilot: PilotValues | None = PilotValues(pilot)
        self.bands = Bands([], [])

    def merge(self, part: "MetricPartial") -> None:
        """Add one block's partial (blocks in trial order)."""
        n, nulls, mean, m2, m3, m4 = part.moments
        self.moments.merge(n, mean, m2, m3, m4)
        self.nulls += nulls
        if self.pilot is not None:
            if part.values is None:
                raise ValueError(f"{self.name}: a block reduced through bands arrived during the pilot")
            self.pilot.append(part.values)
        elif part.values is not None:
            self.bands.add(part.values)
        else:
            self.bands.merge(part.bands)

    def limits(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The bands' (lows, highs) once the pilot has fixed them, else None."""
        return None if self.pilot is not None else (self.bands.lows, self.bands.highs)

    def pilot_values(self) -> np.ndarray:
        """The pilot's values so far, one a trial in trial order (NaN = null); a view, valid
        until the pilot ends."""
        return self.pilot.view()

    def end_pilot(self) -> None:
        """Fix the bands from the pilot's values, then feed the pilot through them."""
        values = _defined(self.pilot.view())
        values.sort()  # in place, as np.sort would; the pilot's values are released below
        self.pilot = None
        n = values.size
        if n == 0:
            self.bands = Bands([-math.inf], [math.inf])
            return
        lows, highs = map(list, zip(*(band_around(values, q / 100.0) for q in PERCENTILES)))
        # One band [a, a] per anchor: the count below it and the values equal to it give the
        # exact number of trials at or below a.
        lows += self.anchors
        highs += self.anchors
        self.bands = Bands(lows, highs)
        self.bands.add(values)

    def finish(self) -> None:
        if self.pilot is not None:  # a run shorter than the pilot keeps everything
            values = self.pilot.view()
            self.pilot = None
            self.bands = Bands([-math.inf], [math.inf])
            self.bands.keep_all(_defined(values))  # the pilot's own array (or its defined values)

    def rebuild(self, values: np.ndarray, take: bool = False) -> None:
        """Order statistics from all of the metric's values (NaN dropped): second passes.

        The values are copied once, unless the caller hands them over (`take`: they are then
        sorted in place, and must not be used elsewhere).
        """
        self.pilot = None
        self.bands = Bands([-math.inf], [math.inf])
        defined = _defined(values)
        self.bands.keep_all(defined.copy() if defined is values and not take else defined)

    def complete(self) -> bool:
        """Whether every rank the summary needs lies inside a band (else a second pass is needed)."""
        n = self.moments.n
        if n == 0:
            return True
        ranks = [r for p in PERCENTILES for r in needed_ranks(n, p / 100.0)]
        if self.tail:
            ranks.append(max(1, math.ceil(CVAR_ALPHA * n)))
        return all(self.bands.find(r) is not None for r in ranks)

    def at_most(self, anchor: float) -> int:
        """How many trials have a value <= `anchor` (one of `anchors`), exactly."""
        count = self.bands.at_most(anchor)
        if count is None:
            raise KeyError(f"{self.name}: {anchor} is not an anchor of this metric")
        return count

    def order_statistic(self, rank: int) -> float:
        b = self.bands.find(rank)
        return float(self.bands.values(b)[rank - self.bands.below[b] - 1])

    def describe(self) -> dict:
        n = self.moments.n
        return {"n": n, "n_null": self.nulls, **self.moments.describe(), **percentiles(self.order_statistic, n),
                "coverage": coverage(n, n + self.nulls, percentiles_over_all=False)}

    def cvar(self, alpha: float = CVAR_ALPHA) -> dict:
        """Mean of the worst `alpha` share (lower tail), with its Manistre-Hancock standard error."""
        n = self.moments.n
        if n == 0:
            return estimate(None, None)
        k = max(1, math.ceil(alpha * n))
        b = self.bands.find(k)
        inside = self.bands.values(b)[:k - self.bands.below[b]]
        total = float(self.bands.below_sum[b]) + float(inside.sum())
        total_sq = float(self.bands.below_sumsq[b]) + float((inside * inside).sum())
        es = total / k
        q = float(inside[-1])
        var_tail = max(total_sq / k - es * es, 0.0)
        se = math.sqrt((var_tail + (1.0 - alpha) * (es - q) * (es - q)) / (n * alpha)) if n > 1 else None
        return estimate(es, se)


class HistogramMetric:
    """A whole-month metric (payback, go-live): moments of the defined values and an exact
    histogram of every value, a null ("never") ranking after all of them."""

    def __init__(self, name: str):
        self.name = name
        self.moments = Moments()
        self.counts: dict[int, int] = {}
        self.never = 0

    def merge(self, part: "HistogramPartial") -> None:
        """Add one block's partial (blocks in trial order)."""
        n, never, mean, m2, m3, m4 = part.moments
        self.moments.merge(n, mean, m2, m3, m4)
        self.never += never
        for value, count in zip(part.values.tolist(), part.counts.tolist()):
            self.counts[value] = self.counts.get(value, 0) + count

    def order_statistic(self, rank: int) -> float:
        """The rank-th smallest value, a null ("never") ranking last (+inf)."""
        seen = 0
        for value in sorted(self.counts):
            seen += self.counts[value]
            if rank <= seen:
                return float(value)
        return math.inf

    def at_most(self, value: float) -> int:
        """How many trials have a defined value <= `value`."""
        return sum(count for v, count in self.counts.items() if v <= value)

    def describe(self) -> dict:
        n = self.moments.n
        total = n + self.never
        out = {"n": n, "n_null": self.never, **self.moments.describe()}
        for p in PERCENTILES:  # an order-statistic interval spans a month or two: the bootstrap SD instead
            value = self.order_statistic(needed_ranks(total, p / 100.0)[1]) if total else math.inf
            se = whole_month_percentile_se(self.counts, total, p / 100.0) if math.isfinite(value) else None
            out[f"p{p}"] = estimate(value, se)
        return {**out, "coverage": coverage(n, total, percentiles_over_all=True)}


class StreamingSummary:
    """Accumulates a run's metrics chunk by chunk (in trial order) and gives docs/model.md's summary."""

    def __init__(self, decision, pilot: int = PILOT, base: dict | None = None):
        self.decision = decision
        self.pilot = pilot  # a multiple of BLOCK_SIZE; smaller only in tests
        #: the base case's metrics (base_case.py): with it, the summary gets its budget and date block
        self.base = base
        anchors = {m: (base[m],) for m in ANCHORED} if base is not None else {}
        level = getattr(decision, "joint_confidence", None) or JOINT_LEVEL
        budget, date = getattr(decision, "budget_max", None), getattr(decision, "go_live_month_max", None)
        chosen = (budget, date) if budget is not None and date is not None else None
        self.joint = (JointFrontier(base["one_time_cost"], base["go_live_month"], level, chosen, pilot)
                      if base is not None else None)
        self.trials = 0
        self.metrics = {m: ContinuousMetric(m, anchors.get(m, ()), pilot) for m in CONTINUOUS}
        self.histograms = {m: HistogramMetric(m) for m in HISTOGRAMS}
        self.npv_negative = 0
        self.targets = {rule.key: 0 for rule, _ in registry.decision_targets(decision)}
        self.all_targets = 0
        self._pending: list[np.ndarray] = []
        self._pending_n = 0
        self._rows = [registry.index(m) for m in SUMMARY_METRICS]

    def add(self, metrics: np.ndarray) -> None:
        """Add the next chunk's metrics (len(METRICS) x trials, NaN = null).

        Whole blocks are summarized straight from the chunk; only a partial block is copied
        and held until the next chunk completes it.
        """
        start, n = 0, metrics.shape[1]
        if not self._pending:  # block-aligned: summarize full blocks from views, no copy
            while n - start >= BLOCK_SIZE:
                stop = start + BLOCK_SIZE
                self._add_block({m: metrics[row, start:stop] for m, row in zip(SUMMARY_METRICS, self._rows)})
                start = stop
        if start < n:
            self._pending.append(metrics[self._rows, start:].copy())
            self._pending_n += n - start
        while self._pending_n and self._pending_n >= BLOCK_SIZE - self.trials % BLOCK_SIZE:
            self._flush(BLOCK_SIZE - self.trials % BLOCK_SIZE)

    def add_range(self, result) -> None:
        """Add the next range of a run (an `engine.RangeResult`): its block partials where its
        executor computed them, else its metrics."""
        if result.partials is None:
            self.add(result.metrics)
        else:
            for part in result.partials:
                self.merge(part)

    def _flush(self, size: int) -> None:
        stacked = np.concatenate(self._pending, axis=1) if len(self._pending) > 1 else self._pending[0]
        block, rest = stacked[:, :size], stacked[:, size:]
        self._pending = [rest] if rest.shape[1] else []
        self._pending_n = rest.shape[1]
        self._add_block(dict(zip(SUMMARY_METRICS, block)))

    def _add_block(self, cols: dict[str, np.ndarray]) -> None:
        self.merge(block_partial(cols, self.decision, self.band_limits()))

    def band_limits(self) -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
        """Each continuous metric's bands once the pilot has fixed them (to reduce later blocks
        where they are computed), else None."""
        limits = {name: metric.limits() for name, metric in self.metrics.items()}
        if any(v is None for v in limits.values()):
            return None
        if self.joint is not None:
            limits[JOINT] = self.joint.limits()
        return limits

    def merge(self, part: "BlockPartial") -> None:
        """Add the next block's partial; blocks must come in trial order, each whole
        (BLOCK_SIZE trials, the run's last one shorter)."""
        for name, metric in self.metrics.items():
            metric.merge(part.continuous[name])
        for name, histogram in self.histograms.items():
            histogram.merge(part.histograms[name])
        self.npv_negative += part.npv_negative
        for key, hits in part.targets.items():
            self.targets[key] += hits
        self.all_targets += part.all_targets
        if self.joint is not None:
            self.joint.merge(part.continuous["one_time_cost"].values, part.go_live, part.joint, part.trials)
        self.trials += part.trials
        if self.trials == self.pilot:
            # The one-time costs' pilot ends last: the joint frontier reads it (in trial order)
            # once the other metrics' pilots are released, which makes room for its own work.
            for name, metric in self.metrics.items():
                if name != "one_time_cost":
                    metric.end_pilot()
            if self.joint is not None:
                self.joint.end_pilot(self.metrics["one_time_cost"].pilot_values())
            self.metrics["one_time_cost"].end_pilot()

    def finish(self) -> None:
        """Flush the last partial block; call once, after the last chunk."""
        if self._pending_n:
            self._flush(self._pending_n)
        if self.joint is not None and self.metrics["one_time_cost"].pilot is not None:
            self.joint.finish(self.metrics["one_time_cost"].pilot_values())  # (before the costs' own finish)
        for metric in self.metrics.values():
            metric.finish()

    def incomplete(self) -> list[str]:
        """Metrics whose needed ranks fell outside their bands (they need a second pass)."""
        return [name for name, metric in self.metrics.items() if not metric.complete()]

    def summary(self) -> dict:
        n = self.trials
        metrics = {name: self.metrics[name].describe() for name in CONTINUOUS}
        metrics.update((name, self.histograms[name].describe()) for name in HISTOGRAMS)
        out = {
            "trials": n,
            "metrics": {m: metrics[m] for m in SUMMARY_METRICS},
            "p_npv_negative": probability(self.npv_negative, n),
            "cvar5_npv": self.metrics["npv"].cvar(),
            "targets": {},
        }
        for rule, target in registry.decision_targets(self.decision):
            out["targets"][rule.key] = {"target": target, "probability": probability(self.targets[rule.key], n)}
        if self.targets:
            out["targets"]["all"] = {"probability": probability(self.all_targets, n)}
        if self.base is not None:
            from .confidence import budget_and_date

            out["budget_and_date"] = budget_and_date(self, out["metrics"])
        return out

    @classmethod
    def for_scenario(cls, scenario, pilot: int = PILOT) -> "StreamingSummary":
        """The summary of a run of `scenario`, with its base case (for budget and date)."""
        from .base_case import base_case

        return cls(scenario.decision, pilot, base_case(scenario))


@dataclass
class BandPartial:
    """One block's values against a metric's bands: count, sum and sum of squares below each
    band, and the values inside each."""

    below: np.ndarray
    below_sum: np.ndarray
    below_sumsq: np.ndarray
    inside: list[np.ndarray]


@dataclass
class MetricPartial:
    """One block of a continuous metric: (n, nulls, mean, M2, M3, M4), and either its values,
    one a trial (NaN = null; no bands given: the pilot) or their reduction through the bands."""

    moments: tuple
    values: np.ndarray | None
    bands: BandPartial | None


@dataclass
class HistogramPartial:
    """One block of a whole-month metric: (n, nulls, mean, M2, M3, M4), and its distinct
    defined values with their counts."""

    moments: tuple
    values: np.ndarray
    counts: np.ndarray


@dataclass
class BlockPartial:
    """Everything the summary needs of one block of trials; small (a few % of the block's
    values after the pilot), picklable, and merged in block order by `StreamingSummary.merge`."""

    trials: int
    continuous: dict[str, MetricPartial]
    histograms: dict[str, HistogramPartial]
    npv_negative: int
    targets: dict[str, int]
    all_targets: int
    #: the go-live month of each trial, for blocks reduced without bands (the pilot); with the
    #: one-time costs (`continuous["one_time_cost"].values`) they are the joint frontier's pairs
    go_live: np.ndarray | None = None
    #: the joint frontier's bands: go-live month -> the block's x_D through them (joint.py)
    joint: dict | None = None


def _defined(values: np.ndarray) -> np.ndarray:
    """`values` without NaN: `values` itself when it has none, else a copy without them."""
    nan = np.isnan(values)
    return values[~nan] if nan.any() else values


def reduce_to_bands(x: np.ndarray, lows: np.ndarray, highs: np.ndarray) -> BandPartial:
    """Values against bands [lows[b], highs[b]] (NaN skipped).

    One band at a time through one row of scratch (the kernel treats bands independently):
    a row per band was k x 8 bytes a value, 64 MiB at the end of the pilot.
    """
    k = lows.size
    below, below_sum, below_sumsq = np.zeros(k, dtype=np.int64), np.zeros(k), np.zeros(k)
    inside = np.empty((1, x.size))
    inside_n = np.zeros(1, dtype=np.int64)
    kept = []
    for b in range(k):
        block_bands(x, lows[b:b + 1], highs[b:b + 1], below[b:b + 1], below_sum[b:b + 1], below_sumsq[b:b + 1],
                    inside, inside_n)
        kept.append(inside[0, :inside_n[0]].copy())
    return BandPartial(below, below_sum, below_sumsq, kept)


def target_hits(cols: dict[str, np.ndarray], decision) -> tuple[dict[str, int], int]:
    """Trials meeting each decision target, and all of them together (NaN never meets one)."""
    hits, met_all = {}, np.ones(cols["npv"].size, dtype=bool)
    for rule, target in registry.decision_targets(decision):
        met = rule.met(cols[rule.metric], target)
        hits[rule.key] = int(np.count_nonzero(met))
        met_all &= met
    return hits, int(np.count_nonzero(met_all))


def block_partial(cols: dict[str, np.ndarray], decision,
                  limits: dict[str, tuple[np.ndarray, np.ndarray]] | None = None) -> BlockPartial:
    """The summary partial of one block's metric columns (NaN = null); with the pilot's band
    `limits`, continuous values are reduced through them here."""
    continuous = {}
    for name in CONTINUOUS:
        x = cols[name]
        moments = tuple(block_moments(x))
        if limits is None:
            continuous[name] = MetricPartial(moments, x.copy(), None)
        else:
            continuous[name] = MetricPartial(moments, None, reduce_to_bands(x, *limits[name]))
    histograms = {name: histogram_partial(cols[name]) for name in HISTOGRAMS}
    hits, all_hits = target_hits(cols, decision)
    cost, go_live = cols["one_time_cost"], cols["go_live_month"]
    months = joint = None
    if limits is None:
        months = go_live.copy()
    elif limits.get(JOINT) is not None:
        joint = {month: reduce_to_bands(costs_by_month(cost, go_live, month), lows, highs)
                 for month, (lows, highs) in limits[JOINT].items()}
    return BlockPartial(int(cols["npv"].size), continuous, histograms,
                        int(np.count_nonzero(cols["npv"] < 0)), hits, all_hits, months, joint)


def histogram_partial(x: np.ndarray) -> HistogramPartial:
    """A block of a whole-month metric (NaN = null): its moments and the count of each value."""
    defined = x[~np.isnan(x)].astype(np.int64)
    if defined.size == 0:
        values = counts = np.zeros(0, dtype=np.int64)
    else:
        low = int(defined.min())
        if int(defined.max()) - low <= HISTOGRAM_SPAN:
            by_value = np.bincount(defined - low)
            values = np.flatnonzero(by_value)
            counts = by_value[values]
            values = values + low
        else:  # months spread too far for a dense count (delays of years): count the distinct ones
            values, counts = np.unique(defined, return_counts=True)
    return HistogramPartial(tuple(block_moments(x)), values, counts)
