"""Run a scenario end to end: check outputs, stream chunks to Parquet, summarize, finish atomically."""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from ._version import __version__
from .cash_fan import fan_buffer, fan_metadata
from .engine import DEFAULT_CHUNK, check_run_options, iter_chunks
from .errors import InputError, ResultFileError
from .kernels.cashflows import METRICS
from .output import (COLUMN_CHOICES, ResultWriter, check_writable, read_metadata, result_schema, run_metadata,
                     summary_path_for, write_json_atomic)
from .scenario import Scenario, scenario_from_json
from .designs import layout
from .precision import precision_report, run_until_precise
from .summary import SUMMARY_METRICS
from .summary_stream import StreamingSummary


@dataclass
class RunReport:
    """What a run produced: the summary, where it was written, and how long it took."""

    summary: dict
    result_path: Path | None
    summary_path: Path | None
    seconds: float


def default_output_path(scenario_file: Path, seed: int, trials: int) -> Path:
    """`results/<scenario>-seed<S>-n<N>.parquet` under the current folder."""
    return Path("results") / f"{scenario_file.stem}-seed{seed}-n{trials}.parquet"


def summary_header(scenario: Scenario, seed: int, trials: int, sampling: str) -> dict:
    return {
        "scenario": scenario.name,
        "scenario_sha256": scenario.sha256,
        "currency": scenario.currency,
        "horizon_months": scenario.horizon_months,
        "seed": seed,
        "trials": trials,
        "sampling": sampling,
        "simengine_version": __version__,
    }


def run(scenario: Scenario, *, trials: int, seed: int, out: Path | None, threads: int | None = None,
        force: bool = False, sampling: str = "mc", chunk_size: int = DEFAULT_CHUNK, columns: str = "all",
        on_chunk=None, extra_summary: dict | None = None) -> RunReport:
    """Simulate `trials` trials; write the per-trial Parquet (unless `out` is None) and its summary.

    `columns` picks the stored per-trial columns: "metrics", "drivers" or "all" (the trial
    index is always stored). Memory stays flat: chunks are written as row groups and the
    summary is streamed. On any error or interrupt nothing is left at `out`.
    """
    check_run_options(trials, seed, sampling, threads, chunk_size)
    if columns not in COLUMN_CHOICES:
        raise InputError(f"--columns: must be one of {', '.join(COLUMN_CHOICES)}, got {columns!r}")
    summary_path = summary_path_for(out) if out is not None else None
    if out is not None:
        check_writable([out, summary_path], force)
    started = time.perf_counter()
    writer = None
    if out is not None:
        meta = run_metadata(scenario, seed, trials, sampling, layout(sampling), columns)
        writer = ResultWriter(out, result_schema(scenario.drivers(), meta, columns), min(chunk_size, trials))
    acc = StreamingSummary(scenario.decision)
    options = dict(sampling=sampling, threads=threads, chunk_size=chunk_size)
    cash = fan_buffer(trials, scenario.horizon_months) if writer is not None else None
    consumer = ChunkConsumer(acc, writer)
    try:
        # Three buffer sets: the consumer writes chunk k while chunk k+1 waits in the queue
        # and chunk k+2 is computed into the set chunk k-1 used.
        for chunk in iter_chunks(scenario, trials, seed, on_chunk=on_chunk, buffer_sets=3, cash=cash,
                                 **options):
            consumer.put(chunk)
        consumer.close()
        acc.finish()
        second_pass(acc, scenario, trials, seed, options)
        summary = {**summary_header(scenario, seed, trials, sampling), **acc.summary(), **(extra_summary or {})}
        if writer is not None:
            writer.add_metadata(fan_metadata(cash))
            writer.close()
            writer = None
            write_json_atomic(summary_path, summary)
    finally:
        consumer.stop()
        if writer is not None:
            writer.abort()
    return RunReport(summary, out, summary_path, time.perf_counter() - started)


class ChunkConsumer:
    """A thread that summarizes and writes chunks while the next ones are computed.

    pyarrow's Parquet writer and the summary kernels release the GIL, so on two cores the
    write overlaps the sampling and kernel of the following chunk. Errors in the thread are
    re-raised in the caller at the next `put` or at `close`.
    """

    def __init__(self, acc: StreamingSummary | None, writer: ResultWriter | None):
        self.acc, self.writer = acc, writer
        self.queue: queue.Queue = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._work, name="simengine-writer", daemon=True)
        self.thread.start()

    def _work(self) -> None:
        while True:
            chunk = self.queue.get()
            if chunk is None:
                return
            if self.error is not None:
                continue  # drain after a failure
            try:
                if self.acc is not None:
                    self.acc.add(chunk.metrics)
                if self.writer is not None:
                    self.writer.write(chunk.start, chunk.drivers, chunk.metrics)
            except BaseException as exc:  # re-raised in the main thread
                self.error = exc

    def _check(self) -> None:
        if self.error is not None:
            raise self.error

    def put(self, chunk) -> None:
        self._check()
        while True:
            try:
                self.queue.put(chunk, timeout=0.1)
                return
            except queue.Full:
                self._check()

    def close(self) -> None:
        """Wait until every chunk is summarized and written."""
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


def second_pass(acc: StreamingSummary, scenario: Scenario, trials: int, seed: int, options: dict) -> None:
    """Re-simulate (trials are reproducible) for metrics whose percentiles fell outside their bands."""
    for name in acc.incomplete():
        row = METRICS.index(name)
        values = np.concatenate([c.metrics[row] for c in iter_chunks(scenario, trials, seed, **options)])
        acc.metrics[name].rebuild(values)


def summarize_file(path: Path) -> dict:
    """Recompute a result file's summary from its stored trials, row group by row group."""
    meta, scenario, acc = accumulate_file(path)
    return {**summary_header(scenario, int(meta["seed"]), int(meta["trials"]), meta["sampling"]), **acc.summary()}


def accumulate_file(path: Path) -> tuple[dict, Scenario, StreamingSummary]:
    """A result file's metadata, scenario and finished streaming summary of its stored trials
    (the summary's accumulators, such as the exact payback histogram, stay available)."""
    meta = read_metadata(path)
    scenario = scenario_from_json(meta["scenario"])
    parquet = pq.ParquetFile(path)
    needed = [m for m in METRICS if m in SUMMARY_METRICS]
    missing = [m for m in needed if m not in parquet.schema_arrow.names]
    if missing:
        raise ResultFileError(f"{path}: has no {', '.join(missing)} column(s); it was run with "
                              f"--columns {meta.get('columns', 'drivers')}; summarize needs metrics stored")
    acc = StreamingSummary(scenario.decision)
    for batch in parquet.iter_batches(columns=needed, batch_size=1 << 17):
        block = np.full((len(METRICS), batch.num_rows), np.nan)
        for m in needed:
            block[METRICS.index(m)] = batch.column(m).to_numpy(zero_copy_only=False).astype(float)
        acc.add(block)
    acc.finish()
    if acc.incomplete():
        full = {m: pq.read_table(path, columns=[m]).column(m).to_numpy(zero_copy_only=False).astype(float)
                for m in acc.incomplete()}
        for name, values in full.items():
            acc.metrics[name].rebuild(values)
    return meta, scenario, acc


def run_to_precision(scenario: Scenario, *, targets: dict[str, float], max_trials: int, seed: int,
                     out: Path | None, threads: int | None = None, force: bool = False, columns: str = "all",
                     sampling: str = "mc", on_chunk=None) -> RunReport:
    """Run until every precision target is met (see precision.py), then report like `run`.

    Without an output file the streamed summary of the first pass is the result. With one, a
    second, ordinary run of exactly the trials found writes the file, so that the file's
    metadata (trials included) describes a plain reproducible run; that costs the
    simulation twice. `on_chunk` follows the first pass (against max_trials).
    """
    check_run_options(max_trials, seed, sampling, threads, DEFAULT_CHUNK)
    if out is not None:
        check_writable([out, summary_path_for(out)], force)
    started = time.perf_counter()
    found = run_until_precise(scenario, targets, seed, max_trials, threads, sampling, on_chunk)
    report_part = {"precision": precision_report(targets, found, max_trials)}
    if out is None:
        second_pass(found.summary, scenario, found.trials, seed, dict(sampling=sampling, threads=threads,
                                                                      chunk_size=DEFAULT_CHUNK))
        summary = {**summary_header(scenario, seed, found.trials, sampling), **found.summary.summary(), **report_part}
        return RunReport(summary, None, None, time.perf_counter() - started)
    report = run(scenario, trials=found.trials, seed=seed, out=out, threads=threads, force=force, columns=columns,
                 sampling=sampling, extra_summary=report_part)
    report.seconds = time.perf_counter() - started
    return report
