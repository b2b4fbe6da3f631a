"""Does LLVM, as numba drives it, vectorize the month pass when trials run side by side?

The kernel's month pass (kernels/cashflows.py) runs one trial at a time. This probe runs the
same arithmetic for 16 trials side by side (one array per running sum, the lanes innermost, the
layout that leaves LLVM the least to prove), checks that both give the same doubles, and prints
each one's nanoseconds a trial and how many packed-double (AVX) arithmetic instructions its
machine code holds: none means LLVM kept the side-by-side loop scalar, which then only adds
loads and stores. Synthetic cash flows shaped like the big-bang scenario's (60 months, go-live
in month 12-23, a logistic benefit ramp).

Usage: python benchmarks/side_by_side.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import re
import time

import numpy as np
from numba import njit

LANES, MONTHS = 16, 60
PACKED = re.compile(r"\n\s+(v(?:add|sub|mul|div|fmadd\w*)pd)\b")


@njit(cache=False)
def one_at_a_time(benefit, before, after, go_live, v, upfront, out):
    """The kernel's month pass, trial after trial: PVs, totals, paybacks, sign changes, IRR sums."""
    for lane in range(before.shape[0]):
        d = 1.0
        cost_pv = benefit_pv = total = cum = dcum = 0.0
        paid = dpaid = -1.0
        last = changes = 0.0
        pos = pos_t = neg = neg_t = 0.0
        for t in range(benefit.shape[0]):
            cost = before[lane] if t < go_live[lane] else after[lane]
            if t == 0:
                cost += upfront[lane]
            b = benefit[t, lane]
            net = b - cost
            cost_pv += cost * d
            benefit_pv += b * d
            total += b
            cum += net
            dcum += net * d
            if paid < 0.0 and cum >= 0.0:
                paid = t
            if dpaid < 0.0 and dcum >= 0.0:
                dpaid = t
            if net > 0.0:
                changes += 1.0 if last < 0.0 else 0.0
                last = 1.0
                pos += net * d
                pos_t += net * d * t
            elif net < 0.0:
                changes += 1.0 if last > 0.0 else 0.0
                last = -1.0
                neg -= net * d
                neg_t -= net * d * t
            d *= v[lane]
        out[0, lane], out[1, lane], out[2, lane], out[3, lane] = cost_pv, benefit_pv, total, paid
        out[4, lane], out[5, lane], out[6, lane], out[7, lane] = dpaid, changes, pos + pos_t, neg + neg_t


@njit(cache=False)
def months_side_by_side(benefit, before, after, go_live, v, upfront, d, cost_pv, benefit_pv, total, cum, dcum,
                        paid, dpaid, last, changes, pos, pos_t, neg, neg_t, lanes):
    """The same pass with the lanes innermost: each running sum an array over the trials."""
    for t in range(benefit.shape[0]):
        first = 1.0 if t == 0 else 0.0
        month = float(t)
        for lane in range(lanes):
            cost = before[lane] if month < go_live[lane] else after[lane]
            cost += first * upfront[lane]
            b = benefit[t, lane]
            net = b - cost
            dl = d[lane]
            cost_pv[lane] += cost * dl
            benefit_pv[lane] += b * dl
            total[lane] += b
            c = cum[lane] + net
            cum[lane] = c
            dc = dcum[lane] + net * dl
            dcum[lane] = dc
            paid[lane] = month if paid[lane] < 0.0 and c >= 0.0 else paid[lane]
            dpaid[lane] = month if dpaid[lane] < 0.0 and dc >= 0.0 else dpaid[lane]
            sign = 1.0 if net > 0.0 else (-1.0 if net < 0.0 else 0.0)
            changes[lane] += 1.0 if sign * last[lane] < 0.0 else 0.0
            last[lane] = sign if sign != 0.0 else last[lane]
            w = net * dl
            up = w if net > 0.0 else 0.0
            down = -w if net < 0.0 else 0.0
            pos[lane] += up
            pos_t[lane] += up * month
            neg[lane] += down
            neg_t[lane] += down * month
            d[lane] = dl * v[lane]


@njit(cache=False)
def side_by_side(benefit, before, after, go_live, v, upfront, out, sums):
    """`months_side_by_side` on the rows of `sums`: d, cost_pv, benefit_pv, total, cum, dcum, paid,
    dpaid, last, changes, pos, pos_t, neg, neg_t."""
    sums[:] = 0.0
    sums[0] = 1.0
    sums[6] = -1.0
    sums[7] = -1.0
    months_side_by_side(benefit, before, after, go_live, v, upfront, sums[0], sums[1], sums[2], sums[3], sums[4],
                        sums[5], sums[6], sums[7], sums[8], sums[9], sums[10], sums[11], sums[12], sums[13],
                        before.shape[0])
    for lane in range(before.shape[0]):
        out[0, lane], out[1, lane] = sums[1, lane], sums[2, lane]
        out[2, lane], out[3, lane] = sums[3, lane], sums[6, lane]
        out[4, lane], out[5, lane] = sums[7, lane], sums[9, lane]
        out[6, lane], out[7, lane] = sums[10, lane] + sums[11, lane], sums[12, lane] + sums[13, lane]


@njit(cache=False)
def repeat(kind, benefit, before, after, go_live, v, upfront, out, sums, times):
    for _ in range(times):
        if kind == 0:
            one_at_a_time(benefit, before, after, go_live, v, upfront, out)
        else:
            side_by_side(benefit, before, after, go_live, v, upfront, out, sums)


def trials(seed: int = 1):
    """16 trials' monthly benefits (months x lanes) and cost rates, shaped like the big bang's."""
    rng = np.random.default_rng(seed)
    go_live = rng.integers(12, 24, LANES).astype(float)
    benefit = np.zeros((MONTHS, LANES))
    for lane in range(LANES):
        ramp = rng.uniform(6, 18)
        t = np.arange(int(go_live[lane]), MONTHS)
        benefit[t, lane] = 1e5 * rng.uniform(0.8, 1.2) / (1 + np.exp(-(t - go_live[lane] - ramp / 2) * 4.4 / ramp))
    return (benefit, rng.uniform(5e4, 1e5, LANES), rng.uniform(1e4, 2e4, LANES), go_live,
            np.full(LANES, 1 / 1.0064), rng.uniform(1e5, 3e5, LANES))


def packed_instructions(kernel) -> int:
    return sum(len(PACKED.findall(asm)) for asm in kernel.inspect_asm().values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    data = trials()
    outs = [np.empty((8, LANES)) for _ in range(2)]
    sums = np.empty((14, LANES))
    for kind in (0, 1):
        repeat(kind, *data, outs[kind], sums, 1)
    assert np.array_equal(outs[0], outs[1]), "the two layouts disagree"
    times = 20_000
    best = [float("inf")] * 2
    for _ in range(args.repeat):
        for kind in (0, 1):
            start = time.perf_counter()
            repeat(kind, *data, outs[kind], sums, times)
            best[kind] = min(best[kind], (time.perf_counter() - start) / times / LANES * 1e9)
    print("same doubles from both layouts")
    for kind, (name, kernel) in enumerate((("one trial at a time", one_at_a_time),
                                           ("16 trials side by side", months_side_by_side))):
        print(f"{name:24s} {best[kind]:6.0f} ns a trial   packed-double arithmetic instructions: "
              f"{packed_instructions(kernel)}")
    print(f"side by side / one at a time: {best[1] / best[0]:.2f}")


if __name__ == "__main__":
    main()
