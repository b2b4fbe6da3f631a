"""The `simengine` command line: thin Click commands over the library.

Every library error becomes one line on stderr and a non-zero exit (2 for bad input);
no traceback reaches the user.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import math
import os
import signal
import sys
from pathlib import Path

import click

from . import api, compile_notice, jit
from ._version import __version__
from .bundled import bundled_scenarios, resolve_scenario
from .defaults import (COLUMN_CHOICES, DEFAULT_MAX_TRIALS, DEFAULT_SEED, DEFAULT_TRIALS, MAX_SOBOL_TRIALS,
                       SAMPLING_METHODS)
from .errors import InputError, SimengineError
from .metrics import sensitivity_names
from .progress import ProgressBar, StatusLine

#: The executors `--executor` accepts (their classes are imported when a run needs one).
EXECUTOR_NAMES = ("local", "dask")

# Commands import what they compute with when they run, so that `simengine --help` and
# `simengine validate` start without loading numba, pyarrow or matplotlib.


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that a run cleans up exactly as on Ctrl-C."""


def _raise_terminated(signum, frame):
    raise Terminated()


def json_safe(value):
    """The value with every non-finite float (NaN, inf) as null: JSON has no NaN, and a
    reader's parser would reject it."""
    if isinstance(value, float):
        from .summary import finite_or_none

        return finite_or_none(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


#: What `terminal_safe` writes as escapes: C0 controls but line feed and tab, DEL, C1 controls,
#: and the bidirectional embeddings, overrides and isolates (they reorder the text shown).
_UNSAFE = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)] if c not in (0x09, 0x0A)}
_UNSAFE.update({c: f"\\u{c:04x}" for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]})


def terminal_safe(text: str) -> str:
    """`text` with every character that could command the terminal written as its escape (ESC as
    \\x1b): file names, CSV headers and paths a user gives are data, shown, never obeyed."""
    return text.translate(_UNSAFE)


def echo(message=None, **kwargs) -> None:
    """click.echo of `terminal_safe` text, after closing the compile notice's line
    (compile_notice.py) so that none is split."""
    compile_notice.finish()
    click.echo(terminal_safe(message) if isinstance(message, str) else message, **kwargs)


def echo_json(value) -> None:
    echo(json.dumps(json_safe(value), indent=2, allow_nan=False))


#: A command's outputs that were complete before it stopped (a run's result and summary, while
#: its report is written): an error or interrupt then names them instead of "nothing was written".
_complete: list[str] = []


def _left_behind(nothing: str) -> str:
    """`nothing` ("no result file was written") when no output is complete, else what is."""
    if not _complete:
        return nothing
    return f"the report was not written; the result ({', '.join(_complete)}) is complete"


def one_line_errors(func):
    """Turn library errors into `Error: <one line>` on stderr with the error's exit status.

    A compile of the kernels (a cold numba cache) is announced on stderr (compile_notice.py).
    Ctrl-C and SIGTERM end a run the same way: its temporary files are removed (see
    runner.run), the user is told that nothing was written, and the exit status is 130 / 143.
    """
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
        _complete.clear()
        try:
            with compile_notice.watching():
                return func(*args, **kwargs)
        except SimengineError as exc:
            echo(f"Error: {exc}" + (f"; {_left_behind('')}" if _complete else ""), err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            echo(f"\nInterrupted: {_left_behind('the run was stopped and no result file was written')}.", err=True)
            sys.exit(130)
        except Terminated:
            echo(f"Terminated: {_left_behind('the run was stopped and no result file was written')}.", err=True)
            sys.exit(143)
        except BrokenPipeError:
            # The reader went away (`| head`): stop quietly, as other command-line tools do.
            sys.stdout = open(os.devnull, "w")
            sys.exit(0)
        except OSError as exc:
            echo(f"Error: {exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}; "
                 f"{_left_behind('no result file was written')}.", err=True)
            sys.exit(1)
        finally:
            signal.signal(signal.SIGTERM, previous)
    return wrapper


#: Click 8.2's error for a bare group call, which shows the help (absent from older Clicks).
NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


class OneLineGroup(click.Group):
    """The command group: a usage error (a bad option value, a missing argument) is one line
    on stderr with exit status 2, like every other input error, not Click's usage block."""

    def main(self, *args, standalone_mode: bool = True, **kwargs):
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        if not args and "args" not in kwargs:  # this process's own command line
            jit.BLAS_TABLE_ALONE = True  # 0.2 s less start-up; see jit._load_blas_table
        try:
            self._standalone(*args, **kwargs)
        finally:
            if not args and "args" not in kwargs:  # this process's own command line: it exits now
                # The collections at interpreter shutdown walk numba's ~100,000 objects: ~0.3 s
                # of a 1 s run. Frozen objects are skipped; the memory goes back with the process.
                gc.freeze()

    def _standalone(self, *args, **kwargs):
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except NO_ARGS_IS_HELP as exc:  # bare `simengine`: the help, as Click shows it
            exc.show()
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "simengine"
            echo(f"Error: {exc.format_message()} (see '{where} --help')", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            echo(f"Error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            echo("Aborted.", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


class FiniteFloat(click.FloatRange):
    """A float option (within a range, when given one) that is a finite number: Click's own
    FloatRange lets `nan` through, since no comparison with it is true."""

    name = "finite float"

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number

    def _describe_range(self) -> str:
        """No range in the help when there is none (Click would print `[x<=None]`)."""
        return "" if self.min is None and self.max is None else super()._describe_range()


@click.group(cls=OneLineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="simengine")
def main():
    """Monte Carlo risk and ROI simulation for IT and CRM investments.

    \b
    Example:
      simengine run crm_upgrade_big_bang --trials 100000
    """


@contextlib.contextmanager
def finishing(progress: ProgressBar, runner):
    """Close a command's progress bar and its cluster executor (if any) however the command ends."""
    try:
        yield
    finally:
        progress.close()
        if runner is not None:
            runner.close()


def cluster_run_options(what: str):
    """The options of a command that can run on a Dask cluster: --executor, the scheduler to
    use (or --workers for a local cluster) and the TLS files; `what` ends --executor's help."""
    options = [
        click.option("--executor", type=click.Choice(list(EXECUTOR_NAMES)), default="local", show_default=True,
                     help=f"Where the trials run: this machine, or a Dask cluster (needs simengine[dask]; {what})."),
        click.option("--scheduler", default=None, metavar="ADDRESS",
                     help="With --executor dask: the scheduler to use (tcp://host:8786, tls://host:8786)."),
        click.option("--scheduler-file", default=None, metavar="FILE",
                     help="With --executor dask: the scheduler's address from this file (dask-jobqueue, dask-mpi)."),
        click.option("--workers", type=click.IntRange(min=1), default=None,
                     help="With --executor dask and no scheduler: worker processes of a local cluster started "
                          "for this command [default: the machine's cores]."),
        click.option("--tls-ca-file", default=None, metavar="FILE",
                     help="With a tls:// scheduler: the CA certificate."),
        click.option("--tls-cert", default=None, metavar="FILE",
                     help="With a tls:// scheduler: this client's certificate."),
        click.option("--tls-key", default=None, metavar="FILE",
                     help="With a tls:// scheduler: this client's private key."),
    ]

    def apply(func):
        for option in reversed(options):
            func = option(func)
        return func
    return apply


@main.command("run")
@click.argument("scenario")
@click.option("--trials", "-n", type=click.IntRange(min=1), default=None,
              help=f"Number of Monte Carlo trials [default: {DEFAULT_TRIALS:,}].")
@click.option("--precision", "precision_texts", multiple=True, metavar="NAME=SE",
              help="Run until this estimate's standard error is at most SE, e.g. npv_mean=5000 or "
                   "p_npv_negative=0.005 (repeatable); checked every 65,536 trials.")
@click.option("--max-trials", type=click.IntRange(min=1), default=DEFAULT_MAX_TRIALS, show_default=True,
              help="With --precision: stop here even if a target is not met.")
@click.option("--seed", "-s", type=click.IntRange(0, 2**63 - 1), default=None,
              help=f"Random seed [default: the scenario's seed, else {DEFAULT_SEED}].")
@click.option("--out", "-o", default=None, metavar="PATH|DIR/|URI",
              help="Result Parquet file [default: results/<scenario>-seed<S>-n<N>.parquet], or a dataset folder "
                   "(a path ending in /, or a URI such as s3://bucket/run/): part files and a manifest.")
@click.option("--threads", "-t", type=click.IntRange(min=1), default=None,
              help="Kernel threads [default: all cores]. Results are identical for any value.")
@click.option("--sampling", type=click.Choice(SAMPLING_METHODS), default="mc", show_default=True,
              help="Sampling design.")
@click.option("--columns", type=click.Choice(COLUMN_CHOICES), default="all", show_default=True,
              help="Per-trial columns to store: the sampled drivers, the metrics, or both.")
@click.option("--summary-only", is_flag=True, help="Write no per-trial file; print the summary only.")
@click.option("--repair-correlations", is_flag=True,
              help="Replace a correlation matrix that is not positive semi-definite by the nearest valid one "
                   "(Higham), printing how much each pair moved.")
@click.option("--force", is_flag=True, help="Overwrite an existing result file.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON instead of a table.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar (it is shown only on a terminal anyway).")
@click.option("--report", "with_report", is_flag=True,
              help="Also write the HTML report beside the result (RESULT.html); see `simengine report`.")
@cluster_run_options("a run writes a dataset folder")
@one_line_errors
def run_command(scenario, trials, precision_texts, max_trials, seed, out, threads, sampling, columns, summary_only,
                repair_correlations, force, as_json, quiet, with_report, executor, scheduler, scheduler_file, workers,
                tls_ca_file, tls_cert, tls_key):
    """Simulate SCENARIO (a TOML file or a bundled scenario's name).

    Writes one Parquet row per trial and a .summary.json beside it, then prints the
    summary. Memory stays flat however many trials; a run that fails or is interrupted
    leaves no file behind. An existing result is never overwritten without --force.

    \b
    Example:
      simengine run scenarios/crm_upgrade_phased.toml --trials 1000000 --seed 7
    """
    from .output import check_not_inputs, check_writable, summary_path_for
    from .precision import parse_targets
    from .executors import make_executor
    from .runner import default_output_path
    from .textout import correlation_repair_text, precision_text, run_header, summary_table

    if summary_only and out is not None:
        raise click.UsageError("--out and --summary-only exclude each other: --summary-only writes no file")
    if with_report and summary_only:
        raise click.UsageError("--report needs a result file; it excludes --summary-only")
    if with_report and columns == "drivers":
        raise click.UsageError("--report needs the metrics stored: use --columns all or metrics")
    targets = parse_targets(precision_texts)
    if not targets and click.get_current_context().get_parameter_source("max_trials").name != "DEFAULT":
        raise click.UsageError("--max-trials caps a --precision run; without --precision use --trials")
    if targets and trials is not None:
        raise click.UsageError("--trials and --precision exclude each other: use --max-trials to cap a precision run")
    cluster = cluster_options(executor, scheduler, scheduler_file, workers, tls_ca_file, tls_cert, tls_key, threads)
    if cluster is not None and targets:
        raise click.UsageError("--precision runs on the local executor: give --trials for a cluster run")
    path = resolve_scenario(scenario)
    sc = api.load(path, repair_correlations)
    seed = api.scenario_seed(sc, seed)
    trials = trials if trials is not None else DEFAULT_TRIALS
    if not summary_only and out is None:
        out = default_output_path(path, seed, None if targets else trials, folder=cluster is not None)
    report_path = report_path_for(out) if with_report else None
    if out:  # an empty --out is named as such by the run
        check_not_inputs([out, summary_path_for(Path(str(out))), report_path], [path])
    if report_path is not None:
        check_writable([report_path], force)
    progress = ProgressBar(max_trials if targets else trials, enabled=False if quiet else None)
    runner = make_executor("dask", **cluster) if cluster is not None else None
    with finishing(progress, runner):
        result = api.run(sc, trials=None if targets else trials, seed=seed, out=out, threads=threads, force=force,
                         sampling=sampling, columns=columns, precision=targets, max_trials=max_trials,
                         on_progress=progress, executor=runner)
    if report_path is not None:
        _complete[:] = [str(result.path), str(result.summary_path)]  # whatever befalls the report
        status = StatusLine("Writing the report", enabled=False if quiet else None)
        try:
            result.report(report_path, force=force, on_step=status)
        finally:
            status.close()
        _complete.clear()
        result.report_path = report_path
    if as_json:
        echo_json(result.to_dict())
        exit_if_imprecise(result.summary.to_dict(), result.path is not None)
        return
    if sc.correlation_repairs:
        echo(correlation_repair_text(sc.correlation_repairs))
        echo("")
    echo(f"{run_header(result.summary.to_dict())} {compile_notice.took(result.seconds)}")
    if "precision" in result.summary.to_dict():
        echo(precision_text(result.summary.to_dict()["precision"]))
    echo("")
    echo(summary_table(result.summary.to_dict()))
    echo("")
    if result.path is not None:
        echo(f"Results: {result.path}")
        echo(f"Summary: {result.summary_path}")
    if report_path is not None:
        echo(f"Report:  {report_path}")
    exit_if_imprecise(result.summary.to_dict(), result.path is not None)


def cluster_options(executor, scheduler, scheduler_file, workers, tls_ca_file, tls_cert, tls_key,
                    threads=None) -> dict | None:
    """The DaskExecutor's options from the command line (None for a local run)."""
    given = {"--scheduler": scheduler, "--scheduler-file": scheduler_file, "--workers": workers,
             "--tls-ca-file": tls_ca_file, "--tls-cert": tls_cert, "--tls-key": tls_key}
    if executor != "dask":
        named = [k for k, v in given.items() if v is not None]
        if named:
            raise click.UsageError(f"{named[0]} goes with --executor dask")
        return None
    if threads is not None:
        raise click.UsageError("--threads sets this machine's kernel threads; a cluster run uses one per worker "
                               "process (give --workers instead)")
    tls = (tls_ca_file, tls_cert, tls_key)
    security = None
    if any(v is not None for v in tls):
        if any(v is None for v in tls):
            raise click.UsageError("--tls-ca-file, --tls-cert and --tls-key go together")
        for option, value in zip(("--tls-ca-file", "--tls-cert", "--tls-key"), tls):
            if not os.path.isfile(value):
                raise click.UsageError(f"{option} {value}: no such file")
        from .dask_executor import tls_security

        security = tls_security(*tls)
    return {"scheduler": scheduler, "scheduler_file": scheduler_file, "workers": workers, "security": security}


def report_path_for(out) -> Path:
    """RESULT.html beside a result file or dataset folder (a URI's report needs its own path)."""
    text = str(out)
    if "://" in text:
        raise click.UsageError("--report writes beside the result, and a URI has no beside: run "
                               "`simengine report RESULT --out FILE.html` after the run")
    return Path(text.rstrip("/\\")).with_suffix(".html")


#: Exit status of a `run --precision` whose targets were not met within --max-trials.
PRECISION_NOT_MET = 3


def exit_if_imprecise(summary: dict, wrote_results: bool) -> None:
    """A precision run that stopped at --max-trials short of its targets did not do what was
    asked: its results are kept (they are valid, only less precise), but the exit status says so."""
    precision = summary.get("precision")
    if precision is not None and not precision["met"]:
        kept = ("the results are kept but are" if wrote_results
                else "the summary covers those trials but is")
        echo(f"Error: precision targets not met within --max-trials {precision['max_trials']:,}; {kept} "
             "less precise than asked (raise --max-trials or loosen --precision)", err=True)
        sys.exit(PRECISION_NOT_MET)


@main.command("validate")
@click.argument("scenario")
@click.option("--repair-correlations", is_flag=True,
              help="Show the nearest valid correlation matrix instead of failing on one that is not PSD.")
@one_line_errors
def validate_command(scenario, repair_correlations):
    """Check SCENARIO (or a portfolio file) without running it; prints its drivers when valid.

    \b
    Example:
      simengine validate scenarios/crm_new_small_firm.toml
    """
    from .textout import correlation_repair_text

    portfolio = portfolio_file_of(scenario)
    if portfolio is not None:
        validate_portfolio(portfolio, scenario)
        return
    path = resolve_scenario(scenario)
    sc = api.load(path, repair_correlations)
    if sc.correlation_repairs:
        echo(correlation_repair_text(sc.correlation_repairs))
    drivers = sc.drivers()

    def count(n: int, what: str) -> str:
        return f"{n} {what}" + ("" if n == 1 else "s")

    echo(f"{path}: valid. {sc.name}: {count(len(sc.costs), 'cost item')}, "
               f"{count(len(sc.benefits), 'benefit stream')}, {count(len(sc.events), 'risk event')}, "
               f"{count(len(drivers), 'sampled driver')}.")
    fields = sc.fields()
    for name in drivers:
        dist = fields.get(name)
        if dist is None:  # an event's occurrence: a Bernoulli of its probability
            probability = fields.get(name[:-len(".occurred")] + ".probability")
            dist_text = f"bernoulli(p = {probability.describe() if probability else '?'})"
        else:
            dist_text = dist.describe()
        echo(f"  {name:<48} {dist_text}")
    from .base_case import base_case

    base = base_case(sc)
    if base["go_live_month"] >= sc.horizon_months:
        echo(f"Warning: the base case goes live in month {base['go_live_month']:g}, at or after the "
                   f"{sc.horizon_months}-month horizon: no benefit falls inside it", err=True)


def portfolio_file_of(spec: str) -> Path | None:
    """The portfolio file `spec` names (a bundled portfolio, or a TOML file with [members]), else None."""
    import tomllib

    from .portfolio_file import bundled_portfolios

    if spec in bundled_portfolios() and not Path(spec).exists():
        return bundled_portfolios()[spec]
    path = Path(spec)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None  # the scenario reader reports it
    return path if isinstance(data.get("members"), dict) else None


def validate_portfolio(path: Path, spec: str) -> None:
    """`simengine validate` of a portfolio file: its members, links and budget, when valid."""
    from .portfolio_file import load_portfolio

    pf = load_portfolio(path)
    echo(f"{path}: valid portfolio. {pf.name}: {len(pf.members)} members, {len(pf.shared)} shared drivers, "
         f"{len(pf.correlations)} correlations, budget {'set' if pf.budget.is_set else 'not set'}.")
    for m in pf.members:
        options = "" if m.start_options == (m.start_month,) else f", --optimize may start it in months " \
            f"{', '.join(map(str, m.start_options))}"
        echo(f"  {m.name:<16} {m.source} from month {m.start_month}, scale {m.scale:g}{options}"
             f"{' (required)' if m.required else ''}")
    for s in pf.shared:
        targets = ", ".join(f"{effect} {member}.{column}" for member, column, effect in s.targets())
        echo(f"  shared.{s.name:<9} {s.distribution.describe()}: {targets}")
    echo(f"Run it with: simengine portfolio {spec}")


@main.command("summarize")
@click.argument("result")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--verify", is_flag=True, help="For a dataset folder: first check every part against the sha256 "
              "its manifest lists (reads every byte).")
@one_line_errors
def summarize_command(result, as_json, verify):
    """Recompute the summary of a RESULT (Parquet file or dataset folder) from its stored trials.

    \b
    Example:
      simengine summarize results/crm_upgrade_big_bang-seed1-n100000.parquet
    """
    from .textout import run_header, summary_table

    opened = api.open(api.result_location(result), verify=verify)
    summary = opened.summary.to_dict()
    if verify:
        echo(f"Verified: every part of {opened.path} matches the sha256 its manifest lists", err=True)
    if as_json:
        echo_json(summary)
        return
    echo(run_header(summary))
    echo("")
    echo(summary_table(summary))


@main.command("sensitivity")
@click.argument("source", metavar="RESULT|SCENARIO")
@click.option("--method", type=click.Choice(["rank", "sobol"]), default="rank", show_default=True,
              help="rank: rank correlations and decile swings of a RESULT's stored trials (no simulation); "
                   "sobol: Sobol' indices from (factors + 2) runs of the scenario.")
@click.option("--metric", "-m", type=click.Choice(sensitivity_names()), default="npv", show_default=True,
              help="The metric whose drivers are ranked (sobol: one defined in every trial).")
@click.option("--trials", "-n", type=click.IntRange(2, MAX_SOBOL_TRIALS), default=None,
              help="sobol: trials in each run [default: 8,192].")
@click.option("--seed", "-s", type=click.IntRange(0, 2**63 - 1), default=None,
              help=f"sobol: random seed [default: a RESULT's seed, else the scenario's, else {DEFAULT_SEED}].")
@click.option("--threads", "-t", type=click.IntRange(min=1), default=None,
              help="sobol: kernel threads [default: all cores]. Results are identical for any value.")
@click.option("--top", type=click.IntRange(min=0), default=15, show_default=True,
              help="Drivers to show in the table (0: all); --json always gives all.")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="sobol: no progress bar (shown only on a terminal anyway).")
@cluster_run_options("sobol: its runs go to the cluster together")
@one_line_errors
def sensitivity_command(source, method, metric, trials, seed, threads, top, as_json, quiet, executor, scheduler,
                        scheduler_file, workers, tls_ca_file, tls_cert, tls_key):
    """Which drivers move a metric, from a RESULT's stored trials or by Sobol' indices.

    --method rank (default): for each driver of a RESULT (file or dataset, run with --columns
    all), Spearman rank correlation, share of explained variance, and the swing of the mean
    metric from the driver's bottom to its top decile. No simulation is run.

    --method sobol: first-order and total Sobol' indices with bootstrap intervals, from runs of
    the SCENARIO (or of a RESULT's scenario, with its seed) where one factor's random numbers
    change at a time. Correlated drivers form one factor.

    \b
    Examples:
      simengine sensitivity results/crm_upgrade_big_bang-seed2024-n1000000.parquet --metric npv
      simengine sensitivity crm_upgrade_big_bang --method sobol
    """
    from .textout import sensitivity_table, sobol_table

    if method == "rank":
        named = [name for name, value in (("--trials", trials), ("--seed", seed), ("--threads", threads))
                 if value is not None]
        if named or executor != "local":
            raise click.UsageError(f"{named[0] if named else '--executor'} goes with --method sobol (the rank "
                                   "method reads stored trials)")
        table = api.sensitivity(api.result_location(source), metric).to_dict()
        if as_json:
            echo_json(table)
            return
        echo(sensitivity_table(table, top or None))
        return
    from .executors import make_executor

    cluster = cluster_options(executor, scheduler, scheduler_file, workers, tls_ca_file, tls_cert, tls_key, threads)
    runner = make_executor("dask", **cluster) if cluster is not None else None
    from .sobol import DEFAULT_SOBOL_TRIALS, sobol_factors

    sc, seed = api.sobol_subject(source, seed)
    trials = DEFAULT_SOBOL_TRIALS if trials is None else trials
    total = (len(sobol_factors(sc)) + 2) * trials
    progress = ProgressBar(total, enabled=False if quiet else None)
    status = StatusLine("Sobol' indices", enabled=False if quiet else None)

    def on_progress(done: int) -> None:
        progress(done)
        if done == total:  # the runs are done; SALib's bootstrap takes seconds more
            status("bootstrap intervals of each factor")

    with finishing(progress, runner):
        try:
            result = api.sensitivity(sc, metric, method="sobol", trials=trials, seed=seed, threads=threads,
                                     executor=runner, on_progress=on_progress)
        finally:
            status.close()
    if as_json:
        echo_json(result.to_dict())
        return
    echo(sobol_table(result.to_dict(), top or None))
    from .information_value import is_result

    if is_result(source):
        echo(f"(Simulated anew from the scenario and seed stored in {source}: Sobol' indices need runs of their own.)")


@main.command("value-of-information")
@click.argument("source", metavar="RESULT|SCENARIO")
@click.argument("other", metavar="[B]", required=False)
@click.option("--decision", type=click.Choice(["invest", "compare"]), default=None,
              help="invest: invest in A or not (E[NPV] against 0); compare: choose A or B, common random numbers "
                   "[default: invest, or compare when B is given].")
@click.option("--metric", "-m", type=click.Choice(["npv"]), default="npv", show_default=True,
              help="The net benefit of the decision (money, more is better).")
@click.option("--group", "groups", multiple=True, metavar="DRIVERS",
              help="Also value learning these drivers together: names or patterns separated by commas, e.g. "
                   "'schedule.*' or adoption.ceiling,adoption.ramp_months (repeatable).")
@click.option("--trials", "-n", type=click.IntRange(min=1), default=None,
              help=f"For a scenario: trials simulated here [default: {DEFAULT_TRIALS:,}].")
@click.option("--max-trials", type=click.IntRange(min=1), default=None,
              help="For a result file: use its first trials only [default: 200,000].")
@click.option("--seed", "-s", type=click.IntRange(0, 2**63 - 1), default=None,
              help=f"For a scenario: random seed [default: the scenario's, else {DEFAULT_SEED}].")
@click.option("--threads", "-t", type=click.IntRange(min=1), default=None, help="Kernel threads [default: all cores].")
@click.option("--gp-trials", type=click.IntRange(min=100, max=5000), default=1500, show_default=True,
              help="Trials a group's Gaussian-process regression is fitted on.")
@click.option("--top", type=click.IntRange(min=0), default=15, show_default=True,
              help="Drivers to show (0: all); --json always gives all.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@one_line_errors
def value_of_information_command(source, other, decision, metric, groups, trials, max_trials, seed, threads,
                                 gp_trials, top, as_json):
    """What learning each driver before deciding is worth: EVPI and EVPPI, in money.

    RESULT is a result file (run with --columns all); SCENARIO a scenario file or bundled name,
    simulated here. The decision is to invest or not, or (with B, a second scenario or result)
    to choose A or B. EVPI is what knowing every driver would be worth; each driver's EVPPI
    what knowing that one would be worth: the most a pilot or study of it can be worth.

    \b
    Examples:
      simengine value-of-information crm_upgrade_big_bang --group 'schedule.*'
      simengine value-of-information crm_upgrade_big_bang --decision compare crm_upgrade_phased
    """
    from .textout import voi_table

    result = api.value_of_information(source, other, decision=decision, metric=metric, groups=groups,
                                      trials=trials, seed=seed, max_trials=max_trials, threads=threads,
                                      gp_trials=gp_trials)
    if as_json:
        echo_json(result.to_dict())
        return
    echo(voi_table(result.to_dict(), top or None))


@main.command("compare")
@click.argument("scenario_a")
@click.argument("scenario_b")
@click.option("--trials", "-n", type=click.IntRange(min=1), default=DEFAULT_TRIALS, show_default=True,
              help="Trials for each scenario.")
@click.option("--seed", "-s", type=click.IntRange(0, 2**63 - 1), default=None,
              help=f"Random seed for both [default: A's seed, else {DEFAULT_SEED}].")
@click.option("--threads", "-t", type=click.IntRange(min=1), default=None, help="Kernel threads [default: all cores].")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write an HTML comparison report (both S-curves, the ΔNPV histogram) to this file.")
@click.option("--png-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="With --report: also write its charts as PNG files into this folder.")
@click.option("--force", is_flag=True, help="Overwrite existing report files.")
@one_line_errors
def compare_command(scenario_a, scenario_b, trials, seed, threads, as_json, report_path, png_dir, force):
    """Compare SCENARIO_A with SCENARIO_B using common random numbers.

    Both run with the same seed, and drivers with the same name share their draws, so the
    difference A - B is measured with far less noise than two separate runs. Reports the
    distribution of the NPV difference, how often A beats B, and each one's targets.

    \b
    Example:
      simengine compare crm_upgrade_phased crm_upgrade_big_bang --trials 200000
    """
    from .output import check_not_inputs, check_writable
    from .textout import comparison_table

    path_a, path_b = resolve_scenario(scenario_a), resolve_scenario(scenario_b)
    a, b = api.load(path_a), api.load(path_b)
    if png_dir is not None and report_path is None:
        raise click.UsageError("--png-dir goes with --report")
    if report_path is not None:
        check_not_inputs([report_path], [path_a, path_b])
        check_writable([report_path], force)
    result = api.compare(a, b, trials=trials, seed=seed, threads=threads)
    if report_path is not None:
        written = result.report(report_path, png_dir, force)
    if as_json:
        echo_json(result.to_dict())
        return
    echo(comparison_table(result.to_dict()))
    if report_path is not None:
        echo(f"\nReport: {', '.join(str(p) for p in written)}")


@main.command("portfolio")
@click.argument("portfolio", metavar="FILE")
@click.option("--trials", "-n", type=click.IntRange(min=1), default=DEFAULT_TRIALS, show_default=True,
              help="Trials of the portfolio (with --optimize: the fresh trials each plan is re-estimated on).")
@click.option("--seed", "-s", type=click.IntRange(0, 2**63 - 1), default=None,
              help=f"Random seed [default: the portfolio's seed, else {DEFAULT_SEED}].")
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="PATH",
              help="The per-trial Parquet file [default: results/<file>-seed<S>-n<N>.parquet]; its summary "
                   "(.summary.json) and report (.html) go beside it.")
@click.option("--summary-only", is_flag=True, help="Write no file; print the summary only.")
@click.option("--no-report", is_flag=True, help="Write no HTML report beside the result file.")
@click.option("--threads", "-t", type=click.IntRange(min=1), default=None,
              help="Kernel threads [default: all cores]. Results are identical for any value.")
@click.option("--optimize", is_flag=True, help="Choose the members to fund (and their start months, from each "
              "member's start_options) that maximize expected portfolio NPV under the constraints.")
@click.option("--max-exceedance", type=FiniteFloat(0, 1, max_open=True), default=None, metavar="ALPHA",
              help="With --optimize: P(budget exceeded) must be at most ALPHA [default: the file's "
                   "decision.budget_exceedance_max].")
@click.option("--cvar-floor", type=FiniteFloat(), default=None, metavar="AMOUNT",
              help="With --optimize: CVaR 5 % of portfolio NPV must be at least AMOUNT [default: the file's "
                   "decision.cvar_min].")
@click.option("--saa-trials", type=click.IntRange(100, 20_000), default=2000, show_default=True,
              help="With --optimize: the trials the mixed-integer program chooses on.")
@click.option("--runner-ups", type=click.IntRange(0, 10), default=3, show_default=True,
              help="With --optimize: the next-best plans to report.")
@click.option("--time-limit", type=FiniteFloat(min=1), default=60.0, show_default=True, metavar="SECONDS",
              help="With --optimize: seconds the solver may take in all (small plan spaces are enumerated "
                   "exactly, without a limit).")
@click.option("--force", is_flag=True, help="Overwrite existing result files.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary (or the plans) as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar (it is shown only on a terminal anyway).")
@cluster_run_options("workers compute the trials, this machine summarizes them and writes the file")
@one_line_errors
def portfolio_command(portfolio, trials, seed, out, summary_only, no_report, threads, optimize, max_exceedance,
                      cvar_floor, saa_trials, runner_ups, time_limit, force, as_json, quiet, executor, scheduler,
                      scheduler_file, workers, tls_ca_file, tls_cert, tls_key):
    """Simulate a portfolio of projects (FILE, or a bundled portfolio's name) on one calendar.

    Members run with their own draws, linked only where the file says (shared drivers,
    correlations); one Parquet row per trial holds every member's metrics and the
    portfolio's. Prints the portfolio's NPV, P(NPV < 0), P(budget exceeded), CVaR 5 % with
    each member's contribution, the diversification benefit, and spend by year.

    \b
    Examples:
      simengine portfolio it_portfolio --trials 1000000
      simengine portfolio it_portfolio --optimize --max-exceedance 0.1
    """
    from .output import check_not_inputs, check_writable, summary_path_for
    from .portfolio_file import load_portfolio, resolve_portfolio
    from .portfolio_text import plans_table, portfolio_header, portfolio_table

    optimize_only = {"--max-exceedance": max_exceedance, "--cvar-floor": cvar_floor}
    ctx = click.get_current_context()
    for name in ("saa_trials", "runner_ups", "time_limit"):
        if ctx.get_parameter_source(name).name != "DEFAULT":
            optimize_only["--" + name.replace("_", "-")] = True
    if not optimize:
        given = [k for k, v in optimize_only.items() if v is not None]
        if given:
            raise click.UsageError(f"{given[0]} goes with --optimize")
    if summary_only and out is not None:
        raise click.UsageError("--out and --summary-only exclude each other: --summary-only writes no file")
    cluster = cluster_options(executor, scheduler, scheduler_file, workers, tls_ca_file, tls_cert, tls_key, threads)
    if cluster is not None and optimize:
        raise click.UsageError("--optimize runs on this machine: drop --executor dask")
    path = resolve_portfolio(portfolio)
    pf = load_portfolio(path)
    seed = pf.seed_or_default(seed)
    if optimize:
        if out is not None or summary_only or no_report or force:
            raise click.UsageError("--optimize writes no result file: drop --out, --summary-only, --no-report and "
                                   "--force")
        from .portfolio_optimize import optimize as optimize_plans

        result = optimize_plans(pf, seed=seed, saa_trials=saa_trials, eval_trials=trials,
                                max_exceedance=max_exceedance, cvar_floor=cvar_floor, runner_ups=runner_ups,
                                threads=threads, time_limit=time_limit)
        if as_json:
            echo_json(result)
            return
        echo(plans_table(result, pf.currency))
        return
    from .portfolio_run import run_portfolio

    if not summary_only and out is None:
        out = Path("results") / f"{path.stem}-seed{seed}-n{trials}.parquet"
    report_path = out.with_suffix(".html") if out is not None and not no_report else None
    if out is not None:
        check_not_inputs([out, summary_path_for(out), report_path], [path])
        check_writable([p for p in (out, summary_path_for(out), report_path) if p is not None], force)
    progress = ProgressBar(trials, enabled=False if quiet else None)
    from .executors import make_executor

    runner = make_executor("dask", **cluster) if cluster is not None else None
    with finishing(progress, runner):
        result = run_portfolio(pf, trials=trials, seed=seed, out=out, threads=threads, force=force,
                               on_progress=progress, executor=runner)
    if report_path is not None:
        from .portfolio_report import write_portfolio_report

        write_portfolio_report(report_path, result.summary, result.samples, force=force)
    if as_json:
        echo_json({**result.summary, "result_path": str(out) if out else None,
                   "report_path": str(report_path) if report_path else None})
        return
    echo(f"{portfolio_header(result.summary)} {compile_notice.took(result.seconds)}")
    echo("")
    echo(portfolio_table(result.summary))
    if out is not None:
        echo("")
        echo(f"Results: {out}")
        echo(f"Summary: {result.summary_path}")
    if report_path is not None:
        echo(f"Report:  {report_path}")


@main.command("sweep")
@click.argument("scenario")
@click.option("--set", "set_texts", multiple=True, metavar="PATH=V1,V2,...",
              help="Sweep the scenario's field at this dotted path over these values (repeatable: every "
                   "combination runs, the first --set varying slowest), e.g. schedule.delay_months.max=3,6,9. "
                   "Values are numbers, true/false or text.")
@click.option("--variants", "variants_dir", type=click.Path(path_type=Path), default=None, metavar="DIR",
              help="Instead of --set: run every scenario file (*.toml) of DIR, sorted by name, each a variant "
                   "named by its file stem.")
@click.option("--trials", "-n", type=click.IntRange(min=1), default=DEFAULT_TRIALS, show_default=True,
              help="Trials for each variant.")
@click.option("--seed", "-s", type=click.IntRange(0, 2**63 - 1), default=None,
              help=f"Random seed for every variant [default: the scenario's seed, else {DEFAULT_SEED}].")
@click.option("--sampling", type=click.Choice(SAMPLING_METHODS), default="mc", show_default=True,
              help="Sampling design.")
@click.option("--figure", type=click.Choice(["npv_mean", "p_npv_negative", "p_all_targets"]), default="npv_mean",
              show_default=True, help="The figure that ranks the variants (best marked) and that the charts show.")
@click.option("--out", "-o", type=click.Path(path_type=Path), default=None, metavar="DIR",
              help="Folder for sweep.parquet, sweep.csv, sweep.json and sweep.html "
                   "[default: results/<scenario>-sweep-seed<S>-n<N>/].")
@click.option("--threads", "-t", type=click.IntRange(min=1), default=None,
              help="Kernel threads [default: all cores]. Results are identical for any value.")
@click.option("--force", is_flag=True, help="Overwrite the sweep's existing files in --out.")
@click.option("--json", "as_json", is_flag=True, help="Print the sweep as JSON (every variant's summary) instead "
              "of a table.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar (it is shown only on a terminal anyway).")
@cluster_run_options("every variant's tasks go in one graph")
@one_line_errors
def sweep_command(scenario, set_texts, variants_dir, trials, seed, sampling, figure, out, threads, force, as_json,
                  quiet, executor, scheduler, scheduler_file, workers, tls_ca_file, tls_cert, tls_key):
    """Run SCENARIO over a grid of settings, every variant with the same seed.

    Each --set PATH=V1,V2,... edits the scenario at a dotted path (tables of the file, an
    array entry as [0]); every combination of the values is a variant. All variants are
    validated before any trial runs, then run with common random numbers: the differences
    between them reflect their settings, not sampling noise. Prints one row per variant
    (mean NPV, P(NPV < 0), P(all targets), P80 one-time cost, each with its standard error;
    the best by --figure marked) and writes sweep.parquet, sweep.csv, sweep.json and
    sweep.html (a chart of --figure against each setting) into --out.

    \b
    Examples:
      simengine sweep crm_upgrade_big_bang --set schedule.delay_months.max=3,6,9 \\
          --set adoption.ceiling.mode=0.6,0.8 --trials 20000
      simengine sweep crm_upgrade_big_bang --variants my_alternatives/
    """
    from .executors import make_executor
    from .sweeps import check_sets, default_folder, parse_set, variant_count

    if set_texts and variants_dir is not None:
        raise click.UsageError("--set and --variants exclude each other: sweep settings of SCENARIO, or a folder "
                               "of scenario files")
    if not set_texts and variants_dir is None:
        raise click.UsageError("nothing to sweep: give --set PATH=V1,V2,... (repeatable) or --variants DIR")
    cluster = cluster_options(executor, scheduler, scheduler_file, workers, tls_ca_file, tls_cert, tls_key, threads)
    sets = check_sets([parse_set(text) for text in set_texts]) if set_texts else None
    pairs = [(s.path, list(s.values)) for s in sets] if sets else None
    path = resolve_scenario(scenario)
    base = api.load(path)
    seed = api.scenario_seed(base, seed)
    if out is None:
        out = default_folder(path, seed, trials)
    progress = ProgressBar(trials * variant_count(pairs, variants_dir), enabled=False if quiet else None)
    runner = make_executor("dask", **cluster) if cluster is not None else None
    with finishing(progress, runner):
        result = api.sweep(path, sets=pairs, variants=variants_dir, trials=trials, seed=seed, sampling=sampling,
                           figure=figure, executor=runner, threads=threads, out=out, force=force,
                           on_progress=progress)
    if as_json:
        echo_json(result.to_dict())
        return
    echo(result.text())
    echo("")
    folder = result.paths[0].parent
    echo(f"Written to {folder}{os.sep}: {', '.join(p.name for p in result.paths)}")


@main.command("report")
@click.argument("result")
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The HTML file [default: RESULT with .html].")
@click.option("--png-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write each chart as a PNG file into this folder.")
@click.option("--force", is_flag=True, help="Overwrite existing report files.")
@one_line_errors
def report_command(result, out, png_dir, force):
    """Write a self-contained HTML report of a result file: charts, inputs and summary
    (for a portfolio's result file, the portfolio's page).

    NPV histogram, NPV and ROI S-curves with the targets, the payback curve, a fan chart of
    cumulative cash by month, a tornado chart of the drivers, the inputs as sampled and the
    summary with standard errors. Images are embedded: the page opens offline.

    \b
    Example:
      simengine report results/crm_upgrade_big_bang-seed2024-n1000000.parquet --png-dir charts
    """
    from .output import check_not_inputs, check_writable, is_portfolio_result
    from .stored import open_stored

    portfolio = Path(result).is_file() and is_portfolio_result(Path(result))
    # the input is checked before the output: a page given as RESULT is named as not a result,
    # not as a report that exists already
    stored = None if portfolio else open_stored(api.result_location(result))
    out = out if out is not None else report_path_for(result)
    check_not_inputs([out], [result])
    check_writable([out], force)
    if portfolio:
        from .portfolio_report import report_of_result

        written = report_of_result(Path(result), out, png_dir, force)
        echo(f"Report: {', '.join(str(p) for p in written)}")
        return
    from .report import result_report

    status = StatusLine("Writing the report")
    try:
        written = result_report(stored, on_step=status).write(out, png_dir, force)
    finally:
        status.close()
    echo(f"Report: {', '.join(str(p) for p in written)}")


@main.command("fit")
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--column", "-c", default=None, help="The column to fit [default: the only numeric one].")
@click.option("--families", default=None, help="Comma-separated candidates [default: all: normal, lognormal, "
              "shifted_lognormal, beta, uniform, triangular].")
@click.option("--field", default=None, help="The scenario field the snippet is for (e.g. risks.cost_overrun, "
              "costs.NAME.amount); each fit must pass its validation [default: any finite number].")
@click.option("--json", "as_json", is_flag=True, help="Print the fits as JSON.")
@one_line_errors
def fit_command(data, column, families, field, as_json):
    """Fit distributions to your own history: a column of a CSV or Parquet file.

    Candidates are fitted by maximum likelihood and ranked by AIC; the best one is printed
    as a TOML inline table to paste into a scenario. Empty and unparseable cells are skipped
    and reported; fewer than 10 numbers (5 per fitted parameter) or a constant column is
    refused, and each family that does not apply is named with the reason. Only sound fits
    are ranked: a degenerate fit (a parameter at the edge of its space, an absurd scale), one
    the KS test rejects at p < 0.01 (an optimistic p-value: the parameters were fitted), or
    one whose snippet the scenario validation refuses (as --field) is listed as not fitted.

    \b
    Example:
      simengine fit past_projects.csv --column cost_overrun --field risks.cost_overrun
    """
    from .fitting import check_families, check_field, describe_data, fit_candidates, require_fittable, toml_inline
    from .history import read_column

    names = [f.strip() for f in families.split(",") if f.strip()] if families else None
    check_families(names)
    check_field(field)
    col = read_column(data, column)
    require_fittable(col.values, f"{data}: column {col.name!r}", col.skipped_text())
    fits, not_fitted = fit_candidates(col.values, names, field)
    if not fits:
        reasons = "; ".join(f"{n['family']}: {n['reason']}" for n in not_fitted)
        raise InputError(f"{data}: column {col.name!r}: no candidate family could be fitted ({reasons})")
    if as_json:
        echo_json({"data": str(data), "column": col.name, "values": int(col.values.size), "field": field,
                   "skipped": col.skipped(), "fits": fits, "not_fitted": not_fitted})
        return
    echo(f"{data}, column {col.name}: {describe_data(col.values)}")
    if col.skipped_text():
        echo(col.skipped_text())
    echo("")
    echo(f"  {'family':<18} {'AIC':>12} {'dAIC':>9} {'KS distance':>12}")
    best = fits[0]["aic"]
    for f in fits:
        echo(f"  {f['family']:<18} {f['aic']:>12.2f} {f['aic'] - best:>9.2f} {f['ks_distance']:>12.4f}")
    echo("")
    if not_fitted:
        echo("Not fitted:")
        for n in not_fitted:
            echo(f"  {n['family']:<18} {n['reason']}")
        echo("")
    echo("Best fit (lowest AIC), to paste into a scenario:")
    echo(f"  {toml_inline(fits[0]['distribution'])}")


@main.command("calibrate")
@click.argument("target")
@click.option("--against", default="crm", show_default=True,
              help="For a scenario: the reference class to compare its inputs with.")
@click.option("--json", "as_json", is_flag=True, help="Print the calibration as JSON.")
@one_line_errors
def calibrate_command(target, against, as_json):
    """Check a reference class against its published figures, or a scenario against the evidence.

    TARGET is a reference class (crm, it-all, it-large, it-fat-tail-stress) or a scenario
    (file or bundled name). For a scenario, each input the class given by --against covers
    is compared figure by figure with it, and inputs more optimistic or more pessimistic than
    the evidence are named, with the margin allowed (the figure's tolerance plus four
    standard errors). docs/reference-classes.md lists the classes, their sources and figures.

    \b
    Examples:
      simengine calibrate crm
      simengine calibrate crm_upgrade_big_bang --against it-all
    """
    from .calibrate import calibrate_class, calibrate_scenario
    from .distributions import suggest
    from .reference import presets
    from .textout import calibration_text

    classes = presets()["classes"]
    if target in classes:
        if click.get_current_context().get_parameter_source("against").name != "DEFAULT":
            raise click.UsageError(f"--against goes with a scenario: {target} is a reference class, checked against "
                                   "its own published figures")
        result = calibrate_class(target)
    else:
        if against not in classes:
            raise InputError(f"--against: unknown reference class {against!r}{suggest(against, classes)}; "
                             f"known: {', '.join(classes)}")
        try:
            path = resolve_scenario(target)
        except InputError:
            known = [*classes, *bundled_scenarios()]
            raise InputError(f"{target}: neither a reference class nor a scenario file or bundled scenario"
                             f"{suggest(target, known)}; classes: {', '.join(classes)}") from None
        result = calibrate_scenario(api.load(path), against)
    if as_json:
        echo_json(result)
        return
    echo(calibration_text(result))


@main.command("scenarios")
@one_line_errors
def scenarios_command():
    """List the bundled scenarios and portfolios, one line each.

    \b
    Example:
      simengine scenarios
    """
    from .portfolio_file import bundled_portfolios, load_portfolio

    bundled = bundled_scenarios()
    portfolios = bundled_portfolios()
    width = max(len(name) for name in [*bundled, *portfolios]) + 2
    for name, path in bundled.items():
        try:
            sc = api.load(path)
            line = sc.description.strip().splitlines()[0] if sc.description.strip() else sc.name
        except InputError as exc:
            line = f"(invalid: {exc})"
        echo(f"{name:<{width}}{line}")
    if portfolios:
        echo("\nPortfolios (simengine portfolio NAME):")
        for name, path in portfolios.items():
            try:
                pf = load_portfolio(path)
                line = pf.description.strip().splitlines()[0] if pf.description.strip() else pf.name
            except InputError as exc:
                line = f"(invalid: {exc})"
            echo(f"{name:<{width}}{line}")
