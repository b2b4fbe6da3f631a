"""The portfolio's HTML report: one self-contained page (and, on request, its charts as PNGs).

Everything on the page comes from the portfolio's summary (docs/model.md, "Portfolios"), over
every trial, and with its Monte Carlo standard error where the summary has one; only the
histogram and the members' violins draw the run's first trials (`samples`), and say so. A
probability seen in 0 of n trials (or n of n) shows its one-sided 95 % bound, never "0.0 %".
The portfolio's, members' and scenarios' names are free text: they reach the page only
through html_page's builders, which escape them, and the charts draw them literally.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from . import charts
from . import metrics as registry
from . import portfolio_charts as pc
from .html_page import Chart, facts, figure, heading, page, paragraph, section, table
from .portfolio_run import PORTFOLIO_SAMPLE
from .report import Report, amount, probability_estimate, probability_in_trials, with_se


# --- formatting ------------------------------------------------------------------------------

def money_cell(est: dict | None, bound: bool = False):
    """(amount, "± se") for a table cell; `bound`: the ± is an upper bound on the standard error."""
    if est is None or est.get("value") is None:
        return "n/a"
    se = est.get("se")
    if se is None:
        return amount(est["value"])
    return (amount(est["value"]), f"± {amount(se)}" + (" (at most)" if bound else ""))


def probability_cell(est: dict | None):
    """(share, "± se") for a table cell; 0 or every trial shows its 95 % bound."""
    if est is None or est.get("value") is None:
        return "n/a"
    bound = charts.bound_text(est)
    if bound is not None or est.get("se") is None:
        return probability_estimate(est)
    text = probability_estimate(est)
    value, _, se = text.partition(" ± ")
    return (value, f"± {se}")


def share_cell(share: float | None) -> str:
    return "n/a" if share is None or not math.isfinite(share) else f"{share * 100:.1f} %"


def target_label(key: str, target: float, currency: str) -> str:
    """A portfolio target as the page words it."""
    if key == "npv_min":
        return f"portfolio NPV ≥ {amount(target)} {currency}"
    if key == "roi_min":
        return f"portfolio ROI ≥ {target * 100:g} %"
    if key == "payback_months_max":
        return f"portfolio payback within {target:g} months"
    try:
        return "portfolio " + registry.target_rule(key).report_label(target)
    except KeyError:
        return f"{key} {target:g}"


def constraint_label(key: str, target: float, currency: str) -> str:
    if key == "cvar_min":
        return f"CVaR 5 % of portfolio NPV ≥ {amount(target)} {currency}"
    if key == "budget_exceedance_max":
        return f"P(budget exceeded) ≤ {target * 100:g} %"
    return f"{key} {target:g}"


def beyond_limit(share: dict | None) -> str:
    """The exact share of trials above a limit (with its standard error, or its 95 % bound for
    none of them), or "no limit"."""
    return "no limit" if share is None else probability_estimate(share)


# --- sections ---------------------------------------------------------------------------------

def headline(summary: dict) -> str:
    cur = summary["currency"]
    npv = summary["metrics"]["npv"]
    lines = [f"Mean portfolio NPV {with_se(npv['mean'], amount)} {cur}; median {amount(npv['p50']['value'])}; "
             f"90 % of trials between {amount(npv['p5']['value'])} and {amount(npv['p95']['value'])}.",
             f"Probability of losing money (portfolio NPV < 0): {probability_estimate(summary['p_npv_negative'])}."]
    if summary.get("p_budget_exceeded") is not None:
        lines.append(f"The budget is exceeded (some year above its limit, or the total above the total budget) "
                     f"in {probability_in_trials(summary['p_budget_exceeded'])}.")
    cvar = summary["cvar5_npv"]
    tail = summary.get("trials_in_tail")
    line = (f"CVaR 5 %: the worst 5 % of trials{f' ({tail:,})' if tail else ''} average "
            f"{with_se(cvar, amount)} {cur}.")
    benefit = summary.get("diversification_benefit") or {}
    if benefit.get("value") is not None:
        se = benefit.get("se")
        error = "" if se is None else (f" (standard error at most {amount(se)})" if benefit.get("se_is_bound")
                                       else f" ± {amount(se)}")
        line += (f" Diversification benefit {amount(benefit['value'])} {cur}{error}: the portfolio's CVaR minus "
                 f"the sum of the members' own CVaRs"
                 + (f" ({amount(summary['members_cvar5_sum'])})" if summary.get("members_cvar5_sum") is not None
                    else "") + ".")
    lines.append(line)
    if "all" in summary.get("targets", {}):
        lines.append("All portfolio targets met together in "
                     f"{probability_in_trials(summary['targets']['all']['probability'])}.")
    constraints = summary.get("constraints") or {}
    if constraints:
        missed = [constraint_label(k, c["target"], cur) for k, c in constraints.items() if not c["met"]]
        lines.append("Constraints: " + ("all met." if not missed else "not met: " + "; ".join(missed) + "."))
    return '<div class="headline">' + "".join(paragraph(x) for x in lines) + "</div>"


def members_table(summary: dict) -> str:
    cur = summary["currency"]
    rows = []
    for name, m in summary["members"].items():
        c = summary["contributions"].get(name, {})
        own = m.get("summary", {})
        rows.append([name, m.get("scenario", ""), str(m.get("start_month", "")), f"{m.get('scale', 1.0):g}",
                     "yes" if m.get("linked") else "no", money_cell(m["npv_in_portfolio"].get("mean")),
                     probability_cell(own.get("p_npv_negative")), money_cell(c.get("contribution")),
                     share_cell(c.get("share")), money_cell(c.get("own_cvar5"))])
    rows.append(["sum", "", "", "", "", "", "", amount(summary.get("contributions_sum")),
                 share_cell(1.0 if summary.get("contributions_sum") is not None else None),
                 amount(summary.get("members_cvar5_sum"))])
    heads = ["member", "scenario", "start month", "scale", "linked", f"mean NPV in the portfolio ({cur})",
             "own P(NPV < 0)", f"CVaR 5 % contribution ({cur})", "share of CVaR", f"own CVaR 5 % ({cur})"]
    return table(heads, rows, text_columns=2)


def spend_table(summary: dict) -> str:
    """Each portfolio year's spend (mean, P50, P80, P95 with standard errors, as the summary has
    them) against its limit, then the whole horizon's total cost against the total budget."""
    cur = summary["currency"]
    years = summary["spend_by_year"]
    budget = summary.get("budget") or {}
    wanted = [k for k in ("mean", "p50", "p80", "p95") if any(k in y for y in years)]

    def row(label: str, months: str, limit, block: dict, over) -> list:
        limits = [("none" if limit is None else amount(limit))] if budget else []
        return [label, months, *limits, *(money_cell(block.get(k)) for k in wanted),
                *([beyond_limit(over)] if budget else [])]

    rows = [row(str(y["year"]), f"{y['months'][0]}-{y['months'][1]}", y.get("limit"), y, y.get("p_over_limit"))
            for y in years]
    total = summary["metrics"].get("total_cost")
    if total is not None:
        rows.append(row("all years", f"0-{summary['horizon_months'] - 1}", budget.get("total"), total,
                        budget.get("p_total_over")))
    heads = ["year", "months", *([f"limit ({cur})"] if budget else []),
             *[f"{'mean' if k == 'mean' else k.upper()} ({cur})" for k in wanted],
             *(["trials above the limit"] if budget else [])]
    return table(heads, rows, text_columns=2)


def targets_table(summary: dict) -> str:
    cur = summary["currency"]
    rows = []
    for key, t in summary.get("targets", {}).items():
        label = "all portfolio targets together" if key == "all" else target_label(key, t["target"], cur)
        rows.append([label, "probability met", probability_cell(t["probability"]), ""])
    for key, c in (summary.get("constraints") or {}).items():
        est = c["estimate"]
        value = probability_cell(est) if key == "budget_exceedance_max" else money_cell(est)
        verdict = "met" if c["met"] else "not met"
        se = est.get("se")
        if se and est.get("value") is not None and abs(est["value"] - c["target"]) < 2 * se:
            verdict += " (within 2 standard errors of the limit)"
        rows.append([constraint_label(key, c["target"], cur), "estimate", value, verdict])
    if not rows:
        return paragraph("The portfolio sets no targets and no constraints ([decision] in its file).", "note")
    return table(["target or constraint", "figure", "estimate ± standard error", "verdict"], rows, text_columns=2)


def how_to_read(summary: dict) -> str:
    return paragraph(
        "Each member is its own scenario, run on the portfolio's calendar from its start month and with its "
        "amounts multiplied by its scale; its NPV in the portfolio is that cash flow discounted to the "
        "portfolio's month 0, and the portfolio's NPV is their sum, trial by trial. A member's own figures "
        "(own P(NPV < 0), the violins) are on its own calendar and unscaled. CVaR 5 % is the mean NPV of the "
        "worst 5 % of trials; a member's contribution is its mean NPV in the portfolio over those same trials, "
        "so the contributions add up to the portfolio's CVaR, and a member whose own CVaR is much worse than "
        "its contribution is hedged by the others. The diversification benefit is the portfolio's CVaR minus "
        "the sum of the members' own: never negative; its ± is a bound, since the estimates are correlated. "
        "Members marked linked share a driver or a correlation with another. Spend by year counts every cost, "
        "one-time and run, in the portfolio's years of 12 months; a budget is exceeded when any year is above "
        "its limit or the total above the total budget. Every ± is one Monte Carlo standard error. The model "
        "is described in docs/model.md (section \"Portfolios\") and the file format in docs/portfolios.md.",
        "note")


# --- the page -------------------------------------------------------------------------------

def portfolio_page(summary: dict, samples: dict[str, np.ndarray]) -> Report:
    """The report's page and its charts, from the portfolio's summary and the run's first trials."""
    cur = summary["currency"]
    trials = int(summary["trials"])
    names = list(summary["members"])
    npv = np.asarray(samples.get(PORTFOLIO_SAMPLE, np.empty(0)), dtype=float)
    shown = npv.size
    subset = f"all {trials:,} trials" if shown >= trials else f"the first {shown:,} of {trials:,} trials"
    built: list[Chart] = []

    def add(stem, alt, caption, fig):
        built.append(Chart(stem, alt, caption, charts.png_bytes(fig)))

    add("portfolio-npv", "Histogram of the portfolio's NPV",
        f"Distribution of the portfolio's NPV over {subset}. Losses are hatched; the thick line is break-even; "
        f"the dashed line is the mean, the dotted one P5 and the dash-dotted one CVaR 5 %, each the summary's "
        f"over all {trials:,} trials with its standard error. The bars span about P0.5 to P99.5; the share "
        f"beyond each end is given under the chart.",
        pc.portfolio_npv_histogram(npv, summary, cur,
                                   "" if shown >= trials else f"histogram of the first {shown:,} of {trials:,} "
                                                               "trials"))
    if names:
        drawn = min(len(names), pc.TOP_VIOLINS)
        add("member-npv", "Each member's own NPV distribution",
            f"Each member's own NPV (on its own calendar, unscaled) over {subset}: the outline spans P0.5 to "
            f"P99.5, the thin line P5 to P95, the thick one P25 to P75; the short upright line is the median "
            f"and the diamond the mean of those trials."
            + (f" {drawn} of {len(names)} members are drawn: those with the highest mean NPV; the table above "
               f"gives every member." if drawn < len(names) else ""),
            pc.member_npv_violins(samples, names, cur))
        top = min(len(names), pc.TOP_CONTRIBUTIONS)
        add("cvar-contributions", "Each member's contribution to the portfolio's CVaR 5 %",
            f"Each member's mean NPV in the portfolio over the portfolio's worst 5 % of trials (its Euler "
            f"contribution to CVaR 5 %), with ±{pc.Z95} standard errors, and its share of the CVaR in brackets; "
            f"the diamonds are each member's own CVaR 5 % (in portfolio terms, over its own worst 5 %); the "
            f"dashed line is the portfolio's CVaR. The bars add up to the dashed line."
            + (f" The {top} largest of {len(names)} members are drawn alone, the others as one grey bar."
               if top < len(names) else ""),
            pc.cvar_contribution_bars(summary, cur))
    budget = summary.get("budget")
    add("spend-by-year", "Spend by portfolio year against the budget",
        "Spend in each portfolio year (every cost, one-time and run, of every member, scaled), over all "
        f"{trials:,} trials: the bands are P5-P95 and P10-P90, the solid step the median and the dotted one P80"
        + ("; the vermillion bars are the years' budget limits." if budget and any(
            v is not None for v in budget.get("per_year") or []) else "."),
        pc.spend_fan(summary, cur))
    by_stem = {c.stem: c for c in built}

    years = summary.get("years", len(summary["spend_by_year"]))
    described = facts([
        ("portfolio", summary["portfolio"]), ("members", f"{len(names)}"), ("trials", f"{trials:,}"),
        ("seed", str(summary["seed"])), ("horizon", f"{summary['horizon_months']} months ({years} years)"),
        ("currency", cur),
        ("budget", "none" if not budget else "; ".join(
            [*(["per year: " + ", ".join("-" if v is None else amount(v) for v in budget["per_year"])]
               if any(v is not None for v in budget.get("per_year") or []) else []),
             *([f"total: {amount(budget['total'])}"] if budget.get("total") is not None else [])]) or "none"),
        ("histogram and violins from", subset), ("simengine", str(summary.get("version", ""))),
    ])
    member_parts = [members_table(summary),
                    paragraph("Mean NPV in the portfolio: the member's cash flows scaled and discounted to the "
                              "portfolio's month 0. Own P(NPV < 0): on the member's own calendar (the sign is "
                              "the same). CVaR contribution: its mean NPV in the portfolio over the portfolio's "
                              "worst 5 % of trials; own CVaR 5 %: over its own worst 5 %, in portfolio terms. "
                              "The contributions' sum is the portfolio's CVaR up to rounding.", "note")]
    member_parts += [figure(by_stem[s]) for s in ("member-npv", "cvar-contributions") if s in by_stem]
    if not names:
        member_parts = [paragraph("No member is funded in this run.", "note")]
    title = f"Portfolio report: {summary['portfolio']}"
    body = [
        heading(title), described,
        section("Portfolio NPV", headline(summary), figure(by_stem["portfolio-npv"])),
        section("Members", *member_parts),
        section("Spend by year", figure(by_stem["spend-by-year"]), spend_table(summary),
                paragraph("Trials above the limit: counted exactly, trial by trial. The 'all years' row is the total "
                          "cost over the horizon against the total budget; P(budget exceeded) counts a trial "
                          "above any year's limit or the total.", "note")
                if budget else paragraph("No budget is set ([budget] in the portfolio file).", "note")),
        section("Targets and constraints", targets_table(summary)),
        section("How to read this", how_to_read(summary)),
    ]
    return Report(title, page(title, *body), built)


def write_portfolio_report(path: Path, summary: dict, samples: dict[str, np.ndarray], force: bool = False,
                           png_dir: Path | None = None) -> list[Path]:
    """Write the portfolio's report page at `path` (and each chart as a PNG in `png_dir`), each
    file atomically; refuses to overwrite an existing file unless `force` (OutputExistsError)
    before any work. Returns every path written, the page first."""
    from .output import check_writable

    path = Path(path)
    png_dir = Path(png_dir) if png_dir is not None else None
    stems = ("portfolio-npv", "member-npv", "cvar-contributions", "spend-by-year")
    check_writable([path, *([png_dir / f"{s}.png" for s in stems] if png_dir is not None else [])], force)
    return portfolio_page(summary, samples).write(path, png_dir, force)


def report_of_result(path: Path, out: Path, png_dir: Path | None = None, force: bool = False) -> list[Path]:
    """The page of a portfolio's result file, from its .summary.json and the first trials' NPVs."""
    import json

    import pyarrow.parquet as pq

    from .errors import ResultFileError
    from .output import summary_path_for
    from .portfolio_run import SAMPLE_TRIALS

    summary_path = summary_path_for(path)
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        members = list(summary["members"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ResultFileError(f"{summary_path}: the portfolio's summary is missing or unreadable ({exc}); run "
                              "simengine portfolio again") from None
    columns = ["npv", *(f"{m}.npv" for m in members)]
    parquet = pq.ParquetFile(path)
    missing = [c for c in columns if c not in parquet.schema_arrow.names]
    if missing:
        raise ResultFileError(f"{path}: column {missing[0]} is missing; the file was changed after simengine "
                              "wrote it")
    samples: dict[str, list[np.ndarray]] = {c: [] for c in columns}
    taken = 0
    for batch in parquet.iter_batches(columns=columns, batch_size=65536):
        for c in columns:
            samples[c].append(batch.column(c).to_numpy(zero_copy_only=False))
        taken += batch.num_rows
        if taken >= SAMPLE_TRIALS:
            break
    arrays = {c: np.concatenate(v)[:SAMPLE_TRIALS].astype(float) for c, v in samples.items()}
    named = {PORTFOLIO_SAMPLE: arrays["npv"], **{m: arrays[f"{m}.npv"] for m in members}}
    return write_portfolio_report(out, summary, named, force, png_dir)
