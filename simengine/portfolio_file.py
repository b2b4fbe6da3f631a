"""Portfolio files (docs/portfolios.md): members, shared drivers, correlations, budget and targets,
read and validated as strictly as scenarios, every failure one line naming the field."""

from __future__ import annotations

import copy
import fnmatch
import hashlib
import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .bundled import bundled_scenarios, scenarios_dir
from .distributions import Distribution, extreme_draws, parse_distribution, suggest
from .errors import InputError, ScenarioError
from .model import ModelStructure
from .scenario import (MAX_AMOUNT, MAX_MONTHS, NAME_RE, SUPPORTED_RANGES, Scenario, _check_keys, _integer, _no_control,
                       _string, as_number, fmt, load_scenario, not_toml, parse_scenario,
                       range_key)

TOP_KEYS = ("name", "description", "currency", "discount_rate", "seed", "members", "shared", "correlations",
            "budget", "decision")
MEMBER_KEYS = ("scenario", "start_month", "scale", "start_options", "required", "description")
SHARED_KEYS = ("distribution", "replaces", "multiplies", "adds", "description")
BUDGET_KEYS = ("per_year", "total")
#: Portfolio targets: each reported as the probability of meeting it (docs/portfolios.md).
TARGET_KEYS = ("npv_min", "roi_min", "payback_months_max")
#: Constraints on the whole distribution: reported met or not, and kept by --optimize.
CONSTRAINT_KEYS = ("cvar_min", "budget_exceedance_max")
DECISION_KEYS = TARGET_KEYS + CONSTRAINT_KEYS
CORRELATION_KEYS = ("drivers", "spearman")
#: Kernel inputs a shared driver may multiply or add to: amounts and month counts, which stay >= 0.
MULTIPLIABLE = ("costs.NAME.amount", "benefits.streams.NAME.amount", "events.NAME.cost",
                "schedule.delay_cost_per_month", "schedule.planned_months", "schedule.delay_months",
                "events.NAME.delay_months")
#: The most months a member may start after the portfolio (a century).
MAX_START_MONTH = 1200
MAX_MEMBERS = 200
MAX_SCALE = 1e3
LABOR = "labor"


@dataclass(frozen=True)
class Member:
    """One project of the portfolio: its scenario, start month, scale and what --optimize may choose."""

    name: str
    scenario: Scenario
    source: str
    start_month: int
    scale: float
    start_options: tuple[int, ...]
    required: bool
    description: str


@dataclass(frozen=True)
class SharedDriver:
    """A driver drawn once per trial for the whole portfolio, replacing or multiplying members' inputs."""

    name: str
    distribution: Distribution
    description: str
    replaces: tuple[tuple[str, str], ...]  # (member, kernel input column)
    multiplies: tuple[tuple[str, str], ...]
    adds: tuple[tuple[str, str], ...] = ()

    def targets(self):
        """(member, column, effect) of every input it drives."""
        for effect in ("replaces", "multiplies", "adds"):
            for member, column in getattr(self, effect):
                yield member, column, effect

    @property
    def driver(self) -> str:
        return f"shared.{self.name}"


@dataclass(frozen=True)
class Budget:
    """Spend limits: per portfolio year (inf where a year has none) and in total; None = not set."""

    per_year: tuple[float, ...] | None = None
    total: float | None = None
    repeat: bool = False  # per_year was one number: the limit of every year

    def year_limits(self, years: int) -> list[float]:
        """The limit of each of `years` years (inf where none: the list may be shorter)."""
        limits = list(self.per_year or ())
        if self.repeat:
            limits = limits * years
        return (limits + [math.inf] * years)[:years]

    @property
    def is_set(self) -> bool:
        return self.per_year is not None or self.total is not None


@dataclass(frozen=True)
class PortfolioDecision:
    npv_min: float | None = None
    roi_min: float | None = None
    payback_months_max: float | None = None
    cvar_min: float | None = None
    budget_exceedance_max: float | None = None


@dataclass(frozen=True)
class Portfolio:
    """A validated portfolio file."""

    name: str
    description: str
    currency: str
    seed: int | None
    discount_rate: Distribution | None
    members: tuple[Member, ...]
    shared: tuple[SharedDriver, ...]
    correlations: tuple[tuple[str, str, float], ...]
    budget: Budget
    decision: PortfolioDecision
    canonical: dict

    @property
    def canonical_json(self) -> str:
        return json.dumps(self.canonical, separators=(",", ":"))

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.canonical_json.encode()).hexdigest()

    def seed_or_default(self, seed: int | None) -> int:
        """The seed given, else the portfolio's, else DEFAULT_SEED."""
        from .defaults import DEFAULT_SEED

        return seed if seed is not None else (self.seed if self.seed is not None else DEFAULT_SEED)

    def member(self, name: str) -> Member:
        for m in self.members:
            if m.name == name:
                return m
        raise KeyError(name)

    def horizon(self, starts: dict[str, int] | None = None) -> int:
        """H_p: the portfolio's months, max over members of start month + horizon."""
        starts = starts or {}
        return max(starts.get(m.name, m.start_month) + m.scenario.horizon_months for m in self.members)


def portfolios_dir() -> Path:
    return scenarios_dir() / "portfolios"


def bundled_portfolios() -> dict[str, Path]:
    """Bundled portfolio files by name (file stem), sorted."""
    folder = portfolios_dir()
    return {p.stem: p for p in sorted(folder.glob("*.toml"))} if folder.is_dir() else {}


def resolve_portfolio(spec: str) -> Path:
    """A path as given when it exists or looks like a file, else a bundled portfolio's path."""
    path = Path(spec)
    if path.exists() or spec.endswith(".toml") or "/" in spec:
        return path
    found = bundled_portfolios()
    if spec in found:
        return found[spec]
    from .bundled import bundled_scenarios

    if spec in bundled_scenarios():
        raise InputError(f"{spec} is a bundled scenario, not a portfolio: run `simengine run {spec}`, or name it "
                         "as a member of a portfolio file")
    raise InputError(f"{spec}: no such portfolio file or bundled portfolio{suggest(spec, found)}"
                     + (f"; bundled: {', '.join(found)}" if found else ""))


def load_portfolio(path: str | Path) -> Portfolio:
    """Read and validate a portfolio TOML file; member scenarios are read relative to its folder."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such portfolio file")
    if p.is_dir():
        raise InputError(f"{p}: is a folder, not a portfolio file")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{p}: {not_toml(p)}") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot read ({exc.strerror or exc})") from None
    return loads_portfolio(text, p.resolve().parent, source=str(p))


def loads_portfolio(text: str, folder: Path | None = None, source: str = "portfolio") -> Portfolio:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{source}: invalid TOML: {exc}") from None
    if "members" not in data and "schedule" in data:
        raise InputError(f"{source} is a scenario file, not a portfolio: run `simengine run {source}`, or name it "
                         "as a member of a portfolio file")
    return parse_portfolio(data, folder or Path.cwd())


def portfolio_from_json(text: str) -> Portfolio:
    """Rebuild a portfolio from the canonical JSON stored in a result file (members embedded)."""
    return parse_portfolio(json.loads(text), Path.cwd())


# --- parsing -------------------------------------------------------------------------------

def _number(table: dict, key: str, path: str, default=None, low=-math.inf, high=math.inf,
            low_open=False) -> float | None:
    where = f"{path}.{key}" if path else key
    if key not in table:
        return default
    value = as_number(table[key], where)
    if value < low or value > high or (low_open and value == low):
        lo = f"> {fmt(low)}" if low_open else f">= {fmt(low)}"
        rng = lo if high == math.inf else f"{lo} and <= {fmt(high)}"
        raise ScenarioError(where, f"must be {rng}, got {fmt(value)}")
    return value


def _member_scenario(spec: Any, path: str, folder: Path) -> tuple[Scenario, str, dict | None]:
    """The member's scenario: an embedded canonical table (result files), a path relative to
    the portfolio's folder, or a bundled scenario's name."""
    if isinstance(spec, dict):  # canonical JSON of a stored portfolio
        return parse_scenario(spec), spec.get("name", "?"), spec
    if not isinstance(spec, str) or not spec.strip():
        raise ScenarioError(path, "expected a scenario file path or a bundled scenario's name")
    _no_control(spec, path)
    candidate = folder / spec
    bundled = bundled_scenarios()
    if candidate.exists() or spec.endswith(".toml") or "/" in spec:
        if not candidate.exists():
            raise ScenarioError(path, f"{spec}: no such scenario file (paths are relative to the portfolio file)")
        where = candidate
    elif spec in bundled:
        where = bundled[spec]
    else:
        raise ScenarioError(path, f"{spec!r} is not a scenario file or bundled scenario{suggest(spec, bundled)}")
    try:
        return load_scenario(where), spec, None
    except InputError as exc:
        raise ScenarioError(path, f"{spec}: {exc}") from None


def _with_discount(scenario: Scenario, raw: Any) -> Scenario:
    data = copy.deepcopy(scenario.canonical)
    data["discount_rate"] = raw
    return parse_scenario(data)


def _parse_members(raw: Any, folder: Path, discount_raw: Any) -> tuple[Member, ...]:
    if not isinstance(raw, dict) or not raw:
        raise ScenarioError("members", "expected at least one [members.NAME] table")
    if len(raw) > MAX_MEMBERS:
        raise ScenarioError("members", f"at most {MAX_MEMBERS} members, got {len(raw)}")
    out = []
    for name, table in raw.items():
        path = f"members.{name}"
        if not NAME_RE.match(name):
            raise ScenarioError(path, "a member's name must start with a letter and hold only letters, digits, _ "
                                "and -")
        embedded = isinstance(table, dict) and isinstance(table.get("scenario"), dict)
        _check_keys(table, MEMBER_KEYS + (("source",) if embedded else ()), path)
        if "scenario" not in table:
            raise ScenarioError(f"{path}.scenario", "is required (a scenario file or a bundled scenario's name)")
        scenario, source, _ = _member_scenario(table["scenario"], f"{path}.scenario", folder)
        if embedded:
            source = str(table.get("source", source))
        if discount_raw is not None:
            scenario = _with_discount(scenario, discount_raw)
        start = _integer(table.get("start_month", 0), f"{path}.start_month", 0, MAX_START_MONTH)
        scale = _number(table, "scale", path, 1.0, 0.0, MAX_SCALE, low_open=True)
        options = table.get("start_options", [start])
        if not isinstance(options, list) or not options:
            raise ScenarioError(f"{path}.start_options", "expected a non-empty list of start months")
        options = [_integer(o, f"{path}.start_options", 0, MAX_START_MONTH) for o in options]
        if len(set(options)) != len(options):
            raise ScenarioError(f"{path}.start_options", "lists a start month twice")
        if start not in options:
            raise ScenarioError(f"{path}.start_options", f"must include start_month ({start}), the month a run "
                                f"without --optimize uses; got {options}")
        if len(options) > 4:
            raise ScenarioError(f"{path}.start_options", f"at most 4 start months, got {len(options)}")
        required = table.get("required", False)
        if not isinstance(required, bool):
            raise ScenarioError(f"{path}.required", f"expected true or false, got {required!r}")
        description = _string(table, "description", path, default="")
        _no_control(description, f"{path}.description", multiline=True)
        out.append(Member(name, scenario, source, start, scale, tuple(options), required, description))
    return tuple(out)


def _columns(member: Member) -> tuple[str, ...]:
    return ModelStructure.of(member.scenario).columns


def _expand_targets(raw: Any, path: str, members: tuple[Member, ...]) -> list[tuple[str, str]]:
    """`member.input` names or shell patterns (`*.labor`: every labor cost item's amount) -> (member, column)."""
    if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw) or not raw:
        raise ScenarioError(path, "expected a list of member inputs, e.g. [\"crm.schedule.delay_months\"]")
    names = [m.name for m in members]
    out: list[tuple[str, str]] = []
    for target in raw:
        _no_control(target, path)
        member_pattern, _, field = target.partition(".")
        matched_members = [m for m in members if fnmatch.fnmatchcase(m.name, member_pattern)]
        if not field or not matched_members:
            raise ScenarioError(path, f"{target!r}: expected MEMBER.INPUT with MEMBER one of "
                                f"{', '.join(names)}{suggest(member_pattern, names)}")
        hits = []
        for m in matched_members:
            if field == LABOR:
                cols = [f"costs.{c.name}.amount" for c in m.scenario.costs if c.labor]
            else:
                cols = [c for c in _columns(m) if fnmatch.fnmatchcase(c, field)]
            hits += [(m.name, c) for c in cols]
        if not hits:
            every = [LABOR] + [c for m in matched_members for c in _columns(m)]
            raise ScenarioError(path, f"{target!r} matches no input of {matched_members[0].name}"
                                f"{suggest(field, every)}")
        out += [h for h in hits if h not in out]
    return out


def _field_support(scenario: Scenario, column: str) -> tuple[float, float]:
    fields = scenario.fields()
    if column in fields:
        dist = fields[column]
        lo, hi = dist.support()
        if not (math.isfinite(lo) and math.isfinite(hi)):
            dlo, dhi = extreme_draws(dist)
            lo, hi = (lo if math.isfinite(lo) else dlo), (hi if math.isfinite(hi) else dhi)
        return lo, hi
    return 0.0, 0.0  # kernel inputs a scenario does not use are 0


def _walk_set(data: dict, column: str, raw: Any) -> None:
    """Set a dotted field path (costs.NAME.amount, schedule.delay_months, ...) in raw scenario data."""
    parts = column.split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = raw


def _check_replacement(member: Member, column: str, raw: Any, dist: Distribution, path: str) -> None:
    """A replaced input must take every value the shared driver draws within its field's rules:
    checked by validating the member's scenario with the shared distribution in that field."""
    where = f"{path}: {member.name}.{column}"
    involved = {n for c in member.scenario.correlations for n in c.drivers}
    if column in involved:
        raise ScenarioError(path, f"{member.name}.{column} is correlated within its scenario; a shared driver "
                            "cannot replace it (correlate the shared driver in [[correlations]] instead)")
    if column.endswith(".occurred"):
        lo, hi = dist.support()
        if not (dist.family == "bernoulli" or (dist.is_fixed and lo in (0.0, 1.0))):
            raise ScenarioError(path, f"{member.name}.{column} is an event's 0/1 occurrence: the shared driver must "
                                "be dist = \"bernoulli\" (or a fixed 0 or 1)")
        return
    if column not in member.scenario.fields():
        raise ScenarioError(path, f"{member.name}.{column} is not used by the member's scenario")
    data = copy.deepcopy(member.scenario.canonical)
    _walk_set(data, column, raw)
    data["correlations"] = []  # the member's own correlations were checked; only the new field is
    try:
        parse_scenario(data)
    except ScenarioError as exc:
        raise ScenarioError(where, f"with the shared driver: {exc.problem}") from None


def _check_arithmetic(member: Member, column: str, dist: Distribution, path: str, effect: str) -> None:
    """A multiplier or an addend keeps the input >= 0 (> 0 for planned months) and within its supported range."""
    verb = "multiplied" if effect == "multiplies" else "added to"
    if range_key(column) not in MULTIPLIABLE:
        raise ScenarioError(path, f"{member.name}.{column} cannot be {verb}; a shared driver multiplies or adds to "
                            "amounts and month counts (costs, benefit streams, event costs and delays, the delay "
                            "cost, planned and delay months)")
    lo, hi = dist.support()
    if not math.isfinite(hi):
        hi = extreme_draws(dist)[1]
    positive = column == "schedule.planned_months" and effect == "multiplies"
    what = "a multiplier" if effect == "multiplies" else "an addend"
    if lo < 0.0 or (positive and lo <= 0.0 and dist.attains_bounds):
        raise ScenarioError(path, f"{member.name}.{column}: {what} must be {'> 0' if positive else '>= 0'}, "
                            f"but the shared driver's support starts at {fmt(lo)}")
    flo, fhi = _field_support(member.scenario, column)
    limit = SUPPORTED_RANGES.get(range_key(column), (-math.inf, MAX_AMOUNT if "amount" in column
                                                     or "cost" in column else MAX_MONTHS))[1]
    reach = max(abs(flo), abs(fhi)) * hi if effect == "multiplies" else max(abs(flo), abs(fhi)) + hi
    if reach > limit:
        raise ScenarioError(path, f"{member.name}.{column}: {verb} values reach {fmt(reach)}, beyond the "
                            f"supported {fmt(limit)}")


def _parse_shared(raw: Any, members: tuple[Member, ...]) -> tuple[tuple[SharedDriver, ...], dict]:
    if raw is None:
        return (), {}
    if not isinstance(raw, dict):
        raise ScenarioError("shared", "expected [shared.NAME] tables")
    out, canonical = [], {}
    claimed: dict[tuple[str, str], str] = {}
    for name, table in raw.items():
        path = f"shared.{name}"
        if not NAME_RE.match(name):
            raise ScenarioError(path, "a shared driver's name must start with a letter and hold only letters, "
                                "digits, _ and -")
        _check_keys(table, SHARED_KEYS, path)
        if "distribution" not in table:
            raise ScenarioError(f"{path}.distribution", "is required, e.g. distribution = { dist = \"pert\", "
                                "min = 0.95, mode = 1.0, max = 1.3 }")
        dist = parse_distribution(table["distribution"], f"{path}.distribution")
        if not any(key in table for key in ("replaces", "multiplies", "adds")):
            raise ScenarioError(path, "needs replaces = [...], multiplies = [...] or adds = [...]: the member "
                                "inputs it drives")
        found = {key: _expand_targets(table[key], f"{path}.{key}", members) if key in table else []
                 for key in ("replaces", "multiplies", "adds")}
        replaces, multiplies, adds = found["replaces"], found["multiplies"], found["adds"]
        by_name = {m.name: m for m in members}
        for member, column in replaces:
            _check_replacement(by_name[member], column, table["distribution"], dist, f"{path}.replaces")
        for effect in ("multiplies", "adds"):
            for member, column in found[effect]:
                _check_arithmetic(by_name[member], column, dist, f"{path}.{effect}", effect)
        for target in replaces + multiplies + adds:
            if target in claimed:
                raise ScenarioError(path, f"{target[0]}.{target[1]} is already driven by shared.{claimed[target]}; "
                                    "an input takes one shared driver")
            claimed[target] = name
        description = _string(table, "description", path, default="")
        _no_control(description, f"{path}.description", multiline=True)
        out.append(SharedDriver(name, dist, description, tuple(replaces), tuple(multiplies), tuple(adds)))
        canonical[name] = {"distribution": table["distribution"], "description": description,
                           **{key: [f"{m}.{c}" for m, c in found[key]] for key in found if key in table}}
    return tuple(out), canonical


def portfolio_drivers(members: tuple[Member, ...], shared: tuple[SharedDriver, ...]) -> list[str]:
    """Every sampled driver of the portfolio: `member.driver`, then `shared.NAME`."""
    return ([f"{m.name}.{d}" for m in members for d in m.scenario.drivers()]
            + [s.driver for s in shared if not s.distribution.is_fixed])


def _parse_correlations(raw: Any, drivers: list[str], members: tuple[Member, ...]) -> tuple:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ScenarioError("correlations", "expected a list of [[correlations]] tables")
    own = {frozenset((f"{m.name}.{a}", f"{m.name}.{b}")) for m in members for (a, b) in
           (c.drivers for c in m.scenario.correlations)}
    seen: dict[frozenset, int] = {}
    out = []
    known = set(drivers)
    for i, t in enumerate(raw):
        path = f"correlations[{i}]"
        _check_keys(t, CORRELATION_KEYS, path)
        pair = t.get("drivers")
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
            raise ScenarioError(f"{path}.drivers", "expected two drivers, e.g. drivers = [\"crm.adoption.ceiling\", "
                                "\"erp.adoption.ceiling\"]")
        for name in pair:
            if name not in known:
                raise ScenarioError(f"{path}.drivers", f"{name!r} is not a sampled driver (member.driver or "
                                    f"shared.NAME){suggest(name, drivers)}")
        if pair[0] == pair[1]:
            raise ScenarioError(f"{path}.drivers", f"a driver cannot be correlated with itself ({pair[0]})")
        key = frozenset(pair)
        if key in own:
            raise ScenarioError(f"{path}.drivers", f"{pair[0]} / {pair[1]} are already correlated in their scenario")
        if key in seen:
            raise ScenarioError(f"{path}.drivers", f"pair {pair[0]} / {pair[1]} is already given in "
                                f"correlations[{seen[key]}]")
        seen[key] = i
        if "spearman" not in t:
            raise ScenarioError(f"{path}.spearman", "is required")
        rho = as_number(t["spearman"], f"{path}.spearman")
        if not -1.0 <= rho <= 1.0:
            raise ScenarioError(f"{path}.spearman", f"must be in [-1, 1], got {fmt(rho)}")
        out.append((pair[0], pair[1], rho))
    return tuple(out)


def _parse_budget(raw: Any) -> tuple[Budget, dict]:
    if raw is None:
        return Budget(), {}
    _check_keys(raw, BUDGET_KEYS, "budget")
    if not raw:
        raise ScenarioError("budget", "is empty: give per_year (a number, or one per year) and/or total")
    per_year, repeat = None, False
    if "per_year" in raw:
        value = raw["per_year"]
        if isinstance(value, list):
            if not value:
                raise ScenarioError("budget.per_year", "expected a number or a non-empty list, one per year")
            per_year = tuple(_positive_amount(v, f"budget.per_year[{i}]") for i, v in enumerate(value))
        else:
            per_year, repeat = (_positive_amount(value, "budget.per_year"),), True
    total = _positive_amount(raw["total"], "budget.total") if "total" in raw else None
    budget = Budget(per_year, total, repeat)
    canonical = {"per_year": list(per_year) if not repeat else per_year[0]} if per_year is not None else {}
    if total is not None:
        canonical["total"] = total
    return budget, canonical


def _positive_amount(value: Any, path: str) -> float:
    x = as_number(value, path)
    if not 0.0 < x <= MAX_AMOUNT:
        raise ScenarioError(path, f"must be > 0 and at most {fmt(MAX_AMOUNT)}, got {fmt(x)}")
    return x


def _parse_decision(raw: Any) -> tuple[PortfolioDecision, dict]:
    if raw is None:
        return PortfolioDecision(), {}
    _check_keys(raw, DECISION_KEYS, "decision")
    values = {}
    for key in DECISION_KEYS:
        if key in raw:
            values[key] = as_number(raw[key], f"decision.{key}")
    if "payback_months_max" in values and values["payback_months_max"] <= 0:
        raise ScenarioError("decision.payback_months_max", f"must be > 0, got {fmt(values['payback_months_max'])}")
    if "budget_exceedance_max" in values and not 0.0 <= values["budget_exceedance_max"] < 1.0:
        raise ScenarioError("decision.budget_exceedance_max",
                            f"must be a share in [0, 1), got {fmt(values['budget_exceedance_max'])}")
    return PortfolioDecision(**values), values


def parse_portfolio(data: dict, folder: Path) -> Portfolio:
    """Validate a portfolio given as nested dicts (parsed TOML, or the canonical JSON of a result file)."""
    _check_keys(data, TOP_KEYS, "")
    name = _string(data, "name", "")
    if not name.strip():
        raise ScenarioError("name", "must not be empty")
    _no_control(name, "name")
    description = _string(data, "description", "", default="")
    _no_control(description, "description", multiline=True)
    currency = _string(data, "currency", "", default="EUR")
    _no_control(currency, "currency")
    seed = None
    if data.get("seed") is not None:
        seed = _integer(data["seed"], "seed", 0, 2**63 - 1)
    discount_raw = data.get("discount_rate")
    discount = parse_distribution(discount_raw, "discount_rate") if discount_raw is not None else None
    if discount is not None and not discount.is_fixed:
        raise ScenarioError("discount_rate", "a portfolio's discount rate is one number for every member; for an "
                            "uncertain rate, use a shared driver: replaces = [\"*.discount_rate\"]")
    if "members" not in data:
        raise ScenarioError("members", "is required: at least one [members.NAME] table with scenario = ...")
    members = _parse_members(data["members"], folder, discount_raw)
    for m in members:
        if m.scenario.currency != currency:
            raise ScenarioError(f"members.{m.name}.scenario", f"is in {m.scenario.currency}, the portfolio in "
                                f"{currency}: members must share the portfolio's currency")
    shared, shared_canonical = _parse_shared(data.get("shared"), members)
    drivers = portfolio_drivers(members, shared)
    correlations = _parse_correlations(data.get("correlations"), drivers, members)
    budget, budget_canonical = _parse_budget(data.get("budget"))
    decision, decision_canonical = _parse_decision(data.get("decision"))
    if decision.budget_exceedance_max is not None and not budget.is_set:
        raise ScenarioError("decision.budget_exceedance_max", "the portfolio sets no [budget] (per_year or total) "
                            "to exceed")
    latest = max(max(m.start_options) + m.scenario.horizon_months for m in members)
    if budget.per_year is not None and not budget.repeat and len(budget.per_year) > math.ceil(latest / 12):
        raise ScenarioError("budget.per_year", f"{len(budget.per_year)} years given, but the portfolio spans at "
                            f"most {math.ceil(latest / 12)} ({latest} months, with the latest start options)")
    canonical = {
        "name": name, "description": description, "currency": currency, "seed": seed,
        **({"discount_rate": discount_raw} if discount_raw is not None else {}),
        "members": {m.name: {"scenario": m.scenario.canonical, "source": m.source,
                             "start_month": m.start_month, "scale": m.scale,
                             "start_options": list(m.start_options), "required": m.required,
                             "description": m.description} for m in members},
        "shared": shared_canonical,
        "correlations": [{"drivers": [a, b], "spearman": rho} for a, b, rho in correlations],
        "budget": budget_canonical,
        "decision": decision_canonical,
    }
    portfolio = Portfolio(name, description, currency, seed, discount, members, shared, correlations, budget,
                          decision, canonical)
    from .portfolio_sampler import PortfolioPlan  # the joint correlation matrices must be valid

    PortfolioPlan.check(portfolio)
    return portfolio

