"""The IRR iteration (kernels/cashflows.py, docs/model.md "The IRR method") on its own.

Single-sign-change cash flows of random shapes are solved by the compiled iteration and
checked against the root computed with 50-digit decimals; the month pass's first sums, the
step rules and the last step that rounds onto a bracket end are checked directly.
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext

import numpy as np
import pytest

from simengine.kernels import cashflows as k

NAN = math.nan


def flows(rng: np.random.Generator, months: int) -> tuple[np.ndarray, int]:
    """A cost phase then a benefit phase with noise: one sign change, at the returned month."""
    split = int(rng.integers(1, months - 1))
    cf = np.empty(months)
    cf[:split] = -rng.uniform(1e3, 1e6, split)
    cf[0] -= rng.uniform(0, 5e6)
    ramp = np.minimum(1.0, np.arange(1, months - split + 1) / rng.uniform(1, 24))
    cf[split:] = rng.uniform(1e3, 3e5) * ramp * rng.uniform(0.8, 1.2, months - split)
    return cf, split


def exact_root(cf: np.ndarray, guess: float) -> Decimal:
    """The monthly rate i with sum cf_t (1+i)^-t = 0, by Newton's method in 50-digit decimals."""
    with localcontext() as ctx:
        ctx.prec = 50
        values = [Decimal(float(c)) for c in cf]
        i = Decimal(guess)
        for _ in range(60):
            v = 1 / (1 + i)
            f = sum(c * v ** t for t, c in enumerate(values))
            df = sum(-t * c * v ** (t + 1) for t, c in enumerate(values))
            step = f / df
            i -= step
            if abs(step) < Decimal(10) ** -40:
                break
        return i


def month_pass_sums(cf: np.ndarray, m: float) -> tuple[float, float, float, float]:
    """F, F', F'', F''' at x = ln(1 + m) from sum |cf_t| v^t t^k on each side, as the month pass sums them."""
    v = 1.0 / (1.0 + m)
    sums = {1: [0.0] * 4, -1: [0.0] * 4}
    d = 1.0
    for t, c in enumerate(cf):
        if c != 0.0:
            w = abs(c) * d
            side = sums[1 if c > 0 else -1]
            for power in range(4):
                side[power] += w * t ** power
        d *= v
    later = 1 if cf[-1] > 0 else -1
    return k.ratio_moments(*sums[later], *sums[-later])


@pytest.mark.parametrize("months", [12, 60, 120])
def test_the_iteration_finds_the_root_to_the_last_bits(months):
    rng = np.random.default_rng(months)
    m = 1.08 ** (1 / 12) - 1
    worst = 0.0
    for _ in range(40):
        cf, split = flows(rng, months)
        x0 = math.log1p(m)
        irr, ok = k.irr_newton(cf, months, split, x0, *month_pass_sums(cf, m))
        assert ok
        if irr != irr:  # the root is outside the bracket: the same sign at both ends
            assert (k.npv_sign_scaled(cf, months, k.IRR_LOW) > 0) == (k.npv_sign_scaled(cf, months, k.IRR_HIGH) > 0)
            continue
        error = abs(Decimal(irr) - exact_root(cf, irr))
        worst = max(worst, float(error))
    # F is evaluated to a few rounding errors, and F' is tens of months: the root is known to ~1e-17.
    assert worst <= 1e-15, worst


def test_the_first_sums_from_the_month_pass_give_the_same_root():
    """Starting from the month pass's sums or from a fresh evaluation at the discount rate takes
    different paths to the same root: within F's own rounding (a few 1e-16 on the monthly rate)."""
    rng = np.random.default_rng(3)
    m = 1.1 ** (1 / 12) - 1
    x0 = math.log1p(m)
    for _ in range(50):
        cf, split = flows(rng, 60)
        folded = k.irr_newton(cf, 60, split, x0, *month_pass_sums(cf, m))
        fresh = k.irr_newton(cf, 60, split, x0, NAN, NAN, NAN, NAN)
        assert folded[1] and fresh[1]
        if fresh[0] != fresh[0]:
            assert folded[0] != folded[0]
            continue
        assert abs(folded[0] - fresh[0]) <= 1e-15
        # ... and the month pass's F at the discount rate is log_ratio's, up to rounding
        assert month_pass_sums(cf, m)[0] == pytest.approx(k.log_ratio(cf, 60, split, x0)[0], rel=1e-12, abs=1e-14)


def test_a_last_step_that_rounds_onto_the_bracket_end_is_taken():
    """A step far below an ulp of x leaves x + step == x, where the bracket's end now is (F < 0
    there): it is the last step all the same. It once set off a bisection and, 30 steps later,
    Brent's method (seen on negative IRRs of the big-bang scenario)."""
    cf, split = flows(np.random.default_rng(5), 60)
    x = 0.01
    assert x + 1e-20 / -30.0 == x
    irr, ok = k.irr_newton(cf, 60, split, x, -1e-20, -30.0, 40.0, 300.0)
    assert ok and irr == math.expm1(x)


@pytest.mark.parametrize("f, slope, curve, skew, order", [
    (1e-3, -30.0, 40.0, 300.0, 4),  # near the root: the fourth-order step
    (-1e-3, -30.0, 40.0, 300.0, 4),
    (2.0, -30.0, -5000.0, 1e7, 3),  # fourth-order step against Newton's: Halley's
    (2.0, -1.0, 40.0, -1e7, 2),  # neither higher-order step usable: Newton's
])
def test_the_step_is_the_highest_order_one_that_points_the_way_newtons_does(f, slope, curve, skew, order):
    step, got = k.root_step(f, slope, curve, skew)
    assert got == order
    assert step * (-f / slope) > 0
    if order == 4:  # close to the root the three steps agree to second order in f
        assert step == pytest.approx(-f / slope, rel=abs(f) * 10)
