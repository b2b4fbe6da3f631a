"""Benchmarks that guard: the engine against its floor, measured in one process, against a baseline.

For three scenarios (the big-bang CRM upgrade, the small firm's first CRM, and a small
7-driver scenario, benchmarks/small_scenario.toml) this measures, interleaved and best of
--repeat, in this one process:
- floor:  the same random streams drawn and a table of the same schema written (floor.py);
- engine: `runner.run` with the metrics stored (sampling, model, summary, Parquet);
- kernel: the model kernel alone on a prepared input matrix.
Machines differ, so the guarded figures are ratios against the floor measured in the same
run: `engine_over_floor` (engine time / floor time; lower is better) and `kernel_vs_floor`
(kernel trials/s / floor trials/s; higher is better). They are compared with the committed
benchmarks/baseline.json; the run is appended to benchmarks/history.jsonl; the exit status
is 1 when a figure is worse than its baseline by more than --tolerance (0.25 = 25 %).

Usage: python benchmarks/check.py [--trials 1e6] [--repeat 3] [--tolerance 0.25]
       [--update-baseline] [--no-history]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

SCENARIOS = {"big_bang": "crm_upgrade_big_bang", "small_firm": "crm_new_small_firm",
             "small7": str(HERE / "small_scenario.toml")}
#: Figure name -> whether higher is better.
FIGURES = {"engine_over_floor": False, "kernel_vs_floor": True}
BASELINE = HERE / "baseline.json"
HISTORY = HERE / "history.jsonl"


def measure(name: str, trials: int, repeat: int, folder: Path) -> dict:
    """Best-of-`repeat` seconds of floor, engine and kernel for one scenario, interleaved."""
    import simengine
    from floor import floor_run
    from simengine.engine import Simulation
    from simengine.runner import run

    scenario = simengine.load(SCENARIOS[name])
    out = folder / f"{name}.parquet"
    # warm-up: loads the cached kernels and touches the code paths once
    run(scenario, trials=2000, seed=1, out=out, force=True, columns="metrics")
    floor_run(scenario, 2000, 1, out)
    sim = Simulation(scenario, "mc", trials)
    inputs = sim.inputs(1, 0, trials)
    sim.structure.run_kernel(inputs[:, :1000].copy())
    best = {"floor": float("inf"), "engine": float("inf"), "kernel": float("inf")}
    for _ in range(repeat):
        t = time.perf_counter()
        floor_run(scenario, trials, 1, out)
        best["floor"] = min(best["floor"], time.perf_counter() - t)
        t = time.perf_counter()
        run(scenario, trials=trials, seed=1, out=out, force=True, columns="metrics")
        best["engine"] = min(best["engine"], time.perf_counter() - t)
        t = time.perf_counter()
        sim.structure.run_kernel(inputs)
        best["kernel"] = min(best["kernel"], time.perf_counter() - t)
    return {"seconds": best,
            "engine_over_floor": best["engine"] / best["floor"],
            "kernel_vs_floor": best["floor"] / best["kernel"],
            "engine_trials_per_second": trials / best["engine"]}


def compare(figures: dict[str, float], baseline: dict[str, float], tolerance: float) -> list[dict]:
    """One row per figure: baseline, now, the change (worse is positive) and whether it regressed."""
    rows = []
    for key, now in figures.items():
        base = baseline.get(key)
        higher_better = FIGURES[key.split(".", 1)[1]]
        if base is None:
            rows.append({"figure": key, "baseline": None, "now": now, "worse_by": None, "regressed": False})
            continue
        worse_by = (base - now) / base if higher_better else (now - base) / base
        rows.append({"figure": key, "baseline": base, "now": now, "worse_by": worse_by,
                     "regressed": worse_by > tolerance})
    return rows


def commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=float, default=1e6)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tolerance", type=float, default=0.25, help="fail when a figure is worse by more")
    parser.add_argument("--update-baseline", action="store_true", help="write this run as the new baseline")
    parser.add_argument("--no-history", action="store_true", help="do not append to benchmarks/history.jsonl")
    args = parser.parse_args()
    trials = int(args.trials)
    started = time.perf_counter()
    figures: dict[str, float] = {}
    details = {}
    with tempfile.TemporaryDirectory(prefix="simengine-bench-check-") as tmp:
        for name in SCENARIOS:
            result = measure(name, trials, args.repeat, Path(tmp))
            details[name] = result
            for figure in FIGURES:
                figures[f"{name}.{figure}"] = result[figure]
    record = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "commit": commit(),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores", "python": platform.python_version(),
              "trials": trials, "repeat": args.repeat, "figures": figures,
              "seconds": {name: d["seconds"] for name, d in details.items()}}
    baseline = json.loads(BASELINE.read_text())["figures"] if BASELINE.exists() else {}
    rows = compare(figures, baseline, args.tolerance)
    print(f"bench-check: {trials:,} trials, best of {args.repeat}, tolerance {args.tolerance:.0%} "
          f"({time.perf_counter() - started:.0f} s)")
    print(f"{'figure':36s} {'baseline':>10s} {'now':>10s} {'worse by':>9s}")
    for r in rows:
        base = f"{r['baseline']:.3f}" if r["baseline"] is not None else "-"
        change = f"{r['worse_by']:+.1%}" if r["worse_by"] is not None else "-"
        print(f"{r['figure']:36s} {base:>10s} {r['now']:>10.3f} {change:>9s}{'  REGRESSED' if r['regressed'] else ''}")
    for name, d in details.items():
        s = d["seconds"]
        print(f"  {name}: floor {s['floor']:.3f} s, engine {s['engine']:.3f} s "
              f"({d['engine_trials_per_second']:,.0f} trials/s), kernel {s['kernel']:.3f} s")
    if not args.no_history:
        with HISTORY.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
    if args.update_baseline:
        BASELINE.write_text(json.dumps({**{k: v for k, v in record.items() if k != "seconds"},
                                        "how": "one run of benchmarks/check.py --update-baseline"}, indent=2) + "\n")
        print(f"baseline written: {BASELINE}")
        return 0
    regressed = [r["figure"] for r in rows if r["regressed"]]
    if regressed:
        print(f"REGRESSED by more than {args.tolerance:.0%}: {', '.join(regressed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
