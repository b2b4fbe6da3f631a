"""Executors: where a run's trials are computed. Each one hands its consumer the ranges of
one or more simulations in trial order; what the consumer does with them (summarize, write,
stop early) is the caller's business.

The registry `EXECUTORS` names every executor the CLI and API accept: `local` and `dask`
(a dask.distributed cluster, dask_executor.py, writing a dataset from its workers). `local` is this
process: a thread pool for the sampler, numba's threads for the kernel, buffers reused
chunk after chunk, and a consumer thread that summarizes and writes chunk k while chunk
k+1 is computed. Whatever the executor, a range's results are those of
`engine.simulate_range`: trials do not depend on where they are computed.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Protocol, Sequence

import numpy as np

from .cash_fan import FanBuffer
from .defaults import DEFAULT_CHUNK
from .engine import RangeResult, Simulation, check_run_options
from .errors import InputError
from .jit import get_threads, set_threads


class RangeConsumer(Protocol):
    """Receives the ranges of a run in trial order: one result per simulation, same trials.

    A local executor's results live in reused buffers: valid only during the call (copy what
    must outlive it). Returning True asks for no further ranges (later ones may still have
    been computed, and are not passed on).
    """

    def __call__(self, results: list[RangeResult]) -> bool | None: ...


class Executor(Protocol):
    """Computes trials start..stop-1 of each simulation and passes them to `consume` in order."""

    name: str

    def run(self, sims: Sequence[Simulation], seed: int, start: int, stop: int, consume: RangeConsumer, *,
            cash: np.ndarray | FanBuffer | None = None, on_progress: Callable[[int], None] | None = None) -> None: ...


class LocalExecutor:
    """This process's threads: the sampler's pool, numba's kernel threads and a consumer thread.

    `threads` sets the kernel and sampler thread count for the run (results are identical for
    any value); `chunk_size` is the trials computed at a time (memory, not results).
    """

    name = "local"
    #: Buffer sets in turn: the consumer handles chunk k while chunk k+1 is computed into the
    #: other set; chunk k+2 is computed into chunk k's set once the consumer is done with it.
    #: Each set holds a chunk's input matrix and metrics (~37 MB at 65,536 trials and ~60
    #: input rows), and it is most of a run's memory: a third set bought no speed.
    BUFFER_SETS = 2

    def __init__(self, threads: int | None = None, chunk_size: int = DEFAULT_CHUNK):
        check_run_options(1, 0, "mc", threads, chunk_size)
        self.threads = threads
        self.chunk_size = chunk_size

    def run(self, sims: Sequence[Simulation], seed: int, start: int, stop: int, consume: RangeConsumer, *,
            cash: np.ndarray | FanBuffer | None = None, on_progress: Callable[[int], None] | None = None) -> None:
        """`cash` (rows x months) receives the cumulative cash of the first simulation's trials
        0..rows-1 (those of start..stop-1 among them). Given as a `FanBuffer`, its buffer is
        not held here once those rows are written (the caller's `filled` may then let it go)."""
        if isinstance(cash, FanBuffer):  # the caller's frame holds the FanBuffer, not its array
            cash = cash.buffer
        if not 0 <= start <= stop:
            raise InputError(f"trials {start}..{stop}: not a range")
        size = min(self.chunk_size, max(stop - start, 1))
        rings = [[sim.buffers(size) for sim in sims] for _ in range(self.BUFFER_SETS)]
        before = get_threads()
        if self.threads is not None:
            set_threads(self.threads)
        handoff = ConsumerThread(consume, self.BUFFER_SETS)
        try:
            with ThreadPoolExecutor(max_workers=get_threads(), thread_name_prefix="simengine-sampler") as pool:
                for k, lo in enumerate(range(start, stop, self.chunk_size)):
                    if handoff.stopped:
                        break
                    hi = min(stop, lo + self.chunk_size)
                    handoff.claim()  # the consumer is done with this buffer set's last chunk
                    if handoff.stopped:
                        break
                    results = []
                    for j, sim in enumerate(sims):
                        rows = None
                        if j == 0 and cash is not None and lo < cash.shape[0]:
                            rows = cash[lo:min(hi, cash.shape[0])]
                        results.append(sim.chunk(seed, lo, hi, pool, rings[k % self.BUFFER_SETS][j], rows))
                    if cash is not None and hi >= cash.shape[0]:
                        cash = None  # every row written: the caller may release it once consumed
                    if on_progress is not None:
                        on_progress(hi)
                    handoff.put(results)
                    results = rows = None  # no view of the fan's buffer outlives its last chunk
            handoff.close()
        finally:
            handoff.stop()
            set_threads(before)


def run_columns(executor: Executor, sims: Sequence[Simulation], seed: int, trials: int,
                columns: Sequence[Sequence[str]], on_progress: Callable[[int], None] | None = None
                ) -> list[dict[str, np.ndarray]]:
    """Every value of some columns (drivers or metrics, by name) of trials 0..trials-1 of each
    simulation, run together on `executor`: one fresh array per column, filled chunk by chunk
    (never a list of chunks to concatenate, which would double it)."""
    kept = [{name: np.empty(trials) for name in names} for names in columns]

    def keep(results) -> None:
        for arrays, result in zip(kept, results):
            for name, array in arrays.items():
                array[result.start:result.stop] = (result.drivers[name] if name in result.drivers
                                                   else result.metric(name))

    executor.run(sims, seed, 0, trials, keep, on_progress=on_progress)
    return kept


class ConsumerThread:
    """A thread that passes results to the consumer while the next ones are computed.

    pyarrow's Parquet writer and the summary kernels release the GIL, so on two cores the
    consumer's work overlaps the sampling and kernel of the following chunk. An error in the
    thread is re-raised in the caller at the next `claim`, `put` or at `close`.

    With `slots`, the producer calls `claim()` before it fills one of its `slots` buffer sets
    (in turn): it returns once at most slots - 1 items are still unconsumed, i.e. once the
    consumer is done with the item that set last held.
    """

    def __init__(self, consume: RangeConsumer, slots: int | None = None):
        self.consume = consume
        self.stopped = False
        self.queue: queue.Queue = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self._free = threading.Semaphore(slots) if slots is not None else None
        self.thread = threading.Thread(target=self._work, name="simengine-consumer", daemon=True)
        self.thread.start()

    def _work(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            try:
                if self.error is not None or self.stopped:
                    continue  # drain after a failure or an early stop
                try:
                    self.stopped = bool(self.consume(item))
                except BaseException as exc:  # re-raised in the main thread
                    self.error = exc
            finally:
                del item  # the buffers' views go before their set is handed back
                if self._free is not None:
                    self._free.release()

    def _check(self) -> None:
        if self.error is not None:
            raise self.error

    def claim(self) -> None:
        """Wait until a buffer set is free (see the class)."""
        if self._free is None:
            return
        while not self._free.acquire(timeout=0.1):
            self._check()
        self._check()

    def put(self, item) -> None:
        self._check()
        while True:
            try:
                self.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                self._check()

    def close(self) -> None:
        """Wait until every result has been consumed."""
        self.put(None)
        self.thread.join()
        self._check()

    def stop(self) -> None:
        """End the thread whatever happened (after an error or an interrupt)."""
        if self.thread.is_alive():
            self.error = self.error or RuntimeError("stopped")
            try:
                while True:
                    self.queue.get_nowait()
            except queue.Empty:
                pass
            self.queue.put(None)
            self.thread.join()


def _dask_executor(**options):
    """A `DaskExecutor` (dask_executor.py; dask.distributed itself is imported on first use)."""
    from .dask_executor import DaskExecutor

    return DaskExecutor(**options)


#: Every executor by the name the CLI and API accept: its class or a factory.
EXECUTORS: dict[str, Callable[..., Executor]] = {"local": LocalExecutor, "dask": _dask_executor}


def make_executor(name: str = "local", **options) -> Executor:
    """An executor by its registry name."""
    if name not in EXECUTORS:
        raise InputError(f"--executor: must be one of {', '.join(EXECUTORS)}, got {name!r}")
    return EXECUTORS[name](**options)
