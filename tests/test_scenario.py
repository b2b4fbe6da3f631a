"""Scenario validation: messages name the dotted field; canonical JSON round-trips."""

from __future__ import annotations

import copy
import json

import pytest

from simengine.errors import ScenarioError
from simengine.scenario import parse_scenario, scenario_from_json
from support import BASE


def error_of(mutate) -> str:
    data = copy.deepcopy(BASE)
    mutate(data)
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(data)
    return str(exc.value)


@pytest.mark.parametrize("mutate,message", [
    (lambda d: d.update(horizon=60), 'horizon: unknown key (did you mean "horizon_months"?)'),
    (lambda d: d.pop("name"), "name: is required"),
    (lambda d: d.pop("discount_rate"), "discount_rate: is required"),
    (lambda d: d.update(discount_rate=-1), "discount_rate: must be > -1, got -1"),
    (lambda d: d.update(horizon_months=0), "horizon_months: must be between 1 and 1200, got 0"),
    (lambda d: d["schedule"].update(planned_months=0), "schedule.planned_months: must be > 0, got 0"),
    (lambda d: d["schedule"].update(planned_months={"dist": "uniform", "min": 0, "max": 3}), None),
    (lambda d: d["schedule"].update(planned_months={"dist": "discrete", "values": [0, 3], "probabilities": [0.5, 0.5]}),
     "schedule.planned_months: discrete support [0, 3] breaks the bound: must be > 0"),
    (lambda d: d["costs"]["lic"].update(timing="monthly"),
     "costs.lic.timing: must be one of upfront, implementation, recurring, rollout, got 'monthly'"),
    (lambda d: d["costs"]["lic"].update(start="go_live"), "costs.lic.start: only recurring items have a start"),
    (lambda d: d["costs"]["lic"].update(overrun="yes"), "costs.lic.overrun: expected true or false, got 'yes'"),
    (lambda d: d["costs"]["lic"].update(amount=-5), "costs.lic.amount: must be >= 0, got -5"),
    (lambda d: d["adoption"].update(ceiling=1.2), "adoption.ceiling: must be >= 0 and <= 1, got 1.2"),
    (lambda d: d["adoption"].update(curve="s-shaped"), "adoption.curve: must be one of linear, logistic"),
    (lambda d: d["adoption"].update(phases=[{"share": 1, "offset_months": 1.5}]),
     "adoption.phases[0].offset_months: expected a whole number, got 1.5"),
    (lambda d: d["benefits"].update(realisation=0.8), 'benefits.realisation: unknown key (did you mean "realization"?)'),
    (lambda d: d.update(events={"x": {"probability": 0.1, "delay_months": -1}}),
     "events.x.delay_months: must be >= 0, got -1"),
    (lambda d: d.update(events={"1x": {"probability": 0.1}}), "events.1x: names must start with a letter"),
    (lambda d: d.update(decision={"bcr_minimum": 2}), 'decision.bcr_minimum: unknown key (did you mean "bcr_min"?)'),
])
def test_messages_name_the_field(mutate, message):
    if message is None:  # a continuous support touching an open bound is fine: the end is never drawn
        data = copy.deepcopy(BASE)
        mutate(data)
        parse_scenario(data)
        return
    text = error_of(mutate)
    assert text.startswith(message), text
    assert "\n" not in text


CORRELATED = {"costs": {"a": {"timing": "upfront", "amount": {"dist": "uniform", "min": 1, "max": 2}},
                        "b": {"timing": "upfront", "amount": {"dist": "uniform", "min": 1, "max": 2}},
                        "c": {"timing": "upfront", "amount": {"dist": "uniform", "min": 1, "max": 2}}}}


def corr(pairs):
    return [{"drivers": [f"costs.{a}.amount", f"costs.{b}.amount"], "spearman": r} for a, b, r in pairs]


def test_correlation_errors():
    def with_corr(pairs):
        return lambda d: d.update(CORRELATED, correlations=pairs)
    assert error_of(with_corr(corr([("a", "b", 0.9), ("a", "c", 0.9), ("b", "c", -0.9)]))).startswith(
        "correlations: the matrix is not positive semi-definite")
    assert "costs.lic.amount' is not a sampled driver" in error_of(
        with_corr([{"drivers": ["costs.lic.amount", "costs.a.amount"], "spearman": 0.5}]))
    assert error_of(with_corr(corr([("a", "b", 0.5), ("b", "a", 0.2)]))).startswith(
        "correlations[1].drivers: pair costs.b.amount / costs.a.amount is already given")
    assert error_of(with_corr(corr([("a", "b", 1.5)]))).startswith("correlations[0].spearman: must be in [-1, 1]")


def test_canonical_json_round_trips_and_hash_is_stable():
    data = copy.deepcopy(BASE)
    data.update(CORRELATED, correlations=corr([("a", "b", 0.5)]),
                events={"x": {"probability": 0.2, "cost": {"dist": "pert", "min": 1, "mode": 2, "max": 5}}})
    sc = parse_scenario(data)
    again = scenario_from_json(sc.canonical_json)
    assert again == sc and again.sha256 == sc.sha256
    data["costs"]["a"]["amount"]["max"] = 3
    assert parse_scenario(data).sha256 != sc.sha256


def test_bass_coefficients_belong_to_the_bass_curve():
    assert error_of(lambda d: d.update(adoption={"curve": "logistic", "bass_p": 0.03})) == \
        'adoption.bass_p: is used only with curve = "bass"'
    assert error_of(lambda d: d.update(adoption={"curve": "bass", "bass_p": 0})).startswith("adoption.bass_p: must be > 0")


def test_ramp_months_belongs_to_the_linear_and_logistic_curves():
    """bass_p on a linear curve is an error; so is ramp_months on a bass curve (it was ignored)."""
    assert error_of(lambda d: d.update(adoption={"curve": "bass", "ramp_months": 6})) == \
        'adoption.ramp_months: is not used with curve = "bass", whose shape is set by bass_p and bass_q'
    data = copy.deepcopy(BASE)
    data["adoption"] = {"curve": "bass", "bass_p": {"dist": "uniform", "min": 0.01, "max": 0.05}}
    sc = parse_scenario(data)
    assert "adoption.ramp_months" not in sc.fields() and "ramp_months" not in sc.canonical["adoption"]
    assert sc.drivers() == ["adoption.bass_p"]
    again = scenario_from_json(sc.canonical_json)
    assert again == sc and again.sha256 == sc.sha256
    assert parse_scenario(sc.canonical).canonical == sc.canonical


def test_result_files_that_stored_a_bass_ramp_still_load():
    """simengine <= 0.4 stored the unused ramp_months of a bass curve in the canonical JSON."""
    data = copy.deepcopy(BASE)
    data["adoption"] = {"curve": "bass"}
    sc = parse_scenario(data)
    legacy = copy.deepcopy(sc.canonical)
    legacy["adoption"]["ramp_months"] = {"dist": "fixed", "value": 1.0}
    assert scenario_from_json(json.dumps(legacy)) == sc


@pytest.mark.parametrize("mutate,message", [
    (lambda d: d.update(discount_rate=-0.6),
     "discount_rate: must be between -0.5 and 1 (the supported range), got -0.6"),
    (lambda d: d.update(discount_rate=8), "discount_rate: must be between -0.5 and 1 (the supported range), got 8"),
    (lambda d: d["schedule"].update(planned_months=2e6), "schedule.planned_months: must be at most 1000000"),
    (lambda d: d["schedule"].update(delay_months=-2e6), "schedule.delay_months: must be between -1000000 and 1000000"),
    (lambda d: d["schedule"].update(delay_cost_per_month=1e16), "schedule.delay_cost_per_month: must be at most 1e+15"),
    (lambda d: d["costs"]["lic"].update(amount=1.5e15), "costs.lic.amount: must be at most 1e+15"),
    (lambda d: d["benefits"]["streams"]["prod"].update(amount=1e300), "benefits.streams.prod.amount: must be at most"),
    (lambda d: d.update(events={"x": {"probability": 0.1, "cost": 2e15}}), "events.x.cost: must be at most 1e+15"),
    (lambda d: d.update(events={"x": {"probability": 0.1, "delay_months": 1e19}}),
     "events.x.delay_months: must be at most 1000000"),
    (lambda d: d["risks"].update(cost_overrun=1001), "risks.cost_overrun: must be at most 1000"),
    (lambda d: d["risks"].update(schedule_overrun=-1001), "risks.schedule_overrun: must be between -1000 and 1000"),
    (lambda d: d["risks"].update(maintenance_cap=1e4), "risks.maintenance_cap: must be at most 1000"),
    (lambda d: d["adoption"].update(ramp_months=1e7), "adoption.ramp_months: must be at most 1000000"),
    (lambda d: d.update(adoption={"curve": "bass", "bass_p": 1e-11}), "adoption.bass_p: must be between 1e-10 and 100"),
    (lambda d: d.update(adoption={"curve": "bass", "bass_q": 101}), "adoption.bass_q: must be at most 100"),
])
def test_fixed_values_outside_the_supported_ranges_are_refused(mutate, message):
    text = error_of(mutate)
    assert text.startswith(message), text
    assert "\n" not in text


@pytest.mark.parametrize("mutate", [
    lambda d: d.update(discount_rate=-0.5),
    lambda d: d.update(discount_rate=1),
    lambda d: d["risks"].update(cost_overrun=-1e300, maintenance_load=1e300),  # clipped: no range
    lambda d: d["schedule"].update(delay_months=-1e6),
    lambda d: d.update(adoption={"curve": "bass", "bass_p": 1e-10, "bass_q": 100}),
])
def test_the_ends_of_the_supported_ranges_are_accepted(mutate):
    data = copy.deepcopy(BASE)
    mutate(data)
    parse_scenario(data)
