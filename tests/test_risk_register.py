"""The risk register: each event's occurrence is a 0/1 driver per trial with the stated probability."""

from __future__ import annotations

import math

import numpy as np

from support import simulate_chunk
from simengine.kernels.cashflows import METRICS

N = 40_000


def test_bundled_register_occurs_at_its_probabilities_and_costs_when_it_occurs(bundled):
    sc = bundled["crm_upgrade_big_bang"]
    assert {e.name for e in sc.events} >= {"data_migration_failure", "integration_rework", "key_consultant_leaves"}
    chunk = simulate_chunk(sc, 6, 0, N)
    total_cost = chunk.metrics[METRICS.index("total_cost")]
    for e in sc.events:
        occurred = chunk.drivers[f"events.{e.name}.occurred"]
        assert set(np.unique(occurred)) <= {0.0, 1.0}
        p = e.probability.params["value"]
        assert abs(occurred.mean() - p) < 4 * math.sqrt(p * (1 - p) / N), e.name
        # an event with a cost impact raises the total cost of the trials where it occurs
        if not e.cost.is_fixed or e.cost.params.get("value", 0) > 0:
            assert total_cost[occurred == 1].mean() > total_cost[occurred == 0].mean(), e.name
