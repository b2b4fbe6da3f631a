"""Scale-out benchmark: one run on the local engine against the same run on a Dask LocalCluster.

Both write the metrics of every trial (`--columns metrics`: the cluster's workers write
their own parts, the local run one file), and their summaries must be identical (checked).
Measured: wall time, trials per second, peak RSS of the client and of each worker process,
bytes written; the scheduler's cost per task (no-op tasks), and the worker start-up and
check (first task of a fresh cluster). Projections for bigger clusters follow from these:
see the README, "Scaling out".

Usage: python benchmarks/cluster.py [--trials 1e8] [--workers 2] [--scenario crm_upgrade_big_bang]
       [--dir /tmp/simengine-bench]
Prints a table and writes benchmarks/cluster-results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

LOCAL = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[4])
import simengine
name, trials, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
simengine.run(name, trials=1000, seed=1, out=None)  # load the cached kernels
t0 = time.perf_counter()
r = simengine.run(name, trials=trials, seed=1, out=out, columns="metrics", force=True)
print(json.dumps({"seconds": time.perf_counter() - t0,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=float, default=1e8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scenario", default="crm_upgrade_big_bang")
    parser.add_argument("--dir", default="/tmp/simengine-bench")
    parser.add_argument("--skip-local", action="store_true", help="only the cluster run")
    args = parser.parse_args()
    trials = int(args.trials)
    work = Path(args.dir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    sys.path.insert(0, str(HERE.parent))
    import distributed

    import simengine
    from simengine.dask_executor import DaskExecutor

    results: dict = {"trials": trials, "workers": args.workers, "scenario": args.scenario,
                     "machine": f"{platform.machine()}, {os.cpu_count()} cores", "python": platform.python_version(),
                     "simengine": simengine.__version__, "distributed": distributed.__version__}

    if not args.skip_local:
        local_file = work / "local.parquet"
        proc = subprocess.run([sys.executable, "-c", LOCAL, args.scenario, str(trials), str(local_file),
                               str(HERE.parent)], capture_output=True, text=True, check=True)
        local = json.loads(proc.stdout.strip().splitlines()[-1])
        local["trials_per_second"] = trials / local["seconds"]
        local["bytes"] = folder_bytes(local_file)
        results["local"] = local

    cluster = distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                                       dashboard_address="127.0.0.1:0", silence_logs=50)
    client = distributed.Client(cluster, set_as_default=False)
    try:
        # Scheduler cost per task: round trips of no-op tasks, submitted together.
        n_noop = 2000
        t0 = time.perf_counter()
        client.gather(client.map(int, range(n_noop), pure=False))
        results["noop_task_ms"] = (time.perf_counter() - t0) / n_noop * 1000
        # Start-up: the first (small) run on fresh workers imports simengine, loads the kernels
        # from numba's cache and checks versions and the run's digest.
        executor = DaskExecutor(client)
        t0 = time.perf_counter()
        simengine.run(args.scenario, trials=1000, seed=1, out=None, executor=executor)
        results["first_run_seconds"] = time.perf_counter() - t0
        dataset = work / "dask"
        task_seconds = []
        run_jobs = executor.run_jobs

        def timed(jobs, merges, *rest):  # the tasks' own times, to compare with the wall time
            return run_jobs(jobs, [lambda r, m=m: (task_seconds.append(r.seconds), m(r)) for m in merges], *rest)

        executor.run_jobs = timed
        t0, cpu0 = time.perf_counter(), time.process_time()
        simengine.run(args.scenario, trials=trials, seed=1, out=dataset, columns="metrics", force=True,
                      executor=executor)
        seconds, client_cpu = time.perf_counter() - t0, time.process_time() - cpu0
        workers = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        results["dask"] = {"seconds": seconds, "trials_per_second": trials / seconds, "tasks": len(task_seconds),
                           "task_seconds_sum": sum(task_seconds),
                           "busy_share": sum(task_seconds) / (seconds * args.workers),
                           "client_and_scheduler_cpu_seconds": client_cpu,
                           "client_peak_rss_mib": peak_rss_mib(),
                           "worker_peak_rss_mib": sorted(workers.values()), "bytes": folder_bytes(dataset)}
    finally:
        client.close()
        cluster.close()

    if "local" in results:
        local_summary = json.loads((work / "local.summary.json").read_text())
        manifest = json.loads((dataset / "_simengine.json").read_text())
        results["summaries_identical"] = json.dumps(local_summary) == json.dumps(manifest["summary"])
        results["speedup"] = results["local"]["seconds"] / results["dask"]["seconds"]

    print(json.dumps(results, indent=2))
    (HERE / "cluster-results.json").write_text(json.dumps(results, indent=2) + "\n")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
