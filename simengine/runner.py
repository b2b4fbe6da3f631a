"""Run a scenario end to end: check outputs, stream chunks to Parquet, summarize, finish atomically."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path


from .cash_fan import FanBuffer, fan_metadata
from .defaults import DEFAULT_CHUNK
from .engine import Simulation, check_run_options
from .kernels.cashflows import METRICS
from .executors import Executor, LocalExecutor, run_columns
from .errors import InputError
from .dataset import MANIFEST, PART_BLOCKS, DatasetWriter, Folder, discard_run, prepare_folder, write_manifest
from .output import (COLUMN_CHOICES, ResultWriter, check_disk_space, check_writable, result_schema, run_metadata,
                     summary_path_for, write_json_atomic)
from .streams import BLOCK_SIZE
from .scenario import Scenario
from .designs import layout
from .precision import precision_report, run_until_precise
from .summary import summary_header
from .summary_stream import StreamingSummary


@dataclass
class RunReport:
    """What a run produced: the summary, where it was written, and how long it took."""

    summary: dict
    result_path: Path | str | None  # a file, a dataset folder, or a dataset's URI
    summary_path: Path | str | None  # the .summary.json, or a dataset's manifest
    seconds: float
    #: the summary's exact histograms of the whole-month metrics (go-live, payback): what a
    #: report draws besides the summary, so that it need not read them back from the file
    histograms: dict = field(default_factory=dict)


def default_output_path(scenario_file: Path, seed: int, trials: int | None, folder: bool = False) -> str:
    """`results/<file stem>-seed<S>-n<N>.parquet` under the current folder (`-precision` for a
    precision run, whose trials are found as it runs); a dataset folder `.../<stem>-seed<S>-n<N>/`
    with `folder`."""
    stem = f"{scenario_file.stem}-seed{seed}-{'precision' if trials is None else f'n{trials}'}"
    return f"results/{stem}/" if folder else str(Path("results") / f"{stem}.parquet")


def run(scenario: Scenario, *, trials: int, seed: int, out: Path | Folder | None, threads: int | None = None,
        force: bool = False, sampling: str = "mc", chunk_size: int = DEFAULT_CHUNK, columns: str = "all",
        on_chunk=None, extra_summary: dict | None = None, executor: Executor | None = None,
        part_blocks: int = PART_BLOCKS) -> RunReport:
    """Simulate `trials` trials; write the per-trial Parquet (unless `out` is None) and its summary.

    `out` is a file (one Parquet file and a .summary.json beside it) or a dataset `Folder`
    (part files of `part_blocks` blocks and the manifest, see dataset.py). `columns` picks
    the stored per-trial columns: "metrics", "drivers" or "all" (the trial index is always
    stored). Memory stays flat: chunks are written as row groups and the summary is
    streamed. On any error or interrupt nothing is left that looks like a result. Without an
    `executor`, a `LocalExecutor(threads, chunk_size)` computes the trials; a distributed
    one (`DaskExecutor`) writes a dataset from its workers.
    """
    check_run_options(trials, seed, sampling, threads, chunk_size)
    if columns not in COLUMN_CHOICES:
        raise InputError(f"--columns: must be one of {', '.join(COLUMN_CHOICES)}, got {columns!r}")
    executor = executor or LocalExecutor(threads, chunk_size)
    distributed = getattr(executor, "distributed", False)
    folder = out.staged() if isinstance(out, Folder) else None  # this run's parts wait for its commit
    if distributed and out is not None and folder is None:
        raise InputError(f"--out {out}: a cluster run writes a dataset folder, not one file (its workers write their "
                         "own parts); give a folder, e.g. --out results/run/")
    summary_path = summary_path_for(out) if out is not None and folder is None else None
    created = False
    if folder is not None:
        if folder.is_local:
            check_disk_space(Path(folder.path) / MANIFEST, trials, len(scenario.drivers()) + len(METRICS) + 1)
        prepare_folder(folder, force, dry_run=True)
        if distributed:
            executor.connect()  # an unreachable scheduler is told before anything is written
        created = not folder.exists()
        prepare_folder(folder, force)
    elif out is not None:
        check_writable([out, summary_path], force)
    started = time.perf_counter()
    meta = run_metadata(scenario, seed, trials, sampling, layout(sampling), columns) if out is not None else None
    schema = result_schema(scenario.drivers(), meta, columns) if out is not None else None
    acc = StreamingSummary.for_scenario(scenario)
    fan = FanBuffer(trials, scenario.horizon_months) if out is not None else None
    if distributed:
        return _run_distributed(scenario, executor, acc, seed, trials, sampling, folder, meta, schema,
                                fan.buffer if fan is not None else None, on_chunk, extra_summary, started, created)
    writer = None
    if folder is not None:
        writer = DatasetWriter(folder, schema, min(chunk_size, trials), part_blocks * BLOCK_SIZE)
    elif out is not None:
        check_disk_space(out, trials, len(schema))
        writer = ResultWriter(out, schema, min(chunk_size, trials))
    sim = Simulation(scenario, sampling, trials)

    def consume(results) -> None:
        (result,) = results
        acc.add_range(result)
        if writer is not None:
            writer.write(result.start, result.drivers, result.metrics)
            release_arrow_memory()
        if fan is not None:
            fan.filled(result.stop)  # the fan's buffer goes once its rows are computed

    try:
        executor.run([sim], seed, 0, trials, consume, cash=fan, on_progress=on_chunk)
        acc.finish()
        second_pass(acc, sim, seed, executor)
        summary = {**summary_header(scenario, seed, trials, sampling), **acc.summary(), **(extra_summary or {})}
        if isinstance(writer, DatasetWriter):
            writer.commit({**meta, **fan.metadata()}, summary)
            writer = None
            summary_path = folder.location(MANIFEST)
        elif writer is not None:
            writer.add_metadata(fan.metadata())
            writer.close()
            writer = None
            write_json_atomic(summary_path, summary)
    finally:
        if writer is not None:
            writer.abort()
            if folder is not None:
                discard_run(folder, created)
    return RunReport(summary, result_location(out), summary_path, time.perf_counter() - started, acc.histograms)


def release_arrow_memory() -> None:
    """Hand the memory pyarrow's pool kept from writing a row group back to the system.

    The Parquet encoder's buffers come from pyarrow's default pool (mimalloc), which keeps
    freed pages: 15-20 MiB resident for the ~8 MiB a chunk needs at a time. Releasing them
    after each chunk costs ~1 ms (writing a chunk takes ~70 ms), in the writer thread.
    """
    import pyarrow  # already imported: a writer is open

    pyarrow.default_memory_pool().release_unused()


def result_location(out: Path | Folder | None) -> Path | str | None:
    """Where a result is, as the user names it: a file's path, a local folder's path, a URI."""
    if isinstance(out, Folder):
        return out.location()
    return out


def _run_distributed(scenario, executor, acc, seed, trials, sampling, folder, meta, schema, cash, on_chunk,
                     extra_summary, started, created: bool = False) -> RunReport:
    """A run on a cluster: tasks write their parts, their partials merge here in block order."""
    job = executor.job(scenario.canonical_json, seed, trials, sampling, folder=folder, schema=schema,
                       fan=cash is not None)

    def merge(result) -> None:
        for part in result.partials:
            acc.merge(part)
        if cash is not None and result.cash is not None:
            cash[result.start:result.start + result.cash.shape[0]] = result.cash

    committed = False
    try:
        results = executor.run_job(job, merge, acc.pilot, acc.band_limits, on_chunk)
        acc.finish()
        rebuild_on_cluster(acc, executor, job)
        summary = {**summary_header(scenario, seed, trials, sampling), **acc.summary(), **(extra_summary or {})}
        summary_path = None
        if folder is not None:
            write_manifest(folder, {**meta, **fan_metadata(cash)}, [r.part for r in results], summary)
            summary_path = folder.location(MANIFEST)
        committed = True
    finally:
        if folder is not None and not committed:
            discard_run(folder, created)  # no manifest: the parts written so far are no result
    return RunReport(summary, result_location(folder), summary_path, time.perf_counter() - started,
                     acc.histograms)


def run_summaries(scenarios: list[Scenario], *, trials: int, seed: int, sampling: str = "mc",
                  executor: Executor | None = None, threads: int | None = None, on_progress=None) -> list[dict]:
    """The summaries of summary-only runs of several scenarios with one seed (common random
    numbers: drivers with the same name draw the same numbers in each), each exactly the
    summary `run` gives. On a cluster every run's tasks go to it together; locally they run
    one after another. `on_progress` counts trials over all runs."""
    executor = executor or LocalExecutor(threads)
    if not getattr(executor, "distributed", False):
        summaries = []
        for k, scenario in enumerate(scenarios):
            step = None if on_progress is None else (lambda done, base=k * trials: on_progress(base + done))
            summaries.append(run(scenario, trials=trials, seed=seed, out=None, sampling=sampling, on_chunk=step,
                                 executor=executor).summary)
        return summaries
    accs = [StreamingSummary.for_scenario(sc) for sc in scenarios]
    jobs = [executor.job(sc.canonical_json, seed, trials, sampling, fan=False) for sc in scenarios]

    def merger(acc: StreamingSummary):
        def merge(result) -> None:
            for part in result.partials:
                acc.merge(part)
        return merge

    executor.run_jobs(jobs, [merger(acc) for acc in accs], accs[0].pilot if accs else 0,
                      [acc.band_limits for acc in accs], on_progress)
    summaries = []
    for scenario, acc, job in zip(scenarios, accs, jobs):
        acc.finish()
        rebuild_on_cluster(acc, executor, job)
        summaries.append({**summary_header(scenario, seed, trials, sampling), **acc.summary()})
    return summaries


def rebuild_on_cluster(acc: StreamingSummary, executor, job) -> None:
    """The second pass of a cluster run: the metrics whose percentiles fell outside their bands
    get all their values, recomputed by the cluster's tasks (trials are reproducible)."""
    names = acc.incomplete()
    if names:
        for name, values in executor.metric_columns(job, names).items():
            acc.metrics[name].rebuild(values, take=True)  # fresh arrays: sorted in place


def second_pass(acc: StreamingSummary, sim: Simulation, seed: int, executor: Executor) -> None:
    """Re-simulate (trials are reproducible) for metrics whose percentiles fell outside their bands."""
    names = acc.incomplete()
    if not names:
        return
    if getattr(executor, "distributed", False):
        rebuild_on_cluster(acc, executor, executor.job(sim.scenario.canonical_json, seed, acc.trials,
                                                       sim.plan.sampling, fan=False))
        return
    # Each metric's values go straight into one array, which the metric then keeps and sorts in place.
    (values,) = run_columns(executor, [sim], seed, acc.trials, [names])
    for name in names:
        acc.metrics[name].rebuild(values.pop(name), take=True)


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
    if isinstance(out, Folder):
        prepare_folder(out, force, dry_run=True)
    elif out is not None:
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
