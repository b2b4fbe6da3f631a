"""The benchmark guard's verdict (benchmarks/check.py): which change counts as a regression.

No timing is measured here; only the comparison of figures with their baseline.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SPEC = importlib.util.spec_from_file_location("bench_check", Path(__file__).resolve().parent.parent / "benchmarks"
                                              / "check.py")
check = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(check)


@pytest.mark.parametrize("figure,base,now,regressed", [
    ("big_bang.engine_over_floor", 4.0, 5.1, True),    # the engine 27.5 % slower against its floor
    ("big_bang.engine_over_floor", 4.0, 4.9, False),   # 22.5 %: within 25 %
    ("big_bang.engine_over_floor", 4.0, 2.0, False),   # faster is never a regression
    ("small7.kernel_vs_floor", 0.6, 0.44, True),       # the kernel 26.7 % slower
    ("small7.kernel_vs_floor", 0.6, 0.48, False),      # 20 %
    ("small7.kernel_vs_floor", 0.6, 0.9, False),       # faster
])
def test_a_figure_regresses_only_when_worse_by_more_than_the_tolerance(figure, base, now, regressed):
    (row,) = check.compare({figure: now}, {figure: base}, 0.25)
    assert row["regressed"] is regressed
    assert row["worse_by"] == pytest.approx((now - base) / base if "engine" in figure else (base - now) / base)


def test_a_figure_without_a_baseline_is_reported_not_failed():
    (row,) = check.compare({"small7.engine_over_floor": 3.0}, {}, 0.25)
    assert row["baseline"] is None and row["regressed"] is False


def test_the_committed_baseline_has_every_guarded_figure():
    import json

    figures = json.loads(check.BASELINE.read_text())["figures"]
    assert set(figures) == {f"{name}.{figure}" for name in check.SCENARIOS for figure in check.FIGURES}
