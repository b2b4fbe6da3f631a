"""Reference-class presets reproduce the published figures they claim, and scenarios can use them."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from simengine import reference
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
        assert abs(value - figure["value"]) <= figure["tolerance"] + 4 * se, (figure["label"], value)


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
    data["adoption"] = {"ceiling": {"reference_class": "crm"}}
    with pytest.raises(ScenarioError, match="reference classes can fill risks.cost_overrun"):
        parse_scenario(data)


def test_calibrate_a_class_against_its_figures():
    from simengine.calibrate import calibrate_class
    result = calibrate_class("crm")
    assert result["rows"] and all(r["within"] for r in result["rows"])


def test_calibrate_flags_a_deliberately_optimistic_scenario():
    from simengine.calibrate import calibrate_scenario
    optimistic = parse_scenario(with_overrun({"dist": "pert", "min": 0.0, "mode": 0.05, "max": 0.15}))
    rows = {r["figure"]: r for r in calibrate_scenario(optimistic, "crm")["rows"]}
    assert rows["mean cost overrun"]["optimistic"] and rows["P90"]["optimistic"]
    evidence = parse_scenario(with_overrun({"reference_class": "crm"}))
    assert not any(r["optimistic"] for r in calibrate_scenario(evidence, "crm")["rows"])


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
