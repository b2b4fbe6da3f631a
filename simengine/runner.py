"""Run a scenario end to end: check outputs, stream chunks to Parquet, summarize, finish atomically."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .cash_fan import fan_buffer, fan_metadata
from .defaults import DEFAULT_CHUNK
from .engine import Simulation, check_run_options
from .executors import Executor, LocalExecutor
from .errors import InputError
from .output import (COLUMN_CHOICES, ResultWriter, check_disk_space, check_writable, result_schema, run_metadata,
                     summary_path_for, write_json_atomic)
from .scenario import Scenario
from .designs import layout
from .precision import precision_report, run_until_precise
from .summary import summary_header
from .summary_stream import StreamingSummary


@dataclass
class RunReport:
    """What a run produced: the summary, where it was written, and how long it took."""

    summary: dict
    result_path: Path | None
    summary_path: Path | None
    seconds: float


def default_output_path(scenario_file: Path, seed: int, trials: int | None) -> Path:
    """`results/<file stem>-seed<S>-n<N>.parquet` under the current folder (`-precision` for a
    precision run, whose trials are found as it runs)."""
    return Path("results") / f"{scenario_file.stem}-seed{seed}-{'precision' if trials is None else f'n{trials}'}.parquet"


def run(scenario: Scenario, *, trials: int, seed: int, out: Path | None, threads: int | None = None,
        force: bool = False, sampling: str = "mc", chunk_size: int = DEFAULT_CHUNK, columns: str = "all",
        on_chunk=None, extra_summary: dict | None = None, executor: Executor | None = None) -> RunReport:
    """Simulate `trials` trials; write the per-trial Parquet (unless `out` is None) and its summary.

    `columns` picks the stored per-trial columns: "metrics", "drivers" or "all" (the trial
    index is always stored). Memory stays flat: chunks are written as row groups and the
    summary is streamed. On any error or interrupt nothing is left at `out`. Without an
    `executor`, a `LocalExecutor(threads, chunk_size)` computes the trials.
    """
    check_run_options(trials, seed, sampling, threads, chunk_size)
    if columns not in COLUMN_CHOICES:
        raise InputError(f"--columns: must be one of {', '.join(COLUMN_CHOICES)}, got {columns!r}")
    executor = executor or LocalExecutor(threads, chunk_size)
    summary_path = summary_path_for(out) if out is not None else None
    if out is not None:
        check_writable([out, summary_path], force)
    started = time.perf_counter()
    writer = None
    if out is not None:
        meta = run_metadata(scenario, seed, trials, sampling, layout(sampling), columns)
        schema = result_schema(scenario.drivers(), meta, columns)
        check_disk_space(out, trials, len(schema))
        writer = ResultWriter(out, schema, min(chunk_size, trials))
    acc = StreamingSummary.for_scenario(scenario)
    sim = Simulation(scenario, sampling, trials)
    cash = fan_buffer(trials, scenario.horizon_months) if writer is not None else None

    def consume(results) -> None:
        (result,) = results
        acc.add_range(result)
        if writer is not None:
            writer.write(result.start, result.drivers, result.metrics)

    try:
        executor.run([sim], seed, 0, trials, consume, cash=cash, on_progress=on_chunk)
        acc.finish()
        second_pass(acc, sim, seed, executor)
        summary = {**summary_header(scenario, seed, trials, sampling), **acc.summary(), **(extra_summary or {})}
        if writer is not None:
            writer.add_metadata(fan_metadata(cash))
            writer.close()
            writer = None
            write_json_atomic(summary_path, summary)
    finally:
        if writer is not None:
            writer.abort()
    return RunReport(summary, out, summary_path, time.perf_counter() - started)


def second_pass(acc: StreamingSummary, sim: Simulation, seed: int, executor: Executor) -> None:
    """Re-simulate (trials are reproducible) for metrics whose percentiles fell outside their bands."""
    names = acc.incomplete()
    if not names:
        return
    parts: dict[str, list[np.ndarray]] = {name: [] for name in names}

    def keep(results) -> None:
        for name in names:
            parts[name].append(results[0].metric(name).copy())

    executor.run([sim], seed, 0, acc.trials, keep)
    for name in names:
        acc.metrics[name].rebuild(np.concatenate(parts[name]))


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
    executor = LocalExecutor(threads)
    found = run_until_precise(scenario, targets, seed, max_trials, executor, sampling, on_chunk)
    report_part = {"precision": precision_report(targets, found, max_trials)}
    if out is None:
        second_pass(found.summary, Simulation(scenario, sampling, found.trials), seed, executor)
        summary = {**summary_header(scenario, seed, found.trials, sampling), **found.summary.summary(), **report_part}
        return RunReport(summary, None, None, time.perf_counter() - started)
    report = run(scenario, trials=found.trials, seed=seed, out=out, threads=threads, force=force, columns=columns,
                 sampling=sampling, extra_summary=report_part, executor=executor)
    report.seconds = time.perf_counter() - started
    return report
