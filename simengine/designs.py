"""Sampling designs beyond plain Monte Carlo: Latin hypercube and scrambled Sobol' (scipy.stats.qmc).

Both keep the reproducibility contract for a given trials count: bit-identical whatever
the thread count or chunk size.
- lhs: every block of 65,536 trials (the last one shorter) is its own Latin hypercube: each
  driver's uniforms in the block fall one in each of n equal strata, in an order and at
  positions drawn from that driver's and block's own stream. So memory stays per block
  and drivers keep their own streams (common random numbers between scenarios still work).
- sobol: one scrambled Sobol' sequence over all the scenario's drivers (in driver order);
  trial i is point i of the sequence. The scrambling is seeded by the run's seed. Runs of
  2^k trials keep the sequence's balance properties best.
Standard errors in the summary assume independent trials; for these designs they are
therefore conservative (the designs' real error is smaller, as the tests show).
"""

from __future__ import annotations

import warnings

import numpy as np

from .streams import BLOCK_SIZE, STREAM_LAYOUT, block_generator

from .defaults import SAMPLING_METHODS  # noqa: E402,F401 - the choices, described once
#: Uniforms stay inside [2^-53, 1 - 2^-53], as the plain streams do.
U_MIN, U_MAX = 2.0 ** -53, 1.0 - 2.0 ** -53
SOBOL_KEY = "simengine:sobol-scramble"


def lhs_block(seed: int, name: str, block: int, skip: int, trials: int, out: np.ndarray) -> None:
    """Uniforms `skip..skip+len(out)-1` of one driver's Latin hypercube for one block of a run of `trials`."""
    size = min(BLOCK_SIZE, trials - block * BLOCK_SIZE)
    from scipy.stats import qmc  # scipy.stats takes a second to import: only when a design runs

    sampler = qmc.LatinHypercube(d=1, rng=block_generator(seed, f"lhs:{name}", block))
    design = sampler.random(size)[:, 0]
    np.clip(design[skip:skip + out.size], U_MIN, U_MAX, out=out)


def sobol_points(seed: int, dimensions: int, start: int, stop: int) -> np.ndarray:
    """Points start..stop-1 (rows) of the run's scrambled Sobol' sequence, inside (0, 1)."""
    from scipy.stats import qmc

    engine = qmc.Sobol(d=dimensions, scramble=True, rng=block_generator(seed, SOBOL_KEY, 0))
    if start:
        engine.fast_forward(start)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # balance warnings for n not a power of 2
        points = engine.random(stop - start)
    return np.clip(points, U_MIN, U_MAX, out=points)



def layout(sampling: str) -> str:
    """How a run's uniforms are made, for the result file's metadata."""
    if sampling == "lhs":
        return (STREAM_LAYOUT + "; lhs: per driver and block, scipy.stats.qmc.LatinHypercube(d=1, rng=the block "
                "generator of driver name 'lhs:'+NAME).random(block size), clipped to [2^-53, 1-2^-53]")
    if sampling == "sobol":
        return (f"sobol: scipy.stats.qmc.Sobol(d=number of drivers, scramble=True, rng=the block-0 generator of "
                f"driver name '{SOBOL_KEY}' in the stream layout below); trial i = point i, dimension j = driver j "
                f"in driver order, clipped to [2^-53, 1-2^-53]. Streams: " + STREAM_LAYOUT)
    return STREAM_LAYOUT
