"""Random uniforms for a run: one stream per driver and per block of trials.

Trial i's uniform for driver `name` depends only on (seed, name, i): the stream of block
`i // BLOCK_SIZE` is a PCG64DXSM generator seeded by SeedSequence(seed, spawn_key=
(sha256(name)[:16] as 4 words, block)), numpy's recommended way to make many independent
streams. So thread count and chunk size cannot change a result, the first N trials of a
longer run equal a run of N, and two scenarios sharing a driver name share its draws
(common random numbers). BLOCK_SIZE is part of the reproducibility contract, not a tuning knob.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np

from .jit import jit

BLOCK_SIZE = 65536
STREAM_LAYOUT = ("pcg64dxsm; SeedSequence(seed, spawn_key=(sha256(driver name)[:16] as 4 LE uint32, block)); "
                 "block=65536; r=Generator.random(); u=(floor(r*2^52)+0.5)/2^52")
#: 2^52 and its inverse: uniforms keep 52 random bits, centred in their cell.
TWO_52 = 4503599627370496.0
INV_TWO_52 = 1.0 / TWO_52


@lru_cache(maxsize=4096)
def driver_key(name: str) -> tuple[int, int, int, int]:
    """Stable 128-bit key of a driver name (first 16 bytes of its SHA-256, as four words).

    The same in every process and version; distinct names cannot realistically collide.
    """
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return tuple(int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4))


def block_generator(seed: int, name: str, block: int) -> np.random.Generator:
    """The generator of one driver's stream for one block of trials."""
    ss = np.random.SeedSequence(entropy=seed, spawn_key=(*driver_key(name), block))
    return np.random.Generator(np.random.PCG64DXSM(ss))


def fill_block(seed: int, name: str, block: int, skip: int, out: np.ndarray) -> None:
    """Write uniforms `skip .. skip+len(out)-1` of one driver's block into `out` (float64, C order).

    Generator.random gives k / 2^53; keeping the top 52 bits, centred, gives values in
    [2^-53, 1 - 2^-53]: never 0 or 1 (53 centred bits would round the largest up to 1.0).
    """
    gen = block_generator(seed, name, block)
    if skip:
        gen.bit_generator.advance(skip)  # one 64-bit step per double: position = trial index
    gen.random(out=out)
    centre_52(out)


def centre_52_python(values):
    """k / 2^53 -> (floor(k / 2) + 0.5) / 2^52, in place (every step is exact)."""
    for i in range(values.shape[0]):
        values[i] = (np.floor(values[i] * TWO_52) + 0.5) * INV_TWO_52


centre_52 = jit(centre_52_python)


def block_segments(start: int, stop: int):
    """(block, skip, lo, hi): trials lo..hi-1 of start..stop-1 come from `block` after `skip` draws."""
    for block in range(start // BLOCK_SIZE, (stop - 1) // BLOCK_SIZE + 1):
        b0 = block * BLOCK_SIZE
        lo, hi = max(start, b0), min(stop, b0 + BLOCK_SIZE)
        yield block, lo - b0, lo, hi


def uniforms(seed: int, name: str, start: int, stop: int) -> np.ndarray:
    """Uniforms of trials start..stop-1 for one driver, whatever the chunking."""
    out = np.empty(stop - start)
    for block, skip, lo, hi in block_segments(start, stop):
        fill_block(seed, name, block, skip, out[lo - start:hi - start])
    return out
