"""The fan chart's per-month cumulative-cash percentiles, stored with every result file."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from reference_model import reference_trial
from simengine.cash_fan import FAN_PERCENTILES, FAN_TRIALS, fan_percentiles
from support import iter_chunks
from simengine.output import read_metadata
from simengine.runner import run
from support import reference_specs


def stored_fan(path) -> dict:
    return json.loads(read_metadata(path)["cash_fan"])


@pytest.mark.parametrize("name", ["crm_upgrade_phased", "crm_new_small_firm_evidence"])
def test_fan_bands_equal_percentiles_of_the_reference_cash_flows(bundled, tmp_path, name):
    """A small run's stored bands are the inverted-CDF percentiles of every trial's cumulative
    cash, computed here from the independent reference model's month-by-month flows."""
    sc, n, seed = bundled[name], 400, 17
    out = tmp_path / "r.parquet"
    run(sc, trials=n, seed=seed, out=out)
    fan = stored_fan(out)
    assert fan["trials"] == n and fan["months"] == sc.horizon_months
    cumulative = []
    for spec in reference_specs(sc, seed, 0, n):
        ref = reference_trial(spec)
        cumulative.append(np.cumsum(np.array(ref["benefits_by_month"]) - np.array(ref["costs_by_month"])))
    cumulative = np.array(cumulative)
    for p in FAN_PERCENTILES:
        rank = math.ceil(n * p / 100)
        want = np.sort(cumulative, axis=0)[rank - 1]
        np.testing.assert_allclose(fan["percentiles"][f"p{p}"], want, rtol=1e-9, atol=1e-6)
        assert all(se >= 0 for se in fan["se"][f"p{p}"])


def test_fan_of_a_deterministic_run_is_the_hand_derived_cash_position(bundled, tmp_path):
    """deterministic_example (docs/model.md): -80,000 in month 0, -20,000 a month to month 5,
    then +2,000, +7,000, +12,000 and +17,000 a month."""
    out = tmp_path / "d.parquet"
    run(bundled["deterministic_example"], trials=10, seed=1, out=out)
    flows = [-80_000] + [-20_000] * 5 + [2_000, 7_000, 12_000] + [17_000] * 15
    want = np.cumsum(flows)
    for p in FAN_PERCENTILES:
        np.testing.assert_allclose(stored_fan(out)["percentiles"][f"p{p}"], want, rtol=1e-12)


def test_fan_keeps_a_bounded_prefix_and_does_not_depend_on_chunking(bundled):
    sc = bundled["crm_upgrade_big_bang"]
    trials = FAN_TRIALS + 5000
    a = np.empty((FAN_TRIALS, sc.horizon_months))
    b = np.empty((FAN_TRIALS, sc.horizon_months))
    for _ in iter_chunks(sc, trials, 3, cash=a, chunk_size=50_000):
        pass
    for _ in iter_chunks(sc, trials, 3, cash=b, chunk_size=7_777, threads=1):
        pass
    np.testing.assert_array_equal(a, b)
    assert fan_percentiles(a)["trials"] == FAN_TRIALS
    # the last cumulative cash of each kept trial is its total benefit minus total cost
    metrics = iter_chunks(sc, 1000, 3)[0]
    np.testing.assert_allclose(a[:1000, -1], metrics.metric("total_benefit") - metrics.metric("total_cost"),
                               rtol=1e-9, atol=1e-3)
