"""Budget and date at a confidence level (issue 14): the base case, contingency, the chance the
base estimate is enough, and the schedule, against closed forms and direct counts."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from simengine.base_case import base_case
from simengine.cli import main
from simengine.kernels.cashflows import METRICS
from simengine.runner import run
from simengine.streams import BLOCK_SIZE
from simengine.summary import Z95, needed_ranks
from simengine.summary_stream import StreamingSummary


def test_the_big_bang_base_case_by_hand(bundled):
    """Every cost at its PERT mode, the overrun at its mode (45 %), no delay (the delay's mode is
    0) and no event: the one-time cost is the licences (no overrun) plus 1.45 x the hardware
    and the seven implementation items' modes, and go-live is the planned month 12."""
    base = base_case(bundled["crm_upgrade_big_bang"])
    implementation = 175_000 + 350_000 + 75_000 + 120_000 + 190_000 + 270_000 + 190_000
    assert base["one_time_cost"] == pytest.approx(270_000 + 50_000 + 1.45 * (60_000 + implementation), rel=1e-12)
    assert base["go_live_month"] == 12
    assert base["payback_after_go_live_months"] == base["payback_months"] - 12


def test_a_deterministic_scenario_needs_no_contingency(bundled):
    """Every trial is the base case: the base is enough in every trial, contingency and cost of
    risk are 0, and the project is on plan in every trial."""
    sc = bundled["deterministic_example"]
    summary = run(sc, trials=500, seed=1, out=None).summary
    block = summary["budget_and_date"]
    base = base_case(sc)
    for name in ("one_time_cost", "total_cost"):
        cost = block["costs"][name]
        assert cost["base"] == base[name] == summary["metrics"][name]["p80"]["value"]
        assert cost["p_base_enough"]["value"] == 1.0 and "lower95" in cost["p_base_enough"]
        assert all(k["value"] == 0.0 and k["share_of_base"] == 0.0 for k in cost["contingency"].values())
    assert block["go_live"]["planned"] == base["go_live_month"] == 6
    assert block["go_live"]["p_on_plan"]["value"] == 1.0
    assert block["go_live"]["contingency_months"]["p80"]["value"] == 0
    assert block["npv"]["cost_of_risk"]["value"] == pytest.approx(0.0, abs=1e-6)
    assert block["base_case"]["npv"] == pytest.approx(66_839, rel=1e-4)  # docs/model.md's worked example


def test_figures_equal_direct_computations_on_a_random_scenario(bundled):
    """P(base enough), P(on plan) and the contingencies against the stored trials."""
    sc = bundled["crm_upgrade_phased"]
    n = 5_000
    result = run(sc, trials=n, seed=11, out=None)
    block = result.summary["budget_and_date"]
    from support import metrics_of

    m = metrics_of(sc, n, 11)
    base = base_case(sc)
    otc = np.sort(m["one_time_cost"])
    assert block["costs"]["one_time_cost"]["p_base_enough"]["value"] == np.count_nonzero(otc <= base["one_time_cost"]) / n
    p80 = otc[int(np.ceil(0.8 * n)) - 1]
    assert block["costs"]["one_time_cost"]["contingency"]["p80"]["value"] == pytest.approx(p80 - base["one_time_cost"])
    g = m["go_live_month"]
    assert block["go_live"]["p_on_plan"]["value"] == np.count_nonzero(g <= base["go_live_month"]) / n
    g80 = np.sort(g)[int(np.ceil(0.8 * n)) - 1]
    assert block["go_live"]["contingency_months"]["p80"]["value"] == g80 - base["go_live_month"]
    assert block["npv"]["cost_of_risk"]["value"] == pytest.approx(base["npv"] - m["npv"].mean(), rel=1e-9)
    assert block["roi"]["base"] == base["roi"] and block["roi"]["p50"] == result.summary["metrics"]["roi"]["p50"]
    assert block["payback_months"]["base"] == base["payback_months"]


@pytest.mark.parametrize("trials", [BLOCK_SIZE - 7, 3 * BLOCK_SIZE + 11])
def test_the_count_within_the_base_is_exact_across_the_pilot(trials):
    """The base estimate is an anchor band fixed at the end of the pilot: with ties at the base
    itself, the count of trials at or below it equals a direct count, before and after."""
    rng = np.random.default_rng(5)
    m = np.full((len(METRICS), trials), np.nan)
    m[METRICS.index("npv")] = rng.normal(0, 1e5, trials)
    m[METRICS.index("one_time_cost")] = np.round(rng.gamma(4, 2.5e5, trials), -4)  # many ties
    m[METRICS.index("total_cost")] = m[METRICS.index("one_time_cost")] * 1.5
    m[METRICS.index("go_live_month")] = rng.integers(10, 20, trials)
    base_otc = float(np.median(m[METRICS.index("one_time_cost")]))
    base = {"one_time_cost": base_otc, "total_cost": 1.5 * base_otc, "go_live_month": 12.0, "npv": 0.0,
            "roi": None, "payback_months": None, "payback_after_go_live_months": None}
    from simengine.scenario import parse_scenario
    from support import BASE

    acc = StreamingSummary(parse_scenario(dict(BASE)).decision, pilot=BLOCK_SIZE, base=base)
    for lo in range(0, trials, 10_000):
        acc.add(m[:, lo:lo + 10_000])
    acc.finish()
    summary = acc.summary()
    otc = m[METRICS.index("one_time_cost")]
    assert np.count_nonzero(otc == base_otc) > 1
    got = summary["budget_and_date"]["costs"]["one_time_cost"]["p_base_enough"]["value"]
    assert got == np.count_nonzero(otc <= base_otc) / trials
    assert summary["budget_and_date"]["go_live"]["p_on_plan"]["value"] == \
        np.count_nonzero(m[METRICS.index("go_live_month")] <= 12) / trials


def test_the_cli_prints_budget_and_date_first_and_in_json():
    res = CliRunner().invoke(main, ["run", "crm_upgrade_big_bang", "-n", "3000", "--summary-only"])
    assert res.exit_code == 0, res.output
    body = res.stdout.splitlines()
    assert body[2].startswith("Budget and date (base case: every driver at its most likely value")
    assert any(line.startswith("Spreadsheet NPV (base case) 2,696,407 EUR") for line in body)
    assert any(line.startswith("  spreadsheet ROI ") and "payback month 34.0" in line for line in body)
    data = json.loads(CliRunner().invoke(main, ["run", "crm_upgrade_big_bang", "-n", "3000", "--summary-only",
                                                "--json"]).stdout)
    block = data["budget_and_date"]
    assert block["costs"]["one_time_cost"]["base"] == pytest.approx(2_393_500, rel=1e-12)
    assert set(block["costs"]["one_time_cost"]["contingency"]) == {"p50", "p80", "p90"}


# --- joint confidence of budget and date -------------------------------------------------------


def two_driver_scenario():
    """One-time cost U(100, 200) (an upfront item, no overrun) and go-live ceil(10 + U(0, 6)),
    independent: P(cost <= B, g <= D) = (B - 100) / 100 * (D - 10) / 6 for D in 10..16."""
    from support import scenario

    return scenario(schedule={"planned_months": 10, "delay_months": {"dist": "uniform", "min": 0, "max": 6}},
                    costs={"kit": {"timing": "upfront", "amount": {"dist": "uniform", "min": 100, "max": 200},
                                   "overrun": False}})


def test_the_joint_frontier_of_two_independent_drivers_has_its_closed_form():
    n = 200_000
    block = run(two_driver_scenario(), trials=n, seed=4, out=None).summary["budget_and_date"]
    joint = block["joint"]
    assert joint["level"] == 0.7 and joint["trials"] == n
    points = {p["go_live_month"]: p for p in joint["frontier"]}
    # from the month before the earliest reaching 70 % (month 15: 5/6), through P99 (16), and the plan 13
    assert sorted(points) == [13, 14, 15, 16]
    for month in sorted(points):
        share = (month - 10) / 6
        live = points[month]["p_live_by"]
        assert abs(live["value"] - share) <= 5 * math.sqrt(share * (1 - share) / n) + 1e-12
        budget = points[month]["budget"]
        if share < 0.7 - 0.01:
            assert budget["value"] is None and "not reachable" in budget["note"]
        elif share > 0.7 + 0.01:
            want = 100 + 100 * 0.7 / share
            assert abs(budget["value"] - want) <= 5 * budget["se"], (month, budget, want)
    # The base case: cost at its median 150, go-live at ceil(10 + 3) = 13: P(both) = 0.5 x 0.5.
    assert block["go_live"]["planned"] == 13
    both = joint["base_and_plan"]
    assert abs(both["value"] - 0.25) <= 5 * both["se"]


@pytest.mark.parametrize("trials", [BLOCK_SIZE - 7, 3 * BLOCK_SIZE + 11])
def test_the_joint_frontier_is_exact_across_the_pilot(trials):
    """Every frontier point is the exact order statistic of x_D over all trials, before the
    pilot ends (every pair kept) and after (bands fixed by the pilot), with ties at the base."""
    rng = np.random.default_rng(8)
    m = np.full((len(METRICS), trials), np.nan)
    m[METRICS.index("npv")] = rng.normal(0, 1e5, trials)
    cost = np.round(rng.gamma(4, 2.5e5, trials), -4)
    g = rng.integers(10, 20, trials).astype(float)
    m[METRICS.index("one_time_cost")], m[METRICS.index("total_cost")] = cost, 1.5 * cost
    m[METRICS.index("go_live_month")] = g
    base = {"one_time_cost": float(np.median(cost)), "total_cost": 1.5 * float(np.median(cost)),
            "go_live_month": 12.0, "npv": 0.0, "roi": None, "payback_months": None,
            "payback_after_go_live_months": None}
    from simengine.scenario import parse_scenario
    from support import BASE

    acc = StreamingSummary(parse_scenario(dict(BASE)).decision, pilot=BLOCK_SIZE, base=base)
    for lo in range(0, trials, 10_000):
        acc.add(m[:, lo:lo + 10_000])
    acc.finish()
    joint = acc.summary()["budget_and_date"]["joint"]
    rank = math.ceil(0.7 * trials)
    noted = 0
    for point in joint["frontier"]:
        x = np.sort(np.where(g <= point["go_live_month"], cost, np.inf))
        want = x[rank - 1]
        got = point["budget"]["value"]
        assert (got is None and math.isinf(want)) or got == want, point
        assert point["p_live_by"]["value"] == np.count_nonzero(g <= point["go_live_month"]) / trials
        if got is not None:  # no SE, and a note saying why, when the interval's top is not live by D
            lo, _, hi = needed_ranks(trials, 0.7)
            se = (x[hi - 1] - x[lo - 1]) / (2 * Z95)
            assert point["budget"]["se"] == (se if math.isfinite(se) else None), point
            assert ("note" in point["budget"]) == (not math.isfinite(se)), point
            noted += "note" in point["budget"]
    assert noted == 1  # the first month reaching 70 % does so by too few trials to rule out missing it
    from simengine.textout import budget_lines

    text = "\n".join(budget_lines(acc.summary()["budget_and_date"], "EUR"))
    assert "* for month" in text and "\n  * no standard error: its 95 % interval reaches 'not reachable'" in text
    assert joint["base_and_plan"]["value"] == np.count_nonzero((cost <= base["one_time_cost"]) & (g <= 12)) / trials
    live = np.array([np.count_nonzero(g <= d) for d in range(10, 20)]) / trials
    first = 10 + int(np.argmax(live >= 0.7))  # the earliest month reaching 70 %
    assert [p["go_live_month"] for p in joint["frontier"]] == sorted({*range(first - 1, 20), 12})


def test_the_joint_level_is_the_scenarios_choice():
    from support import scenario

    sc = scenario(schedule={"planned_months": 10, "delay_months": {"dist": "uniform", "min": 0, "max": 6}},
                  costs={"kit": {"timing": "upfront", "amount": {"dist": "uniform", "min": 100, "max": 200},
                                 "overrun": False}},
                  decision={"joint_confidence": 0.9})
    joint = run(sc, trials=20_000, seed=4, out=None).summary["budget_and_date"]["joint"]
    assert joint["level"] == 0.9
    point = next(p for p in joint["frontier"] if p["go_live_month"] == 16)  # everyone is live by month 16
    assert abs(point["budget"]["value"] - 190) <= 5 * point["budget"]["se"]


def test_every_bundled_base_case_by_its_rule(bundled):
    """The base one-time cost and go-live month of every bundled scenario, derived from its
    TOML by docs/model.md's rule (PERT/triangular at the mode, other families at the median,
    no event): upfront, implementation and rollout items (times 1 + the overrun where it
    applies) plus the delay cost of the base delay; go-live ceil(P + max(delay + S P, 0))."""
    import tomllib

    from simengine.bundled import bundled_scenarios

    for name, path in bundled_scenarios().items():
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        sc = bundled[name]
        fields = sc.fields()

        def likely(value, field):
            if not isinstance(value, dict):
                return float(value)
            if value.get("dist") in ("pert", "triangular"):
                return float(value["mode"])
            return float(fields[field].ppf(np.array([0.5]))[0])  # the median: the quantile at 0.5

        schedule, risks = raw["schedule"], raw.get("risks", {})
        planned = likely(schedule["planned_months"], "schedule.planned_months")
        delay = likely(schedule.get("delay_months", 0), "schedule.delay_months")
        overrun_s = likely(risks.get("schedule_overrun", 0), "risks.schedule_overrun")
        delta = max(delay + overrun_s * planned, 0.0)
        overrun = 1.0 + max(likely(risks.get("cost_overrun", 0), "risks.cost_overrun"), -0.9)
        one_time = likely(schedule.get("delay_cost_per_month", 0), "schedule.delay_cost_per_month") * delta
        for item_name, item in raw.get("costs", {}).items():
            if item["timing"] == "recurring":
                continue
            amount = likely(item["amount"], f"costs.{item_name}.amount")
            one_time += amount * (overrun if item.get("overrun", True) else 1.0)
        base = base_case(sc)
        assert base["one_time_cost"] == pytest.approx(one_time, rel=1e-12), name
        assert base["go_live_month"] == math.ceil(planned + delta), name


@pytest.mark.parametrize("trials", [20_000, 3 * BLOCK_SIZE + 5])
def test_the_decisions_budget_and_date_together_are_counted_exactly(trials):
    """With decision.budget_max and go_live_month_max both set, the joint block gives the
    exact share of trials within both (before and after the pilot's end)."""
    from support import metrics_of, scenario

    sc = scenario(schedule={"planned_months": 10, "delay_months": {"dist": "uniform", "min": 0, "max": 6}},
                  costs={"kit": {"timing": "upfront", "amount": {"dist": "uniform", "min": 100, "max": 200},
                                 "overrun": False}},
                  decision={"budget_max": 170, "go_live_month_max": 14})
    acc = StreamingSummary(sc.decision, pilot=BLOCK_SIZE, base=base_case(sc))
    m = metrics_of(sc, trials, 2)
    block = np.vstack([m[name] if name in m else np.full(trials, np.nan) for name in METRICS])
    acc.add(block)
    acc.finish()
    chosen = acc.summary()["budget_and_date"]["joint"]["chosen"]
    want = np.count_nonzero((m["one_time_cost"] <= 170) & (m["go_live_month"] <= 14)) / trials
    assert chosen["budget"] == 170 and chosen["go_live_month"] == 14
    assert chosen["probability"]["value"] == want
    assert abs(want - 0.7 * (4 / 6)) < 5 * math.sqrt(0.47 * 0.53 / trials)  # independent: 0.7 x 4/6


def test_the_budget_block_is_bit_identical_across_threads_and_chunk_sizes(bundled):
    sc = bundled["crm_upgrade_phased"]
    trials = 2 * BLOCK_SIZE + 999
    blocks = [json.dumps(run(sc, trials=trials, seed=6, out=None, threads=threads, chunk_size=chunk)
                         .summary["budget_and_date"])
              for threads, chunk in ((1, 65_536), (2, 10_000), (2, 131_072))]
    assert blocks[0] == blocks[1] == blocks[2]
