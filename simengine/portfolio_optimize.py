"""`simengine portfolio FILE --optimize`: which members to fund, and when each starts.

The simulation side of docs/portfolio-optimization.md: each member's NPV contribution and
spend by year under each of its start options over the first `saa_trials` trials (the
sample the mixed-integer program of plan_optimizer.py sees), then every returned plan
re-estimated on fresh trials (from the next block on), out of sample.
"""

from __future__ import annotations

import math

import numpy as np

from .defaults import MAX_TRIALS
from .errors import InputError
from .kernels.cashflows import METRICS
from .kernels.portfolio import CONTRIB_NPV
from .plan_optimizer import PlanInfeasible, PlanProblem, solve_plans
from .portfolio_run import PortfolioSimulation
from .streams import BLOCK_SIZE
from .summary import estimate, probability
from .summary_stream import ContinuousMetric

DEFAULT_SAA_TRIALS = 2_000
MAX_SAA_TRIALS = 20_000
DEFAULT_EVAL_TRIALS = 100_000
MAX_RUNNER_UPS = 10


def option_arrays(portfolio, seed: int, trials: int, threads: int | None = None):
    """(npv (K, O, N), spend (K, O, Y, N), available (K, O), Y): every member under every start
    option over trials 0..N-1, shared drivers and correlations included (common random numbers)."""
    members = portfolio.members
    width = max(len(m.start_options) for m in members)
    months = max(max(m.start_options) + m.scenario.horizon_months for m in members)
    n_years = math.ceil(months / 12)
    npv = np.zeros((len(members), width, trials))
    spend = np.zeros((len(members), width, n_years, trials))
    available = np.zeros((len(members), width), dtype=bool)
    for k, m in enumerate(members):
        available[k, :len(m.start_options)] = True
    sim = PortfolioSimulation(portfolio, seed)

    def step(lo, hi, pool):
        n = hi - lo
        empty_net = np.empty((0, months))
        for k, inputs in sim.member_inputs(lo, hi, pool):
            for o, start in enumerate(members[k].start_options):
                out = np.empty((len(METRICS), n))
                contrib = np.zeros((3, n))
                years = np.zeros((n_years, n))
                sim.member_pass(k, inputs, start, out, contrib, empty_net, years)
                npv[k, o, lo:hi] = contrib[CONTRIB_NPV]
                spend[k, o, :, lo:hi] = years

    for _ in sim.run(0, trials, threads, step=step):
        pass
    return npv, spend, available, n_years


def optimize(portfolio, *, seed: int, saa_trials: int = DEFAULT_SAA_TRIALS, eval_trials: int = DEFAULT_EVAL_TRIALS,
             max_exceedance: float | None = None, cvar_floor: float | None = None, runner_ups: int = 3,
             threads: int | None = None, time_limit: float = 60.0) -> dict:
    """The best plan and runner-ups, each with its in-sample figures and its out-of-sample estimate."""
    if not 100 <= saa_trials <= MAX_SAA_TRIALS:
        raise InputError(f"--saa-trials: must be between 100 and {MAX_SAA_TRIALS:,}, got {saa_trials:,}")
    if not 1 <= eval_trials <= MAX_TRIALS:
        raise InputError(f"--trials: the out-of-sample trials must be between 1 and {MAX_TRIALS:,}, "
                         f"got {eval_trials:,}")
    if not 0 <= runner_ups <= MAX_RUNNER_UPS:
        raise InputError(f"--runner-ups: must be between 0 and {MAX_RUNNER_UPS}, got {runner_ups}")
    decision = portfolio.decision
    max_exceedance = decision.budget_exceedance_max if max_exceedance is None else max_exceedance
    cvar_floor = decision.cvar_min if cvar_floor is None else cvar_floor
    if max_exceedance is not None and not portfolio.budget.is_set:
        raise InputError("--max-exceedance: the portfolio sets no [budget] (per_year or total) to exceed")
    npv, spend, available, n_years = option_arrays(portfolio, seed, saa_trials, threads)
    budget = portfolio.budget
    per_year = np.array(budget.year_limits(n_years)) if budget.per_year is not None else None
    problem = PlanProblem(npv=npv, spend=spend, available=available,
                          required=np.array([m.required for m in portfolio.members]),
                          budget_per_year=per_year, budget_total=budget.total,
                          max_exceedance=max_exceedance if budget.is_set else None, cvar_floor=cvar_floor)
    try:
        plans = solve_plans(problem, runner_ups=runner_ups, time_limit=time_limit)
    except PlanInfeasible:
        limits = []
        if problem.max_exceedance is not None:
            limits.append(f"P(budget exceeded) <= {problem.max_exceedance * 100:g} %")
        elif budget.is_set:
            limits.append("the budget held in every trial")
        if cvar_floor is not None:
            limits.append(f"CVaR 5 % >= {portfolio.currency} {cvar_floor:,.0f}")
        required = [m.name for m in portfolio.members if m.required]
        if required:
            limits.append(f"{', '.join(required)} funded (required)")
        raise InputError(f"--optimize: no plan meets {'; '.join(limits)} together on the {saa_trials:,} trials; "
                         "loosen --max-exceedance, --cvar-floor, the budget or a member's required") from None
    eval_start = math.ceil(saa_trials / BLOCK_SIZE) * BLOCK_SIZE
    rows = []
    for plan in plans:
        funded = {m.name: m.start_options[o] for m, o in zip(portfolio.members, plan.choice) if o is not None}
        out = out_of_sample(portfolio, seed, funded, eval_start, eval_trials, threads, max_exceedance, cvar_floor)
        rows.append({"funded": funded, "choice": list(plan.choice), "status": plan.status, "mip_gap": plan.mip_gap,
                     "in_sample": {"npv_mean": plan.mean_npv, "p_budget_exceeded": plan.p_exceed,
                                   "cvar5_npv": plan.cvar, "feasible": plan.feasible},
                     "out_of_sample": out})
    return {"saa_trials": saa_trials, "eval_trials": eval_trials, "eval_start": eval_start, "seed": seed,
            "runner_ups_asked": runner_ups,
            "max_exceedance": max_exceedance if budget.is_set else None, "cvar_floor": cvar_floor,
            "budget": {"per_year": None if per_year is None else [v if math.isfinite(v) else None for v in per_year],
                       "total": budget.total},
            "plans": rows}


def out_of_sample(portfolio, seed: int, funded: dict[str, int], start: int, trials: int, threads: int | None,
                  max_exceedance: float | None, cvar_floor: float | None) -> dict:
    """A plan's mean NPV, P(budget exceeded) and CVaR 5 % over trials start..start+trials-1,
    each with its standard error: figures on trials the choice never saw."""
    if not funded:
        zero = estimate(0.0, 0.0)
        return {"npv_mean": zero, "cvar5_npv": zero, "p_budget_exceeded": probability(0, trials) if
                portfolio.budget.is_set else None, "constraints_met": True, "missed": []}
    sim = PortfolioSimulation(portfolio, seed, starts=funded, funded=set(funded))
    npv = np.empty(trials)
    exceeded = 0
    for chunk in sim.run(start, start + trials, threads):
        npv[chunk.start - start:chunk.start - start + chunk.size] = chunk.columns["npv"]
        if "budget_exceeded" in chunk.columns:
            exceeded += int(np.count_nonzero(chunk.columns["budget_exceeded"]))
    metric = ContinuousMetric("npv")
    metric.moments.n = 0
    from .kernels.summary_block import block_moments

    n, _, mean, m2, m3, m4 = block_moments(npv)
    metric.moments.merge(n, mean, m2, m3, m4)
    metric.rebuild(npv, take=True)
    described = metric.describe()
    cvar = metric.cvar()
    share = probability(exceeded, trials) if portfolio.budget.is_set else None
    missed = []
    if max_exceedance is not None and share is not None and share["value"] > max_exceedance:
        missed.append(f"P(budget exceeded) {share['value'] * 100:.2f}% > {max_exceedance * 100:g}%")
    if cvar_floor is not None and cvar["value"] < cvar_floor:
        missed.append(f"CVaR 5% {cvar['value']:,.0f} < {cvar_floor:,.0f}")
    return {"npv_mean": described["mean"], "npv_p5": described["p5"], "npv_p50": described["p50"],
            "cvar5_npv": cvar, "p_budget_exceeded": share, "constraints_met": not missed, "missed": missed}
