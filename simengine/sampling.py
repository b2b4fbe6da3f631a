"""Random uniforms for a run: one stream per driver and per block of trials.

Trial i's uniform for driver `name` depends only on (seed, name, i): the stream of block
`i // BLOCK_SIZE` is seeded by SeedSequence(seed, spawn_key=(sha256(name)[:16] as 4 words,
block)). So thread count and chunk size cannot change a result, the first N trials of a
longer run equal a run of N, and two scenarios sharing a driver name share its draws
(common random numbers). BLOCK_SIZE is part of the reproducibility contract, not a tuning knob.
"""

from __future__ import annotations

import hashlib

import numpy as np

BLOCK_SIZE = 65536
STREAM_LAYOUT = "philox4x64; SeedSequence(seed, spawn_key=(sha256(driver name)[:16] as 4 LE uint32, block)); block=65536; u=((x>>12)+0.5)/2^52"
SAMPLING_METHODS = ("mc",)


def driver_key(name: str) -> tuple[int, int, int, int]:
    """Stable 128-bit key of a driver name (first 16 bytes of its SHA-256, as four words).

    The same in every process and version; distinct names cannot realistically collide.
    """
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return tuple(int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4))


def block_uniforms(seed: int, name: str, block: int, n: int) -> np.ndarray:
    """The first `n` uniforms in (0, 1) of one driver's stream for one block."""
    ss = np.random.SeedSequence(entropy=seed, spawn_key=(*driver_key(name), block))
    raw = np.random.Philox(ss).random_raw(n)
    # 52 high bits, centred in their cell: in [2^-53, 1 - 2^-53], never 0 or 1 (53 bits
    # would round the largest value up to exactly 1.0).
    return ((raw >> np.uint64(12)).astype(np.float64) + 0.5) * (1.0 / 4503599627370496.0)


def uniforms(seed: int, name: str, start: int, stop: int) -> np.ndarray:
    """Uniforms of trials start..stop-1 for one driver, whatever the chunking."""
    out = np.empty(stop - start)
    first, last = start // BLOCK_SIZE, (stop - 1) // BLOCK_SIZE
    for block in range(first, last + 1):
        b0 = block * BLOCK_SIZE
        lo, hi = max(start, b0), min(stop, b0 + BLOCK_SIZE)
        draws = block_uniforms(seed, name, block, hi - b0)
        out[lo - start:hi - start] = draws[lo - b0:]
    return out
