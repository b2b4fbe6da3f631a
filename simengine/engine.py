"""The driver: chunks of trials -> sampler (streams, copula, inverse CDFs) -> kernel -> results.

Everything with state or I/O lives here or in `output`; the kernel stays a pure array
function. Chunks are independent, so memory per chunk is bounded and per-trial results
do not depend on the chunk size (see `streams`).
"""

from __future__ import annotations

from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from .errors import InputError
from .jit import get_threads, max_threads, set_threads
from .kernels.cashflows import METRICS
from .model import ModelStructure
from .designs import SAMPLING_METHODS
from .sampler import SamplerPlan
from .scenario import Scenario

DEFAULT_SEED = 1
DEFAULT_TRIALS = 100_000
DEFAULT_CHUNK = 131_072
MAX_TRIALS = 10**10


@dataclass
class Chunk:
    """One chunk's trials: their first index, sampled drivers and metrics (NaN = null)."""

    start: int
    drivers: dict[str, np.ndarray]
    metrics: np.ndarray  # len(METRICS) x trials

    @property
    def size(self) -> int:
        return self.metrics.shape[1]

    def metric(self, name: str) -> np.ndarray:
        return self.metrics[METRICS.index(name)]


class Simulation:
    """A scenario made ready to simulate: kernel structure and sampler plan, built once per run."""

    def __init__(self, scenario: Scenario, sampling: str = "mc", trials: int = 0):
        self.scenario = scenario
        self.structure = ModelStructure.of(scenario)
        self.plan = SamplerPlan.of(scenario, self.structure, sampling, trials)

    def inputs(self, seed: int, start: int, stop: int, pool: Executor | None = None,
               out: np.ndarray | None = None) -> np.ndarray:
        """The kernel's input matrix (columns x trials) of trials start..stop-1."""
        return self.plan.fill(seed, start, stop, pool, out)

    def chunk(self, seed: int, start: int, stop: int, pool: Executor | None = None,
              buffers: tuple[np.ndarray, np.ndarray] | None = None, cash: np.ndarray | None = None) -> Chunk:
        """Sample and evaluate trials start..stop-1 (into reused `buffers` when given).

        `cash` (rows x months) receives the cumulative cash by month of the run's first
        `rows` trials: those of this chunk that fall among them.
        """
        inputs_buffer, metrics_buffer = buffers if buffers is not None else (None, None)
        inputs = self.inputs(seed, start, stop, pool, inputs_buffer)
        rows = None if cash is None else cash[min(start, cash.shape[0]):min(stop, cash.shape[0])]
        metrics = self.structure.run_kernel(inputs, metrics_buffer, rows)
        return Chunk(start, self.plan.driver_rows(inputs), metrics)

    def buffers(self, chunk_size: int) -> tuple[np.ndarray, np.ndarray]:
        """Input and metrics matrices for chunks of up to `chunk_size` trials, to reuse chunk after chunk.

        Fresh memory is costly to touch (page faults); a run that reuses these keeps its
        memory flat and skips that cost after the first chunk.
        """
        return self.plan.buffer(chunk_size), np.empty((len(METRICS), chunk_size))


def sample_fields(scenario: Scenario, seed: int, start: int, stop: int) -> dict[str, np.ndarray]:
    """Every kernel input column for trials start..stop-1, by name (fixed fields as constant arrays)."""
    sim = Simulation(scenario)
    inputs = sim.inputs(seed, start, stop)
    return {name: inputs[row] for name, row in sim.plan.rows.items()}


def simulate_chunk(scenario: Scenario, seed: int, start: int, stop: int) -> Chunk:
    """Sample and evaluate trials start..stop-1 of a scenario (one-off; runs use `iter_chunks`)."""
    return Simulation(scenario).chunk(seed, start, stop)


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


def iter_chunks(scenario: Scenario, trials: int, seed: int, *, sampling: str = "mc", threads: int | None = None,
                chunk_size: int = DEFAULT_CHUNK, on_chunk: Callable[[int], None] | None = None,
                buffer_sets: int = 0, cash: np.ndarray | None = None) -> Iterator[Chunk]:
    """Yield the run's chunks in trial order; `threads` sets the kernel and sampler thread count.

    With `buffer_sets` > 0, chunks live in that many sets of buffers used in turn: a chunk's
    arrays are valid only until `buffer_sets - 1` more chunks have been yielded (the runner
    writes each chunk before it asks for the next but one). With 0 every chunk is new memory.
    With `cash` (rows x months), the first `rows` trials' cumulative cash by month is kept there.
    """
    check_run_options(trials, seed, sampling, threads, chunk_size)
    sim = Simulation(scenario, sampling, trials)
    rings = [sim.buffers(min(chunk_size, trials)) for _ in range(buffer_sets)]
    before = get_threads()
    if threads is not None:
        set_threads(threads)
    try:
        with ThreadPoolExecutor(max_workers=get_threads(), thread_name_prefix="simengine-sampler") as pool:
            for k, start in enumerate(range(0, trials, chunk_size)):
                stop = min(trials, start + chunk_size)
                chunk = sim.chunk(seed, start, stop, pool, rings[k % buffer_sets] if rings else None, cash)
                if on_chunk is not None:
                    on_chunk(stop)
                yield chunk
    finally:
        set_threads(before)
