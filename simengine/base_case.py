"""The base case: the scenario with every driver at its most likely value and no risk event,
the single figure a spreadsheet gives (docs/model.md, "Base case").

It is what the budget and date are measured against: the contingency a confidence level
needs is that level's percentile minus the base case, and the gap between the base case's
NPV and the simulated mean is the cost of the risk a spreadsheet leaves out.

One trial is computed by the kernel's plain-Python twins (twins.py): the same code, the
same doubles (tests/test_base_case.py), without loading numba, which costs ~1 s: `validate`
needs the base case and nothing compiled.
"""

from __future__ import annotations

import math

import numpy as np

from . import metrics as registry
from .twins import python_twin
from .kernels import cashflows
from .model import ModelStructure
from .scenario import Scenario


def base_values(scenario: Scenario) -> dict[str, float]:
    """The value of every kernel input in the base case, by dotted path: each field at its
    most likely value, no event occurring, unused inputs (another curve's) at 0."""
    fields = scenario.fields()
    values = {}
    for name in ModelStructure.of(scenario).columns:
        if name.endswith(".occurred"):
            values[name] = 0.0
        elif name in fields:
            values[name] = fields[name].most_likely()
        else:
            values[name] = 0.0
    return values


def base_case(scenario: Scenario) -> dict[str, float | None]:
    """Every per-trial metric of the base case (None where null), in registry order."""
    structure = ModelStructure.of(scenario)
    values = base_values(scenario)
    inputs = np.array([[values[name]] for name in structure.columns], dtype=np.float64)
    out = np.empty((len(cashflows.METRICS), 1))
    s = structure  # the arguments of ModelStructure.run_kernel's call, to the twin of the same kernel
    with np.errstate(all="ignore"):  # numpy scalars warn of overflow where compiled code just gives inf
        python_twin(cashflows.simulate)(inputs, s.cost_timing, s.cost_from_start, s.cost_overrun, s.cost_labor,
                                        s.benefit_scales, s.phase_share, s.phase_offset, s.n_events, s.curve,
                                        s.n_months, out, np.empty((0, s.n_months)))
    metrics = out[:, 0]
    return {name: (None if math.isnan(x) else float(x)) for name, x in zip(registry.names(), metrics)}
