"""The benchmark's throughput chart (benchmarks/chart.py, `benchmarks/run.py --chart-only`).

No timing is measured here: the chart is drawn from a tiny fake results.json.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
SPEC = importlib.util.spec_from_file_location("bench_chart", BENCHMARKS / "chart.py")
chart = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(chart)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def entry(trials: int, per_second: float, timed_at: int | None = None) -> dict:
    return {"trials": trials, "seconds": trials / per_second, "trials_per_second": per_second,
            "peak_rss_mib": 300.0, "file_mib": 1.0, "extrapolated_from": timed_at}


def fake_results() -> dict:
    """Two sizes; the numpy baselines timed at 1,000 and 500 trials and scaled to 10,000."""
    return {"scenario": "crm_upgrade_big_bang", "machine": "x86_64, 2 cores, Linux", "python": "3.11.7",
            "sizes": [{"trials": n, "engine": entry(n, 2e5 * n / 1e4), "floor": entry(n, 1e6),
                       "numpy_newton": entry(n, 1e4, 1000 if n > 1000 else None),
                       "numpy_npf": entry(n, 1e3, 500)} for n in (1000, 10_000)]}


def test_the_chart_is_a_png(tmp_path):
    path = chart.draw_chart(fake_results(), tmp_path / "sub" / "throughput.png")
    assert path.read_bytes()[:8] == PNG_SIGNATURE


def test_chart_only_redraws_from_an_existing_results_file(tmp_path):
    results, png = tmp_path / "results.json", tmp_path / "chart.png"
    results.write_text(json.dumps(fake_results()))
    subprocess.run([sys.executable, str(BENCHMARKS / "run.py"), "--chart-only", "--results", str(results),
                    "--chart", str(png)], check=True, capture_output=True, timeout=120)
    assert png.read_bytes()[:8] == PNG_SIGNATURE


def test_scaled_points_are_marked_and_start_from_the_size_they_were_timed_at():
    assert chart.series(fake_results(), "numpy_newton") == [(1000, 1e4, False), (10_000, 1e4, True)]
    assert chart.series(fake_results(), "numpy_npf") == [(500, 1e3, False), (1000, 1e3, True), (10_000, 1e3, True)]
    assert all(not scaled for _, _, scaled in chart.series(fake_results(), "engine"))


def test_the_subtitle_names_the_machine_with_its_cores():
    assert "2 cores" in chart.subtitle(fake_results())
    assert "16 cores" in chart.subtitle({**fake_results(), "cores": 16, "cpu": "AMD EPYC"})
