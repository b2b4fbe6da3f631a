"""The Python API: typed results, the docs' examples, and the CLI as a thin layer over it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import simengine
from simengine.cli import main
from simengine.errors import InputError
from simengine.results import Estimate

DOCS = Path(__file__).resolve().parent.parent / "docs" / "api.md"


def test_the_docs_examples_run_in_order(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(), flags=re.S)
    assert len(blocks) >= 7
    namespace: dict = {}
    claim = re.search(r"gives `([^`]+)` for the run above", DOCS.read_text())
    for k, block in enumerate(blocks):
        exec(compile(block, str(DOCS), "exec"), namespace)  # noqa: S102 - our own documentation
        if k == 0:  # the page's formatted Estimate is the first run's mean NPV, as printed
            assert claim and f"{namespace['npv'].mean:,.0f}" == claim.group(1)
    out = capsys.readouterr().out
    assert "mean NPV" in out and "P(NPV < 0)" in out
    assert (tmp_path / "results" / "big_bang.html").exists()


def test_a_run_from_python_and_from_the_cli_write_byte_identical_summaries(tmp_path):
    py = simengine.run("crm_upgrade_phased", trials=3000, seed=4, out=tmp_path / "py.parquet")
    res = CliRunner().invoke(main, ["run", "crm_upgrade_phased", "-n", "3000", "--seed", "4",
                                    "--out", str(tmp_path / "cli.parquet")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "py.summary.json").read_bytes() == (tmp_path / "cli.summary.json").read_bytes()
    assert py.summary_path == tmp_path / "py.summary.json"
    cli_json = CliRunner().invoke(main, ["run", "crm_upgrade_phased", "-n", "3000", "--seed", "4", "--summary-only",
                                         "--json"])
    printed = json.loads(cli_json.stdout)
    again = simengine.run("crm_upgrade_phased", trials=3000, seed=4).to_dict()
    for d in (printed, again):
        d.pop("elapsed_seconds")
    assert printed == again


def test_every_way_of_naming_a_scenario_gives_the_same_run(bundled):
    from simengine.bundled import bundled_scenarios

    path = bundled_scenarios()["crm_new_small_firm"]
    by_name = simengine.run("crm_new_small_firm", trials=500, seed=2).summary.to_dict()
    by_path = simengine.run(path, trials=500, seed=2).summary.to_dict()
    by_text = simengine.run(path.read_text(), trials=500, seed=2).summary.to_dict()
    by_object = simengine.run(bundled["crm_new_small_firm"], trials=500, seed=2).summary.to_dict()
    assert by_name == by_path == by_text == by_object


def test_typed_summary_matches_the_dict():
    result = simengine.run("crm_new_small_firm", trials=2000, seed=5)
    d = result.summary.to_dict()
    npv = result.summary.metric("npv")
    assert npv.mean == Estimate(d["metrics"]["npv"]["mean"]["value"], d["metrics"]["npv"]["mean"]["se"])
    assert npv.p(5).value == d["metrics"]["npv"]["p5"]["value"]
    assert result.summary.p_npv_negative.value == d["p_npv_negative"]["value"]
    assert result.summary.cvar5_npv.value == d["cvar5_npv"]["value"]
    assert set(result.targets) == set(d["targets"])
    assert result.targets["all"].target is None
    with pytest.raises(InputError, match="percentiles"):
        npv.p(42)
    with pytest.raises(InputError, match="metric"):
        result.summary.metric("nope")
    assert f"{Estimate(1234.5, 6.0):,.0f}" == "1,234 ± 6" and f"{Estimate(None, None):.1f}" == "null"


def test_a_summary_only_run_has_no_trials_and_says_so():
    result = simengine.run("crm_new_small_firm", trials=300, seed=1)
    assert result.path is None
    for method in (result.to_arrow, result.to_pandas, result.to_polars, result.report):
        with pytest.raises(InputError, match="out=PATH"):
            method()
    assert "<img" not in result._repr_html_()


def test_results_display_as_html_in_notebooks_and_as_text_in_terminals(tmp_path):
    from simengine.textout import summary_table

    result = simengine.run("crm_upgrade_big_bang", trials=2000, seed=1, out=tmp_path / "r.parquet")
    page = result._repr_html_()
    assert page.count("<table>") == 2 and 'src="data:image/png;base64,' in page and "<script" not in page
    assert summary_table(result.summary.to_dict()) in repr(result)
    assert repr(result.summary) == summary_table(result.summary.to_dict())
    ranking = simengine.sensitivity(result)
    assert "<table>" in ranking._repr_html_() and ranking.top(1)[0] in repr(ranking)
    cmp = simengine.compare("crm_upgrade_phased", "crm_upgrade_big_bang", trials=2000, seed=1)
    assert "<table>" in cmp._repr_html_() and "ΔNPV" in cmp._repr_html_()
    assert "crm_upgrade_phased" in repr(cmp)


def test_api_results_equal_the_cli_json(tmp_path):
    out = tmp_path / "r.parquet"
    simengine.run("crm_upgrade_big_bang", trials=2000, seed=3, out=out)
    runner = CliRunner()
    sens = json.loads(runner.invoke(main, ["sensitivity", str(out), "--json"]).stdout)
    assert sens == json.loads(json.dumps(simengine.sensitivity(out).to_dict()))
    summ = json.loads(runner.invoke(main, ["summarize", str(out), "--json"]).stdout)
    assert summ == simengine.open(out).summary.to_dict()
    cmp_cli = json.loads(runner.invoke(main, ["compare", "crm_upgrade_phased", "crm_upgrade_big_bang", "-n", "2000",
                                              "--json"]).stdout)
    cmp_py = simengine.compare("crm_upgrade_phased", "crm_upgrade_big_bang", trials=2000).to_dict()
    assert cmp_cli == json.loads(json.dumps(cmp_py))


def test_the_trials_come_back_typed_and_only_the_columns_asked_for(tmp_path):
    result = simengine.run("crm_new_small_firm", trials=1500, seed=8, out=tmp_path / "r.parquet")
    table = result.to_arrow(["trial", "npv", "payback_months"])
    assert table.column_names == ["trial", "npv", "payback_months"] and table.num_rows == 1500
    assert str(table.schema.field("payback_months").type) == "int32"
    lazy = result.to_polars(["npv"])
    assert lazy.collect().columns == ["npv"]
    assert list(result.to_pandas(["roi"]).columns) == ["roi"]


def test_bad_input_is_one_line_errors():
    with pytest.raises(InputError, match="no_such"):
        simengine.run("no_such_scenario", trials=10)
    with pytest.raises(InputError, match="invalid TOML"):
        simengine.run("name = \n[[[", trials=10)
    with pytest.raises(InputError, match="expected a path"):
        simengine.run(42, trials=10)
    with pytest.raises(InputError, match="exclude each other"):
        simengine.run("crm_new_small_firm", trials=10, precision={"npv_mean": 1.0})


def test_importing_simengine_loads_nothing_heavy():
    code = "import sys, simengine; print(sorted(m for m in ('numba', 'numpy', 'pyarrow', 'scipy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_typed_estimates_carry_bounds_and_coverage(bundled):
    from simengine.results import Estimate
    from simengine.summary import probability

    none = Estimate.of(probability(0, 100))
    assert none.se is None and none.upper95 == pytest.approx(1 - 0.05 ** (1 / 100))
    assert f"{none:.3f}" == "0.000 (95 % upper bound 0.030)"
    result = simengine.run(bundled["crm_upgrade_big_bang"], trials=3000, seed=5)
    payback = result.summary.metric("payback_months")
    assert payback.coverage_mean_sd == payback.n / 3000 < 1 and payback.coverage_percentiles == 1.0
