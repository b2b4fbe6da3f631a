"""The simengine model written the way a reader of numpy would write it: a benchmark baseline.

This is deliberately the straightforward numpy formulation of docs/model.md (MODEL.md), not
an optimised one: every driver is sampled as a whole vector with its scipy distribution
(`rvs`, or `ppf` of Gaussian-copula uniforms for drivers with Spearman correlations,
occurrences of risk events as Bernoulli draws), and the cash flows are a full
`trials x months` matrix that is discounted and cumulated with array operations. The IRR
is either `numpy_financial.irr` row by row (`irr="npf"`) or a vectorized Newton iteration
over all trials at once (`irr="newton"`). It uses its own random streams (one
`np.random.default_rng(seed)`), so it agrees with the engine in distribution, not trial by
trial. Its only purpose is to show how much faster the numba engine is.

Usage: python benchmarks/numpy_model.py SCENARIO_NAME_OR_PATH --trials N --irr npf|newton
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import numpy_financial as npf
from scipy import special

from simengine.bundled import resolve_scenario
from simengine.scenario import load_scenario

IRR_LOW, IRR_HIGH = -0.99, 1.0  # the bracket on the monthly rate


def sample_drivers(scenario, trials: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Every field by dotted path (fixed ones as scalars) plus `events.NAME.occurred` as 0/1.

    Independent drivers are drawn with scipy's `rvs`; correlated ones with `ppf` of copula
    uniforms (`ppf` for every driver would be slower: scipy's beta `ppf` is ~30x its `rvs`).
    """
    fields = scenario.fields()
    correlated = sorted({n for c in scenario.correlations for n in c.drivers})
    u = {n: rng.random(trials) for n in correlated}
    if correlated:  # Gaussian copula: U = Phi(Z L'), L L' = 2 sin(pi rho_s / 6)
        idx = {n: i for i, n in enumerate(correlated)}
        rho = np.eye(len(correlated))
        for c in scenario.correlations:
            i, j = idx[c.drivers[0]], idx[c.drivers[1]]
            rho[i, j] = rho[j, i] = 2.0 * np.sin(np.pi * c.spearman / 6.0)
        z = special.ndtri(np.column_stack([u[n] for n in correlated])) @ np.linalg.cholesky(rho).T
        u = {n: special.ndtr(z[:, idx[n]]) for n in correlated}
    x = {}
    for name, d in fields.items():
        if d.is_fixed:
            x[name] = d.params["value"]
        elif name in u:
            x[name] = d.to_scipy().ppf(u[name])
        else:
            x[name] = d.to_scipy().rvs(size=trials, random_state=rng)
    for e in scenario.events:  # occurrence: Bernoulli(probability), the probability may vary
        occ = f"events.{e.name}.occurred"
        draw = u[occ] if occ in u else rng.random(trials)
        x[occ] = (draw > 1.0 - x[f"events.{e.name}.probability"]).astype(float)
    return x


def cash_flows(scenario, x: dict, trials: int):
    """Costs C and benefits B (both trials x months), go-live month g, discount factors d and the
    one-time cost (upfront, spread and event costs in full, even past the horizon)."""
    H = scenario.horizon_months
    t = np.arange(H)

    def col(v):  # a scalar or per-trial vector as a (trials, 1) column
        return np.broadcast_to(np.asarray(v, dtype=float), (trials,))[:, None]

    # Schedule: delay plus schedule overrun x P (clipped at 0), plus the delays of the events that occur.
    delay = np.maximum(x["schedule.delay_months"] + x["risks.schedule_overrun"] * x["schedule.planned_months"], 0.0)
    for e in scenario.events:
        delay = delay + x[f"events.{e.name}.occurred"] * x[f"events.{e.name}.delay_months"]
    g = col(np.ceil(x["schedule.planned_months"] + delay))
    live = t >= g                                               # trials x months, month >= g
    overrun = 1.0 + np.maximum(x["risks.cost_overrun"], -0.9)

    C = np.zeros((trials, H))
    spread = col(x["schedule.delay_cost_per_month"] * delay)   # delay cost, not overrun
    labor = np.zeros((trials, 1))
    upfront = np.zeros((trials, 1))
    for c in scenario.costs:
        amount = col(x[f"costs.{c.name}.amount"] * (overrun if c.overrun else 1.0))
        if c.labor:
            labor = labor + amount
        if c.timing == "upfront":
            C[:, :1] += amount
            upfront = upfront + amount
        elif c.timing == "implementation":
            spread = spread + amount
        else:                                                   # recurring, per year
            C += amount / 12.0 * (live if c.start == "go_live" else 1.0)
    for e in scenario.events:
        spread = spread + col(x[f"events.{e.name}.occurred"] * x[f"events.{e.name}.cost"])
    C += spread / g * (t < g)                                   # spread evenly over 0..g-1
    load = np.clip(x["risks.maintenance_load"], 0.0, x["risks.maintenance_cap"])
    C += col(load) * labor / 12.0 * live

    # Adoption: ceiling times the share-weighted curve of each phase.
    R = col(x["adoption.ramp_months"])
    adoption = np.zeros((trials, H))
    for ph in scenario.phases:
        xk = t - (g + ph.offset_months) + 1.0
        if scenario.curve == "linear":
            a = np.minimum(1.0, xk / R)
        else:
            a = 1.0 / (1.0 + np.exp(-(xk - R / 2.0) * 2.0 * np.log(9.0) / R))
        adoption += ph.share * np.where(xk >= 1.0, a, 0.0)
    adoption *= col(x["adoption.ceiling"])

    keep = np.ones(trials)                                      # F = prod(1 - loss) of occurring events
    for e in scenario.events:
        keep = keep * (1.0 - x[f"events.{e.name}.occurred"] * x[f"events.{e.name}.benefit_loss"])
    scaling = sum((col(x[f"benefits.streams.{b.name}.amount"]) for b in scenario.benefits
                   if b.scales_with_adoption), np.zeros((trials, 1)))
    fixed = sum((col(x[f"benefits.streams.{b.name}.amount"]) for b in scenario.benefits
                 if not b.scales_with_adoption), np.zeros((trials, 1)))
    B = (scaling * adoption + fixed * live) / 12.0 * col(x["benefits.realization"] * keep)

    monthly = col((1.0 + x["discount_rate"]) ** (1.0 / 12.0))  # 1 + m
    d = monthly ** -t
    return C, B, g[:, 0], d, (upfront + spread)[:, 0]


def irr_npf(cf: np.ndarray) -> np.ndarray:
    """Monthly IRR of each row with numpy_financial.irr; NaN outside the bracket."""
    i = np.array([npf.irr(row) for row in cf])
    return np.where((i >= IRR_LOW) & (i <= IRR_HIGH), i, np.nan)


def irr_newton(cf: np.ndarray, iterations: int = 100, tol: float = 1e-13) -> np.ndarray:
    """Monthly IRR of all rows at once: Newton from 0.01, safeguarded by bisection.

    Each trial keeps a bracket [lo, hi] around its root. As in Numerical Recipes' rtsafe, a
    Newton step that leaves the bracket or is not at most half the previous step is replaced
    by bisection (plain Newton crawls where NPV grows like (1+i)^-t near i = -0.99). Trials
    leave the iteration once their step is below `tol`.
    """
    H = cf.shape[1]
    t = np.arange(H)
    # Signs at the ends; at -0.99 use sum CF_t (1+i)^(H-1-t), which cannot overflow.
    f_lo = cf @ (1.0 + IRR_LOW) ** (H - 1 - t)
    f_hi = cf @ (1.0 + IRR_HIGH) ** -t
    out = np.where(f_lo == 0.0, IRR_LOW, np.where(f_hi == 0.0, IRR_HIGH, np.nan))
    out[~np.any(cf != 0.0, axis=1)] = np.nan
    act = np.flatnonzero(np.sign(f_lo) * np.sign(f_hi) < 0)   # trials still iterating
    c, s_lo = cf[act], np.sign(f_lo[act])
    lo, hi = np.full(act.size, IRR_LOW), np.full(act.size, IRR_HIGH)
    r, dx = np.full(act.size, 0.01), np.full(act.size, IRR_HIGH - IRR_LOW)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for _ in range(iterations):
            v = (1.0 + r[:, None]) ** -t                       # discount factors at rate r
            f = np.sum(c * v, axis=1)
            df = -np.sum(c * t * v, axis=1) / (1.0 + r)
            below = np.sign(f) == s_lo                          # the root lies above r
            lo, hi = np.where(below, r, lo), np.where(below, hi, r)
            newton = r - f / df
            bisect = ~((lo < newton) & (newton < hi)) | (np.abs(newton - r) > 0.5 * np.abs(dx))
            new = np.where(f == 0.0, r, np.where(bisect, 0.5 * (lo + hi), newton))
            dx, r = new - r, new
            done = np.abs(dx) <= tol
            out[act[done]] = r[done]
            keep = ~done
            act, c, s_lo, lo, hi, r, dx = (a[keep] for a in (act, c, s_lo, lo, hi, r, dx))
            if act.size == 0:
                break
    out[act] = r                                                # not converged: last iterate
    return out


def simulate_numpy(scenario, trials: int, seed: int, irr: str = "npf") -> dict[str, np.ndarray]:
    """Per-trial metrics of MODEL.md for `trials` trials (NaN where a metric is null)."""
    rng = np.random.default_rng(seed)
    x = sample_drivers(scenario, trials, rng)
    C, B, g, d, one_time = cash_flows(scenario, x, trials)
    cf = B - C
    cost_pv, benefit_pv = (C * d).sum(axis=1), (B * d).sum(axis=1)
    npv = benefit_pv - cost_pv
    with np.errstate(divide="ignore", invalid="ignore"):
        roi = np.where(cost_pv != 0.0, npv / cost_pv, np.nan)
        bcr = np.where(cost_pv != 0.0, benefit_pv / cost_pv, np.nan)

    def payback(flows):  # smallest k in 1..H with sum_{t<k} flows_t >= 0
        reached = np.cumsum(flows, axis=1) >= 0.0
        return np.where(reached.any(axis=1), reached.argmax(axis=1) + 1.0, np.nan)

    monthly_irr = {"npf": irr_npf, "newton": irr_newton}[irr](cf)
    paid_back = payback(cf)
    return {
        "npv": npv, "roi": roi, "bcr": bcr, "irr": (1.0 + monthly_irr) ** 12 - 1.0,
        "payback_months": paid_back, "discounted_payback_months": payback(cf * d),
        "go_live_month": g, "cost_pv": cost_pv, "benefit_pv": benefit_pv,
        "total_cost": C.sum(axis=1), "total_benefit": B.sum(axis=1),
        "one_time_cost": one_time, "payback_after_go_live_months": paid_back - g,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", help="a scenario TOML file or a bundled scenario's name")
    parser.add_argument("--trials", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--irr", choices=("npf", "newton"), default="npf")
    args = parser.parse_args()
    scenario = load_scenario(resolve_scenario(args.scenario))
    t0 = time.perf_counter()
    res = simulate_numpy(scenario, args.trials, args.seed, irr=args.irr)
    seconds = time.perf_counter() - t0
    print(f"{scenario.name}: {args.trials:,} trials, irr={args.irr}: {seconds:.3f} s, "
          f"mean NPV {np.mean(res['npv']):,.0f}")


if __name__ == "__main__":
    main()
