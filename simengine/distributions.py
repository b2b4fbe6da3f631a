"""Registry of distribution families, each sampled through its inverse CDF (ppf) of uniforms.

The sampling designs (mc, lhs, sobol: streams.py and designs.py) only ever produce uniforms
in [U_MIN, U_MAX] = [2^-53, 1 - 2^-53], and the Gaussian copula normal scores mixed from
them; a family maps them to values. So every family here has one job: validate its
parameters (naming the field on error) and describe its inverse CDF as a `QuantileSpec` that
the compiled kernel in kernels/quantiles.py evaluates. `extreme_draws` gives the smallest and
largest value the sampler can produce (what the scenario's supported ranges are checked
against). `to_scipy()` gives the equivalent scipy distribution, used by the conformance tests.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from . import metalog
from .designs import U_MAX, U_MIN
from .errors import ScenarioError
from .kernels import quantiles as q
from .kernels.quantile_table import QuantileTable
from .lazy import LazyModule
from .table_cache import cached_table
from .twins import python_twin

#: scipy.stats (about a second to import) for the frozen distributions (tests, fitting, reports);
#: scipy.special (~0.2 s) where a family needs it: validating PERT and fixed fields needs neither.
stats = LazyModule("scipy.stats")
special = LazyModule("scipy.special")

# Standard normal quantiles used by the quantile parameterizations: float(special.ndtri(p)),
# written out so that importing this module needs no scipy (tests/test_distributions.py checks them).
Z90 = 1.2815515655446004
Z95 = 1.6448536269514722
#: The largest normal score of one uniform: Phi^-1(1 - 2^-53) = 8.2095... (and -Z_MAX at 2^-53).
Z_MAX = 8.209536151601387

#: Short names of the C0 and C1 control characters (and DEL), for error messages.
_C0_NAMES = ("NUL SOH STX ETX EOT ENQ ACK BEL BS HT LF VT FF CR SO SI DLE DC1 DC2 DC3 DC4 NAK SYN ETB CAN EM "
             "SUB ESC FS GS RS US").split()
_C1_NAMES = ("PAD HOP BPH NBH IND NEL SSA ESA HTS HTJ VTS PLD PLU RI SS2 SS3 DCS PU1 PU2 STS CCH MW SPA EPA "
             "SOS SGCI SCI CSI ST OSC PM APC").split()


def control_character(ch: str) -> str:
    """`U+001B (ESC)`: how an error message names a control character."""
    code = ord(ch)
    name = _C0_NAMES[code] if code < 0x20 else "DEL" if code == 0x7F else _C1_NAMES[code - 0x80]
    return f"U+{code:04X} ({name})"


def first_control(text: str, multiline: bool = False) -> str | None:
    """The first C0/C1 control character or DEL in `text`, else None. With `multiline`, line
    breaks (LF, and CR directly before LF) and tabs are allowed: free text may span lines."""
    for i, ch in enumerate(text):
        code = ord(ch)
        if code < 0x20 or 0x7F <= code <= 0x9F:
            if multiline and (ch in "\t\n" or (ch == "\r" and text[i + 1:i + 2] == "\n")):
                continue
            return ch
    return None


def printable(key: str) -> str:
    """A table key as it may appear in a message: itself, or its repr when it holds a control
    character (an ESC printed raw would reach the user's terminal)."""
    return key if first_control(key) is None else repr(key)


def suggest(name: str, choices) -> str:
    """A ' (did you mean "x"?)' suffix when a close match exists, else ''."""
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.6)
    # Swapped letters ("pret") are the commonest typo: prefer a choice with the same letters.
    close.sort(key=lambda c: sorted(c) != sorted(name))
    return f' (did you mean "{close[0]}"?)' if close else ""


def fmt(x: float) -> str:
    """Short, exact-enough rendering of a number for messages and tables."""
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.6g}"


def as_number(value: Any, path: str) -> float:
    """A finite real number from TOML (bools are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ScenarioError(path, f"expected a number, got {type(value).__name__} {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise ScenarioError(path, f"must be finite, got {value!r}")
    return x


def as_number_list(value: Any, path: str, min_len: int = 1) -> np.ndarray:
    """A non-empty list of finite numbers."""
    if not isinstance(value, list):
        raise ScenarioError(path, f"expected a list of numbers, got {type(value).__name__}")
    if len(value) < min_len:
        raise ScenarioError(path, f"needs at least {min_len} value(s), got {len(value)}")
    return np.array([as_number(v, f"{path}[{i}]") for i, v in enumerate(value)], dtype=float)


NO_TABLE = np.empty(0)
#: `p10 = 120`-style keys: the value below which the given percent of outcomes fall.
QUANTILE_KEY = re.compile(r"^p([1-9][0-9]?)$")


def two_quantile_location_scale(pairs) -> tuple[float, float]:
    """(m, s) with m + s Phi^-1(p_i) = x_i through two quantile pairs (normal scores)."""
    (p1, x1), (p2, x2) = pairs
    z1, z2 = float(special.ndtri(p1)), float(special.ndtri(p2))
    scale = (x2 - x1) / (z2 - z1)
    return x1 - scale * z1, scale


def quantile_pairs(raw: dict, path: str) -> list[tuple[float, float]]:
    """(probability, value) pairs from `pNN = x` keys (NN in 1..99), sorted by probability."""
    pairs = sorted((int(m.group(1)) / 100.0, as_number(raw[key], f"{path}.{key}"))
                   for key in raw if (m := QUANTILE_KEY.match(key)))
    for (p0, x0), (p1, x1) in zip(pairs, pairs[1:]):
        if not x1 > x0:
            raise ScenarioError(path, f"quantiles must increase with the percent: p{round(p1 * 100)} = {fmt(x1)} "
                                f"is not above p{round(p0 * 100)} = {fmt(x0)}")
    return pairs


@dataclass(frozen=True)
class QuantileSpec:
    """A family's inverse CDF for the kernel: a code, a parameter vector, up to four tables."""

    code: int
    params: np.ndarray
    tables: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] = (NO_TABLE,) * 4

    @classmethod
    def of(cls, code: int, params, tables=None) -> "QuantileSpec":
        tables = tuple(np.ascontiguousarray(t, dtype=np.float64) for t in tables) if tables else (NO_TABLE,) * 4
        tables += (NO_TABLE,) * (4 - len(tables))
        return cls(code, np.asarray(params, dtype=np.float64), tables)

    @property
    def wants_z(self) -> bool:
        """Whether normal scores are this family's natural input (no Phi round trip)."""
        return self.code in q.Z_CODES

    def apply(self, values: np.ndarray, is_z: bool = False) -> None:
        """Replace uniforms (or normal scores) by quantiles, in place (a float64 C array)."""
        q.quantile_column(self.code, self.params, *self.tables, values, is_z)


@dataclass(frozen=True)
class Distribution:
    """A frozen, validated distribution: `ppf` maps uniforms in (0, 1) to values."""

    family: ClassVar[str]
    #: Parameter names accepted in a scenario (besides `dist`).
    keys: ClassVar[tuple[str, ...]]
    #: Whether the support's end points carry probability (discrete-like families).
    attains_bounds: ClassVar[bool] = False
    #: Whether `pNN = x` quantile keys are accepted (see `quantile_pairs`).
    takes_quantiles: ClassVar[bool] = False
    params: dict = field(compare=True)

    @classmethod
    def parse(cls, raw: dict, path: str) -> "Distribution":
        raise NotImplementedError

    def quantile_spec(self) -> QuantileSpec:
        raise NotImplementedError

    @functools.cached_property
    def spec(self) -> QuantileSpec:
        """The compiled form of this distribution's inverse CDF (built once)."""
        return self.quantile_spec()

    def ppf(self, u) -> np.ndarray:
        """Quantiles of uniforms in (0, 1), through the sampling kernel."""
        values = np.array(u, dtype=np.float64, order="C", ndmin=1)
        flat = values.reshape(-1)
        self.spec.apply(flat)
        return values.reshape(np.shape(u))

    def support(self) -> tuple[float, float]:
        raise NotImplementedError

    def to_scipy(self):
        raise NotImplementedError

    def most_likely(self) -> float:
        """The value the base case uses (docs/model.md, "Base case"): the median, through the
        same quantile function the sampler uses (its plain-Python twin: one value is not worth
        loading numba); triangular and PERT, which a modeller gives a most likely value,
        override it with their mode."""
        spec, values = self.spec, np.array([0.5])
        with np.errstate(all="ignore"):  # as quiet as the compiled kernel
            python_twin(q.quantile_column)(spec.code, spec.params, *spec.tables, values, False)
        return float(values[0])

    @property
    def is_fixed(self) -> bool:
        return False

    def canonical(self) -> dict:
        """The JSON form stored in result metadata (round-trips through `parse`)."""
        return {"dist": self.family, **self.params}

    def describe(self) -> str:
        inner = ", ".join(
            f"{k}={fmt(v) if isinstance(v, float) else v}" for k, v in self.params.items()
        )
        return f"{self.family}({inner})"


FAMILIES: dict[str, type[Distribution]] = {}


def register(cls: type[Distribution]) -> type[Distribution]:
    """Add a family to the registry under its `family` name."""
    FAMILIES[cls.family] = cls
    return cls


def _require(raw: dict, keys, path: str, family: str) -> None:
    missing = [k for k in keys if k not in raw]
    if missing:
        raise ScenarioError(path, f"{family} distribution needs {', '.join(missing)}")


def _bounded_interval(raw: dict, path: str) -> tuple[float, float]:
    lo = as_number(raw["min"], f"{path}.min")
    hi = as_number(raw["max"], f"{path}.max")
    if hi < lo:
        raise ScenarioError(f"{path}", f"max {fmt(hi)} is below min {fmt(lo)}")
    if hi == lo:
        raise ScenarioError(f"{path}", f"max equals min ({fmt(lo)}); use a plain number instead")
    return lo, hi


@register
@dataclass(frozen=True)
class Fixed(Distribution):
    family: ClassVar[str] = "fixed"
    keys: ClassVar[tuple[str, ...]] = ("value",)
    attains_bounds: ClassVar[bool] = True

    @classmethod
    def parse(cls, raw, path):
        _require(raw, ["value"], path, cls.family)
        return cls({"value": as_number(raw["value"], f"{path}.value")})

    def quantile_spec(self):
        return QuantileSpec.of(q.CONST, [self.params["value"]])

    def support(self):
        return self.params["value"], self.params["value"]

    def to_scipy(self):
        return stats.rv_discrete(values=([self.params["value"]], [1.0]))

    @property
    def is_fixed(self):
        return True


@register
@dataclass(frozen=True)
class Uniform(Distribution):
    family: ClassVar[str] = "uniform"
    keys: ClassVar[tuple[str, ...]] = ("min", "max")

    @classmethod
    def parse(cls, raw, path):
        _require(raw, cls.keys, path, cls.family)
        lo, hi = _bounded_interval(raw, path)
        return cls({"min": lo, "max": hi})

    def quantile_spec(self):
        lo, hi = self.params["min"], self.params["max"]
        return QuantileSpec.of(q.AFFINE, [lo, hi - lo])

    def support(self):
        return self.params["min"], self.params["max"]

    def to_scipy(self):
        lo, hi = self.params["min"], self.params["max"]
        return stats.uniform(loc=lo, scale=hi - lo)


@register
@dataclass(frozen=True)
class Triangular(Distribution):
    family: ClassVar[str] = "triangular"
    keys: ClassVar[tuple[str, ...]] = ("min", "mode", "max")

    @classmethod
    def parse(cls, raw, path):
        _require(raw, cls.keys, path, cls.family)
        lo, hi = _bounded_interval(raw, path)
        mode = as_number(raw["mode"], f"{path}.mode")
        if not lo <= mode <= hi:
            raise ScenarioError(path, f"mode {fmt(mode)} is outside [min {fmt(lo)}, max {fmt(hi)}]")
        return cls({"min": lo, "mode": mode, "max": hi})

    def quantile_spec(self):
        return QuantileSpec.of(q.TRIANGULAR, [self.params["min"], self.params["mode"], self.params["max"]])

    def support(self):
        return self.params["min"], self.params["max"]

    def most_likely(self) -> float:
        return float(self.params["mode"])

    def to_scipy(self):
        lo, c, hi = self.params["min"], self.params["mode"], self.params["max"]
        return stats.triang((c - lo) / (hi - lo), loc=lo, scale=hi - lo)


@functools.lru_cache(maxsize=512)
def beta_quantile_table(a: float, b: float) -> QuantileTable:
    """Tabulated Beta(a, b) quantile on [0, 1] (exact nodes from scipy; see quantile_table), kept
    on disk between runs (table_cache.py): building it takes ~20 ms."""
    return cached_table("beta", (a, b), lambda: QuantileTable(
        ppf_lower=lambda p: special.betaincinv(a, b, p),
        ppf_upper=lambda q: 1.0 - special.betaincinv(b, a, q),
        logpdf=lambda x: beta_logpdf(x, a, b),
    ), __file__)


def beta_logpdf(x, a: float, b: float):
    """log of the Beta(a, b) density on [0, 1]: scipy.stats.beta's own formula (`_logpdf`) from
    scipy.special, bit for bit (checked in the tests), without importing scipy.stats."""
    return special.xlog1py(b - 1.0, -x) + special.xlogy(a - 1.0, x) - special.betaln(a, b)


def beta_spec(a: float, b: float, lo: float, hi: float) -> QuantileSpec:
    """Beta(a, b) scaled to [lo, hi], from the interpolated tables (error < 1e-11 of hi - lo)."""
    t = beta_quantile_table(a, b)
    return QuantileSpec.of(q.TABLE, [lo, hi - lo, t.u0, 1.0 / t.uh, t.u1, t.z0, 1.0 / t.zh], (t.ucoef, t.zcoef))


@register
@dataclass(frozen=True)
class Pert(Distribution):
    """Beta-PERT: a beta on [min, max] with mean (min + lambda*mode + max) / (lambda + 2)."""

    family: ClassVar[str] = "pert"
    keys: ClassVar[tuple[str, ...]] = ("min", "mode", "max", "lambda")

    @classmethod
    def parse(cls, raw, path):
        _require(raw, ("min", "mode", "max"), path, cls.family)
        lo, hi = _bounded_interval(raw, path)
        mode = as_number(raw["mode"], f"{path}.mode")
        if not lo <= mode <= hi:
            raise ScenarioError(path, f"mode {fmt(mode)} is outside [min {fmt(lo)}, max {fmt(hi)}]")
        lam = as_number(raw.get("lambda", 4.0), f"{path}.lambda")
        if lam <= 0:
            raise ScenarioError(f"{path}.lambda", f"must be > 0, got {fmt(lam)}")
        return cls({"min": lo, "mode": mode, "max": hi, "lambda": lam})

    @property
    def shape(self) -> tuple[float, float]:
        lo, c, hi, lam = (self.params[k] for k in ("min", "mode", "max", "lambda"))
        return 1.0 + lam * (c - lo) / (hi - lo), 1.0 + lam * (hi - c) / (hi - lo)

    def quantile_spec(self):
        return beta_spec(*self.shape, self.params["min"], self.params["max"])

    def support(self):
        return self.params["min"], self.params["max"]

    def most_likely(self) -> float:
        return float(self.params["mode"])

    def to_scipy(self):
        a, b = self.shape
        lo, hi = self.params["min"], self.params["max"]
        return stats.beta(a, b, loc=lo, scale=hi - lo)


@register
@dataclass(frozen=True)
class Normal(Distribution):
    """Normal(mean, sd), optionally truncated to [low, high]."""

    family: ClassVar[str] = "normal"
    keys: ClassVar[tuple[str, ...]] = ("mean", "sd", "low", "high")
    takes_quantiles: ClassVar[bool] = True

    @classmethod
    def parse(cls, raw, path):
        pairs = quantile_pairs(raw, path)
        if pairs:
            if "mean" in raw or "sd" in raw or len(pairs) != 2:
                raise ScenarioError(path, "normal takes mean and sd, or exactly two quantiles such as p10 and p90")
            params = {f"p{round(p * 100)}": x for p, x in pairs}
            mean, sd = two_quantile_location_scale(pairs)
        else:
            _require(raw, ("mean", "sd"), path, cls.family)
            mean = as_number(raw["mean"], f"{path}.mean")
            sd = as_number(raw["sd"], f"{path}.sd")
            if sd <= 0:
                raise ScenarioError(f"{path}.sd", f"must be > 0, got {fmt(sd)}")
            params = {"mean": mean, "sd": sd}
        low = as_number(raw["low"], f"{path}.low") if "low" in raw else -math.inf
        high = as_number(raw["high"], f"{path}.high") if "high" in raw else math.inf
        if high <= low:
            raise ScenarioError(path, f"high {fmt(high)} is not above low {fmt(low)}")
        a, b = (low - mean) / sd, (high - mean) / sd
        if special.ndtr(b) - special.ndtr(a) < 1e-9 and special.ndtr(-a) - special.ndtr(-b) < 1e-9:
            raise ScenarioError(path, f"truncation [{fmt(low)}, {fmt(high)}] keeps almost none of the mass")
        if "low" in raw:
            params["low"] = low
        if "high" in raw:
            params["high"] = high
        return cls(params)

    @property
    def _bounds(self) -> tuple[float, float]:
        return self.params.get("low", -math.inf), self.params.get("high", math.inf)

    @property
    def mean_sd(self) -> tuple[float, float]:
        """(mean, sd) of the (untruncated) normal, given directly or through two quantiles."""
        if "mean" in self.params:
            return self.params["mean"], self.params["sd"]
        return two_quantile_location_scale(quantile_pairs(self.params, "normal"))

    def quantile_spec(self):
        mean, sd = self.mean_sd
        low, high = self._bounds
        if low == -math.inf and high == math.inf:
            return QuantileSpec.of(q.NORMAL, [mean, sd])
        a, b = (low - mean) / sd, (high - mean) / sd
        # The kernel works in the tail where the CDF has precision: mirrored above 0.
        mirror = a > 0
        pa, pb = (special.ndtr(-b), special.ndtr(-a)) if mirror else (special.ndtr(a), special.ndtr(b))
        return QuantileSpec.of(q.TRUNCNORM, [mean, sd, pa, pb, float(mirror), low, high])

    def support(self):
        return self._bounds

    def to_scipy(self):
        mean, sd = self.mean_sd
        low, high = self._bounds
        if low == -math.inf and high == math.inf:
            return stats.norm(mean, sd)
        return stats.truncnorm((low - mean) / sd, (high - mean) / sd, loc=mean, scale=sd)


@register
@dataclass(frozen=True)
class Lognormal(Distribution):
    """exp(Normal(mu, sigma)); given by mu/sigma, by median and p90, by a 90 % interval, or by
    any two quantiles (p10/p90, p5/p50, ...)."""

    family: ClassVar[str] = "lognormal"
    takes_quantiles: ClassVar[bool] = True
    keys: ClassVar[tuple[str, ...]] = ("mu", "sigma", "median", "p90", "low", "high", "shift")
    FORMS: ClassVar[tuple[tuple[str, ...], ...]] = (("mu", "sigma"), ("median", "p90"), ("low", "high"))

    @classmethod
    def parse(cls, raw, path):
        if "median" not in raw and [k for k in raw if QUANTILE_KEY.match(k)]:
            return cls._parse_quantiles(raw, path)
        given = [form for form in cls.FORMS if any(k in raw for k in form)]
        if len(given) != 1:
            forms = " or ".join("/".join(f) for f in cls.FORMS)
            what = "mixes" if given else "needs"
            raise ScenarioError(path, f"lognormal {what} parameterizations: give exactly one of {forms}")
        form = given[0]
        _require(raw, form, path, cls.family)
        shift = as_number(raw.get("shift", 0.0), f"{path}.shift")
        vals = {k: as_number(raw[k], f"{path}.{k}") for k in form}
        if form == ("mu", "sigma"):
            if vals["sigma"] <= 0:
                raise ScenarioError(f"{path}.sigma", f"must be > 0, got {fmt(vals['sigma'])}")
        else:
            first, second = form
            if vals[first] - shift <= 0:
                raise ScenarioError(f"{path}.{first}", f"must be above shift {fmt(shift)}, got {fmt(vals[first])}")
            if vals[second] <= vals[first]:
                raise ScenarioError(path, f"{second} {fmt(vals[second])} is not above {first} {fmt(vals[first])}")
        params = dict(vals)
        if shift:
            params["shift"] = shift
        return cls(params)

    @classmethod
    def _parse_quantiles(cls, raw, path):
        """Two quantiles, e.g. {dist = "lognormal", p10 = 50, p90 = 200}, optionally with a shift."""
        pairs = quantile_pairs(raw, path)
        if len(pairs) != 2 or any(k in raw for k in ("mu", "sigma", "low", "high")):
            raise ScenarioError(path, "lognormal by quantiles takes exactly two, such as p10 and p90 "
                                "(and optionally shift)")
        shift = as_number(raw.get("shift", 0.0), f"{path}.shift")
        if pairs[0][1] <= shift:
            key = f"p{round(pairs[0][0] * 100)}"
            raise ScenarioError(f"{path}.{key}", f"must be above shift {fmt(shift)}, got {fmt(pairs[0][1])}")
        params = {f"p{round(p * 100)}": x for p, x in pairs}
        if shift:
            params["shift"] = shift
        return cls(params)

    @property
    def mu_sigma(self) -> tuple[float, float]:
        """(mu, sigma) of the underlying normal, from whichever parameterization was given."""
        p = self.params
        if "mu" in p:
            return p["mu"], p["sigma"]
        shift = p.get("shift", 0.0)
        if "median" not in p and "low" not in p:  # two quantiles
            return two_quantile_location_scale([(q, math.log(x - shift)) for q, x in quantile_pairs(p, "lognormal")])
        if "median" in p:
            mu = math.log(p["median"] - shift)
            return mu, (math.log(p["p90"] - shift) - mu) / Z90
        # a 90 % interval: low is P5, high is P95
        a, b = math.log(p["low"] - shift), math.log(p["high"] - shift)
        return 0.5 * (a + b), (b - a) / (2.0 * Z95)

    def quantile_spec(self):
        mu, sigma = self.mu_sigma
        return QuantileSpec.of(q.LOGNORMAL, [mu, sigma, self.params.get("shift", 0.0)])

    def support(self):
        return self.params.get("shift", 0.0), math.inf

    def to_scipy(self):
        mu, sigma = self.mu_sigma
        return stats.lognorm(sigma, loc=self.params.get("shift", 0.0), scale=math.exp(mu))


@register
@dataclass(frozen=True)
class Beta(Distribution):
    """Beta(alpha, beta), optionally scaled to [min, max] (default [0, 1])."""

    family: ClassVar[str] = "beta"
    keys: ClassVar[tuple[str, ...]] = ("alpha", "beta", "min", "max")

    @classmethod
    def parse(cls, raw, path):
        _require(raw, ("alpha", "beta"), path, cls.family)
        params = {}
        for k in ("alpha", "beta"):
            params[k] = as_number(raw[k], f"{path}.{k}")
            if params[k] <= 0:
                raise ScenarioError(f"{path}.{k}", f"must be > 0, got {fmt(params[k])}")
        if ("min" in raw) != ("max" in raw):
            raise ScenarioError(path, "beta needs both min and max to be scaled, or neither")
        if "min" in raw:
            params["min"], params["max"] = _bounded_interval(raw, path)
        return cls(params)

    def quantile_spec(self):
        return beta_spec(self.params["alpha"], self.params["beta"], *self.support())

    def support(self):
        return self.params.get("min", 0.0), self.params.get("max", 1.0)

    def to_scipy(self):
        lo, hi = self.support()
        return stats.beta(self.params["alpha"], self.params["beta"], loc=lo, scale=hi - lo)


def step_spec(values, cum) -> QuantileSpec:
    """The step function's inverse: the smallest value whose CDF reaches u."""
    return QuantileSpec.of(q.STEP, [], (values, cum))


@register
@dataclass(frozen=True)
class Bernoulli(Distribution):
    family: ClassVar[str] = "bernoulli"
    keys: ClassVar[tuple[str, ...]] = ("p",)
    attains_bounds: ClassVar[bool] = True

    @classmethod
    def parse(cls, raw, path):
        _require(raw, cls.keys, path, cls.family)
        p = as_number(raw["p"], f"{path}.p")
        if not 0.0 <= p <= 1.0:
            raise ScenarioError(f"{path}.p", f"probability must be in [0, 1], got {fmt(p)}")
        return cls({"p": p})

    def quantile_spec(self):
        return step_spec([0.0, 1.0], [1.0 - self.params["p"], 1.0])

    def support(self):
        return 0.0, 1.0

    def to_scipy(self):
        return stats.bernoulli(self.params["p"])


@register
@dataclass(frozen=True)
class Discrete(Distribution):
    family: ClassVar[str] = "discrete"
    keys: ClassVar[tuple[str, ...]] = ("values", "probabilities")
    attains_bounds: ClassVar[bool] = True

    @classmethod
    def parse(cls, raw, path):
        _require(raw, cls.keys, path, cls.family)
        values = as_number_list(raw["values"], f"{path}.values")
        probs = as_number_list(raw["probabilities"], f"{path}.probabilities")
        if len(values) != len(probs):
            raise ScenarioError(path, f"{len(values)} values but {len(probs)} probabilities")
        if (probs < 0).any():
            raise ScenarioError(f"{path}.probabilities", "probabilities must be >= 0")
        if abs(probs.sum() - 1.0) > 1e-9:
            raise ScenarioError(f"{path}.probabilities", f"must sum to 1, sum is {probs.sum():.12g}")
        return cls({"values": values.tolist(), "probabilities": probs.tolist()})

    @property
    def _table(self) -> tuple[np.ndarray, np.ndarray]:
        values = np.asarray(self.params["values"], dtype=float)
        probs = np.asarray(self.params["probabilities"], dtype=float)
        order = np.argsort(values, kind="stable")
        values, probs = values[order], probs[order]
        cum = np.cumsum(probs)
        cum /= cum[-1]
        return values, cum

    def quantile_spec(self):
        return step_spec(*self._table)

    def support(self):
        return min(self.params["values"]), max(self.params["values"])

    def to_scipy(self):
        values, cum = self._table
        uniq, inv = np.unique(values, return_inverse=True)
        probs = np.bincount(inv, weights=np.diff(np.concatenate([[0.0], cum])))
        return stats.rv_discrete(values=(uniq, probs))

    def describe(self):
        return f"discrete({len(self.params['values'])} values)"


@register
@dataclass(frozen=True)
class Empirical(Distribution):
    """The observed values, each with equal weight (the empirical distribution)."""

    family: ClassVar[str] = "empirical"
    keys: ClassVar[tuple[str, ...]] = ("values",)
    attains_bounds: ClassVar[bool] = True

    @classmethod
    def parse(cls, raw, path):
        _require(raw, cls.keys, path, cls.family)
        values = as_number_list(raw["values"], f"{path}.values", min_len=2)
        return cls({"values": values.tolist()})

    def quantile_spec(self):
        values = np.sort(np.asarray(self.params["values"], dtype=float))
        n = len(values)
        return step_spec(values, np.arange(1, n + 1) / n)

    def support(self):
        return min(self.params["values"]), max(self.params["values"])

    def to_scipy(self):
        uniq, counts = np.unique(np.asarray(self.params["values"], dtype=float), return_counts=True)
        return stats.rv_discrete(values=(uniq, counts / counts.sum()))

    def describe(self):
        return f"empirical({len(self.params['values'])} values)"


@register
@dataclass(frozen=True)
class Pareto(Distribution):
    """Pareto (type I) with scale x_m and tail exponent alpha, capped and optionally shifted:
    X = shift + min(x_m U^(-1/alpha), cap) (a shift of -1 turns a cost ratio into an overrun).

    IT cost overruns have power-law tails, with exponents near or below 1 (an infinite
    mean) in the largest samples: a cap is required. The cap clips, so P(X = cap) =
    (x_m / cap)^alpha (the outcomes beyond it, counted at the cap).
    """

    family: ClassVar[str] = "pareto"
    keys: ClassVar[tuple[str, ...]] = ("scale", "alpha", "cap", "shift")
    attains_bounds: ClassVar[bool] = True

    @classmethod
    def parse(cls, raw, path):
        _require(raw, ("scale", "alpha", "cap"), path, cls.family)
        scale = as_number(raw["scale"], f"{path}.scale")
        alpha = as_number(raw["alpha"], f"{path}.alpha")
        cap = as_number(raw["cap"], f"{path}.cap")
        if scale <= 0:
            raise ScenarioError(f"{path}.scale", f"must be > 0, got {fmt(scale)}")
        if alpha <= 0:
            raise ScenarioError(f"{path}.alpha", f"must be > 0, got {fmt(alpha)}")
        if cap <= scale:
            raise ScenarioError(f"{path}.cap", f"must be above scale {fmt(scale)}, got {fmt(cap)}")
        params = {"scale": scale, "alpha": alpha, "cap": cap}
        if "shift" in raw:
            params["shift"] = as_number(raw["shift"], f"{path}.shift")
        return cls(params)

    def quantile_spec(self):
        p = self.params
        return QuantileSpec.of(q.PARETO, [p["scale"], p["alpha"], p["cap"], p.get("shift", 0.0)])

    def support(self):
        shift = self.params.get("shift", 0.0)
        return shift + self.params["scale"], shift + self.params["cap"]

    def to_scipy(self):
        p = self.params
        return _CappedPareto(p["scale"], p["alpha"], p["cap"], p.get("shift", 0.0))


class _CappedPareto:
    """scipy's Pareto clipped at a cap: the cdf jumps to 1 at the cap (for conformance tests)."""

    def __init__(self, scale, alpha, cap, shift=0.0):
        self._dist = stats.pareto(alpha, scale=scale)
        self.cap, self.shift = cap, shift
        self.atom = float(self._dist.sf(cap))

    def cdf(self, x):
        y = np.asarray(x, dtype=float) - self.shift
        return np.where(y >= self.cap, 1.0, self._dist.cdf(y))

    def ppf(self, u):
        return self.shift + np.minimum(self._dist.ppf(u), self.cap)

    def mean(self):
        """shift + E[min(X, cap)] = shift + E[X] - E[(X - cap)+], finite for any alpha."""
        a, m, c = self._dist.args[0], self._dist.kwds["scale"], self.cap
        if a == 1.0:
            return self.shift + m * (1.0 + np.log(c / m))
        return self.shift + m * a / (a - 1.0) * (1.0 - (m / c) ** (a - 1.0)) + c * (m / c) ** a


@register
@dataclass(frozen=True)
class Mixture(Distribution):
    """A weighted mixture of uniform, triangular, normal, lognormal and capped Pareto components,
    e.g. a lognormal body with a capped Pareto tail:
    `{ dist = "mixture", components = [{ weight = 0.8333, dist = "lognormal", ... }, { weight = 0.1667, dist = "pareto", ... }] }`.
    Sampled through the mixture's own inverse CDF (the root of sum_k w_k F_k(x) = u, by
    regula falsi with bisection steps: kernels/quantiles.py), so it is monotone in the uniform
    and works with correlations and LHS/Sobol like any family."""

    family: ClassVar[str] = "mixture"
    keys: ClassVar[tuple[str, ...]] = ("components",)
    COMPONENTS: ClassVar[dict[str, int]] = {"uniform": q.AFFINE, "triangular": q.TRIANGULAR, "normal": q.NORMAL,
                                            "lognormal": q.LOGNORMAL, "pareto": q.PARETO}

    @classmethod
    def parse(cls, raw, path):
        _require(raw, cls.keys, path, cls.family)
        items = raw["components"]
        if not isinstance(items, list) or len(items) < 2:
            raise ScenarioError(f"{path}.components", "expected a list of at least two component tables")
        components = []
        for i, item in enumerate(items):
            where = f"{path}.components[{i}]"
            if not isinstance(item, dict) or "weight" not in item:
                raise ScenarioError(where, "each component needs a weight and a dist")
            weight = as_number(item["weight"], f"{where}.weight")
            if weight <= 0:
                raise ScenarioError(f"{where}.weight", f"must be > 0, got {fmt(weight)}")
            body = {k: v for k, v in item.items() if k != "weight"}
            if body.get("dist") not in cls.COMPONENTS:
                raise ScenarioError(f"{where}.dist", f"a mixture component must be one of {', '.join(cls.COMPONENTS)}")
            if body["dist"] == "normal" and ("low" in body or "high" in body):
                raise ScenarioError(where, "a truncated normal cannot be a mixture component")
            component = parse_distribution(body, where)
            components.append({"weight": weight, **component.canonical()})
        total = sum(c["weight"] for c in components)
        if abs(total - 1.0) > 1e-6:
            raise ScenarioError(f"{path}.components", f"weights must sum to 1, sum is {total:.9g}")
        return cls({"components": components})

    @functools.cached_property
    def parts(self) -> list[tuple[float, Distribution]]:
        total = sum(c["weight"] for c in self.params["components"])
        return [(c["weight"] / total, parse_distribution({k: v for k, v in c.items() if k != "weight"}, "component"))
                for c in self.params["components"]]

    def quantile_spec(self):
        weights = [w for w, _ in self.parts]
        codes = [float(d.spec.code) for _, d in self.parts]
        params = np.zeros(len(self.parts) * q.COMPONENT_STRIDE)
        for i, (_, d) in enumerate(self.parts):
            params[i * q.COMPONENT_STRIDE:i * q.COMPONENT_STRIDE + d.spec.params.size] = d.spec.params
        return QuantileSpec.of(q.MIXTURE, [], (weights, codes, params))

    def support(self):
        lows, highs = zip(*(d.support() for _, d in self.parts))
        return min(lows), max(highs)

    @property
    def attains_bounds(self) -> bool:  # an atom at a Pareto cap
        return any(d.attains_bounds for _, d in self.parts)

    def to_scipy(self):
        return _MixtureDistribution([(w, d.to_scipy()) for w, d in self.parts])

    def describe(self):
        return "mixture(" + ", ".join(f"{w:.3g} {d.describe()}" for w, d in self.parts) + ")"


class _MixtureDistribution:
    """cdf and mean of a mixture from its components' scipy forms (for tests)."""

    def __init__(self, parts):
        self.parts = parts

    def cdf(self, x):
        return sum(w * d.cdf(x) for w, d in self.parts)

    def mean(self):
        return sum(w * d.mean() for w, d in self.parts)

    def ppf(self, u):
        """By scipy's brentq on the cdf, between the components' own quantiles (independent of the kernel)."""
        from scipy.optimize import brentq

        def one(p):
            ends = [float(d.ppf(p)) for _, d in self.parts]
            lo, hi = min(ends), max(ends)
            if lo == hi:
                return lo
            return brentq(lambda x: float(self.cdf(x)) - p, lo, hi, xtol=1e-14, rtol=1e-15)
        return np.array([one(p) for p in np.atleast_1d(u)])


@register
@dataclass(frozen=True)
class Metalog(Distribution):
    """Keelin's metalog through 3 to 9 quantiles (`p10 = .., p50 = .., p90 = ..`), optionally
    bounded below (`lower`), above (`upper`) or both; see simengine/metalog.py."""

    family: ClassVar[str] = "metalog"
    keys: ClassVar[tuple[str, ...]] = ("lower", "upper")
    takes_quantiles: ClassVar[bool] = True

    @classmethod
    def parse(cls, raw, path):
        pairs = quantile_pairs(raw, path)
        if not metalog.MIN_TERMS <= len(pairs) <= metalog.MAX_TERMS:
            raise ScenarioError(path, f"metalog needs {metalog.MIN_TERMS} to {metalog.MAX_TERMS} quantiles "
                                f"(p1 .. p99 keys), got {len(pairs)}")
        params = {f"p{round(p * 100)}": x for p, x in pairs}
        for bound in ("lower", "upper"):
            if bound in raw:
                params[bound] = as_number(raw[bound], f"{path}.{bound}")
        lower, upper = params.get("lower", -math.inf), params.get("upper", math.inf)
        if pairs[0][1] <= lower or pairs[-1][1] >= upper:
            raise ScenarioError(path, f"every quantile must lie strictly inside the bounds [{fmt(lower)}, {fmt(upper)}]")
        dist = cls(params)
        if not metalog.is_increasing(dist.coefficients):
            raise ScenarioError(path, "these quantiles do not give a valid metalog (its quantile function is not "
                                "increasing); space them more evenly, add bounds, or give fewer")
        return dist

    @property
    def kind(self) -> int:
        lower, upper = "lower" in self.params, "upper" in self.params
        return metalog.BOTH if lower and upper else metalog.LOWER if lower else metalog.UPPER if upper else metalog.UNBOUNDED

    @functools.cached_property
    def coefficients(self) -> np.ndarray:
        pairs = quantile_pairs(self.params, self.family)
        lower, upper = self.params.get("lower", 0.0), self.params.get("upper", 0.0)
        return metalog.fit([p for p, _ in pairs], [x for _, x in pairs], self.kind, lower, upper)

    def quantile_spec(self):
        a = self.coefficients
        return QuantileSpec.of(q.METALOG, [self.kind, self.params.get("lower", 0.0), self.params.get("upper", 0.0),
                                           a.size, *a])

    def support(self):
        return self.params.get("lower", -math.inf), self.params.get("upper", math.inf)

    def to_scipy(self):
        return _TabulatedQuantile(self.ppf)


class _TabulatedQuantile:
    """A scipy-like frozen distribution from a quantile function (cdf by interpolation), for tests."""

    def __init__(self, ppf):
        self._u = metalog.check_grid()
        self._x = ppf(self._u)
        self.ppf = ppf

    def cdf(self, x):
        return np.interp(x, self._x, self._u, left=0.0, right=1.0)


@dataclass(frozen=True)
class ReferenceClass(Distribution):
    """A field filled from a reference class: behaves as the class's distribution, and keeps
    the class, the presets' version and the resolved distribution for reproducibility."""

    family: ClassVar[str] = "reference_class"
    keys: ClassVar[tuple[str, ...]] = ("reference_class", "version", "resolved")

    @classmethod
    def parse(cls, raw, path):
        from . import reference

        unknown = [k for k in raw if k not in cls.keys]
        if unknown:
            raise ScenarioError(f"{path}.{printable(unknown[0])}", "a reference-class field takes only reference_class "
                                "(the stored form adds version and resolved)")
        name = raw["reference_class"]
        if not isinstance(name, str):
            raise ScenarioError(f"{path}.reference_class", "expected a class name, e.g. \"crm\"")
        if "resolved" in raw:  # from a result file: exactly what that run used
            resolved, version = raw["resolved"], raw.get("version", "")
        else:
            if path not in reference.FIELDS:
                raise ScenarioError(f"{path}.reference_class", f"reference classes can fill "
                                    f"{', '.join(reference.FIELDS)} so far")
            resolved = reference.preset(name, reference.FIELDS[path], path)["distribution"]
            version = reference.version()
        return cls({"reference_class": name, "version": version,
                    "resolved": parse_distribution(resolved, f"{path} (reference class {name})").canonical()})

    @functools.cached_property
    def inner(self) -> Distribution:
        return parse_distribution(self.params["resolved"], "reference class")

    @property
    def attains_bounds(self) -> bool:
        return self.inner.attains_bounds

    def quantile_spec(self):
        return self.inner.spec

    def support(self):
        return self.inner.support()

    def to_scipy(self):
        return self.inner.to_scipy()

    def canonical(self) -> dict:
        return dict(self.params)

    def describe(self) -> str:
        return f"reference class {self.params['reference_class']} ({self.params['version']}): {self.inner.describe()}"


def parse_distribution(raw: Any, path: str) -> Distribution:
    """A plain number becomes `fixed`; a table with `dist` becomes that family; a table with
    `reference_class` takes that class's preset for this field."""
    if isinstance(raw, dict) and "reference_class" in raw:
        return ReferenceClass.parse(raw, path)
    if isinstance(raw, dict):
        if "dist" not in raw:
            raise ScenarioError(path, f"a distribution table needs dist = one of {', '.join(FAMILIES)}")
        name = raw["dist"]
        if not isinstance(name, str) or name not in FAMILIES:
            raise ScenarioError(f"{path}.dist", f"unknown distribution {name!r}{suggest(str(name), FAMILIES)}; "
                                f"known: {', '.join(FAMILIES)}")
        cls = FAMILIES[name]
        for key in raw:
            if key != "dist" and key not in cls.keys and not (cls.takes_quantiles and QUANTILE_KEY.match(key)):
                raise ScenarioError(f"{path}.{printable(key)}",
                                    f"unknown parameter for {name}{suggest(key, cls.keys)}; "
                                    f"expected {', '.join(cls.keys)}")
        return cls.parse(raw, path)
    return Fixed({"value": as_number(raw, path)})


@dataclass(frozen=True)
class Bound:
    """The range MODEL.md allows for a driver; checked against a distribution's support."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False

    def text(self) -> str:
        parts = []
        if self.low > -math.inf:
            parts.append(f"{'>' if self.low_open else '>='} {fmt(self.low)}")
        if self.high < math.inf:
            parts.append(f"{'<' if self.high_open else '<='} {fmt(self.high)}")
        return " and ".join(parts) or "any number"

    def check(self, dist: Distribution, path: str) -> None:
        lo, hi = dist.support()
        # An open bound may touch a continuous support: its end points are never drawn.
        bad_lo = lo < self.low or (self.low_open and lo == self.low and dist.attains_bounds)
        bad_hi = hi > self.high or (self.high_open and hi == self.high and dist.attains_bounds)
        if bad_lo or bad_hi:
            if dist.is_fixed:
                raise ScenarioError(path, f"must be {self.text()}, got {fmt(lo)}")
            raise ScenarioError(path, f"{dist.family} support [{fmt(lo)}, {fmt(hi)}] breaks the bound: "
                                f"must be {self.text()}")




def extreme_draws(dist: Distribution, z_limit: float | None = None) -> tuple[float, float]:
    """The smallest and largest value the sampler can give `dist`, computed by the sampling kernel.

    An uncorrelated driver is drawn from uniforms in [U_MIN, U_MAX] (every design: streams.py,
    designs.py); a correlated one from the copula's normal scores, which stay in
    [-z_limit, z_limit]. Inverse CDFs do not decrease, so the extremes are the values at those
    two ends. An end that the kernel cannot evaluate (a division by zero) counts as infinite.
    """
    ends = []
    for sign, point in ((-1.0, -z_limit if z_limit else U_MIN), (1.0, z_limit if z_limit else U_MAX)):
        value = np.array([point])
        try:
            with np.errstate(all="ignore"):
                dist.spec.apply(value, is_z=z_limit is not None)
            ends.append(float(value[0]))
        except ArithmeticError:
            ends.append(sign * math.inf)
    return ends[0], ends[1]
