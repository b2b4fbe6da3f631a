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
    summaries = StreamingSummary(a.decision), StreamingSummary(b.decision)
    delta = StreamingSummary(NO_TARGETS)  # its "npv" row holds npv_A - npv_B
    wins = Comparison()

    def consume(results) -> None:
        chunk_a, chunk_b = results
        summaries[0].add(chunk_a.metrics)
        summaries[1].add(chunk_b.metrics)
        diff = np.full_like(chunk_a.metrics, np.nan)
        diff[NPV] = chunk_a.metrics[NPV] - chunk_b.metrics[NPV]
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
    }
