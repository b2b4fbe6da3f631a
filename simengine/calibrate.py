"""`simengine calibrate`: a reference class against its published figures, or a scenario against the evidence.

For a class: each published figure it was fitted to, the value the preset implies (sampled,
with its standard error) and whether it is inside the stated tolerance.
For a scenario: each field a reference class covers, the scenario's own value of each of
the class's figures and of its P50/P90 beside the class's, flagged where the scenario is
more optimistic than the evidence by more than the tolerance.
"""

from __future__ import annotations

import numpy as np

from . import reference
from .distributions import Distribution, parse_distribution
from .streams import uniforms

SAMPLE = 200_000
#: For each quantity, whether a higher value is worse for the project (so lower is optimistic).
HIGHER_IS_WORSE = {"cost_overrun": True}
QUANTILES = (0.5, 0.9)


def sample_of(dist: Distribution, name: str) -> np.ndarray:
    return dist.ppf(uniforms(20261124, name, 0, SAMPLE))


def calibrate_class(name: str) -> dict:
    """Each preset of class `name` against the figures it claims."""
    classes = reference.presets()["classes"]
    if name not in classes:
        reference.preset(name, "", "class")  # raises the one-line "unknown reference class" error
    rows = []
    for quantity, body in classes[name].items():
        if not isinstance(body, dict):
            continue
        sample = sample_of(parse_distribution(body["distribution"], quantity), f"{name}.{quantity}")
        for figure in body["figures"]:
            value, se = reference.implied(figure, sample)
            rows.append({"quantity": quantity, "figure": figure["label"], "published": figure["value"],
                         "implied": value, "se": se, "tolerance": figure["tolerance"],
                         "within": abs(value - figure["value"]) <= figure["tolerance"] + 4 * se,
                         "source": figure["source"]})
    return {"class": name, "version": reference.version(), "rows": rows}


def calibrate_scenario(scenario, against: str) -> dict:
    """The scenario's fields that class `against` covers, figure by figure against the class."""
    fields = scenario.fields()
    rows = []
    for field, quantity in reference.FIELDS.items():
        body = reference.preset(against, quantity, "--against")
        ours = sample_of(fields[field], f"scenario.{field}")
        theirs = sample_of(parse_distribution(body["distribution"], quantity), f"{against}.{quantity}")
        worse_high = HIGHER_IS_WORSE[quantity]
        checks = [(f["label"], reference.implied(f, ours), reference.implied(f, theirs)[0], f["tolerance"])
                  for f in body["figures"]]
        for q in QUANTILES:
            checks.append((f"P{round(q * 100)}", (float(np.quantile(ours, q)), 0.0),
                           float(np.quantile(theirs, q)), 0.02))
        for label, (value, se), evidence, tolerance in checks:
            gap = value - evidence
            optimistic = (gap < -(tolerance + 4 * se)) if worse_high else (gap > tolerance + 4 * se)
            rows.append({"field": field, "figure": label, "scenario": value, "se": se, "reference": evidence,
                         "tolerance": tolerance, "optimistic": bool(optimistic)})
    return {"scenario": scenario.name, "against": against, "version": reference.version(), "rows": rows}
