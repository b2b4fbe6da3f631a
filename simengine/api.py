"""The Python API: run, open, compare and rank scenarios from a notebook or a script.

    import simengine
    result = simengine.run("crm_upgrade_big_bang", trials=100_000, seed=7)
    result.summary.metric("npv").p(90)        # Estimate(value=..., se=...)

The CLI is a thin layer over these functions: the same inputs give the same summary JSON.
A scenario is given as a path, a bundled scenario's name, TOML text or a `Scenario`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .bundled import resolve_scenario
from .defaults import DEFAULT_MAX_TRIALS, DEFAULT_SEED, DEFAULT_TRIALS
from .errors import InputError, SimengineError
from .results import Comparison, RunResult, Sensitivity, SobolIndices, Summary, ValueOfInformation

if TYPE_CHECKING:  # the scenario module loads scipy: imported when a scenario is read
    from .scenario import Scenario


def load(scenario: "Scenario | str | Path", repair_correlations: bool = False) -> "Scenario":
    """A validated `Scenario` from a path, a bundled name, TOML text, or a `Scenario` (as is)."""
    from .scenario import Scenario, load_scenario, loads_scenario

    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, Path):
        return load_scenario(scenario, repair_correlations)
    if not isinstance(scenario, str):
        raise InputError(f"scenario: expected a path, a bundled name, TOML text or a Scenario, "
                         f"got {type(scenario).__name__}")
    if "\n" in scenario or "=" in scenario:  # TOML text: a name or path has neither
        return loads_scenario(scenario, repair_correlations)
    return load_scenario(resolve_scenario(scenario), repair_correlations)


def scenario_seed(scenario: "Scenario", seed: int | None) -> int:
    """The seed given, else the scenario's, else DEFAULT_SEED."""
    if seed is not None:
        return seed
    return scenario.seed if scenario.seed is not None else DEFAULT_SEED


def run(scenario: Scenario | str | Path, *, trials: int | None = None, seed: int | None = None,
        out: Path | str | None = None, sampling: str = "mc", columns: str = "all", threads: int | None = None,
        force: bool = False, precision: dict[str, float] | None = None, max_trials: int = DEFAULT_MAX_TRIALS,
        repair_correlations: bool = False, executor=None,
        on_progress: Callable[[int], None] | None = None) -> RunResult:
    """Simulate a scenario; write its per-trial Parquet file and summary JSON to `out` (none if None).

    `precision` ({"npv_mean": 5000, ...}) runs until each named standard error is met, up to
    `max_trials` (then `trials` must not be given). `executor` computes the trials
    (default: this process's threads, `threads` of them).
    """
    from .precision import check_targets

    trials = whole_number("trials", trials)
    max_trials = whole_number("max_trials", max_trials)
    targets = check_targets(dict(precision or {}))
    sc = load(scenario, repair_correlations)
    seed = scenario_seed(sc, whole_number("seed", seed))
    owned = None
    if isinstance(executor, str):
        from .executors import make_executor

        executor = owned = make_executor(executor)
    out = output_target(out, folder=getattr(executor, "distributed", False))
    if targets and getattr(executor, "distributed", False):
        raise InputError("--precision runs on the local executor (it checks the standard errors as it goes); "
                         "run a fixed --trials on the cluster")
    try:
        report = _run(sc, out, targets, trials, max_trials, seed, threads, force, columns, sampling, on_progress,
                      executor)
    finally:
        if owned is not None and hasattr(owned, "close"):
            owned.close()
    return RunResult(Summary(report.summary), report.result_path, report.summary_path, report.seconds,
                     list(sc.correlation_repairs), month_histograms=report.histograms)


def _run(sc, out, targets, trials, max_trials, seed, threads, force, columns, sampling, on_progress, executor):
    from .runner import run as run_trials, run_to_precision

    if targets:
        if trials is not None:
            raise InputError("--trials and --precision exclude each other: use --max-trials to cap a precision run")
        report = run_to_precision(sc, targets=targets, max_trials=max_trials, seed=seed, out=out,
                                  threads=threads, force=force, columns=columns, sampling=sampling,
                                  on_chunk=on_progress)
    else:
        report = run_trials(sc, trials=trials if trials is not None else DEFAULT_TRIALS, seed=seed, out=out,
                            threads=threads, force=force, sampling=sampling, columns=columns, on_chunk=on_progress,
                            executor=executor)
    return report


def result_location(path: "Path | str") -> "Path | str":
    """A stored result's location: a URI stays text (a `Path` would fold its `//`), else a `Path`."""
    text = str(path)
    return text if "://" in text else Path(text)


def output_target(out: "Path | str | None", folder: bool = False):
    """Where a run writes: None, a result file's `Path`, or a dataset `Folder` (a URI, a path
    ending in a separator, or an existing folder; with `folder`, for a cluster run, any path
    not ending in .parquet)."""
    from .dataset import Folder, is_dataset_target

    if out is None:
        return None
    if is_dataset_target(out) or (folder and not str(out).lower().endswith(".parquet")):
        return Folder.of(out)
    out = Path(out)
    if not out.name:
        raise InputError(f"--out: {str(out)!r} is not a file name")
    return out


def whole_number(name: str, value) -> int | None:
    """An integer option from Python (None stays None): 10 and 10.0 pass, "10", 10.5 and True do not."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            (isinstance(value, float) and not value.is_integer()):
        raise InputError(f"{name}: must be a whole number, got {value!r}")
    return int(value)


def open(path: Path | str, verify: bool = False) -> RunResult:  # noqa: A001 - like io.open, opens a result
    """A result file or dataset folder as a `RunResult`, its summary recomputed exactly from the
    stored trials. `verify` first checks a dataset's every part against its manifest's sha256."""
    from .dataset import MANIFEST, Folder, is_dataset_target, read_manifest, verify_parts
    from .result_file import summarize_file

    path = result_location(path)
    if verify and not is_dataset_target(path):
        raise InputError(f"--verify: {path} is a single file; its check is the one every read makes (row count, "
                         "metadata); --verify checks a dataset's parts against their sha256")
    if is_dataset_target(path):
        if verify:
            verify_parts(read_manifest(path))
        folder = Folder.of(path)
        return RunResult(Summary(summarize_file(path)), folder.location(), folder.location(MANIFEST))
    path = Path(path)
    summary_file = path.with_name(path.stem + ".summary.json")
    return RunResult(Summary(summarize_file(path)), path, summary_file if summary_file.exists() else None)


def compare(a: Scenario | str | Path, b: Scenario | str | Path, *, trials: int = DEFAULT_TRIALS,
            seed: int | None = None, threads: int | None = None, executor=None) -> Comparison:
    """A against B with common random numbers (the seed defaults to A's)."""
    from .comparison import compare as compare_trials

    sa, sb = load(a), load(b)
    samples: dict = {}
    data = compare_trials(sa, sb, trials=trials, seed=scenario_seed(sa, seed), threads=threads, samples=samples,
                          executor=executor)
    return Comparison(data, samples, (sa, sb))


def refuse_scenario_for_rank(source) -> None:
    """A scenario (not a stored result) given to the rank method: say what it needs, in one line."""
    from .information_value import is_result
    from .scenario import Scenario

    if isinstance(source, Scenario):
        named = source.name
    elif is_result(source) or "\n" in str(source) or len(str(source)) > 255 or Path(str(source)).exists():
        return
    else:
        try:
            resolve_scenario(str(source))
        except SimengineError:
            return  # not a scenario either: the result reader names what is missing
        named = str(source)
    raise InputError(f"{named}: --method rank ranks a result file's stored trials (run with --columns all); give "
                     "one, or use --method sobol to run the scenario")


def sobol_subject(source: "RunResult | Scenario | Path | str", seed: int | None) -> tuple["Scenario", int]:
    """The scenario and seed Sobol' indices run: a result's (its seed unless `seed` is given) or a scenario's."""
    from .scenario import Scenario
    from .information_value import is_result

    if isinstance(source, RunResult):
        source = source._file()
    if not isinstance(source, Scenario) and is_result(source):
        from .scenario import scenario_from_json
        from .stored import open_stored

        meta = open_stored(result_location(source)).metadata
        sc = scenario_from_json(meta["scenario"])
        return sc, int(meta["seed"]) if seed is None else whole_number("seed", seed)
    sc = load(source)
    return sc, scenario_seed(sc, whole_number("seed", seed))


def sensitivity(source: "RunResult | Scenario | Path | str", metric: str = "npv", *, method: str = "rank",
                trials: int | None = None, seed: int | None = None, threads: int | None = None, executor=None,
                on_progress: Callable[[int], None] | None = None) -> "Sensitivity | SobolIndices":
    """Which drivers move `metric`.

    method="rank": the drivers of a result file (run with columns="all") ranked by rank
    correlation and decile swing, from its stored trials. method="sobol": first-order and total
    Sobol' indices from (factors + 2) runs of `trials` each of a scenario (or of a result's
    scenario, with its seed unless `seed` is given), on `executor` (default: local threads).
    """
    if method == "rank":
        from .ranking import sensitivity as rank_drivers

        path = source._file() if isinstance(source, RunResult) else result_location(source)
        if not isinstance(source, RunResult):
            refuse_scenario_for_rank(source)
        return Sensitivity(rank_drivers(path, metric))
    if method != "sobol":
        raise InputError(f"--method: must be rank or sobol, got {method!r}")
    from .sobol import DEFAULT_SOBOL_TRIALS, sobol_indices

    sc, seed = sobol_subject(source, seed)
    owned = None
    if isinstance(executor, str):
        from .executors import make_executor

        executor = owned = make_executor(executor)
    try:
        n = DEFAULT_SOBOL_TRIALS if trials is None else whole_number("trials", trials)
        data = sobol_indices(sc, metric=metric, trials=n,
                             seed=seed, executor=executor, threads=threads,
                             on_progress=on_progress)
    finally:
        if owned is not None and hasattr(owned, "close"):
            owned.close()
    return SobolIndices(data)


def value_of_information(a: "Scenario | RunResult | str | Path",
                         b: "Scenario | RunResult | str | Path | None" = None, *,
                         decision: str | None = None, metric: str = "npv", groups: tuple[str, ...] | list[str] = (),
                         trials: int | None = None, seed: int | None = None, max_trials: int | None = None,
                         threads: int | None = None, gp_trials: int = 1500) -> ValueOfInformation:
    """What knowing the drivers before deciding is worth: EVPI, and EVPPI per driver and per group.

    The decision is to invest in `a` or not (E[NPV] against 0), or, with `b`, to choose A or B
    (common random numbers). Each side is a result file (run with columns="all"; its first
    `max_trials` trials) or a scenario, simulated here (`trials`, `seed`). `groups` name drivers
    learnt together: "schedule.*" or "adoption.ceiling,adoption.ramp_months".
    """
    from .information_value import open_decision, value_of_information as voi

    a, b = (x._file() if isinstance(x, RunResult) else x for x in (a, b))
    decision = decision or ("invest" if b is None else "compare")
    if isinstance(groups, str):
        groups = (groups,)
    side_a, side_b = open_decision(a, b, decision=decision, metric=metric, trials=whole_number("trials", trials),
                                   seed=whole_number("seed", seed),
                                   max_trials=whole_number("max_trials", max_trials),
                                   threads=threads)
    return ValueOfInformation(voi(side_a, side_b, metric=metric, groups=tuple(groups), seed=side_a.seed,
                                  gp_trials=whole_number("gp_trials", gp_trials)))


def sweep(scenario: "Scenario | str | Path", *, sets=None, variants=None, trials: int = DEFAULT_TRIALS,
          seed: int | None = None, sampling: str = "mc", figure: str = "npv_mean", executor=None,
          threads: int | None = None, out: Path | str | None = None, force: bool = False,
          on_progress: Callable[[int], None] | None = None):
    """Run a scenario over a grid of settings, every variant with one seed (common random numbers).

    `sets` edits the scenario's TOML data at dotted paths, {"schedule.delay_months.max": [3, 6, 9],
    "adoption.ceiling.mode": [0.6, 0.8]}, and runs every combination (the first path varies
    slowest); or `variants` runs a folder of scenario files (each *.toml, sorted by name), a list
    of files or a {name: scenario} dict. Every variant is validated before any trial runs.
    `figure` ("npv_mean", "p_npv_negative" or "p_all_targets") ranks the variants and is charted.
    With `out` (a folder) sweep.parquet, sweep.csv, sweep.json and sweep.html are written there;
    existing files are kept unless `force`. Returns a `SweepResult` (`.rows`, `.to_arrow()`,
    `.to_dict()`, `.summary(i)`, `.best`).
    """
    from .sweeps import run_sweep

    return run_sweep(scenario, sets=sets, variants=variants, trials=trials, seed=seed, sampling=sampling,
                     figure=figure, executor=executor, threads=threads, out=out, force=force,
                     on_progress=on_progress)


def portfolio(file: "str | Path", *, trials: int = DEFAULT_TRIALS, seed: int | None = None,
              out: Path | str | None = None, force: bool = False, threads: int | None = None,
              executor=None, report: Path | str | None = None):
    """Run a portfolio (a file, or a bundled portfolio's name): `simengine portfolio`.

    Returns a `PortfolioReport` whose `.summary` is the `--json` output (docs/portfolios.md);
    `out` writes the per-trial Parquet file and its .summary.json, `report` the HTML page.
    """
    from .portfolio_file import load_portfolio, resolve_portfolio
    from .portfolio_run import run_portfolio

    pf = load_portfolio(resolve_portfolio(str(file)))
    seed = pf.seed_or_default(whole_number("seed", seed))
    result = run_portfolio(pf, trials=whole_number("trials", trials), seed=seed,
                           out=Path(out) if out is not None else None, threads=threads, force=force,
                           executor=executor)
    if report is not None:
        from .portfolio_report import write_portfolio_report

        write_portfolio_report(Path(report), result.summary, result.samples, force=force)
    return result


def optimize_portfolio(file: "str | Path", *, seed: int | None = None, saa_trials: int = 2000,
                       eval_trials: int = DEFAULT_TRIALS, max_exceedance: float | None = None,
                       cvar_floor: float | None = None, runner_ups: int = 3, threads: int | None = None,
                       time_limit: float = 60.0) -> dict:
    """`simengine portfolio FILE --optimize`: the best plan and runner-ups, in and out of sample
    (the `--json` output; docs/portfolio-optimization.md)."""
    from .portfolio_file import load_portfolio, resolve_portfolio
    from .portfolio_optimize import optimize

    pf = load_portfolio(resolve_portfolio(str(file)))
    seed = pf.seed_or_default(whole_number("seed", seed))
    return optimize(pf, seed=seed, saa_trials=whole_number("saa_trials", saa_trials),
                    eval_trials=whole_number("eval_trials", eval_trials), max_exceedance=max_exceedance,
                    cvar_floor=cvar_floor, runner_ups=runner_ups, threads=threads, time_limit=time_limit)
