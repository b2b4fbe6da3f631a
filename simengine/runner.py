"""Run a scenario end to end: check outputs, stream chunks to Parquet, summarize, finish atomically."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ._version import __version__
from .engine import DEFAULT_CHUNK, check_run_options, iter_chunks
from .output import (ResultWriter, check_writable, read_metadata, read_metric_columns, result_schema,
                     run_metadata, summary_path_for, write_json_atomic)
from .streams import STREAM_LAYOUT
from .scenario import Scenario, scenario_from_json
from .summary import SUMMARY_METRICS, SummaryAccumulator, summarize_columns


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
        force: bool = False, sampling: str = "mc", chunk_size: int = DEFAULT_CHUNK,
        on_chunk=None) -> RunReport:
    """Simulate `trials` trials; write the per-trial Parquet (unless `out` is None) and its summary."""
    check_run_options(trials, seed, sampling, threads, chunk_size)
    summary_path = summary_path_for(out) if out is not None else None
    if out is not None:
        check_writable([out, summary_path], force)
    started = time.perf_counter()
    writer = None
    if out is not None:
        schema = result_schema(scenario.drivers(), run_metadata(scenario, seed, trials, sampling, STREAM_LAYOUT))
        writer = ResultWriter(out, schema)
    acc = SummaryAccumulator()
    try:
        for chunk in iter_chunks(scenario, trials, seed, sampling=sampling, threads=threads,
                                 chunk_size=chunk_size, on_chunk=on_chunk):
            acc.add(chunk.metrics)
            if writer is not None:
                writer.write(chunk.start, chunk.drivers, chunk.metrics)
        summary = {**summary_header(scenario, seed, trials, sampling),
                   **summarize_columns(acc.columns(), scenario.decision)}
        if writer is not None:
            writer.close()
            writer = None
            write_json_atomic(summary_path, summary)
    finally:
        if writer is not None:
            writer.abort()
    return RunReport(summary, out, summary_path, time.perf_counter() - started)


def summarize_file(path: Path) -> dict:
    """Recompute a result file's summary from its stored trials and metadata."""
    meta = read_metadata(path)
    scenario = scenario_from_json(meta["scenario"])
    columns = read_metric_columns(path, SUMMARY_METRICS)
    seed, trials = int(meta["seed"]), int(meta["trials"])
    return {**summary_header(scenario, seed, trials, meta["sampling"]),
            **summarize_columns(columns, scenario.decision)}
