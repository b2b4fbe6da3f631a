"""`simengine sensitivity`: rank correlations, variance shares and decile swings from stored trials."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from scipy import stats

from simengine.cli import main
from simengine.runner import run
from simengine.scenario import parse_scenario
from simengine.ranking import sensitivity
from support import BASE


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    data = dict(BASE)
    data["costs"] = {"lic": {"timing": "upfront", "amount": {"dist": "uniform", "min": 45000, "max": 55000}},
                     "impl": {"timing": "implementation", "amount": {"dist": "uniform", "min": 50000, "max": 250000}}}
    data["benefits"] = {"streams": {"prod": {"amount": {"dist": "uniform", "min": 50000, "max": 400000}}}}
    data["events"] = {"outage": {"probability": 0.2, "cost": 80000}}
    sc = parse_scenario(data)
    path = tmp_path_factory.mktemp("sens") / "r.parquet"
    run(sc, trials=20_000, seed=3, out=path)
    return path


def test_drivers_rank_by_effect_with_the_right_signs(result):
    table = sensitivity(result, "npv")
    order = [r["driver"] for r in table["drivers"]]
    assert order[0] == "benefits.streams.prod.amount"  # the widest driver comes first
    assert order.index("costs.impl.amount") < order.index("costs.lic.amount")  # wide cost before narrow cost
    rows = {r["driver"]: r for r in table["drivers"]}
    assert rows["benefits.streams.prod.amount"]["spearman"]["value"] > 0.5
    assert rows["costs.impl.amount"]["spearman"]["value"] < 0
    assert rows["events.outage.occurred"]["spearman"]["value"] < 0
    assert rows["benefits.streams.prod.amount"]["swing"]["value"] > 0 > rows["costs.impl.amount"]["swing"]["value"]
    assert sum(r["variance_share"] for r in table["drivers"]) == pytest.approx(1.0)


def test_figures_equal_direct_computations(result):
    table = pq.read_table(result)
    npv = table.column("npv").to_numpy()
    rows = {r["driver"]: r for r in sensitivity(result, "npv")["drivers"]}
    for name, row in rows.items():
        x = table.column(name).to_numpy()
        assert row["spearman"]["value"] == pytest.approx(stats.spearmanr(x, npv).statistic, abs=1e-12)
    # an event driver: the groups are the trials without and with the event
    occurred = table.column("events.outage.occurred").to_numpy()
    outage = rows["events.outage.occurred"]
    assert outage["low"]["value"] == pytest.approx(npv[occurred == 0].mean())
    assert outage["high"]["value"] == pytest.approx(npv[occurred == 1].mean())
    assert outage["swing"]["value"] == pytest.approx(npv[occurred == 1].mean() - npv[occurred == 0].mean())
    # a continuous driver: bottom and top deciles
    x = table.column("costs.impl.amount").to_numpy()
    lo, hi = np.quantile(x, [0.1, 0.9], method="inverted_cdf")
    assert rows["costs.impl.amount"]["low"]["value"] == pytest.approx(npv[x <= lo].mean())
    assert rows["costs.impl.amount"]["high"]["value"] == pytest.approx(npv[x >= hi].mean())


def test_cli_table_and_json(result):
    runner = CliRunner()
    text = runner.invoke(main, ["sensitivity", str(result), "--metric", "roi"])
    assert text.exit_code == 0, text.output
    assert "Sensitivity of roi" in text.output and "benefits.streams.prod.amount" in text.output and "|" in text.output
    js = runner.invoke(main, ["sensitivity", str(result), "--json"])
    data = json.loads(js.stdout)
    assert data["metric"] == "npv" and len(data["drivers"]) == 4
    assert all(r["spearman"]["se"] > 0 and r["swing"]["se"] > 0 for r in data["drivers"])


def test_a_file_without_drivers_is_refused_in_one_line(tmp_path):
    sc = parse_scenario(dict(BASE, benefits={"streams": {"p": {"amount": {"dist": "uniform", "min": 1, "max": 9}}}}))
    path = tmp_path / "m.parquet"
    run(sc, trials=500, seed=1, out=path, columns="metrics")
    res = CliRunner().invoke(main, ["sensitivity", str(path)])
    assert res.exit_code == 2
    assert "--columns all" in res.output and "Traceback" not in res.output


def test_payback_counts_the_trials_that_never_pay_back(result):
    """'never' ranks last in the correlation and is counted in every decile, not dropped while
    the JSON says no trial was null."""
    table = pq.read_table(result, columns=["payback_months", "benefits.streams.prod.amount"]).to_pandas()
    never = table["payback_months"].isna().to_numpy()
    assert 0 < never.sum() < never.size  # the fixture has both
    out = sensitivity(result, "payback_months")
    assert out["trials_null"] == int(never.sum()) and out["nulls"] == "rank last (never)"
    assert out["trials_used"] == out["trials"] == never.size
    row = next(r for r in out["drivers"] if r["driver"] == "benefits.streams.prod.amount")
    driver = table["benefits.streams.prod.amount"].to_numpy()
    low_cut, high_cut = row["low"]["driver_at_most"], row["high"]["driver_at_least"]
    assert row["low"]["never"] == int((never & (driver <= low_cut)).sum())
    assert row["high"]["never"] == int((never & (driver >= high_cut)).sum())
    assert row["low"]["never"] + row["low"]["trials"] == int((driver <= low_cut).sum())
    assert row["low"]["never"] > row["high"]["never"]  # low benefits: more projects never pay back
    ranks = stats.rankdata(np.where(never, np.inf, table["payback_months"].to_numpy()))
    assert row["spearman"]["value"] == pytest.approx(np.corrcoef(stats.rankdata(driver), ranks)[0, 1], abs=1e-12)
    text = CliRunner().invoke(main, ["sensitivity", str(result), "--metric", "payback_months"]).stdout
    assert f"({out['trials_null']:,} never" in text and "never lo/hi" in text
    npv = sensitivity(result, "npv")
    assert npv["trials_null"] == 0 and npv["nulls"] == "left out" and "never" not in npv["drivers"][0]["low"]


def test_an_unknown_metric_is_named_as_such(result):
    from simengine.errors import InputError

    with pytest.raises(InputError, match="--metric: 'nvp' is not one of npv, roi"):
        sensitivity(result, "nvp")


def test_a_metric_that_never_varies_is_refused_in_one_line(result):
    """go_live_month is 6 in every trial here (no schedule risk): every rank correlation would be
    0 / 0, so the table is refused (exit 2) rather than shown as NaN and a 0 % share."""
    res = CliRunner().invoke(main, ["sensitivity", str(result), "--metric", "go_live_month"])
    assert res.exit_code == 2 and res.stderr.count("\n") == 1, res.output
    assert "go_live_month is the same in every one of the 20,000 trials used" in res.stderr
    assert "nan" not in res.output and "Warning" not in res.output
