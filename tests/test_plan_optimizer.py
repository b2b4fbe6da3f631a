"""Portfolio plans by sample-average approximation (simengine/plan_optimizer.py).

The MIP is checked against brute force: every plan of small random problems enumerated and
judged by the exact recount (`evaluate`), so that the best plan and the runner-ups must match.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from simengine.errors import InputError
from simengine.plan_optimizer import (CVAR_LEVEL, Plan, PlanInfeasible, PlanProblem, allowed_exceedances, cvar,
                                      evaluate, meets_constraints, solve_plans, tail_count)


def _arrays(seed: int, k: int = 6, o: int = 2, y: int = 3, n: int = 80):
    """Random NPVs (K, O, N), spends (K, O, Y, N) and availability: about half the members have one option."""
    rng = np.random.default_rng(seed)
    npv = rng.normal(rng.normal(0.5, 1.0, (k, o, 1)), 2.0, (k, o, n))
    spend = rng.gamma(2.0, 1.0, (k, o, y, n)) * rng.uniform(0.2, 1.0, (k, o, y, 1))
    available = np.ones((k, o), dtype=bool)
    available[rng.random(k) < 0.5, 1:] = False
    npv[~available] = np.nan          # unavailable slots may hold anything
    spend[~available] = np.nan
    return npv, spend, available


def _mean_where_available(a: np.ndarray, available: np.ndarray) -> np.ndarray:
    """Mean over trials (last axis) of the available (member, option) slots; -inf elsewhere."""
    mean = np.where(available[(...,) + (None,) * (a.ndim - 2)], a, 0.0).mean(axis=-1)
    return np.where(available[(...,) + (None,) * (a.ndim - 3)], mean, -np.inf)


def _problem(seed: int, n: int = 80, **overrides) -> PlanProblem:
    """A 6-member problem with member 0 required, a yearly budget (alpha = 0.1) and a CVaR floor."""
    npv, spend, available = _arrays(seed, n=n)
    required = np.zeros(6, dtype=bool)
    required[0] = True
    budget = 0.6 * _mean_where_available(spend, available).max(axis=1).sum(axis=0)
    floor = evaluate(PlanProblem(npv, spend, available, required), (0,) + (None,) * 5)[2] - 1.0
    args = dict(budget_per_year=budget, max_exceedance=0.1, cvar_floor=floor)
    args.update(overrides)
    return PlanProblem(npv, spend, available, required, **args)


def _brute_force(problem: PlanProblem) -> list[tuple[float, tuple]]:
    """Every plan that meets the constraints by the exact recount, best mean NPV first."""
    k, o = problem.available.shape
    options = [([] if problem.required[m] else [None]) + [j for j in range(o) if problem.available[m, j]]
               for m in range(k)]
    plans = []
    for choice in itertools.product(*options):
        figures = evaluate(problem, choice)
        if meets_constraints(problem, choice, figures):
            plans.append((figures[0], choice))
    return sorted(plans, key=lambda t: -t[0])


def _assert_matches_brute_force(problem: PlanProblem, runner_ups: int = 3, method: str = "mip") -> list[Plan]:
    """solve_plans gives the brute-force best plan and then the next-best feasible plans in order.

    With method="mip" every plan must come from HiGHS proven optimal, not from the local search.
    """
    expected = _brute_force(problem)[:1 + runner_ups]
    if not expected:
        with pytest.raises(PlanInfeasible):
            solve_plans(problem, runner_ups=runner_ups, method=method)
        return []
    plans = solve_plans(problem, runner_ups=runner_ups, method=method)
    assert len(plans) == len(expected)
    for plan, (mean, choice) in zip(plans, expected):
        assert plan.mean_npv == pytest.approx(mean, rel=1e-9, abs=1e-12)
        if plan.choice != choice:      # only a tie may swap two plans
            assert evaluate(problem, choice)[0] == pytest.approx(plan.mean_npv, rel=1e-9)
        assert plan.feasible and plan.status == ("optimal" if method == "mip" else "optimal (every plan enumerated)")
        assert (plan.mean_npv, plan.p_exceed, plan.cvar) == evaluate(problem, plan.choice)
    assert [p.mean_npv for p in plans] == sorted((p.mean_npv for p in plans), reverse=True)
    assert len({p.choice for p in plans}) == len(plans)
    return plans


@pytest.mark.parametrize("seed", [0, 4, 6, 9, 18, 26])
def test_yearly_budget_and_cvar_floor_match_brute_force(seed):
    """The MIP (forced: 6 members would be enumerated)."""
    plans = _assert_matches_brute_force(_problem(seed))
    for plan in plans:
        assert plan.choice[0] is not None
        assert plan.p_exceed <= 0.1
        assert plan.cvar >= _problem(seed).cvar_floor


@pytest.mark.parametrize("seed", [1, 2])
def test_total_budget_matches_brute_force(seed):
    npv, spend, available = _arrays(seed, n=60)
    total = 0.5 * _mean_where_available(spend, available).max(axis=1).sum()
    problem = PlanProblem(npv, spend, available, np.zeros(6, dtype=bool), budget_total=total, max_exceedance=0.2)
    _assert_matches_brute_force(problem)


@pytest.mark.parametrize("seed", [0, 6, 26])
def test_enumeration_matches_brute_force(seed):
    _assert_matches_brute_force(_problem(seed, n=101), method="enumerate")


def test_auto_enumerates_small_problems_and_agrees_with_the_mip():
    problem = _problem(4, n=60)
    auto = solve_plans(problem)
    assert all(p.status == "optimal (every plan enumerated)" for p in auto)
    assert [p.choice for p in auto] == [p.choice for p in solve_plans(problem, method="mip")]


def test_budget_without_max_exceedance_holds_in_every_trial():
    problem = _problem(3, n=60, max_exceedance=None, cvar_floor=None,
                       budget_per_year=np.array([6.0, 6.0, np.inf]))
    plans = _assert_matches_brute_force(problem, runner_ups=2)
    assert all(p.p_exceed == 0.0 for p in plans)


@pytest.mark.parametrize("seed, method", [(0, "mip"), (1, "mip"), (2, "mip"), (0, "auto")])
def test_unconstrained_plan_is_every_member_with_positive_mean_at_its_best_option(seed, method):
    npv, spend, available = _arrays(seed, k=10, o=3, n=50)
    required = np.zeros(10, dtype=bool)
    required[[0, 3]] = True
    problem = PlanProblem(npv, spend, available, required)
    means = _mean_where_available(npv, available)
    best = means.argmax(axis=1)
    expected = tuple(int(best[m]) if required[m] or means[m, best[m]] > 0 else None for m in range(10))
    plans = solve_plans(problem, runner_ups=1, method=method)
    assert plans[0].choice == expected
    assert plans[0].mean_npv == pytest.approx(sum(means[m, o] for m, o in enumerate(expected) if o is not None))
    assert plans[0].p_exceed == 0.0 and plans[0].feasible
    assert plans[0].status == ("optimal" if method == "mip" else "optimal (every plan enumerated)")
    assert plans[1].mean_npv <= plans[0].mean_npv


def test_required_members_are_funded_even_when_they_lose_money():
    npv, spend, available = _arrays(5, n=40)
    npv[2] = -np.abs(npv[2]) - 1.0
    required = np.zeros(6, dtype=bool)
    required[2] = True
    for plan in solve_plans(PlanProblem(npv, spend, available, required), runner_ups=3):
        assert plan.choice[2] is not None


def test_impossible_budget_raises_plan_infeasible():
    npv, spend, available = _arrays(7, n=40)
    required = np.zeros(6, dtype=bool)
    required[0] = True
    problem = PlanProblem(npv, spend, available, required, budget_per_year=np.full(3, 1e-3), max_exceedance=0.05)
    with pytest.raises(PlanInfeasible, match="budget") as caught:
        solve_plans(problem)
    assert isinstance(caught.value, InputError) and caught.value.exit_code == 2
    assert "\n" not in str(caught.value)


def test_unreachable_cvar_floor_raises_plan_infeasible():
    npv, spend, available = _arrays(8, n=40)
    problem = PlanProblem(npv, spend, available, np.zeros(6, dtype=bool), cvar_floor=1e6)
    with pytest.raises(PlanInfeasible, match="cvar_floor"):
        solve_plans(problem)


@pytest.mark.parametrize("n", [1, 19, 20, 21, 37, 59, 101, 1000])
def test_rockafellar_uryasev_with_k_trials_is_the_mean_of_the_k_worst(n):
    x = np.random.default_rng(n).normal(size=n)
    k = tail_count(n)
    assert k == math.ceil(CVAR_LEVEL * n - 1e-12)
    # eta - sum (eta - X)^+ / k is concave and piecewise linear: its maximum is at a sample point.
    ru = max(eta - np.maximum(eta - x, 0.0).sum() / k for eta in x)
    assert ru == pytest.approx(np.sort(x)[:k].mean(), rel=1e-12, abs=1e-12)
    assert cvar(x) == pytest.approx(np.sort(x)[:k].mean(), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("n", [37, 53, 60])
def test_cvar_floor_is_exact_at_the_boundary(n):
    npv, spend, available = _arrays(11, n=n)
    free = PlanProblem(npv, spend, available, np.zeros(6, dtype=bool))
    best = solve_plans(free, runner_ups=0)[0]
    # A floor exactly at the best plan's CVaR keeps it; the next float above excludes it.
    at = PlanProblem(npv, spend, available, np.zeros(6, dtype=bool), cvar_floor=best.cvar)
    assert solve_plans(at, runner_ups=0)[0].choice == best.choice
    above = PlanProblem(npv, spend, available, np.zeros(6, dtype=bool), cvar_floor=np.nextafter(best.cvar, np.inf))
    expected = _brute_force(above)
    if not expected:
        with pytest.raises(PlanInfeasible, match="cvar_floor"):
            solve_plans(above, runner_ups=0)
        return
    plan = solve_plans(above, runner_ups=0)[0]
    assert plan.choice != best.choice and plan.cvar > best.cvar and plan.feasible
    assert plan.mean_npv == pytest.approx(expected[0][0], rel=1e-9)


def test_tighter_max_exceedance_never_raises_the_mean():
    problem = _problem(4, n=60, cvar_floor=None)
    means = []
    for alpha in (0.5, 0.3, 0.2, 0.1, 0.05, 0.0):
        plan = solve_plans(PlanProblem(problem.npv, problem.spend, problem.available, problem.required,
                                       budget_per_year=problem.budget_per_year, max_exceedance=alpha),
                           runner_ups=0)[0]
        assert plan.p_exceed <= alpha
        means.append(plan.mean_npv)
    assert all(b <= a + 1e-12 for a, b in zip(means, means[1:]))


def test_money_in_millions_gives_the_same_plans():
    problem = _problem(9, n=60)
    scaled = PlanProblem(problem.npv * 3.7e6, problem.spend * 3.7e6, problem.available, problem.required,
                         budget_per_year=problem.budget_per_year * 3.7e6, max_exceedance=0.1,
                         cvar_floor=problem.cvar_floor * 3.7e6)
    assert [p.choice for p in solve_plans(scaled)] == [p.choice for p in solve_plans(problem)]


def test_spend_equal_to_the_budget_does_not_exceed_it():
    npv = np.array([[[1.0, 2.0, 3.0, 4.0]], [[1.0, 1.0, 1.0, 1.0]]])
    spend = np.array([[[[5.0, 5.0, 6.0, 5.0]]], [[[5.0, 5.0, 5.0, 5.0]]]])
    problem = PlanProblem(npv, spend, np.ones((2, 1), dtype=bool), np.zeros(2, dtype=bool),
                          budget_per_year=np.array([10.0]), max_exceedance=0.25)
    assert evaluate(problem, (0, 0)) == (3.5, 0.25, 2.0)
    plans = solve_plans(problem, runner_ups=5)
    assert [p.choice for p in plans] == [(0, 0), (0, None), (None, 0), (None, None)]
    tight = PlanProblem(npv, spend, np.ones((2, 1), dtype=bool), np.zeros(2, dtype=bool),
                        budget_per_year=np.array([10.0]), max_exceedance=0.2)
    assert solve_plans(tight, runner_ups=0)[0].choice == (0, None)


@pytest.mark.parametrize("alpha", [0.0, 0.25])
def test_a_plan_over_budget_by_less_than_the_solver_tolerance_is_rejected(alpha):
    # Both members together spend 1 + 1e-10 of the budget in 3 of 4 trials: inside HiGHS's
    # feasibility tolerance, but over the budget by the exact recount.
    n = 4
    npv = np.array([[[3.0] * n], [[2.0] * n]])
    spend = np.full((2, 1, 1, n), 0.5)
    spend[1, 0, 0, :3] += 1e-10
    problem = PlanProblem(npv, spend, np.ones((2, 1), dtype=bool), np.zeros(2, dtype=bool),
                          budget_per_year=np.array([1.0]), max_exceedance=alpha)
    plans = solve_plans(problem, runner_ups=3, method="mip")
    assert [p.choice for p in plans] == [(0, None), (None, 0), (None, None)]
    assert all(p.feasible and p.status == "optimal" for p in plans)


def test_rows_are_tightened_after_repeated_near_tie_rejections(monkeypatch):
    import simengine.plan_optimizer as plan_optimizer

    monkeypatch.setattr(plan_optimizer, "REPAIR_CUTS", 1)
    npv = np.array([[[3.0] * 4], [[2.0] * 4]])
    spend = np.full((2, 1, 1, 4), 0.5)
    spend[1, 0, 0, :3] += 1e-10
    problem = PlanProblem(npv, spend, np.ones((2, 1), dtype=bool), np.zeros(2, dtype=bool),
                          budget_per_year=np.array([1.0]))
    plan = solve_plans(problem, runner_ups=0, method="mip")[0]
    assert plan.choice == (0, None) and plan.feasible
    assert plan.status.startswith("optimal") and "limits tightened" in plan.status


def test_large_problem_under_a_short_time_limit_still_returns_feasible_plans():
    rng = np.random.default_rng(5)
    k, o, y, n = 30, 2, 4, 300
    npv = rng.normal(rng.normal(1.0, 1.0, (k, o, 1)), 3.0, (k, o, n))
    spend = rng.gamma(3.0, 1.0, (k, o, y, n)) * np.exp(0.3 * rng.normal(size=(1, 1, 1, n)))
    problem = PlanProblem(npv, spend, np.ones((k, o), dtype=bool), np.arange(k) < 2,
                          budget_per_year=np.full(y, 0.4 * spend.mean(axis=-1).max(axis=1).sum(axis=0).max()),
                          max_exceedance=0.1, cvar_floor=0.0)
    plans = solve_plans(problem, runner_ups=2, time_limit=3.0, method="mip")
    assert 1 <= len(plans) <= 3 and len({p.choice for p in plans}) == len(plans)
    for plan in plans:
        assert plan.feasible and meets_constraints(problem, plan.choice)
        assert (plan.mean_npv, plan.p_exceed, plan.cvar) == evaluate(problem, plan.choice)
        assert plan.status.startswith(("optimal", "time limit"))
        assert plan.status == "optimal" or plan.mip_gap is None or plan.mip_gap >= 0
    assert [p.mean_npv for p in plans] == sorted((p.mean_npv for p in plans), reverse=True)


def test_allowed_exceedances_agrees_with_the_share_test():
    for n in (1, 7, 20, 100, 333):
        for alpha in (0.0, 0.01, 0.05, 0.1, 0.29, 1 / 3, 0.7, 1.0):
            c = allowed_exceedances(alpha, n)
            assert c / n <= alpha and (c == n or (c + 1) / n > alpha)


def test_no_available_option_funds_nothing():
    problem = PlanProblem(np.zeros((2, 1, 5)), np.zeros((2, 1, 1, 5)), np.zeros((2, 1), dtype=bool),
                          np.zeros(2, dtype=bool))
    plans = solve_plans(problem)
    assert [p.choice for p in plans] == [(None, None)]


@pytest.mark.parametrize("change, message", [
    (dict(npv=np.zeros((2, 1))), "npv must be a non-empty array of shape"),
    (dict(spend=np.zeros((3, 2, 2, 9))), "spend must have shape"),
    (dict(available=np.ones((3, 3), dtype=bool)), "available must have shape"),
    (dict(required=np.array([0, 2, 0])), "required must hold booleans"),
    (dict(spend=-np.ones((3, 2, 2, 10))), "spend must be >= 0"),
    (dict(npv=np.full((3, 2, 10), np.nan)), "npv contains NaN"),
    (dict(budget_per_year=np.array([1.0])), "budget_per_year must have shape"),
    (dict(budget_per_year=np.array([1.0, -1.0])), "budget_per_year must be >= 0"),
    (dict(budget_total=float("nan")), "budget_total must be a finite number"),
    (dict(max_exceedance=0.1), "max_exceedance is set but there is no budget"),
    (dict(budget_total=5.0, max_exceedance=1.5), "max_exceedance must be a share"),
    (dict(cvar_floor=float("inf")), "cvar_floor must be a finite number"),
    (dict(available=np.array([[False, False], [True, True], [True, False]]),
          required=np.array([True, False, False])), "required: member 0 is required but has no available option"),
])
def test_invalid_problems_name_the_argument(change, message):
    args = dict(npv=np.zeros((3, 2, 10)), spend=np.zeros((3, 2, 2, 10)), available=np.ones((3, 2), dtype=bool),
                required=np.zeros(3, dtype=bool))
    args.update(change)
    with pytest.raises(InputError, match=message):
        PlanProblem(**args)


def test_invalid_arguments_of_solve_and_evaluate():
    problem = _problem(0, n=20, cvar_floor=None)
    with pytest.raises(InputError, match="runner_ups"):
        solve_plans(problem, runner_ups=-1)
    with pytest.raises(InputError, match="time_limit"):
        solve_plans(problem, time_limit=0)
    with pytest.raises(InputError, match="choice must name an option"):
        evaluate(problem, (0,))
    unavailable = int(np.flatnonzero(~problem.available[:, 1])[0])
    choice = [None] * 6
    choice[unavailable] = 1
    with pytest.raises(InputError, match=f"option 1 of member {unavailable} is not an available option"):
        evaluate(problem, choice)
