"""What a cluster worker runs: one task of a run, a range of whole blocks of trials.

`run_task` is a pure function of its `TaskSpec` apart from the part file it writes: it
rebuilds the scenario's `Simulation` from the canonical JSON (once per process, see
`engine.simulation_for`), simulates its range chunk by chunk through `engine.simulate_range`,
writes its own part of the dataset (never sending rows to the client), and returns what the
client merges: each block's summary partial, the fan chart's rows, and any metric columns a
second pass asked for. Before its first task of a run a worker proves it computes what the
client computes (same versions, same digest of the run's first trials); one that does not
is refused with one line. A task may resample drivers (`TaskSpec.resample`, the pick-freeze
runs of Sobol' indices); its digest and check cover that too.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from .dataset import Folder, PartInfo, PartWriter
from .errors import SimengineError
from .summary_stream import BlockPartial

#: Trials whose metrics prove a worker computes what the client does.
CHECK_TRIALS = 1024


class WorkerRefused(SimengineError):
    """A worker whose versions or numbers differ from the client's: it must not add to a result."""


def software_versions() -> dict[str, str]:
    """The versions a run's numbers depend on."""
    import numba
    import scipy

    from ._version import __version__

    return {"simengine": __version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "numba": numba.__version__}


def run_digest(scenario_json: str, seed: int, trials: int, sampling: str,
               resample: frozenset[str] | None = None) -> str:
    """sha256 of the metrics of a run's first trials (with its resampled drivers): equal on two
    machines only if both compute the same numbers."""
    from .engine import simulation_for

    sim = simulation_for(scenario_json, sampling, trials, resample)
    result = sim.chunk(seed, 0, min(trials, CHECK_TRIALS))
    return hashlib.sha256(np.ascontiguousarray(result.metrics).tobytes()).hexdigest()


@dataclass(frozen=True)
class WorkerCheck:
    """What the client computed: its versions and the run's digest."""

    versions: dict
    digest: str


_CHECKED: set = set()
_CHECKED_LOCK = threading.Lock()


def worker_name() -> str:
    try:
        from distributed import get_worker

        return f"worker {get_worker().address}"
    except (ImportError, ValueError):
        return "this worker"


def check_worker(check: WorkerCheck, scenario_json: str, seed: int, trials: int, sampling: str,
                 resample: frozenset[str] | None = None) -> None:
    """Refuse to compute for a run whose numbers this process would not reproduce."""
    mine = software_versions()
    for name, wanted in check.versions.items():
        if mine.get(name) != wanted:
            raise WorkerRefused(f"{worker_name()} has {name} {mine.get(name)}, the client {wanted}: install the "
                                "same versions on the workers as on the client")
    key = (hashlib.sha256(scenario_json.encode()).hexdigest(), seed, trials, sampling, frozenset(resample or ()),
           check.digest)
    with _CHECKED_LOCK:
        if key in _CHECKED:
            return
    if run_digest(scenario_json, seed, trials, sampling, resample) != check.digest:
        raise WorkerRefused(f"{worker_name()} computes other numbers than the client for the run's first "
                            f"{CHECK_TRIALS:,} trials (same versions: check its CPU, BLAS and numba settings)")
    with _CHECKED_LOCK:
        _CHECKED.add(key)


@dataclass(frozen=True)
class TaskSpec:
    """One task: trials start..stop-1 (whole blocks) of a run, and what to do with them."""

    scenario: str  # canonical JSON
    seed: int
    trials: int
    sampling: str
    start: int
    stop: int
    check: WorkerCheck
    chunk_size: int
    limits: dict | None = None  # the pilot's bands, once fixed
    folder: Folder | None = None  # write a part here (with `schema`), or none
    schema: pa.Schema | None = None
    fan: bool = True  # return the fan chart's rows of trials below FAN_TRIALS
    keep: tuple[str, ...] = ()  # metric columns to return (a second pass)
    kernel_threads: int = 1
    resample: frozenset[str] | None = None  # drivers drawn from the run's second seed (engine.py)


@dataclass
class TaskResult:
    """What a task returns to the client: small, whatever its range's size."""

    start: int
    stop: int
    partials: list[BlockPartial]
    part: PartInfo | None = None
    cash: np.ndarray | None = None
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: float = 0.0  # the task's own time on its worker (check, simulation, part)


def run_task(spec: TaskSpec) -> TaskResult:
    """Simulate a task's trials, write its part, return its partials (see the module docstring)."""
    from .engine import simulate_range
    from .jit import get_threads, set_threads

    started = time.perf_counter()
    check_worker(spec.check, spec.scenario, spec.seed, spec.trials, spec.sampling, spec.resample)
    before = get_threads()
    set_threads(spec.kernel_threads)
    part = PartWriter(spec.folder, spec.start, spec.schema, spec.chunk_size) if spec.folder is not None else None
    partials: list[BlockPartial] = []
    cash: list[np.ndarray] = []
    kept: dict[str, list[np.ndarray]] = {name: [] for name in spec.keep}
    try:
        for lo in range(spec.start, spec.stop, spec.chunk_size):
            hi = min(spec.stop, lo + spec.chunk_size)
            result = simulate_range(spec.scenario, spec.seed, lo, hi, trials=spec.trials, sampling=spec.sampling,
                                    limits=spec.limits, cash=spec.fan, resample=spec.resample)
            partials += result.partials
            if result.cash is not None:
                cash.append(result.cash)
            for name in spec.keep:
                kept[name].append(result.metric(name).copy())
            if part is not None:
                part.write(lo, result.drivers, result.metrics)
        info = part.close() if part is not None else None
        part = None
    finally:
        if part is not None:
            part.abort()
        set_threads(before)
    return TaskResult(spec.start, spec.stop, partials, info, np.concatenate(cash) if cash else None,
                      {name: np.concatenate(v) for name, v in kept.items()}, time.perf_counter() - started)
