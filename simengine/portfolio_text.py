"""Terminal rendering of a portfolio's summary and of --optimize's plans."""

from __future__ import annotations

from .textout import fmt_probability, fmt_value, money_with_se, month_with_se


def _money(est: dict | None, currency: str) -> str:
    if est is None or est.get("value") is None:
        return "-"
    return money_with_se(est["value"], est.get("se"), currency)


def portfolio_header(summary: dict) -> str:
    members = len(summary["members"])
    return (f"Portfolio {summary['portfolio']}: {members} member{'s' * (members != 1)}, "
            f"{summary['trials']:,} trials, seed {summary['seed']}, {summary['horizon_months']} months")


def portfolio_table(summary: dict) -> str:
    """The portfolio's figures, its members' and its spend by year, each with its standard error."""
    cur = summary["currency"]
    m = summary["metrics"]
    npv = m["npv"]
    lines = [
        f"Portfolio NPV        mean {_money(npv['mean'], cur)}",
        f"                     P5 {_money(npv['p5'], cur)}   P50 {_money(npv['p50'], cur)}   "
        f"P95 {_money(npv['p95'], cur)}",
        f"P(NPV < 0)           {fmt_probability(summary['p_npv_negative'])}",
        f"CVaR 5% of NPV       {_money(summary['cvar5_npv'], cur)}  (mean of the worst "
        f"{summary['trials_in_tail']:,} trials)",
    ]
    benefit = summary["diversification_benefit"]
    if benefit["value"] is not None:
        lines.append(f"Diversification      {_money(benefit, cur)}  (the portfolio's CVaR minus the sum of the "
                     f"members' own; ± is a bound)")
    otc = m["one_time_cost"]
    lines.append(f"One-time cost        mean {_money(otc['mean'], cur)}   P80 {_money(otc['p80'], cur)}")
    payback = m["payback_months"]
    lines.append(f"Payback (months)     P50 {month_with_se(payback['p50'])}   P80 {month_with_se(payback['p80'])}"
                 + (f"   ({payback['n_null']:,} trials never pay back)" if payback["n_null"] else ""))
    if summary.get("p_budget_exceeded") is not None:
        lines.append(f"P(budget exceeded)   {fmt_probability(summary['p_budget_exceeded'])}  (spend above the "
                     "limit in any year, or in total)")
    for key, block in summary["targets"].items():
        label = {"npv_min": "NPV >=", "roi_min": "ROI >=", "payback_months_max": "payback <=",
                 "all": "all targets"}[key]
        target = block.get("target")
        shown = "" if target is None else (f" {fmt_value(target, 'percent')}" if key == "roi_min"
                                           else f" {target:,.0f}")
        lines.append(f"P({label}{shown})".ljust(21) + f"{fmt_probability(block['probability'])}")
    for key, block in summary["constraints"].items():
        what = ("CVaR 5% >= " + f"{cur} {block['target']:,.0f}" if key == "cvar_min"
                else f"P(budget exceeded) <= {block['target'] * 100:g}%")
        lines.append(f"Constraint {what}: {'met' if block['met'] else 'NOT met'}")
    lines += ["", "Members (NPV in the portfolio: scaled, discounted to the portfolio's month 0; own P(NPV<0): "
              "on the member's own calendar)",
              f"{'member':<16} {'start':>5} {'scale':>6} {'mean NPV in portfolio':>30} {'own P(NPV<0)':>16} "
              f"{'CVaR contribution':>28} {'share':>7}"]
    for name, block in summary["members"].items():
        contrib = summary["contributions"][name]
        share = contrib["share"]
        lines.append(f"{name:<16} {block['start_month']:>5} {block['scale']:>6g} "
                     f"{_money(block['npv_in_portfolio']['mean'], cur):>30} "
                     f"{fmt_probability(block['summary']['p_npv_negative']):>16} "
                     f"{_money(contrib['contribution'], cur):>28} {'-' if share is None else f'{share * 100:.1f}%':>7}")
    lines.append(f"{'sum':<16} {'':>5} {'':>6} {'':>30} {'':>16} "
                 f"{money_with_se(summary['contributions_sum'], None, cur):>28}")
    return "\n".join(lines + ["", *spend_table(summary["spend_by_year"])])


def spend_table(years: list[dict]) -> list[str]:
    """Spend by year: the limit, the mean and percentiles with their standard errors in the row
    below, and, where the year has a limit, the chance of spending above it."""
    stats = ("mean", "p50", "p80", "p95")
    lines = ["Spend by year (every cost, one-time and run; ± standard errors below)",
             f"{'year':<6} {'months':<9} {'limit':>14}"
             + "".join(f"{k if k == 'mean' else k.upper():>14}" for k in stats) + "  P(above limit)"]
    for y in years:
        limit = "-" if y["limit"] is None else f"{y['limit']:,.0f}"
        over = fmt_probability(y["p_over_limit"]) if y.get("p_over_limit") else ""
        months = f"{y['months'][0]}-{y['months'][1]}"
        lines.append(f"{y['year']:<6} {months:<9} {limit:>14}"
                     + "".join(f"{fmt_value(y[k]['value'], 'money'):>14}" for k in stats) + f"  {over}".rstrip())
        ses = ["" if y[k]["se"] is None else "±" + fmt_value(y[k]["se"], "money", se=True) for k in stats]
        if any(ses):
            lines.append(" " * 31 + "".join(f"{se:>14}" for se in ses))
    return lines


def plan_label(plan: dict) -> str:
    funded = [f"{name} (month {start})" for name, start in plan["funded"].items()]
    return ", ".join(funded) if funded else "fund nothing"


def plans_table(result: dict, currency: str) -> str:
    """--optimize's best plan and runner-ups: in sample (the SAA trials) and out of sample."""
    first, last = result["eval_start"], result["eval_start"] + result["eval_trials"] - 1
    lines = [f"Plans by expected portfolio NPV: chosen on trials 0-{result['saa_trials'] - 1:,}, re-estimated on "
             f"{result['eval_trials']:,} trials the choice never saw ({first:,}-{last:,})"]
    constraints = []
    if result.get("max_exceedance") is not None:
        constraints.append(f"P(budget exceeded) <= {result['max_exceedance'] * 100:g}%")
    if result.get("cvar_floor") is not None:
        constraints.append(f"CVaR 5% >= {currency} {result['cvar_floor']:,.0f}")
    lines.append("Subject to: " + ("; ".join(constraints) if constraints else "no constraint (fund what pays)"))
    for i, plan in enumerate(result["plans"]):
        tag = "best" if i == 0 else f"#{i + 1}"
        out = plan["out_of_sample"]
        exceed = fmt_probability(out["p_budget_exceeded"]) if out["p_budget_exceeded"] else "-"
        lines += ["", f"{tag}: {plan_label(plan)}",
                  f"   in sample:     mean NPV {currency} {plan['in_sample']['npv_mean']:,.0f}, "
                  f"P(budget exceeded) {plan['in_sample']['p_budget_exceeded'] * 100:.1f}%, "
                  f"CVaR 5% {currency} {plan['in_sample']['cvar5_npv']:,.0f}  [{plan['status']}]",
                  f"   out of sample: mean NPV {_money(out['npv_mean'], currency)}, "
                  f"P(budget exceeded) {exceed}, "
                  f"CVaR 5% {_money(out['cvar5_npv'], currency)}"]
        if out.get("constraints_met") is False:
            lines.append("   out of sample it misses a constraint: " + "; ".join(out["missed"]))
    if len(result["plans"]) < result.get("runner_ups_asked", 0) + 1:
        lines += ["", f"No other plan meets the constraints ({len(result['plans'])} of the "
                  f"{result['runner_ups_asked'] + 1} asked for)."]
    return "\n".join(lines)
