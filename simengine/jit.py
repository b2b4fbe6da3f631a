"""The single place numba is imported, on first use: jit defaults for every kernel live here.

Kernels are written as plain Python functions (their "twins") and wrapped with `jit` or
`parallel_jit`. numba (~0.3 s to import, more to load the cached kernels) is imported only
when a kernel is first called, so commands that run none (`--help`, `validate`) never load
it: `jit` returns a `Kernel` that then turns itself, and every kernel made so far, into
numba dispatchers. `python_twin` runs a kernel and its helpers as plain Python, without
numba (twins.py); with NUMBA_DISABLE_JIT=1 the twins run as ordinary Python everywhere.
"""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import os
import sys
import threading
import time

from . import kernel_cache

#: Options every kernel shares: cached to disk, no fastmath (results must be exact and
#: reproducible across machines and thread counts).
JIT_OPTIONS = dict(cache=True, fastmath=False, nogil=True)

_lock = threading.RLock()
_numba = None  # the numba module once the kernels are bound
_kernels: list["Kernel"] = []  # the placeholders made before numba was loaded, bound together
#: id of every kernel and dispatcher handed out -> (it, its twin's source: the py_func); holding it
#: keeps the id from being reused.
_made: dict[int, tuple[object, object]] = {}
#: Whether binding loads scipy's BLAS table alone before numba's set-up (`_load_blas_table`, 0.2 s
#: less): set by the command line, for its own process only. A library user's process keeps
#: scipy's usual imports, where `scipy.linalg.cython_blas` is also an attribute of `scipy.linalg`.
BLAS_TABLE_ALONE = False
#: Called as hook(None) when a kernel starts compiling (a disk cache miss) and hook(seconds) when
#: it is done; a compile nested in another's counts once. See compile_notice.py.
compile_hooks: list = []


def prange(*args):
    """numba.prange in kernels once numba is loaded; a plain range in Python."""
    return range(*args)


_PRANGE = prange


class Kernel:
    """A kernel whose numba dispatcher is made on first use: calling it (or asking for a dispatcher
    attribute such as `stats`) loads numba and binds every kernel, see `_bind`."""

    def __init__(self, func, parallel: bool):
        functools.update_wrapper(self, func)
        self.py_func, self.parallel, self.target = func, parallel, None

    def __call__(self, *args, **kwargs):
        if self.target is None:
            _bind()
        return self.target(*args, **kwargs)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        _bind()
        return getattr(self.target, name)

    def __repr__(self) -> str:
        return f"<simengine kernel {self.py_func.__qualname__}{' (bound)' if self.target else ''}>"


def _dispatcher(numba, func, parallel: bool):
    options = dict(parallel=True, **JIT_OPTIONS) if parallel else JIT_OPTIONS
    made = numba.njit(**options)(func)
    # before anything loads from numba's disk cache: drop it if it was compiled from other sources
    kernel_cache.check(getattr(getattr(made, "_cache", None), "cache_path", None))
    _remember(made, func)
    return made


def _remember(made, source) -> None:
    _made[id(made)] = (made, source)


def _source(value):
    """What `value` was made from (its py_func) if this module made it, else None."""
    entry = _made.get(id(value))
    return entry[1] if entry is not None and entry[0] is value else None


def jit(func):
    """Compile a serial kernel with the project defaults (on first use)."""
    return _wrap(func, parallel=False)


def parallel_jit(func):
    """Compile a kernel whose outer `prange` loop runs across threads (on first use)."""
    return _wrap(func, parallel=True)


def _wrap(func, parallel: bool):
    with _lock:
        if _numba is not None:
            return _dispatcher(_numba, func, parallel)
        kernel = Kernel(func, parallel)
        _kernels.append(kernel)
        _remember(kernel, func)
        return kernel


def _bind():
    """Import numba, make every kernel's dispatcher and put the dispatchers and numba.prange in
    place of the placeholders in the kernels' module globals (numba reads a kernel's callees
    from there when it compiles it). Returns numba; done once per process."""
    global _numba, prange
    if _numba is not None:
        return _numba
    with _lock:
        if _numba is not None:
            return _numba
        # OpenMP's worker threads (numba's threading layer here) would otherwise spin for a
        # while after each parallel loop, taking a core from the sampler's and the writer's
        # threads: 10-20 % of a 2-thread run's wall time with a result file. A user's own
        # setting is kept.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        if BLAS_TABLE_ALONE:
            _load_blas_table()
        import numba

        for kernel in _kernels:
            kernel.target = _dispatcher(numba, kernel.py_func, kernel.parallel)
        swap = {id(p): (p, p.target) for p in _kernels}
        swap[id(_PRANGE)] = (_PRANGE, numba.prange)
        for namespace in {id(k.py_func.__globals__): k.py_func.__globals__ for k in _kernels}.values():
            for name, value in list(namespace.items()):
                placeholder, target = swap.get(id(value), (None, None))
                if value is placeholder:
                    namespace[name] = target
        prange = numba.prange
        _listen(numba)
        _numba = numba
        return numba


def _load_blas_table() -> None:
    """Load scipy's table of BLAS entry points (`scipy.linalg.cython_blas`) on its own, without
    running `scipy.linalg`'s package `__init__`.

    numba checks that this table can be imported when it first sets up its compiler, on the
    first call of any kernel, even one read from the disk cache. Importing it the usual way
    runs all of `scipy.linalg` (and, through scipy's array-API layer, `numpy.f2py`): about
    0.2 s of a 1-second run, for a table none of our kernels uses. Loaded alone it takes
    0.02 s, and numba finds it in `sys.modules`. Skipped when `scipy.linalg` is already
    imported or the table is not a compiled module next to it; any failure leaves numba to
    import it the usual way, with its own error if scipy is missing. The one difference it
    makes: a `scipy.linalg` imported later lacks the attribute `cython_blas` (importing the
    module by name still works), so only the command line's own process does it.
    """
    name = "scipy.linalg.cython_blas"
    if name in sys.modules or "scipy.linalg" in sys.modules:
        return
    try:
        import scipy

        folder = os.path.join(os.path.dirname(scipy.__file__), "linalg")
        found = importlib.machinery.PathFinder.find_spec("cython_blas", [folder])
        if found is None or not isinstance(found.loader, importlib.machinery.ExtensionFileLoader):
            return
        spec = importlib.util.spec_from_file_location(name, found.origin)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except Exception:  # noqa: BLE001 - numba's own import then reports any real problem
        return
    sys.modules.setdefault(name, module)


def _listen(numba) -> None:
    """Pass numba's compile events (fired on a disk cache miss only) to `compile_hooks`."""
    from numba.core import event

    class CompileListener(event.Listener):
        depth, started = 0, 0.0

        def on_start(self, ev):
            self.depth += 1
            if self.depth == 1:
                self.started = time.perf_counter()
                announce_compile(None)

        def on_end(self, ev):
            self.depth -= 1
            if self.depth == 0:
                announce_compile(time.perf_counter() - self.started)

    event.register("numba:compile", CompileListener())


def announce_compile(seconds: float | None) -> None:
    """Tell `compile_hooks` that a compile started (None) or ended (its seconds)."""
    for hook in list(compile_hooks):
        hook(seconds)


def max_threads() -> int:
    """Largest thread count numba's pool can use on this machine."""
    return int(_bind().config.NUMBA_NUM_THREADS)


def set_threads(n_threads: int) -> None:
    """Set the kernel thread count for the calling thread."""
    _bind().set_num_threads(int(n_threads))


def get_threads() -> int:
    """Kernel thread count now in force."""
    return int(_bind().get_num_threads())
