"""kernels/normal.py gives scipy.special's ndtri and ndtr (and erf, erfc) bit for bit, compiled and as
plain Python, at every scale, on both sides of every branch threshold of the Cephes code."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import scipy.special

from simengine.kernels import normal
from simengine.twins import python_twin

SQRT2 = math.sqrt(2.0)
EXP_M2 = 0.13533528323661269189  # ndtri's switch to the tail formula (and 1 - it)
MAXLOG = 7.09782712893383996732E2  # erfc underflows past x^2 > MAXLOG


def ulps_around(t: float, k: int) -> np.ndarray:
    """The 2k + 1 doubles nearest a positive finite t: t and k neighbours on each side."""
    return (np.array([t]).view(np.int64) + np.arange(-k, k + 1)).view(np.float64)


def signed(values) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    return np.concatenate([values, -values])


def assert_bits_equal(got: np.ndarray, want: np.ndarray, inputs: np.ndarray, what: str) -> None:
    """Exactly the same float64 bit patterns (NaN sign and payload, the sign of zero included)."""
    differ = got.view(np.uint64) != want.view(np.uint64)
    assert not differ.any(), (f"{what}: {int(differ.sum())} of {len(inputs)} differ, e.g. "
                              + ", ".join(f"{x!r} -> {g!r} != {w!r}" for x, g, w in
                                          zip(inputs[differ][:5], got[differ][:5], want[differ][:5])))


def ndtri_inputs() -> np.ndarray:
    rng = np.random.default_rng(20260601)
    bulk = rng.random(2_000_000)
    decimal = 10.0 ** -np.repeat(np.arange(1, 301), 500) * rng.random(300 * 500)  # 10^-k u, k = 1..300
    binary = np.ldexp(1.0 + rng.random(1074 * 20), -np.repeat(np.arange(1, 1075), 20))  # 2^-e (1 + u)
    tails = np.concatenate([decimal, binary])
    tails = tails[tails > 0.0]
    subnormal = np.concatenate([np.arange(1, 2001) * 5e-324, rng.integers(1, 2 ** 52, 2000) * 5e-324,
                                ulps_around(2.0 ** -1022, 50)])
    edges = np.concatenate([ulps_around(t, 200) for t in (EXP_M2, 1.0 - EXP_M2, math.exp(-32.0), 0.5, 2.0 ** -53)]
                           + [np.nextafter(1.0, 0.0) - np.arange(2000) * 2.0 ** -53])
    special = np.array([0.0, -0.0, 1.0, 0.5, 5e-324, 2.0 ** -53, 1.0 - 2.0 ** -53, 1.0 - 2.0 ** -52,
                        np.nextafter(1.0, 2.0), -5e-324, -0.1, 1.1, 2.0, -1.0, np.inf, -np.inf, np.nan, -np.nan])
    low = np.concatenate([tails, subnormal, edges])
    return np.concatenate([special, bulk, low, 1.0 - low])


def ndtr_inputs() -> np.ndarray:
    rng = np.random.default_rng(20260602)
    bulk = np.concatenate([rng.standard_normal(500_000) * scale for scale in (1.0, 4.0, 12.0, 40.0)])
    grid = np.linspace(-40.0, 40.0, 800_001)
    # |a|/sqrt 2 = 1 (erf -> erfc), = 8 (erfc's P/Q -> R/S), = sqrt(MAXLOG) (erfc underflows to 0);
    # ndtr reaches 1 near 8.29 and 0 near -38.5.
    edges = signed(np.concatenate([ulps_around(t * SQRT2, 500) for t in (1.0, 8.0, math.sqrt(MAXLOG))]
                                  + [np.linspace(8.0, 8.6, 20_001), np.linspace(37.0, 39.0, 20_001)]))
    tiny = signed(np.concatenate([[5e-324, 2.0 ** -1022, 1e-300, 1e-16, 2.0 ** -53], rng.random(1000) * 1e-8]))
    huge = signed([41.0, 100.0, 1e10, 1e100, 1e154, 1e155, 1e300, np.finfo(np.float64).max, np.inf])
    special = np.array([0.0, -0.0, np.nan, -np.nan])
    return np.concatenate([special, bulk, grid, edges, tiny, huge])


def erf_inputs() -> np.ndarray:
    rng = np.random.default_rng(20260603)
    bulk = signed(np.concatenate([rng.random(200_000) * 1.5, rng.random(200_000) * 30.0]))
    edges = signed(np.concatenate([ulps_around(t, 500) for t in (1.0, 8.0, math.sqrt(MAXLOG))]))
    special = np.array([0.0, -0.0, 5e-324, -5e-324, np.inf, -np.inf, np.nan, -np.nan, 1e300, -1e300])
    return np.concatenate([special, bulk, edges])


def compiled_column(column, x: np.ndarray) -> np.ndarray:
    values = x.copy()
    column(values)
    return values


def twin_sample(x: np.ndarray, n_special: int, n: int = 60_000) -> np.ndarray:
    """The special values first, then an even sample of the rest (the twins run ~2 us a value)."""
    rest = x[n_special:]
    return np.concatenate([x[:n_special], rest[:: max(1, len(rest) // n)]])


@pytest.fixture(scope="module")
def ndtri_x():
    return ndtri_inputs()


@pytest.fixture(scope="module")
def ndtr_x():
    return ndtr_inputs()


def test_ndtri_compiled_is_scipys_bit_for_bit(ndtri_x):
    assert len(ndtri_x) > 2_300_000
    assert_bits_equal(compiled_column(normal.ndtri_column, ndtri_x), scipy.special.ndtri(ndtri_x), ndtri_x, "ndtri")


def test_ndtr_compiled_is_scipys_bit_for_bit(ndtr_x):
    assert len(ndtr_x) > 2_800_000
    assert_bits_equal(compiled_column(normal.ndtr_column, ndtr_x), scipy.special.ndtr(ndtr_x), ndtr_x, "ndtr")


@pytest.mark.parametrize("name", ["ndtri", "ndtr"])
def test_plain_python_twins_are_scipys_bit_for_bit(name, ndtri_x, ndtr_x):
    """The twins (helpers rebound to their twins, no numba) on the special values and a sample of the rest."""
    x = twin_sample(ndtri_x if name == "ndtri" else ndtr_x, 18 if name == "ndtri" else 4)
    twin = python_twin(getattr(normal, name))
    got = np.array([twin(float(v)) for v in x])
    assert_bits_equal(got, getattr(scipy.special, name)(x), x, f"{name} twin")
    assert all(type(twin(float(v))) is float for v in x[:20])


@pytest.mark.parametrize("name", ["erf", "erfc"])
def test_erf_and_erfc_are_scipys_bit_for_bit(name):
    x = erf_inputs()
    compiled = getattr(normal, name)
    want = getattr(scipy.special, name)(x)
    assert_bits_equal(np.array([compiled(v) for v in x]), want, x, name)
    twin = python_twin(compiled)
    sample = twin_sample(x, 10, 20_000)
    assert_bits_equal(np.array([twin(float(v)) for v in sample]), getattr(scipy.special, name)(sample), sample,
                      f"{name} twin")


def test_edge_values():
    assert normal.ndtri(0.0) == -math.inf and normal.ndtri(1.0) == math.inf
    assert all(math.isnan(normal.ndtri(p)) for p in (-0.1, 1.1, math.inf, -math.inf, math.nan, -5e-324))
    assert normal.ndtri(0.5) == 0.0
    assert math.isnan(normal.ndtr(math.nan))
    assert normal.ndtr(math.inf) == 1.0 and normal.ndtr(-math.inf) == 0.0
    assert normal.ndtr(1e300) == 1.0 and normal.ndtr(-1e300) == 0.0 and normal.ndtr(0.0) == 0.5


def test_compiled_kernels_are_nopython():
    for name in ("ndtri", "ndtr", "erf", "erfc", "ndtri_column", "ndtr_column"):
        dispatcher = getattr(normal, name)
        dispatcher(np.array([0.25])) if name.endswith("column") else dispatcher(0.25)
        assert dispatcher.nopython_signatures, name


def test_ndtri_inverts_ndtr():
    """A property, not a bit test: ndtri(ndtr(x)) is x up to the rounding of ndtr's value."""
    x = np.linspace(-37.0, 7.5, 445_001)
    back = compiled_column(normal.ndtri_column, compiled_column(normal.ndtr_column, x))
    # ndtr(x) carries a relative error of a few eps (Cephes: 3.4e-14 peak near -13); through
    # ndtri that is |dx| ~ err * Phi(x) / phi(x), large only where Phi(x) ~ 1.
    phi = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    allowed = 1e-13 * scipy.special.ndtr(x) / phi + 1e-15 * np.abs(x)
    central = np.abs(x) <= 5.0
    assert np.all(np.abs(back - x) <= allowed), float(np.max(np.abs(back - x) / allowed))
    assert np.max(np.abs(back - x)[central]) < 1e-9


def test_importing_and_calling_does_not_load_scipy_special():
    code = ("import sys\nfrom simengine.kernels import normal\n"
            "assert normal.ndtr(normal.ndtri(0.3)) > 0.0 and normal.erfc(2.0) > 0.0\n"
            "print('scipy.special' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr
