"""The engine's seam: a scenario made ready to simulate, and `simulate_range`, the pure
function from (scenario, seed, trials start..stop-1) to their drivers, metrics and summary
partials that every executor calls or mirrors.

Everything with state or I/O lives in the executors, the runner and `output`; the kernel
stays a pure array function. Trials are independent (see `streams`), so a range's results
do not depend on where, or in how many pieces, it is computed.

`resample` (a set of driver names, plain Monte Carlo only) draws those drivers' streams from
a second seed derived from the run's (`sampler.resample_seed`): the pick-freeze runs of
Sobol' indices (sobol.py). None, the default, is the plain run.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from concurrent.futures import Executor

import numpy as np

from .cash_fan import FAN_TRIALS
from .defaults import MAX_TRIALS
from .errors import InputError
from .jit import max_threads
from .kernels.cashflows import METRICS
from .model import ModelStructure
from .designs import SAMPLING_METHODS
from .sampler import SamplerPlan
from .scenario import Scenario, scenario_from_json
from .streams import BLOCK_SIZE
from .summary import SUMMARY_METRICS
from .summary_stream import BlockPartial, block_partial

SUMMARY_ROWS = tuple(METRICS.index(m) for m in SUMMARY_METRICS)


@dataclass
class RangeResult:
    """Trials start..start+size-1 of a run: sampled drivers, metrics (NaN = null), and where
    computed remotely, each block's summary partial and the fan's cumulative-cash rows."""

    start: int
    drivers: dict[str, np.ndarray]
    metrics: np.ndarray  # len(METRICS) x trials
    partials: list[BlockPartial] | None = None
    cash: np.ndarray | None = field(default=None, repr=False)

    @property
    def size(self) -> int:
        return self.metrics.shape[1]

    @property
    def stop(self) -> int:
        return self.start + self.size

    def metric(self, name: str) -> np.ndarray:
        return self.metrics[METRICS.index(name)]


class Simulation:
    """A scenario made ready to simulate: kernel structure and sampler plan, built once per run
    (`resample`: drivers drawn from the second seed, see the module docstring)."""

    def __init__(self, scenario: Scenario, sampling: str = "mc", trials: int = 0,
                 resample: frozenset[str] | None = None):
        self.scenario = scenario
        self.structure = ModelStructure.of(scenario)
        self.plan = SamplerPlan.of(scenario, self.structure, sampling, trials, resample)

    def inputs(self, seed: int, start: int, stop: int, pool: Executor | None = None,
               out: np.ndarray | None = None) -> np.ndarray:
        """The kernel's input matrix (columns x trials) of trials start..stop-1."""
        return self.plan.fill(seed, start, stop, pool, out)

    def chunk(self, seed: int, start: int, stop: int, pool: Executor | None = None,
              buffers: tuple[np.ndarray, np.ndarray] | None = None, cash: np.ndarray | None = None) -> RangeResult:
        """Sample and evaluate trials start..stop-1 (into reused `buffers` when given).

        `cash` (rows x months) receives the cumulative cash by month of the range's first
        `rows` trials.
        """
        inputs_buffer, metrics_buffer = buffers if buffers is not None else (None, None)
        inputs = self.inputs(seed, start, stop, pool, inputs_buffer)
        metrics = self.structure.run_kernel(inputs, metrics_buffer, cash)
        return RangeResult(start, self.plan.driver_rows(inputs), metrics, cash=cash)

    def buffers(self, chunk_size: int) -> tuple[np.ndarray, np.ndarray]:
        """Input and metrics matrices for chunks of up to `chunk_size` trials, to reuse chunk after chunk.

        Fresh memory is costly to touch (page faults); a run that reuses these keeps its
        memory flat and skips that cost after the first chunk.
        """
        return self.plan.buffer(chunk_size), np.empty((len(METRICS), chunk_size))


def check_run_options(trials: int, seed: int, sampling: str, threads: int | None, chunk_size: int) -> None:
    """Reject impossible run options with one line each."""
    if not 1 <= trials <= MAX_TRIALS:
        raise InputError(f"--trials: must be between 1 and {MAX_TRIALS}, got {trials}")
    if not 0 <= seed < 2**63:
        raise InputError(f"--seed: must be between 0 and 2**63-1, got {seed}")
    if sampling not in SAMPLING_METHODS:
        raise InputError(f"--sampling: must be one of {', '.join(SAMPLING_METHODS)}, got {sampling!r}")
    if threads is not None and not 1 <= threads <= max_threads():
        raise InputError(f"--threads: must be between 1 and {max_threads()} on this machine, got {threads}")
    if chunk_size < 1:
        raise InputError(f"chunk size must be >= 1, got {chunk_size}")


_SIMULATIONS: dict[tuple[str, str, int, frozenset[str]], Simulation] = {}
_SIMULATIONS_LOCK = threading.Lock()
CACHED_SIMULATIONS = 8


def simulation_for(scenario: Scenario | str, sampling: str = "mc", trials: int = 0,
                   resample: frozenset[str] | None = None) -> Simulation:
    """The `Simulation` of a scenario (or its canonical JSON), built once per process and kept
    by (scenario hash, sampling, trials, resample): a worker called again for the same run reuses it."""
    parsed = scenario if isinstance(scenario, Scenario) else scenario_from_json(scenario)
    key = (parsed.sha256, sampling, trials if sampling == "lhs" else 0, frozenset(resample or ()))
    with _SIMULATIONS_LOCK:
        sim = _SIMULATIONS.get(key)
    if sim is None:
        sim = Simulation(parsed, sampling, trials, resample)
        with _SIMULATIONS_LOCK:
            if len(_SIMULATIONS) >= CACHED_SIMULATIONS:
                _SIMULATIONS.pop(next(iter(_SIMULATIONS)))
            _SIMULATIONS[key] = sim
    return sim


def simulate_range(scenario: Scenario | str, seed: int, start: int, stop: int, *, trials: int,
                   sampling: str = "mc", limits: dict | None = None, cash: bool = True,
                   resample: frozenset[str] | None = None) -> RangeResult:
    """Trials start..stop-1 of a run of `trials`: drivers, metrics, each block's summary partial
    and (for trials below FAN_TRIALS, with `cash`) their cumulative cash by month.

    A pure function of its arguments that owns the memory it returns, cheap to call in another
    process: `scenario` may be the canonical JSON (`Scenario.canonical_json`), and the
    `Simulation` is rebuilt once per process. The range must cover whole blocks (start a
    multiple of BLOCK_SIZE; stop too, or the run's end) so that its partials merge, in block
    order with those of other ranges, into exactly the summary of the whole run. `limits` are
    the pilot's bands (`StreamingSummary.band_limits()`), to reduce post-pilot blocks here.
    `resample`: drivers drawn from the run's second seed (see the module docstring).
    """
    check_run_options(trials, seed, sampling, None, 1)
    if not (0 <= start < stop <= trials and start % BLOCK_SIZE == 0 and (stop % BLOCK_SIZE == 0 or stop == trials)):
        raise InputError(f"simulate_range: trials {start}..{stop} of {trials} do not cover whole blocks of "
                         f"{BLOCK_SIZE}")
    sim = simulation_for(scenario, sampling, trials, resample)
    rows = max(0, min(stop, FAN_TRIALS) - start)
    fan = np.empty((rows, sim.structure.n_months)) if cash and rows else None
    result = sim.chunk(seed, start, stop, cash=fan)
    result.partials = [block_partial({m: result.metrics[row, lo - start:hi - start]
                                      for m, row in zip(SUMMARY_METRICS, SUMMARY_ROWS)},
                                     sim.scenario.decision, limits)
                       for lo, hi in ((b, min(stop, b + BLOCK_SIZE)) for b in range(start, stop, BLOCK_SIZE))]
    return result
