"""`simengine value-of-information` and `simengine.value_of_information`: the decision's data and wiring.

The estimators' closed-form checks are in test_voi_estimators.py; here: the CLI and API give
the figures the estimators give on the stored trials, a scenario run here equals its result
file, A against itself is worth nothing, and bad input gets one line and exit status 2.
"""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import simengine
from simengine.cli import main
from simengine.voi import evpi, evppi

SCENARIO = """
name = "pilot test"
description = "A close decision: learning the licence price or the adoption ceiling first matters."
discount_rate = 0.08
horizon_months = 36

[schedule]
planned_months = 6
delay_months = { dist = "uniform", min = 0, max = 6 }

[costs.lic]
timing = "upfront"
amount = { dist = "uniform", min = 150000, max = 650000 }

[costs.impl]
timing = "implementation"
amount = 120000
labor = true

[adoption]
ramp_months = 6
ceiling = { dist = "uniform", min = 0.3, max = 1.0 }

[benefits.streams.prod]
amount = 420000

[events.outage]
probability = 0.2
cost = 80000
"""
TRIALS = 20_000
SEED = 11


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("voi")
    scenario = folder / "pilot.toml"
    scenario.write_text(SCENARIO)
    result = folder / "pilot.parquet"
    simengine.run(scenario, trials=TRIALS, seed=SEED, out=result)
    metrics_only = folder / "metrics.parquet"
    simengine.run(scenario, trials=TRIALS, seed=SEED, out=metrics_only, columns="metrics")
    return {"scenario": scenario, "result": result, "metrics_only": metrics_only, "folder": folder}


def invoke(*args):
    return CliRunner().invoke(main, ["value-of-information", *map(str, args)])


def without_timing(data: dict) -> dict:
    return {k: v for k, v in data.items() if k not in ("seconds", "source")}


def test_figures_are_the_estimators_on_the_stored_trials(files):
    out = invoke(files["result"], "--json")
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    table = pq.read_table(files["result"])
    npv = table.column("npv").to_numpy()
    direct = evpi(npv)
    assert data["evpi"] == {"value": direct["value"], "se": direct["se"]}
    assert data["net_benefit"]["value"] == pytest.approx(npv.mean(), rel=1e-12)
    assert data["choice"] == ("invest" if npv.mean() > 0 else "do not invest")
    rows = {r["name"]: r for r in data["drivers"]}
    assert set(rows) == set(simengine.load(files["scenario"]).drivers())
    ceiling = evppi(table.column("adoption.ceiling").to_numpy(), npv, seed=SEED)
    assert rows["adoption.ceiling"]["evppi"]["value"] == ceiling["value"]
    values = [r["evppi"]["value"] for r in data["drivers"]]
    assert values == sorted(values, reverse=True)
    assert all(0.0 <= v <= data["evpi"]["value"] for v in values)
    # the licence price and the adoption ceiling decide; the outage's fixed 80,000 barely does
    assert {data["drivers"][0]["name"], data["drivers"][1]["name"]} == {"costs.lic.amount", "adoption.ceiling"}


def test_a_scenario_run_here_equals_its_result_file(files):
    from_file = json.loads(invoke(files["result"], "--json").output)
    here = invoke(files["scenario"], "--trials", TRIALS, "--seed", SEED, "--json", "--threads", 1)
    assert here.exit_code == 0, here.output
    assert without_timing(json.loads(here.stdout)) == without_timing(from_file)


def test_a_group_is_worth_at_least_its_best_member_and_at_most_evpi(files):
    data = simengine.value_of_information(files["result"], groups=["costs.*,adoption.ceiling"]).to_dict()
    (group,) = data["groups"]
    assert group["drivers"] == ["adoption.ceiling", "costs.lic.amount"] or \
        sorted(group["drivers"]) == ["adoption.ceiling", "costs.lic.amount"]
    best = max(r["evppi"]["value"] for r in data["drivers"] if r["name"] in group["drivers"])
    value, se = group["evppi"]["value"], group["evppi"]["se"]
    assert value <= data["evpi"]["value"]
    assert value >= best - 4 * se


def test_a_against_itself_is_worth_nothing(files):
    out = invoke(files["scenario"], "--decision", "compare", files["scenario"], "--trials", 5000, "--json")
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["decision"] == "compare"
    assert data["evpi"]["value"] == 0.0
    assert all(r["evppi"]["value"] == 0.0 for r in data["drivers"])


def test_a_result_against_a_scenario_shares_its_random_numbers(files):
    both = simengine.value_of_information(files["result"], files["scenario"]).to_dict()
    assert both["evpi"]["value"] == 0.0  # the scenario was simulated with the file's seed: same trials


def test_the_table_names_the_decision_and_the_most_valuable_driver(files):
    out = invoke(files["result"], "--top", 2)
    assert out.exit_code == 0, out.output
    assert "EVPI (knowing every driver before deciding): EUR" in out.output
    assert "Learning " in out.output and " before deciding is worth EUR " in out.output
    assert "... and 2 more drivers" in out.output


def test_api_result_object(files):
    voi = simengine.value_of_information(files["result"], max_trials=10_000)
    assert voi.to_dict()["trials"] == 10_000
    assert voi.evpi.value > 0 and voi.evpi.se > 0
    assert voi.evppi(voi.top(1)[0]).value > 0
    with pytest.raises(KeyError):
        voi.evppi("no.such.driver")
    assert "EVPI" in repr(voi) and "<table>" in voi._repr_html_()


@pytest.mark.parametrize("args, message", [
    (["{scenario}", "--decision", "compare"], "--decision compare: give B"),
    (["{scenario}", "--decision", "invest", "{scenario}"], "goes with --decision compare"),
    (["{scenario}", "--group", "nosuch.*"], "--group nosuch.*: matches no sampled driver"),
    (["{scenario}", "--group", "adoption.celing"], "did you mean adoption.ceiling?"),
    (["{scenario}", "--group", ","], "give driver names or patterns"),
    (["{scenario}", "--trials", "10"], "at least 1,000 trials"),
    (["{scenario}", "--max-trials", "100"], "--max-trials caps a result file's trials"),  # not its range
    (["{result}", "--trials", "5000"], "--trials: the trials of a result file are used"),
    (["{result}", "--seed", "3"], "was run with seed 11"),
    (["{metrics_only}"], "(use --columns all)"),
    (["{folder}/missing.parquet"], "missing.parquet"),
])
def test_bad_input_gets_one_line_and_exit_2(files, args, message):
    out = invoke(*[a.format(**files) for a in args])
    assert out.exit_code == 2, out.output
    assert message in out.output
    assert out.output.count("\n") == 1 and "Traceback" not in out.output


def test_results_with_different_seeds_are_refused(files):
    other = files["folder"] / "other-seed.parquet"
    simengine.run(files["scenario"], trials=5000, seed=SEED + 1, out=other)
    out = invoke(files["result"], other)
    assert out.exit_code == 2
    assert "common random numbers need the same seed" in out.output


SURE_THING = """
name = "sure thing"
description = "Every trial pays: <b>no</b> information has value."
discount_rate = 0.08
horizon_months = 36
[schedule]
planned_months = 3
[costs.lic]
timing = "upfront"
amount = { dist = "uniform", min = 10000, max = 20000 }
[adoption]
ramp_months = 3
[benefits.streams.prod]
amount = { dist = "uniform", min = 400000, max = 500000 }
"""


def test_when_every_trial_favours_investing_nothing_is_worth_learning(tmp_path):
    from simengine.report import result_report

    scenario = tmp_path / "sure.toml"
    scenario.write_text(SURE_THING)
    result = tmp_path / "sure.parquet"
    simengine.run(scenario, trials=3000, seed=2, out=result)
    out = invoke(result)
    assert out.exit_code == 0, out.output
    assert "EVPI (knowing every driver before deciding): EUR 0: every trial favours the same option" in out.output
    assert "Trials in which the other option does better: 0 trials (below" in out.output
    html = result_report(result).html
    assert "Every trial favours the same option (invest, over all 3,000 trials)" in html
    assert "No value-of-information chart: no driver alone can change the decision" in html
    assert "<b>no</b>" not in html and "&lt;b&gt;no&lt;/b&gt;" in html


# NPV linear in two independent uniform drivers (the derivation of the NPV is in test_sobol.py's LINEAR,
# with other ranges): discount rate 0, go-live month 6, 18 months of savings S / 12 and the licence C in
# month 0, so NPV = 1.5 S - C. With S ~ U(80,000, 180,000) and C ~ U(120,000, 220,000), NPV =
# 100,000 (-1 + 1.5 U1 + U2) with U1, U2 iid Uniform(0, 1): test_voi_estimators.py derives EVPI = 1/9,
# EVPPI(U1) = 1/12 and EVPPI(U2) = 1/32 of that model, so here EVPI = 11,111, EVPPI(savings) = 8,333,
# EVPPI(licence) = 3,125; the delay cost never enters NPV (the delay is 0): EVPPI 0.
LINEAR_NPV = """
name = "voi_linear"
discount_rate = 0.0
horizon_months = 24
[schedule]
planned_months = 6
delay_cost_per_month = { dist = "uniform", min = 0, max = 50000 }
[costs.licence]
timing = "upfront"
amount = { dist = "uniform", min = 120000, max = 220000 }
overrun = false
[benefits.streams.savings]
amount = { dist = "uniform", min = 80000, max = 180000 }
scales_with_adoption = false
"""


def test_a_scenario_linear_in_two_uniform_drivers_has_the_closed_form_values():
    data = simengine.value_of_information(LINEAR_NPV, trials=100_000, seed=5,
                                          groups=["costs.licence.amount,benefits.streams.savings.amount"]).to_dict()
    rows = {r["name"]: r for r in data["drivers"] + data["groups"]}

    def near(est: dict, truth: float) -> bool:
        return abs(est["value"] - truth) <= 4 * est["se"] + abs(est.get("bias", 0.0))

    assert near(data["evpi"], 100_000 / 9)
    assert near(rows["benefits.streams.savings.amount"]["evppi"], 100_000 / 12)
    assert near(rows["costs.licence.amount"]["evppi"], 100_000 / 32)
    assert rows["schedule.delay_cost_per_month"]["evppi"]["value"] == 0.0
    assert near(rows["costs.licence.amount,benefits.streams.savings.amount"]["evppi"], 100_000 / 9)


def test_a_group_of_risk_events_takes_exact_means_and_is_worth_at_least_each_member(files):
    """0/1 drivers together: one exact conditional mean per combination of flags (a finer partition
    than either flag alone, so never worth less); a cubic in 0/1 scores would be collinear."""
    scenario = simengine.load("crm_upgrade_big_bang")
    data = simengine.value_of_information(scenario, trials=20_000, groups=["events.*.occurred"]).to_dict()
    (group,) = data["groups"]
    assert group["method"] == "group means" and len(group["drivers"]) == 6
    singles = {r["name"]: r["evppi"]["value"] for r in data["drivers"]}
    assert group["evppi"]["value"] >= max(singles[name] for name in group["drivers"]) - 1e-6
    assert group["evppi"]["se"] < 0.1 * group["evppi"]["value"]
    assert not group["learnable"] and data["drivers"][0]["name"] == "events.project_crisis.occurred"
    text = repr(simengine.results.ValueOfInformation(data))
    assert "Knowing in advance whether events.project_crisis happens would be worth EUR" in text
    assert "Learning benefits.realization before deciding" in text or "Learning adoption.ceiling before" in text


def test_counts_from_python_are_checked_like_the_command_line(files):
    from simengine.errors import InputError

    for call, message in (
            (lambda: simengine.value_of_information(files["scenario"], trials=0), "--trials: must be between 1"),
            (lambda: simengine.value_of_information(files["result"], max_trials=0), "--max-trials: value of"),
            (lambda: simengine.value_of_information(files["scenario"], max_trials=5000), "--max-trials caps a result"),
            (lambda: simengine.sensitivity(files["scenario"], method="sobol", trials=0), "take 2 to 131,072 trials"),
            (lambda: simengine.sensitivity("crm_upgrade_big_bang"), "--method rank ranks a result file's")):
        with pytest.raises(InputError, match=message.replace("(", r"\(")):
            call()


def test_top_lists_only_drivers_that_can_change_the_decision(files):
    voi = simengine.value_of_information(files["scenario"], files["scenario"], trials=2000)
    assert voi.top(3) == []  # A against itself: nothing is worth learning
