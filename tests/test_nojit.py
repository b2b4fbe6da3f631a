"""NUMBA_DISABLE_JIT=1: every kernel twin runs as plain Python and gives the compiled results.

simengine/jit.py promises that the kernels are plain Python functions compiled by numba,
so that with numba's JIT disabled (NUMBA_DISABLE_JIT=1, e.g. to step through a kernel in a
debugger or to measure coverage) they run as ordinary Python. This runs small bundled
scenarios that way in a subprocess and compares every driver and metric of every trial with
the compiled run in this process, bit for bit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from simengine.runner import run

#: The evidence scenario in every design (PERT tables, a lognormal and lognormal/Pareto
#: mixtures from the crm reference class, Gaussian copulas, logistic adoption), and the
#: deterministic example (linear adoption, no drivers). Most of the time is building the
#: PERT tables in plain Python (about 0.1 s each, once per scenario), so no more scenarios.
CASES = ("crm_upgrade_big_bang_evidence/mc", "crm_upgrade_big_bang_evidence/lhs", "crm_upgrade_big_bang_evidence/sobol",
         "deterministic_example/mc")
TRIALS = 300
SEED = 11

# Runs in the subprocess: argv = out folder, trials, seed, then scenario/design pairs.
CHILD = """
import json, sys
from pathlib import Path
import numba
from simengine.bundled import bundled_scenarios
from simengine.kernels import cashflows, normal
from simengine.runner import run
from simengine.scenario import load_scenario
out, trials, seed = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
paths, loaded = bundled_scenarios(), {}
for case in sys.argv[4:]:
    name, design = case.split("/")
    scenario = loaded.setdefault(name, load_scenario(paths[name]))  # its distributions' tables, built once
    run(scenario, trials=trials, seed=seed, out=out / f"{name}-{design}.parquet", sampling=design, columns="all")
print(json.dumps({"disable_jit": bool(numba.config.DISABLE_JIT),
                  "kernel": type(cashflows.trial).__name__, "ndtri": type(normal.ndtri).__name__}))
"""


def compare_tables(got_path: Path, want_path: Path) -> list[str]:
    """Every column of two result files: the same names, nulls and values bit for bit."""
    got, want = pq.read_table(got_path), pq.read_table(want_path)
    assert got.column_names == want.column_names
    bad = []
    for name in want.column_names:
        g, w = got.column(name), want.column(name)
        if not np.array_equal(g.is_null().to_numpy(zero_copy_only=False), w.is_null().to_numpy(zero_copy_only=False)):
            bad.append(f"{name}: nulls differ")
            continue
        gv = g.to_numpy(zero_copy_only=False).astype(float)
        wv = w.to_numpy(zero_copy_only=False).astype(float)
        ok = (gv == wv) | (np.isnan(gv) & np.isnan(wv))
        if not ok.all():
            j = int(np.argmin(ok))
            bad.append(f"{name}: {int((~ok).sum())} trials differ, e.g. trial {j}: {gv[j]!r} vs {wv[j]!r}")
    return bad


def test_twins_without_jit_give_the_compiled_results(bundled, tmp_path):
    cases = CASES
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    child = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path), str(TRIALS), str(SEED), *cases],
                           env=env, capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr
    info = json.loads(child.stdout.strip().splitlines()[-1])
    # The child really ran the plain-Python twins, the normal CDF and its inverse included.
    assert info == {"disable_jit": True, "kernel": "function", "ndtri": "function"}, info
    problems = []
    for case in cases:
        name, design = case.split("/")
        compiled = tmp_path / "compiled" / f"{name}-{design}.parquet"
        compiled.parent.mkdir(exist_ok=True)
        run(bundled[name], trials=TRIALS, seed=SEED, out=compiled, sampling=design, columns="all")
        problems += [f"{case}: {p}" for p in compare_tables(tmp_path / f"{name}-{design}.parquet", compiled)]
    assert not problems, "\n".join(problems)
