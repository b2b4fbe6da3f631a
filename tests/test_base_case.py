"""The base case from the kernels' plain-Python twins (twins.py) is the compiled kernel's, bit for bit.

`validate` computes the base case without numba, by running the kernel's own Python code with
its helpers rebound to their twins; numba's one semantic CPython does not share (`float ** int`
by repeated squaring) is reproduced. These tests hold the twins to the compiled doubles: the
base case of every bundled scenario, a few hundred random trials of each, every family's median.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from simengine import metrics as registry
from simengine.base_case import base_case, base_values
from simengine.distributions import parse_distribution
from simengine.jit import jit
from simengine.kernels import cashflows, quantiles
from simengine.model import ModelStructure
from simengine.kernels.powers import int_power, int_power_python
from simengine.twins import python_twin


def bits(x: np.ndarray) -> np.ndarray:
    """The doubles' bit patterns: equal bits are the same double (NaN included)."""
    return np.ascontiguousarray(x, dtype=np.float64).view(np.int64)


def twin_metrics(structure: ModelStructure, inputs: np.ndarray) -> np.ndarray:
    out = np.empty((len(cashflows.METRICS), inputs.shape[1]))
    s = structure
    python_twin(cashflows.simulate)(inputs, s.cost_timing, s.cost_from_start, s.cost_overrun, s.cost_labor,
                                    s.benefit_scales, s.phase_share, s.phase_offset, s.n_events, s.curve,
                                    s.n_months, out, np.empty((0, s.n_months)))
    return out


def test_base_case_is_the_compiled_kernels_bit_for_bit(bundled):
    for name, scenario in bundled.items():
        structure = ModelStructure.of(scenario)
        values = base_values(scenario)
        compiled = structure.run_kernel(np.array([[values[c]] for c in structure.columns]))[:, 0]
        got = np.array([np.nan if v is None else v for v in base_case(scenario).values()])
        assert tuple(base_case(scenario)) == tuple(registry.names())
        assert np.array_equal(bits(got), bits(compiled)), name


def test_random_trials_are_the_compiled_kernels_bit_for_bit(bundled):
    """Beyond the base case: events on and off, every driver anywhere in its range."""
    rng = np.random.default_rng(17)
    for name, scenario in bundled.items():
        structure = ModelStructure.of(scenario)
        fields = scenario.fields()
        n = 300
        inputs = np.zeros((len(structure.columns), n))
        for i, column in enumerate(structure.columns):
            if column.endswith(".occurred"):
                inputs[i] = rng.random(n) < 0.5
            elif column in fields:
                inputs[i] = fields[column].ppf(rng.random(n))
        compiled, twin = structure.run_kernel(inputs), twin_metrics(structure, inputs)
        differ = {cashflows.METRICS[r]: int((bits(twin[r]) != bits(compiled[r])).sum()) for r in range(len(twin))}
        assert not any(differ.values()), f"{name}: {differ}"


FAMILIES = [
    {"dist": "fixed", "value": 3.5},
    {"dist": "uniform", "min": 1.0, "max": 4.0},
    {"dist": "triangular", "min": 1.0, "mode": 2.0, "max": 7.0},
    {"dist": "pert", "min": 1.0, "mode": 2.0, "max": 7.0},
    {"dist": "normal", "mean": 10.0, "sd": 3.0},
    {"dist": "normal", "mean": 10.0, "sd": 3.0, "low": 12.0},
    {"dist": "normal", "mean": 10.0, "sd": 3.0, "low": 0.0, "high": 11.0},
    {"dist": "lognormal", "mu": 1.0, "sigma": 0.7},
    {"dist": "beta", "alpha": 2.0, "beta": 5.0, "min": 0.0, "max": 3.0},
    {"dist": "pareto", "scale": 2.0, "alpha": 3.0, "cap": 40.0},
    {"dist": "bernoulli", "p": 0.3},
    {"dist": "discrete", "values": [1.0, 2.0, 5.0], "probabilities": [0.2, 0.5, 0.3]},
    {"dist": "empirical", "values": [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0]},
    {"dist": "mixture", "components": [{"weight": 0.8, "dist": "lognormal", "mu": 1.0, "sigma": 0.5},
                                       {"weight": 0.2, "dist": "pareto", "scale": 3.0, "alpha": 2.0, "cap": 50.0}]},
    {"dist": "metalog", "p10": 50.0, "p50": 80.0, "p90": 150.0, "lower": 0.0},
    {"reference_class": "crm"},  # as risks.cost_overrun
]


@pytest.mark.parametrize("raw", FAMILIES, ids=lambda raw: raw.get("dist", "reference_class"))
def test_the_twin_quantile_is_the_compiled_one(raw):
    """`most_likely` (the median through the twin) and the twin at many uniforms, against the kernel."""
    dist = parse_distribution(dict(raw), "risks.cost_overrun" if "reference_class" in raw else "x")
    u = np.concatenate([np.linspace(0.001, 0.999, 201), [0.5, 2.0 ** -53, 1.0 - 2.0 ** -53]])
    compiled, twin = dist.ppf(u.copy()), u.copy()
    spec = dist.spec
    python_twin(quantiles.quantile_column)(spec.code, spec.params, *spec.tables, twin, False)
    assert np.array_equal(bits(twin), bits(compiled))
    if type(dist).most_likely is type(dist).__mro__[-2].most_likely:  # the median, not an override
        assert dist.most_likely() == float(dist.ppf(np.array([0.5]))[0])


def power_literal_python(x):
    return x ** 12


def power_python(x, n):
    return x ** n


power_literal = jit(power_literal_python)
power = jit(power_python)


def outcome(func, *args):
    """The result's bits, or the exception's type (a zero to a negative power raises in both)."""
    try:
        return int(bits(np.array([func(*args)]))[0])
    except ArithmeticError as exc:
        return type(exc)


def test_int_power_is_numbas_own_power_compiled_and_in_python():
    """The kernels' spelled-out power (kernels/powers.py) gives numba's `x ** n` bit for bit, both
    compiled and as plain Python; so writing it out changed no result, and twins agree."""
    rng = np.random.default_rng(3)
    xs = np.concatenate([1.0 + rng.normal(0, 0.05, 300), rng.uniform(-3, 3, 100), [0.0, -0.0, 1e-300, 1e300]])
    for x in map(float, xs):
        assert outcome(int_power, x, 12) == outcome(power_literal, x) == outcome(int_power_python, x, 12), x
        for n in (0, 1, 2, 5, 12, 13, 100):
            assert outcome(int_power, x, n) == outcome(power, x, n) == outcome(int_power_python, x, n), (x, n)


def test_validate_loads_no_numba_scipy_or_pyarrow():
    code = ("import sys\n"
            "from simengine.cli import main\n"
            "sys.argv = ['simengine', 'validate', 'crm_upgrade_big_bang']\n"
            "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
            "print(json.dumps(sorted(m for m in ('numba', 'llvmlite', 'scipy', 'pyarrow') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", "import json\n" + code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
    assert "valid" in out.stdout


def test_twins_call_twins_only():
    """Every kernel a twin can reach is a plain function (numba loaded or not), prange is range."""
    import types

    from simengine import jit as jit_module

    seen, todo = set(), [python_twin(cashflows.simulate), python_twin(quantiles.quantile_column)]
    while todo:
        twin = todo.pop()
        if id(twin) in seen:
            continue
        seen.add(id(twin))
        for name in twin.__code__.co_names:
            value = twin.__globals__.get(name)
            assert jit_module._source(value) is None, f"{twin.__name__} calls the kernel {name}"
            if isinstance(value, types.FunctionType) and value.__name__.endswith("_python"):
                todo.append(value)
    assert python_twin(cashflows.simulate).__globals__["prange"] is range
    assert len(seen) > 10
