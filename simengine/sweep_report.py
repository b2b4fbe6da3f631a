"""What a sweep shows: the text table, the HTML page (sweep.html) and its charts.

Everything here reads the sweep's dict (`SweepResult.to_dict()`, what sweep.json holds), so
a stored sweep renders the same as a fresh one. Scenario names, descriptions, currencies,
swept text values and variant names are free text: on the page they pass through
html_page's builders, which escape them, and in charts they are drawn literally
(charts.png_bytes turns off mathtext). A probability seen in 0 of n trials (or n of n) shows
its one-sided 95 % bound, never "0.0 %".
"""

from __future__ import annotations

import itertools
import math
import textwrap

from .sweeps import FIGURES, value_text
from .textout import fmt_probability, fmt_value

#: Error bars: this many standard errors either side (a 95 % normal interval).
Z95 = 1.96
#: At most this many lines on one chart; beyond, the chart shows the average over the others.
MAX_LINES = 8


# --- shared helpers --------------------------------------------------------------------------------

def estimate(row: dict, name: str) -> dict:
    """A figure of a row as a summary estimate ({"value", "se"} and any 95 % bound)."""
    est = {"value": row.get(name), "se": row.get(f"{name}_se")}
    for bound in ("upper95", "lower95"):
        if row.get(f"{name}_{bound}") is not None:
            est[bound] = row[f"{name}_{bound}"]
    return est


def swept_headers(d: dict) -> list[str]:
    sets = d["sweep"]["sets"]
    return [s["path"] for s in sets] if sets else ["variant"]


def swept_cells(d: dict, k: int) -> list[str]:
    """The swept values of variant k (or its name, for a folder of files)."""
    sets = d["sweep"]["sets"]
    if sets:
        return [value_text(d["rows"][k][s["path"]]) for s in sets]
    return [d["variants"][k]["label"]]


def best_text(d: dict) -> str:
    info = d["sweep"]
    label, _, higher = FIGURES[info["figure"]]
    best = info["best"]
    rule = f"{'higher' if higher else 'lower'} is better"
    if not best:
        return f"no variant has a {label} to rank by"
    if len(best) == 1:
        k = best[0]
        return f"best by {label} ({rule}): variant {k} ({d['variants'][k]['label']})"
    if len(best) == len(d["rows"]):
        return f"best by {label} ({rule}): all {len(best)} variants tie (identical estimates)"
    return f"best by {label} ({rule}): variants {', '.join(map(str, best))} tie (identical estimates)"


def crn_note(d: dict) -> str:
    info = d["sweep"]
    return (f"All variants ran with seed {info['seed']} and {info['trials']:,} trials each: common random numbers. "
            "Trial i of every variant draws the same numbers for each driver they share (drivers with the same "
            "name), so the differences between variants reflect their settings, not sampling noise, and are "
            "usually measured far more precisely than each row's own standard error (±) suggests.")


def run_line(d: dict) -> str:
    info = d["sweep"]
    n = info["variants"]
    what = (" x ".join(f"{len(s['values'])} {s['path']}" for s in info["sets"]) if info["sets"]
            else f"scenario files from {info.get('variants_from') or 'the variants given'}")
    return (f"{info['scenario']}: sweep of {n:,} variant{'' if n == 1 else 's'} ({what}), {info['trials']:,} "
            f"trials each, seed {info['seed']}, {info['sampling']} sampling, common random numbers")


# --- text --------------------------------------------------------------------------------------

def sweep_text(d: dict) -> str:
    """One row per variant: the swept values, mean NPV ± SE, P(NPV < 0), P(all targets) and the
    P80 one-time cost; the best variant by the sweep's figure marked with *."""
    info, rows = d["sweep"], d["rows"]
    cur = info["currency"]
    best = set(info["best"])

    def money(row, name):
        e = estimate(row, name)
        if e["value"] is None:
            return "-"
        se = f" ±{fmt_value(e['se'], 'money', se=True)}" if e["se"] is not None else ""
        return fmt_value(e["value"], "money") + se

    def chance(row, name):
        e = estimate(row, name)
        return "-" if e["value"] is None else fmt_probability(e, compact=True)

    heads = ["", "#", *swept_headers(d), f"mean NPV ({cur})", "P(NPV < 0)", "P(all targets)",
             f"P80 one-time cost ({cur})"]
    text_cols = 2 + len(swept_headers(d))
    table = []
    for k, row in enumerate(rows):
        table.append(["*" if row["variant"] in best else "", str(row["variant"]), *swept_cells(d, k),
                      money(row, "npv_mean"), chance(row, "p_npv_negative"), chance(row, "p_all_targets"),
                      money(row, "one_time_cost_p80")])
    widths = [max(len(h), *(len(r[j]) for r in table)) for j, h in enumerate(heads)]

    def line(cells):
        out = []
        for j, (cell, w) in enumerate(zip(cells, widths)):
            out.append(cell.ljust(w) if j < text_cols and j != 1 else cell.rjust(w))
        return "  ".join(out).rstrip()

    lines = [f"Warning: {w}" for w in info.get("warnings", [])]
    lines += [run_line(d), "", line(heads)]
    lines += [line(r) for r in table]
    lines += ["", f"* {best_text(d)}"]
    if not any(r["p_all_targets"] is not None for r in rows):
        lines.append("P(all targets): - = the scenario sets no decision targets ([decision]).")
    lines.append(textwrap.fill(crn_note(d), width=100))
    return "\n".join(lines)


# --- HTML ----------------------------------------------------------------------------------------

def rows_table(d: dict) -> str:
    """Every variant's figures, each with its standard error under it; the best one marked."""
    from .html_page import table
    from .report import probability_estimate

    cur = d["sweep"]["currency"]
    best = set(d["sweep"]["best"])

    def money(row, name, kind="money"):
        e = estimate(row, name)
        if e["value"] is None:
            return "n/a"
        return (fmt_value(e["value"], kind), f"± {fmt_value(e['se'], kind, se=True)}" if e["se"] is not None else "")

    def chance(row, name):
        e = estimate(row, name)
        return "n/a (no targets)" if e["value"] is None else probability_estimate(e)

    heads = ["best", "#", *swept_headers(d), f"mean NPV ({cur})", f"P10 NPV ({cur})", f"P50 NPV ({cur})",
             f"P90 NPV ({cur})", "P(NPV < 0)", f"CVaR 5 % of NPV ({cur})", "P(all targets met)",
             f"P80 one-time cost ({cur})", "P80 go-live month"]
    body = []
    for k, row in enumerate(d["rows"]):
        body.append(["best" if row["variant"] in best else "", str(row["variant"]), *swept_cells(d, k),
                     money(row, "npv_mean"), money(row, "npv_p10"), money(row, "npv_p50"), money(row, "npv_p90"),
                     chance(row, "p_npv_negative"), money(row, "cvar5_npv"), chance(row, "p_all_targets"),
                     money(row, "one_time_cost_p80"), money(row, "go_live_month_p80", "months")])
    return table(heads, body, text_columns=2 + len(swept_headers(d)))


def sweep_page(d: dict) -> str:
    """sweep.html: the settings, the best variant, a chart per swept setting, every variant's row."""
    from .html_page import facts, figure, heading, page, paragraph, section, table

    info = d["sweep"]
    label = FIGURES[info["figure"]][0]
    built = sweep_charts(d)
    title = f"Sweep: {info['scenario']}"
    if info["sets"]:
        swept = "; ".join(f"{s['path']} = {', '.join(value_text(v) for v in s['values'])}" for s in info["sets"])
    else:
        swept = f"scenario files from {info.get('variants_from') or 'the variants given'}"
    body = [heading(title)]
    if (info.get("description") or "").strip():
        body.append(paragraph(info["description"].strip(), "lead"))
    body.append(facts([("scenario", info["scenario"]), ("swept", swept), ("variants", f"{info['variants']:,}"),
                       ("trials", f"{info['trials']:,} per variant"), ("seed", str(info["seed"])),
                       ("sampling", info["sampling"]),
                       ("method", "common random numbers: every variant runs with the same seed, and drivers with "
                                  "the same name share their draws"),
                       ("currency", info["currency"]), ("ranked by", label)]))
    for w in info.get("warnings", []):
        body.append(paragraph(f"Warning: {w}", "headline"))
    body.append('<div class="headline">' + paragraph(best_text(d)[0].upper() + best_text(d)[1:] + ".") + "</div>")
    body.append(section(f"{label} by setting", *(figure(c) for c in built),
                        paragraph(f"Error bars: ±{Z95} standard errors (a 95 % interval) of each variant's own "
                                  "estimate. A probability seen in 0 trials has no standard error: its bar runs "
                                  "from 0 to its one-sided 95 % upper bound. " + crn_note(d), "note")))
    body.append(section("All variants", rows_table(d),
                        paragraph("Under each figure: its standard error. " + best_text(d)[0].upper()
                                  + best_text(d)[1:] + ".", "note")))
    if info["sets"]:
        body.append(section("Settings", table(["path", "values"], [[s["path"], ", ".join(value_text(v) for v in
                                                                                            s["values"])]
                                                                    for s in info["sets"]], text_columns=2)))
    else:
        body.append(section("Scenario files", table(["#", "variant", "file", "scenario sha256"],
                                                    [[str(v["variant"]), v["label"], v["file"], v["scenario_sha256"]]
                                                     for v in d["variants"]], text_columns=4)))
    return page(title, *body)


# --- charts ----------------------------------------------------------------------------------------

def interval(row: dict, name: str) -> tuple[float, float, float] | None:
    """(value, low, high) of a figure: ±1.96 standard errors, or a probability's 95 % bound."""
    e = estimate(row, name)
    v = e["value"]
    if v is None:
        return None
    if e["se"] is not None:
        lo, hi = v - Z95 * e["se"], v + Z95 * e["se"]
    elif "upper95" in e:
        lo, hi = v, e["upper95"]
    elif "lower95" in e:
        lo, hi = e["lower95"], v
    else:
        lo = hi = v
    if FIGURES[name][1] == "probability":
        lo, hi = max(0.0, lo), min(1.0, hi)
    return v, lo, hi


def tick_text(value) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) >= 1e4 \
            and float(value).is_integer():
        return f"{value:,.0f}"
    return value_text(value)


def _y_axis(ax, name: str, currency: str, scale: float, unit: str) -> None:
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    from .charts import money_label

    label = FIGURES[name][0]
    if FIGURES[name][1] == "money":
        ax.set_ylabel(money_label(label, currency, unit))
        ticks = ax.get_yticks()
        step = min((b - a for a, b in zip(ticks, ticks[1:]) if b > a), default=1.0)
        digits = min(3, max(0, -math.floor(math.log10(step)))) if step > 0 else 0
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.{digits}f}"))
    else:
        ax.set_ylabel(label)
        bottom, top = ax.get_ylim()
        ax.set_ylim(max(bottom, -0.002), min(top, 1.002))
        ticks = [t for t in ax.get_yticks() if bottom <= t <= top]
        step = min((b - a for a, b in zip(ticks, ticks[1:]) if b > a), default=0.1) * 100
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=min(4, max(0, -math.floor(math.log10(step))))))


def _scale(d: dict, points) -> tuple[float, str]:
    from .charts import money_scale

    if FIGURES[d["sweep"]["figure"]][1] != "money":
        return 1.0, ""
    return money_scale([x for p in points for x in p])


STYLES = (("#0072B2", "o", "-"), ("#D55E00", "s", "--"), ("#009E73", "^", "-."), ("#E69F00", "D", ":"),
          ("#56B4E9", "v", "-"), ("#000000", "P", "--"), ("#CC79A7", "X", "-."), ("#7F7F7F", "*", ":"))


def setting_chart(d: dict, k: int):
    """The figure against the k-th swept setting's values, ±1.96 SE bars; one line per value of
    the other settings (up to MAX_LINES of them), else their average."""
    import numpy as np

    from .charts import _figure

    info, rows = d["sweep"], d["rows"]
    name = info["figure"]
    sets = info["sets"]
    s = sets[k]
    others = [o for j, o in enumerate(sets) if j != k]
    xs = s["values"]
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in xs)
    positions = np.array([float(v) for v in xs] if numeric else range(len(xs)), dtype=float)
    combos = list(itertools.product(*(range(len(t["values"])) for t in sets)))  # variant i's value indices
    groups: dict[tuple, dict[int, dict]] = {}
    for i, row in enumerate(rows):
        idx = combos[i]
        key = tuple(idx[j] for j in range(len(sets)) if j != k)
        groups.setdefault(key, {})[idx[k]] = row
    spread = (positions.max() - positions.min()) if len(positions) > 1 else 1.0
    if not numeric:
        spread = max(len(xs) - 1, 1)
    lines = []  # (label, [(x index, value, lo, hi, row or None)])
    if len(groups) <= MAX_LINES:
        for key, by_x in groups.items():
            label = ", ".join(f"{o['path']} = {value_text(o['values'][j])}" for o, j in zip(others, key))
            pts = [(xi, *iv, row) for xi, row in sorted(by_x.items()) if (iv := interval(row, name)) is not None]
            lines.append((label, pts))
        averaged = False
    else:
        pts = []
        for xi in range(len(xs)):
            ivs = [iv for by_x in groups.values() if xi in by_x and (iv := interval(by_x[xi], name)) is not None]
            if ivs:
                v = sum(iv[0] for iv in ivs) / len(ivs)
                lo = v - sum(iv[0] - iv[1] for iv in ivs) / len(ivs)
                hi = v + sum(iv[2] - iv[0] for iv in ivs) / len(ivs)
                pts.append((xi, v, lo, hi, None))
        lines.append((f"average over the {len(groups):,} combinations of the other settings", pts))
        averaged = True
    scale, unit = _scale(d, [(p[2], p[3]) for _, pts in lines for p in pts])
    fig, ax = _figure()
    dodge = (0.012 if numeric else 0.035) * spread if len(lines) > 1 else 0.0
    best = set(info["best"])
    best_pts = []
    for j, (label, pts) in enumerate(lines):
        if not pts:
            continue
        colour, marker, style = STYLES[j % len(STYLES)]
        x = np.array([positions[p[0]] for p in pts]) + (j - (len(lines) - 1) / 2) * dodge
        y = np.array([p[1] for p in pts]) / scale
        err = np.array([[p[1] - p[2] for p in pts], [p[3] - p[1] for p in pts]]) / scale
        ax.errorbar(x, y, yerr=err, color=colour, marker=marker, linestyle=style, linewidth=1.8, markersize=6,
                    capsize=4, elinewidth=1.2, label=label or None)
        best_pts += [(xx, yy) for xx, yy, p in zip(x, y, pts) if p[4] is not None and p[4]["variant"] in best]
    if best_pts and len(best_pts) < len(rows):
        ax.plot([p[0] for p in best_pts], [p[1] for p in best_pts], linestyle="none", marker="*", markersize=17,
                markerfacecolor="none", markeredgecolor="black", markeredgewidth=1.4, zorder=6,
                label=f"best by {FIGURES[name][0]}")
    if len(xs) <= 15 or not numeric:
        ax.set_xticks(positions, [tick_text(v) for v in xs])
    else:
        from matplotlib.ticker import FuncFormatter

        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if abs(v) >= 1e4 else f"{v:g}"))
    if not numeric:
        ax.set_xlim(-0.5, len(xs) - 0.5)
    elif len(xs) == 1:
        ax.set_xlim(positions[0] - 1, positions[0] + 1)
    else:
        pad = 0.06 * spread
        ax.set_xlim(positions.min() - pad, positions.max() + pad)
    ax.set_xlabel(s["path"])
    if FIGURES[name][1] == "money":
        bottom, top = ax.get_ylim()
        if bottom < 0 < top:
            ax.axhline(0.0, color="#7F7F7F", linewidth=1.0)
    _y_axis(ax, name, info["currency"], scale, unit)
    what = f"one line per {', '.join(o['path'] for o in others)}" if others and not averaged else \
        ("averaged over the other settings" if averaged else "")
    ax.set_title(f"{FIGURES[name][0]} by {s['path']}" + (f"\n{what}" if what else ""))
    handles, labels = ax.get_legend_handles_labels()
    if labels:
        order = [i for i, t in enumerate(labels) if not t.startswith("best")] + \
                [i for i, t in enumerate(labels) if t.startswith("best")]
        # as many columns as fit across the figure (about 110 characters of legend text)
        columns = max(1, min(len(labels), 110 // (max(len(t) for t in labels) + 8)))
        fig.legend([handles[i] for i in order], [labels[i] for i in order], loc="outside lower center",
                   ncol=columns, frameon=False)
    return fig


def variants_chart(d: dict):
    """The figure of each variant (a folder of scenario files) as bars with ±1.96 SE bars."""
    import numpy as np

    from .charts import BLUE, SKY, _figure

    info, rows = d["sweep"], d["rows"]
    name = info["figure"]
    names = [v["label"] for v in d["variants"]]
    ivs = [interval(r, name) for r in rows]
    scale, unit = _scale(d, [(iv[1], iv[2]) for iv in ivs if iv is not None])
    width = min(16.0, max(6.0, 0.55 * len(rows) + 3.0))
    fig, ax = _figure(width=width)
    best = set(info["best"])
    x = np.arange(len(rows))
    for i, (row, iv) in enumerate(zip(rows, ivs)):
        if iv is None:
            continue
        v, lo, hi = (t / scale for t in iv)
        is_best = row["variant"] in best and len(best) < len(rows)
        ax.bar(i, v, width=0.65, color=BLUE if is_best else SKY, hatch="///" if is_best else None,
               edgecolor="white", linewidth=0.3, label=f"best by {FIGURES[name][0]}" if is_best else None)
        ax.errorbar(i, v, yerr=[[v - lo], [hi - v]], color="black", capsize=5, elinewidth=1.3, linestyle="none")
    long = len(rows) > 6 or max(len(n) for n in names) > 12
    ax.set_xticks(x, names, rotation=30 if long else 0, ha="right" if long else "center")
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_xlabel("variant (scenario file)")
    ax.axhline(0.0, color="black", linewidth=1.0)
    ax.grid(axis="x", visible=False)
    _y_axis(ax, name, info["currency"], scale, unit)
    ax.set_title(f"{FIGURES[name][0]} by variant")
    handles, labels = ax.get_legend_handles_labels()
    if labels:
        ax.legend(handles[:1], labels[:1], loc="best", frameon=True, framealpha=0.9)
    return fig


def sweep_charts(d: dict) -> list:
    """The page's charts: one per swept setting, or one bar chart for a folder of files."""
    from .charts import png_bytes
    from .html_page import Chart

    info = d["sweep"]
    label = FIGURES[info["figure"]][0]
    note = f"Error bars: ±{Z95} standard errors of each variant's own estimate."
    if not info["sets"]:
        return [Chart("sweep-variants", f"{label} of each variant", f"{label} of each scenario file, "
                      f"{info['trials']:,} trials each with seed {info['seed']}. {note}",
                      png_bytes(variants_chart(d)))]
    out = []
    for k, s in enumerate(info["sets"]):
        others = [o for j, o in enumerate(info["sets"]) if j != k]
        combos = math.prod(len(o["values"]) for o in others)
        caption = f"{label} against {s['path']}"
        if len(others) == 1 and combos <= MAX_LINES:
            caption += f", one line per value of {others[0]['path']}. {note}"
        elif others and combos <= MAX_LINES:
            caption += f", one line per combination of {' and '.join(o['path'] for o in others)}. {note}"
        elif others:
            caption += (f", averaged over the {combos:,} combinations of the other settings. Error bars: the average "
                        f"of their ±{Z95} standard errors (never less than the average's own).")
        else:
            caption += f". {note}"
        out.append(Chart(f"sweep-{k}", f"{label} against {s['path']}", caption,
                         png_bytes(setting_chart(d, k))))
    return out
