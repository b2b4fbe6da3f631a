"""Run a portfolio (docs/model.md, "Portfolios"): sample every member, run each through the model
kernel, add up the portfolio trial by trial, stream one Parquet row per trial and the exact summary.

Trials go in sub-chunks sized so that the portfolio's monthly net-cash buffer, the members'
inputs and metrics stay within tens of MB, whatever the trial count; nothing of size trials x
months exists for a whole run.
"""

from __future__ import annotations

import json
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from . import metrics as registry
from ._version import __version__
from .engine import check_run_options
from .jit import get_threads, set_threads
from .kernels import portfolio as kp
from .kernels.cashflows import METRICS
from .output import (AtomicFile, META_PREFIX, SCHEMA_VERSION, arrow_array, check_disk_space, check_writable,
                     nan_to_int, parquet_options, summary_path_for, write_json_atomic)
from .portfolio_sampler import PortfolioPlan, fill_group, member_seed
from .portfolio_summary import ColumnSummary, TailSet, cvar_trials, euler_block
from .streams import BLOCK_SIZE, STREAM_LAYOUT
from .summary import SUMMARY_METRICS, probability
from .summary_stream import StreamingSummary

#: Each member's columns in the result file: its contribution, then its own metrics.
MEMBER_COLUMNS = ("npv_in_portfolio", "npv", "roi", "irr", "payback_months", "go_live_month", "one_time_cost",
                  "total_cost")
#: The portfolio's summarized columns (besides spend by year and the members' contributions).
PORTFOLIO_CONTINUOUS = ("npv", "roi", "one_time_cost", "total_cost")
#: Bytes the sub-chunk's buffers may take (about; the trials per sub-chunk follow from it).
CHUNK_BYTES = 128 << 20
#: The first trials of each member's and the portfolio's NPV kept for the report's charts.
SAMPLE_TRIALS = 200_000
#: The pilot that fixes the summary's value bands (summary_stream.py) holds every summarized value of
#: its trials, every member's too: at most 4 blocks (a run's is 16), fewer so that it stays within this.
PILOT_BYTES = 128 << 20


def portfolio_pilot(members: int, years: int) -> int:
    """The pilot's trials: whole blocks, 1 to 4, within PILOT_BYTES (about 10 values a member and
    trial, and the portfolio's own columns)."""
    per_trial = 8 * (members * (len(SUMMARY_METRICS) + 1) + years + 8)
    return BLOCK_SIZE * max(1, min(4, PILOT_BYTES // (per_trial * BLOCK_SIZE)))
ONE_TIME, TOTAL = METRICS.index("one_time_cost"), METRICS.index("total_cost")
PORTFOLIO_SAMPLE = "portfolio.npv"


@dataclass
class PortfolioChunk:
    """Trials start..start+n-1: each member's metrics (METRICS x n), contributions (K x n) and
    the portfolio's columns (name -> n values; NaN = null)."""

    start: int
    members: list[np.ndarray]
    contrib: np.ndarray
    columns: dict[str, np.ndarray]

    @property
    def size(self) -> int:
        return self.contrib.shape[1]


def sub_chunk_size(months: int, members: int, rows: int, years: int) -> int:
    """Trials per sub-chunk: a power of two (so sub-chunks tile the blocks) within CHUNK_BYTES."""
    per_trial = 8 * (months + years + members * (len(METRICS) + 4) + rows)
    size = 1 << max(10, min(16, int(math.log2(max(1, CHUNK_BYTES // per_trial)))))
    return min(size, BLOCK_SIZE)


class PortfolioSimulation:
    """A portfolio made ready to simulate with a seed: plan, member seeds, calendar and buffers.

    `starts` and `funded` override the file's start months and members (a plan of --optimize):
    an unfunded member is still sampled (its draws, and the streams of shared drivers, do not
    depend on the plan), but adds nothing.
    """

    def __init__(self, portfolio, seed: int, starts: dict[str, int] | None = None,
                 funded: set[str] | None = None, plan: PortfolioPlan | None = None):
        self.portfolio = portfolio
        self.seed = seed
        self.plan = plan or PortfolioPlan(portfolio)
        members = portfolio.members
        self.seeds = [member_seed(seed, m.name) for m in members]
        starts = starts or {}
        self.starts = [int(starts.get(m.name, m.start_month)) for m in members]
        self.funded = [funded is None or m.name in funded for m in members]
        self.months = max([s + m.scenario.horizon_months for s, m, f in zip(self.starts, members, self.funded) if f]
                          or [12])
        self.years = math.ceil(self.months / 12)
        self.limits = np.array(portfolio.budget.year_limits(self.years))
        self.total_limit = portfolio.budget.total
        widest = max(group.n_rows for group in self.plan.groups)
        self.sub = sub_chunk_size(self.months, len(members), widest, self.years)
        # Input buffers kept from sub-chunk to sub-chunk when they all fit (fresh memory costs page
        # faults); with many members each group's inputs are made when sampled and let go after.
        rows = sum(group.n_rows for group in self.plan.groups)
        self._keep_buffers = rows * self.sub * 8 <= CHUNK_BYTES // 2
        self._buffers: dict[int, np.ndarray] = {}

    def _buffer(self, g: int) -> np.ndarray | None:
        group = self.plan.groups[g]
        if not self._keep_buffers:
            return None
        if g not in self._buffers:
            if len(group.members) == 1 and not group.shared:
                self._buffers[g] = self.plan.plans[group.members[0]].buffer(self.sub)
            else:
                self._buffers[g] = np.empty((group.n_rows, self.sub))
        return self._buffers[g]

    def member_inputs(self, start: int, stop: int, pool=None):
        """(member index, its kernel inputs with the shared drivers' effects) for trials start..stop-1,
        every member in turn (funded or not); each matrix is valid until the next is yielded."""
        pp = self.plan
        filled: dict[int, list[np.ndarray]] = {}
        group_shared: dict[int, np.ndarray] = {}
        for g, group in enumerate(pp.groups):  # groups with shared drivers first: their values drive others
            if group.shared:
                filled[g] = fill_group(pp, group, self.seeds, self.seed, start, stop, pool, self._buffer(g))
                for i, j in enumerate(group.shared):
                    group_shared[j] = filled[g][-1][i]
        shared = pp.fill_shared(self.seed, start, stop, group_shared)
        for g, group in enumerate(pp.groups):
            mats = filled.pop(g, None)
            if mats is None:
                mats = fill_group(pp, group, self.seeds, self.seed, start, stop, pool, self._buffer(g))
            for k, inputs in zip(group.members, mats):
                pp.apply_effects(k, inputs, shared)
                yield k, inputs

    def member_pass(self, k: int, inputs: np.ndarray, start_month: int, out: np.ndarray, contrib: np.ndarray,
                    net: np.ndarray, years: np.ndarray) -> None:
        """Member k's trials through the kernel, added into the portfolio's accumulators."""
        st = self.plan.sims[k].structure
        kp.member_pass(inputs, st.cost_timing, st.cost_from_start, st.cost_overrun, st.cost_labor,
                       st.benefit_scales, st.phase_share, st.phase_offset, st.n_events, st.curve, st.n_months,
                       start_month, self.portfolio.members[k].scale, out, contrib, net, years)

    def chunk(self, start: int, stop: int, pool=None) -> PortfolioChunk:
        """Trials start..stop-1 (at most `self.sub` of them)."""
        n = stop - start
        members = self.portfolio.members
        net = np.zeros((n, self.months))
        years = np.zeros((self.years, n))
        outs = [np.full((len(METRICS), n), np.nan) for _ in members]
        contrib = np.zeros((len(members), 3, n))
        for k, inputs in self.member_inputs(start, stop, pool):
            if self.funded[k]:
                self.member_pass(k, inputs, self.starts[k], outs[k], contrib[k], net, years)
        return PortfolioChunk(start, outs, contrib[:, kp.CONTRIB_NPV], self._columns(outs, contrib, net, years))

    def _columns(self, outs, contrib, net, years) -> dict[str, np.ndarray]:
        n = net.shape[0]
        funded = [k for k, f in enumerate(self.funded) if f]
        npv = np.zeros(n)
        cost_pv = np.zeros(n)
        benefit_pv = np.zeros(n)
        one_time = np.zeros(n)
        total = np.zeros(n)
        for k in funded:  # in member order: a fixed order of additions
            scale = self.portfolio.members[k].scale
            npv += contrib[k, kp.CONTRIB_NPV]
            cost_pv += contrib[k, kp.CONTRIB_COST_PV]
            benefit_pv += contrib[k, kp.CONTRIB_BENEFIT_PV]
            one_time += scale * outs[k][ONE_TIME]
            total += scale * outs[k][TOTAL]
        with np.errstate(divide="ignore", invalid="ignore"):
            roi = np.where(cost_pv != 0.0, npv / np.where(cost_pv != 0.0, cost_pv, 1.0), np.nan)
        payback = np.empty(n)
        kp.payback(net, n, payback)
        cols = {"npv": npv, "cost_pv": cost_pv, "benefit_pv": benefit_pv, "roi": roi, "one_time_cost": one_time,
                "total_cost": total, "payback_months": payback}
        for y in range(self.years):
            cols[f"cost_y{y + 1}"] = years[y]
        if self.portfolio.budget.is_set:
            over = (years > self.limits[:, None]).any(axis=0)
            if self.total_limit is not None:
                over |= years.sum(axis=0) > self.total_limit
            cols["budget_exceeded"] = over
        return cols

    def ranges(self, start: int, stop: int):
        """Sub-chunk bounds covering start..stop-1 (aligned to the sub-chunk size from 0)."""
        lo = start
        while lo < stop:
            hi = min(stop, (lo // self.sub + 1) * self.sub)
            yield lo, hi
            lo = hi

    def run(self, start: int, stop: int, threads: int | None = None, on_progress=None, step=None):
        """`step(lo, hi, pool)` (default: `chunk`) of every sub-chunk of trials start..stop-1, in order."""
        step = step or self.chunk
        before = get_threads()
        if threads is not None:
            set_threads(threads)
        try:
            with ThreadPoolExecutor(max_workers=get_threads(), thread_name_prefix="simengine-portfolio") as pool:
                for lo, hi in self.ranges(start, stop):
                    yield step(lo, hi, pool)
                    if on_progress is not None:
                        on_progress(hi)
        finally:
            set_threads(before)


# --- on a cluster -------------------------------------------------------------------------------

@dataclass(frozen=True)
class PortfolioTask:
    """One cluster task: trials start..stop-1 of a portfolio run."""

    portfolio: str  # canonical JSON, every member's scenario inside
    seed: int
    start: int
    stop: int
    versions: dict
    digest: str
    kernel_threads: int = 1


@dataclass
class PortfolioRange:
    start: int
    stop: int
    chunks: list[PortfolioChunk]


#: Trials whose portfolio NPV proves a worker computes what the client does.
CHECK_TRIALS = 256
_SIMULATIONS: dict[tuple[str, int], PortfolioSimulation] = {}
_CHECKED: set[tuple[str, int, str]] = set()


def portfolio_digest(sim: PortfolioSimulation) -> str:
    import hashlib

    chunk = sim.chunk(0, min(CHECK_TRIALS, sim.sub))
    return hashlib.sha256(np.ascontiguousarray(chunk.columns["npv"]).tobytes()).hexdigest()


def _worker_simulation(text: str, seed: int) -> PortfolioSimulation:
    from .portfolio_file import portfolio_from_json

    key = (text, seed)
    if key not in _SIMULATIONS:
        _SIMULATIONS.clear()
        _SIMULATIONS[key] = PortfolioSimulation(portfolio_from_json(text), seed)
    return _SIMULATIONS[key]


def run_portfolio_task(spec: PortfolioTask) -> PortfolioRange:
    """A worker's task: check once that it computes what the client does, then its trials."""
    from .cluster_task import WorkerRefused, software_versions, worker_name

    mine = software_versions()
    for name, wanted in spec.versions.items():
        if mine.get(name) != wanted:
            raise WorkerRefused(f"{worker_name()} has {name} {mine.get(name)}, the client {wanted}: install the "
                                "same versions on the workers as on the client")
    sim = _worker_simulation(spec.portfolio, spec.seed)
    key = (spec.portfolio, spec.seed, spec.digest)
    if key not in _CHECKED:
        if portfolio_digest(sim) != spec.digest:
            raise WorkerRefused(f"{worker_name()} computes other numbers than the client for the portfolio's first "
                                f"{CHECK_TRIALS} trials (same versions: check its CPU and numba settings)")
        _CHECKED.add(key)
    return PortfolioRange(spec.start, spec.stop, list(sim.run(spec.start, spec.stop, spec.kernel_threads)))


def cluster_chunks(executor, sim: PortfolioSimulation, start: int, stop: int, on_progress=None):
    """The chunks of trials start..stop-1 computed by the cluster's workers, in trial order.

    Tasks of one block each; results arrive in order through a bounded queue, so the client
    holds a few tasks' chunks at a time."""
    import queue
    import threading

    from .cluster_task import software_versions

    executor.connect()  # here, in the main thread: a local cluster starts with signal handlers
    text = sim.portfolio.canonical_json
    digest = portfolio_digest(sim)
    specs = [PortfolioTask(text, sim.seed, lo, min(stop, lo + BLOCK_SIZE), software_versions(), digest,
                           executor.kernel_threads) for lo in range(start, stop, BLOCK_SIZE)]
    results: queue.Queue = queue.Queue(maxsize=4)
    failure: list[BaseException] = []

    def work():
        try:
            executor.map_ranges(run_portfolio_task, specs, results.put, on_progress)
        except BaseException as exc:  # noqa: BLE001 - handed to the consuming thread
            failure.append(exc)
        finally:
            results.put(None)

    thread = threading.Thread(target=work, name="simengine-portfolio-cluster", daemon=True)
    thread.start()
    while True:
        item = results.get()
        if item is None:
            break
        yield from item.chunks
    thread.join()
    if failure:
        raise failure[0]


# --- the result file --------------------------------------------------------------------------

def _metric_field(name: str, column: str) -> pa.Field:
    m = registry.METRICS[registry.index(column)]
    kind = {"float64": pa.float64(), "int32": pa.int32(), "int64": pa.int64()}[m.dtype]
    return pa.field(name, kind, nullable=m.nullable)


def portfolio_schema(sim: PortfolioSimulation, metadata: dict[str, str]) -> pa.Schema:
    fields = [pa.field("trial", pa.int64(), nullable=False)]
    fields += [pa.field(c, pa.float64(), nullable=False) for c in ("npv", "cost_pv", "benefit_pv")]
    fields += [pa.field("roi", pa.float64(), nullable=True)]
    fields += [pa.field(c, pa.float64(), nullable=False) for c in ("one_time_cost", "total_cost")]
    fields += [pa.field("payback_months", pa.int32(), nullable=True)]
    fields += [pa.field(f"cost_y{y + 1}", pa.float64(), nullable=False) for y in range(sim.years)]
    if sim.portfolio.budget.is_set:
        fields.append(pa.field("budget_exceeded", pa.bool_(), nullable=False))
    for m, funded in zip(sim.portfolio.members, sim.funded):
        if funded:
            fields.append(pa.field(f"{m.name}.npv_in_portfolio", pa.float64(), nullable=False))
            fields += [_metric_field(f"{m.name}.{c}", c) for c in MEMBER_COLUMNS[1:]]
    return pa.schema(fields, metadata={f"{META_PREFIX}{k}": v for k, v in metadata.items()})


def chunk_table(schema: pa.Schema, chunk: PortfolioChunk, members: list[str]) -> pa.Table:
    """One row per trial of a chunk, nulls where a value is NaN."""
    n = chunk.size
    arrays = []
    index = {name: k for k, name in enumerate(members)}
    for field in schema:
        name = field.name
        if name == "trial":
            values = np.arange(chunk.start, chunk.start + n, dtype=np.int64)
        elif name in chunk.columns:
            values = chunk.columns[name]
        else:
            member, column = name.split(".", 1)
            k = index[member]
            values = chunk.contrib[k] if column == "npv_in_portfolio" else chunk.members[k][METRICS.index(column)]
        if pa.types.is_boolean(field.type):  # bit-packed, without pa.array (its first call imports pandas)
            bits = pa.py_buffer(np.packbits(np.asarray(values, dtype=bool), bitorder="little"))
            arrays.append(pa.Array.from_buffers(pa.bool_(), n, [None, bits]))
        elif pa.types.is_integer(field.type):
            ints = np.empty(n, dtype=np.int32 if field.type == pa.int32() else np.int64)
            null = np.empty(n, dtype=np.bool_)
            has_null = nan_to_int(np.ascontiguousarray(values, dtype=np.float64), ints, null)
            arrays.append(arrow_array(ints, field.type, null if has_null else None))
        else:
            values = np.ascontiguousarray(values, dtype=np.float64)
            null = np.isnan(values)
            arrays.append(arrow_array(values, field.type, null if null.any() else None))
    return pa.Table.from_arrays(arrays, schema=schema)


# --- the run ------------------------------------------------------------------------------------

@dataclass
class PortfolioReport:
    summary: dict
    result_path: Path | None
    summary_path: Path | None
    seconds: float
    samples: dict[str, np.ndarray]


def run_portfolio(portfolio, *, trials: int, seed: int, out: Path | None, threads: int | None = None,
                  force: bool = False, on_progress=None, pilot: int | None = None, executor=None) -> PortfolioReport:
    """Simulate `trials` trials of a portfolio; write its per-trial Parquet (unless `out` is None)
    and summary. On any error or interrupt nothing is left that looks like a result.

    With a distributed `executor` (DaskExecutor) the workers compute the trials, a block per
    task, and this process summarizes them and writes the file as they arrive in order."""
    check_run_options(trials, seed, "mc", threads, 1)
    summary_path = summary_path_for(out) if out is not None else None
    sim = PortfolioSimulation(portfolio, seed)
    names = [m.name for m in portfolio.members]
    if out is not None:
        check_writable([out, summary_path], force)
        check_disk_space(out, trials, 12 + sim.years + len(names) * len(MEMBER_COLUMNS))
    started = time.perf_counter()
    acc = PortfolioAccumulator(sim, trials, pilot)
    writer = file = None
    try:
        if out is not None:
            metadata = portfolio_metadata(portfolio, sim, trials)
            schema = portfolio_schema(sim, metadata)
            file = AtomicFile(out)
            writer = pq.ParquetWriter(file.temp, schema, **parquet_options(schema))
        if getattr(executor, "distributed", False):
            def chunks(on_progress=None):
                return cluster_chunks(executor, sim, 0, trials, on_progress)
        else:
            def chunks(on_progress=None):
                return sim.run(0, trials, threads, on_progress)
        for chunk in chunks(on_progress):
            acc.add(chunk)
            if writer is not None:
                writer.write_table(chunk_table(schema, chunk, names))
        acc.finish(chunks)
        summary = acc.summary()
        if writer is not None:
            writer.close()
            writer = None
            file.commit()
            write_json_atomic(summary_path, summary)
    except BaseException:
        if writer is not None:
            writer.close()
        if file is not None:
            file.discard()
        raise
    return PortfolioReport(summary, out, summary_path, time.perf_counter() - started, acc.samples)


def portfolio_metadata(portfolio, sim: PortfolioSimulation, trials: int) -> dict[str, str]:
    return {
        "kind": "portfolio",
        "portfolio": portfolio.canonical_json,
        "portfolio_sha256": portfolio.sha256,
        "portfolio_name": portfolio.name,
        "seed": str(sim.seed),
        "trials": str(trials),
        "member_seeds": json.dumps({m.name: s for m, s in zip(portfolio.members, sim.seeds)}),
        "sampling": "mc",
        "stream_layout": STREAM_LAYOUT,
        "version": __version__,
        "schema_version": SCHEMA_VERSION,
    }


class PortfolioAccumulator:
    """Everything the portfolio's summary needs, fed chunk by chunk in trial order."""

    def __init__(self, sim: PortfolioSimulation, trials: int, pilot: int | None = None):
        pilot = pilot or portfolio_pilot(len(sim.portfolio.members), sim.years)
        self.sim = sim
        self.trials = trials
        p = sim.portfolio
        self.names = [m.name for m in p.members]
        self.funded = [m.name for m, f in zip(p.members, sim.funded) if f]
        self.member_acc = {m.name: StreamingSummary(m.scenario.decision, pilot) for m, f in
                           zip(p.members, sim.funded) if f}
        contributions = [f"{name}.npv_in_portfolio" for name in self.funded]
        years = [f"cost_y{y + 1}" for y in range(sim.years)]
        self.columns = ColumnSummary(list(PORTFOLIO_CONTINUOUS) + years + contributions, ["payback_months"],
                                     {"npv", *contributions}, pilot)
        self.tail = TailSet(cvar_trials(trials), len(self.funded))
        self.npv_negative = 0
        self.exceeded = 0
        self.targets = {key: 0 for key, _ in self._rules()}
        self.all_targets = 0
        #: the report's chart samples: "portfolio.npv" (a member's name holds no dot) and each member's own NPV
        self.samples = {name: np.empty(min(trials, SAMPLE_TRIALS)) for name in [PORTFOLIO_SAMPLE, *self.funded]}
        self.year_over = np.zeros(sim.years, dtype=np.int64)
        self.total_over = 0

    def _rules(self):
        d = self.sim.portfolio.decision
        out = []
        if d.npv_min is not None:
            out.append(("npv_min", lambda c, v=d.npv_min: c["npv"] >= v))
        if d.roi_min is not None:
            out.append(("roi_min", lambda c, v=d.roi_min: c["roi"] >= v))
        if d.payback_months_max is not None:
            out.append(("payback_months_max", lambda c, v=d.payback_months_max: c["payback_months"] <= v))
        return out

    def add(self, chunk: PortfolioChunk) -> None:
        cols = chunk.columns
        index = {name: k for k, name in enumerate(self.names)}
        funded = [index[name] for name in self.funded]
        contrib = chunk.contrib[funded]
        feed = {name: cols[name] for name in PORTFOLIO_CONTINUOUS}
        feed.update((f"cost_y{y + 1}", cols[f"cost_y{y + 1}"]) for y in range(self.sim.years))
        feed.update((f"{name}.npv_in_portfolio", contrib[i]) for i, name in enumerate(self.funded))
        feed["payback_months"] = cols["payback_months"]
        self.columns.add(feed)
        for i, name in enumerate(self.funded):
            self.member_acc[name].add(chunk.members[funded[i]])
        self.tail.add(chunk.start, cols["npv"], contrib)
        self.npv_negative += int(np.count_nonzero(cols["npv"] < 0))
        if "budget_exceeded" in cols:
            self.exceeded += int(np.count_nonzero(cols["budget_exceeded"]))
            spend = np.stack([cols[f"cost_y{y + 1}"] for y in range(self.sim.years)])
            self.year_over += np.count_nonzero(spend > self.sim.limits[:, None], axis=1)
            if self.sim.total_limit is not None:
                self.total_over += int(np.count_nonzero(spend.sum(axis=0) > self.sim.total_limit))
        met_all = np.ones(chunk.size, dtype=bool)
        with np.errstate(invalid="ignore"):
            for key, rule in self._rules():
                met = rule(cols)
                self.targets[key] += int(np.count_nonzero(met))
                met_all &= met
        self.all_targets += int(np.count_nonzero(met_all))
        lo, hi = chunk.start, min(chunk.start + chunk.size, SAMPLE_TRIALS)
        if lo < hi:
            self.samples[PORTFOLIO_SAMPLE][lo:hi] = cols["npv"][:hi - lo]
            for i, name in enumerate(self.funded):
                self.samples[name][lo:hi] = chunk.members[funded[i]][METRICS.index("npv")][:hi - lo]

    def finish(self, rerun) -> None:
        """Close the streams; columns whose ranks fell outside their bands get all their values
        from `rerun()` (a fresh pass over the same trials: they are reproducible)."""
        self.columns.finish()
        for acc in self.member_acc.values():
            acc.finish()
        self.tail.finish()
        wanted = self.columns.incomplete()
        member_wanted = {name: acc.incomplete() for name, acc in self.member_acc.items() if acc.incomplete()}
        if not wanted and not member_wanted:
            return
        values = {name: np.empty(self.trials) for name in wanted}
        member_values = {(m, c): np.empty(self.trials) for m, cs in member_wanted.items() for c in cs}
        index = {name: k for k, name in enumerate(self.names)}
        for chunk in rerun():
            sl = slice(chunk.start, chunk.start + chunk.size)
            for name in wanted:
                if name.endswith(".npv_in_portfolio"):
                    values[name][sl] = chunk.contrib[index[name.split(".", 1)[0]]]
                else:
                    values[name][sl] = chunk.columns[name]
            for (m, c), array in member_values.items():
                array[sl] = chunk.members[index[m]][METRICS.index(c)]
        for name in wanted:
            self.columns.metrics[name].rebuild(values.pop(name), take=True)
        for (m, c), array in member_values.items():
            self.member_acc[m].metrics[c].rebuild(array, take=True)

    def summary(self) -> dict:
        sim, p = self.sim, self.sim.portfolio
        n = self.columns.trials
        members = {}
        for m, s, start, funded in zip(p.members, sim.seeds, sim.starts, sim.funded):
            if not funded:
                continue
            members[m.name] = {
                "scenario": m.scenario.name, "source": m.source, "start_month": start, "scale": m.scale,
                "seed": s, "linked": self._linked(m.name),
                "npv_in_portfolio": {**self.columns.describe(f"{m.name}.npv_in_portfolio"),
                                     "cvar5": self.columns.metrics[f"{m.name}.npv_in_portfolio"].cvar()},
                "summary": self.member_acc[m.name].summary(),
            }
        euler = euler_block(self.tail, self.columns, self.funded)
        years = []
        for y in range(sim.years):
            limit = float(sim.limits[y])
            years.append({"year": y + 1, "months": [12 * y, min(12 * (y + 1), sim.months) - 1],
                          "limit": limit if math.isfinite(limit) else None,
                          "p_over_limit": probability(int(self.year_over[y]), n) if math.isfinite(limit) else None,
                          **self.columns.describe(f"cost_y{y + 1}")})
        out = {
            "kind": "portfolio", "portfolio": p.name, "currency": p.currency, "seed": sim.seed, "trials": n,
            "version": __version__, "horizon_months": sim.months, "years": sim.years,
            "metrics": {name: self.columns.describe(name) for name in (*PORTFOLIO_CONTINUOUS, "payback_months")},
            "spend_by_year": years,
            "budget": {"per_year": [float(v) if math.isfinite(v) else None for v in sim.limits],
                       "total": p.budget.total,
                       "p_total_over": (probability(self.total_over, n) if p.budget.total is not None else None)}
            if p.budget.is_set else None,
            "p_npv_negative": probability(self.npv_negative, n),
            "p_budget_exceeded": probability(self.exceeded, n) if p.budget.is_set else None,
            **euler,
            "targets": {},
            "constraints": self._constraints(euler, n),
            "members": members,
        }
        for key, _ in self._rules():
            out["targets"][key] = {"target": getattr(p.decision, key), "probability": probability(self.targets[key], n)}
        if self.targets:
            out["targets"]["all"] = {"probability": probability(self.all_targets, n)}
        return out

    def _constraints(self, euler: dict, n: int) -> dict:
        d = self.sim.portfolio.decision
        out = {}
        if d.cvar_min is not None:
            cvar = euler["cvar5_npv"]
            out["cvar_min"] = {"target": d.cvar_min, "estimate": cvar,
                               "met": cvar["value"] is not None and cvar["value"] >= d.cvar_min}
        if d.budget_exceedance_max is not None:
            if self.sim.portfolio.budget.is_set:
                share = probability(self.exceeded, n)
                out["budget_exceedance_max"] = {"target": d.budget_exceedance_max, "estimate": share,
                                                "met": share["value"] <= d.budget_exceedance_max}
        return out

    def _linked(self, name: str) -> bool:
        """Whether a shared driver or a portfolio correlation touches the member."""
        p = self.sim.portfolio
        if any(m == name for s in p.shared for m, _, _ in s.targets()):
            return True
        return any(a.split(".", 1)[0] == name or b.split(".", 1)[0] == name for a, b, _ in p.correlations)




