"""The read side: a result file's metadata, scenario and summary, recomputed from its stored trials.

Reading a result needs no simulation: this module is what `summarize`, `report`,
`sensitivity` and `simengine.open` use, and it imports nothing of the engine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import ResultFileError
from .kernels.cashflows import METRICS
from .scenario import Scenario, scenario_from_json
from .stored import StoredResult, open_stored, require_columns
from .summary import SUMMARY_METRICS, summary_header
from .summary_stream import HistogramMetric, StreamingSummary, histogram_partial


def summarize_file(path: "Path | str | StoredResult") -> dict:
    """Recompute a result's summary (a file or a dataset folder) from its stored trials, row
    group by row group."""
    source = open_stored(path)
    meta, scenario, acc = accumulate_file(source)
    summary = acc.summary()
    stored = set(source.schema.names)
    absent = [m for m in summary["metrics"] if m not in stored]
    if absent:  # written by an older simengine, before these metrics existed: leave them out
        summary["metrics"] = {m: block for m, block in summary["metrics"].items() if m in stored}
        summary["metrics_absent"] = absent
        summary.pop("budget_and_date", None)  # it needs the costs and the go-live month
    return {**summary_header(scenario, int(meta["seed"]), int(meta["trials"]), meta["sampling"]), **summary}


def accumulate_file(path: "Path | str | StoredResult") -> tuple[dict, Scenario, StreamingSummary]:
    """A result's metadata, scenario and finished streaming summary of its stored trials
    (the summary's accumulators, such as the exact payback histogram, stay available)."""
    stored = open_stored(path)
    meta = stored.metadata
    scenario = scenario_from_json(meta["scenario"])
    require_columns(stored, ["npv", "payback_months"], scenario.drivers(),
                    f"has no metric columns; it was run with --columns {meta.get('columns', 'drivers')}; summarize "
                    "needs metrics stored")
    needed = [m for m in METRICS if m in SUMMARY_METRICS and m in stored.schema.names]
    acc = StreamingSummary.for_scenario(scenario)
    for batch in stored.iter_batches(needed, 1 << 16):
        block = np.full((len(METRICS), batch.num_rows), np.nan)
        for m in needed:
            block[METRICS.index(m)] = batch.column(m).to_numpy(zero_copy_only=False)  # cast to float here
        if np.isinf(block).any():
            m = METRICS[int(np.flatnonzero(np.isinf(block).any(axis=1))[0])]
            raise ResultFileError(f"{stored.where}: {m} is infinite in some trials; a simengine result holds finite "
                                  "values or nulls (this file was altered, or not written by simengine)")
        acc.add(block)
    acc.finish()
    if acc.incomplete():
        full = {m: stored.read([m]).column(m).to_numpy(zero_copy_only=False).astype(float)
                for m in acc.incomplete()}
        for name, values in full.items():
            acc.metrics[name].rebuild(values)
    return meta, scenario, acc


def file_histograms(path: "Path | str | StoredResult", names) -> dict[str, HistogramMetric]:
    """The exact histograms of whole-month metrics (payback, go-live) of a result's stored trials,
    read column by column: what a report draws besides the summary, without summarizing the rest."""
    stored = open_stored(path)
    histograms = {name: HistogramMetric(name) for name in names if name in stored.schema.names}
    for batch in stored.iter_batches(list(histograms), 1 << 17):
        for name, histogram in histograms.items():
            histogram.merge(histogram_partial(batch.column(name).to_numpy(zero_copy_only=False).astype(float)))
    return histograms
