"""Correlations: the achieved rank correlations, unchanged marginals, and the Higham repair."""

from __future__ import annotations

import math

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

from simengine.cli import main
from simengine.correlation import nearest_correlation, pearson_from_spearman
from support import simulate_chunk
from simengine.errors import ScenarioError
from simengine.scenario import parse_scenario
from support import BASE

N = 40_000


def test_achieved_spearman_matches_requested_and_marginals_are_unchanged(bundled):
    sc = bundled["crm_upgrade_big_bang"]
    assert sc.correlations
    drivers = simulate_chunk(sc, seed=8, start=0, stop=N).drivers
    for c in sc.correlations:
        a, b = c.drivers
        got = stats.spearmanr(drivers[a], drivers[b]).statistic
        # The sampling sd of Spearman's rho is about (1 - rho^2) / sqrt(n) (x 1.06 for normal scores).
        se = 1.1 * (1 - c.spearman ** 2) / math.sqrt(N) + 1e-4
        assert abs(got - c.spearman) < 4 * se, (a, b, got, c.spearman)
    fields = sc.fields()
    for name in {n for c in sc.correlations for n in c.drivers if n in fields}:
        dist = fields[name].to_scipy()
        assert stats.kstest(drivers[name], dist.cdf).pvalue > 1e-3, name


def test_correlation_leaves_each_driver_its_marginal_draw_order_independent():
    """Uncorrelated drivers keep exactly their draws when correlations are added elsewhere."""
    data = dict(BASE, costs={"a": {"timing": "upfront", "amount": {"dist": "uniform", "min": 1, "max": 2}},
                             "b": {"timing": "upfront", "amount": {"dist": "uniform", "min": 1, "max": 2}},
                             "c": {"timing": "upfront", "amount": {"dist": "uniform", "min": 1, "max": 2}}})
    plain = simulate_chunk(parse_scenario(data), 3, 0, 500).drivers
    corr = dict(data, correlations=[{"drivers": ["costs.a.amount", "costs.b.amount"], "spearman": 0.7}])
    mixed = simulate_chunk(parse_scenario(corr), 3, 0, 500).drivers
    np.testing.assert_array_equal(plain["costs.c.amount"], mixed["costs.c.amount"])
    # The first correlated driver keeps its draw (L's first row is e_1), up to the Phi(Phi^-1(u)) round trip.
    np.testing.assert_allclose(plain["costs.a.amount"], mixed["costs.a.amount"], rtol=1e-14)
    assert not np.array_equal(plain["costs.b.amount"], mixed["costs.b.amount"])


def test_nearest_correlation_reproduces_highams_example():
    """Higham (2002), section 5: the nearest correlation matrix to tridiag(-1, 2, -1), n = 4."""
    a = 2 * np.eye(4) - np.eye(4, k=1) - np.eye(4, k=-1)
    want = np.array([[1.0000, -0.8084, 0.1916, 0.1068],
                     [-0.8084, 1.0000, -0.6562, 0.1916],
                     [0.1916, -0.6562, 1.0000, -0.8084],
                     [0.1068, 0.1916, -0.8084, 1.0000]])
    np.testing.assert_allclose(nearest_correlation(a), want, atol=1e-4)


@pytest.mark.parametrize("seed", range(5))
def test_nearest_correlation_is_a_valid_correlation_matrix_and_keeps_valid_ones(seed):
    rng = np.random.default_rng(seed)
    k = 6
    bad = rng.uniform(-1, 1, (k, k))
    bad = (bad + bad.T) / 2
    np.fill_diagonal(bad, 1.0)
    fixed = nearest_correlation(bad)
    assert np.allclose(np.diag(fixed), 1.0) and np.allclose(fixed, fixed.T)
    assert np.linalg.eigvalsh(fixed).min() > 0
    x = rng.normal(size=(50, k))
    good = np.corrcoef(x, rowvar=False)
    np.testing.assert_allclose(nearest_correlation(good), good, atol=1e-7)


CONFLICT = [{"drivers": ["costs.a.amount", "costs.b.amount"], "spearman": 0.9},
            {"drivers": ["costs.b.amount", "costs.c.amount"], "spearman": 0.9},
            {"drivers": ["costs.a.amount", "costs.c.amount"], "spearman": -0.9}]


def conflicting() -> dict:
    amount = {"dist": "pert", "min": 100, "mode": 150, "max": 260}
    return dict(BASE, costs={k: {"timing": "implementation", "amount": amount} for k in "abc"},
                correlations=CONFLICT)


def test_repair_replaces_a_conflicting_matrix_by_a_valid_one_and_records_it():
    with pytest.raises(ScenarioError, match="not positive semi-definite"):
        parse_scenario(conflicting())
    sc = parse_scenario(conflicting(), repair_correlations=True)
    assert [r[2] for r in sc.correlation_repairs] == [0.9, 0.9, -0.9]
    used = {frozenset(c.drivers): c.spearman for c in sc.correlations}
    assert all(abs(v) < 0.9 for v in used.values())
    # The stored scenario reproduces the run: it parses as it is, without repair.
    again = parse_scenario(sc.canonical)
    assert again.correlations == sc.correlations
    assert np.linalg.eigvalsh(pearson_from_spearman(np.array([[1, 0.5], [0.5, 1]]))).min() > 0


def test_cli_repair_correlations_prints_the_moves(tmp_path):
    text = open(tmp_path / "s.toml", "w")
    text.write('name = "c"\ndiscount_rate = 0.08\n[schedule]\nplanned_months = 6\n'
               '[benefits.streams.p]\namount = 1000\n')
    for k in "abc":
        text.write(f'[costs.{k}]\ntiming = "implementation"\n'
                   'amount = { dist = "pert", min = 100, mode = 150, max = 260 }\n')
    for c in CONFLICT:
        text.write(f'[[correlations]]\ndrivers = ["{c["drivers"][0]}", "{c["drivers"][1]}"]\nspearman = {c["spearman"]}\n')
    text.close()
    runner = CliRunner()
    plain = runner.invoke(main, ["run", str(tmp_path / "s.toml"), "-n", "2000", "--summary-only"])
    assert plain.exit_code == 2 and "not positive semi-definite" in plain.output
    fixed = runner.invoke(main, ["run", str(tmp_path / "s.toml"), "-n", "2000", "--summary-only",
                                 "--repair-correlations"])
    assert fixed.exit_code == 0, fixed.output
    assert "Correlations repaired" in fixed.output and "+0.900" in fixed.output and "moved" in fixed.output
