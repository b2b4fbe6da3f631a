"""`simengine sweep`: one scenario run over a grid of settings, every variant with one seed.

A sweep edits the scenario's TOML data at dotted paths (`--set schedule.delay_months.max=3,6,9`)
and runs the Cartesian product of the value lists (the first path varies slowest), or runs
every scenario file of a folder (`--variants DIR`). All variants are validated before any
trial is simulated, and all run with the same seed through `runner.run_summaries`: common
random numbers, so that drivers with the same name draw the same numbers in every variant
and the differences between variants reflect their settings rather than sampling noise. On
a Dask cluster the tasks of every variant go to it in one graph.

The result is one row of figures per variant (each with its standard error) and, for each
variant, the full run summary, exactly as `simengine run --summary-only` gives it for that
variant. Written to a folder: sweep.parquet (typed columns, the sweep's settings in the key-
value metadata `simengine.sweep`), sweep.csv, sweep.json and sweep.html (sweep_report.py),
all four through temporary files that are renamed only once every one of them is complete.
"""

from __future__ import annotations

import copy
import io
import itertools
import json
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ._version import __version__
from .bundled import resolve_scenario
from .defaults import DEFAULT_CHUNK, DEFAULT_TRIALS
from .errors import InputError, OutputExistsError, SimengineError

#: The figure a sweep ranks variants by and charts: (label, unit kind, higher is better).
FIGURES = {
    "npv_mean": ("mean NPV", "money", True),
    "p_npv_negative": ("P(NPV < 0)", "probability", False),
    "p_all_targets": ("P(all decision targets met)", "probability", True),
}
#: The most variants one sweep runs (a grid grows fast: 10 paths of 3 values are 59,049).
MAX_VARIANTS = 1000
#: The files a sweep writes into its folder.
OUTPUT_FILES = ("sweep.parquet", "sweep.csv", "sweep.json", "sweep.html")
#: Key of the sweep's settings in sweep.parquet's key-value metadata.
META_KEY = "simengine.sweep"
#: The bounds a probability seen in 0 of n (upper95) or n of n (lower95) trials has instead of
#: a standard error (summary.probability); each is a column beside the probability's.
PROBABILITY_BOUNDS = ("upper95", "lower95")

_SEGMENT = re.compile(r"([^.\[\]]+)((?:\[\d+\])*)")
_INDEX = re.compile(r"\[(\d+)\]")
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?")


# --- settings: --set PATH=V1,V2,... -----------------------------------------------------------

@dataclass(frozen=True)
class Setting:
    """One swept path and its values (int, float, bool or str), in the order given."""

    path: str
    parts: tuple
    values: tuple

    @property
    def kind(self) -> str:
        """"number", "bool" or "string": the type of its column in sweep.parquet."""
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in self.values):
            return "number"
        if all(isinstance(v, bool) for v in self.values):
            return "bool"
        return "string"


def parse_value(text: str):
    """A --set value as TOML would read it: an integer or a float as written, true or false,
    else a string (a value in double quotes is always a string: "3" stays text)."""
    t = text.strip()
    if _INT.fullmatch(t):
        return int(t)
    if _FLOAT.fullmatch(t):
        return float(t)
    if t in ("true", "false"):
        return t == "true"
    if len(t) >= 2 and t[0] == t[-1] == '"':
        return t[1:-1]
    return t


def parse_set(text: str) -> tuple[str, list]:
    """`PATH=V1,V2,...` -> (PATH, [values]); one line naming the problem otherwise."""
    if "=" not in text:
        raise InputError(f"--set {text}: expected PATH=V1,V2,... (e.g. schedule.delay_months.max=3,6,9)")
    path, _, values = text.partition("=")
    path = path.strip()
    if not values.strip():
        raise InputError(f"--set {path}: no values given (expected {path}=V1,V2,...)")
    items = values.split(",")
    if any(not item.strip() for item in items):
        raise InputError(f"--set {path}: an empty value in {values!r} (values are separated by single commas)")
    return path, [parse_value(item) for item in items]


def value_text(value) -> str:
    """A swept value as shown in labels and tables: true/false, 3, 0.6, 250000, linear."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def split_path(path: str) -> tuple:
    """`adoption.phases[0].share` -> ("adoption", "phases", 0, "share")."""
    if not isinstance(path, str) or not path:
        raise InputError(f"--set {path!r}: expected a dotted path such as schedule.delay_months.max")
    parts: list = []
    for segment in path.split("."):
        m = _SEGMENT.fullmatch(segment)
        if m is None or m.group(1) != m.group(1).strip():
            raise InputError(f"--set {_show(path)}: not a dotted path (expected keys separated by dots, an array "
                             "entry as [0], e.g. schedule.delay_months.max or correlations[0].spearman)")
        parts.append(m.group(1))
        parts.extend(int(i) for i in _INDEX.findall(m.group(2)))
    return tuple(parts)


def join_path(parts) -> str:
    """The inverse of split_path."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _show(text: str) -> str:
    from .distributions import printable

    return printable(text)


def _check_variant_name(name: str, what: str) -> None:
    """A variant's name is shown in the table, the chart and the page: like a scenario's name it
    may hold no control character (an ESC in a file name would reach the user's terminal)."""
    from .distributions import control_character, first_control

    ch = first_control(name)
    if ch is not None:
        raise InputError(f"{what} {_show(name)}: its name contains the control character {control_character(ch)}")


def _same(a, b) -> bool:
    """Equal as swept values: 3 and 3.0 are the same number, but true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def check_sets(sets) -> list[Setting]:
    """The settings of a sweep from {path: values}, [(path, values)] or ["PATH=V1,V2"]: each
    path once, no path inside another, each value list non-empty without duplicates."""
    if isinstance(sets, dict):
        pairs = list(sets.items())
    else:
        pairs = [parse_set(s) if isinstance(s, str) else s for s in sets]
    out: list[Setting] = []
    for pair in pairs:
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise InputError(f"sets: expected (path, values) pairs or 'PATH=V1,V2' texts, got {pair!r}")
        path, values = pair
        parts = split_path(path)
        if isinstance(values, str):
            values = parse_set(f"{path}={values}")[1]
        if not isinstance(values, (list, tuple)):
            raise InputError(f"--set {_show(path)}: expected a list of values, got {type(values).__name__}")
        if not values:
            raise InputError(f"--set {_show(path)}: no values given (expected {_show(path)}=V1,V2,...)")
        for v in values:
            if not isinstance(v, (bool, int, float, str)):
                raise InputError(f"--set {_show(path)}: values are numbers, true/false or text, got "
                                 f"{type(v).__name__} {v!r}")
        for i, v in enumerate(values):
            if any(_same(v, w) for w in values[:i]):
                raise InputError(f"--set {_show(path)}: the value {value_text(v)} is given twice")
        if parts == ("seed",):
            raise InputError("--set seed: a sweep runs every variant with one seed (common random numbers); "
                             "use --seed to choose it")
        for other in out:
            if other.parts == parts:
                raise InputError(f"--set {_show(path)}: given twice; give all its values in one --set "
                                 f"{_show(path)}=V1,V2,...")
            shorter, longer = sorted((other.parts, parts), key=len)
            if longer[:len(shorter)] == shorter:
                raise InputError(f"--set {_show(path)}: overlaps --set {_show(other.path)} (one lies inside the "
                                 "other); sweep one of them")
        out.append(Setting(path, parts, tuple(values)))
    if not out:
        raise InputError("--set: no path given (expected PATH=V1,V2,...)")
    return out


def grid_size(settings: list[Setting]) -> int:
    return math.prod(len(s.values) for s in settings)


# --- finding a path in the scenario's data ------------------------------------------------------

def _kind_of(value) -> str:
    if isinstance(value, bool):
        return f"true/false ({value_text(value)})"
    if isinstance(value, (int, float)):
        return f"a fixed number ({value_text(value)})"
    if isinstance(value, str):
        return f"text ({value!r})"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def locate(data: dict, setting: Setting) -> tuple[object, object]:
    """(the container, the key) that `setting.path` names in the scenario's data. Every table
    on the way must exist; the last key may be new (a field the file leaves at its default)."""
    path = setting.path
    node = data
    parts = setting.parts
    for depth, key in enumerate(parts):
        here = join_path(parts[:depth + 1])
        parent = join_path(parts[:depth])
        last = depth == len(parts) - 1
        if isinstance(node, dict):
            if isinstance(key, int):
                raise InputError(f"--set {_show(path)}: {_show(parent)} is a table, not an array; leave out [{key}]")
            if last:
                return node, key
            if key not in node:
                keys = [k for k in node if isinstance(k, str)]
                hint = _suggest(key, keys)
                if not hint:
                    hint = (f"; {_show(parent) if parent else 'the scenario'} has "
                            f"{', '.join(_show(k) for k in keys) if keys else 'no fields'} (a table that the "
                            "file leaves out must be added to it first)")
                raise InputError(f"--set {_show(path)}: no such field {_show(here)}{hint}")
        elif isinstance(node, list):
            if not isinstance(key, int):
                raise InputError(f"--set {_show(path)}: {_show(parent)} is an array; name its entry by position, "
                                 f"e.g. {_show(parent)}[0].{_show(key)}")
            if not 0 <= key < len(node):
                raise InputError(f"--set {_show(path)}: no such field {_show(here)} ({_show(parent)} has "
                                 f"{len(node)} entr{'y' if len(node) == 1 else 'ies'})")
            if last:
                return node, key
        child = node[key]
        if not last and not isinstance(child, (dict, list)):
            raise InputError(f"--set {_show(path)}: {_show(here)} is {_kind_of(child)}, not a table: there is no "
                             f"{_show(join_path(parts[:depth + 2]))} to set; set {_show(here)} itself")
        node = child
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns at the last part


def _suggest(name: str, choices) -> str:
    from .distributions import suggest

    return suggest(name, choices)


# --- variants ------------------------------------------------------------------------------------

@dataclass
class Variant:
    """One scenario of a sweep: its index, its label, what was set (or its file), the scenario."""

    index: int
    label: str
    scenario: object
    settings: dict = field(default_factory=dict)  # path -> value (a grid variant)
    file: str | None = None  # the file name (a --variants variant)


def base_of(scenario) -> tuple[object, dict, Path | None]:
    """(the validated base Scenario, its data to edit, its file or None) from a path, a bundled
    name, TOML text or a Scenario (whose canonical data is edited: fixed values are tables there)."""
    from .scenario import Scenario, load_scenario, loads_scenario

    if isinstance(scenario, Scenario):
        return scenario, copy.deepcopy(scenario.canonical), None
    if isinstance(scenario, str) and ("\n" in scenario or "=" in scenario):  # TOML text, as api.load reads it
        sc = loads_scenario(scenario)
        return sc, tomllib.loads(scenario), None
    if isinstance(scenario, (str, Path)):
        path = scenario if isinstance(scenario, Path) else resolve_scenario(scenario)
        sc = load_scenario(path)
        return sc, tomllib.loads(path.read_text(encoding="utf-8")), path
    raise InputError(f"scenario: expected a path, a bundled name, TOML text or a Scenario, got "
                     f"{type(scenario).__name__}")


def grid_variants(data: dict, settings: list[Setting]) -> list[Variant]:
    """Every combination of the settings' values (the first setting varies slowest), each
    applied to a copy of the data and validated; one line naming the variant on the first
    that does not validate."""
    from .scenario import parse_scenario

    fresh = {}
    for s in settings:
        container, key = locate(data, s)
        fresh[s.path] = isinstance(container, dict) and key not in container
    size = grid_size(settings)
    if size > MAX_VARIANTS:
        raise InputError(f"--set: {' x '.join(str(len(s.values)) for s in settings)} = {size:,} variants; a sweep "
                         f"runs at most {MAX_VARIANTS:,} (sweep fewer values, or split it)")
    out = []
    for index, combo in enumerate(itertools.product(*(s.values for s in settings))):
        variant_data = copy.deepcopy(data)
        for s, value in zip(settings, combo):
            container, key = locate(variant_data, s)
            container[key] = value
        label = ", ".join(f"{s.path}={value_text(v)}" for s, v in zip(settings, combo))
        try:
            scenario = parse_scenario(variant_data)
        except SimengineError as exc:
            where = getattr(exc, "path", None)
            if fresh.get(where) and str(getattr(exc, "problem", "")).startswith("unknown"):
                # a key the file does not have and the scenario format does not know
                raise InputError(f"--set {_show(where)}: {exc.problem}") from None
            raise InputError(f"variant {_show(label)}: {exc}") from None
        out.append(Variant(index, label, scenario, dict(zip((s.path for s in settings), combo))))
    return out


def folder_variants(folder) -> list[Variant]:
    """Every *.toml file of a folder (sorted by name), each a variant named by its stem."""
    from .scenario import load_scenario

    path = Path(folder)
    if not path.exists():
        raise InputError(f"--variants {path}: no such folder")
    if not path.is_dir():
        raise InputError(f"--variants {path}: not a folder (give a folder of scenario .toml files)")
    files = sorted((p for p in path.glob("*.toml") if p.is_file()), key=lambda p: p.name)
    if not files:
        raise InputError(f"--variants {path}: no scenario files (*.toml) in it")
    if len(files) > MAX_VARIANTS:
        raise InputError(f"--variants {path}: {len(files):,} scenario files; a sweep runs at most {MAX_VARIANTS:,}")
    out = []
    for index, f in enumerate(files):
        _check_variant_name(f.stem, "variant file")
        try:
            scenario = load_scenario(f)
        except SimengineError as exc:
            raise InputError(f"variant {_show(f.name)}: {exc}" if getattr(exc, "path", None) is not None
                             else str(exc)) from None
        out.append(Variant(index, f.stem, scenario, file=f.name))
    return out


def named_variants(variants) -> list[Variant]:
    """Variants from Python: {name: scenario} (anything `simengine.load` takes) or a list of files."""
    from .api import load

    if isinstance(variants, dict):
        items = list(variants.items())
    else:
        items = []
        for v in variants:
            if not isinstance(v, (str, Path)) or "\n" in str(v):
                raise InputError("variants: a list holds scenario files; give {name: scenario} for other scenarios")
            items.append((Path(v).stem, v))
    if not items:
        raise InputError("variants: no scenario given")
    if len(items) > MAX_VARIANTS:
        raise InputError(f"variants: {len(items):,} scenarios; a sweep runs at most {MAX_VARIANTS:,}")
    out = []
    for index, (name, spec) in enumerate(items):
        if not isinstance(name, str) or not name:
            raise InputError(f"variants: a variant's name must be text, got {name!r}")
        if any(name == v.label for v in out):
            raise InputError(f"variants: the name {_show(name)} is given twice")
        _check_variant_name(name, "variant")
        try:
            scenario = load(spec)
        except SimengineError as exc:
            raise InputError(f"variant {_show(name)}: {exc}") from None
        out.append(Variant(index, name, scenario, file=name))
    return out


def has_targets(scenario) -> bool:
    from .metrics import decision_targets

    return any(True for _ in decision_targets(scenario.decision))


def variant_count(sets=None, variants=None) -> int:
    """How many variants a sweep will run (for a progress bar), without validating them."""
    if sets:
        try:
            return grid_size(check_sets(sets))
        except InputError:
            return 1
    if isinstance(variants, (str, Path)) and Path(variants).is_dir():
        return max(1, sum(1 for p in Path(variants).glob("*.toml") if p.is_file()))
    if variants is not None and not isinstance(variants, (str, Path)):
        return max(1, len(variants))
    return 1


# --- rows ----------------------------------------------------------------------------------------

def _metric(name, key):
    return lambda s: s["metrics"][name][key]


def _budget(kind, name):
    def get(s):
        block = s.get("budget_and_date")
        if block is not None:
            return block["costs"][name]["p80"] if kind == "cost" else block["go_live"]["p80"]
        return s["metrics"][name]["p80"]  # the same percentile (confidence.py copies it)
    return get


def _all_targets(s):
    target = s.get("targets", {}).get("all")
    return None if target is None else target["probability"]


#: The figure columns of a row, in order: (name, its estimate in a run summary, is a probability).
#: Each has `<name>_se` beside it; a probability also `<name>_upper95` (seen in 0 trials, else
#: null) and `<name>_lower95` (seen in every trial, else null).
FIGURE_COLUMNS = (
    ("npv_mean", _metric("npv", "mean"), False),
    ("npv_p10", _metric("npv", "p10"), False),
    ("npv_p50", _metric("npv", "p50"), False),
    ("npv_p90", _metric("npv", "p90"), False),
    ("p_npv_negative", lambda s: s["p_npv_negative"], True),
    ("p_all_targets", _all_targets, True),
    ("cvar5_npv", lambda s: s["cvar5_npv"], False),
    ("one_time_cost_p80", _budget("cost", "one_time_cost"), False),
    ("go_live_month_p80", _budget("date", "go_live_month"), False),
)


def figure_names() -> list[str]:
    """Every figure column of a row, standard errors and bounds included, in order."""
    names = []
    for name, _, is_probability in FIGURE_COLUMNS:
        names += [name, f"{name}_se"] + ([f"{name}_{b}" for b in PROBABILITY_BOUNDS] if is_probability else [])
    return names


def row_figures(summary: dict) -> dict:
    """A variant's figures and their standard errors from its run summary (None where undefined)."""
    out = {}
    for name, get, is_probability in FIGURE_COLUMNS:
        est = get(summary) or {}
        out[name] = _finite(est.get("value"))
        out[f"{name}_se"] = _finite(est.get("se"))
        if is_probability:
            for bound in PROBABILITY_BOUNDS:
                out[f"{name}_{bound}"] = _finite(est.get(bound))
    return out


def _finite(x):
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def json_ready(value):
    """The value with every non-finite float as None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


def best_indices(rows: list[dict], figure: str) -> list[int]:
    """The variant(s) with the best value of the figure (every one tied at it)."""
    higher = FIGURES[figure][2]
    values = [(r["variant"], r[figure]) for r in rows if r[figure] is not None]
    if not values:
        return []
    top = (max if higher else min)(v for _, v in values)
    return [i for i, v in values if v == top]


# --- the result ----------------------------------------------------------------------------------

@dataclass
class SweepResult:
    """A finished sweep: one row of figures per variant, every variant's summary, the settings.

    `rows` are plain dicts (`variant`, the swept paths or `file`, then the figures with their
    standard errors); `to_arrow()` gives them as the typed table sweep.parquet holds;
    `to_dict()` is what sweep.json holds and `simengine sweep --json` prints.
    """

    info: dict
    rows: list[dict]
    variants: list[dict] = field(repr=False)
    columns: list[tuple[str, str]] = field(repr=False)  # (swept column, "number" | "bool" | "string")
    paths: list[Path] = field(default_factory=list)
    seconds: float | None = None
    scenario: object = field(default=None, repr=False)  # the base Scenario (for the report)

    @property
    def best(self) -> list[int]:
        """The index of the best variant(s) by the sweep's figure."""
        return list(self.info["best"])

    @property
    def figure(self) -> str:
        return self.info["figure"]

    def summary(self, variant: int):
        """The full run summary of one variant, as a `simengine.Summary`."""
        from .results import Summary

        if not isinstance(variant, int) or not 0 <= variant < len(self.variants):
            raise InputError(f"summary({variant!r}): the sweep has variants 0 to {len(self.variants) - 1}")
        return Summary(self.variants[variant]["summary"])

    def to_dict(self) -> dict:
        return json_ready({"sweep": self.info, "rows": self.rows, "variants": self.variants,
                           "files": [str(p) for p in self.paths]})

    def to_arrow(self):
        """The rows as a pyarrow Table with sweep.parquet's schema (settings in its metadata)."""
        import pyarrow as pa

        types = {"number": pa.float64(), "bool": pa.bool_(), "string": pa.string()}
        fields = [pa.field("variant", pa.int64(), nullable=False)]
        fields += [pa.field(name, types[kind]) for name, kind in self.columns]
        fields += [pa.field(name, pa.float64()) for name in figure_names()]
        schema = pa.schema(fields, metadata={META_KEY: json.dumps(json_ready(self.metadata()),
                                                                  separators=(",", ":"))})
        columns = {}
        for f in fields:
            values = [r[f.name] for r in self.rows]
            if f.type == pa.float64():
                values = [None if v is None else float(v) for v in values]
            elif f.type == pa.string():
                values = [None if v is None else value_text(v) for v in values]
            columns[f.name] = pa.array(values, type=f.type)
        return pa.Table.from_pydict(columns, schema=schema)

    def to_pandas(self):
        return self.to_arrow().to_pandas()

    def metadata(self) -> dict:
        """The sweep's settings as sweep.parquet's metadata holds them (`simengine.sweep`)."""
        return self.info

    def text(self) -> str:
        from .sweep_report import sweep_text

        return sweep_text(self.to_dict())

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        from .sweep_report import rows_table

        return rows_table(self.to_dict())


# --- running -------------------------------------------------------------------------------------

def run_sweep(scenario, *, sets=None, variants=None, trials: int = DEFAULT_TRIALS, seed: int | None = None,
              sampling: str = "mc", figure: str = "npv_mean", executor=None, threads: int | None = None,
              out=None, force: bool = False, on_progress: Callable[[int], None] | None = None) -> SweepResult:
    """Validate every variant, run them all with one seed, and write the outputs to `out` (a folder;
    nothing is written when it is None). `on_progress(done)` counts trials over all variants
    (trials x the number of variants in all)."""
    import time

    from .api import scenario_seed, whole_number
    from .engine import check_run_options
    from .runner import run_summaries

    if figure not in FIGURES:
        raise InputError(f"--figure: must be one of {', '.join(FIGURES)}, got {figure!r}"
                         f"{_suggest(str(figure), FIGURES)}")
    trials = whole_number("trials", trials)
    if trials is None:
        trials = DEFAULT_TRIALS
    seed = whole_number("seed", seed)
    has_sets = bool(sets)
    if has_sets and variants is not None:
        raise InputError("--set and --variants exclude each other: sweep settings of one scenario, or a folder of "
                         "scenario files")
    if not has_sets and variants is None:
        raise InputError("nothing to sweep: give --set PATH=V1,V2,... (repeatable) or --variants DIR")
    base, data, base_path = base_of(scenario)
    seed = scenario_seed(base, seed)
    distributed = getattr(executor, "distributed", False) or executor == "dask"
    if distributed and threads is not None:
        raise InputError("--threads sets this machine's kernel threads; a cluster run uses one per worker process")
    check_run_options(trials, seed, sampling, threads, DEFAULT_CHUNK)
    settings: list[Setting] = []
    if has_sets:
        settings = check_sets(sets)
        chosen = grid_variants(data, settings)
    elif isinstance(variants, (str, Path)):
        chosen = folder_variants(variants)
    else:
        chosen = named_variants(variants)
    if figure == "p_all_targets" and not any(has_targets(v.scenario) for v in chosen):
        raise InputError("--figure p_all_targets: no variant has decision targets ([decision] in the scenario); "
                         "choose npv_mean or p_npv_negative")
    folder = output_folder(out) if out is not None else None
    if folder is not None:
        check_outputs(folder, force)
    owned = None
    if isinstance(executor, str):
        from .executors import make_executor

        executor = owned = make_executor(executor)
    started = time.perf_counter()
    try:
        summaries = run_summaries([v.scenario for v in chosen], trials=trials, seed=seed, sampling=sampling,
                                  executor=executor, threads=threads, on_progress=on_progress)
    finally:
        if owned is not None and hasattr(owned, "close"):
            owned.close()
    result = build_result(base, base_path, settings, chosen, summaries, trials=trials, seed=seed,
                          sampling=sampling, figure=figure,
                          variants_from=str(variants) if isinstance(variants, (str, Path)) else None)
    result.seconds = time.perf_counter() - started
    if folder is not None:
        result.paths = write_outputs(result, folder, force)
    return result


def build_result(base, base_path, settings, chosen, summaries, *, trials, seed, sampling, figure,
                 variants_from=None) -> SweepResult:
    """Rows, variants and settings of a finished sweep."""
    rows, variants = [], []
    for v, summary in zip(chosen, summaries):
        row = {"variant": v.index}
        if settings:
            row.update({s.path: v.settings[s.path] for s in settings})
        else:
            row["file"] = v.file
        row.update(row_figures(summary))
        rows.append(row)
        variants.append({"variant": v.index, "label": v.label,
                         **({"settings": v.settings} if settings else {"file": v.file}),
                         "scenario_sha256": v.scenario.sha256, "summary": summary})
    columns = [(s.path, s.kind) for s in settings] if settings else [("file", "string")]
    info = {
        "scenario": base.name,
        # the file's name only: a full path would tell whoever receives the sweep about this machine
        "scenario_file": Path(base_path).name if base_path is not None else None,
        "scenario_sha256": base.sha256,
        "scenario_canonical": base.canonical,
        "currency": base.currency,
        "description": base.description,
        "kind": "grid" if settings else "files",
        "sets": [{"path": s.path, "values": list(s.values)} for s in settings],
        **({"variants_from": variants_from} if variants_from is not None else {}),
        "variants": len(chosen),
        "seed": seed,
        "trials": trials,
        "sampling": sampling,
        "figure": figure,
        "best": best_indices(rows, figure),
        "common_random_numbers": True,
        "warnings": comparability_warnings(chosen),
        "simengine_version": __version__,
    }
    return SweepResult(info, rows, variants, columns, scenario=base)


def comparability_warnings(chosen: list[Variant]) -> list[str]:
    """What makes the variants' figures measure different things (the sweep still runs)."""
    out = []
    currencies = sorted({v.scenario.currency for v in chosen})
    if len(currencies) > 1:
        out.append(f"the variants are in different currencies ({', '.join(currencies)}): money is not converted")
    horizons = sorted({v.scenario.horizon_months for v in chosen})
    if len(horizons) > 1:
        out.append(f"the variants have different horizons ({', '.join(map(str, horizons))} months): NPV and costs "
                   "are measured over different windows")
    return out


# --- output --------------------------------------------------------------------------------------

def default_folder(scenario_file: Path, seed: int, trials: int) -> Path:
    """`results/<scenario stem>-sweep-seed<S>-n<N>/` under the current folder."""
    return Path("results") / f"{scenario_file.stem}-sweep-seed{seed}-n{trials}"


def output_folder(out) -> Path:
    text = str(out)
    if "://" in text:
        raise InputError(f"--out {text}: a sweep writes a local folder (its four files are small)")
    return Path(text)


def check_outputs(folder: Path, force: bool) -> None:
    """Refuse, before any trial, a folder that is a file or outputs that exist (unless forced)."""
    if folder.exists() and not folder.is_dir():
        raise OutputExistsError(f"--out {folder}: is a file; a sweep writes a folder ({', '.join(OUTPUT_FILES)})")
    for name in OUTPUT_FILES:
        target = folder / name
        if target.exists() and target.is_dir():
            raise OutputExistsError(f"{target}: is a folder")
        if target.exists() and not force:
            raise OutputExistsError(f"{target}: already exists; use --force to overwrite the sweep's files")


#: A text cell starting with one of these is a formula to a spreadsheet that opens the CSV.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(table):
    """The table for sweep.csv: a text cell that a spreadsheet would run as a formula (a variant
    file named `=HYPERLINK(...)`) starts with an apostrophe, which shows it as text (OWASP's
    advice for CSV); numbers and sweep.parquet keep their values."""
    import pyarrow as pa

    for i, column in enumerate(table.schema):
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            cells = [None if v is None else "'" + v if v.startswith(FORMULA_STARTS) else v
                     for v in table.column(i).to_pylist()]
            table = table.set_column(i, column, pa.array(cells, column.type))
    return table


def output_bytes(result: SweepResult) -> dict[str, bytes]:
    """Each output file's content, all built before anything is written."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from .sweep_report import sweep_page

    table = result.to_arrow()
    parquet = io.BytesIO()
    pq.write_table(table, parquet, compression="snappy")
    csv = io.BytesIO()
    pacsv.write_csv(spreadsheet_safe(table), csv)
    data = json.dumps(result.to_dict(), indent=2, allow_nan=False) + "\n"
    return {"sweep.parquet": parquet.getvalue(), "sweep.csv": csv.getvalue(), "sweep.json": data.encode("utf-8"),
            "sweep.html": sweep_page(result.to_dict()).encode("utf-8")}


def write_outputs(result: SweepResult, folder: Path, force: bool) -> list[Path]:
    """Write the four files through temporary ones, renamed only once all are complete: on any
    error none of them is left (an earlier sweep's files stay as they were until the renames)."""
    from .output import AtomicFile

    check_outputs(folder, force)
    result.paths = [folder / name for name in OUTPUT_FILES]
    contents = output_bytes(result)
    created = [p for p in (folder, *folder.parents) if not p.exists()]
    pending: list[AtomicFile] = []
    try:
        for name in OUTPUT_FILES:
            f = AtomicFile(folder / name)
            pending.append(f)
            f.temp.write_bytes(contents[name])
        for f in pending:
            f.commit()
        pending = []
    finally:
        for f in pending:
            f.discard()
        if pending:
            for p in created:  # the folders made for it, innermost first, when they are empty
                try:
                    p.rmdir()
                except OSError:
                    break
    return result.paths


def read_sweep(path) -> dict:
    """The settings stored in a sweep.parquet (its `simengine.sweep` metadata)."""
    import pyarrow.parquet as pq

    meta = pq.read_metadata(path).metadata or {}
    raw = meta.get(META_KEY.encode())
    if raw is None:
        raise InputError(f"{path}: not a simengine sweep (no {META_KEY} metadata)")
    return json.loads(raw)
