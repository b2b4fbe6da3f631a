"""The single place numba is imported: jit defaults for every kernel live here.

Kernels are written as plain Python functions (their "twins") and compiled with
`jit` or `parallel_jit`; with NUMBA_DISABLE_JIT=1 the twins run as ordinary Python.
"""

from __future__ import annotations

import numba

#: Options every kernel shares: cached to disk, no fastmath (results must be exact and
#: reproducible across machines and thread counts).
JIT_OPTIONS = dict(cache=True, fastmath=False, nogil=True)

prange = numba.prange


def jit(func):
    """Compile a serial kernel with the project defaults."""
    return numba.njit(**JIT_OPTIONS)(func)


def parallel_jit(func):
    """Compile a kernel whose outer `prange` loop runs across threads."""
    return numba.njit(parallel=True, **JIT_OPTIONS)(func)


def max_threads() -> int:
    """Largest thread count numba's pool can use on this machine."""
    return int(numba.config.NUMBA_NUM_THREADS)


def set_threads(n_threads: int) -> None:
    """Set the kernel thread count for the calling thread."""
    numba.set_num_threads(int(n_threads))


def get_threads() -> int:
    """Kernel thread count now in force."""
    return int(numba.get_num_threads())



def cython_special(capi_name: str):
    """A double -> double function of scipy.special.cython_special, callable from kernels.

    `capi_name` is its name in the module's C API (`ndtri`, or `__pyx_fuse_1ndtr` for the
    real-valued `ndtr`); those take a second `skip_dispatch` int argument, passed as 0.
    The address is registered with LLVM under a fixed symbol so that kernels calling it
    can still be cached to disk. Results are bit-identical to scipy.special's ufuncs.
    With NUMBA_DISABLE_JIT=1 it is `python_special(capi_name)` instead: the kernels' twins
    then run as plain Python, where a numba ExternalFunction cannot be called.
    """
    if numba.config.DISABLE_JIT:
        return python_special(capi_name)
    import llvmlite.binding as llvm
    from numba.extending import get_cython_function_address

    symbol = f"simengine_cython_special_{capi_name}"
    llvm.add_symbol(symbol, get_cython_function_address("scipy.special.cython_special", capi_name))
    return numba.types.ExternalFunction(symbol, numba.types.float64(numba.types.float64, numba.types.int32))


def python_special(capi_name: str):
    """The plain-Python twin of `cython_special(capi_name)`: scipy.special's ufunc of the same
    name (the `__pyx_fuse_N` prefix of a fused variant dropped: `__pyx_fuse_1ndtr` is `ndtr`),
    called as f(x, skip_dispatch) like the C function and returning a Python float.

    The ufunc's float64 loop calls the same C routine as the C API, so the doubles are the
    same (tests/test_nojit.py checks this against the compiled kernels).
    """
    import re

    import scipy.special

    name = re.sub(r"^__pyx_fuse_[0-9_]*", "", capi_name)
    ufunc = getattr(scipy.special, name, None)
    if ufunc is None:
        raise ValueError(f"scipy.special has no {name!r} (from cython_special name {capi_name!r})")

    def special(x, skip_dispatch=0):
        return float(ufunc(x))

    special.__name__ = special.__qualname__ = name
    special.__doc__ = f"scipy.special.{name}(x) as a Python float (a twin of cython_special's {capi_name})."
    return special
