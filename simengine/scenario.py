"""Scenario files: TOML in, a validated frozen `Scenario` out, plus its canonical JSON and hash.

All validation happens here, before any sampling: unknown keys (with a did-you-mean),
wrong types, control characters in names and text, invalid distribution parameters,
distributions whose support breaks MODEL.md's bounds, and fields whose most extreme draws
leave their supported range (SUPPORTED_RANGES) are reported as one `ScenarioError` naming
the dotted field path.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .correlation import check_correlations, cholesky_factor, correlation_matrix, repaired_correlations
from .distributions import (Z_MAX, Bound, Distribution, ReferenceClass, as_number, control_character,
                            extreme_draws, first_control, fmt, parse_distribution, printable, suggest)
from .errors import InputError, ScenarioError
from .metrics import TARGETS

TIMINGS = ("upfront", "implementation", "recurring", "rollout")
RECURRING_STARTS = ("go_live", "start")
CURVES = ("linear", "logistic", "bass")
MAX_HORIZON_MONTHS = 1200

NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")

# MODEL.md's bounds on each kind of driver.
ANY = Bound()
NON_NEGATIVE = Bound(low=0.0)
POSITIVE = Bound(low=0.0, low_open=True)
UNIT = Bound(low=0.0, high=1.0)
ABOVE_MINUS_ONE = Bound(low=-1.0, low_open=True)

# Supported ranges (docs/scenario-format.md, "Supported ranges", gives the reason for each):
# every value the sampler can draw for the field, down to its most extreme uniform or normal
# score, must lie in [low, high]. They keep every figure of a run finite and exact enough.
# A field that is not listed needs only finite draws. NAME stands for any item's name.
MAX_AMOUNT = 1e15
MAX_MONTHS = 1e6
MAX_RATIO = 1e3
MIN_BASS_P = 1e-10
MAX_BASS = 100.0
INF = math.inf
SUPPORTED_RANGES: dict[str, tuple[float, float]] = {
    "discount_rate": (-0.5, 1.0),
    "schedule.planned_months": (-INF, MAX_MONTHS),
    "schedule.delay_months": (-MAX_MONTHS, MAX_MONTHS),
    "schedule.delay_cost_per_month": (-INF, MAX_AMOUNT),
    "risks.cost_overrun": (-INF, MAX_RATIO),
    "risks.schedule_overrun": (-MAX_RATIO, MAX_RATIO),
    "risks.maintenance_cap": (-INF, MAX_RATIO),
    "adoption.ramp_months": (-INF, MAX_MONTHS),
    "adoption.bass_p": (MIN_BASS_P, MAX_BASS),
    "adoption.bass_q": (-INF, MAX_BASS),
    "costs.NAME.amount": (-INF, MAX_AMOUNT),
    "benefits.streams.NAME.amount": (-INF, MAX_AMOUNT),
    "events.NAME.cost": (-INF, MAX_AMOUNT),
    "events.NAME.delay_months": (-INF, MAX_MONTHS),
}


@dataclass(frozen=True)
class CostItem:
    name: str
    timing: str
    amount: Distribution
    start: str
    overrun: bool
    labor: bool
    description: str


@dataclass(frozen=True)
class BenefitStream:
    name: str
    amount: Distribution
    scales_with_adoption: bool
    description: str


@dataclass(frozen=True)
class Phase:
    share: float
    offset_months: int


@dataclass(frozen=True)
class RiskEvent:
    name: str
    probability: Distribution
    cost: Distribution
    delay_months: Distribution
    benefit_loss: Distribution
    description: str


@dataclass(frozen=True)
class Correlation:
    drivers: tuple[str, str]
    spearman: float


@dataclass(frozen=True)
class Decision:
    """The decision targets (`[decision]`), one per rule of metrics.TARGETS; None = not set."""

    payback_months_max: float | None = None
    bcr_min: float | None = None
    roi_min: float | None = None
    budget_max: float | None = None
    total_cost_max: float | None = None
    go_live_month_max: float | None = None
    payback_after_go_live_months_max: float | None = None
    #: the confidence level of the joint budget-and-date frontier (joint.py; None: 70 %)
    joint_confidence: float | None = None


@dataclass(frozen=True)
class Scenario:
    """A validated scenario. `fields` maps every numeric dotted path to its distribution."""

    name: str
    description: str
    currency: str
    horizon_months: int
    seed: int | None
    discount_rate: Distribution
    planned_months: Distribution
    delay_months: Distribution
    delay_cost_per_month: Distribution
    costs: tuple[CostItem, ...]
    cost_overrun: Distribution
    maintenance_load: Distribution
    maintenance_cap: Distribution
    ceiling: Distribution
    ramp_months: Distribution
    curve: str
    phases: tuple[Phase, ...]
    realization: Distribution
    benefits: tuple[BenefitStream, ...]
    events: tuple[RiskEvent, ...]
    correlations: tuple[Correlation, ...]
    decision: Decision
    canonical: dict
    #: (a, b, requested Spearman or None, used Spearman) when --repair-correlations changed the matrix.
    correlation_repairs: tuple = ()
    #: Bass diffusion's innovation and imitation coefficients (per year), with curve = "bass".
    bass_p: Distribution | None = None
    bass_q: Distribution | None = None
    #: Schedule overrun as a fraction of planned_months (reference-class form of a delay); 0 = none.
    schedule_overrun: Distribution | None = None

    @property
    def canonical_json(self) -> str:
        """Compact JSON of the normalized scenario: what the hash is taken of.

        Keys are not sorted: `canonical` is built in a fixed order, and the order of named
        items (costs, streams, events) is meaningful (driver order, summation order).
        """
        return json.dumps(self.canonical, separators=(",", ":"))

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.canonical_json.encode()).hexdigest()

    def fields(self) -> dict[str, Distribution]:
        """Every per-trial numeric input by dotted path (fixed ones included), in a stable order."""
        out = {
            "discount_rate": self.discount_rate,
            "schedule.planned_months": self.planned_months,
            "schedule.delay_months": self.delay_months,
            "schedule.delay_cost_per_month": self.delay_cost_per_month,
            "risks.cost_overrun": self.cost_overrun,
            "risks.schedule_overrun": self.schedule_overrun,
            "risks.maintenance_load": self.maintenance_load,
            "risks.maintenance_cap": self.maintenance_cap,
            "adoption.ceiling": self.ceiling,
        }
        # Each curve's own parameters: bass uses p and q, the others the ramp.
        if self.curve == "bass":
            out["adoption.bass_p"] = self.bass_p
            out["adoption.bass_q"] = self.bass_q
        else:
            out["adoption.ramp_months"] = self.ramp_months
        out["benefits.realization"] = self.realization
        for c in self.costs:
            out[f"costs.{c.name}.amount"] = c.amount
        for b in self.benefits:
            out[f"benefits.streams.{b.name}.amount"] = b.amount
        for e in self.events:
            out[f"events.{e.name}.probability"] = e.probability
            out[f"events.{e.name}.cost"] = e.cost
            out[f"events.{e.name}.delay_months"] = e.delay_months
            out[f"events.{e.name}.benefit_loss"] = e.benefit_loss
        return out

    def drivers(self) -> list[str]:
        """Names of the sampled inputs: non-fixed fields plus each event's 0/1 occurrence."""
        names = [k for k, d in self.fields().items() if not d.is_fixed]
        for e in self.events:
            p = e.probability
            if not (p.is_fixed and p.params["value"] in (0.0, 1.0)):
                names.append(f"events.{e.name}.occurred")
        return names


# --- the schema: allowed keys per table, used for did-you-mean on unknown keys -------------

TOP_KEYS = ("name", "description", "currency", "horizon_months", "discount_rate", "seed",
            "schedule", "costs", "risks", "adoption", "benefits", "events", "correlations", "decision")
SCHEDULE_KEYS = ("planned_months", "delay_months", "delay_cost_per_month")
COST_KEYS = ("timing", "amount", "start", "overrun", "labor", "description")
RISK_KEYS = ("cost_overrun", "schedule_overrun", "maintenance_load", "maintenance_cap")
ADOPTION_KEYS = ("ceiling", "ramp_months", "curve", "phases", "bass_p", "bass_q")
PHASE_KEYS = ("share", "offset_months")
BENEFITS_KEYS = ("realization", "streams")
STREAM_KEYS = ("amount", "scales_with_adoption", "description")
EVENT_KEYS = ("probability", "cost", "delay_months", "benefit_loss", "description")
CORRELATION_KEYS = ("drivers", "spearman")
#: one decision-target rule each (simengine/metrics.py), and the joint confidence level
DECISION_KEYS = tuple(TARGETS) + ("joint_confidence",)


def _check_keys(table: Any, allowed, path: str) -> dict:
    """The table itself, after rejecting non-tables and unknown keys."""
    if not isinstance(table, dict):
        raise ScenarioError(path, f"expected a table, got {type(table).__name__}")
    for key in table:
        if key not in allowed:
            where = _join(path, printable(key))
            raise ScenarioError(where, f"unknown key{suggest(key, allowed)}; expected one of {', '.join(allowed)}")
    return table


def _no_control(text: str, path: str, multiline: bool = False) -> str:
    """`text`, after rejecting control characters (an ESC in a name would reach the terminal)."""
    ch = first_control(text, multiline)
    if ch is not None:
        raise ScenarioError(path, f"contains the control character {control_character(ch)}")
    return text


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _string(table: dict, key: str, path: str, default: str | None = None, choices=None) -> str:
    where = _join(path, key)
    if key not in table:
        if default is None:
            raise ScenarioError(where, "is required")
        return default
    value = table[key]
    if not isinstance(value, str):
        raise ScenarioError(where, f"expected a string, got {type(value).__name__} {value!r}")
    _no_control(value, where, multiline=key == "description")
    if choices is not None and value not in choices:
        raise ScenarioError(where, f"must be one of {', '.join(choices)}, got {value!r}{suggest(value, choices)}")
    return value


def _bool(table: dict, key: str, path: str, default: bool) -> bool:
    if key not in table:
        return default
    value = table[key]
    if not isinstance(value, bool):
        raise ScenarioError(_join(path, key), f"expected true or false, got {value!r}")
    return value


def _dist(table: dict, key: str, path: str, bound: Bound, default: float | None = None) -> Distribution:
    where = _join(path, key)
    if key not in table:
        if default is None:
            raise ScenarioError(where, "is required")
        return parse_distribution(default, where)
    dist = parse_distribution(table[key], where)
    bound.check(dist, where)
    return dist


def _integer(value: Any, path: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScenarioError(path, f"expected a whole number, got {value!r}")
    if value < low or (high is not None and value > high):
        rng = f">= {low}" if high is None else f"between {low} and {high}"
        raise ScenarioError(path, f"must be {rng}, got {value}")
    return value


def _named_tables(table: Any, path: str) -> dict:
    if not isinstance(table, dict):
        raise ScenarioError(path, f"expected a table of named items, got {type(table).__name__}")
    for name in table:
        _no_control(name, f"{path}.{printable(name)}")
        if not NAME_RE.match(name):
            raise ScenarioError(f"{path}.{name}", "names must start with a letter and use letters, digits, _ or -")
    return table


def _parse_costs(raw: Any) -> tuple[CostItem, ...]:
    items = []
    for name, t in _named_tables(raw, "costs").items():
        path = f"costs.{name}"
        _check_keys(t, COST_KEYS, path)
        timing = _string(t, "timing", path, choices=TIMINGS)
        if "start" in t and timing != "recurring":
            raise ScenarioError(f"{path}.start", f"only recurring items have a start; this item is {timing}")
        start = _string(t, "start", path, default="go_live", choices=RECURRING_STARTS)
        overrun = _bool(t, "overrun", path, default=timing != "recurring")
        labor = _bool(t, "labor", path, default=False)
        if labor and timing == "recurring":
            raise ScenarioError(f"{path}.labor", "only upfront, implementation and rollout items count as initial labor")
        amount = _dist(t, "amount", path, NON_NEGATIVE)
        items.append(CostItem(name, timing, amount, start, overrun, labor, _string(t, "description", path, "")))
    return tuple(items)


def _parse_phases(raw: Any) -> tuple[Phase, ...]:
    if raw is None:
        return (Phase(1.0, 0),)
    if not isinstance(raw, list) or not raw:
        raise ScenarioError("adoption.phases", "expected a non-empty list of {share, offset_months} tables")
    phases = []
    for i, t in enumerate(raw):
        path = f"adoption.phases[{i}]"
        _check_keys(t, PHASE_KEYS, path)
        if "share" not in t:
            raise ScenarioError(f"{path}.share", "is required")
        share = as_number(t["share"], f"{path}.share")
        if not 0.0 < share <= 1.0:
            raise ScenarioError(f"{path}.share", f"must be in (0, 1], got {fmt(share)}")
        offset = _integer(t.get("offset_months", 0), f"{path}.offset_months", 0, MAX_HORIZON_MONTHS)
        phases.append(Phase(share, offset))
    total = math.fsum(p.share for p in phases)
    if abs(total - 1.0) > 1e-9:
        raise ScenarioError("adoption.phases", f"shares must sum to 1, they sum to {total:.12g}")
    return tuple(phases)


def _parse_benefits(raw: Any) -> tuple[Distribution, tuple[BenefitStream, ...]]:
    _check_keys(raw, BENEFITS_KEYS, "benefits")
    realization = _dist(raw, "realization", "benefits", UNIT, default=1.0)
    streams = []
    for name, t in _named_tables(raw.get("streams", {}), "benefits.streams").items():
        path = f"benefits.streams.{name}"
        _check_keys(t, STREAM_KEYS, path)
        amount = _dist(t, "amount", path, NON_NEGATIVE)
        scales = _bool(t, "scales_with_adoption", path, default=True)
        streams.append(BenefitStream(name, amount, scales, _string(t, "description", path, "")))
    return realization, tuple(streams)


def _parse_events(raw: Any) -> tuple[RiskEvent, ...]:
    events = []
    for name, t in _named_tables(raw, "events").items():
        path = f"events.{name}"
        _check_keys(t, EVENT_KEYS, path)
        events.append(RiskEvent(
            name,
            probability=_dist(t, "probability", path, UNIT),
            cost=_dist(t, "cost", path, NON_NEGATIVE, default=0.0),
            delay_months=_dist(t, "delay_months", path, NON_NEGATIVE, default=0.0),
            benefit_loss=_dist(t, "benefit_loss", path, UNIT, default=0.0),
            description=_string(t, "description", path, ""),
        ))
    return tuple(events)


def _parse_decision(raw: Any) -> Decision:
    _check_keys(raw, DECISION_KEYS, "decision")
    vals = {k: (as_number(raw[k], f"decision.{k}") if k in raw else None) for k in DECISION_KEYS}
    # A month count or an amount of money: a bound of 0 or less could never be met (the payback
    # after go-live may be 0 or negative: paid back by go-live).
    for key in ("payback_months_max", "budget_max", "total_cost_max", "go_live_month_max"):
        if vals[key] is not None and vals[key] <= 0:
            raise ScenarioError(f"decision.{key}", f"must be > 0, got {fmt(vals[key])}")
    level = vals["joint_confidence"]
    if level is not None and not 0.5 <= level <= 0.99:
        raise ScenarioError("decision.joint_confidence", f"must be between 0.5 and 0.99, got {fmt(level)}")
    return Decision(**vals)


def _parse_correlations(raw: Any, drivers: list[str]) -> tuple[Correlation, ...]:
    if not isinstance(raw, list):
        raise ScenarioError("correlations", "expected a list of [[correlations]] tables")
    seen: dict[frozenset, int] = {}
    out = []
    for i, t in enumerate(raw):
        path = f"correlations[{i}]"
        _check_keys(t, CORRELATION_KEYS, path)
        pair = t.get("drivers")
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
            raise ScenarioError(f"{path}.drivers", "expected two driver names, e.g. drivers = [\"a.b\", \"c.d\"]")
        for name in pair:
            if name not in drivers:
                raise ScenarioError(f"{path}.drivers", f"{name!r} is not a sampled driver{suggest(name, drivers)}")
        if pair[0] == pair[1]:
            raise ScenarioError(f"{path}.drivers", f"a driver cannot be correlated with itself ({pair[0]})")
        key = frozenset(pair)
        if key in seen:
            raise ScenarioError(f"{path}.drivers", f"pair {pair[0]} / {pair[1]} is already given in correlations[{seen[key]}]")
        seen[key] = i
        if "spearman" not in t:
            raise ScenarioError(f"{path}.spearman", "is required")
        rho = as_number(t["spearman"], f"{path}.spearman")
        if not -1.0 <= rho <= 1.0:
            raise ScenarioError(f"{path}.spearman", f"must be in [-1, 1], got {fmt(rho)}")
        out.append(Correlation((pair[0], pair[1]), rho))
    return tuple(out)


def parse_scenario(data: dict, repair_correlations: bool = False) -> Scenario:
    """Validate a scenario given as nested dicts (parsed TOML, or canonical JSON)."""
    _check_keys(data, TOP_KEYS, "")
    name = _string(data, "name", "")
    if not name.strip():
        raise ScenarioError("name", "must not be empty")
    description = _string(data, "description", "", default="")
    currency = _string(data, "currency", "", default="EUR")
    horizon = _integer(data.get("horizon_months", 60), "horizon_months", 1, MAX_HORIZON_MONTHS)
    seed = None
    if data.get("seed") is not None:
        seed = _integer(data["seed"], "seed", 0, 2**63 - 1)
    discount = _dist(data, "discount_rate", "", ABOVE_MINUS_ONE)

    schedule = _check_keys(data.get("schedule"), SCHEDULE_KEYS, "schedule") if "schedule" in data else None
    if schedule is None:
        raise ScenarioError("schedule", "is required (at least schedule.planned_months)")
    planned = _dist(schedule, "planned_months", "schedule", POSITIVE)
    delay = _dist(schedule, "delay_months", "schedule", ANY, default=0.0)
    delay_cost = _dist(schedule, "delay_cost_per_month", "schedule", NON_NEGATIVE, default=0.0)

    costs = _parse_costs(data.get("costs", {}))
    risks = _check_keys(data.get("risks", {}), RISK_KEYS, "risks")
    overrun = _dist(risks, "cost_overrun", "risks", ANY, default=0.0)
    schedule_overrun = _dist(risks, "schedule_overrun", "risks", ANY, default=0.0)
    mload = _dist(risks, "maintenance_load", "risks", ANY, default=0.0)
    mcap = _dist(risks, "maintenance_cap", "risks", NON_NEGATIVE, default=0.40)

    adoption = _check_keys(data.get("adoption", {}), ADOPTION_KEYS, "adoption")
    ceiling = _dist(adoption, "ceiling", "adoption", UNIT, default=1.0)
    curve = _string(adoption, "curve", "adoption", default="linear", choices=CURVES)
    if curve == "bass" and "ramp_months" in adoption:
        raise ScenarioError("adoption.ramp_months", 'is not used with curve = "bass", whose shape is set by '
                            "bass_p and bass_q")
    ramp = _dist(adoption, "ramp_months", "adoption", POSITIVE, default=1.0)
    bass_p = bass_q = None
    if curve == "bass":
        bass_p = _dist(adoption, "bass_p", "adoption", POSITIVE, default=0.03)
        bass_q = _dist(adoption, "bass_q", "adoption", NON_NEGATIVE, default=0.38)
    else:
        for key in ("bass_p", "bass_q"):
            if key in adoption:
                raise ScenarioError(f"adoption.{key}", 'is used only with curve = "bass"')
    phases = _parse_phases(adoption.get("phases"))

    realization, benefits = _parse_benefits(data.get("benefits", {}))
    events = _parse_events(data.get("events", {}))
    decision = _parse_decision(data.get("decision", {}))

    canonical = {
        "name": name, "description": description, "currency": currency,
        "horizon_months": horizon, "seed": seed, "discount_rate": discount.canonical(),
        "schedule": {"planned_months": planned.canonical(), "delay_months": delay.canonical(),
                     "delay_cost_per_month": delay_cost.canonical()},
        "costs": {c.name: {"timing": c.timing, "amount": c.amount.canonical(), "overrun": c.overrun,
                           "labor": c.labor, "description": c.description,
                           **({"start": c.start} if c.timing == "recurring" else {})} for c in costs},
        "risks": {"cost_overrun": overrun.canonical(),
                  # stored only when given, so scenarios without it keep their hash from 0.2.0
                  **({"schedule_overrun": schedule_overrun.canonical()} if "schedule_overrun" in risks else {}),
                  "maintenance_load": mload.canonical(), "maintenance_cap": mcap.canonical()},
        "adoption": {"ceiling": ceiling.canonical(),
                     **({"ramp_months": ramp.canonical()} if curve != "bass" else {}), "curve": curve,
                     "phases": [{"share": p.share, "offset_months": p.offset_months} for p in phases],
                     **({"bass_p": bass_p.canonical(), "bass_q": bass_q.canonical()} if curve == "bass" else {})},
        "benefits": {"realization": realization.canonical(),
                     "streams": {b.name: {"amount": b.amount.canonical(),
                                          "scales_with_adoption": b.scales_with_adoption,
                                          "description": b.description} for b in benefits}},
        "events": {e.name: {"probability": e.probability.canonical(), "cost": e.cost.canonical(),
                            "delay_months": e.delay_months.canonical(),
                            "benefit_loss": e.benefit_loss.canonical(), "description": e.description}
                   for e in events},
        "correlations": [],
        "decision": {k: v for k, v in vars(decision).items() if v is not None},
    }
    if seed is None:
        del canonical["seed"]
    scenario = Scenario(name, description, currency, horizon, seed, discount, planned, delay, delay_cost,
                        costs, overrun, mload, mcap, ceiling, ramp, curve, phases, realization, benefits,
                        events, (), decision, canonical, bass_p=bass_p, bass_q=bass_q,
                        schedule_overrun=schedule_overrun)
    correlations = _parse_correlations(data.get("correlations", []), scenario.drivers())
    canonical["correlations"] = [{"drivers": list(c.drivers), "spearman": c.spearman} for c in correlations]
    scenario = dataclasses.replace(scenario, correlations=correlations)
    try:
        check_correlations(scenario)
    except ScenarioError:
        if not repair_correlations:
            raise
        # The nearest valid matrix: its pairs become the scenario's (so the stored scenario
        # reproduces the run), and what moved is kept for the user to see.
        repairs = tuple(repaired_correlations(scenario))
        correlations = tuple(Correlation((a, b), new) for a, b, _, new in repairs)
        canonical["correlations"] = [{"drivers": list(c.drivers), "spearman": c.spearman} for c in correlations]
        scenario = dataclasses.replace(scenario, correlations=correlations, correlation_repairs=repairs)
        check_correlations(scenario)
    _check_draws(scenario)
    return scenario


def range_key(path: str) -> str:
    """The SUPPORTED_RANGES key of a field's dotted path (an item's name becomes NAME)."""
    parts = path.split(".")
    if parts[0] in ("costs", "events"):
        parts[1] = "NAME"
    elif parts[:2] == ["benefits", "streams"]:
        parts[2] = "NAME"
    return ".".join(parts)


def z_limits(scenario: Scenario) -> dict[str, float]:
    """The largest normal score the copula can hand each correlated driver.

    The sampler mixes scores z_m in [-Z_MAX, Z_MAX] into sum_m L_jm z_m (kernels/copula.py),
    with the same factor L as here; so |score| <= Z_MAX sum_m |L_jm|, with a few rounding
    errors of margin when the sum has several terms (a single term is the same product here
    and there).
    """
    if not scenario.correlations:
        return {}
    names, rho = correlation_matrix(scenario)
    factor = cholesky_factor(rho)
    limits = {}
    for j, name in enumerate(names):
        row = np.abs(factor[j])
        terms = int(np.count_nonzero(row))
        if terms > 1:
            limits[name] = Z_MAX * float(row.sum()) * (1.0 + 4.0 * terms * np.finfo(float).eps)
        else:
            limits[name] = float(row.max()) * Z_MAX
    return limits


def range_text(low: float, high: float) -> str:
    if math.isfinite(low) and math.isfinite(high):
        return f"between {fmt(low)} and {fmt(high)}"
    if math.isfinite(high):
        return f"at most {fmt(high)}"
    if math.isfinite(low):
        return f"at least {fmt(low)}"
    return "a finite number"


def _check_draws(scenario: Scenario) -> None:
    """Every value the sampler can draw for every field lies in the field's supported range.

    A bounded distribution (both ends of its support finite) is checked by its bounds. A
    distribution with an unbounded end is checked at the most extreme values the sampler
    can really give (`extreme_draws`): the inverse CDF at the smallest or largest uniform,
    or, for a correlated driver, at the largest normal score its correlations can produce;
    its finite end (a lognormal's shift, which is approached but never drawn) only when it
    lies outside the range.
    """
    limits = z_limits(scenario)
    for path, dist in scenario.fields().items():
        low, high = SUPPORTED_RANGES.get(range_key(path), (-INF, INF))
        text = range_text(low, high)
        lo, hi = dist.support()
        if dist.is_fixed:
            if not low <= lo <= high:
                raise ScenarioError(path, f"must be {text} (the supported range), got {fmt(lo)}")
            continue
        family = (f"reference class {dist.params['reference_class']}" if isinstance(dist, ReferenceClass)
                  else dist.family)
        if math.isfinite(lo) and math.isfinite(hi):
            if not low <= lo <= hi <= high:
                raise ScenarioError(path, f"{family} support [{fmt(lo)}, {fmt(hi)}] leaves the supported range: "
                                    f"must be {text}")
            continue
        draws = None
        for end, value in enumerate((lo, hi)):
            if math.isfinite(value) and low <= value <= high:
                continue
            if draws is None:
                draws = extreme_draws(dist, limits.get(path))
            drawn = draws[end]
            if math.isfinite(drawn) and low <= drawn <= high:
                continue
            z = limits.get(path)
            if z is not None:
                where = (f"at the normal score {'-' if end == 0 else ''}{z:.4g}, the most extreme one its "
                         "correlations can give")
            else:
                where = f"at u = {'2^-53' if end == 0 else '1 - 2^-53'}, the most extreme uniform the sampler draws"
            raise ScenarioError(path, f"{family} draws reach {fmt(drawn)} ({where}), but must be {text} (the "
                                "supported range); use a bounded or truncated distribution")


def load_scenario(path: str | Path, repair_correlations: bool = False) -> Scenario:
    """Read and validate a scenario TOML file; every failure is an InputError with one line.

    With `repair_correlations`, a correlation matrix that is not positive semi-definite is
    replaced by the nearest valid one (see `correlation_repairs`) instead of being an error.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such scenario file")
    if p.is_dir():
        raise InputError(f"{p}: is a folder, not a scenario file")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{p}: {not_toml(p)}") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot read ({exc.strerror or exc})") from None
    return loads_scenario(text, repair_correlations, source=str(p))


def not_toml(path: Path) -> str:
    """Why a file that is not UTF-8 text cannot be a scenario or portfolio: a result file given
    by mistake is named as one."""
    with open(path, "rb") as stream:
        head = stream.read(4)
    if head == b"PAR1":
        return "a Parquet file (a result), not a TOML scenario or portfolio; a result file's commands are " \
               "summarize, report, sensitivity and value-of-information"
    return "not a TOML file: it is not UTF-8 text"


def loads_scenario(text: str, repair_correlations: bool = False, source: str = "scenario") -> Scenario:
    """Parse and validate a scenario from TOML text (`source` names it in errors)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{source}: invalid TOML: {exc}") from None
    try:
        return parse_scenario(data, repair_correlations)
    except ScenarioError as exc:
        raise ScenarioError(exc.path, exc.problem) from None


@functools.lru_cache(maxsize=16)
def scenario_from_json(text: str) -> Scenario:
    """Rebuild a scenario from the canonical JSON stored in a result file (once per text: the
    metadata check, the summary, sensitivity and the report each need it; a Scenario is frozen)."""
    data = json.loads(text)
    adoption = data.get("adoption") if isinstance(data, dict) else None
    if isinstance(adoption, dict) and adoption.get("curve") == "bass":
        # Result files of simengine <= 0.4 stored the (unused) ramp_months of a bass curve too.
        adoption.pop("ramp_months", None)
    return parse_scenario(data)

