"""simengine.jit: numba is imported on a kernel's first call, and then the kernels are numba's."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import numpy as np
import pytest

from simengine import jit

CHILD = """
import json, sys
import numpy as np
from simengine.kernels import cashflows, normal, quantiles
from simengine import jit
before = sorted(m for m in ('numba', 'llvmlite', 'scipy') if m in sys.modules)
kinds = {"kernel": type(cashflows.simulate).__name__, "callee": type(quantiles.ndtri).__name__,
         "prange": cashflows.prange is jit.prange}
values = np.array([0.5, 0.975])
normal.ndtri_column(values)  # the first call: numba is loaded, every kernel bound
import numba
print(json.dumps({"before": before, "kinds": kinds, "values": values.tolist(),
                  "simulate": type(cashflows.simulate).__name__, "helper": type(cashflows.adoption_into).__name__,
                  "prange": cashflows.prange is numba.prange, "jit_prange": jit.prange is numba.prange,
                  "ndtri": type(quantiles.ndtri).__name__}))
"""


def test_kernels_load_numba_on_first_call_and_become_its_dispatchers():
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True).stdout
    got = json.loads(out.strip().splitlines()[-1])
    assert got["before"] == []  # importing the kernels loaded neither numba nor scipy
    assert got["kinds"] == {"kernel": "Kernel", "callee": "Kernel", "prange": True}
    assert got["values"][0] == 0.0 and abs(got["values"][1] - 1.959963984540054) < 1e-15
    # numba compiles a kernel's callees from its module's globals: those are numba's objects now
    assert got["simulate"] == "CPUDispatcher" and got["helper"] == "CPUDispatcher"
    assert got["prange"] and got["jit_prange"]
    assert got["ndtri"] == "CPUDispatcher"


def twice_python(x):
    return 2.0 * x


def test_a_kernel_made_after_binding_is_a_dispatcher_at_once():
    jit.max_threads()  # binds
    kernel = jit.jit(twice_python)
    assert type(kernel).__name__ == "CPUDispatcher" and kernel(2.5) == 5.0
    assert kernel.py_func is twice_python


def test_kernel_placeholders_forward_calls_and_attributes():
    from simengine.kernels import summary_block

    kernel = summary_block.block_moments
    x = np.arange(10.0)
    kernel(x)
    stats = kernel.stats  # a numba attribute, through the placeholder or on the dispatcher itself
    assert sum(stats.cache_hits.values()) + sum(stats.cache_misses.values()) >= 1


class FakeListener:
    def __init__(self):
        self.events = []

    def __call__(self, seconds):
        self.events.append(seconds)


@pytest.mark.announces_compiles
def test_compile_hooks_see_top_level_compiles_once_with_their_time(tmp_path, monkeypatch):
    """A compile nested in another's (a callee compiled with its caller) counts once."""
    listener = FakeListener()
    monkeypatch.setattr(jit, "compile_hooks", [listener])
    from numba.core import event

    jit.max_threads()
    with event.trigger_event("numba:compile", data={}):
        with event.trigger_event("numba:compile", data={}):
            pass
    assert len(listener.events) == 2 and listener.events[0] is None and listener.events[1] >= 0.0


OMP_CHILD = """
import os
from simengine import jit
before = os.environ.get("OMP_WAIT_POLICY")
jit.max_threads()  # binds: numba is imported, its OpenMP runtime not loaded yet
print(before, os.environ.get("OMP_WAIT_POLICY"))
"""


def test_openmp_threads_sleep_when_idle_unless_the_user_says_otherwise():
    """Binding sets OMP_WAIT_POLICY=PASSIVE before numba loads OpenMP (idle workers would spin
    and take a core from the writer thread), and keeps a value the user set."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", OMP_CHILD], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["None", "PASSIVE"]
    out = subprocess.run([sys.executable, "-c", OMP_CHILD], env={**env, "OMP_WAIT_POLICY": "ACTIVE"},
                         capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["ACTIVE", "ACTIVE"]


BLAS_CHILD = """
import json, sys
import numpy as np
from simengine import jit
from simengine.kernels import normal
jit.BLAS_TABLE_ALONE = True  # as the command line sets it for its own process
normal.ndtri_column(np.array([0.5]))  # binds, and numba sets up its compiler on this first call
seen = {"linalg_run": "scipy.linalg" in sys.modules, "table": "scipy.linalg.cython_blas" in sys.modules}
import numba

@numba.njit(cache=False)
def dot(a, b):
    return np.dot(a, b)  # BLAS through numba, whose entry points come from the table loaded alone

a = np.arange(6.0).reshape(2, 3)
seen["dot"] = dot(a, a.T).tolist()
import scipy.linalg
from scipy.linalg import cython_blas
seen["same"] = cython_blas is sys.modules["scipy.linalg.cython_blas"]
seen["solve"] = scipy.linalg.solve(np.eye(2) * 2.0, np.ones(2)).tolist()
print(json.dumps(seen))
"""


def test_numba_gets_scipys_blas_table_without_all_of_scipy_linalg():
    """numba's first set-up finds scipy.linalg.cython_blas loaded on its own (0.02 s instead of
    0.2 s for the whole package), and BLAS calls in numba and scipy.linalg both still work."""
    out = json.loads(subprocess.run([sys.executable, "-c", BLAS_CHILD], capture_output=True, text=True,
                                    check=True).stdout)
    assert out == {"linalg_run": False, "table": True, "dot": [[5.0, 14.0], [14.0, 50.0]], "same": True,
                   "solve": [0.5, 0.5]}


def test_the_blas_table_is_left_alone_once_scipy_linalg_is_imported(monkeypatch):
    """With scipy.linalg already imported, its own import of the table is the one used."""
    importlib.import_module("scipy.linalg")  # the state being tested

    monkeypatch.delitem(sys.modules, "scipy.linalg.cython_blas", raising=False)
    jit._load_blas_table()
    assert "scipy.linalg.cython_blas" not in sys.modules


LIBRARY_CHILD = """
import json, sys
import numpy as np
from simengine.kernels import normal
normal.ndtri_column(np.array([0.5]))
import scipy.linalg.cython_blas
print(json.dumps({"linalg_run": "scipy.linalg" in sys.modules, "attribute": hasattr(scipy.linalg, "cython_blas")}))
"""

COMMAND_CHILD = """
import atexit, json, sys
atexit.register(lambda: sys.__stderr__.write(json.dumps({"linalg_run": "scipy.linalg" in sys.modules,
                                                          "table": "scipy.linalg.cython_blas" in sys.modules})))
sys.argv = ["simengine", "run", "crm_new_small_firm", "--trials", "1000", "--summary-only", "--quiet"]
from simengine.cli import main
main()
"""


def test_only_the_command_lines_own_process_loads_the_blas_table_alone():
    """Used as a library, simengine leaves scipy's imports as they are (scipy.linalg.cython_blas
    stays an attribute of scipy.linalg); `simengine ...` itself skips scipy.linalg."""
    library = subprocess.run([sys.executable, "-c", LIBRARY_CHILD], capture_output=True, text=True, check=True)
    assert json.loads(library.stdout) == {"linalg_run": True, "attribute": True}
    command = subprocess.run([sys.executable, "-c", COMMAND_CHILD], capture_output=True, text=True)
    assert command.returncode == 0, command.stderr
    assert json.loads(command.stderr.strip().splitlines()[-1]) == {"linalg_run": False, "table": True}
