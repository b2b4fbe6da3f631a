"""Sobol' indices by pick-freeze (simengine/sobol.py) and the resampled streams under them.

A scenario whose NPV is linear in two independent uniforms, beside a driver that never
enters it, has closed-form indices; its matrices are rebuilt here from the drivers and fed
to SALib directly. Correlated drivers form one factor that keeps its copula; results do not
depend on the thread count or the executor; metrics with nulls or no variance are refused.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
from scipy.stats import spearmanr

from simengine.cluster_task import run_digest
from simengine.engine import Simulation, simulate_range, simulation_for
from simengine.errors import InputError
from simengine.executors import LocalExecutor
from simengine.jit import max_threads
from simengine.sampler import resample_seed
from simengine.scenario import loads_scenario
from simengine.sobol import (DEFINED_METRICS, SOBOL_METRICS, bootstrap_blocks, matrix_resamples, metric_runs,
                             salib_indices, salib_outputs, sobol_factors, sobol_indices)
from simengine.streams import BLOCK_SIZE

# NPV in closed form. With discount_rate 0 every month's discount factor is 1. The delay is 0
# and there is no schedule overrun or event, so Δ = 0 and go-live g = ceil(6) = 6. The licence
# C (upfront, no overrun) falls in month 0; the delay cost is delay_cost_per_month × Δ = 0
# whatever its draw; no item is labor, so maintenance is 0. The stream S does not scale
# with adoption: S / 12 × Q × F with Q = F = 1 in each of months 6..23, 18 months in all.
# So NPV = 18 S / 12 - C = 1.5 S - C, and delay_cost_per_month does not enter it.
LINEAR = """
name = "sobol_linear"
discount_rate = 0.0
horizon_months = 24
[schedule]
planned_months = 6
delay_cost_per_month = { dist = "uniform", min = 0, max = 50000 }
[costs.licence]
timing = "upfront"
amount = { dist = "uniform", min = 100000, max = 200000 }
overrun = false
[benefits.streams.savings]
amount = { dist = "uniform", min = 60000, max = 180000 }
scales_with_adoption = false
"""
DELAY_COST, LICENCE = "schedule.delay_cost_per_month", "costs.licence.amount"
SAVINGS = "benefits.streams.savings.amount"
#: b_i^2 Var(U_i), Var(U(a, b)) = (b - a)^2 / 12: the share of each driver in Var(NPV).
PARTS = {DELAY_COST: 0.0, LICENCE: 1.0 * 100_000 ** 2 / 12, SAVINGS: 1.5 ** 2 * 120_000 ** 2 / 12}
EXACT = {name: part / sum(PARTS.values()) for name, part in PARTS.items()}

# Licence, savings and ops linked by two correlations (licence and ops only through savings):
# one factor of three drivers; the delay cost and the hardware stay factors of their own.
CORRELATED = """
name = "sobol_correlated"
discount_rate = 0.05
horizon_months = 36
[schedule]
planned_months = 6
delay_cost_per_month = { dist = "uniform", min = 0, max = 50000 }
delay_months = { dist = "uniform", min = 0, max = 4 }
[costs.licence]
timing = "upfront"
amount = { dist = "uniform", min = 100000, max = 200000 }
[costs.ops]
timing = "recurring"
amount = { dist = "uniform", min = 10000, max = 30000 }
[costs.hardware]
timing = "upfront"
amount = { dist = "uniform", min = 20000, max = 40000 }
[benefits.streams.savings]
amount = { dist = "uniform", min = 60000, max = 180000 }
[[correlations]]
drivers = ["costs.licence.amount", "benefits.streams.savings.amount"]
spearman = 0.6
[[correlations]]
drivers = ["benefits.streams.savings.amount", "costs.ops.amount"]
spearman = -0.3
"""
GROUP = ("costs.licence.amount", "costs.ops.amount", "benefits.streams.savings.amount")
SPEARMAN = {("costs.licence.amount", "benefits.streams.savings.amount"): 0.6,
            ("benefits.streams.savings.amount", "costs.ops.amount"): -0.3,
            ("costs.licence.amount", "costs.ops.amount"): 0.0}

# Risk event that wipes out every benefit: in the ~30 % of trials where it occurs all cash
# flows are <= 0, so the NPV has no root and the IRR is null (docs/model.md, metrics table).
WIPE_OUT = LINEAR.replace('name = "sobol_linear"', 'name = "sobol_wipe_out"') + """
[events.cancelled]
probability = 0.3
benefit_loss = 1.0
"""

N = 8192
SEED = 3


def drivers_of(sc, seed: int, trials: int, resample=None) -> dict[str, np.ndarray]:
    """The sampled drivers of trials 0..trials-1 of a run (with `resample`)."""
    return Simulation(sc, "mc", trials, resample).chunk(seed, 0, trials).drivers


def npv_closed_form(drivers: dict[str, np.ndarray]) -> np.ndarray:
    return 1.5 * drivers[SAVINGS] - drivers[LICENCE]


def by_name(result: dict) -> dict[str, dict]:
    return {f["name"]: f for f in result["factors_list"]}


def without_time(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "seconds"}


@pytest.fixture(scope="module")
def linear():
    return loads_scenario(LINEAR)


@pytest.fixture(scope="module")
def correlated():
    return loads_scenario(CORRELATED)


def test_the_second_seed_is_the_documented_function_of_the_run_seed():
    """resample_seed is part of the reproducibility contract: SeedSequence(seed, spawn_key=the
    four little-endian words of sha256("simengine:resample")), first uint64 halved."""
    digest = hashlib.sha256(b"simengine:resample").digest()
    key = tuple(int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4))
    for seed in (0, 1, 2024, 2**63 - 1):
        want = int(np.random.SeedSequence(seed, spawn_key=key).generate_state(1, np.uint64)[0]) >> 1
        assert resample_seed(seed) == want
        assert 0 <= want < 2**63 and want != seed


def test_resampling_changes_only_the_chosen_drivers(correlated):
    """No resample is the plain run; every driver resampled is the plain run with the second
    seed; resampling one group takes exactly its drivers from that run, the others from A."""
    plain = drivers_of(correlated, SEED, 1000)
    assert all(np.array_equal(plain[k], v) for k, v in drivers_of(correlated, SEED, 1000, frozenset()).items())
    every = frozenset(correlated.drivers())
    other = drivers_of(correlated, resample_seed(SEED), 1000)
    assert all(np.array_equal(other[k], v) for k, v in drivers_of(correlated, SEED, 1000, every).items())
    mixed = drivers_of(correlated, SEED, 1000, frozenset(GROUP))
    for name, values in mixed.items():
        assert np.array_equal(values, (other if name in GROUP else plain)[name]), name
    ranged = simulate_range(correlated.canonical_json, SEED, 0, 1000, trials=1000, resample=frozenset(GROUP))
    assert all(np.array_equal(ranged.drivers[k], v) for k, v in mixed.items())


def test_resample_is_checked_and_kept_apart_in_caches_and_digests(correlated):
    with pytest.raises(InputError, match=r"^--sampling lhs: resampling drivers .* needs sampling mc$"):
        Simulation(correlated, "lhs", 100, frozenset(GROUP))
    with pytest.raises(InputError, match=r"^resample: costs\.nope\.amount not a sampled driver"):
        Simulation(correlated, "mc", 100, frozenset({"costs.nope.amount"}))
    assert simulation_for(correlated, resample=frozenset(GROUP)) is not simulation_for(correlated)
    assert simulation_for(correlated, resample=frozenset()) is simulation_for(correlated)
    text = correlated.canonical_json
    assert run_digest(text, SEED, 100, "mc", frozenset(GROUP)) != run_digest(text, SEED, 100, "mc")


def test_linear_npv_has_the_closed_form_indices(linear):
    """S_i = T_i = b_i^2 Var(U_i) / sum_j b_j^2 Var(U_j), within 4 of the reported standard
    errors; the driver outside the NPV gets exactly 0 (its AB run is A, value for value)."""
    seen = []
    result = sobol_indices(linear, trials=N, seed=SEED, on_progress=seen.append)
    assert (result["factors"], result["runs"], result["total_trials"]) == (3, 5, 5 * N)
    assert seen[-1] == 5 * N and seen == sorted(seen)
    factors = by_name(result)
    assert set(factors) == set(EXACT)
    for name in (LICENCE, SAVINGS):
        for kind in ("first_order", "total"):
            got = factors[name][kind]
            assert abs(got["value"] - EXACT[name]) <= 4 * got["se"], (name, kind, got, EXACT[name])
    for kind in ("first_order", "total"):
        assert factors[DELAY_COST][kind] == {"value": 0.0, "ci": 0.0, "se": 0.0}
    assert [f["name"] for f in result["factors_list"]] == [SAVINGS, LICENCE, DELAY_COST]  # ranked by total
    # Var(NPV) = sum of the parts; over the 2N independent trials of A and B the sample
    # variance's standard error is at most sigma^2 sqrt(2 / (2N - 1)) (uniforms have no heavy tails).
    exact_var = sum(PARTS.values())
    assert abs(result["variance"] - exact_var) <= 4 * exact_var * math.sqrt(2 / (2 * N - 1))
    assert result["sum_first_order"] == pytest.approx(sum(f["first_order"]["value"] for f in factors.values()))


def test_the_matrices_are_pick_freeze_and_salib_agrees_on_them(linear):
    """A is the plain run, B the plain run with the second seed, AB_i A with factor i's column
    from B: built here from the drivers, the closed-form NPV on them is the Y the code gives
    SALib (in SALib's own order), and SALib on that Y gives sobol_indices' indices."""
    from SALib.analyze import sobol
    from SALib.analyze.sobol import separate_output_values

    factors = sobol_factors(linear)
    assert [f.drivers for f in factors] == [(DELAY_COST,), (LICENCE,), (SAVINGS,)]
    a = drivers_of(linear, SEED, N)
    b = drivers_of(linear, resample_seed(SEED), N)
    built = [a] + [{k: (b if k in f.drivers else a)[k] for k in a} for f in factors] + [b]
    for explicit, resample in zip(built, matrix_resamples(factors)):  # the engine's runs are these matrices
        engine = drivers_of(linear, SEED, N, resample)
        assert all(np.array_equal(engine[k], explicit[k]) for k in a)
    want = np.stack([npv_closed_form(m) for m in built])  # rows A, AB_1, AB_2, AB_3, B
    runs = metric_runs(linear, factors, metric="npv", trials=N, seed=SEED, executor=LocalExecutor())
    np.testing.assert_allclose(runs, want, rtol=1e-12, atol=1e-6)
    y = salib_outputs(runs)
    got_a, got_b, got_ab, _ = separate_output_values(y, len(factors), N, False)
    np.testing.assert_array_equal(got_a, runs[0])
    np.testing.assert_array_equal(got_b, runs[-1])
    np.testing.assert_array_equal(got_ab, runs[1:-1].T)

    problem = {"num_vars": 3, "names": [f.name for f in factors], "bounds": [[0.0, 1.0]] * 3}
    salib = sobol.analyze(problem, salib_outputs(want), calc_second_order=False, num_resamples=200,
                          conf_level=0.95, seed=SEED + 1)
    result = by_name(sobol_indices(linear, trials=N, seed=SEED))
    for i, f in enumerate(factors):
        for kind, key in (("first_order", "S1"), ("total", "ST")):
            assert result[f.name][kind]["value"] == pytest.approx(salib[key][i], rel=1e-9, abs=1e-12)
            assert result[f.name][kind]["ci"] == pytest.approx(salib[f"{key}_conf"][i], rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("factors, n, resamples", [(1, 3, 2), (2, 10, 3), (5, 777, 200), (7, 5_000, 77)])
def test_the_blocked_bootstrap_gives_salib_s_own_indices_and_intervals(factors, n, resamples):
    """salib_indices takes SALib's bootstrap a block of resamples at a time: for any block width
    (2 columns, 3, a width that leaves a last column over, everything in one block) it gives
    what SALib's analyze gives on the same Y and seed; the first intervals it gave matched them
    bit for bit, so the tolerance only allows numpy to reorder a sum some day."""
    from SALib.analyze import sobol

    rng = np.random.default_rng(factors * 1000 + n)
    runs = rng.standard_normal((factors + 2, n)) * 3 + rng.standard_normal((factors + 2, n)) ** 2
    problem = {"num_vars": factors, "names": [f"x{i}" for i in range(factors)], "bounds": [[0.0, 1.0]] * factors}
    want = sobol.analyze(problem, salib_outputs(runs), calc_second_order=False, num_resamples=resamples,
                         conf_level=0.9, print_to_console=False, seed=11)
    for cells in (1, 2 * n, 3 * n, (resamples - 1) * n, resamples * n, 1 << 18):
        got = salib_indices(runs, resamples, 0.9, 11, cells)
        for key in ("S1", "S1_conf", "ST", "ST_conf"):
            np.testing.assert_allclose(got[key], want[key], rtol=1e-12, atol=1e-15, err_msg=f"{key}, {cells} cells")


def test_bootstrap_blocks_cover_every_resample_once_and_none_alone():
    """The blocks tile 0..resamples-1 in order, each at most width + 1 and at least 2 wide (a lone
    column would be summed pairwise by numpy, unlike SALib's whole array)."""
    for resamples in range(2, 60):
        for width in range(2, 12):
            blocks = bootstrap_blocks(resamples, width)
            assert [i for b in blocks for i in range(b.start, b.stop)] == list(range(resamples))
            assert all(2 <= b.stop - b.start <= width + 1 for b in blocks)


def test_correlated_drivers_are_one_factor_that_keeps_its_copula(correlated, bundled):
    """Drivers linked by correlations (directly or not) are resampled together: AB of their
    factor has the target rank correlations, within 4 standard errors (at most 1/sqrt(n-1))."""
    names = [f.name for f in sobol_factors(correlated)]
    assert names == ["schedule.delay_months", DELAY_COST, " + ".join(GROUP), "costs.hardware.amount"]
    ab = drivers_of(correlated, SEED, N, frozenset(GROUP))
    for (x, y), target in SPEARMAN.items():
        assert abs(spearmanr(ab[x], ab[y])[0] - target) <= 4 / math.sqrt(N - 1), (x, y)
    big_bang = {f.name: f.drivers for f in sobol_factors(bundled["crm_upgrade_big_bang"])}
    assert len(big_bang) == 40 and sum(map(len, big_bang.values())) == 44
    assert big_bang["schedule.delay_months + risks.cost_overrun + risks.maintenance_load"]
    assert big_bang["adoption.ceiling + adoption.ramp_months + benefits.realization"]
    result = sobol_indices(correlated, trials=4096, seed=SEED, resamples=50)
    assert [f["drivers"] for f in result["factors_list"] if f["name"] == " + ".join(GROUP)] == [list(GROUP)]


@pytest.mark.skipif(max_threads() < 2, reason="needs two kernel threads")
def test_thread_count_does_not_change_the_indices(correlated):
    one = sobol_indices(correlated, trials=4096, seed=SEED, threads=1, resamples=50)
    two = sobol_indices(correlated, trials=4096, seed=SEED, threads=2, resamples=50)
    assert without_time(one) == without_time(two)




def test_a_dask_cluster_gives_the_local_indices(client, correlated):
    """Two tasks per run (one block, then the rest), every run's tasks submitted together."""
    from simengine.dask_executor import DaskExecutor

    trials = BLOCK_SIZE + 1000
    seen = []
    remote = sobol_indices(correlated, trials=trials, seed=SEED, resamples=10, on_progress=seen.append,
                           executor=DaskExecutor(client, blocks_per_task=1))
    local = sobol_indices(correlated, trials=trials, seed=SEED, resamples=10)
    assert without_time(remote) == without_time(local)
    assert seen[-1] == remote["total_trials"] == 6 * trials


def test_a_metric_with_nulls_is_refused_in_one_line():
    sc = loads_scenario(WIPE_OUT)
    with pytest.raises(InputError) as caught:
        sobol_indices(sc, metric="irr", trials=4096, seed=SEED)
    message = str(caught.value)
    assert "\n" not in message
    nulls = int(message.split("null in ")[1].split(" of ")[0].replace(",", ""))
    assert message == (f"--metric irr: null in {nulls:,} of 4,096 trials of a run; Sobol' indices need a metric "
                       f"defined in every trial ({', '.join(DEFINED_METRICS)})")
    assert abs(nulls - 0.3 * 4096) <= 4 * math.sqrt(0.3 * 0.7 * 4096)  # the event's trials
    assert DEFINED_METRICS[0] == "npv" and "irr" in SOBOL_METRICS


def test_a_metric_without_variance_and_bad_options_are_refused(linear):
    with pytest.raises(InputError, match=r"^--metric go_live_month: 6 in every trial; Sobol' indices need a metric "
                                         r"that varies$"):
        sobol_indices(linear, metric="go_live_month", trials=1024, seed=SEED)
    with pytest.raises(InputError, match=r"^--metric: must be one of npv, "):
        sobol_indices(linear, metric="nope", trials=1024, seed=SEED)
    with pytest.raises(InputError, match=r"^--conf-level: "):
        sobol_indices(linear, trials=1024, seed=SEED, conf_level=1.0)
    with pytest.raises(InputError, match=r"^--resamples: "):
        sobol_indices(linear, trials=1024, seed=SEED, resamples=1)


def test_the_bootstrap_shrinks_with_n_and_n_is_bounded(linear):
    from simengine.sobol import MAX_SOBOL_TRIALS, default_resamples

    assert [default_resamples(n) for n in (1024, 8192, 16384, 65536, MAX_SOBOL_TRIALS)] == [200, 200, 100, 50, 50]
    with pytest.raises(InputError, match=r"^--trials: Sobol' indices take 2 to 131,072 trials per run, got 131,073"):
        sobol_indices(linear, trials=MAX_SOBOL_TRIALS + 1, seed=SEED)


def test_on_a_terminal_the_bootstrap_is_named_once_the_runs_are_done(tmp_path, status_on_terminal):
    from click.testing import CliRunner

    from simengine.cli import main

    path = tmp_path / "linear.toml"
    path.write_text(LINEAR)
    args = ["sensitivity", str(path), "--method", "sobol", "--trials", "2048"]
    shown = CliRunner().invoke(main, args)
    assert shown.exit_code == 0, shown.output
    assert "\rSobol' indices: bootstrap intervals of each factor...\x1b[K" in shown.stderr
    assert shown.stderr.endswith("\r\x1b[K") and "Sobol' indices of npv" in shown.stdout
    assert CliRunner().invoke(main, [*args, "--quiet"]).stderr == ""


def test_the_cli_prints_the_api_indices_and_refuses_mixed_options(tmp_path):
    import json

    from click.testing import CliRunner

    import simengine
    from simengine.cli import main

    path = tmp_path / "linear.toml"
    path.write_text(LINEAR)
    out = CliRunner().invoke(main, ["sensitivity", str(path), "--method", "sobol", "--trials", "2048", "--json"])
    assert out.exit_code == 0, out.output
    api = simengine.sensitivity(path, method="sobol", trials=2048)
    assert without_time(json.loads(out.stdout)) == without_time(api.to_dict())
    assert api.top(1) == [SAVINGS] and api.total(SAVINGS).value > 0.5
    text = CliRunner().invoke(main, ["sensitivity", str(path), "--method", "sobol", "--trials", "2048"])
    assert text.exit_code == 0 and "Sobol' indices of npv" in text.output and "first order" in text.output
    assert "group of correlated drivers" not in text.output  # no group here: no note about groups
    for args, message in ((["--trials", "100"], "--trials goes with --method sobol"),
                          ([], "--method rank ranks a result file's stored trials")):
        out = CliRunner().invoke(main, ["sensitivity", "crm_upgrade_big_bang", *args])
        assert out.exit_code == 2 and message in out.output, out.output
    for trials in ("0", "1", "131073"):  # the range the help shows is the range the run takes
        out = CliRunner().invoke(main, ["sensitivity", str(path), "--method", "sobol", "--trials", trials])
        assert out.exit_code == 2 and f"{trials} is not in the range 2<=x<=131072" in out.stderr, out.output


def test_the_table_says_when_its_indices_are_rough_or_their_sum_is_past_100():
    """A matrix of fewer than ROUGH_SOBOL_TRIALS trials is flagged, and a first-order sum above 100 %
    is put down to sampling error, not to interactions (which can only add to the total)."""
    from simengine.textout import ROUGH_SOBOL_TRIALS, sobol_table

    def result(n, first_sum):
        factor = {"name": "a", "drivers": ["a"], "first_order": {"value": 0.5, "ci": 0.1},
                  "total": {"value": 0.6, "ci": 0.1}}
        return {"factors_list": [factor], "conf_level": 0.95, "metric": "npv", "scenario": "s",
                "trials_per_matrix": n, "runs": 3, "total_trials": 3 * n, "seed": 1, "seconds": 0.1,
                "sum_first_order": first_sum, "note": ""}

    few = sobol_table(result(ROUGH_SOBOL_TRIALS - 1, 2.5)).replace("\n", " ")
    assert f"With {ROUGH_SOBOL_TRIALS - 1:,} trials a matrix the indices and even their bootstrap intervals are rough" in few
    assert "Sum of first-order indices: 250.0%; above 100 %, which only sampling error makes" in few
    enough = sobol_table(result(ROUGH_SOBOL_TRIALS, 0.8)).replace("\n", " ")
    assert "are rough" not in enough and "80.0%; the rest of the variance comes from interactions" in enough
