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
