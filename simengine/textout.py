"""Terminal rendering of summaries: a readable table with standard errors under each figure."""

from __future__ import annotations

import math
import textwrap

from . import metrics as registry
from .defaults import DEFAULT_SOBOL_TRIALS
from .summary import TABLE_PERCENTILES

#: (summary key, label, number format) of each summarized metric, from the registry.
ROWS = tuple((m.name, m.label, m.fmt) for m in registry.summarized())
#: How many differing inputs `compare` prints (its JSON lists every one).
INPUTS_SHOWN = 12


def unsigned_zero(text: str) -> str:
    """"-0.0%" -> "0.0%": a value that rounds to zero shows no sign."""
    if text.startswith("-") and not any(ch in "123456789" for ch in text):
        return text[1:]
    return text


def fmt_value(x, kind: str, se: bool = False) -> str:
    """One figure in the unit of its row; None shows as a dash ('never' for payback)."""
    if x is None:
        return "never" if kind == "months" and not se else "-"
    if kind == "money":
        return unsigned_zero(f"{x:,.0f}")
    if kind == "percent":
        return unsigned_zero(f"{x * 100:.2f}%" if se else f"{x * 100:.1f}%")
    if kind == "ratio":
        return unsigned_zero(f"{x:.4f}" if se else f"{x:.2f}")
    return unsigned_zero(f"{x:.2f}" if se else f"{x:.1f}")


def probability_digits(value: float, se: float | None) -> int:
    """Decimals (of a percentage) that show a probability to its standard error, 1 to 4: a
    small non-zero share never reads as 0 %."""
    if se is not None and se > 0:
        rounded = float(f"{se * 100:.0e}")  # the standard error to one significant digit
        return min(4, max(1, -math.floor(math.log10(rounded))))
    return 4 if 0 < value < 1e-3 else 1


def fmt_share(x: float) -> str:
    """A share as a percentage: one decimal, or, within one point of 0 % or 100 %, two significant
    digits of the distance from there (0.050%, 99.950%): a share is never rounded onto 0 % or
    100 %, nor off by half (1 of 2,000 trials is 0.050%, not 0.1%)."""
    v = x * 100
    near = min(v, 100 - v)
    digits = 1 if near >= 1 or near <= 0 else 1 - math.floor(math.log10(near) + 1e-9)
    return f"{v:.{digits}f}%"


def fmt_bound(x: float, upper: bool) -> str:
    """A confidence bound on a probability as a percentage, to two significant digits of its
    distance from 0 (upper bound) or 1 (lower bound), rounded outwards so it stays a bound."""
    small = (x if upper else 1.0 - x) * 100
    if small <= 0:
        return "0%" if upper else "100%"
    exponent = math.floor(math.log10(small)) - 1
    step = 10.0 ** exponent
    small = math.ceil(small / step - 1e-9) * step
    return f"{small if upper else 100 - small:.{max(0, -exponent)}f}%"


def fmt_probability(est: dict, compact: bool = False) -> str:
    """A probability and its standard error; 0 of n (or n of n) shows its 95 % bound instead,
    never "0.0% (±0.00%)" (`compact`: as "< 0.0015% (0 trials)", for tables)."""
    if est["value"] is None:
        return "-"
    if compact and "upper95" in est:
        return f"< {fmt_bound(est['upper95'], upper=True)} (0 trials)"
    if compact and "lower95" in est:
        return f"> {fmt_bound(est['lower95'], upper=False)} (all trials)"
    if "upper95" in est:
        return f"0 trials (below {fmt_bound(est['upper95'], upper=True)} at 95% confidence)"
    if "lower95" in est:
        return f"every trial (above {fmt_bound(est['lower95'], upper=False)} at 95% confidence)"
    if est["se"] is None:
        return f"{fmt_share(est['value'])}"
    digits = probability_digits(est["value"], est["se"])
    return f"{est['value'] * 100:.{digits}f}% (±{est['se'] * 100:.{max(digits, 2)}f}%)"


def coverage_note(label: str, key: str, block: dict, trials: int) -> str | None:
    """Which trials a metric's statistics cover, when that is not all of them."""
    n_null = block["n_null"]
    if not n_null:
        return None
    what = registry.metric(key).null_means or "null"
    line = f"  {label}: {n_null:,} of {trials:,} trials ({fmt_share(n_null / trials)}) {what};"
    share = fmt_share(block["n"] / trials)
    if registry.metric(key).null_ranks_last:
        return f"{line} mean and sd over the other {share}, percentiles over all (\"never\" ranks last)"
    return f"{line} mean, sd and percentiles over the other {share}"


def month_with_se(est: dict, unit: str = "") -> str:
    """A whole-month estimate and its standard error, "18 (±0.48)"; "never" has none."""
    if est["value"] is None:
        return "never"
    se = f" (±{fmt_value(est['se'], 'months', se=True)})" if est["se"] is not None else ""
    return f"{est['value']:g}{unit}{se}"


def budget_lines(block: dict, currency: str) -> list[str]:
    """The budget and date block (confidence.py): what to set aside and by when, at which
    confidence, against the base case."""
    from .confidence import CONTINGENCY_LEVELS, COST_LEVELS, DATE_LEVELS, FUNDED_LEVEL

    heads = ["base", *(f"P{p}" for p in COST_LEVELS)]
    width = 13
    labels = {"one_time_cost": f"One-time cost ({currency})", "total_cost": f"Total cost ({currency})"}
    label_w = max(22, *(len(label) + 2 for label in labels.values()))  # a long currency name widens the column
    lines = ["Budget and date (base case: every driver at its most likely value, no risk event)",
             " " * label_w + "".join(h.rjust(width) for h in heads) + "  P(base is enough)"]
    for name, label in labels.items():
        c = block["costs"][name]
        lines.append(label.ljust(label_w) + fmt_value(c["base"], "money").rjust(width)
                     + "".join(fmt_value(c[f"p{p}"]["value"], "money").rjust(width) for p in COST_LEVELS)
                     + "  " + fmt_probability(c["p_base_enough"]))
        if any(c[f"p{p}"]["se"] is not None for p in COST_LEVELS):
            lines.append(" " * label_w + "".rjust(width) + "".join(
                ("±" + fmt_value(c[f"p{p}"]["se"], "money", se=True) if c[f"p{p}"]["se"] is not None else "")
                .rjust(width) for p in COST_LEVELS))
        parts = []
        for p in CONTINGENCY_LEVELS:
            k = c["contingency"][f"p{p}"]
            share = f" ({k['share_of_base'] * 100:+.1f}%)" if k["share_of_base"] is not None else ""
            parts.append(f"P{p} {fmt_value(k['value'], 'money')}{share}")
        lines.append(f"  contingency over the base to reach {', '.join(parts)}")
    g = block["go_live"]
    months = " / ".join(f"P{p} {month_with_se(g[f'p{p}'])}" for p in DATE_LEVELS)
    lines.append(f"Go-live month: base case (the plan) {g['planned']:g}; {months}; "
                 f"on or before it: {fmt_probability(g['p_on_plan'])}")
    k = g["contingency_months"][f"p{FUNDED_LEVEL}"]
    lines.append(f"  schedule contingency to P{FUNDED_LEVEL}: {month_with_se(k, ' months')}")
    joint = block.get("joint")
    if joint is not None:
        level = f"{joint['level'] * 100:g}%"
        lines.append(f"Budget and date together: base cost and base-case month both hold: "
                     f"{fmt_probability(joint['base_and_plan'])}; to be {level} sure of both, budget")
        reachable = [p for p in joint["frontier"] if p["budget"]["value"] is not None]
        shown = reachable[:4]

        def budget(p):
            b = p["budget"]
            se = f" ±{fmt_value(b['se'], 'money', se=True)}" if b["se"] is not None else ""
            return f"{fmt_value(b['value'], 'money')}{se}{'*' if b.get('note') else ''} for month {p['go_live_month']:g}"
        if shown:
            lines.append("  " + "; ".join(budget(p) for p in shown) + ("; ..." if len(reachable) > len(shown) else ""))
            noted = [p["budget"]["note"] for p in shown if p["budget"].get("note")]
            if noted:
                lines.append(f"  * {noted[0]}")
        else:
            lines.append(f"  (no month in the run is reached by {level} of trials)")
        chosen = joint.get("chosen")
        if chosen is not None:
            lines.append(f"  the decision's budget {fmt_value(chosen['budget'], 'money')} by month "
                         f"{chosen['go_live_month']:g}: both hold in {fmt_probability(chosen['probability'])}")
    npv = block["npv"]
    lines.append(f"Spreadsheet NPV (base case) {fmt_value(npv['base'], 'money')} {currency}; simulated mean "
                 f"{fmt_value(npv['mean']['value'], 'money')}, median {fmt_value(npv['p50']['value'], 'money')}: "
                 f"the cost of risk is {fmt_value(npv['cost_of_risk']['value'], 'money')}"
                 + (f" (±{fmt_value(npv['cost_of_risk']['se'], 'money', se=True)})"
                    if npv["cost_of_risk"]["se"] is not None else ""))
    if "roi" in block:
        roi, payback = block["roi"], block["payback_months"]
        lines.append(f"  spreadsheet ROI {fmt_value(roi['base'], 'percent')} (simulated median "
                     f"{fmt_value(roi['p50']['value'], 'percent')}); payback month {fmt_value(payback['base'], 'months')} "
                     f"(simulated median {fmt_value(payback['p50']['value'], 'months')})")
    return lines


def summary_table(summary: dict) -> str:
    """The printed summary: the budget and date first (when the run has a base case), then
    one row per metric, the standard errors in the row below."""
    head = budget_lines(summary["budget_and_date"], summary["currency"]) + [""] if "budget_and_date" in summary else []
    return "\n".join(head + [metric_table(summary)])


def metric_table(summary: dict) -> str:
    """One row per summarized metric, the standard errors in the row below, then the probabilities."""
    cols = ["mean"] + [f"p{p}" for p in TABLE_PERCENTILES]
    heads = ["mean", *(f"P{p}" for p in TABLE_PERCENTILES)]
    label_w = 20
    rows = []
    for key, label, kind in ROWS:
        if key not in summary["metrics"]:
            continue  # a file written before this metric existed (listed in metrics_absent)
        m = summary["metrics"][key]
        values = [fmt_value(m[c]["value"], kind) for c in cols]
        ses = ["±" + fmt_value(m[c]["se"], kind, se=True) if m[c]["se"] is not None else "" for c in cols]
        rows.append((label.format(currency=summary["currency"]), values, ses, m, key))
    width = max(10, max(len(v) for _, vals, ses, _, _ in rows for v in vals + ses) + 2)
    label_w = max(label_w, max(len(label) for label, *_ in rows) + 2)
    lines = [" " * label_w + "".join(h.rjust(width) for h in heads)]
    for label, values, ses, m, _ in rows:
        marked = f"{label}*" if m["n_null"] else label  # over only some trials: see the notes
        lines.append(marked.ljust(label_w) + "".join(v.rjust(width) for v in values))
        if any(ses):
            lines.append(" " * label_w + "".join(s.rjust(width) for s in ses))
    trials = summary["trials"]
    notes = [note for label, _, _, m, key in rows if (note := coverage_note(label, key, m, trials))]
    if notes:
        lines.append("* Over only some trials (nulls are counted, never dropped):")
        lines.extend(notes)
    # a month percentile whose 95 % interval reaches "never" has no standard error: say why its cell is empty
    bare = [label for label, _, _, m, _ in rows
            if any(m[c]["value"] is not None and m[c]["se"] is None for c in cols[1:]) and trials > 1]
    if bare:
        lines.append(f"No standard error is shown for a percentile of {', '.join(bare)} whose 95 % interval "
                     "reaches \"never\": the interval has no finite width.")
    if summary.get("metrics_absent"):
        lines.append(f"Not in this file (written before simengine had them): {', '.join(summary['metrics_absent'])}")
    lines.append("")
    lines.append(f"P(NPV < 0)        {fmt_probability(summary['p_npv_negative'])}")
    cv = summary["cvar5_npv"]
    if cv["value"] is not None:
        se = f" (±{cv['se']:,.0f})" if cv["se"] is not None else ""
        lines.append(f"CVaR 5% of NPV    {cv['value']:,.0f}{se} {summary['currency']}"
                     "  (mean of the worst 5% of trials)")
    targets = summary["targets"]
    if targets:
        lines.append("Decision targets met:")
        labels = {key: "all targets together" if key == "all" else registry.target_rule(key).label(spec["target"])
                  for key, spec in targets.items()}
        width = max(28, max(len(label) for label in labels.values()) + 2)
        for key, spec in targets.items():
            lines.append(f"  {labels[key]:<{width}}{fmt_probability(spec['probability'])}")
    return "\n".join(lines)


def counted(n: int, word: str) -> str:
    """'1 trial', '2,000 trials': a count and its noun."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def run_header(summary: dict) -> str:
    return (f"{summary['scenario']}: {counted(summary['trials'], 'trial')}, seed {summary['seed']}, "
            f"{summary['sampling']} sampling, {counted(summary['horizon_months'], 'month')}")


def correlation_repair_text(repairs) -> str:
    """What --repair-correlations changed: each pair's requested and used Spearman correlation."""
    lines = ["Correlations repaired: the matrix was not positive semi-definite; the nearest valid one "
             "(Higham 2002) is used:",
             f"  {'driver':<40} {'driver':<40} {'requested':>9} {'used':>7} {'moved':>7}"]
    for a, b, old, new in repairs:
        requested = f"{old:+.3f}" if old is not None else "-"
        moved = unsigned_zero(f"{new - (old or 0.0):+.3f}").lstrip("+")
        moved = moved if moved.startswith("-") or set(moved) <= set("0.") else f"+{moved}"
        lines.append(f"  {a:<40} {b:<40} {requested:>9} {new:>+7.3f} {moved:>7}")
    return "\n".join(lines)


BAR = 12


def tornado_bar(swing: float | None, widest: float) -> str:
    """A centred bar: left of '|' when the high decile lowers the metric, right when it raises it."""
    if swing is None or widest <= 0:
        return " " * BAR + "|"
    length = max(1, round(abs(swing) / widest * BAR)) if swing != 0 else 0
    left = " " * (BAR - length) + "#" * length if swing < 0 else " " * BAR
    right = "#" * length if swing > 0 else ""
    return f"{left}|{right}"


def sensitivity_table(result: dict, top: int | None = None) -> str:
    """The tornado table: drivers by |Spearman|, with variance share, decile means and swing."""
    metric = registry.metric(result["metric"]) if registry.is_metric(result["metric"]) else None
    kind = metric.fmt if metric else "ratio"
    unit = f" ({result['currency']})" if metric and metric.unit == "currency" else ""
    rows = result["drivers"][:top] if top else result["drivers"]
    widest = max((abs(r["swing"]["value"] or 0.0) for r in rows), default=0.0)
    name_width = max([len("driver")] + [len(r["driver"]) for r in rows])
    never = result.get("nulls") == "rank last (never)"
    nulls = result["trials_null"]
    if not nulls:
        counted = ""
    elif never:
        counted = f" ({nulls:,} never, {fmt_share(nulls / result['trials'])}, ranked last)"
    else:
        counted = f" ({nulls:,} with {result['metric']} null left out)"
    never_head = f"  {'never lo/hi':>13}" if never else ""
    lines = [f"Sensitivity of {result['metric']}{unit}: {result['scenario']}, {result['trials_used']:,} trials{counted}",
             "",
             f"{'driver':<{name_width}}  {'Spearman':>13}  {'share':>6}  {'low 10%':>12}  {'high 10%':>12}  "
             f"{'swing':>12}{never_head}  {'tornado (swing)':^{2 * BAR + 1}}"]
    for r in rows:
        rho = r["spearman"]
        never_cells = ""
        if never:
            lo, hi = (r[side]["never"] / max(1, r[side]["never"] + r[side]["trials"]) for side in ("low", "high"))
            never_cells = f"  {f'{lo * 100:.0f}% / {hi * 100:.0f}%':>13}"
        lines.append(
            f"{r['driver']:<{name_width}}  {rho['value']:+.3f} ±{(rho['se'] or 0):.3f}  {r['variance_share'] * 100:5.1f}%  "
            f"{fmt_value(r['low']['value'], kind):>12}  {fmt_value(r['high']['value'], kind):>12}  "
            f"{fmt_value(r['swing']['value'], kind):>12}{never_cells}  {tornado_bar(r['swing']['value'], widest)}")
        lines.append(f"{'':<{name_width}}  {'':>13}  {'':>6}  {'±' + fmt_value(r['low']['se'], kind, se=True):>12}  "
                     f"{'±' + fmt_value(r['high']['se'], kind, se=True):>12}  "
                     f"{'±' + fmt_value(r['swing']['se'], kind, se=True):>12}")
    if top and len(result["drivers"]) > top:
        lines.append(f"... and {len(result['drivers']) - top} more drivers (--top 0 shows all)")
    lines += ["", "Spearman: rank correlation with the metric. share: its square as a share of all drivers' squares.",
              "low / high 10%: mean metric when the driver is in its bottom / top decile; swing = high - low."]
    if never:
        lines.append("Trials that never pay back rank last in Spearman; the decile means are over the trials that "
                     "pay back, and 'never lo/hi' is the share of each decile that never does.")
    return "\n".join(lines)


def comparison_table(result: dict) -> str:
    """A and B side by side, then the distribution of A - B and who wins how often."""
    a, b = result["a"], result["b"]
    sa, sb = a["summary"], b["summary"]
    width = max(24, len(a["scenario"]), len(b["scenario"]))
    cur = result["currency"]

    def est(e, kind="money"):
        if e["value"] is None:
            return "-"
        se = fmt_value(e["se"], kind, se=True) if e["se"] is not None else "-"
        return f"{fmt_value(e['value'], kind)} ±{se}"

    warnings = [f"Warning: {w}" for w in result.get("warnings", [])]
    lines = [*warnings, f"A: {a['scenario']}", f"B: {b['scenario']}",
             f"{counted(result['trials'], 'trial')} each, seed {result['seed']}, common random numbers "
             "(drivers with the same name share their draws)", "",
             f"{'':<28}{'A':>{width}}  {'B':>{width}}"]
    npv, roi, payback = (registry.metric(m) for m in ("npv", "roi", "payback_months"))

    def stat(m, which):
        return lambda s: est(s["metrics"][m.name][which], m.fmt)

    rows = [(f"mean {npv.short} ({cur})", stat(npv, "mean")),
            (f"P10 {npv.short}", stat(npv, "p10")),
            (f"P50 {npv.short}", stat(npv, "p50")),
            (f"P90 {npv.short}", stat(npv, "p90")),
            (f"mean {roi.short}", stat(roi, "mean")),
            ("P(NPV < 0)", lambda s: fmt_probability(s["p_npv_negative"], compact=True)),
            (f"CVaR 5% {npv.short}", lambda s: est(s["cvar5_npv"])),
            (f"median {payback.short} (months)", stat(payback, "p50")),
            (f"P80 one-time cost ({cur})", stat(registry.metric("one_time_cost"), "p80")),
            ("P80 go-live month", lambda s: est(s["metrics"]["go_live_month"]["p80"], "months"))]
    def target(s, key):
        if key not in s["targets"]:
            return "-"
        t = s["targets"][key]
        rule = "" if key == "all" else " " + registry.target_rule(key).bound(t["target"])
        return f"{fmt_probability(t['probability'], compact=True)}{rule}"

    names = {**{key: rule.met_label for key, rule in registry.TARGETS.items()}, "all": "all targets met"}
    for key in sorted(set(sa["targets"]) | set(sb["targets"]), key=lambda k: (k == "all", k)):
        rows.append((names[key], lambda s, key=key: target(s, key)))
    cells = [(label, get(sa), get(sb)) for label, get in rows]
    label_w = max(28, max(len(label) for label, _, _ in cells) + 2)
    width = max(width, max(len(c) for _, a_cell, b_cell in cells for c in (a_cell, b_cell)))
    lines[len(lines) - 1] = f"{'':<{label_w}}{'A':>{width}}  {'B':>{width}}"
    for label, a_cell, b_cell in cells:
        lines.append(f"{label:<{label_w}}{a_cell:>{width}}  {b_cell:>{width}}")
    d = result["delta_npv"]
    independent = result["delta_npv_mean_se_if_independent"]
    lines += ["", f"Difference A - B in NPV ({cur}), trial by trial:",
              f"  mean {est(d['mean'])}   (independent runs would give ±{fmt_value(independent, 'money', se=True)})",
              f"  P10 {est(d['p10'])}   P50 {est(d['p50'])}   P90 {est(d['p90'])}",
              f"P(A has the higher NPV)          {fmt_probability(result['p_a_beats_b_npv'])}",
              f"P(A pays back earlier than B)    {fmt_probability(result['p_a_pays_back_earlier'])}",
              f"P(B pays back earlier than A)    {fmt_probability(result['p_b_pays_back_earlier'])}"]
    if "delta_paired" in result:
        cost, months = result["delta_paired"]["one_time_cost"], result["delta_paired"]["go_live_month"]
        lines += [f"Difference A - B, trial by trial: one-time cost mean {est(cost['mean'])} {cur}, "
                  f"go-live mean {est(months['mean'], 'months')} months"]
        levels = result["delta_levels"]

        def level(d, kind="money"):
            if d["value"] is None:
                return "-"
            se = d["se_if_independent"]
            return fmt_value(d["value"], kind) + (f" (±{fmt_value(se, kind, se=True)})" if se is not None else "")
        lines += [f"A - B of P80 one-time cost {level(levels['one_time_cost_p80'])}, of P80 go-live "
                  f"{level(levels['go_live_month_p80'], 'months')} months, of CVaR 5% NPV {level(levels['cvar5_npv'])}",
                  "  (standard errors as for independent runs: an upper bound under common random numbers)"]
    differ = result.get("inputs_differ")
    if differ is not None:
        shown = differ[:INPUTS_SHOWN]
        lines += ["", f"Inputs that differ between A and B: {len(differ)}"
                  + (f" (the first {len(shown)} below; --json lists all)" if len(differ) > len(shown) else "")]
        for row in shown:
            lines.append(f"  {row['input']}: {row['a'] if row['a'] is not None else '(none)'} -> "
                         f"{row['b'] if row['b'] is not None else '(none)'}")
        if len(differ) > len(shown):
            lines.append(f"  ... and {len(differ) - len(shown)} more")
    return "\n".join(lines)


def precision_text(precision: dict) -> str:
    """Whether the precision targets were met, and each estimate's standard error against its target."""
    head = (f"Precision targets met after {precision['trials_used']:,} trials:" if precision["met"] else
            f"Precision targets NOT met within --max-trials {precision['max_trials']:,}:")
    def number(x):
        return "-" if x is None else f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"

    trials = precision["trials_used"]

    def line(name: str, e: dict) -> str:
        if e.get("se_floor"):  # 0 or n of n: the summary gives the bound; the rule took one trial either way
            return (f"  {name}: seen in none or all of the {trials:,} trials, so no standard error (see its bound "
                    f"below); stopped as if one trial had gone the other way: {number(e['se'])} "
                    f"(target {number(e['target_se'])})")
        return f"  {name}: standard error {number(e['se'])} (target {number(e['target_se'])})"

    parts = [line(name, e) for name, e in precision["estimates"].items()]
    return "\n".join([head, *parts])


def calibration_text(result: dict) -> str:
    """A class against its published figures, or a scenario against a class, one line per figure."""
    def show(x, fmt="percent", bound=None):
        if x is None or not math.isfinite(x):
            return "no tail" if fmt == "number" else "n/a"
        if bound is not None:  # seen in none or all of the draws: the exact 95 % bound, not 0 % or 100 %
            return f"<{fmt_bound(bound, upper=True)}" if x == 0.0 else f">{fmt_bound(bound, upper=False)}"
        return f"{x:.2f}" if fmt == "number" else f"{x * 100:.1f}%"

    if "class" in result:
        lines = [f"Reference class {result['class']} (presets {result['version']}): {result['description']}"]
        for q in result["quantities"]:
            lines += ["", f"{q['field']} ({q['quantity']}): {q['distribution']}",
                      f"  implies mean {show(q['mean'])}, P50 {show(q['p50'])}, P90 {show(q['p90'])}"]
            width = max(len(r["figure"]) for r in q["rows"])
            for r in q["rows"]:
                fmt = r["format"]
                mark = "ok" if r["within"] else "OUTSIDE"
                lines.append(f"  {r['figure']:<{width}}  published {show(r['published'], fmt):>7}  implied "
                             f"{show(r['implied'], fmt, r.get('bound95')):>7} ±{show(r['se'], fmt):<6} tolerance "
                             f"±{show(r['tolerance'], fmt):<6} {mark}")
                lines.append(f"  {'':<{width}}  source: {r['source']}")
        return "\n".join(lines)
    def amount(x, fmt):  # a gap or margin: percentage points, or a plain number
        return f"{abs(x):.2f}" if fmt == "number" else f"{abs(x) * 100:.1f} points"

    def verdict(r):
        if r["direction"] == "consistent":
            return "consistent"
        gap = r["gap"]
        by = f"by {amount(gap, r['format'])}" if gap is not None and math.isfinite(gap) else "(no draws that far out)"
        return f"more {r['direction']} than the evidence {by}"

    lines = [f"{result['scenario']} against reference class {result['against']} (presets {result['version']})",
             "(schedule and cost overruns include the risk register's events; ± is the figure's tolerance "
             "plus four standard errors)"]
    width = max(len(r["figure"]) for r in result["rows"])
    value_width = max(7, *(len(show(r["scenario"], r["format"], r.get("bound95"))) for r in result["rows"]))
    field = None
    for r in result["rows"]:
        if r["field"] != field:
            field = r["field"]
            lines += ["", field]
        mark = verdict(r).replace(f"more {r['direction']} than the evidence", f"MORE {r['direction'].upper()}")
        yours = show(r["scenario"], r["format"], r.get("bound95"))
        lines.append(f"  {r['figure']:<{width}}  yours {yours:>{value_width}}  evidence "
                     f"{show(r['reference'], r['format']):>7} ± {amount(r['margin'], r['format']):<11}  {mark}")
    lines.append("")
    flagged = [r for r in result["rows"] if r["direction"] != "consistent"]
    for r in flagged:
        quantity = r["field"].split(".")[-1].replace("_", " ")
        what = f"{quantity} {r['figure']}" if r["figure"].startswith("P") and r["figure"][1:].isdigit() else r["figure"]
        yours = show(r["scenario"], r["format"], r.get("bound95"))
        yours = "none" if yours in ("no tail", "n/a") else yours
        lines.append(f"Your {what} is {yours}; in the {result['against']} reference class it is "
                     f"{show(r['reference'], r['format'])} ± {amount(r['margin'], r['format'])}: {verdict(r)}.")
    if not flagged:
        lines.append("No input differs from the evidence by more than its tolerance, in either direction.")
    return "\n".join(lines)

def money_with_se(value: float, se: float | None, currency: str) -> str:
    """'EUR 180,000 ± 12,000': an amount and its standard error, rounded to whole units."""
    text = f"{currency} {fmt_value(value, 'money')}"
    return text if se is None else f"{text} ± {fmt_value(se, 'money', se=True)}"


def worth_lines(result: dict) -> tuple[str, str]:
    """The headline of a value-of-information result: the driver a study could learn that is
    worth most, and, when a risk event's occurrence tops the list, what foreknowledge of it
    would be worth (not something a pilot can learn)."""
    cur, metric = result["currency"], result["metric"]
    rows = [r for r in result["drivers"] if r["evppi"]["value"] > 0.0]
    learnable = next((r for r in rows if r.get("learnable", True)), None)
    event = rows[0] if rows and not rows[0].get("learnable", True) else None
    first = (f"Learning {learnable['name']} before deciding is worth "
             f"{money_with_se(learnable['evppi']['value'], learnable['evppi']['se'], cur)} in expected {metric}."
             if learnable is not None else "")
    second = (f"Knowing in advance whether {event['name'][:-len('.occurred')]} happens would be worth "
              f"{money_with_se(event['evppi']['value'], event['evppi']['se'], cur)} (no pilot can learn that).")\
        if event is not None else ""
    return first, second


def voi_table(result: dict, top: int | None = None) -> str:
    """The value-of-information table: the decision, EVPI, then each group's and driver's EVPPI, ranked."""
    cur = result["currency"]
    nb = result["net_benefit"]
    lines = [f"Value of information: {result['scenario']}" + (f" against {result['b']}" if result["b"] else "")
             + f", {result['trials']:,} trials, seed {result['seed']}",
             f"Decision: {' or '.join(result['options'])}; net benefit = {nb['meaning']}",
             f"Expected net benefit: {money_with_se(nb['value'], nb['se'], cur)}, so on what is known now: "
             f"{result['choice']}",
             f"Trials in which the other option does better: {fmt_probability(result['p_choice_wrong'])}",
             "EVPI (knowing every driver before deciding): " + (
                 f"{cur} 0: every trial favours the same option, so no information can change the decision"
                 if result["evpi"]["value"] == 0.0
                 else money_with_se(result["evpi"]["value"], result["evpi"]["se"], cur)),
             ""]
    drivers = result["drivers"]
    top_rows = drivers[:top] if top else drivers
    lines += [line for line in worth_lines(result) if line] + [""]
    for title, rows in (("group", result["groups"]), ("driver", top_rows)):
        if not rows:
            continue
        width = max([len(title)] + [len(r["name"]) for r in rows])
        lines.append(f"{title:<{width}}  {'EVPPI (' + cur + ')':>16}  {'± se':>12}  {'of EVPI':>8}  method")
        for r in rows:
            e = r["evppi"]
            share = "-" if r["share_of_evpi"] is None else f"{r['share_of_evpi'] * 100:.0f}%"
            method = r["method"] + (" (capped at EVPI)" if r["capped"] else "")
            if e["value"] == 0.0 and e["se"] == 0.0:
                method = "never changes the decision"
            lines.append(f"{r['name']:<{width}}  {fmt_value(e['value'], 'money'):>16}  "
                         f"{'±' + fmt_value(e['se'], 'money', se=True):>12}  {share:>8}  {method}")
        if title == "group":
            lines += [f"  {r['name']}: {', '.join(r['drivers'])}" for r in rows if any(c in r["name"] for c in "*?[")]
        lines.append("")
    if top and len(drivers) > top:
        lines.append(f"... and {len(drivers) - top} more drivers (--top 0 shows all)")
    lines += textwrap.wrap("EVPPI: the expected gain from learning that driver (or group) exactly before "
                           "deciding; an upper bound on what a pilot or study of it is worth. 'never changes the "
                           "decision': the expected net benefit keeps its sign at every value of the driver. "
                           "Method: docs/value-of-information.md.", 100)
    return "\n".join(lines)


#: Below this many trials a matrix, a Sobol' table says that its indices are rough.
ROUGH_SOBOL_TRIALS = 1024


def sobol_table(result: dict, top: int | None = None) -> str:
    """Sobol' indices by factor, largest total effect first, with bootstrap half-widths and a bar."""
    rows = result["factors_list"][:top] if top else result["factors_list"]
    level = f"{result['conf_level'] * 100:g}%"
    width = max([len("factor")] + [len(r["name"]) for r in rows])
    widest = max((r["total"]["value"] for r in rows), default=0.0)

    def share(est: dict) -> str:
        value = unsigned_zero(f"{est['value'] * 100:.1f}")
        return f"{value:>6}% ±{est['ci'] * 100:5.1f}%"

    lines = [f"Sobol' indices of {result['metric']}: {result['scenario']}, {result['trials_per_matrix']:,} trials "
             f"x {result['runs']} runs = {result['total_trials']:,} trials, seed {result['seed']} "
             f"({result['seconds']:.1f} s)",
             "",
             f"{'factor':<{width}}  {'first order':>15}  {'total':>15}  (bar: total)"]
    for r in rows:
        length = round(r["total"]["value"] / widest * BAR) if widest > 0 else 0
        lines.append(f"{r['name']:<{width}}  {share(r['first_order'])}  {share(r['total'])}  {'#' * max(0, length)}")
    if top and len(result["factors_list"]) > top:
        lines.append(f"... and {len(result['factors_list']) - top} more factors (--top 0 shows all)")
    total = result["sum_first_order"]
    n = result["trials_per_matrix"]
    rough = (f"With {n:,} trials a matrix the indices and even their bootstrap intervals are rough (the default is "
             f"{DEFAULT_SOBOL_TRIALS:,}): run more trials before reading them." if n < ROUGH_SOBOL_TRIALS else None)
    notes = [*([rough] if rough else []),
             f"Sum of first-order indices: {total * 100:.1f}%; " + (
                 "the rest of the variance comes from interactions between factors (up to sampling error)."
                 if total <= 1.0 else "above 100 %, which only sampling error makes: more trials narrow it."),
             f"first order: the share of the variance of {result['metric']} that the factor explains alone. "
             "total: alone and through its interactions with others; a factor whose total is near 0 could be "
             f"fixed at any value without changing the spread. ±: half-widths of {level} bootstrap intervals.",
             *([result["note"]] if any(len(r["drivers"]) > 1 for r in result["factors_list"]) else [])]
    lines.append("")
    for note in notes:
        lines += textwrap.wrap(note, 100)
    return "\n".join(lines)
