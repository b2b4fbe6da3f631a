"""`simengine compare`: common random numbers, the difference's distribution, and its smaller noise."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from simengine.cli import main
from simengine.comparison import compare
from support import simulate_chunk
from simengine.kernels.cashflows import METRICS

NPV = METRICS.index("npv")


def test_common_random_numbers_shrink_the_standard_error_of_the_difference(bundled):
    a, b = bundled["crm_upgrade_phased"], bundled["crm_upgrade_big_bang"]
    result = compare(a, b, trials=20_000, seed=7)
    crn = result["delta_npv"]["mean"]["se"]
    independent = result["delta_npv_mean_se_if_independent"]
    assert crn < 0.5 * independent  # visibly smaller: about a third here
    # and the independent figure is right: two runs with different seeds scatter that much
    means = [compare(a, b, trials=4000, seed=s)["delta_npv"]["mean"]["value"] for s in range(3)]
    assert np.std(means) < 6 * result["delta_npv"]["mean"]["se"] * np.sqrt(5)


def test_difference_is_trial_by_trial_and_consistent_with_each_side(bundled):
    a, b = bundled["crm_upgrade_phased"], bundled["crm_upgrade_big_bang"]
    n, seed = 3000, 11
    result = compare(a, b, trials=n, seed=seed)
    npv_a = simulate_chunk(a, seed, 0, n).metrics[NPV]
    npv_b = simulate_chunk(b, seed, 0, n).metrics[NPV]
    diff = npv_a - npv_b
    assert result["delta_npv"]["mean"]["value"] == pytest.approx(diff.mean(), rel=1e-9)
    assert result["delta_npv"]["p50"]["value"] == np.sort(diff)[int(np.ceil(0.5 * n)) - 1]
    assert result["p_a_beats_b_npv"]["value"] == pytest.approx(np.mean(npv_a > npv_b))
    assert result["a"]["summary"]["metrics"]["npv"]["mean"]["value"] == pytest.approx(npv_a.mean(), rel=1e-9)


def test_a_scenario_against_itself_differs_by_nothing(bundled):
    sc = bundled["crm_new_small_firm"]
    result = compare(sc, sc, trials=2000, seed=1)
    assert result["delta_npv"]["mean"]["value"] == 0 and result["delta_npv"]["mean"]["se"] == 0
    assert result["p_a_beats_b_npv"]["value"] == 0
    assert result["p_a_pays_back_earlier"]["value"] == result["p_b_pays_back_earlier"]["value"] == 0


def test_cli_compare_text_and_json():
    runner = CliRunner()
    text = runner.invoke(main, ["compare", "crm_upgrade_phased", "crm_upgrade_big_bang", "-n", "3000"])
    assert text.exit_code == 0, text.output
    for phrase in ("common random numbers", "Difference A - B", "P(A has the higher NPV)", "independent runs"):
        assert phrase in text.output
    js = runner.invoke(main, ["compare", "crm_upgrade_phased", "crm_upgrade_big_bang", "-n", "3000", "--json"])
    data = json.loads(js.stdout)
    assert data["a"]["scenario"] == "crm_upgrade_phased" and data["trials"] == 3000
    bad = runner.invoke(main, ["compare", "crm_upgrade_phased", "no_such_scenario"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output


def test_budget_date_and_tail_differences_and_the_inputs_that_differ():
    """A and B differ only in one cost's mode and the planned months: the comparison lists
    exactly those inputs, and its paired and level differences equal direct computations."""
    import numpy as np

    from simengine.comparison import compare
    from support import BASE, metrics_of
    from simengine.scenario import parse_scenario

    a_data = dict(BASE, costs={"impl": {"timing": "implementation",
                                        "amount": {"dist": "pert", "min": 1e5, "mode": 1.5e5, "max": 3e5}}},
                  schedule={"planned_months": 6, "delay_months": {"dist": "uniform", "min": 0, "max": 4}})
    b_data = dict(a_data, costs={"impl": {"timing": "implementation",
                                          "amount": {"dist": "pert", "min": 1e5, "mode": 2e5, "max": 3e5}}},
                  schedule={"planned_months": 8, "delay_months": {"dist": "uniform", "min": 0, "max": 4}})
    a, b = parse_scenario(a_data), parse_scenario(b_data)
    n = 5_000
    out = compare(a, b, trials=n, seed=3)
    assert [row["input"] for row in out["inputs_differ"]] == ["schedule.planned_months", "costs.impl.amount"]
    ma, mb = metrics_of(a, n, 3), metrics_of(b, n, 3)
    paired = out["delta_paired"]
    assert paired["one_time_cost"]["mean"]["value"] == pytest.approx(np.mean(ma["one_time_cost"] - mb["one_time_cost"]))
    assert paired["go_live_month"]["mean"]["value"] == pytest.approx(np.mean(ma["go_live_month"] - mb["go_live_month"]))
    rank = int(np.ceil(0.8 * n)) - 1
    want = np.sort(ma["one_time_cost"])[rank] - np.sort(mb["one_time_cost"])[rank]
    assert out["delta_levels"]["one_time_cost_p80"]["value"] == pytest.approx(want)
    assert out["delta_levels"]["cvar5_npv"]["value"] == pytest.approx(
        out["a"]["summary"]["cvar5_npv"]["value"] - out["b"]["summary"]["cvar5_npv"]["value"])
    assert out["a"]["summary"]["budget_and_date"]["go_live"]["planned"] == 8  # ceil(6 + 2): the delay's median


def test_a_comparison_across_different_horizons_says_so():
    from simengine.comparison import compare
    from simengine.scenario import parse_scenario
    from simengine.textout import comparison_table
    from support import BASE

    a = parse_scenario(dict(BASE, horizon_months=36))
    b = parse_scenario(dict(BASE, horizon_months=60))
    out = compare(a, b, trials=500, seed=1)
    assert out["warnings"] == ["A and B have different horizons (36 and 60 months): NPV, total cost and payback "
                               "(and who pays back first) are measured over different windows"]
    assert comparison_table(out).startswith("Warning: A and B have different horizons")
    assert compare(a, a, trials=500, seed=1)["warnings"] == []


def test_the_printed_comparison_says_how_many_differing_inputs_it_leaves_out():
    """More differing inputs than the text lists: the header says so and a last line counts the
    rest; every listed one is the JSON's, in its order."""
    runner = CliRunner()
    args = ["compare", "crm_upgrade_big_bang_evidence", "crm_upgrade_big_bang", "--trials", "500"]
    data = json.loads(runner.invoke(main, args + ["--json"]).stdout)
    text = runner.invoke(main, args).stdout.splitlines()
    differ = data["inputs_differ"]
    assert len(differ) > 12
    head = text.index(f"Inputs that differ between A and B: {len(differ)} (the first 12 below; --json lists all)")
    listed = text[head + 1:head + 13]
    assert [line.split(": ")[0].strip() for line in listed] == [row["input"] for row in differ[:12]]
    assert text[head + 13] == f"  ... and {len(differ) - 12} more"
