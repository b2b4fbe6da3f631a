"""End-to-end throughput of `simengine run` on a bundled scenario: trials per second and peak memory.

Each size runs in a fresh subprocess (so peak RSS is that run's own), after a warm-up run
that loads the cached JIT kernels. Prints a table and writes benchmarks/results.json.
Usage: python benchmarks/run.py [--scenario NAME] [--sizes 100000,1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from simengine.bundled import bundled_scenarios
from simengine.runner import run
from simengine.scenario import load_scenario
sc = load_scenario(bundled_scenarios()[sys.argv[1]])
trials, out = int(sys.argv[2]), Path(sys.argv[3])
run(sc, trials=1000, seed=1, out=None)                      # warm-up: load JIT caches
t0 = time.perf_counter()
run(sc, trials=trials, seed=1, out=out, force=True)
seconds = time.perf_counter() - t0
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"trials": trials, "seconds": seconds, "peak_rss_mib": peak_kib / 1024,
                  "file_mib": out.stat().st_size / 2**20}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="crm_upgrade_big_bang")
    parser.add_argument("--sizes", default="100000,1000000")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for trials in (int(s) for s in args.sizes.split(",")):
            out = Path(tmp) / f"bench-{trials}.parquet"
            res = subprocess.run([sys.executable, "-c", CHILD, args.scenario, str(trials), str(out)],
                                 capture_output=True, text=True, check=True)
            row = json.loads(res.stdout.strip().splitlines()[-1])
            row["trials_per_second"] = row["trials"] / row["seconds"]
            rows.append(row)
    print(f"scenario {args.scenario} on {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{'trials':>12} {'seconds':>9} {'trials/s':>12} {'peak RSS MiB':>13} {'file MiB':>9}")
    for r in rows:
        print(f"{r['trials']:>12,} {r['seconds']:>9.2f} {r['trials_per_second']:>12,.0f} "
              f"{r['peak_rss_mib']:>13.0f} {r['file_mib']:>9.0f}")
    result = {"scenario": args.scenario, "cores": os.cpu_count(), "python": platform.python_version(), "runs": rows}
    path = Path(__file__).with_name("results.json")
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {path}")


if __name__ == "__main__":
    main()
