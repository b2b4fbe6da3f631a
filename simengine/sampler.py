"""The sampler: (scenario, seed, trials start..stop-1) -> the kernel's input matrix.

One row per kernel input column (model.ModelStructure.columns, then any field the kernel
does not read, such as event probabilities), one column per trial.
Fixed fields fill their row with a constant; each driver's row is filled block by block
from its own random stream (streams.py) and turned into values by its inverse CDF while
the block is hot in cache. Blocks are independent tasks, run on a thread pool (numpy's
generators and the compiled quantile kernel release the GIL). Correlated drivers go
through normal scores and the copula mixing step first. Every task writes only its own
cells in a fixed way, so the matrix does not depend on the thread count or the chunking.

A plan may `resample` some drivers (plain Monte Carlo only): their streams are drawn from
`resample_seed(seed)` instead of the run's seed, every other driver's from the run's seed.
That is pick-freeze (Sobol' indices, sobol.py): the same trials with chosen inputs redrawn.
`resample_seed` is part of the reproducibility contract: SeedSequence(seed, spawn_key=
driver_key("simengine:resample")).generate_state(1, uint64)[0] >> 1, a seed in [0, 2^63).
Resampling every driver is therefore the plain run with seed `resample_seed(seed)`.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

from . import correlation
from .distributions import QuantileSpec, Uniform
from .errors import InputError
from .kernels import normal
from .jit import jit
from .kernels.copula import mix_rows
from .model import ModelStructure
from .scenario import Scenario
from .designs import lhs_block, sobol_points
from .streams import block_segments, driver_key, fill_block

#: An occurred-flag's stream stays a uniform (identity quantile) until compared with p.
IDENTITY = Uniform({"min": 0.0, "max": 1.0}).spec
#: The spawn key's name that derives the seed of resampled drivers (part of the contract).
RESAMPLE_KEY = "simengine:resample"


def resample_seed(seed: int) -> int:
    """The seed that resampled drivers draw from in a run of `seed`, in [0, 2^63).

    A fixed function of the run's seed (see the module docstring), so a resampled run is as
    reproducible as a plain one; its own SeedSequence key keeps it apart from every stream.
    """
    state = np.random.SeedSequence(seed, spawn_key=driver_key(RESAMPLE_KEY)).generate_state(1, np.uint64)
    return int(state[0]) >> 1


@dataclass(frozen=True)
class SamplerPlan:
    """What the sampler needs of a scenario, worked out once per run."""

    n_rows: int
    fixed: tuple[tuple[int, float], ...]
    drivers: tuple[str, ...]
    rows: dict[str, int]
    specs: dict[str, QuantileSpec]
    correlated: tuple[str, ...]
    factor: np.ndarray
    events: tuple[tuple[int, int], ...]
    sampling: str = "mc"
    trials: int = 0  # the run's length: a Latin hypercube's last block depends on it
    resample: frozenset[str] = frozenset()  # drivers drawn from resample_seed(seed)

    @classmethod
    def of(cls, scenario: Scenario, structure: ModelStructure, sampling: str = "mc", trials: int = 0,
           resample: frozenset[str] | None = None) -> "SamplerPlan":
        fields = scenario.fields()
        # The kernel's columns first; fields it does not read (event probabilities) after them.
        names = list(structure.columns) + [f for f in fields if f not in structure.columns]
        rows = {name: j for j, name in enumerate(names)}
        drivers = tuple(scenario.drivers())
        fixed = [(rows[name], float(d.params["value"])) for name, d in fields.items() if d.is_fixed]
        # An event with a fixed probability of 0 or 1 is not a driver: it never or always occurs.
        fixed += [(rows[f"events.{e.name}.occurred"], float(e.probability.params["value"]))
                  for e in scenario.events if f"events.{e.name}.occurred" not in drivers]
        # Kernel inputs the scenario does not use (Bass coefficients of another curve) are 0.
        occurrences = {f"events.{e.name}.occurred" for e in scenario.events}
        fixed += [(rows[name], 0.0) for name in structure.columns if name not in fields and name not in occurrences]
        specs = {name: fields[name].spec if name in fields else IDENTITY for name in drivers}
        names, factor = (), np.zeros((0, 0))
        if scenario.correlations:
            names, rho = correlation.correlation_matrix(scenario)
            names, factor = tuple(names), correlation.cholesky_factor(rho)
        events = tuple((rows[f"events.{e.name}.occurred"], rows[f"events.{e.name}.probability"])
                       for e in scenario.events if f"events.{e.name}.occurred" in drivers)
        return cls(len(rows), tuple(fixed), drivers, rows, specs, names, np.ascontiguousarray(factor), events,
                   sampling, trials, checked_resample(resample, drivers, sampling))

    def independent_groups(self) -> list[tuple[str, ...]]:
        """The drivers in groups that are independent of each other, in driver order: a driver
        alone, or drivers whose values share streams through the copula (directly or not).

        Driver j's value mixes the streams of the drivers m with factor[j, m] != 0; linking j
        and m gives the groups: the correlations' connected components for a Cholesky factor
        (an eigenvalue-based factor of a singular matrix may join more of them).
        """
        parent = {name: name for name in self.drivers}

        def root(name: str) -> str:
            while parent[name] != name:
                name = parent[name]
            return name

        for j, m in zip(*np.nonzero(self.factor)):
            parent[root(self.correlated[j])] = root(self.correlated[m])
        groups: dict[str, list[str]] = {}
        for name in self.drivers:
            groups.setdefault(root(name), []).append(name)
        return [tuple(g) for g in groups.values()]

    def driver_rows(self, inputs: np.ndarray) -> dict[str, np.ndarray]:
        """Each driver's sampled values: views of the input matrix's rows."""
        return {name: inputs[self.rows[name]] for name in self.drivers}

    def buffer(self, size: int) -> np.ndarray:
        """An input matrix for up to `size` trials with the fixed rows already filled, to reuse."""
        inputs = np.empty((self.n_rows, size))
        for row, value in self.fixed:
            inputs[row] = value
        return inputs

    def fill(self, seed: int, start: int, stop: int, pool: Executor | None = None,
             out: np.ndarray | None = None) -> np.ndarray:
        """The input matrix (rows x trials) of trials start..stop-1, in `out[:, :n]` when given
        (`out` from `buffer`: its fixed rows are not written again)."""
        n = stop - start
        inputs = self.buffer(n) if out is None else out[:, :n]
        correlated = set(self.correlated)
        other_seed = resample_seed(seed) if self.resample else seed

        if self.sampling == "sobol":
            points = sobol_points(seed, len(self.drivers), start, stop)
            for j, name in enumerate(self.drivers):
                inputs[self.rows[name]] = points[:, j]

        def draw(task):
            name, block, skip, lo, hi = task
            cells = inputs[self.rows[name], lo - start:hi - start]
            if self.sampling == "mc":
                fill_block(other_seed if name in self.resample else seed, name, block, skip, cells)
            elif self.sampling == "lhs":
                lhs_block(seed, name, block, skip, self.trials, cells)
            if name in correlated:
                normal.ndtri_column(cells)
            elif self.specs[name] is not IDENTITY:
                self.specs[name].apply(cells)

        def finish_correlated(task):
            name, _, _, lo, hi = task
            self.specs[name].apply(inputs[self.rows[name], lo - start:hi - start], True)

        segments = list(block_segments(start, stop))
        tasks = [(name, *seg) for name in self.drivers for seg in segments]
        run_all(pool, draw, tasks)
        if correlated:
            mix_rows(inputs, np.array([self.rows[name] for name in self.correlated], dtype=np.int64), self.factor)
            run_all(pool, finish_correlated, [t for t in tasks if t[0] in correlated])
        for occurred, probability in self.events:
            occurrence(inputs[occurred], inputs[probability])
        return inputs


def checked_resample(resample: frozenset[str] | None, drivers: tuple[str, ...], sampling: str) -> frozenset[str]:
    """The drivers to resample, checked: the scenario's drivers, and plain Monte Carlo only
    (a design's points are not one stream per driver)."""
    resample = frozenset(resample or ())
    if resample and sampling != "mc":
        raise InputError(f"--sampling {sampling}: resampling drivers (Sobol' indices) needs sampling mc")
    unknown = sorted(resample.difference(drivers))
    if unknown:
        raise InputError(f"resample: {', '.join(unknown)} not a sampled driver of the scenario")
    return resample


def occurrence_python(u, p):
    """An event's uniforms -> 1.0 where it occurs (u > 1 - p), else 0.0, in place."""
    for i in range(u.shape[0]):
        u[i] = 1.0 if u[i] > 1.0 - p[i] else 0.0


occurrence = jit(occurrence_python)


def run_all(pool: Executor | None, func, tasks) -> None:
    """Run independent tasks on the pool (or here), re-raising the first error."""
    if pool is None:
        for task in tasks:
            func(task)
    else:
        for _ in pool.map(func, tasks):
            pass
