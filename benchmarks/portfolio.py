"""Portfolio benchmark: the bundled portfolio at 10^6 trials and a synthetic 50-member portfolio at
10^5, each in a fresh process (wall time, trials per second, member-trials per second, peak RSS),
and --optimize on the bundled portfolio.

The synthetic portfolio cycles through the bundled scenarios with start months 0-36 and scales
0.5-1.5, two shared drivers (consultant day rates on every member's labor items; one
integrator's delay added to every tenth member's schedule) and a correlation chain between
neighbours' adoption ceilings, so every part of the portfolio machinery is in the figures.

Usage: python benchmarks/portfolio.py [--bundled-trials 1e6] [--synthetic-trials 1e5] [--members 50]
Prints a table and writes benchmarks/portfolio-results.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[4])
from pathlib import Path
from simengine.portfolio_file import load_portfolio, resolve_portfolio
from simengine.portfolio_run import run_portfolio
p = load_portfolio(resolve_portfolio(sys.argv[1]))
trials, out = int(sys.argv[2]), sys.argv[3]
run_portfolio(p, trials=1000, seed=1, out=None)  # load the cached kernels
t0 = time.perf_counter()
r = run_portfolio(p, trials=trials, seed=1, out=Path(out), force=True)
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "members": len(p.members),
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "file_mib": Path(out).stat().st_size / 2**20,
                  "npv_mean": r.summary["metrics"]["npv"]["mean"]["value"]}))
"""

OPTIMIZE = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[2])
from simengine.portfolio_file import load_portfolio, resolve_portfolio
from simengine.portfolio_optimize import optimize
p = load_portfolio(resolve_portfolio(sys.argv[1]))
t0 = time.perf_counter()
r = optimize(p, seed=1, saa_trials=2000, eval_trials=100000)
print(json.dumps({"seconds": time.perf_counter() - t0,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "best": r["plans"][0]["funded"], "plans": len(r["plans"])}))
"""


def synthetic(folder: Path, members: int) -> Path:
    """A portfolio file of `members` members over the bundled scenarios."""
    names = ["crm_upgrade_big_bang", "crm_upgrade_phased", "crm_new_small_firm", "erp_replacement",
             "data_platform"]
    lines = ['name = "synthetic"', 'description = "Synthetic benchmark portfolio"', "seed = 1", ""]
    for k in range(members):
        lines += [f"[members.m{k:02d}]", f'scenario = "{names[k % len(names)]}"', f"start_month = {(k * 7) % 37}",
                  f"scale = {0.5 + (k % 11) / 10:.1f}", ""]
    delayed = ", ".join(f'"m{k:02d}.schedule.delay_months"' for k in range(0, members, 10))
    lines += ["[shared.day_rates]", 'distribution = { dist = "pert", min = 0.95, mode = 1.0, max = 1.25 }',
              'multiplies = ["*.labor"]', "", "[shared.integrator_delay]",
              'distribution = { dist = "triangular", min = 0, mode = 0, max = 3 }', f"adds = [{delayed}]", ""]
    for k in range(0, members - 1, 5):
        lines += ["[[correlations]]", f'drivers = ["m{k:02d}.adoption.ceiling", "m{k + 1:02d}.adoption.ceiling"]',
                  "spearman = 0.4", ""]
    lines += ["[budget]", "per_year = 40000000", ""]
    path = folder / "synthetic.toml"
    path.write_text("\n".join(lines))
    return path


def child(code: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code, *args, str(ROOT)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundled-trials", type=float, default=1e6)
    parser.add_argument("--synthetic-trials", type=float, default=1e5)
    parser.add_argument("--members", type=int, default=50)
    args = parser.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bundled = child(CHILD, "it_portfolio", str(int(args.bundled_trials)), str(folder / "bundled.parquet"))
        rows["bundled it_portfolio"] = {**bundled, "trials": int(args.bundled_trials)}
        path = synthetic(folder, args.members)
        synth = child(CHILD, str(path), str(int(args.synthetic_trials)), str(folder / "synthetic.parquet"))
        rows[f"synthetic {args.members} members"] = {**synth, "trials": int(args.synthetic_trials)}
        rows["--optimize it_portfolio"] = child(OPTIMIZE, "it_portfolio")
    print(f"{'run':<26} {'trials':>10} {'seconds':>8} {'trials/s':>10} {'member-trials/s':>16} {'peak RSS MiB':>13} "
          f"{'file MiB':>9}")
    for name, r in rows.items():
        if "trials" not in r:
            print(f"{name:<26} {'':>10} {r['seconds']:>8.1f} {'':>10} {'':>16} {r['peak_rss_mib']:>13.0f} {'':>9}  "
                  f"best: {r['best']}")
            continue
        rate = r["trials"] / r["seconds"]
        print(f"{name:<26} {r['trials']:>10,} {r['seconds']:>8.1f} {rate:>10,.0f} {rate * r['members']:>16,.0f} "
              f"{r['peak_rss_mib']:>13.0f} {r['file_mib']:>9.0f}")
    record = {"machine": platform.platform(), "python": platform.python_version(), "runs": rows}
    (HERE / "portfolio-results.json").write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
