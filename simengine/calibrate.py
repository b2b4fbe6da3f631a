"""`simengine calibrate`: a reference class against its published figures, or a scenario against the evidence.

For a class: each published figure it was fitted to, the value the preset implies (sampled,
with its standard error) and whether it is inside the stated tolerance.
For a scenario: each field the class covers, the scenario's own value of each of the
class's figures and of its P50/P90 beside the class's, flagged in either direction (more
optimistic or more pessimistic than the evidence) where the gap exceeds the margin: the
figure's tolerance plus four standard errors of the scenario's value.
"""

from __future__ import annotations

import math

import numpy as np

from . import reference
from .distributions import Distribution, parse_distribution
from .streams import uniforms
from .summary import percentile_with_se

SAMPLE = 200_000
SEED = 20261124
#: For each quantity, whether a higher value is worse for the project (so lower is optimistic).
HIGHER_IS_WORSE = {"cost_overrun": True, "schedule_overrun": True, "benefits_realization": False,
                   "adoption_ceiling": False}
#: Statistics that fall as the quantity grows worse (a lower tail exponent is a fatter tail).
REVERSED = {"p_below", "tail_exponent"}
QUANTILES = (0.5, 0.9)
QUANTILE_TOLERANCE = 0.02


def sample_of(dist: Distribution, name: str) -> np.ndarray:
    return dist.ppf(uniforms(SEED, name, 0, SAMPLE))


def class_quantities(name: str) -> dict[str, dict]:
    """{quantity: preset} of class `name`; a one-line error for an unknown class."""
    classes = reference.presets()["classes"]
    if name not in classes:
        reference.preset(name, "", "class")  # raises the one-line "unknown reference class" error
    return {q: body for q, body in classes[name].items() if isinstance(body, dict)}


def preset_sample(name: str, quantity: str, dist: Distribution) -> np.ndarray:
    return sample_of(dist, f"{name}.{quantity}")


def value_format(figure: dict) -> str:
    """How a figure's values read: a share or fraction as a percentage, an exponent as a number."""
    return "number" if figure["statistic"] == "tail_exponent" else "percent"


def calibrate_class(name: str) -> dict:
    """Each preset of class `name` against the figures it claims, and what else it implies."""
    quantities = []
    for quantity, body in class_quantities(name).items():
        dist = parse_distribution(body["distribution"], quantity)
        sample = preset_sample(name, quantity, dist)
        rows = []
        for figure in body["figures"]:
            value, se = reference.implied(figure, sample)
            rows.append({"figure": figure["label"], "published": figure["value"], "implied": value, "se": se,
                         "tolerance": figure["tolerance"], "format": value_format(figure),
                         "within": abs(value - figure["value"]) <= margin_of(se, figure["tolerance"]),
                         "bound95": _bound(figure, value, sample.size),
                         "source": figure["source"]})
        quantities.append({
            "quantity": quantity, "field": field_of(quantity), "distribution": dist.describe(),
            "mean": float(sample.mean()), "p50": float(np.quantile(sample, 0.5)),
            "p90": float(np.quantile(sample, 0.9)), "rows": rows, "sources": body["sources"]})
    return {"class": name, "version": reference.version(),
            "description": reference.presets()["classes"][name].get("description", ""), "quantities": quantities}


def field_of(quantity: str) -> str:
    return next(f for f, q in reference.FIELDS.items() if q == quantity)


def occurred(scenario, event, part: str) -> np.ndarray:
    """0/1 draws of whether `event` occurs, times its `part` (cost or delay_months)."""
    probability = sample_of(event.probability, f"scenario.events.{event.name}.probability")
    hits = uniforms(SEED, f"scenario.events.{event.name}.occurred", 0, SAMPLE) < probability
    return hits * sample_of(getattr(event, part), f"scenario.events.{event.name}.{part}")


def scenario_sample(scenario, field: str) -> np.ndarray:
    """The scenario's own draws of the quantity `field` holds, risk-register events included
    (the evidence counts every cause of an overrun):
    - schedule overrun: (delay_months + event delays) / planned_months + schedule_overrun;
    - cost overrun: cost_overrun + event costs / the one-time costs that overrun applies to.
    Drivers are drawn independently: correlations do not change these marginals."""
    fields = scenario.fields()
    own = sample_of(fields[field], f"scenario.{field}")
    if field == "risks.schedule_overrun":
        planned = sample_of(fields["schedule.planned_months"], "scenario.schedule.planned_months")
        delay = sample_of(fields["schedule.delay_months"], "scenario.schedule.delay_months")
        delay = delay + sum((occurred(scenario, e, "delay_months") for e in scenario.events), np.zeros(SAMPLE))
        return own + delay / planned
    if field == "risks.cost_overrun" and scenario.events:
        base = sum((sample_of(c.amount, f"scenario.costs.{c.name}.amount") for c in scenario.costs
                    if c.overrun and c.timing != "recurring"), np.zeros(SAMPLE))
        if np.all(base > 0):
            return own + sum(occurred(scenario, e, "cost") for e in scenario.events) / base
    return own


def margin_of(se: float | None, tolerance: float) -> float:
    """The gap a comparison allows: the figure's tolerance plus four standard errors (an
    undefined or infinite standard error, from a statistic with no data or a probability seen
    in none or all of the draws, adds nothing)."""
    return tolerance + (4 * se if se is not None and math.isfinite(se) else 0.0)


def _bound(figure: dict, value: float, n: int) -> float | None:
    """A probability figure seen in 0 or n of the n draws: its exact 95 % bound (reference.bound95)."""
    return reference.bound95(value, n) if figure["statistic"].startswith("p_") else None


def direction(value: float, evidence: float, margin: float, worse_when_higher: bool) -> str:
    """'optimistic', 'pessimistic' or 'consistent': which side of the evidence the scenario's
    value lies on, when the gap exceeds `margin`. A value that does not exist (no tail, where
    the evidence has one: a tail exponent of a thin tail) is optimistic, and the reverse pessimistic."""
    if math.isnan(value) or math.isnan(evidence):
        if math.isnan(value) == math.isnan(evidence):
            return "consistent"
        return "optimistic" if math.isnan(value) else "pessimistic"
    gap = value - evidence
    if abs(gap) <= margin:
        return "consistent"
    return "optimistic" if (gap < 0) == worse_when_higher else "pessimistic"


def calibrate_scenario(scenario, against: str) -> dict:
    """The scenario's fields that class `against` covers, figure by figure against the class."""
    rows = []
    for quantity, body in class_quantities(against).items():
        field = field_of(quantity)
        ours = scenario_sample(scenario, field)
        theirs = preset_sample(against, quantity, parse_distribution(body["distribution"], quantity))
        checks = [(f["label"], reference.implied(f, ours), reference.implied(f, theirs)[0], f["tolerance"],
                   HIGHER_IS_WORSE[quantity] != (f["statistic"] in REVERSED), value_format(f), f)
                  for f in body["figures"]]
        ours_sorted, theirs_sorted = np.sort(ours), np.sort(theirs)
        for q in QUANTILES:
            # the summary's percentile (inverted CDF) and its order-statistic standard error
            checks.append((f"P{round(q * 100)}", percentile_with_se(ours_sorted, q),
                           percentile_with_se(theirs_sorted, q)[0], QUANTILE_TOLERANCE, HIGHER_IS_WORSE[quantity],
                           "percent", None))
        for label, (value, se), evidence, tolerance, worse_when_higher, fmt, figure in checks:
            margin = margin_of(se, tolerance)
            side = direction(value, evidence, margin, worse_when_higher)
            rows.append({"field": field, "figure": label, "scenario": value, "se": se, "reference": evidence,
                         "tolerance": tolerance, "margin": margin, "gap": value - evidence, "format": fmt,
                         "bound95": None if figure is None else _bound(figure, value, ours.size),
                         "direction": side, "optimistic": side == "optimistic",
                         "pessimistic": side == "pessimistic"})
    return {"scenario": scenario.name, "against": against, "version": reference.version(), "rows": rows}
