"""The portfolio's sampler: each member's kernel inputs, from its own seed, linked by shared
drivers and portfolio correlations as docs/model.md ("Portfolios") states.

Members and shared drivers form *groups*: the connected components of the portfolio's
correlations. A member in a group of its own is sampled by its scenario's own plan with its
member seed, so its inputs are those of `simengine run MEMBER --seed member_seed(...)`. A
linked group stacks its members' input rows (and its shared drivers') in one matrix and runs
one copula over the joint matrix. Shared drivers' effects come last, on the filled inputs.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from . import correlation
from .engine import Simulation
from .kernels import normal
from .kernels.copula import mix_rows
from .sampler import IDENTITY, SamplerPlan, occurrence, run_all
from .streams import block_segments, driver_key, fill_block

MEMBER_KEY = "simengine:member:"


def member_seed(seed: int, name: str) -> int:
    """Member `name`'s seed in a portfolio run of `seed`, in [0, 2^63) (docs/model.md)."""
    state = np.random.SeedSequence(seed, spawn_key=driver_key(MEMBER_KEY + name)).generate_state(1, np.uint64)
    return int(state[0]) >> 1


@dataclass
class Group:
    """Members and shared drivers sampled together: one copula over their correlated drivers."""

    members: list[int]  # indices into the portfolio's members
    shared: list[int]  # indices into the portfolio's shared drivers
    offsets: list[int]  # each member's first row in the stacked matrix
    shared_rows: list[int]
    n_rows: int
    correlated: list[tuple[int, str, int]]  # (owner: member index or -1 - shared index, name, row)
    factor: np.ndarray


class PortfolioPlan:
    """What sampling a portfolio needs, worked out once per run (plain Monte Carlo only)."""

    def __init__(self, portfolio):
        self.portfolio = portfolio
        self.sims = [Simulation(m.scenario) for m in portfolio.members]
        self.plans: list[SamplerPlan] = [sim.plan for sim in self.sims]
        self.groups = _groups(portfolio, self.plans)
        self.shared_specs = [s.distribution.spec if not s.distribution.is_fixed else None for s in portfolio.shared]
        index = {m.name: k for k, m in enumerate(portfolio.members)}
        # Effects by member: (row in the member's inputs, shared index, effect, fixed base value or None).
        self.effects: list[list[tuple[int, int, str, float | None]]] = [[] for _ in portfolio.members]
        for j, s in enumerate(portfolio.shared):
            for member, column, effect in s.targets():
                k = index[member]
                plan = self.plans[k]
                row = plan.rows[column]
                self.effects[k].append((row, j, effect, dict(plan.fixed).get(row)))

    @staticmethod
    def check(portfolio) -> None:
        """Reject joint correlation matrices that are not positive semi-definite (one line)."""
        for members, shared, names, corrs in _components(portfolio):
            if len(members) + len(shared) > 1 or shared:
                correlation.check_correlations(SimpleNamespace(correlations=corrs, drivers=lambda n=names: n))

    def fill_shared(self, seed: int, start: int, stop: int, group_values: dict[int, np.ndarray]) -> np.ndarray:
        """Shared drivers' values (n_shared x trials): from their group's matrix when correlated."""
        n = stop - start
        out = np.empty((len(self.portfolio.shared), n))
        for j, s in enumerate(self.portfolio.shared):
            if j in group_values:
                out[j] = group_values[j]
            elif s.distribution.is_fixed:
                out[j] = float(s.distribution.params["value"])
            else:
                for block, skip, lo, hi in block_segments(start, stop):
                    cells = out[j, lo - start:hi - start]
                    fill_block(seed, s.driver, block, skip, cells)
                    self.shared_specs[j].apply(cells)
        return out

    def apply_effects(self, k: int, inputs: np.ndarray, shared: np.ndarray) -> None:
        """Shared drivers' effects on member k's filled inputs (columns 0..n-1 of `shared`)."""
        n = inputs.shape[1]
        for row, j, effect, base in self.effects[k]:
            values = shared[j, :n]
            op = np.multiply if effect == "multiplies" else np.add
            if effect == "replaces":
                inputs[row] = values
            elif base is not None:  # a fixed input: its row is not re-drawn, so never change it in place
                op(base, values, out=inputs[row])
            else:
                op(inputs[row], values, out=inputs[row])


def _components(portfolio):
    """Connected components of members and shared drivers under the portfolio's correlations:
    (member indices, shared indices, their correlated driver names, the correlations)."""
    members = portfolio.members
    node = {m.name: k for k, m in enumerate(members)}
    node.update({s.driver: len(members) + j for j, s in enumerate(portfolio.shared)})
    parent = list(range(len(members) + len(portfolio.shared)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    def owner(name: str) -> int:
        return node[name] if name.startswith("shared.") else node[name.split(".", 1)[0]]

    for a, b, _ in portfolio.correlations:
        parent[root(owner(a))] = root(owner(b))
    comps: dict[int, list[int]] = {}
    for i in range(len(parent)):
        comps.setdefault(root(i), []).append(i)
    out = []
    for nodes in comps.values():
        ms = [i for i in nodes if i < len(members)]
        sh = [i - len(members) for i in nodes if i >= len(members)]
        corrs = [SimpleNamespace(drivers=(f"{members[k].name}.{a}", f"{members[k].name}.{b}"), spearman=c.spearman)
                 for k in ms for c in members[k].scenario.correlations for a, b in [c.drivers]]
        corrs += [SimpleNamespace(drivers=(a, b), spearman=rho) for a, b, rho in portfolio.correlations
                  if owner(a) in nodes]
        names = [f"{members[k].name}.{d}" for k in ms for d in members[k].scenario.drivers()]
        names += [portfolio.shared[j].driver for j in sh]
        out.append((ms, sh, names, corrs))
    return out


def _groups(portfolio, plans: list[SamplerPlan]) -> list[Group]:
    groups = []
    for ms, sh, names, corrs in _components(portfolio):
        offsets, row = [], 0
        for k in ms:
            offsets.append(row)
            row += plans[k].n_rows
        shared_rows = list(range(row, row + len(sh)))
        n_rows = row + len(sh)
        correlated, factor = [], np.zeros((0, 0))
        if len(ms) + len(sh) > 1 and corrs:
            cnames, rho = correlation.correlation_matrix(SimpleNamespace(correlations=corrs,
                                                                         drivers=lambda n=names: n))
            factor = np.ascontiguousarray(correlation.cholesky_factor(rho))
            for name in cnames:
                if name.startswith("shared."):
                    j = [portfolio.shared[i].driver for i in sh].index(name)
                    correlated.append((-1 - sh[j], name, shared_rows[j]))
                else:
                    member, driver = name.split(".", 1)
                    pos = [portfolio.members[k].name for k in ms].index(member)
                    correlated.append((ms[pos], driver, offsets[pos] + plans[ms[pos]].rows[driver]))
        groups.append(Group(ms, sh, offsets, shared_rows, n_rows, correlated, factor))
    # Groups holding shared drivers first: their values are needed by the members they drive.
    groups.sort(key=lambda g: not g.shared)
    return groups


def fill_group(pp: PortfolioPlan, group: Group, seeds: list[int], seed: int, start: int, stop: int,
               pool: Executor | None, matrix: np.ndarray | None) -> list[np.ndarray]:
    """Fill a group's inputs for trials start..stop-1: one matrix per member (views of a stacked
    one for a linked group), and the group's shared rows (returned last, if any).

    A member alone is its own scenario's plan, filled with its member seed; a linked group
    draws every stream, runs one copula over the joint factor, then the members' events.
    """
    n = stop - start
    if len(group.members) == 1 and not group.shared:
        k = group.members[0]
        return [pp.plans[k].fill(seeds[k], start, stop, pool, matrix)]
    values = np.empty((group.n_rows, n)) if matrix is None else matrix[:, :n]
    views = [values[off:off + pp.plans[k].n_rows] for k, off in zip(group.members, group.offsets)]
    for k, view in zip(group.members, views):
        for row, value in pp.plans[k].fixed:
            view[row] = value
    correlated = {(owner, name) for owner, name, _ in group.correlated}
    tasks = []
    for k, view in zip(group.members, views):
        plan = pp.plans[k]
        for name in plan.drivers:
            for seg in block_segments(start, stop):
                tasks.append((view, plan.rows[name], seeds[k], name, plan.specs[name], (k, name) in correlated, seg))
    for j, row in zip(group.shared, group.shared_rows):
        s = pp.portfolio.shared[j]
        if s.distribution.is_fixed:
            values[row] = float(s.distribution.params["value"])
            continue
        for seg in block_segments(start, stop):
            tasks.append((values, row, seed, s.driver, pp.shared_specs[j], (-1 - j, s.driver) in correlated, seg))

    def draw(task):
        matrix_, row, seed_, name, spec, is_correlated, (block, skip, lo, hi) = task
        cells = matrix_[row, lo - start:hi - start]
        fill_block(seed_, name, block, skip, cells)
        if is_correlated:
            normal.ndtri_column(cells)
        elif spec is not IDENTITY:
            spec.apply(cells)

    run_all(pool, draw, tasks)
    if group.correlated:
        rows = np.array([row for _, _, row in group.correlated], dtype=np.int64)
        mix_rows(values, rows, group.factor)
        finish = [t for t in tasks if t[5]]

        def finish_one(task):
            matrix_, row, _, _, spec, _, (block, skip, lo, hi) = task
            spec.apply(matrix_[row, lo - start:hi - start], True)

        run_all(pool, finish_one, finish)
    for k, view in zip(group.members, views):
        for occurred, probability in pp.plans[k].events:
            occurrence(view[occurred], view[probability])
    if group.shared:
        return views + [values[group.shared_rows[0]:group.shared_rows[-1] + 1]]
    return views
