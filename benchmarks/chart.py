"""The throughput chart of benchmarks/run.py: trials/s against trial count, log-log.

One line per contender (engine, floor, numpy + Newton IRR, numpy + numpy-financial IRR)
from a results.json that run.py wrote. Points timed at that size are filled and joined by
solid lines; points scaled linearly from a smaller size (the numpy baselines above
--baseline-max / --npf-max) are hollow and joined by dashed lines to the filled point of
the size they were timed at. `big` (the engine alone
at --big trials), when present, extends the engine's line.

Usage: python benchmarks/chart.py [results.json] [throughput.png]
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent

# key in results.json, legend label, marker
CONTENDERS = (
    ("engine", "simengine (engine, end to end)", "o"),
    ("floor", "floor (random numbers + Parquet, no model)", "s"),
    ("numpy_newton", "numpy, vectorized Newton IRR", "^"),
    ("numpy_npf", "numpy + numpy-financial IRR, row by row", "D"),
)


def series(result: dict, key: str) -> list[tuple[int, float, bool]]:
    """(trials, trials/s, extrapolated) for one contender, by trial count."""
    points = {}
    for row in result["sizes"]:
        if key not in row:
            continue
        r = row[key]
        timed_at = r.get("extrapolated_from")
        points[r["trials"]] = (r["trials"], r["trials_per_second"], bool(timed_at))
        if timed_at and timed_at not in points:
            # the size it was actually timed at, at the same rate (scaling is linear)
            points[timed_at] = (timed_at, r["trials_per_second"], False)
    if key == "engine" and result.get("big"):
        points[result["big"]["trials"]] = (result["big"]["trials"], result["big"]["trials_per_second"], False)
    return sorted(points.values())


def subtitle(result: dict) -> str:
    """The machine in a few words: architecture, CPU, cores, Python, date when recorded."""
    machine = result.get("machine", "")
    cores = result.get("cores")
    if cores is None:
        found = re.search(r"(\d+) cores", machine)
        cores = int(found.group(1)) if found else None
    parts = [machine.split(",")[0].strip()] if machine else []
    if result.get("cpu"):
        parts.append(result["cpu"])
    if cores is not None:
        parts.append(f"{cores} cores")
    if result.get("python"):
        parts.append(f"Python {result['python']}")
    if result.get("repeat"):
        parts.append(f"best of {result['repeat']} runs")
    if result.get("date"):
        parts.append(result["date"])
    load = [x for x in result.get("load_average") or [] if x is not None]
    if load:  # on a shared machine, what else was running explains odd points
        parts.append("load average " + " to ".join(f"{x:.1f}" for x in load))
    return ", ".join(p for p in parts if p)


def per_second(value: float) -> str:
    """1,001/s, 17.2k/s, 2.81M/s."""
    if value >= 999_500:
        return f"{value / 1e6:.3g}M/s"
    if value >= 10_000:
        return f"{value / 1e3:.3g}k/s"
    return f"{value:,.0f}/s"


def draw_chart(result: dict, path: Path) -> Path:
    """Write the chart of `result` (the dict run.py writes to results.json) to `path` as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import LogFormatterMathtext, LogLocator, NullFormatter

    fig, ax = plt.subplots(figsize=(9, 5.6), dpi=150, layout="constrained")
    handles = []
    for i, (key, label, marker) in enumerate(CONTENDERS):
        points = series(result, key)
        if not points:
            continue
        color = f"C{i}"
        for (x0, y0, e0), (x1, y1, e1) in zip(points, points[1:]):
            ax.plot([x0, x1], [y0, y1], color=color, linewidth=2, linestyle="--" if e0 or e1 else "-")
        for x, y, extrapolated in points:
            ax.plot([x], [y], marker=marker, markersize=7, color=color, linestyle="none",
                    markerfacecolor="white" if extrapolated else color, markeredgewidth=1.6)
        x, y, _ = points[-1]
        ax.annotate(per_second(y), (x, y), xytext=(8, 0), textcoords="offset points", va="center",
                    fontsize=9, color=color)
        handles.append(Line2D([], [], color=color, marker=marker, linewidth=2, markersize=7, label=label))
    if any(e for key, _, _ in CONTENDERS for _, _, e in series(result, key)):
        handles.append(Line2D([], [], color="0.4", marker="o", markerfacecolor="white", linestyle="--",
                              linewidth=2, markersize=7, label="scaled linearly from a smaller timed size"))

    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(LogLocator(base=10, numticks=20))
        axis.set_major_formatter(LogFormatterMathtext(base=10))
        axis.set_minor_locator(LogLocator(base=10, subs=range(2, 10), numticks=20))
        axis.set_minor_formatter(NullFormatter())
    # room on the right for the value labels at each line's last point
    left, right = ax.get_xlim()
    ax.set_xlim(left, right * 3)
    bottom, top = ax.get_ylim()
    ax.set_ylim(bottom, top * 1.5)
    ax.grid(True, which="major", alpha=0.4)
    ax.grid(True, which="minor", alpha=0.12)
    ax.set_xlabel("trials per run (count, log scale)")
    ax.set_ylabel("throughput (trials per second, log scale)")
    ax.set_title(f"Monte Carlo throughput on {result['scenario']}\n{textwrap.fill(subtitle(result), 110)}",
                 fontsize=11)
    fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=9, frameon=False)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "results.json"
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else HERE / "throughput.png"
    print(f"written {draw_chart(json.loads(source.read_text()), target)}")


if __name__ == "__main__":
    main()
