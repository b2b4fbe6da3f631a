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


# --- what the charts and the page say (user review of the big-bang report) ----------------------

def chart_texts(fig) -> list[str]:
    """Every non-empty text of a figure: title, labels, legends."""
    from matplotlib.text import Text

    return [t.get_text() for t in fig.findobj(Text) if t.get_text()]


def capture(monkeypatch, name: str) -> list:
    """The figures report.py builds with charts.<name>, kept for the test to read."""
    from simengine import charts

    made, original = [], getattr(charts, name)
    monkeypatch.setattr(charts, name, lambda *a, **k: made.append(original(*a, **k)) or made[-1])
    return made


#: A probability shown as zero, "0.0 %" or "0.00 %" (a 0 of n must show its bound instead); the
#: page writes probabilities with a space before "%" (the metrics table's "0.00%" is an sd).
ZERO_SHARE = re.compile(r"(?<![\d.])0\.0+ %")


def test_fan_x_axis_counts_months_elapsed_like_payback(bundled, tmp_path):
    """deterministic_example pays back in month 19 (docs/model.md): the fan's first month with
    cumulative cash >= 0 must be 19 too, month 0 shows 0 (nothing spent yet), and the chart
    draws those points as steps, so no fractional crossing (17.3) can be read off."""
    from simengine import charts
    from simengine.cash_fan import fan_series
    from simengine.output import read_metadata

    sc = bundled["deterministic_example"]
    result = tmp_path / "d.parquet"
    run(sc, trials=20, seed=1, out=result)
    fan = json.loads(read_metadata(result)["cash_fan"])
    summary = accumulate_file(result)[2].summary()
    payback = int(summary["metrics"]["payback_months"]["p50"]["value"])
    assert payback == 19
    x, y = fan_series(fan)
    assert list(x) == list(range(sc.horizon_months + 1))
    for band in y.values():
        assert band[0] == 0.0 and band.size == x.size
        assert int(x[1:][np.argmax(band[1:] >= 0)]) == payback  # k in 1..H, as payback counts
        assert (band[1:payback] < 0).all() and band[payback] >= 0
    fig = charts.fan_chart(fan, {"p10": 6.0, "p50": 6.0, "p90": 6.0}, "EUR")
    (median,) = [line for line in fig.axes[0].get_lines() if line.get_label().startswith("median (")]
    assert median.get_drawstyle() == "steps-post"
    np.testing.assert_array_equal(median.get_xdata(), x)
    np.testing.assert_allclose(median.get_ydata() * 1e3, y["p50"])  # drawn in thousands
    assert fig.axes[0].get_xlim() == (0.0, sc.horizon_months)


def test_tornado_says_which_trials_its_mean_is_over(tmp_path, monkeypatch):
    """The tornado ranks only the first TORNADO_TRIALS trials: its mean line is theirs and says
    so, not "mean NPV over all trials"."""
    import simengine.report as report

    monkeypatch.setattr(report, "TORNADO_TRIALS", 1000)
    made = capture(monkeypatch, "tornado")
    result = tmp_path / "bb.parquet"
    run(bundled_scenario("crm_upgrade_big_bang"), trials=3000, seed=4, out=result)
    page = result_report(result).html
    legend = [t.get_text() for t in made[0].legends[0].get_texts()]
    first = read_head(result, ["npv"], 1000)["npv"].mean() / 1e6
    assert legend[-1] == f"mean NPV of the 1,000 trials ranked: {first:,.2f}"
    assert not any("over all trials" in t for t in legend)
    assert "the line is the mean NPV of the 1,000 trials ranked (the first 1,000 of 3,000" in page
    assert "the first 1,000 of 3,000 trials." in page  # the inputs table's sample


def test_a_probability_of_zero_shows_its_bound_on_the_page_and_in_the_charts(bundled, tmp_path, monkeypatch):
    """deterministic_example's payback target (18 months) is never met: every place that
    shows it says "0 trials (below 1.5 % at 95 % confidence)" for 200 trials, as the text
    output does, never "0.00 %" or "0.0 %"."""
    from simengine.report import probability_estimate

    assert probability_estimate({"value": 0.0, "se": None, "upper95": 1.4979e-5}) == \
        "0 trials (below 0.0015 % at 95 % confidence)"
    assert probability_estimate({"value": 1.0, "se": None, "lower95": 1 - 1.4979e-5}) == \
        "every trial (above 99.9985 % at 95 % confidence)"
    payback = capture(monkeypatch, "payback_curve")
    curves = capture(monkeypatch, "s_curves")
    histogram = capture(monkeypatch, "npv_histogram")
    result = tmp_path / "d.parquet"
    run(bundled["deterministic_example"], trials=200, seed=1, out=result)
    page = result_report(result).html
    bound = "0 trials (below 1.5 % at 95 % confidence)"
    assert f"All decision targets met together in {bound}." in page
    assert f"Probability of losing money (NPV &lt; 0): {bound};" in page
    assert "every trial (above 98.5 % at 95 % confidence)" in page  # ROI and BCR targets
    text = re.sub(r"<[^>]+>", " ", re.sub(r'src="[^"]*"|<style>.*?</style>', "", page, flags=re.S))
    assert not ZERO_SHARE.search(text) and "100.0 %" not in text and "100.00 %" not in text
    texts = [t for fig in (*payback, *curves, *histogram) for t in chart_texts(fig)]
    shown = " ".join(t.replace("\n", " ") for t in texts)
    assert f"target ≤ 18 months: met in {bound}" in shown
    assert "ever within 24 months: every trial (above 98.5 % at 95 % confidence)" in shown
    assert f"never within the 24-month horizon in {bound}" in shown
    assert f"P(NPV < 0) = {bound}" in shown
    assert not any(ZERO_SHARE.search(t) or "100.0 %" in t for t in texts), texts


def test_payback_legend_hides_no_data(monkeypatch, tmp_path):
    """The legend sits outside the axes (it hid the "ever within" line for months 1-22)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from simengine import charts
    from simengine.summary import probability

    paid = np.clip((np.arange(1, 61) - 28) / 40, 0, 0.82)
    for fig in (charts.payback_curve(paid, probability(1800, 10_000), 60, 30, probability(0, 10_000)),
                charts.fan_chart({"months": 3, "trials": 1, "percentiles": {f"p{p}": [-1.0, 0.0, 1.0] for p in
                                                                            (10, 25, 50, 75, 90)}},
                                 {"p10": 1.0, "p50": 1.0, "p90": 2.0}, "EUR")):
        FigureCanvasAgg(fig).draw()
        (ax,) = fig.axes
        assert ax.get_legend() is None and len(fig.legends) == 1
        legend, axes = fig.legends[0].get_window_extent(), ax.get_window_extent()
        assert legend.y1 <= axes.y0 and not legend.overlaps(axes)
        assert legend.x0 >= 0 and legend.x1 <= fig.bbox.width  # and it is not cut off


CONFLICT_TOML = """name = "repaired"
discount_rate = 0.08
[schedule]
planned_months = 6
[benefits.streams.p]
amount = 100000
""" + "".join(f"""[costs.{k}]
timing = "implementation"
amount = {{ dist = "pert", min = 100, mode = 150, max = 260 }}
""" for k in "abc") + "".join(f"""[[correlations]]
drivers = ["costs.{a}.amount", "costs.{b}.amount"]
spearman = {r}
""" for a, b, r in (("a", "b", 0.9), ("b", "c", 0.9), ("a", "c", -0.9)))


def repaired_run(tmp_path):
    from simengine.scenario import loads_scenario

    sc = loads_scenario(CONFLICT_TOML, repair_correlations=True)
    result = tmp_path / "c.parquet"
    run(sc, trials=2000, seed=3, out=result)
    return sc, result


def test_a_repaired_correlation_matrix_shows_requested_and_used(tmp_path):
    """After --repair-correlations the inputs show each pair's requested and used Spearman and
    say that the matrix was repaired, not only the used value."""
    from simengine.report import REPAIRS_KEY, correlation_repairs

    sc, result = repaired_run(tmp_path)
    assert sc.correlation_repairs
    page = result_report(result, sc.correlation_repairs).html
    assert "Correlations repaired: the requested matrix was not positive semi-definite" in page
    assert "<th>Spearman requested</th><th>Spearman used</th>" in page
    for a, b, old, new in sc.correlation_repairs:
        assert abs(new) < abs(old)
        assert f'<td class="text">{a}</td><td class="text">{b}</td><td>{old:g}</td><td>{new:.3f}</td>' in page
    # from the result file's metadata (as `simengine run --json` lists them)
    stored = json.dumps([{"drivers": [a, b], "requested": old, "used": new}
                         for a, b, old, new in sc.correlation_repairs])
    assert correlation_repairs({REPAIRS_KEY: stored}) == list(sc.correlation_repairs)
    # an unrepaired run says nothing of the kind
    plain = tmp_path / "p.parquet"
    run(bundled_scenario("crm_upgrade_big_bang"), trials=500, seed=3, out=plain)
    assert "repaired" not in result_report(plain).html


def test_run_repair_correlations_report_shows_the_repair(tmp_path):
    (tmp_path / "s.toml").write_text(CONFLICT_TOML, encoding="utf-8")
    done = CliRunner().invoke(main, ["run", str(tmp_path / "s.toml"), "--trials", "1000", "--out",
                                     str(tmp_path / "s.parquet"), "--repair-correlations", "--report", "--quiet"])
    assert done.exit_code == 0, done.output
    assert "Correlations repaired" in (tmp_path / "s.html").read_text(encoding="utf-8")
