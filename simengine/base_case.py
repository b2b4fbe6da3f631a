"""The base case: the scenario with every driver at its most likely value and no risk event,
the single figure a spreadsheet gives (docs/model.md, "Base case").

It is what the budget and date are measured against: the contingency a confidence level
needs is that level's percentile minus the base case, and the gap between the base case's
NPV and the simulated mean is the cost of the risk a spreadsheet leaves out.
"""

from __future__ import annotations

import math

import numpy as np

from . import metrics as registry
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
    metrics = structure.run_kernel(inputs)[:, 0]
    return {name: (None if math.isnan(x) else float(x)) for name, x in zip(registry.names(), metrics)}
