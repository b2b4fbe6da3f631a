"""Throughput benchmark: simengine end to end against the floor and two numpy baselines.

For each size, each contender runs in a fresh subprocess (so its peak RSS is its own),
after a warm-up that loads the cached JIT kernels, and writes the same Parquet table:
- engine:   `simengine.runner.run` with the metrics stored (sample, kernel, summary, Parquet);
- floor:    the same random streams drawn (every driver, same generator and blocks) and a
            table of the same schema and size written with the same settings, no model;
- numpy:    benchmarks/numpy_model.py with a vectorized Newton IRR over all trials at once;
- npf:      the same with numpy_financial.irr row by row.
The numpy baselines hold trials x months matrices, so above --baseline-max trials they are
timed at --baseline-max and scaled linearly (marked "extrapolated").
Also measured: the kernel alone at 1 and 2 threads, and, as the machine's own ceiling,
an embarrassingly parallel numba loop at 1 and 2 threads.
Prints a table, writes benchmarks/results.json and draws benchmarks/throughput.png
(trials/s against trials, log-log, one line per contender; benchmarks/chart.py).

Usage: python benchmarks/run.py [--scenario NAME] [--sizes 1e3,1e4,1e5,1e6,1e7] [--big 1e8]
                                [--chart PATH | --no-chart] [--results PATH]
       python benchmarks/run.py --chart-only   (redraw the chart from results.json, no measuring)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[5])
from simengine.bundled import bundled_scenarios
from simengine.scenario import load_scenario
kind, name, trials, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
sc = load_scenario(bundled_scenarios()[name])
if kind == "engine":
    from simengine.runner import run
    run(sc, trials=1000, seed=1, out=None)
    t0 = time.perf_counter()
    run(sc, trials=trials, seed=1, out=out, force=True, columns="metrics")
elif kind == "floor":
    from floor import floor_run
    floor_run(sc, 1000, 1, out)
    t0 = time.perf_counter()
    floor_run(sc, trials, 1, out)
else:
    from numpy_model import simulate_numpy
    from floor import write_metrics
    simulate_numpy(sc, 200, 1, irr=kind)
    t0 = time.perf_counter()
    write_metrics(sc, simulate_numpy(sc, trials, 1, irr=kind), out)
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "file_mib": out.stat().st_size / 2**20}))
"""

SCALING = r"""
import json, sys, time
import numba, numpy as np
from simengine.bundled import bundled_scenarios
from simengine.engine import Simulation
from simengine.jit import set_threads
from simengine.scenario import load_scenario

@numba.njit(parallel=True)
def ceiling(out):
    for i in numba.prange(out.shape[0]):
        s = 0.0
        for j in range(4000):
            s += np.sqrt(j + i)
        out[i] = s

sim = Simulation(load_scenario(bundled_scenarios()[sys.argv[1]]))
x = sim.inputs(1, 0, 1 << 19)
out = np.empty(1 << 16)
res = {}
for threads in (1, 2):
    set_threads(threads)
    sim.structure.run_kernel(x[:, :1000].copy())
    ceiling(out)
    kernel, loop = [], []
    for _ in range(5):
        t = time.perf_counter(); sim.structure.run_kernel(x); kernel.append(time.perf_counter() - t)
        t = time.perf_counter(); ceiling(out); loop.append(time.perf_counter() - t)
    res[threads] = {"kernel_trials_per_second": x.shape[1] / min(kernel), "ceiling_seconds": min(loop)}
print(json.dumps(res))
"""


def child(kind: str, scenario: str, trials: int, out: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": f"{HERE}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    res = subprocess.run([sys.executable, "-c", CHILD, kind, scenario, str(trials), str(out), str(HERE)],
                         capture_output=True, text=True, env=env)
    if res.returncode != 0:
        raise SystemExit(f"{kind} at {trials:,} trials failed:\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def best_of(repeat: int, kind: str, scenario: str, trials: int, out: Path) -> dict:
    """The fastest of `repeat` runs (this kind of machine is noisy), with the largest peak RSS."""
    runs = [child(kind, scenario, trials, out) for _ in range(repeat)]
    best = min(runs, key=lambda r: r["seconds"])
    return {**best, "peak_rss_mib": max(r["peak_rss_mib"] for r in runs), "trials": trials,
            "trials_per_second": trials / best["seconds"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="crm_upgrade_big_bang")
    parser.add_argument("--sizes", default="1e3,1e4,1e5,1e6,1e7")
    parser.add_argument("--baseline-max", type=float, default=1e5,
                        help="largest size the numpy baselines run at (then scaled linearly)")
    parser.add_argument("--npf-max", type=float, default=2e4, help="largest size numpy_financial runs at")
    parser.add_argument("--repeat", type=int, default=2, help="runs per measurement; the fastest counts")
    parser.add_argument("--big", type=float, default=0, help="also run the engine alone at this size (e.g. 1e8)")
    parser.add_argument("--results", type=Path, default=HERE / "results.json",
                        help="the JSON file written (or, with --chart-only, read)")
    parser.add_argument("--chart", type=Path, default=HERE / "throughput.png",
                        help="the PNG chart of trials/s against trials (default benchmarks/throughput.png)")
    parser.add_argument("--no-chart", action="store_true", help="do not draw the chart")
    parser.add_argument("--chart-only", action="store_true",
                        help="only redraw the chart from an existing --results file, measuring nothing")
    args = parser.parse_args()
    if args.chart_only:
        if not args.results.exists():
            raise SystemExit(f"{args.results} does not exist: run the benchmark first")
        from chart import draw_chart
        print(f"written {draw_chart(json.loads(args.results.read_text()), args.chart)}")
        return
    from simengine import metrics as registry

    started = time.perf_counter()
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    result = {"scenario": args.scenario, "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
              f"{platform.processor() or platform.platform()}", "cores": os.cpu_count(), "cpu": cpu_model(),
              "python": platform.python_version(), "date": date.today().isoformat(), "repeat": args.repeat,
              "columns_stored": f"trial + {len(registry.METRICS)} metrics", "load_average": [load_average()],
              "sizes": []}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.parquet"
        baseline_cache: dict[str, dict] = {}
        for trials in sizes:
            row = {"trials": trials,
                   "engine": best_of(args.repeat, "engine", args.scenario, trials, out),
                   "floor": best_of(args.repeat, "floor", args.scenario, trials, out)}
            for kind, cap in (("newton", int(args.baseline_max)), ("npf", int(args.npf_max))):
                n = min(trials, cap)
                if n not in baseline_cache.setdefault(kind, {}):
                    baseline_cache[kind][n] = best_of(1, kind, args.scenario, n, out)
                measured = baseline_cache[kind][n]
                seconds = measured["seconds"] * trials / n
                row[f"numpy_{kind}"] = {**measured, "trials": trials, "seconds": seconds,
                                        "trials_per_second": trials / seconds, "extrapolated_from": n if n < trials else None}
            e = row["engine"]["seconds"]
            row["engine_over_floor"] = e / row["floor"]["seconds"]
            row["numpy_newton_over_engine"] = row["numpy_newton"]["seconds"] / e
            row["numpy_npf_over_engine"] = row["numpy_npf"]["seconds"] / e
            result["sizes"].append(row)
            print_row(row)
        if args.big:
            big = int(args.big)
            result["big"] = best_of(1, "engine", args.scenario, big, out)
            print(f"engine at {big:,} trials: {result['big']['seconds']:.1f} s, "
                  f"{result['big']['trials_per_second']:,.0f} trials/s, peak RSS {result['big']['peak_rss_mib']:.0f} MiB, "
                  f"file {result['big']['file_mib']:.0f} MiB")
    scaling = json.loads(subprocess.run([sys.executable, "-c", SCALING, args.scenario], capture_output=True,
                                        text=True, check=True).stdout.strip().splitlines()[-1])
    one, two = scaling["1"], scaling["2"]
    result["threads"] = {
        "kernel_trials_per_second": {"1": one["kernel_trials_per_second"], "2": two["kernel_trials_per_second"]},
        "kernel_speedup_2_over_1": two["kernel_trials_per_second"] / one["kernel_trials_per_second"],
        "machine_ceiling_speedup_2_over_1": one["ceiling_seconds"] / two["ceiling_seconds"],
    }
    t = result["threads"]
    print(f"kernel alone: {t['kernel_trials_per_second']['1']:,.0f} trials/s on 1 thread, "
          f"{t['kernel_trials_per_second']['2']:,.0f} on 2: {t['kernel_speedup_2_over_1']:.2f}x "
          f"(an embarrassingly parallel loop gets {t['machine_ceiling_speedup_2_over_1']:.2f}x on this machine)")
    print(f"scenario {args.scenario}; {result['machine']}; Python {result['python']}")
    result["wall_seconds"] = time.perf_counter() - started
    result["load_average"].append(load_average())  # 1-minute load at start and end: other work on the machine
    args.results.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {args.results} ({result['wall_seconds']:.0f} s in all)")
    if not args.no_chart:
        from chart import draw_chart
        print(f"written {draw_chart(result, args.chart)}")


def load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def cpu_model() -> str | None:
    """The CPU's model name from /proc/cpuinfo (Linux), else platform.processor(), else None."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip() or None
    except OSError:
        pass
    return platform.processor() or None


def print_row(row: dict) -> None:
    if row is not None and not getattr(print_row, "header", False):
        print(f"{'trials':>12} {'contender':<14} {'seconds':>9} {'trials/s':>12} {'peak MiB':>9}  ratio")
        print_row.header = True
    for key, label in (("engine", "engine"), ("floor", "floor"), ("numpy_newton", "numpy+Newton"),
                       ("numpy_npf", "numpy+npf")):
        r = row[key]
        note = {"engine": "", "floor": f"engine/floor {row['engine_over_floor']:.2f}x",
                "numpy_newton": f"{row['numpy_newton_over_engine']:.0f}x slower than engine",
                "numpy_npf": f"{row['numpy_npf_over_engine']:.0f}x slower than engine"}[key]
        if r.get("extrapolated_from"):
            note += f" (timed at {r['extrapolated_from']:,}, scaled)"
        print(f"{row['trials']:>12,} {label:<14} {r['seconds']:>9.2f} {r['trials_per_second']:>12,.0f} "
              f"{r['peak_rss_mib']:>9.0f}  {note}")


if __name__ == "__main__":
    main()
