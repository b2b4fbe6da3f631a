"""Kernels run as plain Python, without numba: for a few values (the base case's one trial, a
median) loading numba costs ~1 s, a thousand times the work.

`python_twin(kernel)` is the kernel's own Python function (its twin, see jit.py) with its
callees rebound to their twins and `prange` to `range`. The kernels write integer powers as
multiplications (kernels/powers.py), where numba and CPython would round `x ** n` differently,
and compute the normal CDF and its inverse themselves (kernels/normal.py), so a twin gives the
compiled kernel's doubles (tests/test_base_case.py).
"""

from __future__ import annotations

import types

from . import jit

_twins: dict[int, types.FunctionType] = {}
_namespaces: dict[int, dict] = {}
_rebound: dict[int, set[str]] = {}  # per namespace, the names already set to what twins call


def python_twin(kernel):
    """`kernel` (a Kernel, its numba dispatcher or its Python function) as plain Python."""
    func = jit._source(kernel)
    return _twin_of(func if func is not None else getattr(kernel, "py_func", kernel))


def _twin_of(func) -> types.FunctionType:
    """The twin of a kernel's Python function, made once, with the twins of the kernels it calls."""
    if id(func) in _twins:
        return _twins[id(func)]
    namespace = _namespace(func.__globals__)
    twin = types.FunctionType(func.__code__, namespace, func.__name__, func.__defaults__, func.__closure__)
    twin.__kwdefaults__, twin.__doc__ = func.__kwdefaults__, func.__doc__
    twin.__qualname__ = func.__qualname__
    _twins[id(func)] = twin
    rebound = _rebound.setdefault(id(namespace), set())
    for name in _global_names(func.__code__) - rebound:  # the kernels it calls: their twins, made now
        rebound.add(name)
        if name in func.__globals__:
            namespace[name] = _as_twin(func.__globals__[name])
    return twin


def _namespace(module_globals: dict) -> dict:
    """A copy of a kernel module's globals, one per module, where the twins' names are rebound."""
    key = id(module_globals)
    if key not in _namespaces:
        _namespaces[key] = dict(module_globals)
    return _namespaces[key]


def _global_names(code) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def _as_twin(value):
    """What a twin calls instead of `value`: a kernel's twin, or range for prange."""
    source = jit._source(value)
    numba = jit._numba
    if value is jit._PRANGE or (numba is not None and value is numba.prange):
        return range
    if source is not None:
        return _twin_of(source)
    return value
