"""`simengine report`: a self-contained HTML page (and PNGs) from a result file or a comparison.

The figures come from three places, each named on the page:
- the summary (percentiles, probabilities, standard errors) is recomputed from every trial
  of the file, as `simengine summarize` does;
- the payback curve and the go-live marks of the fan chart count every trial;
- histograms and S-curves use the file's first `CHART_TRIALS` trials (all of them in an
  ordinary run), the budget-and-date scatter its first `JOINT_POINTS`, the tornado and the
  inputs table its first `TORNADO_TRIALS`, and the fan chart the per-month percentiles the
  run stored (its first 65,536 trials; cash_fan.py); the go-live histogram counts every trial.
  A figure computed on such a subset says so where it is shown (caption or legend).
A probability seen in 0 of n trials (or n of n) is shown with its one-sided 95 % bound,
never as "0.0 %": "0 trials (below 0.0015 % at 95 % confidence)" (charts.bound_text).
Names, descriptions and currencies are free text: they reach the page only through
html_page's builders, which escape them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import metrics as registry
from .errors import ResultFileError, SimengineError
from .html_page import Chart, facts, figure, heading, page, paragraph, section, table
from .output import check_writable, write_bytes_atomic
from .stored import StoredResult, open_stored, require_columns
from .result_file import accumulate_file, file_histograms
from .summary import probability, summary_header
from .summary_stream import HistogramMetric
from .scenario import Scenario, scenario_from_json
from .textout import fmt_share, fmt_value, probability_digits, worth_lines
from .lazy import LazyModule

# matplotlib and scipy.stats (the ranking's) load when the first chart is drawn: `simengine report`
# first summarizes the file, and that pass's peak does not then hold their ~100 MiB as well.
charts = LazyModule("simengine.charts")
ranking = LazyModule("simengine.ranking")

CHART_TRIALS = 1_000_000
#: The tornado's decile means need far fewer trials than the histograms: at 200,000 their
#: standard errors are well under a percent of the swing.
TORNADO_TRIALS = 200_000
TORNADO_DRIVERS = 12
#: The budget-and-date scatter draws at most this many trials (a light chart; the frontier
#: on it is the summary's, over every trial).
JOINT_POINTS = 20_000
NEEDED = ("npv", "roi", "payback_months", "go_live_month")


@dataclass
class Report:
    """A finished report: the HTML page and the charts it embeds (to write as PNGs on request)."""

    title: str
    html: str
    charts: list[Chart] = field(default_factory=list)

    def write(self, out: Path, png_dir: Path | None = None, force: bool = False) -> list[Path]:
        """Write the page (and the PNGs), refusing to overwrite unless forced; returns the paths."""
        pngs = [png_dir / f"{c.stem}.png" for c in self.charts] if png_dir is not None else []
        check_writable([out, *pngs], force)
        for path, chart in zip(pngs, self.charts):
            write_bytes_atomic(path, chart.png)
        write_bytes_atomic(out, self.html.encode("utf-8"))
        return [out, *pngs]


# --- formatting ------------------------------------------------------------------------------

def amount(x) -> str:
    return fmt_value(x, "money")


def number(x) -> str:
    """A driver's value: thousands separators for amounts, four significant digits otherwise."""
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def probability_text(x: float, se: float | None = None) -> str:
    """A probability in percent, to its standard error (a small share never reads as 0)."""
    return f"{x * 100:.{max(2, probability_digits(x, se))}f} %"


def probability_estimate(est: dict) -> str:
    """A probability ± its standard error; a share of 0 or of every trial has no standard
    error (it is not zero), so it reads "0 trials (below 0.0015 % at 95 % confidence)" or
    "every trial (above ...)", as the text output words it, never "0.00 %"."""
    if est is None or est.get("value") is None:
        return "n/a"
    bound = charts.bound_text(est)
    if bound is not None:
        return bound
    se = est.get("se")
    return probability_text(est["value"], se) + (f" ± {probability_text(se, se)}" if se is not None else "")


def probability_in_trials(est: dict) -> str:
    """A probability read as "in ... of trials": "12.30 % ± 0.10 % of trials", or its bound
    ("0 trials (below ...)"), which already names the trials."""
    if est is None or est.get("value") is None:
        return "n/a"
    return charts.bound_text(est) or f"{probability_estimate(est)} of trials"


def value_or_distribution(dist, fmt) -> str:
    return fmt(dist.params["value"]) if dist.is_fixed else dist.describe()


def with_se(est: dict, fmt) -> str:
    if est is None or est.get("value") is None:
        return "n/a"
    se = est.get("se")
    return fmt(est["value"]) if se is None else f"{fmt(est['value'])} ± {fmt(se)}"


#: (summary key, label, kind for textout.fmt_value) of each summarized metric, from the registry.
METRIC_ROWS = tuple((m.name, m.report_label, m.fmt) for m in registry.summarized())


def summary_tables(summary: dict, currency: str) -> str:
    """The summary with standard errors: one row per metric, then the probabilities."""
    rows = []
    for key, label, kind in METRIC_ROWS:
        m = summary["metrics"].get(key)
        if m is None:
            continue

        def cell(name, m=m, kind=kind):
            est = m.get(name) or {"value": None, "se": None}
            se = est.get("se")
            return (fmt_value(est["value"], kind), "± " + fmt_value(se, kind, se=True) if se is not None else "")
        rows.append([label.format(currency=currency), cell("mean"), cell("sd"), cell("p5"), cell("p10"),
                     cell("p50"), cell("p90"), cell("p95"), coverage_text(key, m)])
    metrics = table(["metric", "mean", "sd", "P5", "P10", "P50", "P90", "P95", "trials covered"], rows)
    if summary.get("metrics_absent"):
        metrics += paragraph("Not in this file (written before simengine had them): "
                             + ", ".join(summary["metrics_absent"]) + ".", "note")

    pct = probability_estimate
    probs = [["P(NPV < 0)", pct(summary["p_npv_negative"])],
             [f"CVaR 5 % of NPV (mean of the worst 5 %, {currency})", with_se(summary["cvar5_npv"], amount)]]
    for key, t in summary.get("targets", {}).items():
        if key == "all":
            probs.append(["all targets together", pct(t["probability"])])
        else:
            probs.append([registry.target_rule(key).report_label(t["target"]), pct(t["probability"])])
    return metrics + table(["probability or risk measure", "estimate ± standard error"], probs)


def coverage_text(key: str, m: dict) -> str:
    """Which trials a metric's statistics are over, with its nulls counted (docs/model.md)."""
    trials = m["n"] + m["n_null"]
    if not m["n_null"]:
        return "all"
    metric = registry.metric(key)
    nulls = f"{m['n_null']:,} ({fmt_share(m['n_null'] / trials)}) {metric.null_means}"
    share = fmt_share(m["n"] / trials)
    if metric.null_ranks_last:
        return f"mean, sd: {share}; percentiles: all. {nulls}"
    return f"{share}. {nulls}"


def headline(summary: dict, currency: str) -> str:
    npv = summary["metrics"]["npv"]
    lines = [f"Mean NPV {with_se(npv['mean'], amount)} {currency}; median {amount(npv['p50']['value'])}; "
             f"90 % of outcomes between {amount(npv['p5']['value'])} and {amount(npv['p95']['value'])}.",
             f"Probability of losing money (NPV < 0): {probability_estimate(summary['p_npv_negative'])}; "
             f"the worst 5 % of outcomes average {amount(summary['cvar5_npv']['value'])} {currency}."]
    if "all" in summary.get("targets", {}):
        p = summary["targets"]["all"]["probability"]
        lines.append(f"All decision targets met together in {probability_in_trials(p)}.")
    return '<div class="headline">' + "".join(paragraph(x) for x in lines) + "</div>"


# --- data from a result file -----------------------------------------------------------------

def payback_shares(payback: HistogramMetric, horizon: int) -> tuple[np.ndarray, float]:
    """(share paid back by month k for k = 1..H, share never paid back), over every trial,
    from the summary's exact payback histogram."""
    trials = payback.moments.n + payback.never
    counts = np.zeros(horizon + 1, dtype=np.int64)
    for month, count in payback.counts.items():
        counts[month] = count
    return np.cumsum(counts[1:]) / trials, payback.never / trials


def never_paid_back(payback: HistogramMetric) -> dict:
    """The share of trials that never pay back as a probability estimate: 0 of n keeps its bound."""
    return probability(payback.never, payback.moments.n + payback.never)


def go_live_stats(summary: dict) -> dict | None:
    """P10, P50 and P90 of the go-live month over every trial (the summary's exact histogram)."""
    m = summary["metrics"].get("go_live_month")
    if m is None:
        return None
    return {p: m[p]["value"] for p in ("p10", "p50", "p90")}


#: Metadata key of the correlation repairs (a JSON list of {"drivers": [a, b], "requested":
#: r or null, "used": r}, as `simengine run --json` prints them).
REPAIRS_KEY = "correlation_repairs"


def correlation_repairs(meta: dict, given=None) -> list[tuple[str, str, float | None, float]]:
    """(a, b, requested Spearman or None, used Spearman) of each pair --repair-correlations
    changed: `given` (Scenario.correlation_repairs or RunResult.correlation_repairs) when the
    caller has it, else what the result file's metadata stores; [] when nothing was repaired."""
    if given:
        return [(a, b, old, new) for a, b, old, new in given]
    raw = meta.get(REPAIRS_KEY)
    if not raw:
        return []
    return [(r["drivers"][0], r["drivers"][1], r.get("requested"), r["used"]) for r in json.loads(raw)]


def correlations_text(scenario: Scenario, repairs: list) -> str:
    """The correlations note: each pair's Spearman as used; after a repair, that it was repaired
    (the table `repairs_table` gives the requested and used values)."""
    if repairs:
        return ("Correlations repaired: the requested matrix was not positive semi-definite, so "
                "--repair-correlations replaced it by the nearest valid one (Higham 2002), which this run "
                "used. Each pair's Spearman rank correlation as requested and as used:")
    return "Correlations: " + ("; ".join(f"{a} ~ {b}: Spearman {r:g}" for (a, b), r in
                                         ((c.drivers, c.spearman) for c in scenario.correlations)) or "none") + "."


def inputs_table(scenario: Scenario, sampled) -> str:
    """Each sampled driver: its distribution and its P10/P50/P90 as sampled (or, where the
    file does not store it, from the distribution itself, marked so). `sampled(name)` gives a
    driver's draws, or None where the file does not store it: read one driver at a time."""
    fields = scenario.fields()
    rows, from_distribution = [], False
    for name in scenario.drivers():
        values = sampled(name)
        if name in fields:
            described = fields[name].describe()
        else:
            described = "0/1: whether the event occurs"
        if name.endswith(".occurred") and values is not None and values.size:
            hits = int(np.count_nonzero(values))
            share = probability(hits, values.size)
            rows.append([name, described, "", "occurs in " + (charts.bound_text(share)
                                                               or f"{share['value'] * 100:.1f} %"), ""])
            continue
        if values is not None and values.size:
            q = np.quantile(values, [0.1, 0.5, 0.9], method="inverted_cdf")
            mark = ""
        else:
            dist = fields.get(name)
            q = dist.ppf(np.array([0.1, 0.5, 0.9])) if dist is not None else [math.nan] * 3
            mark, from_distribution = " *", True
        rows.append([name, described] + [number(v) + mark for v in q])
    note = paragraph("* from the distribution: this file does not store that driver.", "note") \
        if from_distribution else ""
    return table(["driver", "distribution", "P10", "P50", "P90"], rows, text_columns=2) + note


# --- budget and date ---------------------------------------------------------------------------

def month_text(x) -> str:
    return "never" if x is None else f"{x:g}"


def amount_cell(est: dict):
    """(amount, "± se") for a table cell: the standard error on a second line."""
    if est is None or est.get("value") is None:
        return "n/a"
    se = est.get("se")
    return (amount(est["value"]), f"± {amount(se)}" if se is not None else "")


def budget_cell(est: dict):
    """A frontier budget: the amount ± its standard error, the reason when it has none, or why
    there is no amount ("not reachable", "not determined")."""
    if est["value"] is None:
        return est.get("note", "n/a")
    return (amount(est["value"]), est["note"]) if est.get("note") else amount_cell(est)


def month_cell(est: dict, unit: str = ""):
    """(month, "± se") for a table cell, as `amount_cell`; "never" has no standard error."""
    if est["value"] is None:
        return "never"
    return (f"{month_text(est['value'])}{unit}", f"± {est['se']:.2f}" if est.get("se") is not None else "")


def share_of_base(share: float | None) -> str:
    """A contingency as a share of the base, " (+26.7 %)"; none reads " (0 %)", a tiny one keeps
    its digits (" (+0.0012 %)"), so no contingency reads as a rounded "0.0 %"."""
    return "" if share is None else f" ({charts.signed_percent(share)})"


def budget_headline(block: dict, currency: str) -> str:
    """What a board signs: the base case, how likely it holds, what 80 % and 70 % of both take."""
    cost, date, joint = block["costs"]["one_time_cost"], block["go_live"], block["joint"]
    p80, k80 = cost["p80"]["value"], cost["contingency"]["p80"]
    lines = [f"Base case (every driver at its most likely value, no risk event: the spreadsheet's figure): "
             f"one-time cost {amount(cost['base'])} {currency}, live by month {date['planned']:g}. "
             f"That cost is enough in {probability_in_trials(cost['p_base_enough'])}; the planned month holds in "
             f"{probability_in_trials(date['p_on_plan'])}; both together in "
             f"{probability_in_trials(joint['base_and_plan'])}."]
    if p80 is not None:
        k = date["contingency_months"]["p80"]["value"]
        share = "" if k80["share_of_base"] is None else f", {charts.signed_percent(k80['share_of_base'])}"
        lines.append(f"To be 80 % sure of each on its own: budget {amount(p80)} {currency}, the base case plus a contingency of "
                     f"{amount(k80['value'])}{share}; and plan to be live by month {month_text(date['p80']['value'])}, "
                     f"{month_text(k)} months of schedule contingency after the plan.")
    level = f"{joint['level'] * 100:g} %"
    reached = [p for p in joint["frontier"] if p["budget"]["value"] is not None]
    if reached:
        first = reached[0]
        text = (f"To be {level} sure of budget and date together: {amount(first['budget']['value'])} {currency} "
                f"if live by month {first['go_live_month']:g} (the earliest month that can reach {level})")
        at_p80 = [p for p in reached if p["go_live_month"] == date["p80"]["value"] and p is not first]
        if at_p80:
            text += f", {amount(at_p80[0]['budget']['value'])} if live by month {at_p80[0]['go_live_month']:g}"
        lines.append(text + "; the frontier below gives the months around it.")
    else:
        lines.append(f"No go-live month in the run is reached by {level} of trials: no budget makes both "
                     f"{level} sure.")
    chosen = joint.get("chosen")
    if chosen is not None:
        lines.append(f"The decision's budget {amount(chosen['budget'])} {currency} and date (live by month "
                     f"{chosen['go_live_month']:g}) hold together in {probability_in_trials(chosen['probability'])}.")
    return '<div class="headline">' + "".join(paragraph(x) for x in lines) + "</div>"


def budget_tables(block: dict, currency: str, figures: dict[str, str] | None = None) -> str:
    """The budget and date block as tables: cost percentiles and contingency (then the cost
    S-curve), go-live (then its histogram), the joint frontier (then the joint chart), and the
    spreadsheet NPV against the simulated one. `figures`: each chart's <figure> by its stem."""
    figures = figures or {}
    from .confidence import CONTINGENCY_LEVELS, COST_LEVELS, DATE_LEVELS, FUNDED_LEVEL

    labels = {"one_time_cost": "one-time cost", "total_cost": "total cost of ownership"}
    costs = table([f"cost ({currency})", "base case", *(f"P{p}" for p in COST_LEVELS), "P(base is enough)"],
                  [[labels[name], amount(c["base"]), *(amount_cell(c[f"p{p}"]) for p in COST_LEVELS),
                    probability_estimate(c["p_base_enough"])]
                   for name, c in block["costs"].items() if name in labels])

    def contingency_cell(k):
        if k["value"] is None:
            return "n/a"
        return (amount(k["value"]) + share_of_base(k["share_of_base"]),
                f"± {amount(k['se'])}" if k.get("se") is not None else "")
    contingency = table([f"contingency over the base case ({currency}, % of base)",
                         *(f"to P{p}" for p in CONTINGENCY_LEVELS)],
                        [[labels[name], *(contingency_cell(c["contingency"][f"p{p}"]) for p in CONTINGENCY_LEVELS)]
                         for name, c in block["costs"].items() if name in labels])
    g = block["go_live"]
    date = table(["go-live month", "base case (the plan)", *(f"P{p}" for p in DATE_LEVELS),
                  "P(on or before plan)", f"schedule contingency to P{FUNDED_LEVEL}"],
                 [["months from the start", month_text(g["planned"]), *(month_cell(g[f"p{p}"]) for p in DATE_LEVELS),
                   probability_estimate(g["p_on_plan"]),
                   month_cell(g["contingency_months"][f"p{FUNDED_LEVEL}"], " months")]])
    joint = block["joint"]
    level = f"{joint['level'] * 100:g} %"
    frontier = table(["live by month D", "P(live by D)", f"budget B(D) for {level} of both ({currency})"],
                     [[f"{p['go_live_month']:g}" + (" (plan)" if p["go_live_month"] == g["planned"] else ""),
                       probability_estimate(p["p_live_by"]),
                       budget_cell(p["budget"])]
                      for p in joint["frontier"]])
    npv, base = block["npv"], block["base_case"]
    spreadsheet = table([f"NPV ({currency})", "estimate ± standard error"],
                        [["spreadsheet (base case)", amount(npv["base"])],
                         ["simulated mean", with_se(npv["mean"], amount)],
                         ["simulated median", with_se(npv["p50"], amount)],
                         ["cost of risk (spreadsheet - simulated mean)", with_se(npv["cost_of_risk"], amount)]])
    payback = base.get("payback_months")
    return "".join([
        costs, contingency,
        paragraph("P50 to P95: the cost that 50 % to 95 % of trials stay at or below (± its standard error). "
                  "The contingency is the percentile minus the base case: what to set aside over the spreadsheet's "
                  "figure to be that sure. The total cost of ownership adds the running costs over the horizon.",
                  "note"),
        figures.get("budget-s-curve", ""),
        date, figures.get("go-live", ""),
        paragraph(f"Budget and date together: the base case's one-time cost and the planned month hold together in "
                  f"{probability_in_trials(joint['base_and_plan'])}. For each go-live month D, the smallest budget "
                  f"B(D) that the one-time cost stays within, with the system live by D, in {level} of all "
                  f"{joint['trials']:,} trials:"),
        frontier,
        paragraph("A month D means live at the latest by the end of month D."
                  + (" 'not reachable': fewer than " + level + " of trials are live by then, so no budget is enough."
                     if any(p["budget"].get("note", "").startswith("not reachable") for p in joint["frontier"]) else "")
                  + (" 'not determined': the exact figure was not kept by the streamed summary (it is never "
                     "guessed)." if any(p["budget"].get("note", "").startswith("outside") for p in joint["frontier"])
                     else ""), "note"),
        figures.get("joint", ""),
        spreadsheet,
        paragraph("The base case's ROI is " + ("n/a" if base.get("roi") is None else f"{base['roi'] * 100:.1f} %")
                  + " and it pays back "
                  + (f"in month {payback:g}" if payback is not None else "not within the horizon")
                  + ". The cost of risk is what the single spreadsheet figure leaves out: the NPV lost on average "
                    "to the spread of the drivers and the risk events.", "note"),
    ])


def tornado_note_text(scenario: Scenario, drivers: list[str]) -> str:
    """Why a chart of the drivers is missing."""
    if not scenario.drivers():
        return "the scenario has no sampled drivers."
    if not drivers:
        return "this file does not store the drivers (run with --columns all)."
    return "too few trials to rank the drivers."


def pilot_section(stored, trials: int, currency: str, add) -> list[str]:
    """The value-of-information part of a report: a headline, the EVPPI chart (added as "voi")
    and a note on the trials used; each entry is HTML or the stem of a chart."""
    from .information_value import from_result, value_of_information

    used = min(trials, TORNADO_TRIALS)
    try:
        voi = value_of_information(from_result(stored, "npv", used), seed=int(stored.metadata["seed"]))
    except SimengineError as exc:  # too few trials, or NPV undefined somewhere
        return [paragraph(f"No value-of-information chart: {str(exc).split(': ', 1)[-1]}.", "note")]
    evpi, nb = voi["evpi"], voi["net_benefit"]
    subset = f"all {trials:,} trials" if used == trials else f"the first {used:,} of {trials:,} trials"
    lead = (f"On what is known now the better option is to {voi['choice'].replace('do not', 'not')} (mean NPV "
            f"{amount(nb['value'])} ± {amount(nb['se'])} {currency} over {subset}). Knowing every driver before "
            f"deciding would be worth {amount(evpi['value'])} ± {amount(evpi['se'])} {currency} in expected NPV "
            "(EVPI): no pilot, study or test can be worth more.")
    lead = " ".join([lead, *(line for line in worth_lines(voi) if line)])
    worth = sum(1 for r in voi["drivers"] if r["evppi"]["value"] > 0)
    if evpi["value"] == 0.0:
        lead = (f"Every trial favours the same option ({voi['choice']}, over {subset}): no pilot, study or test "
                "can change the decision, so none is worth running for it.")
    if not worth:
        return [paragraph(lead), paragraph("No value-of-information chart: no driver alone can change the decision "
                                           "(the expected NPV keeps its sign at every value of each).", "note")]
    add("voi", "Expected value of learning each driver before deciding",
        f"EVPPI of the {min(TORNADO_DRIVERS, worth)} drivers most worth learning, with 95 % intervals (± 1.96 "
        f"standard errors), estimated from {subset} by regressing NPV on each driver; the dashed line is EVPI. "
        + (f"The other {len(voi['drivers']) - worth} of {len(voi['drivers'])} drivers never change the decision: "
           "the expected NPV keeps its sign at every value of each. " if worth < len(voi["drivers"]) else "")
        + "simengine value-of-information gives every driver and groups of drivers learnt together.",
        charts.voi_bars(voi, top=TORNADO_DRIVERS))
    return [paragraph(lead), "voi"]


def variance_section(scenario: Scenario, seed: int, trials: int, add) -> list[str]:
    """The Sobol' part of a report: a headline and the indices chart (added as "sobol"); each
    entry is HTML or the stem of a chart. It runs (factors + 2) x N trials of the scenario, N
    the default 8,192 or the run's trials if fewer (a quick run gets a quick report)."""
    from .sobol import DEFAULT_SOBOL_TRIALS, sobol_indices

    if not scenario.drivers():
        return [paragraph("No Sobol' indices: the scenario has no sampled drivers.", "note")]
    try:
        result = sobol_indices(scenario, seed=seed, trials=min(trials, DEFAULT_SOBOL_TRIALS))
    except SimengineError as exc:  # NPV the same in every trial
        return [paragraph(f"No Sobol' indices: {str(exc).split(': ', 1)[-1]}.", "note")]
    top = result["factors_list"][0]
    lead = (f"{top['name']} explains {top['first_order']['value']:.0%} of the variance of NPV alone and "
            f"{top['total']['value']:.0%} with its interactions (total effect). The first-order indices add up "
            f"to {result['sum_first_order']:.0%}; the rest is interactions between factors.")
    grouped = any(len(f["drivers"]) > 1 for f in result["factors_list"])
    add("sobol", "Sobol' indices of NPV by factor",
        f"First-order (alone) and total (alone and with others) Sobol' indices of NPV for the "
        f"{min(TORNADO_DRIVERS, result['factors'])} factors with the largest total effect, of {result['factors']}, "
        f"with {result['conf_level'] * 100:g} % bootstrap intervals; from {result['runs']} runs of "
        f"{result['trials_per_matrix']:,} trials each ({result['total_trials']:,} trials, seed {seed}) in which "
        "one factor's random numbers change at a time. "
        + (result["note"] + " " if grouped else "")
        + "simengine sensitivity --method sobol gives every factor.",
        charts.sobol_bars(result, top=TORNADO_DRIVERS))
    return [paragraph(lead), "sobol"]


#: What a result's report does, in order, as its status line names it (after "summarizing the
#: stored trials" when the caller has no summary).
REPORT_STEPS = ("Sobol' indices, running the model again", "charts", "ranking the drivers",
                "value of information", "inputs as sampled")


def result_report(path: "Path | str | StoredResult", correlation_repairs_made=None, summary: dict | None = None,
                  histograms: dict | None = None, on_step=None) -> Report:
    """The report of one result file. `correlation_repairs_made` (Scenario.correlation_repairs)
    names what --repair-correlations changed when the file's metadata does not store it.
    `summary`: the file's summary when the caller has it (the run that wrote the file), which
    saves summarizing the file again: a second pass over every value, and its memory; with it,
    `histograms`: that run's exact go-live and payback month histograms (HistogramMetric by
    name), else they are read back from the file's two columns. `on_step(text, step, steps)`
    hears each step as it starts (progress.StatusLine shows them)."""
    steps = (["summarizing the stored trials"] if summary is None else []) + list(REPORT_STEPS)

    def step(text: str) -> None:
        if on_step is not None:
            on_step(text, steps.index(text) + 1, len(steps))

    stored = open_stored(path)
    meta = stored.metadata
    scenario = scenario_from_json(meta["scenario"])
    names = set(stored.schema.names)
    require_columns(stored, NEEDED, scenario.drivers(), "a report needs the metrics stored; this file was run with "
                    f"--columns {meta.get('columns', 'drivers')} (use --columns all or metrics)")
    trials, currency, horizon = int(meta["trials"]), scenario.currency, scenario.horizon_months
    repairs = correlation_repairs(meta, correlation_repairs_made)
    if summary is None:
        step("summarizing the stored trials")
        _, _, acc = accumulate_file(stored)
        summary = {**summary_header(scenario, int(meta["seed"]), trials, meta["sampling"]), **acc.summary()}
        histograms = acc.histograms
        del acc  # its percentile bands hold ~60 MB at a million trials; the histograms are all that is kept
    else:
        summary = dict(summary)  # the caller's stays as it was
        months = ("go_live_month", "payback_months")
        given = histograms or {}
        histograms = ({m: given[m] for m in months} if all(m in given for m in months)
                      else file_histograms(stored, months))
    absent = [m for m in summary["metrics"] if m not in names]
    if absent:  # written before these metrics existed: left out, as `simengine summarize` does
        summary["metrics"] = {m: block for m, block in summary["metrics"].items() if m not in absent}
        summary["metrics_absent"] = absent
        summary.pop("budget_and_date", None)  # it needs the costs and the go-live month
    budget = summary.get("budget_and_date")
    drivers = [d for d in scenario.drivers() if d in names]
    built: list[Chart] = []

    def add(stem, alt, caption, fig):
        built.append(Chart(stem, alt, caption, charts.png_bytes(fig)))

    # Sobol' runs the model again: before the chart samples are read, so that its peak (SALib's
    # bootstrap) and theirs do not add up; its chart joins the others in page order below
    sobol_charts: list[tuple] = []
    step(REPORT_STEPS[0])
    sobol_parts = variance_section(scenario, int(meta["seed"]), trials, lambda *chart: sobol_charts.append(chart))
    step("charts")
    # The charts' trials are read two columns at a time (the budget's, then NPV and ROI), so
    # that a million of each pair is in memory at once, not of all four.
    limit = min(trials, CHART_TRIALS)
    sample = stored.head(["one_time_cost", "go_live_month"] if budget else ["npv", "roi"], limit)
    shown = next(iter(sample.values())).size
    head_note = "" if shown == trials else f"histogram of the first {shown:,} of {trials:,} trials"

    if budget:
        cost_block = budget["costs"]["one_time_cost"]
        k80 = cost_block["contingency"]["p80"]["value"]
        subset = "" if shown == trials else f"the first {shown:,} of {trials:,} trials"
        add("budget-s-curve", "Cumulative distribution of the one-time cost with the base case and P80",
            f"S-curve of the one-time cost: the share of trials whose one-time cost is at or below each amount, "
            f"drawn from {subset or f'all {trials:,} trials'}. The grey line is the base case "
            f"({amount(cost_block['base'])} {currency}), the dashed and dash-dotted lines are P50 and P80; the "
            f"arrow from the base case to P80 is the contingency to P80"
            + (f" ({amount(k80)} {currency})" if k80 is not None else "") + ". P50, P80 and the share within "
            f"the base case are the summary's, over all {trials:,} trials. The axis runs from P0.2 to P99 of the "
            f"one-time cost (P95 is in the table above).",
            charts.budget_s_curve(sample["one_time_cost"], cost_block, currency, subset))
        add("go-live", "Histogram of the go-live month with the plan and P80",
            f"The month in which the system goes live, over all {trials:,} trials (each bar drawn over its "
            f"month, so everything left of a line at month D is live by D). Hatched bars are later than the "
            f"plan (the base case's month {budget['go_live']['planned']:g}); the dashed line is P80.",
            charts.go_live_histogram(histograms["go_live_month"].counts, budget["go_live"]))
        points = min(shown, JOINT_POINTS)
        dots = (f"the first {points:,} of {trials:,} trials" if points < trials else
                f"all {trials:,} trials" if trials > 1 else "the run's only trial")
        level = f"{budget['joint']['level'] * 100:g} %"
        add("joint", "One-time cost against go-live month with the joint frontier",
            f"One-time cost against go-live month, one dot per trial ({dots}), each drawn within the month "
            f"it goes live. The step line is the {level} frontier over all {trials:,} trials: live by month D "
            f"(a point on the line, or left of it) and within budget B(D) (on the line or below it) together "
            f"in {level} of trials. The diamond is the base case (its cost by the planned month); the dashed "
            f"and dotted lines are the P80 one-time cost and the P80 go-live month, each on its own.",
            charts.joint_chart(sample["one_time_cost"][:points], sample["go_live_month"][:points], budget,
                               currency, dots))
        del sample
        sample = stored.head(["npv", "roi"], limit)

    add("npv-histogram", "Histogram of NPV",
        f"Distribution of NPV over {shown:,} trials. Losses are hatched; the thick line is break-even; "
        f"dotted, dashed and dash-dotted lines are P5, P50 and P95. The bars span about P0.5 to P99.5; "
        f"the share of trials beyond each end is given under the chart.",
        charts.npv_histogram(sample["npv"], summary, currency, head_note))
    curves_from = ("" if shown == trials else f" The curves are drawn from the first {shown:,} of {trials:,} "
                   f"trials; the shares in the legends count all {trials:,}.")
    add("s-curves", "Cumulative distributions of NPV and ROI",
        "S-curves: the probability that NPV (left) or ROI (right) comes out at or below each value. "
        "Vertical lines are break-even and the scenario's decision targets, with the share of trials "
        "that meet each." + curves_from, charts.s_curves(sample["npv"], sample["roi"], summary, currency))
    ranked_mean = float(np.nanmean(sample["npv"][:min(trials, TORNADO_TRIALS)]))
    del sample  # the charts of every trial are drawn: what follows (ranking, EVPPI) reuses the memory
    paid, _ = payback_shares(histograms["payback_months"], horizon)
    never = never_paid_back(histograms["payback_months"])
    target = scenario.decision.payback_months_max
    met = summary.get("targets", {}).get("payback_months_max", {}).get("probability")
    add("payback", "Probability of having paid back by each month",
        f"The share of all {trials:,} trials whose cumulative cash has turned non-negative by each month; "
        f"never within the {horizon}-month horizon: {charts.in_trials(never)}.",
        charts.payback_curve(paid, never, horizon, target, met))
    fan_note = ""
    if "cash_fan" in meta:
        fan = json.loads(meta["cash_fan"])
        add("cash-fan", "Fan chart of cumulative cash by month",
            "Cumulative net cash (undiscounted) after each month elapsed, drawn as steps from month 0 (no "
            "cash yet): the middle 80 % (P10-P90) and middle 50 % (P25-P75) of trials, and the median. "
            "Month k shows the cash after k months, as payback counts them: the first month where the median "
            "is at or above zero is the median payback month, unless some trials fall back below zero after "
            "paying back. Exact percentiles of "
            + (f"all {trials:,} trials" if fan["trials"] == trials else
               f"the run's first {fan['trials']:,} trials (of {trials:,})")
            + f". The shaded column is where go-live falls in 80 % of all {trials:,} trials; "
            f"the dashed line is the median go-live month.",
            charts.fan_chart(fan, go_live_stats(summary), currency))
    else:
        fan_note = paragraph("No fan chart: this file was written before simengine stored per-month cash "
                             "percentiles (0.3.0); run the scenario again to get it.", "note")
    tornado_note = ""
    table_rows = []
    step("ranking the drivers")
    if not scenario.drivers():
        tornado_note = "No tornado chart: the scenario has no sampled drivers."
    elif not drivers:
        tornado_note = "No tornado chart: this file does not store the drivers (run with --columns all)."
    else:
        used = min(trials, TORNADO_TRIALS)
        try:
            table_rows = ranking.sensitivity(stored, "npv", max_trials=used)["drivers"]
        except ResultFileError as exc:  # too few trials to rank drivers
            tornado_note = f"No tornado chart: {str(exc).split(': ', 1)[-1]}."
    if table_rows:
        base = ranked_mean
        ranked = (f"mean NPV over all {trials:,} trials" if used == trials
                  else f"mean NPV of the {used:,} trials ranked")
        add("tornado", "Tornado chart of the drivers of NPV",
            f"Mean NPV when each driver is in its lowest 10 % (hatched) or highest 10 % of draws; for a risk "
            f"event, without and with it. The {min(TORNADO_DRIVERS, len(table_rows))} widest swings of "
            f"{len(table_rows)} drivers, largest on top; the line is the {ranked}"
            + ("" if used == trials else f" (the first {used:,} of {trials:,}; the summary's mean is over all "
                                         f"of them)")
            + ". simengine sensitivity gives the full table with standard errors.",
            charts.tornado(table_rows, base, currency, top=TORNADO_DRIVERS, base_label=ranked))
    tornado_note = paragraph(tornado_note, "note") if tornado_note else ""
    for chart in sobol_charts:
        add(*chart)
    step("value of information")
    voi_parts = pilot_section(stored, trials, currency, add) if table_rows else [paragraph(
        "No value-of-information chart: " + tornado_note_text(scenario, drivers), "note")]

    step("inputs as sampled")
    described = facts([
        ("scenario", scenario.name), ("seed", meta["seed"]), ("trials", f"{trials:,}"),
        ("sampling", meta.get("sampling", "mc")), ("currency", currency), ("horizon", f"{horizon} months"),
        ("discount rate", value_or_distribution(scenario.discount_rate, lambda x: f"{x * 100:g} % a year")), ("scenario sha256", meta.get("scenario_sha256", "")),
        ("simengine", meta.get("version", "")), ("result file", Path(stored.where.rstrip("/\\")).name),
    ])
    by_stem = {c.stem: c for c in built}
    body = [
        heading(f"Risk report: {scenario.name}"),
        paragraph(scenario.description.strip(), "lead"), described,
        section("Budget and date", budget_headline(budget, currency),
                budget_tables(budget, currency, {stem: figure(by_stem[stem])
                                                 for stem in ("budget-s-curve", "go-live", "joint")}))
        if budget else paragraph("No budget and date section: this file was written before simengine stored "
                                 + ", ".join(absent or ["the base case"])
                                 + "; run the scenario again to get it.", "note"),
        section("Net present value", headline(summary, currency), figure(by_stem["npv-histogram"]),
                figure(by_stem["s-curves"])),
        section("Payback and cash position", figure(by_stem["payback"]),
                figure(by_stem["cash-fan"]) if "cash-fan" in by_stem else fan_note),
        section("What drives the result", figure(by_stem["tornado"]) if "tornado" in by_stem else tornado_note),
        section("What drives the variance", *[figure(by_stem[p]) if p in by_stem else p for p in sobol_parts]),
        section("Is a pilot worth it?", *[figure(by_stem[p]) if p in by_stem else p for p in voi_parts]),
        section("Summary with Monte Carlo standard errors", summary_tables(summary, currency),
                paragraph("Every estimate carries its Monte Carlo standard error (± one SE). Percentile "
                          "standard errors are order-statistic intervals; undefined values (no IRR, no "
                          "payback within the horizon) are counted in the last column, never dropped. "
                          "A payback percentile of 'never' lies beyond the horizon.", "note")),
        section("Inputs as sampled",
                inputs_table(scenario, lambda name: stored.head([name], min(trials, TORNADO_TRIALS))[name]
                             if name in names else None),
                paragraph("P10, P50 and P90 of each driver (an event: how often it occurs) over "
                          + (f"all {trials:,} trials." if trials <= TORNADO_TRIALS else
                             f"the first {TORNADO_TRIALS:,} of {trials:,} trials."), "note"),
                paragraph(correlations_text(scenario, repairs), "note"),
                *([table(["driver", "driver", "Spearman requested", "Spearman used"],
                         [[a, b, "none (added by the repair)" if old is None else f"{old:g}", f"{new:.3f}"]
                          for a, b, old, new in repairs], text_columns=2)] if repairs else [])),
    ]
    title = f"Risk report: {scenario.name}"
    return Report(title, page(title, *body), built)


# --- a comparison ----------------------------------------------------------------------------

def comparison_report(result: dict, samples: dict[str, np.ndarray], a: Scenario, b: Scenario) -> Report:
    """The report of `simengine compare`: both S-curves, the ΔNPV histogram, both summaries."""
    currency = result["currency"]
    names = (a.name, b.name)
    kept = samples["a_npv"].size
    built = [
        Chart("compare-s-curves", "NPV S-curves of both scenarios",
              f"Cumulative distributions of NPV, A solid and B dashed, over {kept:,} trials with common random "
              f"numbers.", charts.png_bytes(charts.compare_s_curves(samples["a_npv"], samples["b_npv"], names,
                                                                    currency))),
        Chart("delta-npv", "Histogram of the NPV difference A - B",
              "NPV(A) - NPV(B) in each trial: right of zero A does better. The mean (dashed) carries its "
              "standard error under common random numbers.",
              charts.png_bytes(charts.delta_histogram(samples["a_npv"] - samples["b_npv"], result["delta_npv"],
                                                      names, currency))),
    ]
    d = result["delta_npv"]
    pct = probability_estimate
    diff_rows = [["mean ΔNPV", with_se(d["mean"], amount)],
                 ["… its standard error if the runs were independent",
                  amount(result["delta_npv_mean_se_if_independent"])],
                 *[[f"P{p} ΔNPV", with_se(d[f"p{p}"], amount)] for p in (5, 10, 50, 90, 95)],
                 ["P(A has the higher NPV)", pct(result["p_a_beats_b_npv"])],
                 ["P(A pays back earlier than B)", pct(result["p_a_pays_back_earlier"])],
                 ["P(B pays back earlier than A)", pct(result["p_b_pays_back_earlier"])]]
    title = f"Comparison: {a.name} against {b.name}"
    body = [
        heading(title),
        facts([("A", a.name), ("B", b.name), ("trials", f"{result['trials']:,} each"), ("seed", result["seed"]),
               ("method", "common random numbers: drivers with the same name share their draws"),
               ("currency", currency)]),
        section("NPV of both", figure(built[0]), figure(built[1])),
        section(f"Difference A - B ({currency})", table(["measure", "estimate ± standard error"], diff_rows)),
        section(f"A: {a.name}", paragraph(a.description.strip(), "lead"),
                summary_tables(result["a"]["summary"], currency)),
        section(f"B: {b.name}", paragraph(b.description.strip(), "lead"),
                summary_tables(result["b"]["summary"], currency)),
    ]
    return Report(title, page(title, *body), built)
