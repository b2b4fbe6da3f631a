"""Reports: every bundled scenario and a comparison build a self-contained page and valid PNGs."""

from __future__ import annotations

import json
import re
import struct

import numpy as np
import pytest
from click.testing import CliRunner

from simengine.bundled import bundled_scenarios
from simengine.cli import main
from simengine.output import read_head
from simengine.report import payback_shares, result_report
from simengine.result_file import accumulate_file
from simengine.runner import run

CHARTS = ("npv-histogram", "s-curves", "payback", "cash-fan", "tornado")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (after checking the signature)."""
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def assert_self_contained(html: str) -> None:
    """No resource outside the file: no URL, no link, no script, images only as data: URIs."""
    assert not re.search(r"https?://", html)
    assert "<link" not in html and "<script" not in html and "@import" not in html
    sources = re.findall(r'src="([^"]*)"', html)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)


@pytest.mark.parametrize("name", sorted(bundled_scenarios()))
def test_a_report_builds_for_every_bundled_scenario(bundled, tmp_path, name):
    sc = bundled[name]
    result = tmp_path / "r.parquet"
    run(sc, trials=3000, seed=5, out=result)
    report = result_report(result)
    written = report.write(tmp_path / "r.html", tmp_path / "png")
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert_self_contained(html)
    expected = [c for c in CHARTS if c != "tornado" or sc.drivers()]
    assert [c.stem for c in report.charts] == expected
    for stem in expected:
        assert f'<figure id="{stem}">' in html
    assert "Summary with Monte Carlo standard errors" in html and "Inputs as sampled" in html
    assert html.count("<table>") == 3  # metrics, probabilities, inputs
    assert sc.name in html and "P(NPV &lt; 0)" in html and " ± " in html
    for path in written[1:]:
        width, height = png_size(path.read_bytes())
        assert 800 <= width <= 2000 and 300 <= height <= 1400, (path.name, width, height)
    if not sc.drivers():
        assert "No tornado chart: the scenario has no sampled drivers." in html


def test_payback_curve_counts_every_trial(bundled, tmp_path):
    sc = bundled["crm_new_small_firm"]
    result = tmp_path / "r.parquet"
    run(sc, trials=5000, seed=2, out=result)
    paid, never = payback_shares(accumulate_file(result)[2].histograms["payback_months"], sc.horizon_months)
    payback = read_head(result, ["payback_months"], 5000)["payback_months"]
    for k in (1, 12, 24, sc.horizon_months):
        assert paid[k - 1] == np.count_nonzero(payback <= k) / 5000
    assert never == np.count_nonzero(np.isnan(payback)) / 5000
    assert paid[-1] + never == pytest.approx(1.0)


def test_run_report_flag_and_report_command(tmp_path):
    runner = CliRunner()
    out = tmp_path / "bb.parquet"
    done = runner.invoke(main, ["run", "crm_upgrade_big_bang", "--trials", "2000", "--out", str(out), "--report",
                                "--quiet"])
    assert done.exit_code == 0, done.output
    assert "Report:  " in done.output and (tmp_path / "bb.html").exists()
    as_json = runner.invoke(main, ["run", "crm_new_small_firm", "--trials", "500", "--out", str(tmp_path / "s.parquet"),
                                   "--report", "--json", "--quiet"])
    assert as_json.exit_code == 0 and json.loads(as_json.stdout)["report_path"] == str(tmp_path / "s.html")
    assert (tmp_path / "s.html").exists()
    # the report command refuses to overwrite, then writes PNGs on request
    again = runner.invoke(main, ["report", str(out)])
    assert again.exit_code == 2 and "already exists; use --force" in again.stderr
    pngs = tmp_path / "charts"
    forced = runner.invoke(main, ["report", str(out), "--png-dir", str(pngs), "--force"])
    assert forced.exit_code == 0, forced.output
    assert sorted(p.stem for p in pngs.glob("*.png")) == sorted(CHARTS)


def test_report_errors_are_one_line(tmp_path):
    runner = CliRunner()
    drivers_only = tmp_path / "d.parquet"
    assert runner.invoke(main, ["run", "crm_new_small_firm", "--trials", "500", "--out", str(drivers_only),
                                "--columns", "drivers", "--quiet"]).exit_code == 0
    failed = runner.invoke(main, ["report", str(drivers_only)])
    assert failed.exit_code == 2 and "a report needs the metrics stored" in failed.stderr
    assert "Traceback" not in failed.output and not (tmp_path / "d.html").exists()
    missing = runner.invoke(main, ["report", str(tmp_path / "nope.parquet")])
    assert missing.exit_code == 2 and "no such result file" in missing.stderr
    usage = runner.invoke(main, ["run", "crm_new_small_firm", "--summary-only", "--report"])
    assert usage.exit_code == 2 and "--report needs a result file" in usage.stderr


def test_metrics_only_file_reports_without_tornado(tmp_path):
    result = tmp_path / "m.parquet"
    run(bundled_scenario("crm_new_small_firm"), trials=2000, seed=1, out=result, columns="metrics")
    report = result_report(result)
    assert "tornado" not in [c.stem for c in report.charts]
    assert "this file does not store the drivers" in report.html
    assert "* from the distribution: this file does not store that driver." in report.html


def bundled_scenario(name):
    from simengine.scenario import load_scenario
    return load_scenario(bundled_scenarios()[name])


def test_comparison_report(tmp_path):
    runner = CliRunner()
    page = tmp_path / "cmp.html"
    done = runner.invoke(main, ["compare", "crm_upgrade_phased", "crm_upgrade_big_bang", "--trials", "3000",
                                "--report", str(page), "--png-dir", str(tmp_path / "png")])
    assert done.exit_code == 0, done.output
    html = page.read_text(encoding="utf-8")
    assert_self_contained(html)
    for stem in ("compare-s-curves", "delta-npv"):
        assert f'<figure id="{stem}">' in html
        assert png_size((tmp_path / "png" / f"{stem}.png").read_bytes())[0] >= 800
    assert "A: crm_upgrade_phased" in html and "B: crm_upgrade_big_bang" in html and "mean ΔNPV" in html


def test_a_tiny_run_still_reports_and_says_why_there_is_no_tornado(tmp_path):
    runner = CliRunner()
    done = runner.invoke(main, ["run", "crm_new_small_firm", "--trials", "5", "--out", str(tmp_path / "t.parquet"),
                                "--report", "--quiet"])
    assert done.exit_code == 0, done.output
    html = (tmp_path / "t.html").read_text(encoding="utf-8")
    assert "No tornado chart: too few trials" in html and '<figure id="cash-fan">' in html
