"""Portfolios (docs/model.md, "Portfolios"): a portfolio of one member is its scenario's run; the
portfolio kernel against the reference model trial by trial; independence and shared drivers against
closed forms; exact Euler contributions; the result file; one-line errors for bad files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from reference_model import reference_trial
from support import specs_from_values

from simengine.cli import main
from simengine.errors import InputError
from simengine.kernels.cashflows import METRICS
from simengine.portfolio_file import loads_portfolio
from simengine.portfolio_run import PortfolioSimulation, run_portfolio
from simengine.portfolio_sampler import member_seed
from simengine.runner import run
from simengine.scenario import load_scenario
from simengine.bundled import bundled_scenarios
from simengine.streams import fill_block

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"

LINKED = """
name = "linked"
seed = 5
[members.a]
scenario = "crm_upgrade_big_bang"
[members.b]
scenario = "crm_upgrade_phased"
start_month = 7
scale = 0.5
[members.c]
scenario = "crm_new_small_firm"
start_month = 3
[shared.rates]
distribution = { dist = "pert", min = 0.9, mode = 1.0, max = 1.4 }
multiplies = ["a.labor", "b.labor", "b.costs.crm_licences.amount"]
[shared.leaves]
distribution = { dist = "bernoulli", p = 0.3 }
replaces = ["*.events.key_consultant_leaves.occurred"]
[shared.realization]
distribution = { dist = "uniform", min = 5000, max = 30000 }
replaces = ["c.costs.planning_requirements.amount"]
[shared.integrator_delay]
distribution = { dist = "triangular", min = 0, mode = 1, max = 4 }
adds = ["a.schedule.delay_months", "c.schedule.delay_months"]
[[correlations]]
drivers = ["a.adoption.ceiling", "b.adoption.ceiling"]
spearman = 0.7
[[correlations]]
drivers = ["shared.realization", "c.adoption.ceiling"]
spearman = -0.4
[budget]
per_year = [2500000, 2000000]
total = 8000000
[decision]
npv_min = 0
payback_months_max = 40
"""


def portfolio(text: str):
    return loads_portfolio(text, SCENARIOS)


def test_a_portfolio_of_one_member_is_its_scenarios_run_with_the_member_seed():
    p = portfolio('name = "one"\n[members.crm]\nscenario = "crm_upgrade_big_bang"\n')
    seed = member_seed(3, "crm")
    got = run_portfolio(p, trials=3000, seed=3, out=None, pilot=1 << 16).summary
    sc = load_scenario(SCENARIOS / "crm_upgrade_big_bang.toml")
    want = run(sc, trials=3000, seed=seed, out=None).summary
    member = got["members"]["crm"]["summary"]
    assert member["metrics"] == want["metrics"]
    assert member["cvar5_npv"] == want["cvar5_npv"] and member["targets"] == want["targets"]
    # the portfolio's own figures are the member's: its NPV, one-time cost and payback
    for name in ("npv", "one_time_cost", "total_cost", "roi", "payback_months"):
        assert got["metrics"][name] == want["metrics"][name], name
    assert got["cvar5_npv"] == want["cvar5_npv"]
    assert got["contributions"]["crm"]["contribution"]["value"] == pytest.approx(want["cvar5_npv"]["value"],
                                                                                  rel=1e-12)
    assert got["diversification_benefit"]["value"] == pytest.approx(0.0, abs=1e-6)


def reference_portfolio(p, sim: PortfolioSimulation, start: int, stop: int) -> dict[str, np.ndarray]:
    """The portfolio's columns from the reference model's monthly flows, in plain Python."""
    n = stop - start
    inputs = {k: m.copy() for k, m in sim.member_inputs(start, stop)}
    npv, cost_pv, one_time = np.zeros(n), np.zeros(n), np.zeros(n)
    months = sim.months
    flows = np.zeros((n, months))
    years = np.zeros((sim.years, n))
    for k, member in enumerate(p.members):
        plan = sim.plan.plans[k]
        values = {name: inputs[k][row] for name, row in plan.rows.items()}
        specs = specs_from_values(member.scenario, values, n)
        o, s = sim.starts[k], member.scale
        for j, spec in enumerate(specs):
            ref = reference_trial(spec)
            m = (1.0 + spec["discount_rate"]) ** (1.0 / 12.0) - 1.0
            factor = s * (1.0 + m) ** -o
            npv[j] += factor * ref["npv"]
            cost_pv[j] += factor * ref["cost_pv"]
            one_time[j] += s * ref["one_time_cost"]
            for t, (c, b) in enumerate(zip(ref["costs_by_month"], ref["benefits_by_month"])):
                flows[j, o + t] += s * (b - c)
                years[(o + t) // 12, j] += s * c
    payback = np.full(n, np.nan)
    for j in range(n):
        running = 0.0
        for t in range(months):
            running += flows[j, t]
            if running >= 0.0:
                payback[j] = t + 1
                break
    return {"npv": npv, "cost_pv": cost_pv, "one_time_cost": one_time, "payback_months": payback,
            **{f"cost_y{y + 1}": years[y] for y in range(sim.years)}}


def test_portfolio_columns_match_the_reference_model_trial_by_trial():
    p = portfolio(LINKED)
    sim = PortfolioSimulation(p, 5)
    chunk = sim.chunk(0, 120)
    ref = reference_portfolio(p, PortfolioSimulation(p, 5), 0, 120)
    for name, want in ref.items():
        got = chunk.columns[name]
        assert np.array_equal(np.isnan(got), np.isnan(want)), name
        ok = ~np.isnan(want)
        np.testing.assert_allclose(got[ok], want[ok], rtol=1e-9, atol=1e-6, err_msg=name)
    assert np.isnan(chunk.columns["payback_months"]).any() or True


def test_shared_driver_effects_are_the_shared_stream_applied_to_the_members_own_draws():
    p = portfolio(LINKED)
    sim = PortfolioSimulation(p, 5)
    n = 500
    inputs = {k: m.copy() for k, m in sim.member_inputs(0, n)}
    rates = np.empty(n)
    fill_block(5, "shared.rates", 0, 0, rates)
    p.shared[0].distribution.spec.apply(rates)
    leaves = np.empty(n)
    fill_block(5, "shared.leaves", 0, 0, leaves)
    p.shared[1].distribution.spec.apply(leaves)
    # member a is linked to b by a correlation, so only its labor items are checked against its own plan's draws
    # with the correlation's group fill; member c (not correlated with a or b) is checked against its own plan.
    c = 2
    own = sim.plan.plans[c].fill(member_seed(5, "c"), 0, n)
    plan = sim.plan.plans[c]
    row = plan.rows["events.key_consultant_leaves.occurred"]
    assert np.array_equal(inputs[c][row], leaves)
    for name in ("costs.crm_licences.amount", "adoption.ramp_months"):
        if name in plan.rows and name not in {"adoption.ceiling"}:
            assert np.array_equal(inputs[c][plan.rows[name]], own[plan.rows[name]]), name
    a_plan = sim.plan.plans[0]
    scenario_a = p.members[0].scenario
    for cost in scenario_a.costs:
        if cost.labor:
            before = a_plan.fill(member_seed(5, "a"), 0, n)[a_plan.rows[f"costs.{cost.name}.amount"]]
            got = inputs[0][a_plan.rows[f"costs.{cost.name}.amount"]]
            np.testing.assert_array_equal(got, before * rates)


def test_independent_members_add_their_variances():
    """Var(X + Y) = Var X + Var Y: the sample covariance of two unlinked members is 0 within its
    standard error (sd_x sd_y / sqrt(n) for independent members), at a fixed seed."""
    p = portfolio('name = "two"\n[members.a]\nscenario = "crm_upgrade_big_bang"\n'
                  '[members.b]\nscenario = "crm_upgrade_big_bang"\n')
    sim = PortfolioSimulation(p, 9)
    chunks = list(sim.run(0, 40_000))
    x = np.concatenate([c.contrib[0] for c in chunks])
    y = np.concatenate([c.contrib[1] for c in chunks])
    total = np.concatenate([c.columns["npv"] for c in chunks])
    np.testing.assert_allclose(total, x + y, rtol=1e-12)
    cov = np.cov(x, y)[0, 1]
    se = x.std() * y.std() / math.sqrt(x.size)
    assert abs(cov) < 4.5 * se
    gap = total.var(ddof=1) - x.var(ddof=1) - y.var(ddof=1)
    assert abs(gap) < 2 * 4.5 * se


SHARED_PAIR = """
name = "pair"
seed = 1
[members.a]
scenario = "a.toml"
[members.b]
scenario = "b.toml"
[shared.m]
distribution = {{ dist = "uniform", min = 0.5, max = 1.5 }}
multiplies = ["a.costs.shared_item.amount", "b.costs.shared_item.amount"]
"""

MEMBER = """
name = "{name}"
horizon_months = 12
discount_rate = 0.0
[schedule]
planned_months = 1
[costs.own]
timing = "upfront"
amount = {{ dist = "uniform", min = 0, max = {own} }}
overrun = false
[costs.shared_item]
timing = "upfront"
amount = {shared}
overrun = false
[adoption]
ceiling = 1
ramp_months = 1
[[benefits.streams]]
"""


def member_file(folder: Path, name: str, own: float, shared: float) -> None:
    text = MEMBER.format(name=name, own=own, shared=shared).replace("[[benefits.streams]]\n",
                                                                     "[benefits.streams.value]\namount = 1000000\n")
    (folder / f"{name}.toml").write_text(text)


def test_a_shared_driver_correlates_members_as_its_closed_form_says(tmp_path):
    """NPV_k = const - U_k - F_k M with U_k ~ U(0, w_k) own and M ~ U(0.5, 1.5) shared:
    corr = F_a F_b Var M / sqrt((w_a^2/12 + F_a^2 Var M)(w_b^2/12 + F_b^2 Var M))."""
    member_file(tmp_path, "a", 300_000, 200_000)
    member_file(tmp_path, "b", 100_000, 500_000)
    p = loads_portfolio(SHARED_PAIR.format(), tmp_path)
    chunks = list(PortfolioSimulation(p, 1).run(0, 50_000))
    a = np.concatenate([c.contrib[0] for c in chunks])
    b = np.concatenate([c.contrib[1] for c in chunks])
    var_m = 1.0 / 12
    want = 2e5 * 5e5 * var_m / math.sqrt((3e5 ** 2 / 12 + 2e5 ** 2 * var_m) * (1e5 ** 2 / 12 + 5e5 ** 2 * var_m))
    got = np.corrcoef(a, b)[0, 1]
    se = (1 - want ** 2) / math.sqrt(a.size - 3)  # Fisher's z, back on the correlation's scale
    assert abs(got - want) < 4.5 * se


def test_cvar_contributions_are_the_worst_trials_means_and_add_up(tmp_path):
    p = portfolio(LINKED)
    out = tmp_path / "linked.parquet"
    report = run_portfolio(p, trials=5000, seed=5, out=out, pilot=1 << 16)
    s = report.summary
    table = pq.read_table(out).to_pydict()
    npv = np.array(table["npv"])
    order = np.lexsort((np.array(table["trial"]), npv))[:math.ceil(0.05 * npv.size)]
    assert s["trials_in_tail"] == order.size
    assert s["cvar5_npv"]["value"] == pytest.approx(npv[order].mean(), rel=1e-12)
    for name in ("a", "b", "c"):
        want = np.array(table[f"{name}.npv_in_portfolio"])[order].mean()
        assert s["contributions"][name]["contribution"]["value"] == pytest.approx(want, rel=1e-12)
    assert s["contributions_sum"] == pytest.approx(s["cvar5_npv"]["value"], rel=1e-12)
    assert s["diversification_benefit"]["value"] >= 0.0


def test_the_result_file_holds_every_trial_typed_with_nulls_and_its_metadata(tmp_path):
    p = portfolio(LINKED)
    out = tmp_path / "r.parquet"
    report = run_portfolio(p, trials=3000, seed=5, out=out, pilot=1 << 16)
    f = pq.ParquetFile(out)
    meta = {k.decode(): v.decode() for k, v in f.schema_arrow.metadata.items()}
    assert meta["simengine.kind"] == "portfolio" and meta["simengine.seed"] == "5"
    assert json.loads(meta["simengine.member_seeds"]) == {m: member_seed(5, m) for m in ("a", "b", "c")}
    assert json.loads(meta["simengine.portfolio"])["name"] == "linked"
    table = f.read()
    assert table.num_rows == 3000 and table["trial"].to_pylist() == list(range(3000))
    assert str(table.schema.field("payback_months").type) == "int32"
    assert str(table.schema.field("a.go_live_month").type) == str(
        pq.ParquetFile(out).schema_arrow.field("b.go_live_month").type)
    exceeded = np.array(table["budget_exceeded"].to_pylist())
    assert report.summary["p_budget_exceeded"]["value"] == exceeded.mean()
    y1 = np.array(table["cost_y1"].to_pylist())
    y2 = np.array(table["cost_y2"].to_pylist())
    total = sum(np.array(table[f"cost_y{y}"].to_pylist()) for y in range(1, report.summary["years"] + 1))
    want = (y1 > 2.5e6) | (y2 > 2e6) | (total > 8e6)
    assert np.array_equal(exceeded, want)
    summary = json.loads(out.with_name("r.summary.json").read_text())
    assert summary["trials"] == 3000 and summary["members"]["b"]["start_month"] == 7
    npv = np.array(table["npv"].to_pylist())
    assert summary["p_npv_negative"]["value"] == np.mean(npv < 0)


def test_the_summary_does_not_depend_on_threads_or_pilot():
    p = portfolio(LINKED)
    one = run_portfolio(p, trials=2500, seed=5, out=None, threads=1, pilot=1 << 16).summary
    two = run_portfolio(p, trials=2500, seed=5, out=None, threads=2, pilot=1 << 16).summary
    assert one == two


def test_second_pass_when_the_pilot_misses(monkeypatch):
    """A tiny pilot (one block) whose bands cannot hold the final ranks: the run re-simulates and
    the figures equal those of a run that keeps every value."""
    p = portfolio('name = "one"\n[members.crm]\nscenario = "crm_upgrade_big_bang"\n')
    import simengine.summary_stream as ss
    from simengine import portfolio_run
    monkeypatch.setattr(ss, "BAND_SIGMAS", 0.0)
    reruns = []
    original = portfolio_run.PortfolioAccumulator.finish

    def finish(self, rerun):
        reruns.append(self.columns.incomplete())
        original(self, rerun)

    monkeypatch.setattr(portfolio_run.PortfolioAccumulator, "finish", finish)
    small = run_portfolio(p, trials=2 * 65536 + 5, seed=5, out=None, pilot=65536).summary
    monkeypatch.undo()
    assert reruns and reruns[0], "the narrow bands were expected to miss"
    full = run_portfolio(p, trials=2 * 65536 + 5, seed=5, out=None, pilot=3 * 65536).summary
    for name in ("npv", "one_time_cost", "cost_y1"):
        block = small["metrics"].get(name) or small["spend_by_year"][0]
        want = full["metrics"].get(name) or full["spend_by_year"][0]
        assert block["p50"] == want["p50"] and block["p95"] == want["p95"]


BAD = [
    ('name = "x"\n', "members: is required"),
    ('name = "x"\n[members.a]\nscenario = "crm_upgrade_big_bnag"\n', "did you mean"),
    ('name = "x"\nbudjet = 1\n[members.a]\nscenario = "crm_upgrade_big_bang"\n', "budget"),
    ('name = "x"\n[members.a]\nscenario = "crm_upgrade_big_bang"\nscale = 0\n', "members.a.scale"),
    ('name = "x"\n[members.a]\nscenario = "crm_upgrade_big_bang"\nstart_month = -1\n', "members.a.start_month"),
    ('name = "x"\n[members.a]\nscenario = "nope.toml"\n', "no such scenario file"),
    ('name = "x"\ncurrency = "USD"\n[members.a]\nscenario = "crm_upgrade_big_bang"\n', "currency"),
    ('name = "x"\n[members.a]\nscenario = "crm_upgrade_big_bang"\n[[correlations]]\n'
     'drivers = ["a.adoption.ceilign", "a.benefits.realization"]\nspearman = 0.5\n', "did you mean"),
    ('name = "x"\n[members.a]\nscenario = "crm_upgrade_big_bang"\n[shared.m]\n'
     'distribution = { dist = "uniform", min = -1, max = 1 }\nmultiplies = ["a.labor"]\n', "multiplier"),
    ('name = "x"\n[members.a]\nscenario = "crm_upgrade_big_bang"\n[shared.m]\n'
     'distribution = 2\nmultiplies = ["a.adoption.ceiling"]\n', "cannot be multiplied"),
    ('name = "x"\n[members.a]\nscenario = "crm_upgrade_big_bang"\n[shared.m]\n'
     'distribution = 1.5\nreplaces = ["a.benefits.realization"]\n', "a.benefits.realization"),
    ('name = "x"\n[members.a]\nscenario = "crm_upgrade_big_bang"\n[shared.m]\n'
     'distribution = 0.5\nreplaces = ["a.events.project_crisis.occurred"]\n', "bernoulli"),
    ('name = "x"\n[members.a]\nscenario = "crm_upgrade_big_bang"\n[shared.m]\n'
     'distribution = 1\nreplaces = ["z.schedule.delay_months"]\n', "MEMBER.INPUT"),
    ('name = "x"\n[members.a]\nscenario = "crm_upgrade_big_bang"\n[budget]\nper_year = [1, -2]\n',
     "budget.per_year[1]"),
    ('name = "x"\n[members.a]\nscenario = "crm_upgrade_big_bang"\n[members.b]\nscenario = "crm_upgrade_phased"\n'
     '[[correlations]]\ndrivers = ["a.adoption.ceiling", "b.adoption.ceiling"]\nspearman = 0.9\n'
     '[[correlations]]\ndrivers = ["a.adoption.ceiling", "b.benefits.realization"]\nspearman = -0.9\n',
     "not positive semi-definite"),
    ('name = "x"\ndiscount_rate = { dist = "uniform", min = 0.05, max = 0.1 }\n[members.a]\n'
     'scenario = "crm_upgrade_big_bang"\n', "shared driver"),
    ('name = "x"\n[members.a]\nscenario = "crm_upgrade_big_bang"\n[decision]\nbudget_exceedance_max = 1.5\n',
     "decision.budget_exceedance_max"),
    # inputs a newcomer's run-through found accepted
    ('name = "x"\n[members.a]\nscenario = "erp_replacement"\n[shared.c]\ndistribution = { dist = "bernoulli", p = 0.1 }\n'
     'replaces = ["a.events.project_crisis.occurred"]\n', "correlated within its scenario"),
    ('name = "x"\n[members.a]\nscenario = "crm_upgrade_big_bang"\n[decision]\nbudget_exceedance_max = 0.2\n',
     "no [budget]"),
    ('name = "x"\n[members.a]\nscenario = "crm_upgrade_big_bang"\n[budget]\n', "budget: is empty"),
    ('name = "x"\n[members.a]\nscenario = "crm_upgrade_big_bang"\n[budget]\nper_year = [' + "1e6, " * 7 + '1e6]\n',
     "8 years given"),
    ('name = "x"\n[members.a]\nscenario = "crm_upgrade_big_bang"\nstart_options = [6, 12]\n',
     "must include start_month"),
    ('name = "x"\n[members.a]\nscenario = "crm_upgrade_big_bang"\n[shared.f]\ndistribution = 1.1\n'
     'multiplies = ["a.labor"]\n[[correlations]]\ndrivers = ["shared.f", "a.adoption.ceiling"]\nspearman = 0.3\n',
     "not a sampled driver"),
]


@pytest.mark.parametrize("text, words", BAD)
def test_bad_portfolio_files_get_one_line_and_exit_2(tmp_path, text, words):
    path = tmp_path / "p.toml"
    path.write_text(text)
    result = CliRunner().invoke(main, ["portfolio", str(path), "--summary-only", "-q"])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and words in lines[0], result.output
    assert not (tmp_path / "results").exists()


def test_cli_options_that_need_optimize_are_refused_without_it(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('name = "x"\n[members.a]\nscenario = "crm_upgrade_big_bang"\n')
    result = CliRunner().invoke(main, ["portfolio", str(path), "--cvar-floor", "0", "--summary-only"])
    assert result.exit_code == 2 and "--cvar-floor goes with --optimize" in result.output


def test_cli_writes_the_result_summary_and_json(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(LINKED.replace('"crm_upgrade_big_bang"', f'"{bundled_scenarios()["crm_upgrade_big_bang"]}"'))
    out = tmp_path / "r.parquet"
    result = CliRunner().invoke(main, ["portfolio", str(path), "-n", "2000", "--out", str(out), "--no-report",
                                       "--json", "-q"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["trials"] == 2000 and data["result_path"] == str(out)
    assert out.exists() and out.with_name("r.summary.json").exists()
    again = CliRunner().invoke(main, ["portfolio", str(path), "-n", "2000", "--out", str(out), "--no-report", "-q"])
    assert again.exit_code == 2 and "--force" in again.output


def test_member_metrics_in_the_file_are_the_members_own(tmp_path):
    p = portfolio(LINKED)
    chunk = PortfolioSimulation(p, 5).chunk(0, 300)
    for k, m in enumerate(p.members):
        npv = chunk.members[k][METRICS.index("npv")]
        assert np.all(np.isfinite(npv))
        assert not np.array_equal(npv, chunk.contrib[k]) or (m.start_month == 0 and m.scale == 1.0)


def test_loading_errors_are_input_errors():
    with pytest.raises(InputError):
        portfolio('name = "x"\n[members."a b"]\nscenario = "crm_upgrade_big_bang"\n')


def test_a_cluster_run_equals_the_local_run(client, tmp_path):
    from simengine.dask_executor import DaskExecutor

    p = portfolio(LINKED)
    local = run_portfolio(p, trials=70_000, seed=5, out=tmp_path / "local.parquet", pilot=1 << 16)
    remote = run_portfolio(p, trials=70_000, seed=5, out=tmp_path / "remote.parquet", pilot=1 << 16,
                           executor=DaskExecutor(client))
    assert local.summary == remote.summary
    assert pq.read_table(tmp_path / "local.parquet").equals(pq.read_table(tmp_path / "remote.parquet"))


def test_the_canonical_json_rebuilds_the_same_portfolio():
    from simengine.portfolio_file import portfolio_from_json

    p = portfolio(LINKED)
    assert portfolio_from_json(p.canonical_json).sha256 == p.sha256


def test_report_of_a_portfolio_result_and_one_line_from_single_scenario_commands(tmp_path):
    p = tmp_path / "p.toml"
    p.write_text(f'name = "x"\n[members.a]\nscenario = "{bundled_scenarios()["crm_upgrade_big_bang"]}"\n'
                 f'[members.b]\nscenario = "{bundled_scenarios()["data_platform"]}"\nstart_month = 6\n')
    out = tmp_path / "r.parquet"
    ran = CliRunner().invoke(main, ["portfolio", str(p), "-n", "3000", "--out", str(out), "--no-report", "-q"])
    assert ran.exit_code == 0, ran.output
    page = tmp_path / "page.html"
    made = CliRunner().invoke(main, ["report", str(out), "--out", str(page)])
    assert made.exit_code == 0, made.output
    assert "Content-Security-Policy" in page.read_text() and "<script" not in page.read_text()
    for command in (["summarize", str(out)], ["sensitivity", str(out)]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
        assert "a portfolio's result" in result.output


def test_the_portfolios_discount_rate_replaces_each_members():
    p = portfolio('name = "x"\ndiscount_rate = 0.12\n[members.a]\nscenario = "crm_upgrade_big_bang"\n')
    assert p.members[0].scenario.discount_rate.params["value"] == 0.12
    shared = portfolio('name = "x"\n[members.a]\nscenario = "crm_upgrade_big_bang"\n[members.b]\n'
                       'scenario = "data_platform"\n[shared.rate]\n'
                       'distribution = { dist = "uniform", min = 0.05, max = 0.1 }\nreplaces = ["*.discount_rate"]\n')
    sim = PortfolioSimulation(shared, 3)
    inputs = {k: m.copy() for k, m in sim.member_inputs(0, 100)}
    row = sim.plan.plans[0].rows["discount_rate"]
    assert np.array_equal(inputs[0][row], inputs[1][sim.plan.plans[1].rows["discount_rate"]])
    assert 0.05 <= inputs[0][row].min() and inputs[0][row].max() <= 0.1


SIX = """
name = "six"
seed = 4
[members.m0]
scenario = "crm_upgrade_big_bang"
start_options = [0, 12]
[members.m1]
scenario = "data_platform"
start_options = [0, 6]
[members.m2]
scenario = "crm_new_small_firm"
[members.m3]
scenario = "crm_upgrade_phased"
start_month = 6
start_options = [6, 18]
[members.m4]
scenario = "data_platform"
scale = 0.5
[members.m5]
scenario = "crm_new_small_firm"
start_month = 12
scale = 2.0
start_options = [12]
[shared.rates]
distribution = { dist = "pert", min = 0.95, mode = 1.0, max = 1.3 }
multiplies = ["*.labor"]
[budget]
per_year = [4000000, 3500000]
[decision]
budget_exceedance_max = 0.1
cvar_min = -4000000
"""


def brute_force(npv, spend, options, limits, alpha, floor):
    """Every plan (each member unfunded or at one of its options), scored on the arrays directly."""
    import itertools

    n = npv.shape[-1]
    k = math.ceil(0.05 * n)
    best = []
    for choice in itertools.product(*[[None, *range(len(o))] for o in options]):
        total = np.zeros(n)
        years = np.zeros((spend.shape[2], n))
        for m, o in enumerate(choice):
            if o is not None:
                total += npv[m, o]
                years += spend[m, o]
        over = (years > np.asarray(limits)[:, None]).any(axis=0)
        tail = np.sort(total)[:k].mean()
        if over.mean() <= alpha and tail >= floor:
            best.append((total.mean(), choice))
    best.sort(key=lambda t: -t[0])
    return best


def test_optimize_equals_brute_force_over_every_plan_of_six_members():
    from simengine.portfolio_optimize import option_arrays, optimize

    p = portfolio(SIX)
    npv, spend, available, years = option_arrays(p, 4, 400)
    limits = p.budget.year_limits(years)
    options = [m.start_options for m in p.members]
    expected = brute_force(npv, spend, options, limits, 0.1, -4e6)
    result = optimize(p, seed=4, saa_trials=400, eval_trials=2000, runner_ups=2)
    plans = result["plans"]
    assert len(plans) == 3
    for plan, (mean, choice) in zip(plans, expected):
        assert plan["in_sample"]["npv_mean"] == pytest.approx(mean, rel=1e-9)
        assert tuple(plan["choice"]) == choice
        assert plan["out_of_sample"]["npv_mean"]["se"] > 0


def test_the_optimizers_arrays_are_the_portfolios_own_trials():
    """A plan's NPV and spend from the option arrays equal a run of that plan, trial by trial."""
    from simengine.portfolio_optimize import option_arrays

    p = portfolio(SIX)
    npv, spend, _, years = option_arrays(p, 4, 300)
    starts = {"m0": 12, "m1": 0, "m3": 18}
    sim = PortfolioSimulation(p, 4, starts=starts, funded=set(starts))
    chunk = sim.chunk(0, 300)
    want = npv[0, 1] + npv[1, 0] + npv[3, 1]
    np.testing.assert_allclose(chunk.columns["npv"], want, rtol=1e-12)
    for y in range(sim.years):
        np.testing.assert_allclose(chunk.columns[f"cost_y{y + 1}"], spend[0, 1, y] + spend[1, 0, y] + spend[3, 1, y],
                                   rtol=1e-12, atol=1e-6)


def test_optimize_on_the_command_line_and_its_one_line_refusals(tmp_path):
    path = tmp_path / "six.toml"
    path.write_text(SIX)  # bundled scenarios by name, from any folder
    ok = CliRunner().invoke(main, ["portfolio", str(path), "--optimize", "--saa-trials", "400", "-n", "2000",
                                   "--runner-ups", "1", "--json"])
    assert ok.exit_code == 0, ok.output
    data = json.loads(ok.stdout)
    assert len(data["plans"]) == 2 and data["plans"][0]["in_sample"]["feasible"]
    text = CliRunner().invoke(main, ["portfolio", str(path), "--optimize", "--saa-trials", "400", "-n", "2000",
                                     "--runner-ups", "0"])
    assert text.exit_code == 0 and text.output.startswith("Plans by expected portfolio NPV")
    impossible = CliRunner().invoke(main, ["portfolio", str(path), "--optimize", "--saa-trials", "400",
                                           "--cvar-floor", "1e9"])
    assert impossible.exit_code == 2 and impossible.output.startswith("Error: --optimize: no plan meets")
    few = CliRunner().invoke(main, ["portfolio", str(path), "--optimize", "--saa-trials", "50"])
    assert few.exit_code == 2 and "--saa-trials" in few.output
    nobudget = tmp_path / "nobudget.toml"
    nobudget.write_text(path.read_text().split("[budget]")[0])
    refused = CliRunner().invoke(main, ["portfolio", str(nobudget), "--optimize", "--max-exceedance", "0.1"])
    assert refused.exit_code == 2 and "no [budget]" in refused.output
    both = CliRunner().invoke(main, ["portfolio", str(path), "--optimize", "--out", str(tmp_path / "x.parquet")])
    assert both.exit_code == 2 and "--optimize writes no result file" in both.output


def test_a_bundled_portfolio_given_to_run_gets_a_pointer():
    result = CliRunner().invoke(main, ["run", "it_portfolio", "--summary-only"])
    assert result.exit_code == 2 and "simengine portfolio it_portfolio" in result.output


def test_a_scenario_given_to_portfolio_gets_a_pointer():
    """A bundled scenario's name or a scenario file given to `portfolio`: one line saying what it
    is and which command runs it, not "no such portfolio" or a scenario key called unknown."""
    by_name = CliRunner().invoke(main, ["portfolio", "crm_upgrade_big_bang", "--summary-only"])
    assert by_name.exit_code == 2 and "is a bundled scenario, not a portfolio" in by_name.output
    assert "simengine run crm_upgrade_big_bang" in by_name.output
    path = str(bundled_scenarios()["crm_new_small_firm"])
    by_file = CliRunner().invoke(main, ["portfolio", path, "--summary-only"])
    assert by_file.exit_code == 2 and by_file.output.count("\n") == 1
    assert f"{path} is a scenario file, not a portfolio: run `simengine run {path}`" in by_file.output


def test_validate_checks_a_portfolio_file_without_running_it(tmp_path):
    ok = CliRunner().invoke(main, ["validate", "it_portfolio"])
    assert ok.exit_code == 0 and "valid portfolio" in ok.output and "simengine portfolio it_portfolio" in ok.output
    bad = tmp_path / "p.toml"
    bad.write_text('name = "x"\n[members.a]\nscenario = "crm_upgrade_big_bang"\nscale = -1\n')
    refused = CliRunner().invoke(main, ["validate", str(bad)])
    assert refused.exit_code == 2 and refused.output.startswith("Error: members.a.scale")
    assert not (tmp_path / "results").exists()


def test_the_printed_portfolio_shows_each_estimate_with_its_standard_error():
    """Spend by year, payback and each member's own P(NPV < 0) are printed with the standard
    errors the summary holds (a year with a limit also with its chance of going above it)."""
    from simengine.portfolio_text import portfolio_table
    from simengine.textout import fmt_probability

    ran = CliRunner().invoke(main, ["portfolio", "it_portfolio", "-n", "2000", "--summary-only", "--json", "-q"])
    assert ran.exit_code == 0, ran.output
    summary = json.loads(ran.stdout)
    lines = portfolio_table(summary).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Spend by year"))
    for year in summary["spend_by_year"]:
        row = next(i for i in range(start, len(lines)) if lines[i].split()[:1] == [str(year["year"])])
        assert f"{year['mean']['value']:,.0f}" in lines[row]
        assert lines[row + 1].split() == [f"±{year[k]['se']:,.0f}" for k in ("mean", "p50", "p80", "p95")]
        if year["limit"] is not None:
            assert lines[row].endswith(fmt_probability(year["p_over_limit"]))
        else:
            assert lines[row].endswith(f"{year['p95']['value']:,.0f}")
    p50 = summary["metrics"]["payback_months"]["p50"]
    assert f"P50 {p50['value']:g} (±{p50['se']:.2f})" in next(line for line in lines if line.startswith("Payback"))
    for name, member in summary["members"].items():
        row = next(line for line in lines if line.startswith(f"{name} "))
        assert fmt_probability(member["summary"]["p_npv_negative"]) in row
