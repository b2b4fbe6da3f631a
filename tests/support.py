"""Shared test helpers: build scenarios, evaluate them, and turn a trial into a reference spec."""

from __future__ import annotations

import copy

import numpy as np

from simengine.defaults import DEFAULT_CHUNK
from simengine.engine import RangeResult, Simulation
from simengine.executors import LocalExecutor
from simengine.kernels.cashflows import METRICS
from simengine.scenario import parse_scenario

BASE = {
    "name": "test", "discount_rate": 0.08, "horizon_months": 36,
    "schedule": {"planned_months": 6},
    "costs": {"lic": {"timing": "upfront", "amount": 50000},
              "impl": {"timing": "implementation", "amount": 120000, "labor": True},
              "ops": {"timing": "recurring", "amount": 24000}},
    "risks": {"maintenance_load": 0.2},
    "adoption": {"ramp_months": 6},
    "benefits": {"streams": {"prod": {"amount": 200000}}},
}


def scenario(**overrides):
    """BASE with top-level keys replaced (deep-copied)."""
    data = copy.deepcopy(BASE)
    data.update(copy.deepcopy(overrides))
    return parse_scenario(data)


def simulate_chunk(sc, seed: int, start: int, stop: int) -> RangeResult:
    """Sample and evaluate trials start..stop-1 of a scenario in one piece (fresh memory)."""
    return Simulation(sc).chunk(seed, start, stop)


def sample_fields(sc, seed: int, start: int, stop: int) -> dict[str, np.ndarray]:
    """Every kernel input column for trials start..stop-1, by name (fixed fields as constant arrays)."""
    sim = Simulation(sc)
    inputs = sim.inputs(seed, start, stop)
    return {name: inputs[row] for name, row in sim.plan.rows.items()}


def iter_chunks(sc, trials: int, seed: int, *, sampling: str = "mc", threads: int | None = None,
                chunk_size: int = DEFAULT_CHUNK, cash: np.ndarray | None = None) -> list[RangeResult]:
    """A run's chunks as the local executor computes them, copied out of its reused buffers."""
    chunks = []

    def keep(results) -> None:
        (r,) = results
        chunks.append(RangeResult(r.start, {k: v.copy() for k, v in r.drivers.items()}, r.metrics.copy()))

    LocalExecutor(threads, chunk_size).run([Simulation(sc, sampling, trials)], seed, 0, trials, keep, cash=cash)
    return chunks


def metrics_of(sc, trials: int = 1, seed: int = 1, start: int = 0) -> dict[str, np.ndarray]:
    """Per-trial metrics of trials start..start+trials-1 as named columns (NaN = null)."""
    chunk = simulate_chunk(sc, seed, start, start + trials)
    return {m: chunk.metrics[j] for j, m in enumerate(METRICS)}


def reference_specs(sc, seed: int, start: int, stop: int) -> list[dict]:
    """The reference model's input spec of each trial, from the engine's own sampled values."""
    return specs_from_values(sc, sample_fields(sc, seed, start, stop), stop - start)


def specs_from_values(sc, values: dict[str, np.ndarray], n: int) -> list[dict]:
    """The reference model's input spec of each of n trials, from kernel input columns by name."""
    col = {k: np.broadcast_to(np.asarray(v, dtype=float), (n,)) for k, v in values.items()}
    specs = []
    for j in range(n):
        def g(key, j=j):
            return float(col[key][j])
        specs.append({
            "horizon_months": sc.horizon_months, "discount_rate": g("discount_rate"),
            "planned_months": g("schedule.planned_months"), "delay_months": g("schedule.delay_months"),
            "schedule_overrun": g("risks.schedule_overrun"),
            "delay_cost_per_month": g("schedule.delay_cost_per_month"),
            "cost_overrun": g("risks.cost_overrun"), "maintenance_load": g("risks.maintenance_load"),
            "maintenance_cap": g("risks.maintenance_cap"),
            "costs": [{"amount": g(f"costs.{c.name}.amount"), "timing": c.timing, "start": c.start,
                       "overrun": c.overrun, "labor": c.labor} for c in sc.costs],
            "adoption": {"ceiling": g("adoption.ceiling"), "ramp_months": g("adoption.ramp_months"),
                         "curve": sc.curve, "bass_p": g("adoption.bass_p"), "bass_q": g("adoption.bass_q"),
                         "phases": [{"share": p.share, "offset_months": p.offset_months} for p in sc.phases]},
            "realization": g("benefits.realization"),
            "benefits": [{"amount": g(f"benefits.streams.{b.name}.amount"),
                          "scales_with_adoption": b.scales_with_adoption} for b in sc.benefits],
            "events": [{"occurred": bool(g(f"events.{e.name}.occurred")), "cost": g(f"events.{e.name}.cost"),
                        "delay_months": g(f"events.{e.name}.delay_months"),
                        "benefit_loss": g(f"events.{e.name}.benefit_loss")} for e in sc.events],
        })
    return specs
