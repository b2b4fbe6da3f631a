"""The bridge from a validated scenario to the kernel: input columns and static structure.

A trial's inputs form one column of a float matrix whose row order is fixed here
(docs/model.md's scalars, then cost amounts, benefit amounts and the four event columns);
everything that does not vary by trial (timings, flags, phases, curve) is a small array.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .kernels import cashflows as k
from .scenario import Scenario

SCALAR_FIELDS = {
    "discount_rate": k.DISCOUNT,
    "schedule.planned_months": k.PLANNED,
    "schedule.delay_months": k.DELAY,
    "schedule.delay_cost_per_month": k.DELAY_COST,
    "risks.cost_overrun": k.OVERRUN,
    "risks.maintenance_load": k.MLOAD,
    "risks.maintenance_cap": k.MCAP,
    "adoption.ceiling": k.CEILING,
    "adoption.ramp_months": k.RAMP,
    "benefits.realization": k.REALIZATION,
    "adoption.bass_p": k.BASS_P,
    "adoption.bass_q": k.BASS_Q,
    "risks.schedule_overrun": k.SCHEDULE_OVERRUN,
}
TIMING_CODES = {"upfront": k.UPFRONT, "implementation": k.IMPLEMENTATION, "recurring": k.RECURRING,
                "rollout": k.ROLLOUT}
CURVE_CODES = {"linear": k.LINEAR, "logistic": k.LOGISTIC, "bass": k.BASS}


@dataclass(frozen=True)
class ModelStructure:
    """Column names of the kernel's input matrix and the per-scenario static arrays."""

    columns: tuple[str, ...]
    cost_timing: np.ndarray
    cost_from_start: np.ndarray
    cost_overrun: np.ndarray
    cost_labor: np.ndarray
    benefit_scales: np.ndarray
    phase_share: np.ndarray
    phase_offset: np.ndarray
    n_events: int
    curve: int
    n_months: int

    @classmethod
    def of(cls, s: Scenario) -> "ModelStructure":
        columns = list(SCALAR_FIELDS)
        columns += [f"costs.{c.name}.amount" for c in s.costs]
        columns += [f"benefits.streams.{b.name}.amount" for b in s.benefits]
        for part in ("occurred", "cost", "delay_months", "benefit_loss"):
            columns += [f"events.{e.name}.{part}" for e in s.events]
        return cls(
            columns=tuple(columns),
            cost_timing=np.array([TIMING_CODES[c.timing] for c in s.costs], dtype=np.int64),
            cost_from_start=np.array([c.start == "start" for c in s.costs], dtype=np.bool_),
            cost_overrun=np.array([c.overrun for c in s.costs], dtype=np.bool_),
            cost_labor=np.array([c.labor for c in s.costs], dtype=np.bool_),
            benefit_scales=np.array([b.scales_with_adoption for b in s.benefits], dtype=np.bool_),
            phase_share=np.array([p.share for p in s.phases], dtype=np.float64),
            phase_offset=np.array([p.offset_months for p in s.phases], dtype=np.float64),
            n_events=len(s.events),
            curve=CURVE_CODES[s.curve],
            n_months=s.horizon_months,
        )

    def run_kernel(self, inputs: np.ndarray, out: np.ndarray | None = None,
                   cash: np.ndarray | None = None) -> np.ndarray:
        """Per-trial metrics (len(METRICS) x trials, NaN for null) of an input matrix (columns x trials).

        Written into `out[:, :trials]` when a buffer is given. With `cash` (rows x months),
        the first `rows` trials' cumulative cash by month is written there too.
        """
        n = inputs.shape[1]
        out = np.empty((len(k.METRICS), n)) if out is None else out[:, :n]
        if cash is None:
            cash = np.empty((0, self.n_months))
        k.simulate(inputs, self.cost_timing, self.cost_from_start, self.cost_overrun, self.cost_labor,
                   self.benefit_scales, self.phase_share, self.phase_offset, self.n_events, self.curve,
                   self.n_months, out, cash)
        return out
