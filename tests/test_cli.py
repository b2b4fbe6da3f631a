"""The CLI through Click's CliRunner: runs, validation, summaries, and every class of bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from simengine.bundled import bundled_scenarios
from simengine.cli import main

DET = str(bundled_scenarios()["deterministic_example"])

GOOD = """
name = "cli test"
discount_rate = 0.08
[schedule]
planned_months = { dist = "triangular", min = 3, mode = 5, max = 9 }
[costs.integration]
timing = "implementation"
amount = { dist = "pert", min = 100000, mode = 150000, max = 260000 }
[benefits.streams.productivity]
amount = 150000
[decision]
payback_months_max = 24
"""


@pytest.fixture
def runner():
    return CliRunner()


def write(tmp_path: Path, text: str, name="s.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def files_in(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_run_writes_result_and_summary_and_prints_table(runner, tmp_path):
    scen = write(tmp_path, GOOD)
    out = tmp_path / "out" / "r.parquet"
    res = runner.invoke(main, ["run", str(scen), "-n", "2000", "--seed", "4", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert out.exists() and (tmp_path / "out" / "r.summary.json").exists()
    for text in ("NPV (EUR)", "P(NPV < 0)", "payback <= 24 months", "Results: ", "P50", "seed 4"):
        assert text in res.stdout
    assert not any(p.name.endswith(".partial") for p in out.parent.iterdir())
    from simengine.output import _current_umask
    assert out.stat().st_mode & 0o777 == 0o666 & ~_current_umask()  # as a plain open() would make it


def test_run_default_output_path_is_printed(runner, tmp_path, monkeypatch):
    scen = write(tmp_path, GOOD)
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(main, ["run", str(scen), "-n", "500"])
    assert res.exit_code == 0, res.output
    assert "Results: results/s-seed1-n500.parquet" in res.stdout
    assert (tmp_path / "results" / "s-seed1-n500.parquet").exists()


def test_run_json_and_summarize_agree(runner, tmp_path):
    scen = write(tmp_path, GOOD)
    out = tmp_path / "r.parquet"
    res = runner.invoke(main, ["run", str(scen), "-n", "3000", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    printed = json.loads(res.stdout)
    stored = json.loads((tmp_path / "r.summary.json").read_text())
    res2 = runner.invoke(main, ["summarize", str(out), "--json"])
    assert res2.exit_code == 0, res2.output
    recomputed = json.loads(res2.stdout)
    assert recomputed == stored
    assert {k: printed[k] for k in stored} == stored
    table = runner.invoke(main, ["summarize", str(out)])
    assert table.exit_code == 0 and "NPV (EUR)" in table.stdout


def test_run_a_bundled_scenario_by_name(runner, tmp_path):
    res = runner.invoke(main, ["run", "deterministic_example", "-n", "10", "--out", str(tmp_path / "d.parquet")])
    assert res.exit_code == 0, res.output
    assert "66,839" in res.stdout


def test_validate_lists_drivers(runner, tmp_path):
    res = runner.invoke(main, ["validate", str(write(tmp_path, GOOD))])
    assert res.exit_code == 0, res.output
    assert "valid" in res.stdout and "costs.integration.amount" in res.stdout and "pert(" in res.stdout


def test_scenarios_lists_every_bundled_file(runner):
    res = runner.invoke(main, ["scenarios"])
    assert res.exit_code == 0
    for name in bundled_scenarios():
        assert name in res.stdout


BAD = [
    ("missing file", None, "no such scenario file"),
    ("bad toml", "name = \"x\"\n[schedule\n", "invalid TOML"),
    ("unknown key", GOOD.replace("timing =", "timming =", 1),
     'costs.integration.timming: unknown key (did you mean "timing"?)'),
    ("bad parameter", GOOD.replace("min = 100000, mode = 150000, max = 260000", "min = 200, mode = 150, max = 100"),
     "costs.integration.amount: max 100 is below min 200"),
    ("bad support", GOOD.replace("amount = 150000", 'amount = { dist = "normal", mean = 1e5, sd = 5e4 }'),
     "benefits.streams.productivity.amount: normal support [-inf, inf] breaks the bound: must be >= 0"),
    ("probability", GOOD + "[events.x]\nprobability = 1.2\n", "events.x.probability: must be >= 0 and <= 1, got 1.2"),
    ("phase shares", GOOD + "[adoption]\nphases = [{share = 0.5}, {share = 0.4, offset_months = 3}]\n",
     "adoption.phases: shares must sum to 1, they sum to 0.9"),
    ("labor on recurring", GOOD + "[costs.ops]\ntiming = \"recurring\"\namount = 1\nlabor = true\n",
     "costs.ops.labor: only upfront, implementation and rollout items count as initial labor"),
]


@pytest.mark.parametrize("label,text,message", BAD, ids=[b[0] for b in BAD])
def test_bad_input_gives_one_line_and_exit_2_and_writes_nothing(runner, tmp_path, label, text, message):
    scen = tmp_path / "missing.toml" if text is None else write(tmp_path, text)
    out = tmp_path / "o" / "r.parquet"
    for args in (["run", str(scen), "-n", "100", "--out", str(out)], ["validate", str(scen)]):
        res = runner.invoke(main, args)
        assert res.exit_code == 2, (args, res.output)
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1, res.stderr
        assert lines[0].startswith("Error: ") and message in lines[0], lines[0]
        assert "Traceback" not in res.output
    assert not (tmp_path / "o").exists()


def test_existing_output_is_not_overwritten(runner, tmp_path):
    scen = write(tmp_path, GOOD)
    out = tmp_path / "r.parquet"
    out.write_bytes(b"precious")
    res = runner.invoke(main, ["run", str(scen), "-n", "100", "--out", str(out)])
    assert res.exit_code == 2
    assert res.stderr.strip() == f"Error: {out}: already exists; use --force to overwrite it"
    assert out.read_bytes() == b"precious"
    assert files_in(tmp_path) == ["r.parquet", "s.toml"]
    forced = runner.invoke(main, ["run", str(scen), "-n", "100", "--out", str(out), "--force"])
    assert forced.exit_code == 0 and out.read_bytes()[:4] == b"PAR1"


def test_bad_options_exit_2(runner, tmp_path):
    scen = write(tmp_path, GOOD)
    for args in (["run", str(scen), "-n", "0"], ["run", str(scen), "--threads", "999"],
                 ["run", str(scen), "--sampling", "magic"], ["summarize", str(tmp_path / "nope.parquet")],
                 ["summarize", str(scen)], ["run", "no_such_bundled_scenario"]):
        res = runner.invoke(main, args)
        assert res.exit_code == 2, (args, res.output)
        assert "Traceback" not in res.output
    assert files_in(tmp_path) == ["s.toml"]


def test_every_command_is_documented_in_the_readme():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for name in main.commands:
        assert f"simengine {name}" in readme, name


# --- stored columns, summary-only runs, progress -------------------------------------------

@pytest.mark.parametrize("columns", ["all", "metrics", "drivers"])
def test_columns_choose_what_is_stored(runner, tmp_path, columns):
    import pyarrow.parquet as pq

    from simengine.kernels.cashflows import METRICS
    from simengine.scenario import load_scenario

    scen = write(tmp_path, GOOD)
    out = tmp_path / "r.parquet"
    res = runner.invoke(main, ["run", str(scen), "-n", "3000", "--out", str(out), "--columns", columns])
    assert res.exit_code == 0, res.output
    names = pq.read_schema(out).names
    drivers = load_scenario(scen).drivers()
    assert names[0] == "trial"
    assert all(d in names for d in drivers) == (columns in ("all", "drivers"))
    assert all(m in names for m in METRICS) == (columns in ("all", "metrics"))
    assert pq.read_metadata(out).num_rows == 3000
    summarized = runner.invoke(main, ["summarize", str(out), "--json"])
    if columns == "drivers":
        assert summarized.exit_code == 2  # an input problem: the file has no metrics
        assert "summarize needs metrics stored" in summarized.output
    else:
        assert summarized.exit_code == 0
        assert json.loads(summarized.stdout)["metrics"] == json.loads((tmp_path / "r.summary.json").read_text())["metrics"]


def test_summary_only_writes_nothing_and_gives_the_same_summary(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    scen = write(tmp_path, GOOD)
    only = runner.invoke(main, ["run", str(scen), "-n", "3000", "--summary-only", "--json"])
    assert only.exit_code == 0, only.output
    assert files_in(tmp_path) == ["s.toml"]
    full = runner.invoke(main, ["run", str(scen), "-n", "3000", "--json", "--out", "r.parquet"])
    a, b = json.loads(only.stdout), json.loads(full.stdout)
    assert a["result_path"] is None and b["result_path"] == "r.parquet"
    for key in ("metrics", "p_npv_negative", "cvar5_npv", "targets"):
        assert a[key] == b[key]


def test_summary_only_and_out_exclude_each_other(runner, tmp_path):
    res = runner.invoke(main, ["run", DET, "--summary-only", "--out", str(tmp_path / "x.parquet")])
    assert res.exit_code == 2
    assert files_in(tmp_path) == []


def test_no_progress_output_when_stderr_is_not_a_terminal(runner, tmp_path):
    res = runner.invoke(main, ["run", DET, "-n", "2000", "--summary-only"])
    assert res.exit_code == 0
    assert res.stderr == ""


def test_progress_bar_draws_on_a_terminal_and_not_with_quiet():
    import io

    from simengine.progress import ProgressBar, progress_text

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    bar = ProgressBar(1_000_000, stream=term, delay=0.0, interval=0.0)
    bar(250_000)
    bar(1_000_000)
    bar.close()
    drawn = term.getvalue()
    assert "250,000/1,000,000 trials" in drawn and "ETA" in drawn and "/s" in drawn
    assert drawn.endswith("\r\x1b[K")  # the line is cleared at the end
    quiet = Terminal()
    muted = ProgressBar(1_000_000, stream=quiet, enabled=False, delay=0.0, interval=0.0)
    muted(500_000)
    muted.close()
    assert quiet.getvalue() == ""
    # short runs stay silent: nothing before the delay
    late = Terminal()
    ProgressBar(10, stream=late, delay=60.0)(5)
    assert late.getvalue() == ""
    assert progress_text(5, 10, 1.0).startswith("[############............]  50%")


def test_cli_results_are_identical_for_one_and_two_threads(runner, tmp_path):
    import pyarrow.parquet as pq

    from simengine.jit import max_threads
    if max_threads() < 2:
        pytest.skip("needs 2 cores")
    outs = []
    for threads in ("1", "2"):
        out = tmp_path / f"t{threads}.parquet"
        res = runner.invoke(main, ["run", "crm_upgrade_phased", "-n", "5000", "--threads", threads, "--out", str(out)])
        assert res.exit_code == 0, res.output
        outs.append(pq.read_table(out))
    assert outs[0].equals(outs[1])


@pytest.mark.parametrize("args,message", [
    (["run", "crm_upgrade_big_bang", "--trials", "0"], "Invalid value for '--trials' / '-n': 0 is not in the range"),
    (["run", "crm_upgrade_big_bang", "--sampling", "foo"], "Invalid value for '--sampling'"),
    (["run"], "Missing argument 'SCENARIO'"),
    (["sensitivity", "x.parquet", "--metric", "nvp"], "Invalid value for '--metric'"),
    (["nosuch"], "No such command 'nosuch'"),
])
def test_usage_errors_are_one_line_with_exit_2(args, message):
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], res.stderr
    assert "--help" in lines[0] and res.stdout == ""


def test_help_and_version_still_exit_0():
    assert CliRunner().invoke(main, ["--help"]).exit_code == 0
    assert CliRunner().invoke(main, ["run", "--help"]).exit_code == 0
    assert CliRunner().invoke(main, ["--version"]).exit_code == 0


def test_validate_counts_in_words_shows_event_probabilities_and_warns_of_a_late_go_live(tmp_path):
    late = tmp_path / "late.toml"
    late.write_text('name = "late"\ndiscount_rate = 0.05\nhorizon_months = 6\n[schedule]\nplanned_months = 12\n'
                    '[costs.a]\ntiming = "upfront"\namount = 5\n[benefits.streams.b]\namount = 10\n')
    res = CliRunner().invoke(main, ["validate", str(late)])
    assert res.exit_code == 0
    assert "late: 1 cost item, 1 benefit stream, 0 risk events, 0 sampled drivers." in res.stdout
    assert "Warning: the base case goes live in month 12, at or after the 6-month horizon" in res.stderr
    bb = CliRunner().invoke(main, ["validate", "crm_upgrade_big_bang"])
    assert "events.data_migration_failure.occurred           bernoulli(p = fixed(value=0.25))" in bb.stdout
    assert bb.stderr == ""


def test_scenarios_keeps_a_gap_after_the_longest_name():
    lines = [line for line in CliRunner().invoke(main, ["scenarios"]).stdout.splitlines()
             if line and not line.startswith("Portfolios")]
    assert all(line[len(line.split()[0]):len(line.split()[0]) + 2] == "  " for line in lines)
    assert any(line.startswith("crm_upgrade_big_bang_evidence  CRM upgrade") for line in lines)


def test_values_that_round_to_zero_show_no_sign():
    from simengine.textout import correlation_repair_text, fmt_value

    assert [fmt_value(-0.0001, "percent"), fmt_value(-0.4, "money"), fmt_value(-0.001, "ratio")] == ["0.0%", "0", "0.00"]
    assert fmt_value(-12.5, "money") == "-12"
    line = correlation_repair_text([("a", "b", 0.5, 0.4999999)]).splitlines()[-1]
    assert line.split()[-1] == "0.000"


# --- the compile notice (compile_notice.py) ---------------------------------------------------------

NOTICE = "simengine: compiling the kernels for this machine (once, cached afterwards)..."


def fake_compiles(monkeypatch, seconds: list[float], fail: bool = False):
    """api.run as on a cold numba cache: the compile hooks fire (as numba's compile events would
    on cache misses) before the run; with `fail`, the run then fails with an input error."""
    import simengine.api
    from simengine import jit
    from simengine.errors import InputError

    real = simengine.api.run

    def run(*args, **kwargs):
        for s in seconds:
            for hook in list(jit.compile_hooks):
                hook(None)
            for hook in list(jit.compile_hooks):
                hook(s)
        if fail:
            raise InputError("the disk is full")
        return real(*args, **kwargs)

    monkeypatch.setattr(simengine.api, "run", run)


def test_a_cold_cache_is_announced_once_on_stderr_with_the_compile_time(monkeypatch):
    fake_compiles(monkeypatch, [30.2, 10.9])
    res = CliRunner().invoke(main, ["run", DET, "-n", "200", "--summary-only", "--json"])
    assert res.exit_code == 0, res.output
    assert res.stderr == NOTICE + " done in 41 s\n"
    json.loads(res.stdout)  # stdout is the JSON alone
    res = CliRunner().invoke(main, ["run", DET, "-n", "200", "--summary-only"])
    assert res.output.startswith(NOTICE + " done in 41 s\nDeterministic example: 200 trials")  # a whole line
    # the header's time says how much of it was the one-time compile
    assert re.search(r"\(\d+\.\d s, of which 41 s compiling the kernels, once\)\n", res.stdout)


def test_a_warm_cache_prints_nothing_and_short_compiles_show_tenths(monkeypatch):
    res = CliRunner().invoke(main, ["run", DET, "-n", "200", "--summary-only"])
    assert res.exit_code == 0 and res.stderr == ""
    fake_compiles(monkeypatch, [0.42])
    res = CliRunner().invoke(main, ["run", DET, "-n", "200", "--summary-only"])
    assert res.stderr == NOTICE + " done in 0.4 s\n"
    assert re.search(r"200 trials, .* \(\d+\.\d s\)\n", res.stdout)  # under half a second is not worth a word


def test_the_notice_line_is_closed_before_an_error(monkeypatch):
    fake_compiles(monkeypatch, [12.0], fail=True)
    res = CliRunner().invoke(main, ["run", DET, "-n", "200", "--summary-only"])
    assert res.exit_code == 2
    assert res.stderr == NOTICE + " done in 12 s\nError: the disk is full\n"


def test_the_status_line_redraws_each_step_on_a_terminal_and_nothing_elsewhere():
    import io

    from simengine.progress import StatusLine

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    status = StatusLine("Writing the report", stream=term)
    status("charts", 2, 5)
    status("inputs", 5, 5)
    status.close()
    status.close()  # a second close writes nothing more
    assert term.getvalue() == ("\rWriting the report (2 of 5): charts...\x1b[K"
                               "\rWriting the report (5 of 5): inputs...\x1b[K\r\x1b[K")
    uncounted = Terminal()
    StatusLine("Sobol' indices", stream=uncounted)("bootstrap")
    assert uncounted.getvalue() == "\rSobol' indices: bootstrap...\x1b[K"
    for stream, enabled in ((io.StringIO(), None), (Terminal(), False)):  # not a terminal; --quiet
        muted = StatusLine("Writing the report", stream=stream, enabled=enabled)
        muted("charts", 1, 1)
        muted.close()
        assert stream.getvalue() == ""
    never_drawn = Terminal()
    StatusLine("x", stream=never_drawn).close()
    assert never_drawn.getvalue() == ""


def test_on_a_terminal_the_notice_replaces_a_drawn_status_line():
    """A compile that starts while a status line is drawn (a report's step) clears that line
    first, so that the notice starts a line of its own; off a terminal nothing is cleared."""
    import io

    from simengine import compile_notice
    from simengine.progress import StatusLine

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    with compile_notice.watching(term) as notice:
        StatusLine("Writing the report", stream=term)("charts", 2, 5)
        notice(None)
        notice(2.0)
    assert term.getvalue() == ("\rWriting the report (2 of 5): charts...\x1b[K"
                               "\r\x1b[K" + NOTICE + " done in 2 s\n")


def test_the_progress_bar_closes_the_notice_before_drawing():
    import io

    from simengine import compile_notice
    from simengine.progress import ProgressBar

    stream = io.StringIO()
    with compile_notice.watching(stream) as notice:
        notice(None)
        notice(3.0)
        ProgressBar(100, stream=stream, enabled=True, delay=0.0)(50)
        notice(None)  # a later compile: no second notice
        notice(1.0)
    text = stream.getvalue()
    assert text.startswith(NOTICE + " done in 3 s\n\r[") and text.count(NOTICE) == 1


def test_an_output_that_is_the_commands_input_is_refused_even_with_force(tmp_path, monkeypatch):
    """--out naming the scenario, a report named like its result, a comparison's page named like a
    scenario (directly or through a link): one line, exit 2, and the input left as it was."""
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    scenario = tmp_path / "in.toml"
    text = (Path(bundled_scenarios()["crm_new_small_firm"])).read_text()
    scenario.write_text(text)
    (tmp_path / "link.toml").symlink_to(scenario)
    result = tmp_path / "r.parquet"
    assert runner.invoke(main, ["run", str(scenario), "--trials", "500", "--out", str(result), "-q"]).exit_code == 0
    before = result.read_bytes()
    attempts = [
        ["run", str(scenario), "--trials", "500", "--out", str(scenario), "--force"],
        ["run", "link.toml", "--trials", "500", "--out", str(scenario), "--force"],
        ["report", str(result), "--out", str(result), "--force"],
        ["compare", "crm_new_small_firm", str(scenario), "--trials", "500", "--report", "link.toml", "--force"],
    ]
    for args in attempts:
        refused = runner.invoke(main, args)
        assert refused.exit_code == 2, (args, refused.output)
        assert refused.stderr.count("\n") == 1 and "is this command's input" in refused.stderr, refused.stderr
    assert scenario.read_text() == text and result.read_bytes() == before
    assert not (tmp_path / "in.summary.json").exists() and not (tmp_path / "in.html").exists()


def test_terminal_controls_in_what_a_user_gave_are_shown_escaped():
    """A path, file name or CSV header holding ESC, BEL or a bidi override reaches the terminal as
    escapes (\\x1b, \\u202e), never as commands; line feeds and tabs stay."""
    from simengine.cli import terminal_safe

    assert terminal_safe("a\x1b]0;T\x07b\x9bc\u202ed\n\te") == "a\\x1b]0;T\\x07b\\x9bc\\u202ed\n\te"
    assert terminal_safe("plain café ±1,000") == "plain café ±1,000"
    runner = CliRunner()
    missing = runner.invoke(main, ["summarize", "x\x1b[2J\x1b]0;PWNED\x07.parquet"])
    assert missing.exit_code == 2 and "\x1b" not in missing.stderr and "\x07" not in missing.stderr
    assert "x\\x1b[2J\\x1b]0;PWNED\\x07.parquet" in missing.stderr


def test_a_variant_file_named_with_a_control_character_is_refused(tmp_path):
    folder = tmp_path / "variants"
    folder.mkdir()
    text = Path(bundled_scenarios()["crm_new_small_firm"]).read_text()
    (folder / "a.toml").write_text(text)
    (folder / "b\x1b[31m.toml").write_text(text)
    refused = CliRunner().invoke(main, ["sweep", "crm_new_small_firm", "--variants", str(folder), "--trials", "500",
                                        "--out", str(tmp_path / "out")])
    assert refused.exit_code == 2 and refused.stderr.count("\n") == 1, refused.output
    assert "contains the control character U+001B (ESC)" in refused.stderr and "\x1b" not in refused.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("failure, status", [(OSError(28, "No space left on device", "r.html"), 1),
                                             (KeyboardInterrupt(), 130)])
def test_a_report_that_fails_after_the_run_names_the_complete_result(tmp_path, monkeypatch, failure, status):
    """The result and its summary are complete before `run --report` writes the page: when the page
    fails or is interrupted, the message says so instead of "no result file was written"."""
    import simengine.report

    def fail(*args, **kwargs):
        raise failure

    monkeypatch.setattr(simengine.report, "result_report", fail)
    out = tmp_path / "r.parquet"
    stopped = CliRunner().invoke(main, ["run", "crm_new_small_firm", "--trials", "500", "--out", str(out),
                                        "--report"])
    assert stopped.exit_code == status, stopped.output
    assert f"the report was not written; the result ({out}, {tmp_path / 'r.summary.json'}) is complete" \
        in stopped.stderr
    assert "no result file was written" not in stopped.stderr
    assert out.exists() and (tmp_path / "r.summary.json").exists() and not (tmp_path / "r.html").exists()


def test_an_output_that_cannot_be_written_is_refused_before_any_trial(tmp_path, monkeypatch):
    """Under a file, or in a folder that takes no new file: one line, exit 2, before the run."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("x")
    runner = CliRunner()
    under_file = runner.invoke(main, ["run", "crm_new_small_firm", "--trials", "500", "--out", "afile/x.parquet"])
    assert under_file.exit_code == 2 and under_file.stderr.count("\n") == 1, under_file.output
    assert "afile/x.parquet: cannot be written: afile is a file, not a folder" in under_file.stderr
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    locked = runner.invoke(main, ["compare", "crm_new_small_firm", "crm_new_small_firm", "--trials", "500",
                                  "--report", "cmp.html"])
    assert locked.exit_code == 2 and "cmp.html: cannot be written in . (Permission denied)" in locked.stderr
    assert locked.stdout == "" and not (tmp_path / "cmp.html").exists()


def test_sizes_in_messages_have_units_that_show_them():
    from simengine.output import _size

    assert [_size(x) for x in (512, 3 * 2**20 + 2**19, 5 * 2**30)] == ["1 KiB", "3.5 MiB", "5.0 GiB"]


def test_a_result_file_given_as_a_scenario_is_named_as_a_result(tmp_path):
    """compare, portfolio and validate read TOML: a Parquet result given by mistake is named as one,
    and other binary files as not UTF-8 text, each in one line with exit 2."""
    result = tmp_path / "r.parquet"
    runner = CliRunner()
    assert runner.invoke(main, ["run", "crm_new_small_firm", "--trials", "500", "--out", str(result),
                                "-q"]).exit_code == 0
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe\x00 not text")
    for args, words in ((["compare", str(result), "crm_new_small_firm"], "a Parquet file (a result), not a TOML"),
                        (["portfolio", str(result)], "a Parquet file (a result), not a TOML"),
                        (["validate", str(tmp_path / "bin.toml")], "not a TOML file: it is not UTF-8 text")):
        refused = runner.invoke(main, args)
        assert refused.exit_code == 2 and refused.stderr.count("\n") == 1 and words in refused.stderr, refused.output


@pytest.mark.parametrize("option, value", [("--max-exceedance", "nan"), ("--cvar-floor", "nan"),
                                           ("--cvar-floor", "-inf"), ("--time-limit", "inf")])
def test_float_options_must_be_finite(option, value):
    refused = CliRunner().invoke(main, ["portfolio", "it_portfolio", "--optimize", option, value])
    assert refused.exit_code == 2 and refused.stderr.count("\n") == 1, refused.output
    assert f"Invalid value for '{option}': '{value}' is not a finite number" in refused.stderr


def test_calibrate_against_goes_with_a_scenario_only():
    refused = CliRunner().invoke(main, ["calibrate", "crm", "--against", "it-all"])
    assert refused.exit_code == 2 and "--against goes with a scenario: crm is a reference class" in refused.stderr


def test_a_folder_is_probed_once_for_several_outputs(tmp_path, monkeypatch):
    import tempfile

    from simengine.output import check_writable

    calls = []
    real = tempfile.mkstemp
    monkeypatch.setattr(tempfile, "mkstemp", lambda *a, **k: calls.append(k["dir"]) or real(*a, **k))
    check_writable([tmp_path / "r.html", tmp_path / "pngs" / "a.png", tmp_path / "pngs" / "b.png"], force=False)
    assert calls == [tmp_path] and list(tmp_path.iterdir()) == []  # the probe is gone


def test_no_help_page_shows_a_range_or_default_of_none():
    """Every command's --help reads as written: an unbounded number option shows no `[x<=None]`."""
    for name in main.list_commands(None):
        res = CliRunner().invoke(main, [name, "--help"])
        assert res.exit_code == 0, name
        assert "None]" not in res.output and "=None" not in res.output, (name, res.output)


def test_the_readmes_command_list_names_every_option_of_every_command():
    """The README's "The commands" block lists each command with every option its --help has
    (`[--executor dask ...]` standing for the cluster options that `run` spells out)."""
    cluster = {"--scheduler", "--scheduler-file", "--workers", "--tls-ca-file", "--tls-cert", "--tls-key"}
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = readme.split("## The commands", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    listed: dict[str, str] = {}
    name = None
    for line in block.splitlines():
        if line.startswith("simengine "):
            name = line.split()[1]
        if name is not None:
            listed[name] = listed.get(name, "") + " " + line.split("#", 1)[0]
    assert set(listed) == set(main.list_commands(None))
    for name, text in listed.items():
        help_text = CliRunner().invoke(main, [name, "--help"]).output
        options = set(re.findall(r"^  (?:-\w, )?(--[a-z][a-z-]*)", help_text, flags=re.M)) - {"--help"}
        if "[--executor dask ...]" in text:
            options -= cluster
        missing = sorted(o for o in options if not re.search(re.escape(o) + r"(?![a-z-])", text))
        assert not missing, (name, missing)
