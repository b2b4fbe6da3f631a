"""The value-returning seam: ranges computed anywhere merge into exactly the local run's summary."""

from __future__ import annotations

import json
import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from simengine.base_case import base_case
from simengine.cash_fan import FAN_TRIALS
from simengine.engine import Simulation, simulate_range
from simengine.errors import InputError
from simengine.executors import EXECUTORS, LocalExecutor, make_executor
from simengine.streams import BLOCK_SIZE
from simengine.summary_stream import StreamingSummary

from support import iter_chunks

TRIALS = 3 * BLOCK_SIZE + 4321


def local_summary(sc, trials, seed, pilot, chunk_size):
    acc = StreamingSummary(sc.decision, pilot=pilot, base=base_case(sc))
    for chunk in iter_chunks(sc, trials, seed, chunk_size=chunk_size):
        acc.add(chunk.metrics)
    acc.finish()
    return acc


@pytest.mark.parametrize("pilot", [BLOCK_SIZE, 16 * BLOCK_SIZE])
def test_ranges_merged_in_block_order_give_the_local_summary_exactly(bundled, pilot):
    sc = bundled["crm_upgrade_big_bang"]
    want = local_summary(sc, TRIALS, 5, pilot, chunk_size=50_000)
    acc = StreamingSummary(sc.decision, pilot=pilot, base=base_case(sc))
    # the first range without bands; then with the pilot's bands where known; the last range
    # without them (its values are reduced when merged)
    for start, stop, with_limits in ((0, BLOCK_SIZE, True), (BLOCK_SIZE, 3 * BLOCK_SIZE, True),
                                     (3 * BLOCK_SIZE, TRIALS, False)):
        limits = acc.band_limits() if with_limits else None
        result = simulate_range(sc.canonical_json, 5, start, stop, trials=TRIALS, limits=limits)
        assert len(result.partials) == -(-(stop - start) // BLOCK_SIZE)
        if pilot == BLOCK_SIZE and start >= BLOCK_SIZE and with_limits:
            assert all(p.continuous["npv"].values is None for p in result.partials)  # reduced where computed
        acc.add_range(result)
    acc.finish()
    assert want.incomplete() == acc.incomplete() == []
    assert json.dumps(acc.summary()) == json.dumps(want.summary())
    assert "joint" in acc.summary()["budget_and_date"]  # the joint frontier merged from the ranges too


def test_a_range_returns_what_the_local_run_computes(bundled):
    sc = bundled["crm_upgrade_phased"]
    chunks = iter_chunks(sc, TRIALS, 9, chunk_size=40_000)
    metrics = np.concatenate([c.metrics for c in chunks], axis=1)
    drivers = {k: np.concatenate([c.drivers[k] for c in chunks]) for k in chunks[0].drivers}
    got = simulate_range(sc, 9, BLOCK_SIZE, TRIALS, trials=TRIALS)
    np.testing.assert_array_equal(got.metrics, metrics[:, BLOCK_SIZE:])
    for name, values in got.drivers.items():
        np.testing.assert_array_equal(values, drivers[name][BLOCK_SIZE:])
    assert got.cash is None  # the fan's trials are all in block 0
    first = simulate_range(sc, 9, 0, BLOCK_SIZE, trials=TRIALS)
    fan = np.empty((FAN_TRIALS, sc.horizon_months))
    iter_chunks(sc, TRIALS, 9, cash=fan)
    np.testing.assert_array_equal(first.cash, fan)


@pytest.mark.parametrize("sampling", ["lhs", "sobol"])
def test_designs_give_the_same_ranges(bundled, sampling):
    sc = bundled["crm_new_small_firm"]
    trials = BLOCK_SIZE + 999
    chunks = iter_chunks(sc, trials, 2, sampling=sampling, chunk_size=30_000)
    metrics = np.concatenate([c.metrics for c in chunks], axis=1)
    got = simulate_range(sc.canonical_json, 2, BLOCK_SIZE, trials, trials=trials, sampling=sampling)
    np.testing.assert_array_equal(got.metrics, metrics[:, BLOCK_SIZE:])


def _remote(args):
    json_text, seed, start, stop, trials = args
    return simulate_range(json_text, seed, start, stop, trials=trials)


def test_a_range_computed_in_another_process_is_identical_and_picklable(bundled):
    sc = bundled["crm_new_small_firm"]
    trials = BLOCK_SIZE + 500
    here = simulate_range(sc.canonical_json, 4, BLOCK_SIZE, trials, trials=trials)
    assert pickle.loads(pickle.dumps(simulate_range)) is simulate_range  # by reference
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        there = pool.submit(_remote, (sc.canonical_json, 4, BLOCK_SIZE, trials, trials)).result()
    np.testing.assert_array_equal(there.metrics, here.metrics)
    acc_here, acc_there = (StreamingSummary(sc.decision, pilot=BLOCK_SIZE) for _ in range(2))
    for acc, result in ((acc_here, here), (acc_there, there)):
        acc.add_range(simulate_range(sc.canonical_json, 4, 0, BLOCK_SIZE, trials=trials))
        acc.add_range(result)
        acc.finish()
    assert acc_here.summary() == acc_there.summary()


@pytest.mark.parametrize("start,stop", [(1, BLOCK_SIZE), (0, 1000), (0, BLOCK_SIZE + 2), (5, 5)])
def test_ranges_must_cover_whole_blocks(bundled, start, stop):
    with pytest.raises(InputError, match="whole blocks"):
        simulate_range(bundled["crm_new_small_firm"], 1, start, stop, trials=BLOCK_SIZE + 1)


def test_the_simulation_is_built_once_per_scenario(bundled):
    from simengine.engine import simulation_for

    sc = bundled["crm_new_small_firm"]
    assert simulation_for(sc.canonical_json) is simulation_for(sc)
    assert simulation_for(sc, "lhs", 10) is not simulation_for(sc, "lhs", 11)  # the design depends on trials


def test_executor_registry():
    assert EXECUTORS["local"] is LocalExecutor
    assert isinstance(make_executor("local", threads=1), LocalExecutor)
    with pytest.raises(InputError, match="--executor"):
        make_executor("nope")


def test_a_consumer_can_stop_the_run_early(bundled):
    sc = bundled["crm_new_small_firm"]
    seen = []
    LocalExecutor(chunk_size=1000).run([Simulation(sc)], 1, 0, 100_000, lambda r: seen.append(r[0].start) or True)
    assert seen == [0]


def test_a_slow_consumer_sees_every_chunk_intact(bundled):
    """Two buffer sets in turn: a chunk's set is not refilled while the consumer still reads it."""
    import time

    sc = bundled["crm_new_small_firm"]
    sim = Simulation(sc)
    seen = []

    def slow(results):
        (r,) = results
        first = r.metrics.copy()
        time.sleep(0.02)  # the next chunks are computed meanwhile
        assert np.array_equal(first, r.metrics, equal_nan=True)
        seen.append((r.start, first))

    LocalExecutor(chunk_size=700).run([sim], 4, 0, 7000, slow)
    assert [start for start, _ in seen] == list(range(0, 7000, 700))
    for start, metrics in seen:
        assert np.array_equal(metrics, sim.chunk(4, start, start + 700).metrics, equal_nan=True)


def test_the_fan_buffer_goes_once_its_trials_are_computed(bundled):
    """A FanBuffer's rows are taken into its metadata by the consumer, and the buffer released,
    as soon as they are computed: the same metadata as from a buffer kept to the end."""
    import gc
    import weakref

    from simengine.cash_fan import FanBuffer, fan_buffer, fan_metadata

    sc = bundled["crm_new_small_firm"]
    trials = 100_000
    kept = fan_buffer(trials, sc.horizon_months)
    LocalExecutor(chunk_size=20_000).run([Simulation(sc)], 5, 0, trials, lambda r: None, cash=kept)
    fan = FanBuffer(trials, sc.horizon_months)
    array = weakref.ref(fan.buffer)
    released_at = []

    def consume(results):
        fan.filled(results[0].stop)
        gc.collect()
        if array() is None and not released_at:
            released_at.append(results[0].stop)

    LocalExecutor(chunk_size=20_000).run([Simulation(sc)], 5, 0, trials, consume, cash=fan)
    # the metadata is taken with the chunk holding the last fan row (60,000..79,999); its
    # views gone, the buffer is freed by the next chunk
    assert fan.buffer is None and released_at == [100_000]
    assert fan.metadata() == fan_metadata(kept)
