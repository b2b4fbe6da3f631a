"""Value of information for one decision: what learning a driver before deciding is worth.

The decision has two options: invest or not (a trial's net benefit of investing is its NPV,
not investing is 0), or scenario A against scenario B (B's NPV minus A's, trial by trial with
common random numbers). Per trial this module gathers that incremental net benefit and the
drivers' values, from a result file (run with --columns all) or by simulating scenarios here,
and hands them to the estimators in `voi` (EVPI; each driver's and each named group's EVPPI).
The method, its standard errors and its bias are in docs/value-of-information.md.
"""

from __future__ import annotations

import difflib
import fnmatch
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import InputError, ResultFileError
from .summary import probability

#: Metrics a decision's net benefit can be measured in: money, more is better.
VOI_METRICS = ("npv",)
DECISIONS = ("invest", "compare")
#: Trials used from a result file unless told otherwise: EVPPI's standard errors shrink like
#: 1/sqrt(n), and 200,000 keep them a few % of EVPI while 44 drivers take seconds.
DEFAULT_VOI_MAX_TRIALS = 200_000
MIN_TRIALS = 1_000


@dataclass
class TrialSource:
    """One side of a decision: its scenario, seed, the first `trials` values of the metric, and
    a reader of any driver's first `trials` values."""

    scenario: object  # simengine.scenario.Scenario
    seed: int
    sampling: str
    total_trials: int  # of the run the trials come from (a Latin hypercube depends on it)
    values: np.ndarray
    read_driver: Callable[[str], np.ndarray]
    where: str  # a result file's path, or "simulated here"

    @property
    def trials(self) -> int:
        return self.values.size

    def drivers(self) -> list[str]:
        return list(self.scenario.drivers())


def is_result(source) -> bool:
    """Whether a CLI argument names a stored result (a .parquet file or a dataset folder), not a scenario."""
    from .dataset import is_dataset_target

    if not isinstance(source, (str, Path)):
        return False  # a Scenario
    text = str(source)
    if text.lower().endswith(".parquet"):
        return True
    try:
        return "\n" not in text and is_dataset_target(text)
    except OSError:  # not a path at all (TOML text, a name too long for the filesystem)
        return False


def from_result(path, metric: str, max_trials: int) -> TrialSource:
    """A result file's scenario, seed and first `max_trials` trials (drivers read when asked for)."""
    from .scenario import scenario_from_json
    from .stored import open_stored, require_columns

    stored = open_stored(path)
    meta = stored.metadata
    scenario = scenario_from_json(meta["scenario"])
    require_columns(stored, [metric, *scenario.drivers()], scenario.drivers(),
                    f"value of information needs the drivers and {metric} stored; this result was run with "
                    f"--columns {meta.get('columns', 'all')} (use --columns all)")
    n = min(int(meta["trials"]), max_trials)
    values = stored.head([metric], n)[metric]
    return TrialSource(scenario, int(meta["seed"]), meta.get("sampling", "mc"), int(meta["trials"]), values,
                       lambda name: stored.head([name], n)[name], stored.where)


def simulate(scenarios: list, metric: str, *, trials: int, seed: int, sampling: str = "mc",
             total_trials: int | None = None, threads: int | None = None) -> list[TrialSource]:
    """Trials 0..trials-1 of each scenario, run here in lockstep with one seed (common random
    numbers), keeping every driver's values and the metric."""
    from .engine import Simulation, check_run_options
    from .executors import LocalExecutor, run_columns

    total = total_trials or trials
    check_run_options(total, seed, sampling, threads, 1)
    sims = [Simulation(sc, sampling, total) for sc in scenarios]
    kept = run_columns(LocalExecutor(threads), sims, seed, trials, [[*sc.drivers(), metric] for sc in scenarios])
    return [TrialSource(sc, seed, sampling, total, columns[metric], columns.__getitem__, "simulated here")
            for sc, columns in zip(scenarios, kept)]


def match_group(spec: str, drivers: list[str], scenario_name: str) -> list[str]:
    """The drivers a --group names: comma-separated names or shell patterns (`schedule.*`), in
    the scenario's order; a pattern that matches nothing is an error with a suggestion."""
    patterns = [p.strip() for p in spec.split(",")]
    if not spec.strip() or any(not p for p in patterns):
        raise InputError(f"--group {spec!r}: give driver names or patterns separated by commas")
    chosen: list[str] = []
    for pattern in patterns:
        hits = [d for d in drivers if fnmatch.fnmatchcase(d, pattern)]
        if not hits:
            close = difflib.get_close_matches(pattern, drivers, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise InputError(f"--group {pattern}: matches no sampled driver of {scenario_name}{hint}")
        chosen += [d for d in hits if d not in chosen]
    return chosen


def driver_columns(sources: list[TrialSource]) -> tuple[list[str], Callable[[str], np.ndarray]]:
    """Every driver of the decision (A's first, then B's own) and a reader of its values.

    A driver both scenarios sample draws the same numbers in each (common random numbers), so
    knowing it in one is knowing it in the other: its values are read from A."""
    names: list[str] = []
    owner: dict[str, TrialSource] = {}
    for source in sources:
        for name in source.drivers():
            if name not in owner:
                owner[name] = source
                names.append(name)
    return names, lambda name: owner[name].read_driver(name)


def estimate_rows(names: list[str], labels: list[str], read: Callable[[str], np.ndarray], incremental: np.ndarray,
                  evpi_value: float, seed: int, gp_trials: int) -> list[dict]:
    """EVPPI of each entry (one driver, or several together), ranked by value."""
    from .voi import evppi

    rows = []
    for label, group in zip(labels, names):
        columns = [read(name)[:incremental.size] for name in group]
        x = columns[0] if len(columns) == 1 else np.column_stack(columns)
        try:
            est = evppi(x, incremental, seed=seed, gp_trials=gp_trials)
        except ValueError as exc:
            raise InputError(f"{'--group ' if len(group) > 1 or label != group[0] else ''}{label}: {exc}") from None
        rows.append({"name": label, "drivers": list(group),
                     "evppi": {"value": est["value"], "se": est["se"], "bias": est["bias"]},
                     "share_of_evpi": est["value"] / evpi_value if evpi_value > 0 else None,
                     "method": est["method"], "capped": est["capped"], "trials_fitted": est["trials_fitted"],
                     "learnable": not all(name.endswith(".occurred") for name in group),
                     "detail": est["detail"]})
    rows.sort(key=lambda r: -r["evppi"]["value"])
    return rows


def value_of_information(a: TrialSource, b: TrialSource | None = None, *, metric: str = "npv",
                         groups: tuple[str, ...] = (), per_driver: bool = True, seed: int = 0,
                         gp_trials: int = 1500) -> dict:
    """EVPI of the decision and the EVPPI of each driver and each group, as a JSON-ready dict.

    Without `b` the decision is to invest (net benefit: the metric) or not (0); with `b`, to
    choose A or B (net benefit of B over A: B's metric minus A's, trial by trial)."""
    from .voi import evpi

    started = time.perf_counter()
    if metric not in VOI_METRICS:
        raise InputError(f"--metric: {metric!r} is not one of {', '.join(VOI_METRICS)} (the decision's net "
                         "benefit must be money)")
    n = a.trials if b is None else min(a.trials, b.trials)
    if n < MIN_TRIALS:
        raise InputError(f"--trials: value of information needs at least {MIN_TRIALS:,} trials, got {n:,}")
    incremental = a.values[:n] if b is None else b.values[:n] - a.values[:n]
    if not np.all(np.isfinite(incremental)):
        raise ResultFileError(f"{a.where}: {metric} is null or infinite in some trials; it cannot be a net benefit")
    options = ["do not invest", "invest"] if b is None else [f"A: {a.scenario.name}", f"B: {b.scenario.name}"]
    total = evpi(incremental)
    names, read = driver_columns([a] if b is None else [a, b])
    entries = [[name] for name in names] if per_driver else []
    labels = list(names) if per_driver else []
    group_rows = []
    groups = tuple(dict.fromkeys(groups))  # a group asked for twice is estimated once
    if groups:
        chosen = [match_group(spec, names, a.scenario.name if b is None else "A or B") for spec in groups]
        group_rows = estimate_rows(chosen, list(groups), read, incremental, total["value"], seed, gp_trials)
    driver_rows = estimate_rows(entries, labels, read, incremental, total["value"], seed, gp_trials)
    favour_b = int(np.count_nonzero(incremental > 0.0))
    wrong = favour_b if total["choose"] == 0 else int(np.count_nonzero(incremental < 0.0))
    return {
        "scenario": a.scenario.name,
        "b": None if b is None else b.scenario.name,
        "decision": "invest" if b is None else "compare",
        "options": options,
        "metric": metric,
        "currency": a.scenario.currency,
        "seed": a.seed,
        "trials": n,
        "source": a.where if b is None else f"{a.where}; {b.where}",
        "net_benefit": {"value": total["mean"], "se": total["mean_se"],
                        "meaning": f"{metric} of investing" if b is None else f"{metric} of B minus {metric} of A"},
        "choice": options[total["choose"]],
        "p_choice_wrong": probability(wrong, n),
        "evpi": {"value": total["value"], "se": total["se"]},
        "groups": group_rows,
        "drivers": driver_rows,
        "seconds": time.perf_counter() - started,
    }


def open_decision(a, b=None, *, decision: str = "invest", metric: str = "npv", trials: int | None = None,
                  seed: int | None = None, max_trials: int | None = None,
                  threads: int | None = None) -> tuple[TrialSource, TrialSource | None]:
    """The trials of a decision's sides: each a result file (its stored trials) or a scenario,
    simulated here; a scenario beside a result runs with the result's seed and design, so the
    two sides share their random numbers trial by trial."""
    from .api import load, scenario_seed
    from .defaults import DEFAULT_TRIALS

    if decision not in DECISIONS:
        raise InputError(f"--decision: must be one of {', '.join(DECISIONS)}, got {decision!r}")
    if decision == "compare" and b is None:
        raise InputError("--decision compare: give B, a scenario or result, after A")
    if decision == "invest" and b is not None:
        raise InputError(f"{b}: a second scenario or result goes with --decision compare")
    if metric not in VOI_METRICS:
        raise InputError(f"--metric: {metric!r} is not one of {', '.join(VOI_METRICS)} (the decision's net "
                         "benefit must be money)")
    given = [x for x in (a, b) if x is not None]
    if max_trials is not None and not any(is_result(x) for x in given):
        raise InputError("--max-trials caps a result file's trials; a scenario simulated here takes --trials")
    if max_trials is not None and max_trials < MIN_TRIALS:
        raise InputError(f"--max-trials: value of information needs at least {MIN_TRIALS:,} trials, got {max_trials:,}")
    cap = DEFAULT_VOI_MAX_TRIALS if max_trials is None else max_trials
    stored = [from_result(x, metric, cap) if is_result(x) else None for x in given]
    results = [s for s in stored if s is not None]
    if results:
        first = results[0]
        if trials is not None:
            raise InputError("--trials: the trials of a result file are used (--max-trials caps them)")
        if seed is not None and seed != first.seed:
            raise InputError(f"--seed: {first.where} was run with seed {first.seed}; its trials keep it")
        for other in results[1:]:
            if (other.seed, other.sampling) != (first.seed, first.sampling):
                raise InputError(f"{other.where}: run with seed {other.seed} (sampling {other.sampling}), "
                                 f"{first.where} with seed {first.seed} (sampling {first.sampling}): common random "
                                 "numbers need the same seed and sampling design")
        scenarios = [load(x) for x, s in zip(given, stored) if s is None]
        runs = iter(simulate(scenarios, metric, trials=first.trials, seed=first.seed, sampling=first.sampling,
                             total_trials=first.total_trials, threads=threads)) if scenarios else iter(())
        sides = [s if s is not None else next(runs) for s in stored]
    else:
        scenarios = [load(x) for x in given]
        sides = simulate(scenarios, metric, trials=DEFAULT_TRIALS if trials is None else trials,
                         seed=scenario_seed(scenarios[0], seed),
                         threads=threads)
    return sides[0], (sides[1] if len(sides) > 1 else None)
