"""Before and after in one run: two versions of simengine measured alternately on this machine.

A speed claim needs both versions measured side by side (this machine's speed drifts by 20 %
from hour to hour). This checks out BEFORE (any git revision) into a temporary worktree and
measures it against AFTER (this checkout, or another revision), each measurement in a fresh
process with PYTHONPATH pointing at its version, the two versions taking turns:

- start-up: `--help`, `validate crm_upgrade_big_bang` and a 10,000-trial
  `run crm_upgrade_big_bang --summary-only`, wall time, median of --startup-rounds;
- kernel: the model kernel alone on 1,000,000 prepared trials, best of 5, at 1 and 2 threads;
- engine: `runner.run` with the metrics stored at --trials (default 1e7) on the big-bang
  scenario and the 7-driver benchmarks/small_scenario.toml, at 1 and 2 threads, best of
  --rounds; over the floor (benchmarks/floor.py, measured in the same rounds with AFTER's
  code: the floor draws the same streams, which both versions share);
- memory: peak RSS (the rusage of the process, as /usr/bin/time reads it) of
  `run crm_upgrade_big_bang --trials 1000000` with `--columns metrics`, with every column, and
  with `--report`, median of three.

Both versions run on this interpreter and its installed packages. Each compiles its kernels
once, into its own tree, before anything is measured. Prints a Markdown table (figure, before,
after, change) and writes every measurement to --json.

Usage: python benchmarks/versus.py BEFORE [--after REV] [--trials 1e7] [--rounds 2]
                                   [--startup-rounds 11] [--json PATH] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIG_BANG = "crm_upgrade_big_bang"
SMALL7 = str(HERE / "small_scenario.toml")
STARTUP = {"help": ["--help"], "validate": ["validate", BIG_BANG],
           "run 10,000": ["run", BIG_BANG, "--trials", "10000", "--summary-only"]}
MEMORY = {"metrics": ["--columns", "metrics"], "all columns": ["--columns", "all"], "with report": ["--report"]}

# A measuring child: runs with PYTHONPATH at one version; prints one JSON line.
CHILD = r"""
import json, sys, tempfile, time
from pathlib import Path
import simengine
from simengine.runner import run
from simengine.engine import Simulation
from simengine.jit import set_threads
mode, name, trials, folder = sys.argv[1], sys.argv[2], int(float(sys.argv[3])), Path(sys.argv[4])
scenario = simengine.load(name)
out = folder / "child.parquet"
run(scenario, trials=2000, seed=1, out=out, force=True, columns="metrics")
result = {"version": simengine.__version__}
# A process's first run at a size and thread count pays one-time costs (threads started, buffers
# first touched: 0.1 to 0.5 s): paid here, before the timed runs.
warm = min(trials, 200_000)
if mode == "engine":
    for threads in (1, 2):
        run(scenario, trials=warm, seed=1, out=out, force=True, columns="metrics", threads=threads)
    for threads in (1, 2):
        t = time.perf_counter()
        run(scenario, trials=trials, seed=1, out=out, force=True, columns="metrics", threads=threads)
        result[f"threads{threads}"] = time.perf_counter() - t
elif mode == "floor":
    sys.path.insert(0, sys.argv[5])
    from floor import floor_run
    for threads in (1, 2):
        set_threads(threads)
        floor_run(scenario, warm, 1, out)
        t = time.perf_counter()
        floor_run(scenario, trials, 1, out)
        result[f"threads{threads}"] = time.perf_counter() - t
elif mode == "kernel":
    sim = Simulation(scenario, "mc", trials)
    inputs = sim.inputs(1, 0, trials)
    sim.structure.run_kernel(inputs[:, :1000].copy())
    for threads in (1, 2):
        set_threads(threads)
        best = float("inf")
        for _ in range(5):
            t = time.perf_counter()
            sim.structure.run_kernel(inputs)
            best = min(best, time.perf_counter() - t)
        result[f"threads{threads}"] = best
for path in folder.glob("child*"):
    path.unlink()
print(json.dumps(result))
"""


# Runs a command (its output discarded) and prints its peak RSS in KiB.
RSS_WRAPPER = ("import resource, subprocess, sys; "
               "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


class Version:
    """One version under test: a source tree whose `simengine` a child process imports."""

    def __init__(self, label: str, tree: Path, rev: str):
        self.label, self.tree, self.rev = label, tree, rev

    def env(self) -> dict:
        return {**os.environ, "PYTHONPATH": str(self.tree)}

    def cli(self, args: list[str], folder: Path) -> float:
        """Wall seconds of `python -m simengine ARGS`; a failure stops the comparison."""
        t = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "simengine", *args], env=self.env(), cwd=folder,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode != 0:
            raise SystemExit(f"versus: {self.label} ({self.rev}): simengine {' '.join(args)} exited "
                             f"{done.returncode}:\n{done.stderr.strip()[-2000:]}")
        return time.perf_counter() - t

    def child(self, mode: str, scenario: str, trials: int, folder: Path) -> dict:
        done = subprocess.run([sys.executable, "-c", CHILD, mode, scenario, str(trials), str(folder), str(HERE)],
                              env=self.env(), cwd=folder, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"versus: {self.label} ({self.rev}) {mode} failed:\n{done.stderr.strip()[-2000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def peak_rss(self, args: list[str], folder: Path) -> float:
        """Peak RSS in MiB of `python -m simengine ARGS`, read by a wrapper process that runs it
        (as /usr/bin/time would: the rusage of the child it waited for)."""
        done = subprocess.run([sys.executable, "-c", RSS_WRAPPER, sys.executable, "-m", "simengine", *args],
                              env=self.env(), cwd=folder, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"versus: {self.label}: simengine {' '.join(args)} failed:\n{done.stderr.strip()[-2000:]}")
        return int(done.stdout.split()[-1]) / 1024  # ru_maxrss is in KiB on Linux


def worktree(rev: str, into: Path) -> Path:
    """A detached worktree of `rev` (no need to clean up the checkout's own files)."""
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(into), rev], check=True)
    return into


def short(rev: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", rev], capture_output=True, text=True,
                          check=True).stdout.strip()


def measure(before: Version, after: Version, trials: int, rounds: int, startup_rounds: int, folder: Path,
            log=print) -> dict:
    """Every measurement, the versions taking turns; raw values (lists) by figure and version."""
    pair = (before, after)
    raw: dict[str, dict[str, list[float]]] = {}

    def add(figure: str, label: str, value: float) -> None:
        raw.setdefault(figure, {}).setdefault(label, []).append(value)

    log("warming up (each version compiles its kernels once)")
    for v in pair:
        for args in (["run", BIG_BANG, "--trials", "20000", "--out", str(folder / "warm.parquet"), "--force",
                      "--report"],
                     ["run", SMALL7, "--trials", "2000", "--summary-only"],
                     # past the summary's pilot (16 blocks), whose later blocks go through kernels of their own
                     ["run", BIG_BANG, "--trials", "1100000", "--summary-only"]):
            v.cli(args, folder)
    log(f"start-up, {startup_rounds} rounds")
    for _ in range(startup_rounds):
        for v in pair:
            for name, args in STARTUP.items():
                add(f"start-up: {name} (s)", v.label, v.cli(args, folder))
    log("kernel alone, 1e6 trials")
    for name, scenario in (("big bang", BIG_BANG), ("7 drivers", SMALL7)):
        for _ in range(rounds):
            for v in pair:
                r = v.child("kernel", scenario, 1_000_000, folder)
                for threads in (1, 2):
                    add(f"kernel, {name}, {threads} thread(s) (trials/s)", v.label, 1e6 / r[f"threads{threads}"])
    log(f"engine and floor, {trials:,} trials")
    for name, scenario in (("big bang", BIG_BANG), ("7 drivers", SMALL7)):
        for _ in range(rounds):
            for v in pair:
                r = v.child("engine", scenario, trials, folder)
                for threads in (1, 2):
                    add(f"engine, {name}, {threads} thread(s) (s)", v.label, r[f"threads{threads}"])
            r = after.child("floor", scenario, trials, folder)
            for threads in (1, 2):
                add(f"floor, {name}, {threads} thread(s) (s)", "floor", r[f"threads{threads}"])
    log("peak RSS, 1e6 trials")
    for _ in range(3):
        for v in pair:
            for name, extra in MEMORY.items():
                args = ["run", BIG_BANG, "--trials", "1000000", "--out", str(folder / "rss.parquet"), "--force", *extra]
                add(f"peak RSS, run 1e6, {name} (MiB)", v.label, v.peak_rss(args, folder))
    return raw


def table(raw: dict, before: str = "before", after: str = "after") -> list[dict]:
    """One row per figure: before, after, and after's change (best of the rounds for engine, kernel
    and floor, the median for start-up and memory); engine over floor and 2 threads over 1 added."""
    def pick(figure: str, values: list[float]) -> float:
        if figure.startswith("kernel"):
            return max(values)
        if figure.startswith(("engine", "floor")):
            return min(values)
        return statistics.median(values)

    best = {fig: {label: pick(fig, vals) for label, vals in by.items()} for fig, by in raw.items()}
    rows = []
    for fig, by in best.items():
        if fig.startswith("floor"):
            continue
        if before in by and after in by:
            higher_better = fig.endswith("(trials/s)")
            rows.append({"figure": fig, "before": by[before], "after": by[after],
                         "gain": by[after] / by[before] if higher_better else by[before] / by[after]})
    for name in ("big bang", "7 drivers"):
        for threads in (1, 2):
            engine, floor = best.get(f"engine, {name}, {threads} thread(s) (s)"), \
                best.get(f"floor, {name}, {threads} thread(s) (s)")
            if engine and floor and before in engine and after in engine:
                f = floor["floor"]
                rows.append({"figure": f"engine / floor, {name}, {threads} thread(s)", "before": engine[before] / f,
                             "after": engine[after] / f, "gain": engine[before] / engine[after]})
        engine = best.get(f"engine, {name}, 1 thread(s) (s)"), best.get(f"engine, {name}, 2 thread(s) (s)")
        if all(engine) and all(before in e and after in e for e in engine):
            rows.append({"figure": f"engine, {name}: 2 threads over 1 (x)",
                         "before": engine[0][before] / engine[1][before],
                         "after": engine[0][after] / engine[1][after], "gain": None})
    return rows


def markdown(rows: list[dict], before: str, after: str) -> str:
    """The rows as a Markdown table; "gain" reads as how many times better after is."""
    def fmt(x: float) -> str:
        return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}" if abs(x) < 10 else f"{x:.1f}"

    lines = [f"| figure | before ({before}) | after ({after}) | after is |", "|---|---|---|---|"]
    for r in rows:
        gain = "-" if r["gain"] is None else f"{r['gain']:.2f}x better" if r["gain"] >= 1 else \
            f"{1 / r['gain']:.2f}x worse"
        lines.append(f"| {r['figure']} | {fmt(r['before'])} | {fmt(r['after'])} | {gain} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", help="the git revision to measure against")
    parser.add_argument("--after", default=None, help="a git revision (default: this checkout as it is)")
    parser.add_argument("--trials", type=float, default=1e7, help="trials of the engine and floor runs")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of kernel, engine and floor (best of)")
    parser.add_argument("--startup-rounds", type=int, default=11)
    parser.add_argument("--json", type=Path, default=None, help="write every measurement here")
    parser.add_argument("--quick", action="store_true", help="a smoke test: 1e5 trials, one round, 3 start-ups")
    args = parser.parse_args()
    trials, rounds, startup_rounds = int(args.trials), args.rounds, args.startup_rounds
    if args.quick:
        trials, rounds, startup_rounds = 100_000, 1, 3
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="simengine-versus-") as tmp:
        tmp = Path(tmp)
        trees = [worktree(args.before, tmp / "before")]
        before = Version("before", trees[0], short(args.before))
        if args.after:
            trees.append(worktree(args.after, tmp / "after"))
            after = Version("after", trees[1], short(args.after))
        else:
            after = Version("after", ROOT, "this checkout")
        folder = tmp / "work"
        folder.mkdir()
        try:
            raw = measure(before, after, trials, rounds, startup_rounds, folder,
                          log=lambda m: print(f"[{time.perf_counter() - started:5.0f} s] {m}", flush=True))
        finally:
            for tree in trees:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)
    rows = table(raw)
    print(f"\nversus: {trials:,} trials, best of {rounds} (engine, kernel), median of {startup_rounds} "
          f"(start-up) and 3 (memory); {time.perf_counter() - started:.0f} s\n")
    print(markdown(rows, before.rev, after.rev))
    if args.json:
        args.json.write_text(json.dumps({"before": before.rev, "after": after.rev, "trials": trials, "rounds": rounds,
                                         "date": time.strftime("%Y-%m-%d"), "raw": raw, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
