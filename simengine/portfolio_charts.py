"""The portfolio report's charts: pure functions from samples and the portfolio summary to figures.

Same conventions as charts.py: the Okabe-Ito palette, anything that must be told apart also
differs in lightness, line style, marker or hatching; amounts in the portfolio's currency,
scaled to thousands or millions with the unit in the axis label; no text read as mathtext
(member and portfolio names are free text; charts.png_bytes draws every text literally).
A portfolio may have up to 50 members: the charts of members show the most telling ones and
say how many are left out (docs/model.md, "Portfolios").
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from .charts import (BLACK, BLUE, GREEN, GREY, ORANGE, SKY, VERMILLION, _figure, _two_sided_histogram,
                     estimate_text, money_label, money_scale, share_estimate)

#: Violins drawn at most (the members with the highest mean NPV); the rest are counted.
TOP_VIOLINS = 12
#: Members drawn at most in the contribution chart (the largest |contribution|); the rest
#: are drawn together as one bar.
TOP_CONTRIBUTIONS = 15
#: A violin's outline is estimated from at most this many trials (its percentiles from all given).
KDE_TRIALS = 20_000
#: Whiskers: this many standard errors either side (a 95 % normal interval).
Z95 = 1.96
#: Names longer than this are cut on an axis (the tables give them whole).
NAME_WIDTH = 28



def tick_text(value: float, _=None) -> str:
    """An axis tick with the decimals it needs (0.25 stays 0.25, never "0.2"), thousands separated."""
    text = f"{value:,.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text

def short_name(name: str, width: int = NAME_WIDTH) -> str:
    """A member's name for an axis: cut with an ellipsis beyond `width` characters."""
    name = " ".join(str(name).split())  # no line break from the name itself
    return name if len(name) <= width else name[:width - 1] + "…"


def scaled(value: float | None, se: float | None, scale: float) -> str:
    """An amount in the chart's unit with as many decimals as its standard error needs
    (two significant digits of it, 2 to 4 decimals), "± se" when there is one."""
    if value is None or not math.isfinite(value):
        return "n/a"
    if se is None or not math.isfinite(se) or se / scale < 5e-5:  # none, or 0 at 4 decimals (a constant)
        return f"{value / scale:,.2f}"
    digits = min(4, max(2, 1 - math.floor(math.log10(se / scale))))
    return f"{value / scale:,.{digits}f} ± {se / scale:,.{digits}f}"


def _value(est: dict | None) -> float | None:
    if not est:
        return None
    v = est.get("value")
    return v if v is not None and math.isfinite(v) else None


def _se(est: dict | None) -> float | None:
    if not est:
        return None
    se = est.get("se")
    return se if se is not None and math.isfinite(se) else None


# --- the members' own NPV ------------------------------------------------------------------------

def member_npv_violins(samples: dict[str, np.ndarray], names: list[str], currency: str,
                       top: int = TOP_VIOLINS) -> Figure:
    """Each member's own NPV (its own calendar, unscaled) over the trials given, one violin per
    member, highest mean on top: the outline over P0.5-P99.5, a thin line P5-P95, a thick one
    P25-P75, the median (a short blue upright), the mean (diamond) and NPV = 0. More than `top` members:
    the `top` with the highest mean are drawn, and the title says how many are not."""
    data = {n: np.asarray(samples[n], dtype=float) for n in names if n in samples}
    data = {n: x[np.isfinite(x)] for n, x in data.items()}
    means = {n: float(x.mean()) if x.size else -math.inf for n, x in data.items()}
    order = sorted(data, key=lambda n: -means[n])  # stable: ties keep the members' order
    shown = [n for n in order[:top] if data[n].size]
    left = len(names) - len(shown)
    ends = {n: np.quantile(data[n], [0.005, 0.05, 0.25, 0.5, 0.75, 0.95, 0.995]) for n in shown}
    scale, unit = money_scale([0.0, *(v for q in ends.values() for v in (q[0], q[-1]))])
    fig, ax = _figure(height=max(3.4, 0.62 * len(shown) + 2.2))
    for row, name in enumerate(shown):
        y = len(shown) - 1 - row  # the first on top
        x = data[name]
        q = ends[name] / scale
        inner = x[(x >= ends[name][0]) & (x <= ends[name][-1])][:KDE_TRIALS] / scale
        if inner.size > 1 and np.ptp(inner) > 1e-12 * max(1.0, abs(float(inner[0]))):
            parts = ax.violinplot([inner], positions=[y], orientation="horizontal", widths=0.82,
                                  showextrema=False, points=160)
            for body in parts["bodies"]:
                body.set_facecolor(SKY)
                body.set_edgecolor(BLUE)
                body.set_linewidth(0.8)
                body.set_alpha(0.55)
        ax.hlines(y, q[1], q[5], color=BLACK, linewidth=1.2, zorder=3)
        ax.hlines(y, q[2], q[4], color=BLACK, linewidth=5.0, zorder=3)
        ax.vlines(q[3], y - 0.33, y + 0.33, color=BLUE, linewidth=2.2, zorder=4)
        ax.plot([means[name] / scale], [y], marker="D", markersize=7, color=VERMILLION, markeredgecolor=BLACK,
                markeredgewidth=0.8, linestyle="none", zorder=5)
    ax.axvline(0.0, color=BLACK, linewidth=1.6, zorder=2)
    ax.set_yticks(np.arange(len(shown))[::-1], [short_name(n) for n in shown])
    ax.set_ylim(-0.6, max(len(shown), 1) - 0.4)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(money_label("member's own NPV, on its own calendar and unscaled", currency, unit))
    ax.xaxis.set_major_formatter(FuncFormatter(tick_text))
    trials = max((x.size for x in data.values()), default=0)
    title = f"Each member's own NPV over {trials:,} trials"
    if left > 0:
        title += (f"\n{len(shown)} of {len(names)} members shown: those with the highest mean NPV "
                  f"({left} not drawn)")
    ax.set_title(title)
    handles = [Patch(facecolor=SKY, edgecolor=BLUE, alpha=0.55), Line2D([], [], color=BLACK, linewidth=1.2),
               Line2D([], [], color=BLACK, linewidth=5.0),
               Line2D([], [], marker="|", markersize=12, markeredgewidth=2.2, color=BLUE, linestyle="none"),
               Line2D([], [], marker="D", markersize=7, color=VERMILLION, markeredgecolor=BLACK, linestyle="none"),
               Line2D([], [], color=BLACK, linewidth=1.6)]
    labels = ["distribution (P0.5-P99.5)", "P5-P95", "P25-P75", "median", "mean", "NPV = 0"]
    fig.legend(handles, labels, loc="outside lower center", ncol=6, frameon=False)
    return fig


# --- the portfolio's NPV -------------------------------------------------------------------------

def portfolio_npv_histogram(npv: np.ndarray, summary: dict, currency: str, note: str = "") -> Figure:
    """Histogram of the portfolio's NPV: losses hatched, break-even, the mean, P5 and the CVaR
    5 % (the mean of the worst 5 % of trials) marked, P(NPV < 0) in the title. The marks are
    the summary's (every trial); `note` says which trials the bars are when not all."""
    metric = summary["metrics"]["npv"]
    fig, ax = _figure()
    values = np.asarray(npv, dtype=float)
    scale, unit, beyond = _two_sided_histogram(ax, values[np.isfinite(values)],
                                               dict(color=VERMILLION, hatch="///", label="NPV < 0"),
                                               dict(color=SKY, label="NPV ≥ 0"))
    handles, labels = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], color=BLACK, linewidth=2.0))
    labels.append("break-even (NPV = 0)")
    marks = ((metric["mean"], dict(color=BLACK, linestyle="--", linewidth=1.5), "mean"),
             (metric["p5"], dict(color=BLACK, linestyle=":", linewidth=1.8), "P5"),
             (summary["cvar5_npv"], dict(color=ORANGE, linestyle="-.", linewidth=2.2),
              "CVaR 5 % (mean of the worst 5 %)"))
    for est, style, what in marks:
        value = _value(est)
        if value is None:
            continue
        line = ax.axvline(value / scale, **style)
        handles.append(line)
        labels.append(f"{what}: {scaled(value, _se(est), scale)}")
    ax.set_title(f"Portfolio NPV: P(NPV < 0) = {estimate_text(summary['p_npv_negative'])}")
    ax.set_xlabel(money_label("portfolio NPV (at the portfolio's month 0)", currency, unit))
    ax.xaxis.set_major_formatter(FuncFormatter(tick_text))
    legend = fig.legend(handles, labels, loc="outside lower center", ncol=3, frameon=False,
                        title=f"{note}; {beyond}" if note else beyond, title_fontsize=8)
    legend.get_title().set_color(GREY)
    return fig


# --- spend by year -------------------------------------------------------------------------------

#: The bands the fan draws, outermost first, when every year has both ends.
BANDS = (("p5", "p95"), ("p10", "p90"), ("p20", "p80"), ("p25", "p75"))


def _percentile(year: dict, key: str) -> float | None:
    return _value(year.get(key))


def spend_fan(summary: dict, currency: str) -> Figure:
    """Spend by portfolio year (every cost, one-time and run): the widest two percentile bands
    the summary has (P5-P95 and P10-P90), the median and P80 as steps over each year, and each
    year's budget limit where set; the total budget and P(budget exceeded) in the title."""
    years = summary["spend_by_year"]
    n = len(years)
    bands = [(lo, hi) for lo, hi in BANDS if n and all(_percentile(y, lo) is not None and _percentile(y, hi)
                                                       is not None for y in years)][:2]
    limits = [y.get("limit") for y in years]
    tops = [v for y in years for v in (_percentile(y, "p95"), _percentile(y, "p90"), _percentile(y, "p50"))
            if v is not None]
    scale, unit = money_scale([*tops, *(v for v in limits if v is not None)])
    fig, ax = _figure()
    edges = np.arange(n + 1) + 0.5

    def steps(key):
        v = np.array([np.nan if _percentile(y, key) is None else _percentile(y, key) for y in years]) / scale
        return np.append(v, v[-1]) if n else v

    for (lo, hi), colour, alpha in zip(bands, (SKY, BLUE), (0.35, 0.45)):
        ax.fill_between(edges, steps(lo), steps(hi), step="post", color=colour, alpha=alpha, linewidth=0,
                        label=f"{lo.upper()}-{hi.upper()}")
    if n and any(_percentile(y, "p50") is not None for y in years):
        ax.plot(edges, steps("p50"), drawstyle="steps-post", color=BLACK, linewidth=2.0, label="median (P50)")
    if n and any(_percentile(y, "p80") is not None for y in years):
        ax.plot(edges, steps("p80"), drawstyle="steps-post", color=BLACK, linewidth=1.3, linestyle=":",
                label="P80")
    first = True
    for k, limit in enumerate(limits):
        if limit is None:
            continue
        ax.hlines(limit / scale, k + 0.5, k + 1.5, color=VERMILLION, linewidth=2.6, zorder=5,
                  label="the year's budget limit" if first else None)
        ax.plot([k + 1], [limit / scale], marker="v", markersize=7, color=VERMILLION, markeredgecolor=BLACK,
                markeredgewidth=0.6, linestyle="none", zorder=6)
        first = False
    ticks = []
    for y in years:
        lo, hi = y["months"]
        length = hi - lo + 1
        ticks.append(f"{y['year']}" if length == 12 else f"{y['year']}\n({length} month{'s' * (length != 1)})")
    ax.set_xticks(np.arange(1, n + 1), ticks)
    ax.set_xlim(0.5, n + 0.5)
    ax.set_ylim(bottom=min(0.0, *(steps("p5")[:-1] if n and bands else [0.0])))
    ax.grid(axis="x", visible=False)
    ax.set_xlabel("portfolio year (year 1: the portfolio's months 0-11)")
    ax.set_ylabel(money_label("spend in the year (every cost)", currency, unit))
    ax.yaxis.set_major_formatter(FuncFormatter(tick_text))
    title = "Spend by portfolio year"
    budget = summary.get("budget") or {}
    words = []
    if budget.get("total") is not None:
        words.append(f"total budget {budget['total']:,.0f} {currency}")
    if summary.get("p_budget_exceeded") is not None:
        words.append(f"P(budget exceeded) = {share_estimate(summary['p_budget_exceeded'], sep=' ')}")
    if words:
        title += "\n" + "; ".join(words)
    ax.set_title(title)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=5, frameon=False)
    return fig


# --- Euler contributions to CVaR -----------------------------------------------------------------

def cvar_contribution_bars(summary: dict, currency: str, top: int = TOP_CONTRIBUTIONS) -> Figure:
    """Each member's Euler contribution to the portfolio's CVaR 5 % (its mean NPV in the
    portfolio over the portfolio's worst 5 % of trials), ±1.96 standard errors, largest
    |contribution| on top with its share of the CVaR; the member's own CVaR 5 % (its worst 5 %
    on its own) as a diamond; the portfolio's CVaR as a dashed line. Beyond `top` members the
    rest are one grey bar (their sum, no whisker)."""
    rows = [(name, c) for name, c in summary["contributions"].items()]
    rows.sort(key=lambda r: -abs(_value(r[1]["contribution"]) or 0.0))
    shown, rest = rows[:top], rows[top:]
    cvar = _value(summary["cvar5_npv"])
    values = [_value(c["contribution"]) or 0.0 for _, c in shown]
    errors = [Z95 * (_se(c["contribution"]) or 0.0) for _, c in shown]
    own = [_value(c["own_cvar5"]) for _, c in shown]
    labels = []
    for name, c in shown:
        share = c.get("share")
        labels.append(short_name(name) + ("" if share is None else f" ({share * 100:.1f} %)"))
    if rest:
        rest_value = sum(_value(c["contribution"]) or 0.0 for _, c in rest)
        values.append(rest_value)
        errors.append(0.0)
        own.append(None)  # the sum of their own CVaRs would stretch the axis and compares with no bar
        share = rest_value / cvar if cvar else None
        labels.append(f"the other {len(rest)} together" + ("" if share is None else f" ({share * 100:.1f} %)"))
    n = len(values)
    points = [*(v - e for v, e in zip(values, errors)), *(v + e for v, e in zip(values, errors)),
              *(v for v in own if v is not None), *([cvar] if cvar is not None else []), 0.0]
    scale, unit = money_scale(points)
    fig, ax = _figure(height=max(3.4, 0.42 * n + 2.4))
    y = np.arange(n)[::-1]  # the first on top
    v = np.array(values) / scale
    err = np.array(errors) / scale
    colours = [BLUE if x < 0 else GREEN for x in values]
    hatches = [None if x < 0 else "\\\\" for x in values]
    if rest:
        colours[-1], hatches[-1] = GREY, ".."
    bars = ax.barh(y, v, height=0.62, color=colours, edgecolor="white", linewidth=0.3, xerr=err, ecolor=BLACK,
                   capsize=2.5, error_kw={"linewidth": 0.9}, zorder=3)
    for bar, hatch in zip(bars, hatches):
        if hatch:
            bar.set_hatch(hatch)
    for yy, o in zip(y, own):
        if o is not None:
            ax.plot([o / scale], [yy], marker="D", markersize=7, color="white", markeredgecolor=BLACK,
                    markeredgewidth=1.2, linestyle="none", zorder=5)
    ax.axvline(0.0, color=BLACK, linewidth=0.9, zorder=2)
    if cvar is not None:
        ax.axvline(cvar / scale, color=VERMILLION, linestyle="--", linewidth=1.8, zorder=2.5)
    ax.set_yticks(y, labels)
    ax.set_ylim(-0.6, n - 0.4)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(money_label("mean NPV in the portfolio over its worst 5 % of trials", currency, unit))
    ax.xaxis.set_major_formatter(FuncFormatter(tick_text))
    title = "Contributions to the portfolio's CVaR 5 % (share in brackets)"
    benefit = summary.get("diversification_benefit") or {}
    if _value(benefit) is not None:
        bound = _se(benefit)
        money = f"{unit} {currency}" if unit else currency
        value, _, error = scaled(_value(benefit), bound, scale).partition(" ± ")
        if not error:
            text = f"{value} {money}"
        elif benefit.get("se_is_bound"):
            text = f"{value} {money} (standard error ≤ {error})"
        else:
            text = f"{value} ± {error} {money}"
        title += f"\ndiversification benefit {text}"
    if rest:
        title += f"\nthe {len(shown)} largest of {len(rows)} members drawn alone, the other {len(rest)} as one bar"
    ax.set_title(title)
    alone = values[:len(shown)]
    handles, texts = [], []
    if any(x < 0 for x in alone):
        handles.append(Patch(facecolor=BLUE))
        texts.append("loses in the portfolio's worst 5 % (whisker: 95 %)")
    if any(x >= 0 for x in alone):
        handles.append(Patch(facecolor=GREEN, hatch="\\\\", edgecolor="white"))
        texts.append("gains in the portfolio's worst 5 %" + ("" if any(x < 0 for x in alone) else " (whisker: 95 %)"))
    handles += [Line2D([], [], marker="D", markersize=7, color="white", markeredgecolor=BLACK, linestyle="none"),
                Line2D([], [], color=VERMILLION, linestyle="--", linewidth=1.8)]
    texts += ["the member's own CVaR 5 % (its own worst 5 %)",
              f"portfolio CVaR 5 %: {scaled(cvar, _se(summary['cvar5_npv']), scale)}"]
    if rest:
        handles.append(Patch(facecolor=GREY, hatch="..", edgecolor="white"))
        texts.append("the other members' sum (no whisker, no own CVaR)")
    fig.legend(handles, texts, loc="outside lower center", ncol=2, frameon=False)
    return fig
