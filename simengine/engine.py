"""The driver: chunks of trials -> uniforms -> copula -> inverse CDFs -> kernel -> results.

Everything with state or I/O lives here or in `output`; the kernel stays a pure array
function. Chunks are independent, so memory per chunk is bounded and per-trial results
do not depend on the chunk size (see `sampling`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from . import correlation
from .errors import InputError
from .jit import get_threads, max_threads, set_threads
from .model import ModelStructure
from .sampling import SAMPLING_METHODS, uniforms
from .scenario import Scenario

DEFAULT_SEED = 1
DEFAULT_TRIALS = 100_000
DEFAULT_CHUNK = 131_072
MAX_TRIALS = 10**10


@dataclass
class Chunk:
    """One chunk's trials: their indices, sampled drivers and metrics (NaN = null)."""

    start: int
    drivers: dict[str, np.ndarray]
    metrics: np.ndarray

    @property
    def size(self) -> int:
        return self.metrics.shape[0]


def sample_fields(scenario: Scenario, seed: int, start: int, stop: int) -> dict[str, np.ndarray | float]:
    """Every kernel input column for trials start..stop-1: sampled arrays or fixed scalars."""
    drivers = scenario.drivers()
    u = {name: uniforms(seed, name, start, stop) for name in drivers}
    if scenario.correlations:
        names, rho = correlation.correlation_matrix(scenario)
        mixed = correlation.apply_copula(np.column_stack([u[n] for n in names]),
                                         correlation.cholesky_factor(rho))
        for j, name in enumerate(names):
            u[name] = mixed[:, j]
    values: dict[str, np.ndarray | float] = {}
    for name, dist in scenario.fields().items():
        values[name] = dist.params["value"] if dist.is_fixed else dist.ppf(u[name])
    for e in scenario.events:
        occurred = f"events.{e.name}.occurred"
        p = values[f"events.{e.name}.probability"]
        values[occurred] = (u[occurred] > 1.0 - p).astype(float) if occurred in u else float(p)
    return values


def simulate_chunk(scenario: Scenario, structure: ModelStructure, seed: int, start: int, stop: int) -> Chunk:
    """Sample and evaluate trials start..stop-1."""
    n = stop - start
    values = sample_fields(scenario, seed, start, stop)
    metrics = structure.run_kernel(structure.assemble(values, n))
    drivers = {name: np.asarray(values[name], dtype=float) for name in scenario.drivers()}
    return Chunk(start, drivers, metrics)


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
                chunk_size: int = DEFAULT_CHUNK, on_chunk: Callable[[int], None] | None = None) -> Iterator[Chunk]:
    """Yield the run's chunks in trial order; `threads` sets numba's pool for the run."""
    check_run_options(trials, seed, sampling, threads, chunk_size)
    structure = ModelStructure.of(scenario)
    before = get_threads()
    if threads is not None:
        set_threads(threads)
    try:
        for start in range(0, trials, chunk_size):
            stop = min(trials, start + chunk_size)
            chunk = simulate_chunk(scenario, structure, seed, start, stop)
            if on_chunk is not None:
                on_chunk(stop)
            yield chunk
    finally:
        set_threads(before)
