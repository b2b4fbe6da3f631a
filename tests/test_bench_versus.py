"""The before/after benchmark's table (benchmarks/versus.py): which value of the rounds each
figure reports, the ratios it derives, and which way "better" points.

No timing is measured here; the table is made from given measurements.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SPEC = importlib.util.spec_from_file_location("bench_versus", Path(__file__).resolve().parent.parent / "benchmarks"
                                              / "versus.py")
versus = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(versus)

RAW = {
    "start-up: validate (s)": {"before": [2.0, 2.4, 9.0], "after": [0.3, 0.2, 0.4]},
    "kernel, big bang, 1 thread(s) (trials/s)": {"before": [800_000.0, 900_000.0], "after": [1_000_000.0, 950_000.0]},
    "engine, big bang, 1 thread(s) (s)": {"before": [24.0, 22.0], "after": [23.0, 21.0]},
    "engine, big bang, 2 thread(s) (s)": {"before": [17.0, 16.0], "after": [15.0, 14.0]},
    "floor, big bang, 1 thread(s) (s)": {"floor": [4.0, 3.5]},
    "floor, big bang, 2 thread(s) (s)": {"floor": [4.0, 4.2]},
    "peak RSS, run 1e6, metrics (MiB)": {"before": [750.0, 740.0, 745.0], "after": [356.0, 358.0, 900.0]},
}


@pytest.fixture
def rows():
    return {r["figure"]: r for r in versus.table(RAW)}


def test_each_figure_reports_the_median_or_the_best_of_its_rounds(rows):
    # start-up and memory: the median, so one disturbed round does not decide
    assert rows["start-up: validate (s)"]["before"] == 2.4
    assert rows["peak RSS, run 1e6, metrics (MiB)"]["after"] == 358.0
    # kernel: the fastest round (most trials/s); engine: the fastest round (least time)
    assert rows["kernel, big bang, 1 thread(s) (trials/s)"]["before"] == 900_000.0
    assert rows["engine, big bang, 1 thread(s) (s)"]["after"] == 21.0
    assert "floor, big bang, 1 thread(s) (s)" not in rows  # only in the ratios


def test_gain_is_how_many_times_better_after_is_whichever_way_the_figure_points(rows):
    assert rows["start-up: validate (s)"]["gain"] == pytest.approx(2.4 / 0.3)   # time: lower is better
    assert rows["kernel, big bang, 1 thread(s) (trials/s)"]["gain"] == pytest.approx(1_000_000 / 900_000)
    assert rows["peak RSS, run 1e6, metrics (MiB)"]["gain"] == pytest.approx(745 / 358)


def test_engine_over_floor_uses_the_best_floor_of_the_same_thread_count(rows):
    one = rows["engine / floor, big bang, 1 thread(s)"]
    assert (one["before"], one["after"]) == (pytest.approx(22.0 / 3.5), pytest.approx(21.0 / 3.5))
    two = rows["engine / floor, big bang, 2 thread(s)"]
    assert (two["before"], two["after"]) == (pytest.approx(16.0 / 4.0), pytest.approx(14.0 / 4.0))
    scaling = rows["engine, big bang: 2 threads over 1 (x)"]
    assert (scaling["before"], scaling["after"]) == (pytest.approx(22.0 / 16.0), pytest.approx(21.0 / 14.0))
    # a scenario without measurements gets no derived rows
    assert not any("7 drivers" in figure for figure in rows)


def test_the_markdown_table_says_better_or_worse():
    rows = [{"figure": "a (s)", "before": 2.0, "after": 1.0, "gain": 2.0},
            {"figure": "b (s)", "before": 1.0, "after": 1.25, "gain": 0.8},
            {"figure": "c (x)", "before": 1.3, "after": 1.4, "gain": None}]
    text = versus.markdown(rows, "abc1234", "this checkout").splitlines()
    assert text[0] == "| figure | before (abc1234) | after (this checkout) | after is |"
    assert text[2] == "| a (s) | 2 | 1 | 2.00x better |"
    assert text[3] == "| b (s) | 1 | 1.25 | 1.25x worse |"
    assert text[4] == "| c (x) | 1.3 | 1.4 | - |"
