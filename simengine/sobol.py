"""Sobol' indices of a metric by pick-freeze on the per-driver random streams (Saltelli's scheme).

With d independent factors, Saltelli's scheme evaluates the model on N rows of matrices A,
B and AB_i (A with factor i's inputs taken from B): (d + 2) N trials. Here every matrix is
a run of the same scenario, trials 0..N-1 with the run's seed, where only chosen drivers'
streams change (sampler.py, `resample`): A resamples nothing, B every driver, AB_i the
drivers of factor i, all from the second seed `sampler.resample_seed(seed)`. So no trials
x drivers design is held anywhere, only the metric's (d + 2) N values, and the result is
as reproducible as a run: fixed by (scenario, seed, trials, metric, resamples, conf_level).

A factor is one driver, or a group of drivers linked (directly or through others) by the
scenario's correlations: a group's streams are resampled together, so it keeps its joint
(copula) distribution and factors stay independent of each other, as Sobol' indices need.
Each event's drivers (occurred, cost, delay, loss) are separate factors.

The estimators are SALib's (`SALib.analyze.sobol`, second order off): first order S1 by
Saltelli et al. (2010), total ST by Jansen (1999), each with a bootstrap confidence
half-width (`resamples` resamples, seeded by seed + 1: SALib takes a seed of 0 as none),
taken a block of resamples at a time to bound its memory (`salib_indices`).
The metric must be defined in every trial and must vary.

`sobol_indices` returns a JSON-ready dict:
- scenario, metric, currency, seed, sampling ("mc"), trials_per_matrix (N), factors (d),
  runs (d + 2), total_trials ((d + 2) N), conf_level, resamples, seconds;
- mean, variance: the metric's mean and variance (ddof 0, SALib's) over the 2N trials of A and B;
- factors_list: one entry per factor, ranked by total effect (descending; ties in driver
  order): {"name": the driver, or "a + b + ..." for a group, "drivers": [...],
  "first_order": {"value", "ci", "se"}, "total": {...}}, where ci is the bootstrap
  half-width at conf_level and se = ci / z (z the normal quantile of the level);
- sum_first_order: the sum of the S1 values (1 less this is the share of variance due to
  interactions, up to sampling error);
- note: one line on what the indices of a correlated group mean.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from . import metrics
from .defaults import DEFAULT_SOBOL_TRIALS, MAX_SOBOL_TRIALS
from .engine import Simulation, check_run_options
from .errors import InputError
from .executors import Executor, LocalExecutor, run_columns
from .scenario import Scenario

#: The bootstrap's time grows with N x resamples x factors: 200 resamples up to
#: DEFAULT_SOBOL_TRIALS, then fewer, so that N x resamples stays at 8,192 x 200, down to
#: MIN_RESAMPLES. On crm_upgrade_big_bang (2 cores) at N = 65,536: 65 s and 462 MiB with 200
#: resamples, 20 s and 386 MiB with 50; at N = 131,072 and 50 resamples 53 s and 473 MiB (whole
#: process; the bootstrap is taken in blocks, see salib_indices): MAX_SOBOL_TRIALS bounds N.
DEFAULT_RESAMPLES, MIN_RESAMPLES = 200, 50
#: Bootstrap values held per block (salib_indices): 2^18 doubles, 2 MB an array.
BOOTSTRAP_CELLS = 1 << 18
#: Metrics Sobol' indices may be asked of (a nullable one only where no trial has a null).
SOBOL_METRICS = metrics.sensitivity_names()
#: Of those, the metrics that are never null: always fit for Sobol' indices.
DEFINED_METRICS = tuple(m.name for m in metrics.METRICS if not m.nullable and m.name in SOBOL_METRICS)
GROUP_NOTE = ("A factor named 'a + b' is a group of correlated drivers resampled together: its indices measure "
              "the group's joint effect, not how it splits among its drivers.")


@dataclass(frozen=True)
class Factor:
    """One independent input of the analysis: a driver or a correlated group (in driver order)."""

    name: str
    drivers: tuple[str, ...]


def sobol_factors(scenario: Scenario) -> list[Factor]:
    """The scenario's independent factors, in driver order of their first driver."""
    groups = Simulation(scenario).plan.independent_groups()
    return [Factor(" + ".join(group), group) for group in groups]


def matrix_resamples(factors: list[Factor]) -> list[frozenset[str]]:
    """What each run resamples, in SALib's order: A (nothing), AB_1 .. AB_d, B (every driver)."""
    every = frozenset(name for f in factors for name in f.drivers)
    return [frozenset()] + [frozenset(f.drivers) for f in factors] + [every]


def metric_runs(scenario: Scenario, factors: list[Factor], *, metric: str, trials: int, seed: int,
                executor: Executor, on_progress=None) -> np.ndarray:
    """The metric's values, one row per run in `matrix_resamples` order (A, AB_1 .. AB_d, B)."""
    resamples = matrix_resamples(factors)
    if getattr(executor, "distributed", False):
        jobs = [executor.job(scenario.canonical_json, seed, trials, "mc", fan=False, resample=r or None)
                for r in resamples]
        columns = executor.jobs_metric_columns(jobs, [metric], on_progress)
        return np.stack([c[metric] for c in columns])
    runs = np.empty((len(resamples), trials))
    for k, resample in enumerate(resamples):
        step = None if on_progress is None else (lambda done, base=k * trials: on_progress(base + done))
        (columns,) = run_columns(executor, [Simulation(scenario, "mc", trials, resample or None)], seed, trials,
                                 [[metric]], step)
        runs[k] = columns[metric]
        if k == 0:
            check_defined(metric, runs[:1])  # a metric with nulls fails after one run, not d + 2
    return runs


def salib_outputs(runs: np.ndarray) -> np.ndarray:
    """Y in SALib's order for calc_second_order=False: for each row j, A_j, AB_1j .. AB_dj, B_j
    (SALib.analyze.sobol.separate_output_values takes every (d + 2)-th value)."""
    return np.ascontiguousarray(runs.T).ravel()


def check_defined(metric: str, runs: np.ndarray) -> None:
    """Reject a metric with a null in any trial, in one line, counted in the first run that has one."""
    for run in runs:
        nulls = int(np.isnan(run).sum())
        if nulls:
            raise InputError(f"--metric {metric}: null in {nulls:,} of {run.size:,} trials of a run; Sobol' indices "
                             f"need a metric defined in every trial ({', '.join(DEFINED_METRICS)})")


def check_varies(metric: str, a_and_b: np.ndarray) -> None:
    """Reject a metric with the same value in every trial of A and B: there is no variance to share."""
    if a_and_b.size and np.ptp(a_and_b) == 0:
        raise InputError(f"--metric {metric}: {a_and_b.flat[0]:g} in every trial; Sobol' indices need a metric "
                         "that varies")


def check_options(metric: str, trials: int, seed: int, threads: int | None, resamples: int,
                  conf_level: float) -> None:
    """Reject impossible options with one line each."""
    if metric not in SOBOL_METRICS:
        raise InputError(f"--metric: must be one of {', '.join(SOBOL_METRICS)}, got {metric!r}")
    if isinstance(trials, bool) or not isinstance(trials, int) or not 2 <= trials <= MAX_SOBOL_TRIALS:
        got = f"{trials:,}" if isinstance(trials, int) and not isinstance(trials, bool) else repr(trials)
        raise InputError(f"--trials: Sobol' indices take 2 to {MAX_SOBOL_TRIALS:,} trials per run, got {got} "
                         "(their bootstrap's time grows with it)")
    check_run_options(trials, seed, "mc", threads, 1)
    if resamples < 2:
        raise InputError(f"--resamples: must be at least 2 (for a bootstrap spread), got {resamples}")
    if not 0 < conf_level < 1:
        raise InputError(f"--conf-level: must be between 0 and 1 (exclusive), got {conf_level}")


def default_resamples(trials: int) -> int:
    """Bootstrap resamples for N trials: 200 up to 8,192, then as many as keep N x resamples at
    8,192 x 200, at least 50 (the intervals shrink with N anyway)."""
    budget = DEFAULT_SOBOL_TRIALS * DEFAULT_RESAMPLES
    return int(min(DEFAULT_RESAMPLES, max(MIN_RESAMPLES, budget // max(trials, 1))))


def salib_indices(runs: np.ndarray, resamples: int, conf_level: float, seed: int,
                  cells: int = BOOTSTRAP_CELLS) -> dict[str, np.ndarray]:
    """S1, S1_conf, ST and ST_conf of each factor (rows A, AB_1 .. AB_d, B of `runs`): what
    `SALib.analyze.sobol.analyze` (second order off) returns, with SALib's estimators on SALib's
    bootstrap draws, but its bootstrap taken a block of resamples at a time. SALib holds some ten
    N x resamples arrays at once (about 110 MB at 8,192 x 200) and indexes A and B anew for each
    factor; a block of `cells` // N resamples (at least 2) bounds that to a few MB. Per resample
    the arithmetic is SALib's, column by column, so the values match its own call (the tests
    compare them)."""
    from SALib.analyze.sobol import first_order, separate_output_values, total_order  # pandas comes with it
    from scipy.stats import norm  # SALib's quantile for its intervals

    d, n = runs.shape[0] - 2, runs.shape[1]
    y = salib_outputs(runs)
    y = (y - y.mean()) / y.std()  # SALib normalizes Y first
    a, b, ab, _ = separate_output_values(y, d, n, False)
    picks = np.random.default_rng(seed).integers(n, size=(n, resamples))  # SALib's draws, in its order
    z = norm.ppf(0.5 + conf_level / 2)
    boot_s1, boot_st = np.empty((d, resamples)), np.empty((d, resamples))
    low, high = np.inf, -np.inf
    for cols in bootstrap_blocks(resamples, max(2, cells // n)):
        rows = picks[:, cols]
        a_r, b_r = a[rows], b[rows]
        low, high = min(low, a_r.min(), b_r.min()), max(high, a_r.max(), b_r.max())
        for j in range(d):
            ab_r = ab[rows, j]
            boot_s1[j, cols] = first_order(a_r, ab_r, b_r)
            boot_st[j, cols] = total_order(a_r, ab_r, b_r)
    spread = high > low  # SALib gives an interval of 0 when every resampled A and B value is the same
    return {"S1": np.array([first_order(a, ab[:, j], b) for j in range(d)]),
            "ST": np.array([total_order(a, ab[:, j], b) for j in range(d)]),
            "S1_conf": np.array([z * boot_s1[j].std(ddof=1) if spread else 0.0 for j in range(d)]),
            "ST_conf": np.array([z * boot_st[j].std(ddof=1) if spread else 0.0 for j in range(d)])}


def bootstrap_blocks(resamples: int, width: int) -> list[slice]:
    """Column blocks of `width` covering 0..resamples-1, none of one column (a lone column is
    summed pairwise by numpy, not row by row as in SALib's whole array): a last column joins the
    block before it."""
    starts = list(range(0, resamples, width))
    if len(starts) > 1 and resamples - starts[-1] == 1:
        starts.pop()
    return [slice(lo, hi) for lo, hi in zip(starts, starts[1:] + [resamples])]


def estimate(value: float, ci: float, z: float) -> dict:
    """An index with its confidence half-width and the standard error it implies."""
    return {"value": float(value), "ci": float(ci), "se": float(ci) / z}


def sobol_indices(scenario: Scenario, *, metric: str = "npv", trials: int = DEFAULT_SOBOL_TRIALS, seed: int,
                  executor: Executor | None = None, threads: int | None = None, resamples: int | None = None,
                  conf_level: float = 0.95, on_progress=None) -> dict:
    """First-order and total Sobol' indices of `metric` for each independent factor (see the
    module docstring for the scheme and the returned dict). `trials` is N, the rows of each
    matrix; `on_progress(done)` counts trials over all (d + 2) N. `resamples` defaults to
    `default_resamples(trials)`."""
    if resamples is None:
        resamples = default_resamples(trials)
    check_options(metric, trials, seed, threads, resamples, conf_level)
    started = time.perf_counter()
    executor = executor or LocalExecutor(threads)
    factors = sobol_factors(scenario)
    runs = metric_runs(scenario, factors, metric=metric, trials=trials, seed=seed, executor=executor,
                       on_progress=on_progress)
    check_defined(metric, runs)
    a_and_b = np.concatenate([runs[0], runs[-1]])
    check_varies(metric, a_and_b)
    found = salib_indices(runs, resamples, conf_level, seed + 1)
    z = NormalDist().inv_cdf(0.5 + conf_level / 2)
    entries = [{"name": f.name, "drivers": list(f.drivers),
                "first_order": estimate(found["S1"][i], found["S1_conf"][i], z),
                "total": estimate(found["ST"][i], found["ST_conf"][i], z)} for i, f in enumerate(factors)]
    entries.sort(key=lambda e: -e["total"]["value"])
    return {"scenario": scenario.name, "metric": metric, "currency": scenario.currency, "seed": seed,
            "sampling": "mc", "trials_per_matrix": trials, "factors": len(factors), "runs": len(factors) + 2,
            "total_trials": (len(factors) + 2) * trials, "conf_level": conf_level, "resamples": resamples,
            "seconds": time.perf_counter() - started, "mean": float(a_and_b.mean()),
            "variance": float(a_and_b.var()), "factors_list": entries,
            "sum_first_order": float(sum(found["S1"])), "note": GROUP_NOTE}
