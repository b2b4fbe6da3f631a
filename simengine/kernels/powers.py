"""Integer powers of floats spelled out as multiplications, so that a compiled kernel and its
plain-Python twin (jit.py, twins.py) give the same doubles: numba evaluates `x ** n` for an
integer n by repeated squaring, where CPython calls pow(), and the two can differ in the last bit."""

from __future__ import annotations

from ..jit import jit


def int_power_python(x, n):
    """x ** n for a whole n >= 0, by repeated squaring: numba's own order of multiplications for `**`."""
    result = 1.0
    while n:
        if n & 1:
            result *= x
        n >>= 1
        x *= x
    return result


int_power = jit(int_power_python)
