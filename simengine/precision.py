"""Precision targets: run until each named estimate's Monte Carlo standard error is small enough.

`--precision npv_mean=5000` keeps adding blocks of 65,536 trials until the standard error
of mean NPV is at most 5,000 EUR (or `--max-trials` is reached). The check runs at block
boundaries on the streamed summary, so the number of trials it settles on depends only on
(scenario, seed, targets), never on threads or chunking; a run of that many trials is then
an ordinary, reproducible run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .engine import Simulation
from .executors import LocalExecutor
from . import metrics as registry
from .errors import InputError
from .streams import BLOCK_SIZE
from .summary_stream import StreamingSummary

#: Estimates a precision target may name: each metric's mean, and two probabilities.
ESTIMATES = tuple(f"{m}_mean" for m in registry.summarized_names()) + ("p_npv_negative", "p_all_targets")


def parse_targets(texts) -> dict[str, float]:
    """`["npv_mean=5000", "p_npv_negative=0.005"]` -> {name: largest standard error allowed}."""
    targets = {}
    for text in texts:
        name, sep, value = text.partition("=")
        name = name.strip()
        if not sep or name not in ESTIMATES:
            raise InputError(f"--precision: expected NAME=SE with NAME one of {', '.join(ESTIMATES)}, got {text!r}")
        if name in targets:
            raise InputError(f"--precision {name}: given twice")
        targets[name] = value
    return check_targets(targets)


def check_targets(targets: dict) -> dict[str, float]:
    """{name: largest standard error allowed}, each name a known estimate and each value a
    finite number > 0 (the same check for the CLI and the Python API)."""
    checked = {}
    for name, value in targets.items():
        if name not in ESTIMATES:
            raise InputError(f"--precision: unknown estimate {name!r}; expected one of {', '.join(ESTIMATES)}")
        try:
            se = float(value)
        except (TypeError, ValueError):
            raise InputError(f"--precision {name}: {value!r} is not a number") from None
        if not se > 0 or not math.isfinite(se):
            raise InputError(f"--precision {name}: the standard error target must be a finite number > 0, got {value}")
        checked[name] = se
    return checked


def standard_error(acc: StreamingSummary, name: str) -> float | None:
    """The current standard error of an estimate, from the blocks merged so far."""
    n = acc.trials
    if n == 0:
        return None
    if name.endswith("_mean"):
        metric = name[:-len("_mean")]
        moments = acc.histograms[metric].moments if registry.metric(metric).histogram else acc.metrics[metric].moments
        return moments.describe()["mean"]["se"] if moments.n >= 2 else None
    p = _hits(acc, name) / n
    # A share seen as 0 or 1 still has uncertainty: use p(1-p) >= 1/n (about one trial either way).
    return math.sqrt(max(p * (1.0 - p), 1.0 / n) / n)


@dataclass
class PrecisionResult:
    trials: int
    met: bool
    standard_errors: dict[str, float | None]
    summary: StreamingSummary


def run_until_precise(scenario, targets: dict[str, float], seed: int, max_trials: int, executor=None,
                      sampling: str = "mc", on_chunk=None) -> PrecisionResult:
    """Simulate block by block on `executor` until every target is met (or max_trials); the
    summary of those trials."""
    if "p_all_targets" in targets and not any(v is not None for v in vars(scenario.decision).values()):
        raise InputError("--precision p_all_targets: the scenario has no decision targets")
    acc = StreamingSummary.for_scenario(scenario)
    met = False

    # Checks fall on block boundaries, where a Latin hypercube's blocks are complete and a
    # Sobol' sequence's prefix is itself a valid design: the trials found give the same
    # design again in an ordinary run of that length.
    def check(results) -> bool:
        nonlocal met
        for lo in range(0, results[0].size, BLOCK_SIZE):
            acc.add(results[0].metrics[:, lo:lo + BLOCK_SIZE])
            if on_chunk is not None:
                on_chunk(acc.trials)
            ses = {name: standard_error(acc, name) for name in targets}
            if all(se is not None and se <= targets[name] for name, se in ses.items()):
                met = True
                return True
        return False

    executor = executor or LocalExecutor()
    executor.run([Simulation(scenario, sampling, max_trials)], seed, 0, max_trials, check)
    acc.finish()
    ses = {name: standard_error(acc, name) for name in targets}
    return PrecisionResult(acc.trials, met, ses, acc)


def seen_in_none_or_all(acc: StreamingSummary, name: str) -> bool:
    """Whether a probability estimate has been seen in none or all of the trials: its standard
    error is then undefined, and `standard_error` gives the stopping rule's floor instead."""
    if name.endswith("_mean") or acc.trials == 0:
        return False
    return _hits(acc, name) in (0, acc.trials)


def _hits(acc: StreamingSummary, name: str) -> int:
    """The trials counted so far by a probability estimate (p_npv_negative or p_all_targets)."""
    return acc.npv_negative if name == "p_npv_negative" else acc.all_targets


def precision_report(targets: dict[str, float], result: PrecisionResult, max_trials: int) -> dict:
    """What the summary says about the targets: each one's standard error, and whether all were met.
    A probability seen in none or all of the trials has no standard error (the summary gives its
    bound); `se` is then the floor the stopping rule used, and `se_floor` says so."""
    return {"max_trials": max_trials, "met": result.met, "trials_used": result.trials,
            "estimates": {name: {"target_se": target, "se": result.standard_errors[name],
                                 "se_floor": seen_in_none_or_all(result.summary, name)}
                          for name, target in targets.items()}}
