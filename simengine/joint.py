"""Joint confidence of budget and date: the chance that the one-time cost stays within a
budget B *and* the system is live by month D, and the frontier of (B, D) pairs that reach a
confidence level together (docs/model.md, "Budget and date").

For a go-live month D, let x_D be a trial's one-time cost if it goes live by month D and
+inf otherwise. P(cost <= B and g <= D) is the share of trials with x_D <= B, so the
smallest budget that reaches level L by month D is the ceil(L n)-th smallest x_D (infinite,
"not reachable", when fewer than L n trials are live by D). Each frontier point is thus an
order statistic, found exactly while trials stream in the summary's way: the pilot's
(cost, go-live) pairs are kept; at the end of the pilot the months D are chosen and, for
each, a value band around its order statistic (and one at the base case's cost, for the
base and plan together); afterwards only the values inside the bands are kept. A rank that
falls outside its band (a > 5 sigma miss of the pilot) leaves that point undetermined,
reported as such, never guessed.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from .summary import Z95, estimate, needed_ranks, probability

if TYPE_CHECKING:
    from .summary_stream import Bands

#: The confidence level the frontier is drawn at (NASA's joint cost and schedule confidence
#: level is budgeted at 70 %).
JOINT_LEVEL = 0.70
#: At most this many go-live months on the frontier.
MAX_MONTHS = 24
#: Why a reachable month's budget has no standard error.
NO_SE_NOTE = "no standard error: its 95 % interval reaches 'not reachable' (too few trials may be live by then)"
#: The largest finite double: the top of a band that would otherwise reach +inf.
LARGEST = float(np.finfo(np.float64).max)


def costs_by_month(cost: np.ndarray, go_live: np.ndarray, month: float) -> np.ndarray:
    """x_D: the one-time cost of the trials live by `month`, +inf for the others."""
    return np.where(go_live <= month, cost, np.inf)


class JointFrontier:
    """The joint budget-and-date figures of a run, streamed block by block in trial order."""

    def __init__(self, base_cost: float, plan: float, level: float = JOINT_LEVEL,
                 chosen: tuple[float, float] | None = None, pilot: int = 0):
        from .summary_stream import PilotValues  # (summary_stream imports this module)

        self.base_cost, self.plan, self.level = float(base_cost), float(plan), level
        #: the decision's budget and date (decision.budget_max, go_live_month_max), when both are set
        self.chosen = (float(chosen[0]), float(chosen[1])) if chosen is not None else None
        self.trials = 0
        #: the pilot's go-live months, in trial order, until the pilot ends (their one-time costs
        #: are the summary's pilot of that metric, passed to `end_pilot`)
        self.go_live: PilotValues | None = PilotValues(pilot)
        self.months: tuple[float, ...] = ()
        self.bands: dict[float, "Bands"] = {}

    # --- streaming ---------------------------------------------------------------------
    def limits(self) -> dict[float, tuple[np.ndarray, np.ndarray]] | None:
        """Each month's bands once the pilot has fixed them, else None."""
        if self.go_live is not None:
            return None
        return {month: (bands.lows, bands.highs) for month, bands in self.bands.items()}

    def merge(self, cost: np.ndarray | None, go_live: np.ndarray | None, reduced: dict | None,
              size: int) -> None:
        """Add the next block: its trials' one-time costs and go-live months (only the months
        are kept during the pilot), or their reduction through the bands."""
        self.trials += size
        if self.go_live is not None:
            self.go_live.append(go_live)
        elif reduced is not None:
            for month, part in reduced.items():
                self.bands[month].merge(part)
        else:
            for month, bands in self.bands.items():
                bands.add(costs_by_month(cost, go_live, month))

    def end_pilot(self, cost: np.ndarray) -> None:
        """Choose the months and fix their bands from the pilot's pairs, then feed them in.
        `cost`: the pilot's one-time costs, one a trial in trial order."""
        from .summary_stream import Bands, band_ranks  # (summary_stream imports this module)

        go_live = self.go_live.view()
        self.go_live = None
        self.months = self._choose_months(go_live)
        for month in self.months:
            # x_D is +inf for the trials not live by D, so its order statistics are those of the
            # live trials' costs, sorted, up to their count, then +inf: only those are sorted (and
            # kept in the bands: a +inf is above every band, neither counted below nor kept).
            x = cost[go_live <= month]
            x.sort()  # in place: a fresh array
            ranks = band_ranks(go_live.size, self.level)
            # The trials not live by D are never kept, only counted (by the go-live histogram):
            # a band reaching into them ends at the largest finite cost, or it would hold every
            # such trial of the run (most of them in the early months).
            low, high = (min(x[rank], LARGEST) if rank < x.size else LARGEST for rank in ranks)
            lows, highs = [low], [high]
            for cost_anchor, month_anchor in self._anchors():
                if month == month_anchor:
                    lows.append(cost_anchor)
                    highs.append(cost_anchor)
            self.bands[month] = Bands(lows, highs)
            self.bands[month].add(x)

    def finish(self, cost: np.ndarray) -> None:
        """A run shorter than the pilot: its pairs are the whole run, so the bands fixed from
        them as from a pilot hold every rank the figures need, exactly, while keeping only
        the values near them (keeping every x_D of every month took 14 x 8 bytes a trial).
        `cost` as for `end_pilot`."""
        if self.go_live is not None:
            self.end_pilot(cost)

    def _anchors(self) -> list[tuple[float, float]]:
        """(cost, month) pairs whose joint count is kept exactly: the base case and plan, and
        the decision's budget and date."""
        return [(self.base_cost, self.plan)] + ([self.chosen] if self.chosen is not None else [])

    def _choose_months(self, go_live: np.ndarray) -> tuple[float, ...]:
        """The months of the frontier: every month from the one before the earliest that can
        reach the level (with five standard errors to spare, so the true earliest is never
        missed) for MAX_MONTHS months, the 99th percentile of go-live if later, and the plan and
        the decision's date."""
        anchors = {month for _, month in self._anchors()}
        if go_live.size == 0:
            return tuple(sorted(anchors))
        n = go_live.size
        values, counts = np.unique(go_live, return_counts=True)
        share = np.cumsum(counts) / n
        margin = 5.0 * math.sqrt(self.level * (1.0 - self.level) / n)
        reachable = values[share >= self.level - margin]
        high = float(np.quantile(go_live, 0.99, method="inverted_cdf"))
        first = float(reachable[0]) if reachable.size else high
        start = max(float(values[0]), first - 1.0)
        months = set(np.arange(start, min(high, start + MAX_MONTHS - 1) + 1.0).tolist()) | {high}
        return tuple(sorted({float(m) for m in months} | anchors))

    # --- results ---------------------------------------------------------------------------
    def _order_statistic(self, month: float, rank: int) -> float | None:
        bands = self.bands[month]
        b = bands.find(rank)
        if b is None:
            return None
        return float(bands.values(b)[rank - bands.below[b] - 1])

    def describe(self, live_by) -> dict:
        """The joint block: P(base cost and plan together), and for each month D the chance of
        being live by D (`live_by(D)`, a count) and the smallest budget reaching the level."""
        n = self.trials
        frontier = []
        for month in self.months:
            lo, rank, hi = needed_ranks(n, self.level)
            live = live_by(month)
            value = self._order_statistic(month, rank) if rank <= live else math.inf
            ends = tuple(self._order_statistic(month, r) if r <= live else math.inf for r in (lo, hi))
            point = {"go_live_month": month, "p_live_by": probability(live, n)}
            if value is None:
                point["budget"] = {**estimate(None, None), "note": "outside the pilot's band: not determined"}
            elif math.isinf(value):
                point["budget"] = {**estimate(None, None), "note": "not reachable: too few trials live by then"}
            else:
                se = (ends[1] - ends[0]) / (2.0 * Z95) if None not in ends and n > 1 else None
                point["budget"] = estimate(value, se)
                if math.isinf(ends[1]) and n > 1:  # as a percentile whose interval reaches "never"
                    point["budget"]["note"] = NO_SE_NOTE
            frontier.append(point)
        def both(cost: float, month: float) -> dict:
            count = self.bands[month].at_most(cost)
            return probability(count, n) if count is not None else estimate(None, None)

        out = {"level": self.level, "trials": n, "frontier": frontier,
               "base_and_plan": both(self.base_cost, self.plan)}
        if self.chosen is not None:
            budget, month = self.chosen
            out["chosen"] = {"budget": budget, "go_live_month": month, "probability": both(budget, month)}
        return out
