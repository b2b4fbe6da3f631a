"""`simengine sweep`: a grid of settings (or a folder of scenario files), every variant with one seed.

A sweep's figures are exactly those of separate runs of each variant; common random numbers
make a setting that cannot move NPV leave it bit for bit the same, and a fixed cost raised
by d lower every trial's NPV by d. Bad input is one line and exit status 2 with nothing
written; the outputs read back typed, and the page escapes a hostile scenario.
"""

from __future__ import annotations

import csv
import json
import re
import tomllib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import simengine
from simengine.bundled import bundled_scenarios
from simengine.cli import main
from simengine.errors import InputError
from simengine.scenario import parse_scenario
from simengine.sweeps import OUTPUT_FILES, check_sets, parse_set, parse_value, read_sweep

BIG_BANG = bundled_scenarios()["crm_upgrade_big_bang"]
TRIALS = 3_000
SEED = 5

SMALL = """
name = "sweep test"
description = "A small case for the sweep tests."
discount_rate = 0.08
horizon_months = 36
[schedule]
planned_months = { dist = "triangular", min = 3, mode = 5, max = 9 }
delay_months = { dist = "pert", min = 0, mode = 1, max = 4 }
delay_cost_per_month = 10000
[costs.licences]
timing = "upfront"
amount = 50000
overrun = false
[costs.integration]
timing = "implementation"
amount = { dist = "pert", min = 100000, mode = 150000, max = 260000 }
[risks]
cost_overrun = { dist = "pert", min = 0.0, mode = 0.2, max = 0.6 }
[adoption]
ceiling = { dist = "pert", min = 0.5, mode = 0.8, max = 1.0 }
ramp_months = 6
phases = [ { share = 1.0, offset_months = 0 } ]
[benefits.streams.productivity]
amount = { dist = "pert", min = 90000, mode = 150000, max = 240000 }
[decision]
roi_min = 0.2
payback_months_max = 30
"""


@pytest.fixture
def runner():
    return CliRunner()


def write(folder: Path, text: str, name: str = "s.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def variant_scenario(path: Path, settings: dict):
    """The scenario a sweep runs for `settings` ({dotted path: value}), built here independently."""
    data = tomllib.loads(path.read_text())
    for dotted, value in settings.items():
        *parents, leaf = dotted.split(".")
        node = data
        for key in parents:
            node = node[key]
        node[leaf] = value
    return parse_scenario(data)


# --- figures: exactly those of separate runs ----------------------------------------------------------

def test_rows_equal_separate_runs_of_each_variant():
    sets = {"schedule.delay_months.max": [3, 6], "adoption.ceiling.mode": [0.6, 0.8]}
    result = simengine.sweep(BIG_BANG, sets=sets, trials=TRIALS, seed=SEED)
    assert [r["variant"] for r in result.rows] == [0, 1, 2, 3]
    # the first --set varies slowest
    assert [(r["schedule.delay_months.max"], r["adoption.ceiling.mode"]) for r in result.rows] == \
        [(3, 0.6), (3, 0.8), (6, 0.6), (6, 0.8)]
    for row, variant in zip(result.rows, result.to_dict()["variants"]):
        settings = {k: row[k] for k in sets}
        alone = simengine.run(variant_scenario(BIG_BANG, settings), trials=TRIALS, seed=SEED).summary.to_dict()
        assert variant["summary"] == alone
        assert result.summary(row["variant"]).to_dict() == alone
        npv = alone["metrics"]["npv"]
        assert (row["npv_mean"], row["npv_mean_se"]) == (npv["mean"]["value"], npv["mean"]["se"])
        for p in (10, 50, 90):
            assert (row[f"npv_p{p}"], row[f"npv_p{p}_se"]) == (npv[f"p{p}"]["value"], npv[f"p{p}"]["se"])
        assert row["p_npv_negative"] == alone["p_npv_negative"]["value"]
        assert row["p_npv_negative_se"] == alone["p_npv_negative"]["se"]
        assert row["p_all_targets"] == alone["targets"]["all"]["probability"]["value"]
        assert row["cvar5_npv"] == alone["cvar5_npv"]["value"]
        budget = alone["budget_and_date"]
        assert row["one_time_cost_p80"] == budget["costs"]["one_time_cost"]["p80"]["value"]
        assert row["one_time_cost_p80_se"] == budget["costs"]["one_time_cost"]["p80"]["se"]
        assert row["go_live_month_p80"] == budget["go_live"]["p80"]["value"]
    assert result.info["seed"] == SEED and result.info["trials"] == TRIALS


def test_seed_defaults_to_the_scenarios(tmp_path):
    result = simengine.sweep(BIG_BANG, sets={"decision.roi_min": [0.0]}, trials=500)
    assert result.info["seed"] == 2024  # the scenario's own seed
    alone = simengine.run(BIG_BANG, trials=500).summary.to_dict()
    assert result.summary(0).to_dict()["metrics"] == alone["metrics"]


# --- common random numbers -------------------------------------------------------------------------------

def test_a_setting_that_cannot_move_npv_leaves_it_identical(tmp_path):
    path = write(tmp_path, SMALL)
    result = simengine.sweep(path, sets={"decision.roi_min": [0.0, 0.2, 0.5, 1.0]}, trials=TRIALS, seed=SEED)
    rows = result.rows
    for key in ("npv_mean", "npv_mean_se", "npv_p10", "npv_p50", "npv_p90", "p_npv_negative", "cvar5_npv",
                "one_time_cost_p80", "go_live_month_p80"):
        assert len({r[key] for r in rows}) == 1, key
    # a stricter ROI target is met in no more trials (the same trials, target by target)
    chances = [r["p_all_targets"] for r in rows]
    assert chances == sorted(chances, reverse=True) and chances[0] > chances[-1]
    assert result.best == [0, 1, 2, 3]  # by mean NPV every variant ties


def test_a_fixed_upfront_cost_lowers_every_trials_npv_by_its_increase(tmp_path):
    """Month 0 is not discounted and a fixed-price item has no overrun: NPV falls by exactly
    the increase in every trial, so mean and percentiles do too (independent runs would scatter
    the difference by about its standard error, some thousands)."""
    path = write(tmp_path, SMALL)
    amounts = [50_000, 60_000, 90_000]
    rows = simengine.sweep(path, sets={"costs.licences.amount": amounts}, trials=TRIALS, seed=SEED).rows
    for key in ("npv_mean", "npv_p10", "npv_p50", "npv_p90", "cvar5_npv"):
        for a, b in zip(rows, rows[1:]):
            step = b["costs.licences.amount"] - a["costs.licences.amount"]
            assert b[key] - a[key] == pytest.approx(-step, rel=1e-9), key
    for a, b in zip(rows, rows[1:]):
        step = b["costs.licences.amount"] - a["costs.licences.amount"]
        assert b["one_time_cost_p80"] - a["one_time_cost_p80"] == pytest.approx(step, rel=1e-9)
        assert b["p_npv_negative"] >= a["p_npv_negative"]
        assert b["npv_mean_se"] == pytest.approx(a["npv_mean_se"], rel=1e-6)  # the same spread


def test_a_higher_delay_cost_never_raises_mean_npv(tmp_path):
    path = write(tmp_path, SMALL)
    rows = simengine.sweep(path, sets={"schedule.delay_cost_per_month": [0, 10_000, 40_000, 80_000]},
                           trials=TRIALS, seed=SEED).rows
    means = [r["npv_mean"] for r in rows]
    assert means == sorted(means, reverse=True) and means[0] > means[-1]
    assert all(b["p_npv_negative"] >= a["p_npv_negative"] for a, b in zip(rows, rows[1:]))


# --- values and settings ------------------------------------------------------------------------------

@pytest.mark.parametrize("text,value", [("3", 3), ("-5", -5), ("3.0", 3.0), ("0.6", 0.6), ("1e5", 1e5),
                                        (".5", 0.5), ("true", True), ("false", False), ("linear", "linear"),
                                        ('"3"', "3"), (" 7 ", 7)])
def test_values_read_as_toml_would(text, value):
    got = parse_value(text)
    assert got == value and type(got) is type(value)


def test_settings_keep_their_order_and_types():
    path, values = parse_set("adoption.curve=linear,logistic")
    assert path == "adoption.curve" and values == ["linear", "logistic"]
    sets = check_sets([parse_set("a.b=1,2"), parse_set("c=true,false"), parse_set("d=x,y")])
    assert [s.kind for s in sets] == ["number", "bool", "string"]
    with pytest.raises(InputError, match="the value 3 is given twice"):
        check_sets({"a.b": [3, 3.0]})
    with pytest.raises(InputError, match="no values given"):
        check_sets({"a.b": []})


# --- bad input: one line, exit 2, nothing written ----------------------------------------------------------

BAD = [
    (["--set", "schedule.dellay_months.max=3,6"],
     '--set schedule.dellay_months.max: no such field schedule.dellay_months (did you mean "delay_months"?)'),
    (["--set", "schedule.delay_cost_per_month.max=3,6"],
     "--set schedule.delay_cost_per_month.max: schedule.delay_cost_per_month is a fixed number (10000), not a "
     "table"),
    (["--set", "schedule.delay_months.max="], "--set schedule.delay_months.max: no values given"),
    (["--set", "schedule.delay_months.max=3,,6"], "--set schedule.delay_months.max: an empty value"),
    (["--set", "schedule.delay_months.max=3,6,3"], "--set schedule.delay_months.max: the value 3 is given twice"),
    (["--set", "schedule.delay_months.max=4", "--set", "schedule.delay_months.max=6"],
     "--set schedule.delay_months.max: given twice"),
    (["--set", "schedule.delay_months.max=4,-5"],
     "variant schedule.delay_months.max=-5: schedule.delay_months: max -5 is below min 0"),
    (["--set", "schedule.delay_months.maxx=5"], '--set schedule.delay_months.maxx: unknown parameter for pert '
                                                '(did you mean "max"?)'),
    (["--set", "schedule.delay_months.max=6", "--variants", "{folder}"], "--set and --variants exclude each other"),
    (["--variants", "{missing}"], "--variants {tmp}/missing: no such folder"),
    ([], "nothing to sweep"),
    (["--set", "seed=1,2"], "--set seed: a sweep runs every variant with one seed"),
    (["--set", "risk.cost_overrun=0.1"], '--set risk.cost_overrun: no such field risk (did you mean "risks"?)'),
    (["--set", "adoption.phases.share=1"], "--set adoption.phases.share: adoption.phases is an array; name its "
                                           "entry by position, e.g. adoption.phases[0].share"),
    (["--set", "adoption.phases[1].share=1"], "--set adoption.phases[1].share: no such field adoption.phases[1] "
                                              "(adoption.phases has 1 entry)"),
    (["--set", "schedule.delay_months=1", "--set", "schedule.delay_months.max=3"], "overlaps"),
    (["--set", "schedule.delay_months"], "--set schedule.delay_months: expected PATH=V1,V2,..."),
    (["--set", "decision.roi_min=" + ",".join(str(i) for i in range(40)),
      "--set", "schedule.delay_cost_per_month=" + ",".join(str(1000 * i) for i in range(30))],
     "--set: 40 x 30 = 1,200 variants; a sweep runs at most 1,000"),
    (["--set", "adoption.curve=linear,sigmoid"], "variant adoption.curve=sigmoid: adoption.curve: must be one of"),
    (["--set", "schedule.delay_months.max=6", "--workers", "2"], "--workers goes with --executor dask"),
]


@pytest.mark.parametrize("args,message", BAD, ids=[m[:40] for _, m in BAD])
def test_bad_input_is_one_line_and_writes_nothing(runner, tmp_path, args, message):
    scenario = write(tmp_path, SMALL)
    (tmp_path / "folder").mkdir()
    out = tmp_path / "out"
    args = [a.format(folder=tmp_path / "folder", missing=tmp_path / "missing") for a in args]
    res = runner.invoke(main, ["sweep", str(scenario), *args, "-n", "200", "--out", str(out)])
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.stderr
    assert message.format(tmp=tmp_path) in lines[0], lines[0]
    assert res.stdout == ""
    assert not out.exists()


def test_empty_variants_folder_and_invalid_variant_file(runner, tmp_path):
    scenario = write(tmp_path, SMALL)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a scenario")
    res = runner.invoke(main, ["sweep", str(scenario), "--variants", str(empty), "-n", "200",
                               "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and res.stderr.strip() == f"Error: --variants {empty}: no scenario files (*.toml) in it"
    bad = tmp_path / "bad"
    write(bad, SMALL, "a.toml")
    write(bad, SMALL.replace("min = 0.5, mode = 0.8", "min = 0.5, mode = 1.8"), "b.toml")
    res = runner.invoke(main, ["sweep", str(scenario), "--variants", str(bad), "-n", "200",
                               "--out", str(tmp_path / "out")])
    assert res.exit_code == 2
    assert res.stderr.startswith("Error: variant b.toml: adoption.ceiling: ") and len(res.stderr.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_p_all_targets_needs_targets(runner, tmp_path):
    scenario = write(tmp_path, SMALL.split("[decision]")[0])
    res = runner.invoke(main, ["sweep", str(scenario), "--set", "schedule.delay_months.max=4,6", "--figure",
                               "p_all_targets", "-n", "200", "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and "--figure p_all_targets: no variant has decision targets" in res.stderr
    ok = runner.invoke(main, ["sweep", str(scenario), "--set", "schedule.delay_months.max=4,6", "-n", "200",
                              "--out", str(tmp_path / "out")])
    assert ok.exit_code == 0, ok.output
    table = pq.read_table(tmp_path / "out" / "sweep.parquet")
    assert table.column("p_all_targets").null_count == 2


# --- outputs ---------------------------------------------------------------------------------------------

HOSTILE = SMALL.replace('name = "sweep test"', 'name = "<b>bold</b> & co"').replace(
    'description = "A small case for the sweep tests."',
    'description = "<script>alert(1)</script> <img src=x onerror=alert(2)>"')


def test_outputs_read_back_typed_and_the_page_is_inert(runner, tmp_path):
    scenario = write(tmp_path, HOSTILE)
    out = tmp_path / "sweep out"
    res = runner.invoke(main, ["sweep", str(scenario), "--set", "schedule.delay_months.max=4,6,8",
                               "--set", "adoption.curve=linear,logistic", "-n", str(TRIALS), "--seed", "3",
                               "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUT_FILES)  # no temporary file left
    # the text table: a row per variant, the best marked, the note on common random numbers
    lines = res.stdout.splitlines()
    assert lines[0].startswith("<b>bold</b> & co: sweep of 6 variants")
    rows = [line for line in lines if re.match(r"[ *]\s+\d\s", line)]
    assert len(rows) == 6 and all("±" in line for line in rows)
    assert sum(1 for line in rows if line.startswith("*")) == 1
    assert "common random numbers" in res.stdout and "Written to " in res.stdout

    table = pq.read_table(out / "sweep.parquet")
    assert table.num_rows == 6
    types = {f.name: f.type for f in table.schema}
    assert types["variant"] == pa.int64()
    assert types["schedule.delay_months.max"] == pa.float64()
    assert types["adoption.curve"] == pa.string()
    for name in ("npv_mean", "npv_mean_se", "npv_p10", "npv_p90_se", "p_npv_negative", "p_npv_negative_se",
                 "p_npv_negative_upper95", "p_all_targets", "p_all_targets_se", "cvar5_npv", "cvar5_npv_se",
                 "one_time_cost_p80", "one_time_cost_p80_se", "go_live_month_p80", "go_live_month_p80_se"):
        assert types[name] == pa.float64(), name
    assert table.column("variant").to_pylist() == list(range(6))
    assert table.column("schedule.delay_months.max").to_pylist() == [4.0, 4.0, 6.0, 6.0, 8.0, 8.0]
    assert table.column("adoption.curve").to_pylist() == ["linear", "logistic"] * 3
    assert table.column("p_npv_negative_upper95").null_count == 6  # some trials lose money in every variant
    meta = read_sweep(out / "sweep.parquet")
    assert meta["seed"] == 3 and meta["trials"] == TRIALS and meta["sampling"] == "mc"
    assert meta["sets"] == [{"path": "schedule.delay_months.max", "values": [4, 6, 8]},
                            {"path": "adoption.curve", "values": ["linear", "logistic"]}]
    assert meta["scenario_canonical"]["name"] == "<b>bold</b> & co"
    assert meta["simengine_version"] == simengine.__version__

    with open(out / "sweep.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 and list(rows[0]) == table.column_names
    assert float(rows[3]["npv_mean"]) == table.column("npv_mean")[3].as_py()

    data = json.loads((out / "sweep.json").read_text())
    assert len(data["variants"]) == 6 and data["rows"] == table.to_pylist()
    assert data["variants"][0]["summary"]["trials"] == TRIALS

    page = (out / "sweep.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert '<meta http-equiv="Content-Security-Policy" content="default-src &#x27;none&#x27;' in page
    assert "<script" not in page and "<img src=x" not in page and "<b>bold" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;b&gt;bold&lt;/b&gt; &amp; co" in page
    assert page.count('<img src="data:image/png;base64,') == 2  # a chart per swept setting


def test_existing_outputs_are_kept_without_force(runner, tmp_path):
    scenario = write(tmp_path, SMALL)
    out = tmp_path / "out"
    args = ["sweep", str(scenario), "--set", "schedule.delay_months.max=4,6", "-n", "300", "--out", str(out)]
    assert runner.invoke(main, args).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    again = runner.invoke(main, [*args[:-2], "--seed", "9", "--out", str(out)])
    assert again.exit_code == 2
    assert again.stderr.strip() == f"Error: {out / 'sweep.parquet'}: already exists; use --force to overwrite the " \
                                   "sweep's files"
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    forced = runner.invoke(main, [*args[:-2], "--seed", "9", "--out", str(out), "--force"])
    assert forced.exit_code == 0, forced.output
    assert read_sweep(out / "sweep.parquet")["seed"] == 9


def test_a_failed_write_leaves_nothing(tmp_path, monkeypatch):
    scenario = write(tmp_path, SMALL)
    real = Path.write_bytes

    def failing(self, data):
        if ".sweep.json." in self.name:
            raise OSError(28, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", failing)
    out = tmp_path / "new" / "out"
    with pytest.raises(OSError):
        simengine.sweep(scenario, sets={"schedule.delay_months.max": [4, 6]}, trials=300, out=out)
    assert not (tmp_path / "new").exists()


def test_default_folder_and_json_output(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    scenario = write(tmp_path, SMALL, "my_case.toml")
    res = runner.invoke(main, ["sweep", str(scenario), "--set", "decision.roi_min=0,1", "-n", "300", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    folder = Path("results") / "my_case-sweep-seed1-n300"
    assert sorted(p.name for p in folder.iterdir()) == sorted(OUTPUT_FILES)
    assert data["sweep"]["seed"] == 1 and data["sweep"]["best"] == [0, 1]
    assert data["files"] == [str(folder / name) for name in OUTPUT_FILES]
    assert data == json.loads((folder / "sweep.json").read_text())


# --- a folder of scenario files -------------------------------------------------------------------------

def test_variants_folder_runs_each_file_with_the_base_seed(runner, tmp_path):
    base = write(tmp_path, SMALL.replace('name = "sweep test"', 'name = "base"\nseed = 77'))
    folder = tmp_path / "alternatives"
    cheap = write(folder, SMALL.replace("amount = 50000", "amount = 20000"), "b_cheap.toml")
    dear = write(folder, SMALL.replace("amount = 50000", "amount = 95000"), "a_dear.toml")
    out = tmp_path / "out"
    res = runner.invoke(main, ["sweep", str(base), "--variants", str(folder), "-n", str(TRIALS), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "a_dear" in res.stdout and "b_cheap" in res.stdout
    table = pq.read_table(out / "sweep.parquet")
    assert table.column_names[:2] == ["variant", "file"]
    assert table.column("file").to_pylist() == ["a_dear.toml", "b_cheap.toml"]  # sorted by name
    for row, path in zip(table.to_pylist(), (dear, cheap)):
        alone = simengine.run(path, trials=TRIALS, seed=77).summary.to_dict()
        assert row["npv_mean"] == alone["metrics"]["npv"]["mean"]["value"]
        assert row["p_npv_negative"] == alone["p_npv_negative"]["value"]
    rows = table.to_pylist()
    assert rows[1]["npv_mean"] - rows[0]["npv_mean"] == pytest.approx(75_000, rel=1e-9)  # common random numbers
    assert read_sweep(out / "sweep.parquet")["best"] == [1]
    assert (out / "sweep.html").read_text().count('<img src="data:image/png;base64,') == 1


def test_variants_from_python(tmp_path):
    text = SMALL
    result = simengine.sweep(text, variants={"as is": text, "dearer": text.replace("amount = 50000", "amount = 60000")},
                             trials=500, seed=2)
    assert [r["file"] for r in result.rows] == ["as is", "dearer"]
    assert result.rows[0]["npv_mean"] - result.rows[1]["npv_mean"] == pytest.approx(10_000, rel=1e-9)
    arrow = result.to_arrow()
    assert arrow.num_rows == 2 and arrow.schema.field("file").type == pa.string()
    assert result.paths == []  # no out: nothing written
    assert "best by mean NPV" in repr(result)


def test_api_checks_its_arguments(tmp_path):
    path = write(tmp_path, SMALL)
    with pytest.raises(InputError, match="--figure: must be one of"):
        simengine.sweep(path, sets={"decision.roi_min": [0]}, figure="npv")
    with pytest.raises(InputError, match="trials: must be a whole number"):
        simengine.sweep(path, sets={"decision.roi_min": [0]}, trials=10.5)
    with pytest.raises(InputError, match="--set and --variants exclude each other"):
        simengine.sweep(path, sets={"decision.roi_min": [0]}, variants=tmp_path)
    result = simengine.sweep(simengine.load(path), sets={"schedule.delay_cost_per_month.value": [0, 5000]},
                             trials=300)  # a Scenario's canonical data: a fixed value is a table
    assert [r["schedule.delay_cost_per_month.value"] for r in result.rows] == [0, 5000]
    assert json.loads(json.dumps(result.to_dict())) == result.to_dict()


# --- on a Dask cluster ----------------------------------------------------------------------------------

def test_dask_sweep_equals_the_local_one(tmp_path):
    pytest.importorskip("distributed", reason="the dask extra is part of the test install (Makefile)")
    from simengine.dask_executor import DaskExecutor

    sets = {"schedule.delay_months.max": [3, 6], "adoption.ceiling.mode": [0.6, 0.8]}
    local = simengine.sweep(BIG_BANG, sets=sets, trials=TRIALS, seed=SEED)
    with DaskExecutor(workers=2, blocks_per_task=1) as cluster:
        remote = simengine.sweep(BIG_BANG, sets=sets, trials=TRIALS, seed=SEED, executor=cluster,
                                 out=tmp_path / "dask")
    assert remote.rows == local.rows
    assert remote.to_dict()["variants"] == local.to_dict()["variants"]
    assert pq.read_table(tmp_path / "dask" / "sweep.parquet").num_rows == 4


def test_csv_text_cells_that_a_spreadsheet_would_run_start_with_an_apostrophe():
    """sweep.csv only: `=HYPERLINK(...)`, `+1`, `-x` and `@SUM` as text are shown, not run; numbers,
    plain text and nulls are as they were (sweep.parquet keeps every value)."""
    import pyarrow as pa

    from simengine.sweeps import spreadsheet_safe

    table = pa.table({"variant": ["=HYPERLINK(1)", "+1", "-x", "@SUM(A1)", "plain", None],
                      "npv_mean": [-1.0, 2.0, -3.0, 4.0, 5.0, 6.0]})
    safe = spreadsheet_safe(table)
    assert safe.column("variant").to_pylist() == ["'=HYPERLINK(1)", "'+1", "'-x", "'@SUM(A1)", "plain", None]
    assert safe.column("npv_mean").equals(table.column("npv_mean")) and safe.schema == table.schema
