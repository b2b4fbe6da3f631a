"""Reference-class presets reproduce the published figures they claim, and scenarios can use them."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from simengine import reference
from simengine.calibrate import margin_of
from simengine.distributions import parse_distribution
from simengine.errors import ScenarioError
from simengine.scenario import parse_scenario, scenario_from_json
from simengine.streams import uniforms
from support import BASE

N = 400_000
DOCS = Path(__file__).resolve().parents[1] / "docs" / "reference-classes.md"
PRESETS = [(name, quantity) for name, quantities in reference.presets()["classes"].items()
           for quantity, body in quantities.items() if isinstance(body, dict)]


@pytest.mark.parametrize("name,quantity", PRESETS)
def test_each_preset_reproduces_its_published_figures(name, quantity):
    body = reference.preset(name, quantity, "x")
    dist = parse_distribution(body["distribution"], "x")
    sample = dist.ppf(uniforms(11, f"{name}.{quantity}", 0, N))
    assert body["figures"] and body["sources"]
    for figure in body["figures"]:
        value, se = reference.implied(figure, sample)
        assert abs(value - figure["value"]) <= margin_of(se, figure["tolerance"]), (figure["label"], value)


@pytest.mark.parametrize("name,quantity", PRESETS)
def test_the_docs_table_lists_every_figure_as_the_data_has_it(name, quantity):
    docs = DOCS.read_text()
    assert reference.version() in docs
    for figure in reference.preset(name, quantity, "x")["figures"]:
        row = f"| {figure['label']} | {figure['value']:g} | {figure['tolerance']:g} | {figure['source']} |"
        assert row in docs, row


def with_overrun(value):
    data = copy.deepcopy(BASE)
    data["risks"] = {"cost_overrun": value}
    return data


def test_a_scenario_uses_a_class_and_stores_what_it_resolved_to():
    sc = parse_scenario(with_overrun({"reference_class": "crm"}))
    stored = sc.canonical["risks"]["cost_overrun"]
    assert stored["reference_class"] == "crm" and stored["version"] == reference.version()
    assert stored["resolved"]["dist"] == "mixture"
    assert scenario_from_json(sc.canonical_json).sha256 == sc.sha256
    # a stored resolution is used as it is, whatever the presets say now
    other = copy.deepcopy(stored)
    other["resolved"] = {"dist": "uniform", "min": 0.0, "max": 0.5}
    again = parse_scenario(with_overrun(other))
    assert again.fields()["risks.cost_overrun"].support() == (0.0, 0.5)


@pytest.mark.parametrize("value,message", [
    ({"reference_class": "cmr"}, 'unknown reference class \'cmr\' (did you mean "crm"?)'),
    ({"reference_class": "crm", "dist": "normal"}, "takes only reference_class"),
    ({"reference_class": 3}, "expected a class name"),
])
def test_bad_reference_classes_are_one_line_errors(value, message):
    with pytest.raises(ScenarioError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        parse_scenario(with_overrun(value))


def test_only_supported_fields_take_a_class():
    data = copy.deepcopy(BASE)
    data["risks"] = {"maintenance_load": {"reference_class": "crm"}}
    with pytest.raises(ScenarioError, match="reference classes can fill risks.cost_overrun, risks.schedule_overrun"):
        parse_scenario(data)


def test_a_class_without_a_quantity_says_what_it_has():
    data = copy.deepcopy(BASE)
    data["benefits"]["realization"] = {"reference_class": "crm"}
    with pytest.raises(ScenarioError, match="benefits.realization.reference_class: class 'crm' has no "
                                            "benefits_realization preset; it has cost_overrun, schedule_overrun"):
        parse_scenario(data)


def test_every_quantity_can_come_from_a_class_and_runs():
    from support import metrics_of
    data = copy.deepcopy(BASE)
    data["risks"] = {"cost_overrun": {"reference_class": "it-large"}, "schedule_overrun": {"reference_class": "it-all"}}
    data["adoption"] = {"ceiling": {"reference_class": "crm"}, "ramp_months": 6}
    data["benefits"]["realization"] = {"reference_class": "it-large"}
    sc = parse_scenario(data)
    assert {"risks.cost_overrun", "risks.schedule_overrun", "adoption.ceiling", "benefits.realization"} <= set(sc.drivers())
    m = metrics_of(sc, 20_000)
    # schedule overruns only delay (P = 6, lognormal ratio): go-live never before month 6, often later
    assert m["go_live_month"].min() == 6 and (m["go_live_month"] > 6).mean() > 0.5
    assert np.isfinite(m["npv"]).all()


@pytest.mark.parametrize("statistic,extra,want", [
    ("tail_mean", {"share": 0.5}, 0.75),                    # mean of U(0, 1) above its median
    ("p_outside", {"low": 0.1, "high": 0.8}, 0.3),
    ("p_below", {"threshold": 0.25}, 0.25),
])
def test_statistics_on_a_uniform_sample(statistic, extra, want):
    sample = uniforms(3, "u", 0, N)
    value, se = reference.implied({"statistic": statistic, **extra}, sample)
    assert abs(value - want) <= 4 * se


def test_tail_exponent_recovers_a_pareto_exponent():
    for alpha in (1.0, 2.0, 3.0):
        ratio = (1.0 - uniforms(5, "p", 0, N)) ** (-1.0 / alpha)  # Pareto from 1: P(R > r) = r^-alpha
        value, se = reference.implied({"statistic": "tail_exponent", "low": 1.0, "high": 3.0}, ratio - 1.0)
        assert abs(value - alpha) <= 4 * se, (alpha, value, se)


@pytest.mark.parametrize("name", list(reference.presets()["classes"]))
def test_calibrate_each_class_against_its_figures(name):
    from simengine.calibrate import calibrate_class
    result = calibrate_class(name)
    rows = [r for q in result["quantities"] for r in q["rows"]]
    assert rows and all(r["within"] for r in rows)


def test_calibrate_flags_a_deliberately_optimistic_scenario():
    from simengine.calibrate import calibrate_scenario
    optimistic = parse_scenario(with_overrun({"dist": "pert", "min": 0.0, "mode": 0.05, "max": 0.15}))
    rows = {(r["field"], r["figure"]): r for r in calibrate_scenario(optimistic, "crm")["rows"]}
    assert rows[("risks.cost_overrun", "mean cost overrun")]["optimistic"]
    assert rows[("risks.cost_overrun", "P90")]["optimistic"]
    # BASE has no delay at all: against a class where 61 % of projects are late, that is optimistic
    assert rows[("risks.schedule_overrun", "P(CRM project behind schedule)")]["optimistic"]
    evidence = copy.deepcopy(BASE)
    evidence["risks"] = {"cost_overrun": {"reference_class": "crm"}, "schedule_overrun": {"reference_class": "crm"}}
    evidence["adoption"] = {"ceiling": {"reference_class": "crm"}}
    assert all(r["direction"] == "consistent" for r in calibrate_scenario(parse_scenario(evidence), "crm")["rows"])


def test_calibrate_flags_a_deliberately_pessimistic_scenario_and_names_the_direction():
    """Far worse than the evidence is flagged too, not called consistent."""
    from simengine.calibrate import calibrate_scenario
    pessimistic = parse_scenario(with_overrun({"dist": "uniform", "min": 1.0, "max": 1.5}))  # 100-150 % over
    rows = {(r["field"], r["figure"]): r for r in calibrate_scenario(pessimistic, "crm")["rows"]}
    for figure in ("mean cost overrun", "P50"):
        row = rows[("risks.cost_overrun", figure)]
        assert row["direction"] == "pessimistic" and row["pessimistic"] and not row["optimistic"]
        assert row["gap"] == pytest.approx(row["scenario"] - row["reference"]) and row["gap"] > row["margin"]
    # BASE has no delay: the schedule is still optimistic, in the same calibration
    assert rows[("risks.schedule_overrun", "P(CRM project behind schedule)")]["direction"] == "optimistic"


@pytest.mark.parametrize("value,evidence,worse_when_higher,want", [
    (0.25, 1.0, True, "optimistic"),      # an overrun well below the evidence's
    (1.0, 0.25, True, "pessimistic"),     # ... and well above it
    (0.25, 1.0, False, "pessimistic"),    # a benefit realization well below the evidence's
    (1.0, 0.25, False, "optimistic"),
    (0.5, 0.625, True, "consistent"),     # inside the margin
    (0.75, 0.5, True, "consistent"),      # exactly on it
    (0.75, 0.5, False, "consistent"),
    (float("nan"), 2.0, False, "optimistic"),   # no tail where the evidence has one
    (2.0, float("nan"), False, "pessimistic"),  # a tail where the evidence has none
    (float("nan"), float("nan"), False, "consistent"),
])
def test_direction_of_a_gap(value, evidence, worse_when_higher, want):
    from simengine.calibrate import direction
    assert direction(value, evidence, 0.25, worse_when_higher) == want


def test_calibrate_counts_delays_in_months_and_full_benefits_as_optimistic():
    from simengine.calibrate import calibrate_scenario
    data = copy.deepcopy(BASE)  # planned 6 months, no delay, benefits fully realized
    rows = {(r["field"], r["figure"]): r for r in calibrate_scenario(parse_scenario(data), "it-large")["rows"]}
    assert rows[("benefits.realization", "mean benefits realization")]["optimistic"]
    assert rows[("risks.schedule_overrun", "mean schedule overrun")]["scenario"] == 0.0
    data["schedule"]["delay_months"] = 3.0  # 50 % late, in months: pessimistic against 7 %
    rows = {(r["field"], r["figure"]): r for r in calibrate_scenario(parse_scenario(data), "it-large")["rows"]}
    assert rows[("risks.schedule_overrun", "mean schedule overrun")]["scenario"] == pytest.approx(0.5)
    assert not rows[("risks.schedule_overrun", "mean schedule overrun")]["optimistic"]


def test_calibrate_adds_risk_register_events_to_the_overruns():
    from simengine.calibrate import calibrate_scenario
    data = with_overrun(0.0)
    data["events"] = {"crisis": {"probability": 0.5, "delay_months": 6.0, "cost": 85_000.0}}
    rows = {(r["field"], r["figure"]): r for r in calibrate_scenario(parse_scenario(data), "it-all")["rows"]}
    # BASE's one-time costs under overrun: 50,000 upfront + 120,000 implementation
    assert rows[("risks.cost_overrun", "mean cost overrun")]["scenario"] == pytest.approx(0.25, abs=0.01)
    assert rows[("risks.schedule_overrun", "P(project late)")]["scenario"] == pytest.approx(0.5, abs=0.01)


def test_calibrate_cli(tmp_path):
    import json

    from click.testing import CliRunner

    from simengine.cli import main
    runner = CliRunner()
    text = runner.invoke(main, ["calibrate", "crm"])
    assert text.exit_code == 0 and "published" in text.output and "ok" in text.output
    scen = tmp_path / "s.toml"
    scen.write_text('name = "optimist"\ndiscount_rate = 0.08\n[schedule]\nplanned_months = 6\n'
                    '[risks]\ncost_overrun = { dist = "pert", min = 0.0, mode = 0.05, max = 0.15 }\n'
                    '[costs.impl]\ntiming = "implementation"\namount = 100000\n[benefits.streams.p]\namount = 90000\n')
    flagged = runner.invoke(main, ["calibrate", str(scen)])
    assert flagged.exit_code == 0 and "MORE OPTIMISTIC" in flagged.output
    assert "Your cost overrun P90 is" in flagged.output and "in the crm reference class it is" in flagged.output
    js = json.loads(runner.invoke(main, ["calibrate", str(scen), "--json"]).stdout)
    assert js["against"] == "crm" and any(r["optimistic"] for r in js["rows"])
    # every comparison shows the margin it used: the tolerance plus four standard errors
    for r in js["rows"]:
        # a probability seen in none or all of the draws has no standard error, but its exact bound
        assert (r["se"] is None) == (r["bound95"] is not None)
        assert r["margin"] == pytest.approx(r["tolerance"] + 4 * (r["se"] or 0.0)) and r["direction"] in (
            "optimistic", "pessimistic", "consistent")
        assert r["optimistic"] == (r["direction"] == "optimistic")
        assert r["pessimistic"] == (r["direction"] == "pessimistic")
    p90 = next(r for r in js["rows"] if (r["field"], r["figure"]) == ("risks.cost_overrun", "P90"))
    # the scenario's P90 is a sample quantile: its order-statistic standard error widens the margin
    assert p90["tolerance"] == 0.02 and 0 < p90["se"] < 0.002 and p90["margin"] == pytest.approx(0.02 + 4 * p90["se"])
    certain = next(r for r in js["rows"] if r["figure"] == "P(cost overrun > 0)")
    assert certain["scenario"] == 1.0 and certain["se"] is None
    assert certain["bound95"] == pytest.approx(0.05 ** (1 / 200_000))
    assert "yours >99.998" in flagged.output and "yours 100.0%" not in flagged.output
    rows = [line for line in flagged.output.splitlines() if line.startswith("  ")]
    assert len(rows) == len(js["rows"]) and all(" ± " in line for line in rows)
    gap = (p90["reference"] - p90["scenario"]) * 100
    assert (f"Your cost overrun P90 is {p90['scenario'] * 100:.1f}%; in the crm reference class it is "
            f"{p90['reference'] * 100:.1f}% ± 2.0 points: more optimistic than the evidence by {gap:.1f} points."
            ) in flagged.output
    # far more pessimistic than the evidence is flagged as such, not "consistent"
    scen.write_text(scen.read_text().replace('{ dist = "pert", min = 0.0, mode = 0.05, max = 0.15 }',
                                             '{ dist = "uniform", min = 1.0, max = 1.5 }'))
    gloomy = runner.invoke(main, ["calibrate", str(scen)]).output
    mean = next(line for line in gloomy.splitlines() if line.startswith("  mean cost overrun"))
    assert "MORE PESSIMISTIC by" in mean and "points" in mean
    assert "Your mean cost overrun is " in gloomy and ": more pessimistic than the evidence by " in gloomy
    # a tail the scenario does not have is null in JSON, and reads as "none" in text
    stress = runner.invoke(main, ["calibrate", str(scen), "--against", "it-fat-tail-stress", "--json"])
    tail = next(r for r in json.loads(stress.stdout)["rows"] if r["figure"].startswith("tail exponent"))
    assert tail["scenario"] is None and tail["optimistic"]
    text = runner.invoke(main, ["calibrate", str(scen), "--against", "it-fat-tail-stress"]).output
    assert "tail exponent of the cost ratio (3x to 6x) is none" in text
    for name in reference.presets()["classes"]:
        out = runner.invoke(main, ["calibrate", name])
        assert out.exit_code == 0 and "OUTSIDE" not in out.output and "source:" in out.output


EVIDENCE_VARIANTS = ["crm_upgrade_big_bang", "crm_upgrade_phased", "crm_new_small_firm"]


@pytest.mark.parametrize("original", EVIDENCE_VARIANTS)
def test_each_evidence_variant_changes_only_what_the_evidence_replaces(original):
    """The *_evidence scenarios are their originals with the crm class for cost overrun,
    schedule overrun and adoption ceiling, no delay in months, and events without the cost
    and delay impacts the class's overruns already contain."""
    from simengine.bundled import bundled_scenarios
    from simengine.calibrate import calibrate_scenario
    from simengine.scenario import load_scenario

    paths = bundled_scenarios()
    base = load_scenario(paths[original])
    evidence = load_scenario(paths[f"{original}_evidence"])
    a, b = copy.deepcopy(base.canonical), copy.deepcopy(evidence.canonical)
    assert b["name"] == f"{original}_evidence" and b["seed"] == a["seed"]
    for field, path in (("risks", "cost_overrun"), ("risks", "schedule_overrun"), ("adoption", "ceiling")):
        assert b[field].pop(path)["reference_class"] == "crm"
        a[field].pop(path, None)
    assert b["schedule"].pop("delay_months") == {"dist": "fixed", "value": 0.0}
    a["schedule"].pop("delay_months")
    a["events"] = {name: {**e, "cost": {"dist": "fixed", "value": 0.0}, "delay_months": {"dist": "fixed", "value": 0.0}}
                   for name, e in a["events"].items() if e["benefit_loss"] != {"dist": "fixed", "value": 0.0}}
    for c in a["correlations"]:
        c["drivers"] = ["risks.schedule_overrun" if d == "schedule.delay_months" else d for d in c["drivers"]]
    for d in (a, b):
        d.pop("name"), d.pop("description")
    assert a == b
    assert not any(r["optimistic"] for r in calibrate_scenario(evidence, "crm")["rows"])


def test_calibrate_names_classes_and_scenarios_it_does_not_know():
    from click.testing import CliRunner

    from simengine.cli import main
    runner = CliRunner()
    typo = runner.invoke(main, ["calibrate", "it-al"])
    assert typo.exit_code == 2 and 'neither a reference class nor a scenario' in typo.stderr
    assert 'did you mean "it-all"' in typo.stderr and "Traceback" not in typo.output
    against = runner.invoke(main, ["calibrate", "crm_upgrade_big_bang", "--against", "it-smal"])
    assert against.exit_code == 2 and against.stderr.startswith("Error: --against: unknown reference class")
