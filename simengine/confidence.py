"""Budget and date at a confidence level: the summary block a board signs off on
(docs/model.md, "Budget and date").

Against the base case (every driver at its most likely value, no risk event; base_case.py):
- for the one-time cost and the total cost of ownership: the percentiles P50 to P95, the
  probability that the base estimate is enough, and the contingency that reaches P50, P80
  and P90 (the percentile minus the base, also as a share of it);
- for the go-live month: P50, P80, P90, the probability of going live on or before the base
  case's month, and the months of schedule contingency to P80;
- the base case's NPV, ROI and payback (the spreadsheet's figures) beside the simulated ones,
  and the cost of risk: base NPV minus mean NPV.
Every figure comes from the exact streamed summary; a contingency has its percentile's
standard error (the base is a fixed number).
"""

from __future__ import annotations

from .summary import estimate, probability

COST_LEVELS = (50, 70, 80, 90, 95)
CONTINGENCY_LEVELS = (50, 80, 90)
DATE_LEVELS = (50, 80, 90)
#: The level whose contingency a board usually funds (AACE 57R-09 practice).
FUNDED_LEVEL = 80


def contingency(percentile: dict, base: float) -> dict:
    """Percentile minus base, with the percentile's standard error, and as a share of the base."""
    value = percentile["value"]
    amount = None if value is None else value - base
    return {**estimate(amount, percentile["se"]),
            "share_of_base": None if amount is None or base == 0 else amount / base}


def cost_block(metric: dict, base: float, within_base: int, trials: int) -> dict:
    return {
        "base": base,
        "p_base_enough": probability(within_base, trials),
        "mean": metric["mean"],
        **{f"p{p}": metric[f"p{p}"] for p in COST_LEVELS},
        "contingency": {f"p{p}": contingency(metric[f"p{p}"], base) for p in CONTINGENCY_LEVELS},
    }


def budget_and_date(acc, metrics: dict) -> dict:
    """The budget and date block of a finished `StreamingSummary` with a base case."""
    base, n = acc.base, acc.trials
    costs = {name: cost_block(metrics[name], base[name], acc.metrics[name].at_most(base[name]), n)
             for name in ("one_time_cost", "total_cost")}
    planned = base["go_live_month"]
    go_live = metrics["go_live_month"]
    p80 = go_live[f"p{FUNDED_LEVEL}"]
    date = {
        "planned": planned,
        "p_on_plan": probability(acc.histograms["go_live_month"].at_most(planned), n),
        "mean": go_live["mean"],
        **{f"p{p}": go_live[f"p{p}"] for p in DATE_LEVELS},
        "contingency_months": {f"p{FUNDED_LEVEL}": estimate(None if p80["value"] is None else p80["value"] - planned,
                                                           p80["se"])},
    }
    npv = metrics["npv"]
    spreadsheet = {name: base[name] for name in ("npv", "roi", "payback_months", "payback_after_go_live_months",
                                                 "one_time_cost", "total_cost", "go_live_month")}
    live_by = acc.histograms["go_live_month"].at_most
    return {
        "base_case": spreadsheet,
        "costs": costs,
        "go_live": date,
        "joint": acc.joint.describe(live_by),
        "npv": {"base": base["npv"], "mean": npv["mean"], "p50": npv["p50"],
                # undefined (null) when the mean NPV is: a stored result with an infinite NPV
                "cost_of_risk": estimate(None if npv["mean"]["value"] is None else base["npv"] - npv["mean"]["value"],
                                         npv["mean"]["se"])},
        # the spreadsheet's other two figures beside the simulated median (payback: "never" ranks last)
        "roi": {"base": base["roi"], "p50": metrics["roi"]["p50"]},
        "payback_months": {"base": base["payback_months"], "p50": metrics["payback_months"]["p50"]},
    }
