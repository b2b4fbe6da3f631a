"""Result files that are not what simengine wrote: one line and exit status 2, never a traceback
or a silently wrong summary (issue 12)."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from simengine.cli import main


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    path = tmp_path_factory.mktemp("checks") / "run.parquet"
    res = CliRunner().invoke(main, ["run", "crm_new_small_firm", "-n", "300", "-o", str(path), "-q"])
    assert res.exit_code == 0, res.output
    return path


def rewrite(src, dst, change):
    """Write `change(table)` to dst with src's footer metadata (as an editing tool would)."""
    table = pq.read_table(src)
    meta = pq.ParquetFile(src).metadata.metadata
    pq.write_table(change(table).replace_schema_metadata(meta), dst)
    return dst


def string_npv(table):
    i = table.schema.get_field_index("npv")
    return table.set_column(i, "npv", pc.cast(table.column("npv"), pa.string()))


@pytest.mark.parametrize("command", [["summarize"], ["summarize", "--json"], ["report"],
                                     ["sensitivity"], ["sensitivity", "--metric", "npv"]])
@pytest.mark.parametrize("change,message", [
    (string_npv, "column npv holds string, not numbers"),
    (lambda t: t.slice(0, 250), "holds 250 rows but its metadata says 300 trials"),
])
def test_a_changed_file_is_one_line_and_exit_2(stored, tmp_path, command, change, message):
    bad = rewrite(stored, tmp_path / "bad.parquet", change)
    args = [command[0], str(bad), *command[1:]]
    if command[0] == "report":
        args += ["--out", str(tmp_path / "bad.html")]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)  # no traceback
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], res.stderr
    assert not (tmp_path / "bad.html").exists()


def test_the_untouched_file_still_summarizes(stored):
    res = CliRunner().invoke(main, ["summarize", str(stored), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["trials"] == 300


def test_a_file_from_before_a_metric_existed_is_summarized_without_it(stored, tmp_path):
    """Files written by 0.3.0 have no one_time_cost: the summary leaves it out and says so,
    rather than refusing the file or reporting the metric as null in every trial."""
    old = rewrite(stored, tmp_path / "old.parquet", lambda t: t.drop_columns(["one_time_cost"]))
    res = CliRunner().invoke(main, ["summarize", str(old), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert "one_time_cost" not in data["metrics"] and data["metrics_absent"] == ["one_time_cost"]
    want = json.loads(CliRunner().invoke(main, ["summarize", str(stored), "--json"]).stdout)
    assert data["metrics"]["npv"] == want["metrics"]["npv"]
    text = CliRunner().invoke(main, ["summarize", str(old)])
    assert text.exit_code == 0 and "Not in this file (written before simengine had them): one_time_cost" in text.stdout


def test_a_run_the_disk_cannot_hold_is_refused_up_front(tmp_path, monkeypatch):
    """The output size is estimated from trials x columns before any work; a run that cannot
    fit is one line, exit 2, and leaves nothing (not even a temporary file)."""
    from collections import namedtuple

    import simengine.output as output

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(output.shutil, "disk_usage", lambda p: usage(10 * 2**30, 10 * 2**30 - 2**20, 2**20))
    out = tmp_path / "sub" / "big.parquet"
    res = CliRunner().invoke(main, ["run", "crm_upgrade_big_bang", "-n", "200000", "-o", str(out)])
    assert res.exit_code == 2, res.output
    line = res.stderr.strip()
    assert "\n" not in line and "--trials 200,000: the result file would take about" in line
    # sizes in units that show them: 71.9 MiB against 1.0 MiB, not 0.1 against 0.0 GiB
    assert "about 71.9 MiB (58 columns)" in line and "has 1.0 MiB free" in line and "--columns metrics" in line
    assert not out.parent.exists() or not any(out.parent.iterdir())
    # A run that fits (1 MiB holds 2,000 trials of 14 metric columns) goes ahead.
    ok = CliRunner().invoke(main, ["run", "crm_upgrade_big_bang", "-n", "2000", "--columns", "metrics", "-o", str(out)])
    assert ok.exit_code == 0, ok.output


def with_metadata(src, dst, **changes):
    """src rewritten with some simengine.* metadata values replaced."""
    table = pq.read_table(src)
    meta = dict(pq.ParquetFile(src).metadata.metadata)
    for key, value in changes.items():
        meta[f"simengine.{key}".encode()] = value.encode()
    pq.write_table(table.replace_schema_metadata(meta), dst)
    return dst


@pytest.mark.parametrize("changes,message", [
    ({"scenario": "{not json"}, "metadata simengine.scenario is not valid JSON"),
    ({"scenario": json.dumps({"name": "x", "horizon_months": -3})}, "metadata simengine.scenario does not validate"),
    ({"seed": "abc"}, "metadata simengine.seed is 'abc', not a whole number"),
    ({"seed": "-5"}, "metadata simengine.seed is -5, outside 0 .. 2^63 - 1"),
    ({"schema_version": "99"}, "written by a newer simengine (result schema 99; this version reads schema 1)"),
    ({"schema_version": "one"}, "metadata simengine.schema_version is 'one', not a whole number"),
    ({"sampling": "magic"}, "metadata simengine.sampling is 'magic', not one of"),
])
@pytest.mark.parametrize("command", ["summarize", "sensitivity", "report"])
def test_changed_metadata_is_one_line_and_exit_2(stored, tmp_path, changes, message, command):
    bad = with_metadata(stored, tmp_path / "meta.parquet", **changes)
    args = [command, str(bad)] + (["--out", str(tmp_path / "r.html")] if command == "report" else [])
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], res.stderr


def test_an_empty_out_path_is_a_usage_error(tmp_path):
    res = CliRunner().invoke(main, ["run", "deterministic_example", "-n", "10", "--out", ""])
    assert res.exit_code == 2 and "--out: '.' is not a file name" in res.stderr, res.output


def test_max_trials_without_precision_is_refused():
    res = CliRunner().invoke(main, ["run", "deterministic_example", "--max-trials", "100", "--summary-only"])
    assert res.exit_code == 2 and "--max-trials caps a --precision run" in res.output


@pytest.mark.parametrize("kwargs,message", [
    ({"precision": {"npv_man": 5}}, "unknown estimate 'npv_man'"),
    ({"precision": {"npv_mean": -5}}, "must be a finite number > 0"),
    ({"precision": {"npv_mean": "x"}}, "'x' is not a number"),
    ({"trials": "10"}, "trials: must be a whole number, got '10'"),
    ({"trials": 10.5}, "trials: must be a whole number, got 10.5"),
    ({"seed": True}, "seed: must be a whole number"),
])
def test_the_python_api_checks_what_the_cli_checks(kwargs, message):
    import simengine
    from simengine.errors import InputError

    with pytest.raises(InputError, match=message):
        simengine.run("deterministic_example", **kwargs)


def test_the_python_api_says_whether_precision_was_met():
    import simengine

    result = simengine.run("crm_new_small_firm", precision={"npv_mean": 1.0}, max_trials=5000)
    assert result.precision["met"] is False and result.precision["trials_used"] == 5000
    assert simengine.run("deterministic_example", trials=1e3).precision is None


@pytest.mark.parametrize("command", ["summarize", "report", "sensitivity", "value-of-information"])
def test_a_column_its_metadata_says_was_stored_is_missing(stored, tmp_path, command):
    """npv dropped from a --columns all file: named as an older or changed file, not as a run
    with other --columns (which it was not)."""
    bad = rewrite(stored, tmp_path / "nonpv.parquet", lambda t: t.drop_columns(["npv"]))
    res = CliRunner().invoke(main, [command, str(bad)])
    assert res.exit_code == 2 and res.stderr.count("\n") == 1, res.output
    assert "its metadata says --columns all, yet it has no column npv: it was written by an older simengine or " \
           "changed since" in res.stderr
