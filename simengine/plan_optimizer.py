"""Which projects of a portfolio to fund, and when to start them (docs/portfolio-optimization.md).

Sample-average approximation: the caller simulates N trials of every member under every start
option; the best plan is the one with the highest mean NPV over those trials that meets a
budget chance constraint and a CVaR floor on the same trials. That is a mixed-integer program
(one binary per member and option, one per trial for the chance constraint, Rockafellar-Uryasev
variables for the CVaR), solved by scipy.optimize.milp (HiGHS); runner-up plans come from
re-solving with no-good cuts. Small problems are solved exactly by listing every plan instead,
and on large ones, where HiGHS stops at its time limit, a local search competes with its plan.
Every returned figure is recounted exactly from the arrays, and a plan the solver accepted only
within its tolerances is cut off and the problem re-solved.
Pure numerics: arrays in, plans out; scipy is imported where used.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .errors import InputError, SimengineError

#: Tail share of the CVaR: the mean of the worst ceil(5 % of N) trials' portfolio NPV.
CVAR_LEVEL = 0.05
#: Relative MIP gap HiGHS stops at (its default is 1e-4): small enough that the runner-ups come
#: out in their true order, and no slower in practice than 1e-4 on these models.
MIP_REL_GAP = 1e-9
#: A budget row is taken as possibly binding, or a trial as surely exceeding, only past this
#: relative margin, so that rounding in a sum of spends never drops a row that matters.
ROW_MARGIN = 1e-9
#: "auto" lists every plan (exact) rather than calling HiGHS while plans x (Y + 1) x N is at most
#: this: about 5 s (125,000 plans at N = 2,000, Y = 7). HiGHS's big-M relaxation is weak at
#: thousands of trials, so that even 6 members and 2,000 trials can outlast a minute's time limit.
ENUMERATE_WORK = 2_000_000_000
#: Share of each plan's time kept for the local search, which runs when HiGHS stops early.
LOCAL_SHARE = 1 / 3
#: Rounds of the large-neighbourhood search (fewer when its time share runs out), and the most
#: plans of the group of members each round re-chooses exactly.
LNS_ROUNDS = 1000
LNS_PLANS = 2048
#: The large-neighbourhood search stops after this many rounds in a row without a better plan,
#: and is then restarted from a perturbed best plan up to LNS_KICKS times (time permitting).
LNS_PATIENCE = 100
LNS_KICKS = 20
#: Solver plans that fail the exact recount, cut off one by one, before the rows are tightened.
REPAIR_CUTS = 10
#: The tightening then: budget rows (scaled to coefficients <= 1) lose this much of their limit,
#: and the CVaR row gains this much per unit of its largest possible row activity; a little more
#: than HiGHS's integrality (1e-6) and feasibility (1e-7) tolerances can hide.
TIGHTEN = 2e-6


class PlanInfeasible(InputError):
    """No plan meets the constraints on these trials; the message says which constraint binds."""


class PlanNotFound(SimengineError):
    """The solver stopped at its time limit before it found any plan that meets the constraints."""


@dataclass(frozen=True, eq=False)
class PlanProblem:
    """The simulated trials of every member under every start option, and the constraints.

    Validated on construction: an InputError names the argument and the problem. A budget
    without `max_exceedance` must hold in every trial (alpha = 0).
    """

    npv: np.ndarray
    spend: np.ndarray
    available: np.ndarray
    required: np.ndarray
    budget_per_year: np.ndarray | None = None
    budget_total: float | None = None
    max_exceedance: float | None = None
    cvar_floor: float | None = None

    def __post_init__(self):
        npv = _float_array("npv", self.npv, 3, "(K, O, N)")
        k, o, n = npv.shape
        spend = _float_array("spend", self.spend, 4, "(K, O, Y, N)")
        if spend.shape[:2] != (k, o) or spend.shape[3] != n:
            raise InputError(f"spend must have shape (K, O, Y, N) = ({k}, {o}, Y, {n}) to match npv, "
                             f"got {spend.shape}")
        available = _bool_array("available", self.available, (k, o))
        required = _bool_array("required", self.required, (k,))
        if not np.all(np.isfinite(npv[available])):
            raise InputError("npv contains NaN or infinite values for available options")
        used = spend[available]
        if not np.all(np.isfinite(used)):
            raise InputError("spend contains NaN or infinite values for available options")
        if np.any(used < 0):
            raise InputError("spend must be >= 0 for available options, found negative values")
        orphans = np.flatnonzero(required & ~available.any(axis=1))
        if orphans.size:
            raise InputError(f"required: member {int(orphans[0])} is required but has no available option")
        budget = None
        if self.budget_per_year is not None:
            budget = np.asarray(self.budget_per_year, dtype=float)
            if budget.shape != (spend.shape[2],):
                raise InputError(f"budget_per_year must have shape (Y,) = ({spend.shape[2]},) to match spend, "
                                 f"got {budget.shape}")
            if np.any(np.isnan(budget)) or np.any(budget < 0):
                raise InputError("budget_per_year must be >= 0 in every year (np.inf for no limit), "
                                 "found NaN or a negative value")
        total = _number("budget_total", self.budget_total, lowest=0.0, allow_inf=True)
        alpha = _number("max_exceedance", self.max_exceedance, lowest=0.0)
        if alpha is not None and alpha > 1:
            raise InputError(f"max_exceedance must be a share between 0 and 1, got {alpha}")
        if alpha is not None and budget is None and total is None:
            raise InputError("max_exceedance is set but there is no budget (budget_per_year or budget_total)")
        floor = _number("cvar_floor", self.cvar_floor)
        for name, value in (("npv", npv), ("spend", spend), ("available", available), ("required", required),
                            ("budget_per_year", budget), ("budget_total", total), ("max_exceedance", alpha),
                            ("cvar_floor", floor)):
            object.__setattr__(self, name, value)

    @property
    def has_budget(self) -> bool:
        """Whether any budget (yearly or total) is set."""
        return self.budget_per_year is not None or self.budget_total is not None

    @property
    def alpha(self) -> float:
        """The share of trials allowed to exceed the budget: max_exceedance, 0 when only a budget is set."""
        return 0.0 if self.max_exceedance is None else self.max_exceedance


@dataclass(frozen=True)
class Plan:
    """One plan and its in-sample figures, recounted exactly from the problem's arrays."""

    choice: tuple[int | None, ...]
    mean_npv: float
    p_exceed: float
    cvar: float
    feasible: bool
    status: str
    mip_gap: float | None


def _float_array(name: str, value, ndim: int, shape: str) -> np.ndarray:
    """`value` as a float array of `ndim` non-empty axes."""
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be a numeric array of shape {shape}: {exc}") from None
    if a.ndim != ndim or 0 in a.shape:
        raise InputError(f"{name} must be a non-empty array of shape {shape}, got shape {a.shape}")
    return a


def _bool_array(name: str, value, shape: tuple[int, ...]) -> np.ndarray:
    """`value` as a bool array of exactly `shape` (0/1 numbers are accepted)."""
    a = np.asarray(value)
    if a.shape != shape:
        raise InputError(f"{name} must have shape {shape}, got {a.shape}")
    if a.dtype != bool:
        if a.dtype.kind not in "iuf" or not np.all((a == 0) | (a == 1)):
            raise InputError(f"{name} must hold booleans (or 0/1)")
        a = a.astype(bool)
    return a


def _number(name: str, value, lowest: float | None = None, allow_inf: bool = False) -> float | None:
    """`value` as a float (None stays None): not NaN, finite unless allowed, >= lowest."""
    if value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}") from None
    if math.isnan(x) or (math.isinf(x) and not (allow_inf and x > 0)):
        raise InputError(f"{name} must be a finite number, got {x}")
    if lowest is not None and x < lowest:
        raise InputError(f"{name} must be >= {lowest:g}, got {x}")
    return x


def tail_count(n: int) -> int:
    """ceil(CVAR_LEVEL * n), at least 1: how many of n trials the CVaR averages (exact, no float rounding)."""
    return max(1, math.ceil(Fraction(repr(CVAR_LEVEL)) * n))


def allowed_exceedances(alpha: float, n: int) -> int:
    """The most trials of n that may exceed the budget: the largest c with c / n <= alpha in floats.

    Defined by the same comparison as Plan.feasible, so the solver and the recount never disagree.
    """
    c = int(math.floor(alpha * n))
    while c + 1 <= n and (c + 1) / n <= alpha:
        c += 1
    while c > 0 and c / n > alpha:
        c -= 1
    return c


def cvar(values: np.ndarray) -> float:
    """CVaR 5 % of a sample: the mean of its tail_count(n) smallest values (lower tail, higher is better)."""
    x = np.asarray(values, dtype=float)
    k = tail_count(x.size)
    return float(np.partition(x, k - 1)[:k].mean())


def _check_choice(problem: PlanProblem, choice) -> tuple[list[int], list[int]]:
    """The funded members and their options; every option must exist for its member."""
    k_count, o_count = problem.available.shape
    choice = tuple(choice)
    if len(choice) != k_count:
        raise InputError(f"choice must name an option (or None) for each of the {k_count} members, got {len(choice)}")
    ks, os = [], []
    for k, o in enumerate(choice):
        if o is None:
            continue
        if int(o) != o or not 0 <= o < o_count or not problem.available[k, int(o)]:
            raise InputError(f"choice: option {o!r} of member {k} is not an available option")
        ks.append(k)
        os.append(int(o))
    return ks, os


def portfolio(problem: PlanProblem, choice) -> tuple[np.ndarray, np.ndarray]:
    """Portfolio NPV per trial (N,) and spend per year and trial (Y, N) of a plan."""
    ks, os = _check_choice(problem, choice)
    _, _, y, n = problem.spend.shape
    if not ks:
        return np.zeros(n), np.zeros((y, n))
    return problem.npv[ks, os].sum(axis=0), problem.spend[ks, os].sum(axis=0)


def exceeds(problem: PlanProblem, spend: np.ndarray) -> np.ndarray:
    """Per trial: spend above the budget (strictly) in some year, or in total over the years."""
    over = np.zeros(spend.shape[1], dtype=bool)
    if problem.budget_per_year is not None:
        over |= (spend > problem.budget_per_year[:, None]).any(axis=0)
    if problem.budget_total is not None:
        over |= spend.sum(axis=0) > problem.budget_total
    return over


def evaluate(problem: PlanProblem, choice) -> tuple[float, float, float]:
    """(mean NPV, share of trials exceeding the budget, CVaR 5 %) of a plan, exactly, in sample.

    Does not check `required`; see meets_constraints. p_exceed is 0 without a budget.
    """
    npv, spend = portfolio(problem, choice)
    return float(npv.mean()), float(exceeds(problem, spend).mean()), cvar(npv)


def meets_constraints(problem: PlanProblem, choice, figures: tuple[float, float, float] | None = None) -> bool:
    """Whether a plan funds every required member and its exact figures meet the budget and CVaR limits."""
    _check_choice(problem, choice)
    if any(o is None for o, r in zip(choice, problem.required) if r):
        return False
    _, p_exceed, tail = figures if figures is not None else evaluate(problem, choice)
    if problem.has_budget and p_exceed > problem.alpha:
        return False
    return problem.cvar_floor is None or tail >= problem.cvar_floor


@dataclass(frozen=True, eq=False)
class _Model:
    """The mixed-integer program: x (one per available member and option), z, eta, u; rows scaled."""

    pairs: np.ndarray            # (P, 2): member and option of each x variable
    c: np.ndarray                # objective (minimized): -mean NPV / scale
    integrality: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    a: object                    # scipy.sparse csr matrix of the rows
    row_lb: np.ndarray
    row_ub: np.ndarray
    budget_rows: np.ndarray      # rows whose upper limit the fallback tightens
    cvar_row: int | None         # the CVaR row, whose lower limit the fallback raises
    cvar_tighten: float


def _member_rows(pairs: np.ndarray, required: np.ndarray, lb: np.ndarray) -> tuple[list, list, list, list]:
    """At most one option a member (exactly one when required); a required single option is a bound instead."""
    rows, cols, lo, hi = [], [], [], []
    for k in range(required.size):
        idx = np.flatnonzero(pairs[:, 0] == k)
        if idx.size == 1 and required[k]:
            lb[idx[0]] = 1.0
        elif idx.size >= 2:
            rows += [len(lo)] * idx.size
            cols += idx.tolist()
            lo.append(1.0 if required[k] else 0.0)
            hi.append(1.0)
    return rows, cols, lo, hi


def _budget_kinds(problem: PlanProblem, spend_p: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Spend of each x variable per limited budget row kind and trial (P, R, N), the limits (R,), their names."""
    parts, limits, names = [], [], []
    if problem.budget_per_year is not None:
        years = np.flatnonzero(np.isfinite(problem.budget_per_year))
        parts.append(spend_p[:, years, :])
        limits += problem.budget_per_year[years].tolist()
        names += [f"year {int(y)}" for y in years]
    if problem.budget_total is not None and math.isfinite(problem.budget_total):
        parts.append(spend_p.sum(axis=1)[:, None, :])
        limits.append(problem.budget_total)
        names.append("the total")
    if not parts:
        return np.zeros((spend_p.shape[0], 0, spend_p.shape[2])), np.zeros(0), names
    return np.concatenate(parts, axis=1), np.asarray(limits, dtype=float), names


def _spend_bounds(pairs: np.ndarray, required: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    """Largest and least spend any plan can have per row kind and trial, and each required member's least part.

    Spend is >= 0, so the largest takes every member at its largest option; the least takes the
    required members only, each at its least option (a lower bound: the option may differ by row).
    """
    smax = np.zeros(s.shape[1:])
    smin = np.zeros(s.shape[1:])
    least = {}
    for k in range(required.size):
        block = s[pairs[:, 0] == k]
        if block.shape[0] == 0:
            continue
        smax += block.max(axis=0)
        if required[k]:
            least[k] = block.min(axis=0)
            smin += least[k]
    return smax, smin, least


def _chance_rows(problem: PlanProblem, pairs: np.ndarray, spend_p: np.ndarray, ub: np.ndarray):
    """Budget rows for the chance constraint, scaled so that every coefficient is <= 1.

    Returns (rows as a (R', P) dense x-part, z column per row or -1, -M/scale per row, scaled
    limits, number of z variables, their cardinality limit). Trials every plan surely exceeds
    count against alpha and lose their rows; x variables whose every plan surely exceeds in too
    many trials get ub = 0 (in place); rows no plan can violate are dropped.
    """
    n = spend_p.shape[2]
    s, limits, names = _budget_kinds(problem, spend_p)
    allowed = allowed_exceedances(problem.alpha, n)
    empty = (np.zeros((0, pairs.shape[0])), np.zeros(0, int), np.zeros(0), np.zeros(0), 0, 0)
    if limits.size == 0:
        return empty
    smax, smin, least = _spend_bounds(pairs, problem.required, s)
    slack = limits[:, None] + ROW_MARGIN * smax
    surely = smin > slack
    forced = surely.any(axis=0)
    if forced.sum() > allowed:
        worst = names[int(np.argmax(surely.sum(axis=1)))]
        raise PlanInfeasible(
            f"no plan meets the budget: the required members alone, each at its least-spending option, exceed it "
            f"in {int(forced.sum())} of {n} trials (mostly {worst}), more than max_exceedance = {problem.alpha:g} "
            f"allows ({allowed})")
    for p, (k, _) in enumerate(pairs):
        others = smin - least[k] if k in least else smin
        if ((others + s[p]) > slack).any(axis=0).sum() > allowed:
            ub[p] = 0.0
    for k in np.flatnonzero(problem.required):
        if not ub[pairs[:, 0] == k].any():
            raise PlanInfeasible(
                f"no plan meets the budget: required member {int(k)} exceeds it under every option in more than "
                f"{allowed} of {n} trials (max_exceedance = {problem.alpha:g}), with the other required members "
                f"at their least spend")
    keep = (smax > limits[:, None] - ROW_MARGIN * smax) & ~forced[None, :]
    trials = np.flatnonzero(keep.any(axis=0))
    room = allowed - int(forced.sum())
    if room >= trials.size:
        return empty
    r, i = np.nonzero(keep)
    scale = smax[r, i]
    rows = s[:, r, i].T / scale[:, None]
    rhs = limits[r] / scale
    if room == 0:
        return rows, np.full(r.size, -1), np.zeros(r.size), rhs, 0, 0
    z_of_trial = np.full(n, -1)
    z_of_trial[trials] = np.arange(trials.size)
    big_m = np.maximum(smax[r, i] - limits[r], ROW_MARGIN * scale) / scale
    return rows, z_of_trial[i], -big_m, rhs, trials.size, room


def _npv_range(pairs: np.ndarray, required: np.ndarray, scaled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least and largest portfolio NPV any plan can have in each trial (required members must be in)."""
    worst = np.zeros(scaled.shape[1])
    best = np.zeros(scaled.shape[1])
    for k in range(required.size):
        block = scaled[pairs[:, 0] == k]
        if block.shape[0] == 0:
            continue
        low, high = block.min(axis=0), block.max(axis=0)
        worst += low if required[k] else np.minimum(low, 0.0)
        best += high if required[k] else np.maximum(high, 0.0)
    return worst, best


def _cvar_rows(problem: PlanProblem, pairs: np.ndarray, npv_p: np.ndarray, z_count: int):
    """Rockafellar-Uryasev rows over [x, z, eta, u]: eta - NPV_i(x) - u_i <= 0, eta - sum(u) / k >= floor.

    With k = tail_count(N), max over eta of eta - sum (eta - X_i)^+ / k is exactly the mean of the
    k smallest X_i. Money is divided by the largest |npv| so that every coefficient is <= 1.
    Returns (trial rows, floor row, floor, bounds of eta and u as (lb, ub), tightening of the floor).
    """
    from scipy import sparse

    n, p_count = npv_p.shape[1], pairs.shape[0]
    money = float(np.abs(npv_p).max()) if p_count else 0.0
    money = money if money > 0 else 1.0
    scaled = npv_p / money
    k = tail_count(n)
    worst, best = _npv_range(pairs, problem.required, scaled)
    trial = sparse.hstack([sparse.csr_matrix(-scaled.T), sparse.csr_matrix((n, z_count)),
                           sparse.csr_matrix(np.ones((n, 1))), -sparse.identity(n, format="csr")], format="csr")
    floor_row = np.zeros((1, p_count + z_count + 1 + n))
    floor_row[0, p_count + z_count] = 1.0
    floor_row[0, p_count + z_count + 1:] = -1.0 / k
    eta_hi = float(best.max())
    lb = np.concatenate([[float(worst.min())], np.zeros(n)])
    ub = np.concatenate([[eta_hi], np.maximum(eta_hi - worst, 0.0)])
    tighten = TIGHTEN * max(1.0, float(np.abs(scaled).sum(axis=0).max()))
    return trial, sparse.csr_matrix(floor_row), problem.cvar_floor / money, (lb, ub), tighten


def _build(problem: PlanProblem) -> _Model:
    """The scaled mixed-integer program of a problem (without no-good cuts)."""
    from scipy import sparse

    pairs = np.argwhere(problem.available)
    p_count = pairs.shape[0]
    npv_p = problem.npv[pairs[:, 0], pairs[:, 1]]
    x_lb, x_ub = np.zeros(p_count), np.ones(p_count)
    m_rows, m_cols, m_lo, m_hi = _member_rows(pairs, problem.required, x_lb)
    b_rows, b_z, b_m, b_rhs, z_count, room = _chance_rows(
        problem, pairs, problem.spend[pairs[:, 0], pairs[:, 1]], x_ub)
    has_cvar = problem.cvar_floor is not None
    v_count = p_count + z_count + (1 + npv_p.shape[1] if has_cvar else 0)

    blocks = [sparse.csr_matrix((np.ones(len(m_rows)), (m_rows, m_cols)), shape=(len(m_lo), v_count))]
    lo, hi = [np.asarray(m_lo, dtype=float)], [np.asarray(m_hi, dtype=float)]
    budget_rows = np.arange(len(m_lo), len(m_lo) + b_rows.shape[0])
    if b_rows.shape[0]:
        with_z = np.flatnonzero(b_z >= 0)
        z_part = sparse.csr_matrix((b_m[with_z], (with_z, b_z[with_z])), shape=(b_rows.shape[0], v_count - p_count))
        blocks.append(sparse.hstack([sparse.csr_matrix(b_rows), z_part], format="csr"))
        lo.append(np.full(b_rows.shape[0], -np.inf))
        hi.append(b_rhs)
    if z_count:
        blocks.append(sparse.csr_matrix((np.ones(z_count), (np.zeros(z_count, int), p_count + np.arange(z_count))),
                                        shape=(1, v_count)))
        lo.append(np.array([-np.inf]))
        hi.append(np.array([float(room)]))
    v_lb = np.concatenate([x_lb, np.zeros(v_count - p_count)])
    v_ub = np.concatenate([x_ub, np.ones(v_count - p_count)])
    cvar_row, cvar_tighten = None, 0.0
    if has_cvar:
        trial, floor_row, floor, (eu_lb, eu_ub), cvar_tighten = _cvar_rows(problem, pairs, npv_p, z_count)
        blocks.append(trial)
        lo.append(np.full(trial.shape[0], -np.inf))
        hi.append(np.zeros(trial.shape[0]))
        cvar_row = sum(b.shape[0] for b in blocks)
        blocks.append(floor_row)
        lo.append(np.array([floor]))
        hi.append(np.array([np.inf]))
        v_lb[p_count + z_count:], v_ub[p_count + z_count:] = eu_lb, eu_ub
    mean = npv_p.mean(axis=1)
    top = float(np.abs(mean).max()) if p_count else 0.0
    c = np.zeros(v_count)
    c[:p_count] = -mean / (top if top > 0 else 1.0)
    integrality = np.zeros(v_count)
    integrality[:p_count + z_count] = 1
    return _Model(pairs, c, integrality, v_lb, v_ub, sparse.vstack(blocks, format="csr"), np.concatenate(lo),
                  np.concatenate(hi), budget_rows, cvar_row, cvar_tighten)


class _Neighbours:
    """Local search over plans, for when HiGHS stops at its time limit on a large problem.

    A descent by single moves (add, drop, change the option of, or swap members), then a
    large-neighbourhood search that re-chooses random groups of members exactly. Every move is
    checked against the budget and CVaR limits on all trials (vectorized), and every plan kept
    by the exact recount.
    """

    def __init__(self, problem: PlanProblem, pairs: np.ndarray):
        self.problem = problem
        self.pairs = pairs
        k, _, y, n = problem.spend.shape
        # One zero row at the end stands for "no pair" (index -1).
        self.npv = np.concatenate([problem.npv[pairs[:, 0], pairs[:, 1]], np.zeros((1, n))])
        self.spend = np.concatenate([problem.spend[pairs[:, 0], pairs[:, 1]], np.zeros((1, y, n))])
        self.mean = self.npv.mean(axis=1)
        self.options = [np.flatnonzero(pairs[:, 0] == m) for m in range(k)]
        self.allowed = allowed_exceedances(problem.alpha, n)
        self.tail = tail_count(n)
        self.money = max(float(np.abs(self.npv).max()), 1e-300)

    def choice(self, current: np.ndarray) -> tuple[int | None, ...]:
        """The plan of an array of chosen pair indices (-1: not funded)."""
        return tuple(None if p < 0 else int(self.pairs[p, 1]) for p in current)

    def violation(self, npv: np.ndarray, spend: np.ndarray) -> np.ndarray:
        """Per candidate (axis 0 of npv (m, N) and spend (m, Y, N)): how far it is from the limits, 0 if within.

        The share of trials over the allowed exceedances plus the CVaR shortfall in units of the
        largest |npv|.
        """
        pr = self.problem
        gap = np.zeros(npv.shape[0])
        if pr.has_budget:
            over = np.zeros(npv.shape, dtype=bool)
            if pr.budget_per_year is not None:
                over |= (spend > pr.budget_per_year[None, :, None]).any(axis=1)
            if pr.budget_total is not None:
                over |= spend.sum(axis=1) > pr.budget_total
            gap += np.maximum(over.sum(axis=1) - self.allowed, 0) / npv.shape[1]
        if pr.cvar_floor is not None:
            tail = np.partition(npv, self.tail - 1, axis=1)[:, :self.tail].mean(axis=1)
            gap += np.maximum(pr.cvar_floor - tail, 0.0) / self.money
        return gap

    def feasible(self, npv: np.ndarray, spend: np.ndarray) -> np.ndarray:
        """Per candidate: the budget and CVaR limits hold."""
        return self.violation(npv, spend) <= 0

    def moves(self, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every move from a plan as (pair dropped, pair added), -1 for none, best mean NPV gain first."""
        required = self.problem.required
        drop, add = [], []
        unfunded = np.concatenate([self.options[m] for m in np.flatnonzero(current < 0)] or [np.zeros(0, int)])
        for m, opts in enumerate(self.options):
            f = current[m]
            if f < 0:
                drop += [-1] * opts.size
                add += opts.tolist()
                continue
            others = opts[opts != f]
            drop += [f] * others.size
            add += others.tolist()
            if not required[m]:
                drop += [f] * (unfunded.size + 1)
                add += unfunded.tolist() + [-1]
        drop, add = np.asarray(drop, dtype=int), np.asarray(add, dtype=int)
        gain = self.mean[add] - self.mean[drop]
        order = np.argsort(-gain, kind="stable")
        return drop[order], add[order]

    def search(self, current: np.ndarray, excluded: set, deadline: float, escape: bool = False):
        """Best-improvement local search from a feasible plan; the best plan visited that is not excluded.

        With `escape`, the first move may lose mean NPV (to leave an excluded plan). Returns the
        pair-index array or None.
        """
        current = current.copy()
        npv, spend = self.npv[current].sum(axis=0), self.spend[current].sum(axis=0)
        best = None if self.choice(current) in excluded else current.copy()
        chunk = max(8, min(256, 2_000_000 // spend.size))
        while time.monotonic() < deadline:
            drop, add = self.moves(current)
            if not escape:
                keep = self.mean[add] - self.mean[drop] > 1e-12 * max(1.0, float(np.abs(self.mean).max()))
                drop, add = drop[keep], add[keep]
            escape = False
            found = None
            for lo in range(0, drop.size, chunk):
                d, a = drop[lo:lo + chunk], add[lo:lo + chunk]
                ok = self.feasible(npv + self.npv[a] - self.npv[d], spend + self.spend[a] - self.spend[d])
                for j in np.flatnonzero(ok):
                    trial = current.copy()
                    if d[j] >= 0:
                        trial[self.pairs[d[j], 0]] = -1
                    if a[j] >= 0:
                        trial[self.pairs[a[j], 0]] = a[j]
                    if self.choice(trial) not in excluded:
                        found = (trial, d[j], a[j])
                        break
                if found is not None or time.monotonic() >= deadline:
                    break
            if found is None:
                break
            current, d, a = found
            npv = npv + self.npv[a] - self.npv[d]
            spend = spend + self.spend[a] - self.spend[d]
            if best is None or self.mean[current].sum() > self.mean[best].sum():
                best = current.copy()
        return best

    def start(self) -> np.ndarray | None:
        """A feasible plan to search from: the required members at their best-mean options, repaired.

        While that plan breaks a limit, the one-member change (add, drop, other option) that
        brings it closest to the limits is made; None when no change helps.
        """
        current = np.full(len(self.options), -1)
        for m in np.flatnonzero(self.problem.required):
            opts = self.options[m]
            current[m] = opts[np.argmax(self.mean[opts])]
        npv, spend = self.npv[current].sum(axis=0), self.spend[current].sum(axis=0)
        gap = self.violation(npv[None], spend[None])[0]
        chunk = max(8, min(256, 2_000_000 // spend.size))
        while gap > 0:
            drop, add = self.moves(current)
            one = (drop < 0) | (add < 0) | (self.pairs[drop, 0] == self.pairs[add, 0])
            drop, add = drop[one], add[one]
            gaps = np.concatenate([self.violation(npv + self.npv[add[i:i + chunk]] - self.npv[drop[i:i + chunk]],
                                                  spend + self.spend[add[i:i + chunk]] - self.spend[drop[i:i + chunk]])
                                   for i in range(0, drop.size, chunk)] or [np.zeros(0)])
            if gaps.size == 0 or gaps.min() >= gap:
                return None
            j = int(np.argmin(gaps))            # moves come best mean first: ties go to the better mean
            if drop[j] >= 0:
                current[self.pairs[drop[j], 0]] = -1
            if add[j] >= 0:
                current[self.pairs[add[j], 0]] = add[j]
            npv, spend = npv + self.npv[add[j]] - self.npv[drop[j]], spend + self.spend[add[j]] - self.spend[drop[j]]
            gap = gaps[j]
        return current

    def rebuild(self, best: np.ndarray, excluded: set, deadline: float, seed: int) -> np.ndarray:
        """Large-neighbourhood search: re-choose a random group of members exactly, the others fixed.

        Each round lists every plan of up to LNS_PLANS for the group (the fixed members folded
        into one required pseudo-member) and moves to the best one that is better, not excluded,
        and feasible by the exact recount; LNS_ROUNDS rounds, LNS_PATIENCE rounds in a row without
        a better plan, or until the deadline.
        """
        rng = np.random.default_rng(seed)
        counts = np.array([opts.size for opts in self.options]) + ~self.problem.required
        movable = np.flatnonzero(counts >= 2)
        stale = 0
        for _ in range(LNS_ROUNDS):
            if movable.size == 0 or time.monotonic() >= deadline:
                break
            group, size = [], 1
            for m in rng.permutation(movable):
                if size * counts[m] <= LNS_PLANS:
                    group.append(int(m))
                    size *= int(counts[m])
            choice = self.choice(best)
            for plan in _enumerate(_subproblem(self.problem, choice, group), 1 + len(excluded)):
                full = list(choice)
                for m, o in zip(group, plan.choice):
                    full[m] = o
                full = tuple(full)
                if full in excluded or not meets_constraints(self.problem, full):
                    continue
                if evaluate(self.problem, full)[0] > evaluate(self.problem, choice)[0]:
                    best = self.pairs_of(full)
                break
            if len(group) == movable.size:      # the whole problem in one round: done
                break
            stale = 0 if best is not None and self.choice(best) != choice else stale + 1
            if stale >= LNS_PATIENCE:
                break
        return best

    def improve(self, best: np.ndarray, excluded: set, deadline: float, seed: int) -> np.ndarray:
        """rebuild, then up to LNS_KICKS times: drop 2 to 4 random members of the best plan, descend
        and rebuild again (to leave a local optimum); the best plan seen, until the deadline."""
        rng = np.random.default_rng(seed)
        counts = np.array([opts.size for opts in self.options]) + ~self.problem.required
        whole = np.prod(counts[counts >= 2].astype(float)) <= LNS_PLANS    # one round is exhaustive
        current = best
        for kick in range(LNS_KICKS + 1):
            current = self.rebuild(current, excluded, deadline, seed + kick)
            if self.mean[current].sum() > self.mean[best].sum():
                best = current
            if whole or time.monotonic() >= deadline:
                break
            funded = np.flatnonzero((best >= 0) & ~self.problem.required)
            if funded.size == 0:
                break
            current = best.copy()
            current[rng.choice(funded, size=min(funded.size, int(rng.integers(2, 5))), replace=False)] = -1
            if not self.feasible(self.npv[current].sum(axis=0)[None], self.spend[current].sum(axis=0)[None])[0]:
                current = best
                continue
            current = self.search(current, excluded, deadline)
            current = best if current is None else current
        return best

    def pairs_of(self, choice: tuple[int | None, ...]) -> np.ndarray:
        """The pair-index array of a plan."""
        index = {(int(k), int(o)): p for p, (k, o) in enumerate(self.pairs)}
        return np.array([-1 if o is None else index[(k, o)] for k, o in enumerate(choice)], dtype=int)


def _status(res) -> str:
    """'optimal', or why HiGHS stopped early with its gap ('time limit (gap 0.3 %)')."""
    if res.status == 0:
        return "optimal"
    why = "time limit" if "time limit" in str(res.message).lower() else "stopped early"
    gap = res.mip_gap
    return f"{why} (gap {100 * gap:.3g} %)" if gap is not None and math.isfinite(gap) else why


class _Search:
    """Successive solves of one model: each plan found is cut off before the next solve."""

    def __init__(self, problem: PlanProblem, time_limit: float):
        self.problem = problem
        self.deadline = time.monotonic() + time_limit
        self.model = _build(problem)
        self.local = _Neighbours(problem, self.model.pairs)
        self.cuts: list[np.ndarray] = []      # 0/1 x vectors excluded by no-good cuts
        self.found: list[tuple[int | None, ...]] = []
        self.tightened = False
        self.bound: float | None = None       # best valid dual bound of the (scaled, minimized) objective

    def _x(self, choice: tuple[int | None, ...]) -> np.ndarray:
        """The 0/1 x vector of a plan."""
        chosen = {(k, o) for k, o in enumerate(choice) if o is not None}
        return np.array([(int(k), int(o)) in chosen for k, o in self.model.pairs], dtype=float)

    def _objective(self, choice: tuple[int | None, ...]) -> float:
        """The model's (scaled, minimized) objective at a plan."""
        return float(self.model.c[:self.model.pairs.shape[0]] @ self._x(choice))

    def _solve(self, time_limit: float):
        """One HiGHS solve of the model with the cuts so far (and the tightening, once switched on)."""
        from scipy import sparse
        from scipy.optimize import Bounds, LinearConstraint, milp

        m = self.model
        a, row_lb, row_ub = m.a, m.row_lb, m.row_ub
        if self.tightened:
            row_ub = row_ub.copy()
            row_ub[m.budget_rows] -= TIGHTEN
            if m.cvar_row is not None:
                row_lb = row_lb.copy()
                row_lb[m.cvar_row] += m.cvar_tighten
        if self.cuts:
            x = np.array(self.cuts)
            # Sum of chosen x - sum of unchosen x <= |chosen| - 1.
            cut = np.hstack([2 * x - 1, np.zeros((x.shape[0], m.c.size - x.shape[1]))])
            a = sparse.vstack([a, sparse.csr_matrix(cut)], format="csr")
            row_lb = np.concatenate([row_lb, np.full(x.shape[0], -np.inf)])
            row_ub = np.concatenate([row_ub, x.sum(axis=1) - 1])
        constraints = LinearConstraint(a, row_lb, row_ub) if a.shape[0] else None
        options = {"time_limit": time_limit, "mip_rel_gap": MIP_REL_GAP, "presolve": True, "disp": False,
                   "mip_abs_gap": 0.0}
        with warnings.catch_warnings():
            # mip_abs_gap is passed to HiGHS verbatim; scipy warns that it does not know it.
            warnings.simplefilter("ignore", RuntimeWarning)
            return milp(m.c, integrality=m.integrality, bounds=Bounds(m.lb, m.ub), constraints=constraints,
                        options=options)

    def _incumbent(self, deadline: float, also=None) -> tuple[int | None, ...] | None:
        """The best plan the local search finds (not one found before), exactly feasible, or None.

        Starts from the required members alone, from HiGHS's plan `also`, and (escaping them)
        from the plans found before; the best local optimum is then rebuilt group by group.
        """
        excluded = set(self.found)
        starts = [(s, False) for s in [self.local.start()] if s is not None]
        starts += [(self.local.pairs_of(c), c in excluded) for c in ([also] if also is not None else [])]
        starts += [(self.local.pairs_of(c), True) for c in self.found]
        best = None
        for current, escape in starts:
            result = self.local.search(current, excluded, deadline, escape)
            if result is not None and (best is None or self.local.mean[result].sum() > self.local.mean[best].sum()):
                best = result
        if best is None:
            return None
        choice = self.local.choice(self.local.improve(best, excluded, deadline, seed=1000 * len(self.found)))
        return choice if meets_constraints(self.problem, choice) else None

    def next_plan(self, wanted: int) -> tuple[Plan | None, str]:
        """The best plan not found before that meets the exact recount, or None and why not.

        `wanted` plans are still to come and share the time left. HiGHS has the first
        1 - LOCAL_SHARE of the plan's time; when it stops early, the local search has the rest,
        and its plan is returned instead of HiGHS's when it is better. A solver plan that fails
        the recount (a tolerance artefact at a near tie) is cut off and the problem re-solved;
        after REPAIR_CUTS such plans the rows are tightened by TIGHTEN, and after as many more the
        last plan is returned with feasible=False.
        """
        if not self.model.pairs.shape[0]:
            return self._empty_plan()
        # The best plan gets half the time left, each runner-up an equal share of what is left then.
        share = 0.5 if wanted > 1 and not self.found else 1.0 / wanted
        slot_end = time.monotonic() + share * max(0.0, self.deadline - time.monotonic())
        highs_end = slot_end - LOCAL_SHARE * (slot_end - time.monotonic())
        failed = 0
        while True:
            res = self._solve(max(1.0, highs_end - time.monotonic()))
            bound = res.mip_dual_bound
            if not self.tightened and bound is not None and math.isfinite(bound):
                # Every earlier bound stays valid: the cuts only remove plans.
                self.bound = bound if self.bound is None else max(self.bound, bound)
            if res.x is None:
                if res.status == 2:
                    return None, "infeasible"
                incumbent = self._incumbent(max(slot_end, time.monotonic() + 1.0))
                if incumbent is None:
                    return None, _status(res)
                return self._finish(incumbent, res, True, True)
            choice = self._choice(res)
            ok = meets_constraints(self.problem, choice)
            if ok or failed >= 2 * REPAIR_CUTS:
                break
            failed += 1
            self.cuts.append(self._x(choice))
            if failed >= REPAIR_CUTS:
                self.tightened = True
        if res.status == 0 and ok:
            return self._finish(choice, res, False, True)
        # HiGHS stopped early (or its plan fails the recount): the local search competes.
        incumbent = self._incumbent(max(slot_end, time.monotonic() + 1.0), choice if ok else None)
        if incumbent is not None and (not ok or evaluate(self.problem, incumbent)[0]
                                      > evaluate(self.problem, choice)[0]):
            return self._finish(incumbent, res, True, True)
        return self._finish(choice, res, False, ok)

    def _finish(self, choice, res, local: bool, ok: bool) -> tuple[Plan, str]:
        """The Plan of a choice with the status and gap of the solve it came with."""
        if res.status == 0:
            status, gap = "optimal", (None if res.mip_gap is None else float(res.mip_gap))
        else:
            why = "time limit" if "time limit" in str(res.message).lower() else "stopped early"
            gap = None
            if self.bound is not None:
                primal = self._objective(choice)
                gap = max(0.0, (primal - self.bound) / max(abs(primal), 1e-12))
            status = f"{why} (gap {'unknown' if gap is None else f'{100 * gap:.3g} %'})"
        if local:
            status = f"{status[:-1]}; plan from the local search)" if status.endswith(")") else \
                f"{status} (plan from the local search)"
        if self.tightened:
            status += f", limits tightened by {TIGHTEN:g} after near-tie plans failed the exact recount"
        if not ok:
            status += "; the exact recount violates a constraint (solver tolerance)"
        return self._plan(choice, status, gap, ok), status

    def _plan(self, choice, status: str, gap: float | None, ok: bool) -> Plan:
        """A Plan with the exact figures; the plan is cut off from later solves."""
        figures = evaluate(self.problem, choice)
        self.cuts.append(self._x(choice))
        self.found.append(choice)
        return Plan(choice, *figures, ok, status, gap)

    def _empty_plan(self) -> tuple[Plan | None, str]:
        """No member has an option: the only plan funds nothing (once)."""
        choice = (None,) * self.problem.required.size
        figures = evaluate(self.problem, choice)
        if self.found or not meets_constraints(self.problem, choice, figures):
            return None, "infeasible"
        self.found.append(choice)
        return Plan(choice, *figures, True, "optimal", None), "optimal"

    def _choice(self, res) -> tuple[int | None, ...]:
        """The plan of a solver result: the option whose x rounds to 1, per member."""
        choice: list[int | None] = [None] * self.problem.required.size
        for (k, o), v in zip(self.model.pairs, res.x[:self.model.pairs.shape[0]]):
            if v > 0.5:
                choice[int(k)] = int(o)
        return tuple(choice)


def plan_count(problem: PlanProblem) -> int:
    """How many plans there are: per member, its available options, plus "not funded" unless required."""
    counts = problem.available.sum(axis=1) + ~problem.required
    return int(np.prod(counts.astype(object)))


def _half(problem: PlanProblem, members: list[int]) -> tuple[list[tuple], np.ndarray, np.ndarray]:
    """Every partial plan of some members: their choices, portfolio NPVs (m, N) and spends (m, Y, N)."""
    _, _, y, n = problem.spend.shape
    choices, npv, spend = [()], np.zeros((1, n)), np.zeros((1, y, n))
    for k in members:
        options = ([] if problem.required[k] else [None]) + np.flatnonzero(problem.available[k]).tolist()
        choices = [c + (o,) for o in options for c in choices]
        npv = np.concatenate([npv if o is None else npv + problem.npv[k, o] for o in options])
        spend = np.concatenate([spend if o is None else spend + problem.spend[k, o] for o in options])
    return choices, npv, spend


def _subproblem(problem: PlanProblem, choice: tuple, group: list[int]) -> PlanProblem:
    """The problem of re-choosing `group` with every other member fixed as in `choice`.

    The fixed members become one required member with one option: their summed NPV and spend.
    """
    _, o, y, n = problem.spend.shape
    fixed = [(m, c) for m, c in enumerate(choice) if c is not None and m not in group]
    npv = np.zeros((len(group) + 1, o, n))
    spend = np.zeros((len(group) + 1, o, y, n))
    available = np.zeros((len(group) + 1, o), dtype=bool)
    npv[:-1], spend[:-1] = problem.npv[group], problem.spend[group]
    available[:-1], available[-1, 0] = problem.available[group], True
    for m, c in fixed:
        npv[-1, 0] += problem.npv[m, c]
        spend[-1, 0] += problem.spend[m, c]
    npv[:-1][~available[:-1]] = 0.0        # unavailable slots may hold NaN
    spend[:-1][~available[:-1]] = 0.0
    return PlanProblem(npv, spend, available, np.append(problem.required[group], True),
                       problem.budget_per_year, problem.budget_total, problem.max_exceedance, problem.cvar_floor)


def _enumerate(problem: PlanProblem, wanted: int) -> list[Plan]:
    """The `wanted` best plans by listing every plan (meet in the middle: two halves of the members).

    A plan passes a first screen when it meets the limits loosened by ROW_MARGIN (so that a
    different order of summation cannot drop it); the survivors, best mean first, are then
    judged by the exact recount.
    """
    k = problem.required.size
    counts = problem.available.sum(axis=1) + ~problem.required
    order = np.argsort(-counts, kind="stable")
    first, second, size = [], [], [1, 1]
    for m in order:                                        # balance the two halves' sizes
        side = 0 if size[0] <= size[1] else 1
        (first if side == 0 else second).append(int(m))
        size[side] *= int(counts[m])
    a_choices, a_npv, a_spend = _half(problem, first)
    b_choices, b_npv, b_spend = _half(problem, second)
    n = a_npv.shape[1]
    allowed, tail = allowed_exceedances(problem.alpha, n), tail_count(n)
    # Limits loosened by ROW_MARGIN for the screen (spend and budgets are >= 0).
    yearly = None if problem.budget_per_year is None else problem.budget_per_year * (1 + 2 * ROW_MARGIN)
    total_limit = None if problem.budget_total is None else problem.budget_total * (1 + 2 * ROW_MARGIN)
    candidates = []
    for i in range(len(a_choices)):
        npv = a_npv[i] + b_npv
        ok = np.ones(npv.shape[0], dtype=bool)
        if problem.has_budget:
            over = np.zeros(npv.shape, dtype=bool)
            total = np.zeros(npv.shape)
            for y in range(a_spend.shape[1]):
                spend = a_spend[i, y] + b_spend[:, y]
                if yearly is not None:
                    over |= spend > yearly[y]
                total += spend
            if total_limit is not None:
                over |= total > total_limit
            ok &= over.sum(axis=1) <= allowed
        if problem.cvar_floor is not None:
            worst = np.partition(npv, tail - 1, axis=1)[:, :tail].mean(axis=1)
            ok &= worst >= problem.cvar_floor - ROW_MARGIN * (abs(problem.cvar_floor) + np.abs(npv).max(axis=1))
        for j in np.flatnonzero(ok):
            candidates.append((-float(npv[j].mean()), i, int(j)))
    candidates.sort()
    plans = []
    for _, i, j in candidates:
        choice = [None] * k
        for m, o in zip(first + second, a_choices[i] + b_choices[j]):
            choice[m] = o
        choice = tuple(choice)
        figures = evaluate(problem, choice)
        if meets_constraints(problem, choice, figures):
            plans.append(Plan(choice, *figures, True, "optimal (every plan enumerated)", None))
            if len(plans) == wanted:
                break
    return plans


def _infeasible_message(problem: PlanProblem) -> str:
    """One line naming the constraints that no plan meets together."""
    parts = []
    if problem.has_budget:
        which = " and ".join(w for w, v in (("budget_per_year", problem.budget_per_year),
                                            ("budget_total", problem.budget_total)) if v is not None)
        n = problem.npv.shape[2]
        parts.append(f"{which} exceeded in at most {allowed_exceedances(problem.alpha, n)} of {n} trials "
                     f"(max_exceedance = {problem.alpha:g})")
    if problem.cvar_floor is not None:
        parts.append(f"CVaR {100 * CVAR_LEVEL:g} % of portfolio NPV >= cvar_floor = {problem.cvar_floor:g}")
    if problem.required.any():
        parts.append(f"members {', '.join(map(str, np.flatnonzero(problem.required)))} funded (required)")
    return "no plan meets the constraints together: " + "; ".join(parts)


def solve_plans(problem: PlanProblem, runner_ups: int = 3, time_limit: float = 60.0, *,
                method: str = "auto") -> list[Plan]:
    """The best plan, then up to `runner_ups` next-best distinct plans (each re-solved with no-good cuts
    excluding the earlier ones), in decreasing in-sample mean NPV.

    `method`: "mip" (HiGHS, with the local search's plan as a competitor), "enumerate" (every
    plan, exact), or "auto": enumerate when plans x (Y + 1) x N <= ENUMERATE_WORK, else "mip".
    `time_limit` (seconds) is shared by the HiGHS solves and the local search of "mip" (the best
    plan gets half; each solve at least a second, so a tiny limit can be overrun). Raises
    PlanInfeasible when no plan meets the constraints, PlanNotFound when HiGHS stops at the time
    limit and the local search finds no feasible plan either.
    """
    if isinstance(runner_ups, bool) or int(runner_ups) != runner_ups or runner_ups < 0:
        raise InputError(f"runner_ups must be a whole number >= 0, got {runner_ups!r}")
    limit = _number("time_limit", time_limit)
    if limit is None or limit <= 0:
        raise InputError(f"time_limit must be a positive number of seconds, got {time_limit!r}")
    if method not in ("auto", "mip", "enumerate"):
        raise InputError(f"method must be 'auto', 'mip' or 'enumerate', got {method!r}")
    _, _, y, n = problem.spend.shape
    if method == "enumerate" or (method == "auto" and plan_count(problem) * (y + 1) * n <= ENUMERATE_WORK):
        plans = _enumerate(problem, 1 + int(runner_ups))
        if not plans:
            pairs = np.argwhere(problem.available)
            # The MIP's budget screen names the cause when it is the budget alone.
            _chance_rows(problem, pairs, problem.spend[pairs[:, 0], pairs[:, 1]], np.ones(pairs.shape[0]))
            raise PlanInfeasible(_infeasible_message(problem))
        return plans
    search = _Search(problem, limit)
    plans = []
    while len(plans) < 1 + int(runner_ups):
        plan, why = search.next_plan(1 + int(runner_ups) - len(plans))
        if plan is None:
            if plans:
                break
            if why == "infeasible":
                raise PlanInfeasible(_infeasible_message(problem))
            raise PlanNotFound(f"the solver found no plan within time_limit = {limit:g} s ({why}): "
                               f"raise the time limit or relax the constraints")
        plans.append(plan)
    return sorted(plans, key=lambda p: -p.mean_npv)
