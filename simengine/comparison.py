"""Compare two scenarios with common random numbers: the distribution of the difference A - B.

Both scenarios are simulated with the same seed, trial by trial in lockstep; drivers with
the same name draw the same numbers (streams.py), so trial i of A and trial i of B face the
same uncertainty wherever the scenarios share it. The difference then has far less Monte
Carlo noise than two independent runs: the report gives both standard errors of the mean
difference so the gain can be seen. Nothing is written to disk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .defaults import DEFAULT_CHUNK
from .engine import Simulation, check_run_options
from .executors import Executor, LocalExecutor
from .errors import SimengineError
from .kernels.cashflows import METRICS
from .scenario import Decision, Scenario
from .summary import probability
from .summary_stream import StreamingSummary

NPV, PAYBACK = METRICS.index("npv"), METRICS.index("payback_months")
#: Metrics whose trial-by-trial difference A - B is summarized (common random numbers).
PAIRED = ("npv", "one_time_cost", "go_live_month")
NO_TARGETS = Decision()


@dataclass
class Comparison:
    """Counts of which side wins, accumulated chunk by chunk."""

    trials: int = 0
    npv_a_higher: int = 0
    payback_a_earlier: int = 0
    payback_b_earlier: int = 0

    def add(self, a: np.ndarray, b: np.ndarray) -> None:
        self.trials += a.shape[1]
        self.npv_a_higher += int(np.count_nonzero(a[NPV] > b[NPV]))
        # "never" pays back ranks after every month
        pa = np.where(np.isnan(a[PAYBACK]), np.inf, a[PAYBACK])
        pb = np.where(np.isnan(b[PAYBACK]), np.inf, b[PAYBACK])
        self.payback_a_earlier += int(np.count_nonzero(pa < pb))
        self.payback_b_earlier += int(np.count_nonzero(pb < pa))


def compare(a: Scenario, b: Scenario, *, trials: int, seed: int, threads: int | None = None,
            chunk_size: int = DEFAULT_CHUNK, samples: dict | None = None, keep: int = 1_000_000,
            executor: Executor | None = None) -> dict:
    """Simulate A and B with common random numbers and summarize each and their difference.

    With a `samples` dict, the first `keep` trials' NPVs of both are left in it (as
    "a_npv" and "b_npv") for the comparison report's charts.
    """
    check_run_options(trials, seed, "mc", threads, chunk_size)
    executor = executor or LocalExecutor(threads, chunk_size)
    summaries = StreamingSummary.for_scenario(a), StreamingSummary.for_scenario(b)
    delta = StreamingSummary(NO_TARGETS)  # its PAIRED rows hold A - B, trial by trial
    wins = Comparison()

    def consume(results) -> None:
        chunk_a, chunk_b = results
        summaries[0].add(chunk_a.metrics)
        summaries[1].add(chunk_b.metrics)
        diff = np.full_like(chunk_a.metrics, np.nan)
        for name in PAIRED:
            row = METRICS.index(name)
            diff[row] = chunk_a.metrics[row] - chunk_b.metrics[row]
        delta.add(diff)
        wins.add(chunk_a.metrics, chunk_b.metrics)
        if samples is not None and chunk_a.start < keep:
            take = min(chunk_a.size, keep - chunk_a.start)
            samples.setdefault("a_npv", []).append(chunk_a.metrics[NPV, :take].copy())
            samples.setdefault("b_npv", []).append(chunk_b.metrics[NPV, :take].copy())

    executor.run([Simulation(a), Simulation(b)], seed, 0, trials, consume)
    if samples is not None:
        for key in ("a_npv", "b_npv"):
            samples[key] = np.concatenate(samples.get(key, [np.empty(0)]))
    for s in (*summaries, delta):
        s.finish()
    for s in (*summaries, delta):
        for name in s.incomplete():  # a second pass is astronomically rare; see summary_stream
            raise SimengineError(f"the percentiles of {name} fell outside their pilot bands (a 5-sigma event); "
                                 "rerun the comparison with another seed")
    sa, sb, sd = (s.summary() for s in (*summaries, delta))
    diff = sd["metrics"]["npv"]
    sd_a, sd_b = sa["metrics"]["npv"]["sd"]["value"], sb["metrics"]["npv"]["sd"]["value"]
    independent_se = math.sqrt((sd_a ** 2 + sd_b ** 2) / trials) if sd_a is not None and sd_b is not None else None
    n = wins.trials
    paired = {name: {key: sd["metrics"][name][key] for key in ("mean", "p10", "p50", "p90")}
              for name in PAIRED if name != "npv"}
    return {
        "a": {"scenario": a.name, "summary": sa},
        "b": {"scenario": b.name, "summary": sb},
        "currency": a.currency,
        "trials": trials,
        "seed": seed,
        "delta_npv": {key: diff[key] for key in ("mean", "sd", "p5", "p10", "p50", "p90", "p95")},
        "delta_npv_mean_se_if_independent": independent_se,
        "p_a_beats_b_npv": probability(wins.npv_a_higher, n),
        "p_a_pays_back_earlier": probability(wins.payback_a_earlier, n),
        "p_b_pays_back_earlier": probability(wins.payback_b_earlier, n),
        "warnings": comparability_warnings(a, b),
        "delta_paired": paired,
        "delta_levels": level_differences(sa, sb),
        "inputs_differ": differing_inputs(a, b),
    }


def comparability_warnings(a: Scenario, b: Scenario) -> list[str]:
    """What makes A's and B's figures measure different things (the comparison still runs)."""
    out = []
    if a.horizon_months != b.horizon_months:
        out.append(f"A and B have different horizons ({a.horizon_months} and {b.horizon_months} months): NPV, "
                   "total cost and payback (and who pays back first) are measured over different windows")
    if a.currency != b.currency:
        out.append(f"A and B are in different currencies ({a.currency} and {b.currency}): money is not converted")
    return out


def difference(x: dict, y: dict) -> dict:
    """x - y of two estimates; the standard error as if they were independent, an upper bound
    here: common random numbers correlate A's and B's estimates positively."""
    if x["value"] is None or y["value"] is None:
        return {"value": None, "se_if_independent": None}
    se = math.hypot(x["se"], y["se"]) if x["se"] is not None and y["se"] is not None else None
    return {"value": x["value"] - y["value"], "se_if_independent": se}


def level_differences(sa: dict, sb: dict) -> dict:
    """A - B of the figures a board compares: the P80 budget (one-time cost), the P80 go-live
    month and CVaR 5 % of NPV."""
    return {
        "one_time_cost_p80": difference(sa["metrics"]["one_time_cost"]["p80"], sb["metrics"]["one_time_cost"]["p80"]),
        "go_live_month_p80": difference(sa["metrics"]["go_live_month"]["p80"], sb["metrics"]["go_live_month"]["p80"]),
        "cvar5_npv": difference(sa["cvar5_npv"], sb["cvar5_npv"]),
    }


def differing_inputs(a: Scenario, b: Scenario) -> list[dict]:
    """Every input that is not the same in A and B: each sampled or fixed field (by dotted path,
    as `describe()` shows it, None where a scenario lacks it), each cost item's timing and
    flags, the adoption curve and phases, the horizon and the decision targets."""
    def inputs(s: Scenario) -> dict[str, str]:
        out = {path: d.describe() for path, d in s.fields().items()}
        for c in s.costs:
            out[f"costs.{c.name}.timing"] = c.timing + (f" from {c.start}" if c.timing == "recurring" else "")
            out[f"costs.{c.name}.flags"] = f"overrun={c.overrun}, labor={c.labor}"
        out["adoption.curve"] = s.curve
        out["adoption.phases"] = ", ".join(f"{p.share:g} at +{p.offset_months:g}" for p in s.phases)
        out["horizon_months"] = str(s.horizon_months)
        for key, value in vars(s.decision).items():
            if value is not None:
                out[f"decision.{key}"] = f"{value:g}"
        return out

    ia, ib = inputs(a), inputs(b)
    return [{"input": path, "a": ia.get(path), "b": ib.get(path)}
            for path in list(ia) + [p for p in ib if p not in ia] if ia.get(path) != ib.get(path)]
