"""The floor of a run: draw the same random numbers and write a table of the same shape, no model.

`floor_run` fills every driver's stream block by block exactly as the engine's sampler
does (same generator, same blocks, same thread pool, reused buffers) and writes a Parquet
table with the engine's metrics schema and writer settings through the same writer thread,
its columns made from those uniforms (integer columns as months 1..60). What the engine
spends beyond this is the model itself: inverse CDFs, copula, kernel and summary.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from simengine.defaults import DEFAULT_CHUNK
from simengine.engine import RangeResult
from simengine.executors import ConsumerThread
from simengine.jit import get_threads
from simengine import metrics as registry
from simengine.kernels.cashflows import METRICS
from simengine.output import ResultWriter, result_schema, run_metadata
from simengine.streams import STREAM_LAYOUT, block_segments, fill_block

INTEGER_ROWS = [row for row, m in enumerate(registry.METRICS) if m.integer]


def floor_run(scenario, trials: int, seed: int, out: Path, chunk_size: int = DEFAULT_CHUNK) -> None:
    drivers = scenario.drivers()
    schema = result_schema(drivers, run_metadata(scenario, seed, trials, "mc", STREAM_LAYOUT, "metrics"), "metrics")
    size = min(chunk_size, trials)
    writer = ResultWriter(out, schema, size)
    rings = [(np.empty((len(drivers), size)), np.empty((len(METRICS), size))) for _ in range(3)]
    consumer = ConsumerThread(lambda chunk: writer.write(chunk.start, chunk.drivers, chunk.metrics))
    try:
        with ThreadPoolExecutor(get_threads()) as pool:
            for k, start in enumerate(range(0, trials, chunk_size)):
                stop = min(trials, start + chunk_size)
                draws, metrics = rings[k % 3]

                def draw(task, start=start, draws=draws):
                    j, (block, skip, lo, hi) = task
                    fill_block(seed, drivers[j], block, skip, draws[j, lo - start:hi - start])

                segments = list(block_segments(start, stop))
                list(pool.map(draw, [(j, seg) for j in range(len(drivers)) for seg in segments]))
                m = metrics[:, :stop - start]
                # the metric columns made of the drivers' uniforms, cycling when there are fewer drivers
                m[:] = draws[np.arange(len(METRICS)) % max(1, len(drivers)), :stop - start]
                m[INTEGER_ROWS] = np.floor(m[INTEGER_ROWS] * 60.0) + 1.0
                consumer.put(RangeResult(start, {}, m))
        consumer.close()
        writer.close()
    finally:
        consumer.stop()


def write_metrics(scenario, columns: dict[str, np.ndarray], out: Path) -> None:
    """Write a baseline's metric columns with the engine's schema and writer settings."""
    trials = len(columns["npv"])
    schema = result_schema(scenario.drivers(), run_metadata(scenario, 1, trials, "mc", "numpy", "metrics"), "metrics")
    writer = ResultWriter(out, schema)
    metrics = np.vstack([np.asarray(columns[m], dtype=float) for m in METRICS])
    for start in range(0, trials, DEFAULT_CHUNK):
        writer.write(start, {}, metrics[:, start:start + DEFAULT_CHUNK])
    writer.close()
