"""The report's charts: pure functions from arrays and summary figures to matplotlib figures.

Every chart reads in grayscale print and for colour-blind readers: the Okabe-Ito palette,
and wherever two things must be told apart they also differ in lightness, line style or
hatching, never in hue alone. Amounts are shown in the scenario's currency, scaled to
thousands or millions with the unit in the axis label. matplotlib's Agg backend: no
display is needed. Names and currencies are free text, so no text is read as mathtext or
TeX: a scenario named "$\\alpha$" shows those characters, and text between two "$" cannot
break the drawing.
"""

from __future__ import annotations

import io
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from matplotlib.ticker import FuncFormatter, MultipleLocator, PercentFormatter  # noqa: E402

from . import metrics as registry  # noqa: E402
from .cash_fan import fan_series  # noqa: E402
from .textout import fmt_bound  # noqa: E402

# Okabe & Ito (2008), chosen to stay distinct under the common colour-vision deficiencies.
BLUE, VERMILLION, GREEN, ORANGE, SKY, BLACK, GREY = ("#0072B2", "#D55E00", "#009E73", "#E69F00", "#56B4E9",
                                                     "#000000", "#7F7F7F")
WIDE, TALL = 9.0, 4.8
DPI = 130
STYLE = {
    "font.size": 10, "axes.titlesize": 12, "axes.labelsize": 10, "legend.fontsize": 9,
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.color": "#DDDDDD",
    "grid.linewidth": 0.6, "figure.dpi": DPI, "savefig.dpi": DPI,
    "text.usetex": False, "text.parse_math": False,  # user text is shown literally
}
#: The metrics the charts draw; their axis labels and names come from the registry.
NPV, ROI = registry.metric("npv"), registry.metric("roi")


def money_scale(values) -> tuple[float, str]:
    """(divisor, unit word) so that amounts read as a few digits: millions, thousands or units."""
    top = max((abs(v) for v in values if v is not None and math.isfinite(v)), default=0.0)
    if top >= 1e6:
        return 1e6, "million"
    if top >= 1e4:
        return 1e3, "thousand"
    return 1.0, ""


def money_label(what: str, currency: str, unit: str) -> str:
    return f"{what} ({unit + ' ' if unit else ''}{currency})"


def percent(p: float, digits: int = 1) -> str:
    return f"{p * 100:.{digits}f} %"


def _figure(rows: int = 1, cols: int = 1, width: float = WIDE, height: float = TALL):
    with plt.rc_context(STYLE):
        fig = Figure(figsize=(width, height), layout="constrained")
        axes = fig.subplots(rows, cols)
    return fig, axes


def literal_text(fig: Figure) -> Figure:
    """Every text of the figure drawn as the characters it holds: no mathtext, no TeX.
    Titles, legends and notes are made before this; tick labels made while drawing take
    STYLE's "text.parse_math" = False."""
    for text in fig.findobj(Text):
        text.set_usetex(False)
        text.set_parse_math(False)
    return fig


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG bytes (white background, for print), its text literal."""
    buffer = io.BytesIO()
    with plt.rc_context(STYLE):
        literal_text(fig).savefig(buffer, format="png", facecolor="white")
    return buffer.getvalue()


def _marker_lines(ax, marks, scale):
    """Vertical lines for P5/P50/P95-like marks: [(label, value, style)], each labelled at the top."""
    for label, value, style in marks:
        if value is None or not math.isfinite(value):
            continue
        ax.axvline(value / scale, color=BLACK, linestyle=style, linewidth=1.2, label=label)


def _histogram_bars(values: np.ndarray):
    """Shares of trials in 60 bins over P0.5..P99.5 (an edge on zero), and the shares beyond.

    `values` is the caller's own copy (the finite values): its order is used as scratch space
    by the quantiles, which would otherwise copy a million values once more."""
    lo, hi = np.quantile(values, [0.005, 0.995], overwrite_input=True) if values.size else (0.0, 1.0)
    if hi - lo <= 1e-9 * max(1.0, abs(lo)):  # (nearly) constant: one visible bar around the value
        n = max(values.size, 1)
        half = max(abs(lo) * 0.01, 1.0)
        edges = np.array([lo - half, hi + half])
        return np.array([np.count_nonzero(np.abs(values - lo) <= half) / n]), edges, 0.0, 0.0
    # about 60 equal bins, aligned so that zero is an edge: no bar straddles loss and gain
    width = (hi - lo) / 60
    edges = np.arange(math.floor(lo / width), math.ceil(hi / width) + 1) * width
    lo, hi = edges[0], edges[-1]
    counts, edges = np.histogram(values, bins=edges)
    n = max(values.size, 1)
    return counts / n, edges, np.count_nonzero(values < lo) / n, np.count_nonzero(values > hi) / n


def _two_sided_histogram(ax, values: np.ndarray, below_zero: dict, above_zero: dict) -> tuple[float, str, str]:
    """Bars of `values` (the caller's copy of the finite values, reordered here) split at zero,
    each side in its own style; returns the scale, its unit word and the note on what lies
    beyond the axis."""
    share, edges, below, above = _histogram_bars(values)
    scale, unit = money_scale([edges[0], edges[-1]])
    left, width = edges[:-1] / scale, np.diff(edges) / scale
    negative = edges[1:] <= 0
    for side, style in ((negative, below_zero), (~negative, above_zero)):
        if side.any():
            ax.bar(left[side], share[side], width=width[side], align="edge", edgecolor="white", linewidth=0.3,
                   **style)
    ax.axvline(0.0, color=BLACK, linewidth=2.0)
    ax.set_ylabel("share of trials")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
    return scale, unit, beyond_text(below, above)


def beyond_text(below: float, above: float) -> str:
    """What a histogram leaves out at each end; a side with no trial says so (not "0.0 %")."""
    def side(share, where):
        return f"no trial {where}" if share == 0 else f"{share_text(share)} of trials {where}"
    return f"not drawn: {side(below, 'below the axis')}, {side(above, 'above it')}"


def share_text(p: float) -> str:
    """A probability as a percentage that never rounds a non-zero share to 0."""
    if p is None:
        return "n/a"
    if 0 < p < 0.001:
        return "< 0.1 %"
    if 0.999 < p < 1:
        return "> 99.9 %"
    return percent(p)


def bound_text(est: dict | None, sep: str = " ") -> str | None:
    """A probability seen in 0 of n trials (or n of n) as the project words it everywhere:
    "0 trials (below 0.0015 % at 95 % confidence)", "every trial (above 99.9985 % at 95 %
    confidence)", the one-sided 95 % bound rounded outwards (textout.fmt_bound). Its standard
    error is undefined, not zero, so it is never shown as "0.0 %" or "100.0 %". None for any
    other estimate. `sep` goes before the parenthesis ("\n" in a chart's legend or title)."""
    if est is None:
        return None
    if est.get("upper95") is not None:
        return f"0 trials{sep}(below {fmt_bound(est['upper95'], upper=True).replace('%', ' %')} at 95 % confidence)"
    if est.get("lower95") is not None:
        return (f"every trial{sep}(above {fmt_bound(est['lower95'], upper=False).replace('%', ' %')} "
                f"at 95 % confidence)")
    return None


def estimate_text(est: dict) -> str:
    """A probability estimate ± its standard error; 0 or every trial shows its one-sided 95 %
    bound instead (bound_text)."""
    if est is None or est.get("value") is None:
        return "n/a"
    bound = bound_text(est)
    if bound is not None:
        return bound
    if est.get("se") is None:
        return share_text(est["value"])
    return f"{percent(est['value'])} ± {percent(est['se'], 2)}"


def share_estimate(est: dict | None, sep: str = "\n") -> str:
    """A probability estimate for a legend: its value as a share, or its bound (bound_text,
    the parenthesis on a line of its own by default, so that the legend stays narrow)."""
    if est is None or est.get("value") is None:
        return "n/a"
    return bound_text(est, sep) or share_text(est["value"])


def in_trials(est: dict | None, sep: str = " ") -> str:
    """A probability read as "in ... of trials": "12.3 % of trials", or "0 trials (below ...)"."""
    if est is None or est.get("value") is None:
        return "n/a"
    return bound_text(est, sep) or f"{share_text(est['value'])} of trials"


def complement(est: dict) -> dict:
    """The estimate of the opposite event: 1 - p with the same standard error, a 0-of-n
    upper bound turned into an n-of-n lower bound and back."""
    value = None if est.get("value") is None else 1.0 - est["value"]
    out = {"value": value, "se": est.get("se")}
    if est.get("upper95") is not None:
        out["lower95"] = 1.0 - est["upper95"]
    if est.get("lower95") is not None:
        out["upper95"] = 1.0 - est["lower95"]
    return out


def npv_histogram(npv: np.ndarray, summary: dict, currency: str, note: str = "") -> Figure:
    """Histogram of NPV: losses darker and hatched, the zero line, and P5, P50, P95 marked."""
    metric = summary["metrics"]["npv"]
    fig, ax = _figure()
    scale, unit, beyond = _two_sided_histogram(ax, npv[np.isfinite(npv)],
                                               dict(color=VERMILLION, hatch="///", label="NPV < 0"),
                                               dict(color=SKY, label="NPV ≥ 0"))
    _marker_lines(ax, [(f"P5 = {metric['p5']['value'] / scale:,.2f}", metric["p5"]["value"], ":"),
                       (f"P50 = {metric['p50']['value'] / scale:,.2f}", metric["p50"]["value"], "--"),
                       (f"P95 = {metric['p95']['value'] / scale:,.2f}", metric["p95"]["value"], "-.")], scale)
    p_neg = summary["p_npv_negative"]
    ax.set_title(f"{NPV.short}: P({NPV.short} < 0) = {estimate_text(p_neg)}")
    ax.set_xlabel(money_label(NPV.chart_label, currency, unit))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.1f}"))
    ax.legend(loc="best", frameon=True, framealpha=0.9)
    fig.text(0.01, 0.005, f"{note}; {beyond}" if note else beyond, fontsize=8, color=GREY, ha="left",
             va="bottom")
    return fig


def _spread_xlim(ax, spread, scale: float) -> None:
    """Show P0.2..P99.8 (`spread`, from `_sorted_finite`) over `scale` (a constant is left to
    matplotlib's own margins)."""
    if spread is not None:
        lo, hi = spread / scale
        if hi > lo:
            ax.set_xlim(lo, hi)


#: The quantiles `_sorted_finite` takes: the S-curves' axis (P0.2, P99.8) and money scale (P1, P99).
SPREAD, SCALE_RANGE = [0.002, 0.998], [0.01, 0.99]


def _sorted_finite(values: np.ndarray, quantiles=SPREAD + SCALE_RANGE) -> tuple[np.ndarray, np.ndarray | None]:
    """The finite values, sorted, and their quantiles at `quantiles` (None when there are no
    values or no quantiles asked for).

    One copy of a million values, not five: the quantiles partition that copy in place before it
    is sorted, and the curve's points are scaled after they are picked (`_cdf`)."""
    finite = values[np.isfinite(values)]
    q = np.quantile(finite, quantiles, overwrite_input=True) if finite.size and len(quantiles) else None
    finite.sort()
    return finite, q


def _ecdf_points(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points (x_k, k / n) of the empirical CDF of `x` (sorted): every one up to 4,000 values,
    else 2,000 evenly spaced ranks, which are exact points of the curve (a chart's width in
    pixels is far less)."""
    if x.size > 4000:
        pick = np.unique(np.linspace(0, x.size - 1, 2000).astype(int))
        return x[pick], (pick + 1) / x.size
    return x, np.arange(1, x.size + 1) / x.size


def _cdf(ax, x: np.ndarray, scale: float = 1.0, **kwargs):
    """The empirical CDF of `x` (sorted and finite) over `scale`, as steps."""
    if x.size:
        x, y = _ecdf_points(x)
        ax.plot(x / scale, y, drawstyle="steps-post", **kwargs)


def s_curves(npv: np.ndarray, roi: np.ndarray, summary: dict, currency: str) -> Figure:
    """Cumulative distributions of NPV and ROI, with the break-even and the ROI/BCR targets."""
    fig, (left, right) = _figure(1, 2)
    npv, npv_q = _sorted_finite(npv)
    scale, unit = money_scale(npv_q[2:] if npv_q is not None else [0.0])
    _cdf(left, npv, scale, color=BLUE, linewidth=2.0)
    del npv  # the sorted copy; the ROI's takes its memory
    left.axvline(0.0, color=BLACK, linewidth=1.5, linestyle="--",
                 label=f"NPV = 0: P(NPV < 0) = {share_estimate(summary['p_npv_negative'])}")
    left.set_xlabel(money_label(NPV.chart_label, currency, unit))
    left.set_title(f"{NPV.short}: cumulative probability")
    roi, roi_q = _sorted_finite(roi, SPREAD)
    _cdf(right, roi, color=BLUE, linewidth=2.0)
    targets = summary.get("targets", {})
    styles = iter(["--", ":"])
    if "roi_min" in targets:
        t = targets["roi_min"]
        right.axvline(t["target"], color=BLACK, linewidth=1.5, linestyle=next(styles),
                      label=f"ROI ≥ {percent(t['target'], 0)}: met in {share_estimate(t['probability'])}")
    if "bcr_min" in targets:  # BCR = 1 + ROI when costs are positive: the same axis
        t = targets["bcr_min"]
        right.axvline(t["target"] - 1.0, color=VERMILLION, linewidth=1.5, linestyle=next(styles, "-."),
                      label=f"BCR ≥ {t['target']:g} (ROI ≥ {percent(t['target'] - 1.0, 0)}): met in "
                            f"{share_estimate(t['probability'])}")
    right.set_xlabel(ROI.chart_label)
    right.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    right.set_title(f"{ROI.short}: cumulative probability")
    _spread_xlim(right, roi_q, 1.0)
    _spread_xlim(left, None if npv_q is None else npv_q[:2], scale)
    for ax in (left, right):
        ax.set_ylim(0, 1)
        ax.set_ylabel("P(value ≤ x)")
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        if ax.get_legend_handles_labels()[0]:  # the ROI side has none without an ROI or BCR target
            ax.legend(loc="lower right", frameon=True, framealpha=0.9)
    return fig


def payback_curve(paid_by: np.ndarray, never: dict, horizon: int, target: float | None,
                  met: dict | None) -> Figure:
    """P(paid back by month k), k = 1..H, with the payback target and the share that never pays back.

    `paid_by[k-1]` is the share of trials with payback_months <= k; `never` and `met` are
    probability estimates (summary.probability), so that 0 of n shows its bound. The legend
    sits under the axes, where it hides no part of the curves.
    """
    fig, ax = _figure()
    months = np.arange(1, horizon + 1)
    ax.step(months, paid_by, where="post", color=BLUE, linewidth=2.0, label="paid back by month")
    ax.axhline(1.0 - never["value"], color=GREY, linestyle=":", linewidth=1.2,
               label=f"ever within {horizon} months: {share_estimate(complement(never))}")
    if target is not None:
        ax.axvline(target, color=BLACK, linestyle="--", linewidth=1.5,
                   label=f"target ≤ {target:g} months: met in {share_estimate(met)}")
    ax.set_xlim(0, horizon)
    ax.set_ylim(0, 1)
    ax.set_xlabel("months from the start of the project")
    ax.set_ylabel("share of trials paid back")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    never_text = in_trials(never, sep="\n")  # a bound's parenthesis on a second line
    ax.set_title(f"Payback: never within the {horizon}-month horizon in {never_text}")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=2, frameon=False)
    return fig


def short_driver(name: str) -> str:
    """A driver's dotted path as a readable axis label: `costs.x.amount` -> "x (cost)",
    `events.x.occurred` -> "x (event)", `risks.cost_overrun` -> "cost overrun"."""
    parts = name.split(".")
    if parts[0] == "costs" and len(parts) == 3:
        label = f"{parts[1]} (cost)"
    elif parts[:2] == ["benefits", "streams"] and len(parts) == 4:
        label = f"{parts[2]} (benefit)"
    elif parts[0] == "events" and len(parts) == 3:
        label = f"{parts[1]} (event)" if parts[2] == "occurred" else f"{parts[1]}: {parts[2]}"
    elif parts[0] == "risks":
        label = " ".join(parts[1:])
    else:
        label = " ".join(parts)
    return label.replace("_", " ")


def tornado(rows: list[dict], base: float, currency: str, metric: str = "npv", top: int = 12,
            base_label: str | None = None) -> Figure:
    """Mean metric (a money metric's name) with each driver in its bottom and top decile,
    largest swing on top. `base_label` says which trials the mean line is over (the trials
    ranked, e.g. "mean NPV of the 200,000 trials ranked"); by default "mean NPV"."""
    label = registry.metric(metric).short
    rows = [r for r in rows if r["swing"]["value"] is not None][:]
    rows.sort(key=lambda r: -abs(r["swing"]["value"]))
    rows = rows[:top][::-1]  # barh draws bottom-up
    values = [base] + [r["low"]["value"] for r in rows] + [r["high"]["value"] for r in rows]
    scale, unit = money_scale(values)
    fig, ax = _figure(height=max(3.0, 0.42 * len(rows) + 1.4))
    y = np.arange(len(rows))
    low = np.array([r["low"]["value"] for r in rows]) / scale
    high = np.array([r["high"]["value"] for r in rows]) / scale
    b = base / scale
    ax.barh(y, low - b, left=b, height=0.7, color=VERMILLION, hatch="///", edgecolor="white", linewidth=0.3,
            label="driver in its lowest 10 % (an event: without it)")
    ax.barh(y, high - b, left=b, height=0.7, color=SKY, edgecolor="white", linewidth=0.3,
            label="driver in its highest 10 % (an event: with it)")
    ax.axvline(b, color=BLACK, linewidth=1.2)
    ax.set_yticks(y, [short_driver(r["driver"]) for r in rows])
    ax.set_xlabel(money_label(f"mean {label}", currency, unit))
    ax.set_title(f"What moves {label}: mean {label} with each driver at its extremes")
    ax.grid(axis="y", visible=False)
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles=[*handles, Line2D([], [], color=BLACK, linewidth=1.2)],
               labels=[*labels, f"{base_label or f'mean {label}'}: {b:,.2f}"], loc="outside lower center", ncol=2,
               frameon=False)
    return fig


def fan_chart(fan: dict, go_live: dict | None, currency: str) -> Figure:
    """Cumulative cash after k months, k = 0..H (cash_fan.fan_series): P10-P90 and P25-P75
    bands, the median, break-even and go-live.

    The x-axis counts months elapsed, as payback does: the median is at or above zero from
    the median trial's payback month on (exactly so in a deterministic run). Each month's
    position is drawn as a step that holds until the next month's, with a dot at each month
    end, so no fractional crossing between two months can be read off. The legend sits under
    the axes, where it hides nothing.
    """
    months, p = fan_series(fan)
    scale, unit = money_scale(np.concatenate([p["p10"], p["p90"]]))
    fig, ax = _figure()
    ax.fill_between(months, p["p10"] / scale, p["p90"] / scale, step="post", color=SKY, alpha=0.35,
                    linewidth=0, label="P10-P90")
    ax.fill_between(months, p["p25"] / scale, p["p75"] / scale, step="post", color=BLUE, alpha=0.45,
                    linewidth=0, label="P25-P75")
    ax.plot(months, p["p50"] / scale, drawstyle="steps-post", color=BLACK, linewidth=1.8, marker="o",
            markersize=2.8, label="median (a dot per month end)")
    ax.axhline(0.0, color=GREY, linewidth=1.0)
    if go_live is not None and go_live.get("p50") is not None:
        if go_live.get("p10") is not None and go_live.get("p90") is not None and go_live["p90"] > go_live["p10"]:
            ax.axvspan(go_live["p10"], go_live["p90"], color=ORANGE, alpha=0.18, linewidth=0,
                       label=f"go-live P10-P90 (months {go_live['p10']:g}-{go_live['p90']:g})")
        ax.axvline(go_live["p50"], color=VERMILLION, linestyle="--", linewidth=1.5,
                   label=f"median go-live (month {go_live['p50']:g})")
    ax.set_xlim(0, fan["months"])
    ax.set_xlabel("months from the start of the project (cash after that many months, as payback counts)")
    ax.set_ylabel(money_label("cumulative net cash", currency, unit))
    ax.set_title("Cumulative cash position after each month (undiscounted)")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=3, frameon=False)
    return fig


def compare_s_curves(a: np.ndarray, b: np.ndarray, names: tuple[str, str], currency: str) -> Figure:
    """Both scenarios' NPV S-curves on one chart: A solid dark, B dashed light."""
    both = np.concatenate([a[np.isfinite(a)], b[np.isfinite(b)]])
    q = np.quantile(both, SPREAD + SCALE_RANGE, overwrite_input=True) if both.size else None
    del both
    scale, unit = money_scale(q[2:] if q is not None else [0.0])
    fig, ax = _figure()
    _cdf(ax, _sorted_finite(a, [])[0], scale, color=BLUE, linewidth=2.2, label=f"A: {names[0]}")
    _cdf(ax, _sorted_finite(b, [])[0], scale, color=ORANGE, linewidth=2.2, linestyle="--", label=f"B: {names[1]}")
    ax.axvline(0.0, color=BLACK, linewidth=1.0)
    _spread_xlim(ax, None if q is None else q[:2], scale)
    ax.set_ylim(0, 1)
    ax.set_xlabel(money_label(NPV.chart_label, currency, unit))
    ax.set_ylabel(f"P({NPV.short} ≤ x)")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_title(f"{NPV.short}: cumulative probability, both scenarios (common random numbers)")
    ax.legend(loc="lower right", frameon=True, framealpha=0.9)
    return fig


def delta_histogram(delta: np.ndarray, summary: dict, names: tuple[str, str], currency: str) -> Figure:
    """Histogram of NPV(A) - NPV(B), trial by trial: B better hatched, zero and the mean marked."""
    fig, ax = _figure()
    scale, unit, beyond = _two_sided_histogram(ax, delta[np.isfinite(delta)],
                                               dict(color=ORANGE, hatch="\\\\\\", label=f"B better ({names[1]})"),
                                               dict(color=BLUE, label=f"A better ({names[0]})"))
    mean = summary["mean"]
    ax.axvline(mean["value"] / scale, color=BLACK, linestyle="--", linewidth=1.2,
               label=f"mean {mean['value']:,.0f} ± {mean['se']:,.0f} {currency}")
    ax.set_xlabel(money_label("NPV(A) - NPV(B)", currency, unit))
    ax.set_title("Difference in NPV, trial by trial")
    ax.legend(loc="upper right", frameon=True, framealpha=0.9)
    fig.text(0.01, 0.005, beyond, fontsize=8, color=GREY, ha="left", va="bottom")
    return fig


# --- budget and date (confidence.py) -----------------------------------------------------------

def _month(x) -> str:
    return "never" if x is None else f"{x:g}"


def signed_percent(share: float) -> str:
    """A signed share as a percentage: "+26.7 %", "0 %" when there is none, and a tiny share
    to two significant digits ("+0.0012 %"), never a rounded "+0.0 %"."""
    if share == 0:
        return "0 %"
    if abs(share) < 0.0005:
        return f"{share * 100:+.2g} %"
    return f"{share * 100:+.1f} %"


def _signed_share(share: float | None) -> str:
    return "" if share is None else f" ({signed_percent(share)} of the base)"


def budget_s_curve(cost: np.ndarray, block: dict, currency: str, shown: str = "") -> Figure:
    """The one-time cost's S-curve (P(cost <= x)) with the base case, P50 and P80 marked and
    the contingency to P80 drawn as a span from the base to P80, labelled with its amount.
    `block` is the summary's budget_and_date["costs"]["one_time_cost"]; `shown` says which
    trials the curve is drawn from when not all ("the first 1,000,000 of 2,000,000 trials").
    The axis runs from P0.2 to P99 of the costs (a long tail of risk events would squash the
    body a board reads), always with the base case and the marks on it."""
    base, p50, p80 = block["base"], block["p50"]["value"], block["p80"]["value"]
    finite, q = _sorted_finite(cost, [0.002, 0.99])
    marks = [v for v in (base, p50, p80) if v is not None]
    spread = list(q) if q is not None else []
    scale, unit = money_scale([*spread, *marks])
    lo, hi = min([*spread, *marks]), max([*spread, *marks])
    pad = 0.03 * (hi - lo) if hi > lo else 0.05 * max(abs(lo), 1.0)  # one value: +/- 5 % around it
    left, right = (lo - pad) / scale, (hi + pad) / scale
    fig, ax = _figure()
    if finite.size:
        # the curve over the whole axis: 0 left of the smallest cost, 1 right of the largest (drawn
        # over the marks, so a single value still shows its step)
        x, y = _ecdf_points(finite)
        x = x / scale
        ax.plot(np.concatenate([[min(left, x[0]), x[0]], x, [max(right, x[-1])]]),
                np.concatenate([[0.0, 0.0], y, [1.0]]), drawstyle="steps-post", color=BLUE, linewidth=2.0,
                zorder=3, label="share of trials at or below each cost" + (f" ({shown})" if shown else ""))
    ax.axvline(base / scale, color=GREY, linewidth=2.0,
               label=f"base case {base / scale:,.2f}: enough in {in_trials(block['p_base_enough'], sep=chr(10))}")
    if p50 is not None:
        ax.axvline(p50 / scale, color=BLACK, linestyle="--", linewidth=1.2, label=f"P50 = {p50 / scale:,.2f}")
    if p80 is not None:
        ax.axvline(p80 / scale, color=BLACK, linestyle="-.", linewidth=1.2, label=f"P80 = {p80 / scale:,.2f}")
        ax.plot([p80 / scale], [0.8], marker="o", color=VERMILLION, markersize=6, linestyle="none", zorder=5)
        k = block["contingency"]["p80"]
        label = f"contingency to P80: {k['value']:,.0f} {currency}{_signed_share(k['share_of_base'])}"
        if k["value"]:
            ax.annotate("", xy=(p80 / scale, 0.8), xytext=(base / scale, 0.8), zorder=5,
                        arrowprops=dict(arrowstyle="<|-|>", color=VERMILLION, linewidth=1.8, shrinkA=0, shrinkB=0))
        # the label where the curve is not: right of P80 and under the curve or, when P80 is near
        # the right end, left of the base case and over the curve (which is under 80 % there)
        box = dict(boxstyle="round,pad=0.2", facecolor="white", edgecolor=VERMILLION, linewidth=0.8)
        step = 0.015 * (right - left)
        if (p80 / scale - left) / (right - left) <= 0.6:
            ax.text(p80 / scale + step, 0.77, label, ha="left", va="top", fontsize=9, zorder=6, bbox=box)
        else:
            ax.text(min(base, p80) / scale - step, 0.83, label, ha="right", va="bottom", fontsize=9, zorder=6,
                    bbox=box)
    ax.set_xlim(left, right)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(money_label("one-time cost", currency, unit))
    ax.set_ylabel("P(one-time cost ≤ x)")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.2f}"))
    ax.set_title("One-time cost: how much to set aside, at which confidence")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=2, frameon=False)
    return fig


def go_live_histogram(counts: dict, date: dict) -> Figure:
    """The go-live month over every trial (the summary's exact histogram `counts`, month ->
    trials), each month's bar drawn over that month (month m from m - 1 to m months after the
    start, so that everything left of a line at D is live by month D): months on or before the
    plan (the base case's) in one style, later months hatched, with the plan and P80 marked.
    `date` is budget_and_date["go_live"]."""
    months = np.array(sorted(counts), dtype=float)
    trials = max(sum(counts.values()), 1)
    share = np.array([counts[int(m)] for m in months], dtype=float) / trials
    planned, p80 = date["planned"], date["p80"]["value"]
    # the far tail (after the month that 99.9 % of trials reach) is counted, not drawn
    last = months[np.searchsorted(np.cumsum(share), 0.999 - 1e-12)] if months.size else planned
    last = max(last, planned, p80 if p80 is not None else planned)
    later = share[months > last].sum()
    months, share = months[months <= last], share[months <= last]
    fig, ax = _figure()
    late = months > planned
    for side, style in ((~late, dict(color=SKY, label="live on or before the planned month")),
                        (late, dict(color=VERMILLION, hatch="///", label="live after the planned month"))):
        if side.any():
            ax.bar(months[side] - 0.5, share[side], width=0.9, edgecolor="white", linewidth=0.3, **style)
    ax.axvline(planned, color=BLACK, linewidth=2.0,
               label=f"base-case go-live (the plan): month {planned:g}; on or before it in "
                     f"{in_trials(date['p_on_plan'], sep=chr(10))}")
    if p80 is not None:
        k = date["contingency_months"]["p80"]["value"]
        ax.axvline(p80, color=BLACK, linestyle="--", linewidth=1.5,
                   label=f"P80: live by month {p80:g} (schedule contingency {_month(k)} months)")
    lo, hi = (min(months.min(), planned), max(months.max(), planned)) if months.size else (planned, planned)
    if later > 0:
        ax.plot([], [], linestyle="none", label=f"not drawn: {share_text(later)} of trials live after month {last:g}")
    ax.set_xlim(lo - 2, hi + 1)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.xaxis.set_minor_locator(MultipleLocator(1))
    ax.set_xlabel("months from the start of the project (each bar: the month in which the system goes live)")
    ax.set_ylabel("share of trials")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))  # as many decimals as the ticks need
    ax.set_title("Go-live month: when the system will be live")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=2, frameon=False)
    return fig


def joint_chart(cost: np.ndarray, go_live: np.ndarray, block: dict, currency: str, shown: str = "") -> Figure:
    """One-time cost against go-live month, one dot per trial shown, each spread over the
    month in which it goes live (from m - 1 to m), so that everything left of a month D is
    live by D and everything left of and below a point (D, B) holds both. On it: the frontier
    B(D), the smallest budget that cost and date hold to together at the joint level when live
    by month D (a step: B(D) holds until the next month drawn); the base case (cost, plan);
    the P80 cost and P80 month. `block` is the summary's whole budget_and_date block; `shown`
    says which trials the dots are ("the first 20,000 of 200,000 trials"; by default all given)."""
    joint, costs, date = block["joint"], block["costs"]["one_time_cost"], block["go_live"]
    level = f"{joint['level'] * 100:g} %"
    base_cost, plan = costs["base"], date["planned"]
    p80_cost, p80_month = costs["p80"]["value"], date["p80"]["value"]
    frontier = [(p["go_live_month"], p["budget"]["value"]) for p in joint["frontier"]]
    reached = [(d, b) for d, b in frontier if b is not None]
    keep = np.isfinite(cost) & np.isfinite(go_live)
    cost, go_live = cost[keep], go_live[keep]
    scale, unit = money_scale([*(np.quantile(cost, [0.0, 1.0]) if cost.size else []), base_cost, p80_cost,
                               *(b for _, b in reached)])
    fig, ax = _figure(height=5.6)
    if cost.size:
        # a fixed spread, not a random one: a trial's place in its month follows its rank
        offset = -0.1 - 0.8 * ((np.arange(cost.size) * 0.6180339887498949) % 1.0)
        many = cost.size > 2000
        ax.scatter(go_live + offset, cost / scale, s=4 if many else 16, color=SKY if many else BLUE,
                   alpha=0.3 if many else 0.7, linewidths=0, rasterized=True, zorder=3,
                   label="one dot per trial: " + (shown or (f"{cost.size:,} trials" if cost.size > 1 else "1 trial")))
    if reached:
        months = np.array([d for d, _ in reached] + [reached[-1][0] + 1.0])
        budgets = np.array([b for _, b in reached] + [reached[-1][1]]) / scale
        ax.plot(months, budgets, drawstyle="steps-post", color=VERMILLION, linewidth=2.4, zorder=5,
                label=f"budget B(D) if live by month D: both hold in {level} of trials")
        ax.plot(months[:-1], budgets[:-1], marker="o", color=VERMILLION, markersize=5, linestyle="none", zorder=5)
    def months_noted(prefix):
        return [p["go_live_month"] for p in joint["frontier"]
                if p["budget"]["value"] is None and p["budget"].get("note", "").startswith(prefix)]
    unreachable, undetermined = months_noted("not reachable"), months_noted("outside")
    words = []
    if unreachable:
        words.append(f"not reachable if live by month {_month(max(unreachable))} or earlier"
                     if max(unreachable) < min((d for d, _ in reached), default=math.inf)
                     else "not reachable for months " + ", ".join(_month(d) for d in unreachable))
    if undetermined:
        words.append("not determined for months " + ", ".join(_month(d) for d in undetermined))
    if words:
        ax.plot([], [], linestyle="none", label=f"{level} budget: " + "; ".join(words))
    if p80_cost is not None:
        ax.axhline(p80_cost / scale, color=BLACK, linestyle="--", linewidth=1.2,
                   label=f"P80 one-time cost: {p80_cost / scale:,.2f}")
    if p80_month is not None:
        ax.axvline(p80_month, color=BLACK, linestyle=":", linewidth=1.6, label=f"P80 go-live: by month {p80_month:g}")
    together = joint["base_and_plan"]
    ax.plot([plan], [base_cost / scale], marker="D", markersize=10, color=BLACK, markeredgecolor="white",
            markeredgewidth=1.5, linestyle="none", zorder=6,
            label=f"base case: {base_cost / scale:,.2f} by month {plan:g};\nboth hold in "
                  f"{in_trials(together, sep=chr(10))}")
    chosen = joint.get("chosen")
    if chosen is not None:
        ax.plot([chosen["go_live_month"]], [chosen["budget"] / scale], marker="*", markersize=16, color=ORANGE,
                markeredgecolor=BLACK, linestyle="none", zorder=7,
                label=f"decision: {chosen['budget'] / scale:,.2f} by month {chosen['go_live_month']:g};\n"
                      f"both hold in {in_trials(chosen['probability'], sep=chr(10))}")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("months from the start of the project (each dot drawn within the month it goes live)")
    ax.set_ylabel(money_label("one-time cost", currency, unit))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.2f}"))
    ax.xaxis.set_minor_locator(MultipleLocator(1))
    # the cost axis shows the dots up to their P99.5 and every mark; a far tail is counted, not drawn
    marks = [base_cost, *([p80_cost] if p80_cost is not None else []), *(b for _, b in reached),
             *([chosen["budget"]] if chosen is not None else [])]
    top = max([*(np.quantile(cost, [0.995]) if cost.size else []), *marks])
    bottom = min([*(cost.min(initial=top),), *marks])
    above = int(np.count_nonzero(cost > top))
    if above:
        ax.plot([], [], linestyle="none", label=f"not drawn: {above:,} dots above the axis "
                                                f"({share_text(above / cost.size)} of them)")
    pad = 0.04 * (top - bottom) if top > bottom else 0.05 * max(abs(top), 1.0)
    ax.set_ylim((bottom - pad) / scale, (top + pad) / scale)
    ends = [plan, *(d for d, _ in frontier), *([p80_month] if p80_month is not None else [])]
    lo = min([*ends, *(go_live.min(initial=plan) - 1.0,)])
    hi = max([*ends, *(go_live.max(initial=plan),), *((reached[-1][0] + 1.0,) if reached else ())])
    ax.set_xlim(lo - 0.3, hi + 0.3)
    ax.set_title(f"Budget and date together: the {level} frontier")
    legend = fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=2, frameon=False)
    for handle in legend.legend_handles:
        if hasattr(handle, "set_sizes"):  # the trials' dots, legible in the legend
            handle.set_sizes([25.0])
            handle.set_alpha(0.8)
    return fig


def voi_bars(result: dict, top: int = 12) -> Figure:
    """EVPPI of the drivers most worth learning (and of each named group), 95 % whiskers, against
    EVPI (value_of_information.py): what a pilot or study of each could be worth at most."""
    cur = result["currency"]
    worth = [r for r in result["drivers"] if r["evppi"]["value"] > 0.0]
    rows = [("group", r) for r in result["groups"]] + [("driver", r) for r in worth[:top]]
    rows = rows[::-1]  # barh draws bottom-up
    evpi = result["evpi"]["value"]
    scale, unit = money_scale([evpi] + [r["evppi"]["value"] for _, r in rows])
    fig, ax = _figure(height=max(3.0, 0.42 * len(rows) + 1.6))
    y = np.arange(len(rows))
    values = np.array([r["evppi"]["value"] for _, r in rows]) / scale
    errors = 1.96 * np.array([r["evppi"]["se"] or 0.0 for _, r in rows]) / scale
    colours = [ORANGE if kind == "group" else BLUE for kind, _ in rows]
    ax.barh(y, values, height=0.7, color=colours, xerr=errors, ecolor=BLACK, capsize=2.5,
            error_kw={"linewidth": 0.9})
    for yy, value, error in zip(y, values, errors):  # the figure in full, with its currency: the axis is scaled
        ax.annotate(f"{value * scale:,.0f} {cur}", (value + error, yy), xytext=(4, 0), textcoords="offset points",
                    va="center", fontsize=8)
    ax.axvline(evpi / scale, color=VERMILLION, linestyle="--", linewidth=1.5)
    ax.set_yticks(y, [r["name"] + " (group)" if kind == "group" else short_driver(r["name"]) for kind, r in rows])
    ax.set_xlim(left=0.0)
    ax.set_xlabel(money_label("expected value of learning it before deciding (EVPPI)", cur, unit))
    never = len(result["drivers"]) - len(worth)
    what = "whether to invest" if result["decision"] == "invest" else "between A and B"
    ax.set_title(f"What is worth learning before deciding {what}"
                 + (f"\n({never} of {len(result['drivers'])} drivers never change the decision)" if never else ""))
    ax.grid(axis="y", visible=False)
    handles = [Line2D([], [], color=BLUE, linewidth=8), Line2D([], [], color=VERMILLION, linestyle="--")]
    labels = ["one driver (whisker: 95 % interval)", f"EVPI, every driver known: {evpi:,.0f} {cur}"]
    if result["groups"]:
        handles.insert(1, Line2D([], [], color=ORANGE, linewidth=8))
        labels.insert(1, "drivers learnt together")
    fig.legend(handles=handles, labels=labels, loc="outside lower center", ncol=len(labels), frameon=False)
    return fig


def sobol_bars(result: dict, top: int = 12) -> Figure:
    """First-order and total Sobol' indices of the factors with the largest total effect, with
    their bootstrap confidence intervals (sobol.py)."""
    rows = result["factors_list"][:top][::-1]
    fig, ax = _figure(height=max(3.0, 0.5 * sum(len(r["drivers"]) for r in rows) + 1.6))
    y = np.cumsum([0.0] + [0.5 * (len(a["drivers"]) + len(b["drivers"])) for a, b in zip(rows, rows[1:])])
    level = f"{result['conf_level'] * 100:g} %"
    lowest = 0.0
    for offset, key, colour, label in ((0.2, "first_order", BLUE, "first order: alone"),
                                       (-0.2, "total", ORANGE, "total: alone and with others")):
        values = np.array([r[key]["value"] for r in rows])
        ci = np.array([r[key]["ci"] for r in rows])
        ax.barh(y + offset, values, height=0.38, color=colour, xerr=ci, ecolor=BLACK, capsize=2.0,
                error_kw={"linewidth": 0.8}, label=label)
        lowest = min(lowest, float(np.min(values - ci, initial=0.0)))
    ax.set_yticks(y, [" +\n".join(short_driver(d) for d in r["drivers"]) for r in rows])
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlim(left=lowest * 1.05)  # a first-order estimate near 0 can be slightly negative
    ax.axvline(0.0, color=BLACK, linewidth=0.8)
    ax.spines["left"].set_visible(False)  # the zero line stands for it
    ax.set_xlabel(f"share of the variance of {registry.metric(result['metric']).short} (whiskers: {level} intervals)")
    ax.set_title(f"What drives the variance of {registry.metric(result['metric']).short}: Sobol' indices")
    ax.grid(axis="y", visible=False)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=2, frameon=False)
    return fig
