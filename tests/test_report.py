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

#: The budget and date charts come first, as their section does.
BUDGET_CHARTS = ("budget-s-curve", "go-live", "joint")
CHARTS = (*BUDGET_CHARTS, "npv-histogram", "s-curves", "payback", "cash-fan", "tornado", "sobol", "voi")
#: Charts of the drivers: none for a scenario without sampled drivers.
DRIVER_CHARTS = ("tornado", "sobol", "voi")
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
    expected = [c for c in CHARTS if c not in DRIVER_CHARTS or sc.drivers()]
    assert [c.stem for c in report.charts] == expected
    for stem in expected:
        assert f'<figure id="{stem}">' in html
    assert "Summary with Monte Carlo standard errors" in html and "Inputs as sampled" in html
    # budget and date: costs, contingency, go-live, frontier, NPV; then metrics, probabilities, inputs
    assert html.count("<table>") == 8
    assert html.index("<h2>Budget and date</h2>") < html.index("<h2>Net present value</h2>")
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



def test_a_run_reports_from_its_own_summary_the_page_the_file_gives(tmp_path, monkeypatch):
    """`run --report` hands the report the run's summary and its go-live and payback histograms
    (no second pass over the file for them): the page is byte for byte the one `simengine report`
    rebuilds from the file alone, and the one `simengine.open(file).report()` gives, which reads
    those two histograms back (two blocks of trials, one partial)."""
    import simengine
    from simengine import report as report_module

    runner = CliRunner()
    out = tmp_path / "bb.parquet"
    reads = []
    real = report_module.file_histograms
    monkeypatch.setattr(report_module, "file_histograms", lambda *a: reads.append(a) or real(*a))
    done = runner.invoke(main, ["run", "crm_upgrade_big_bang", "--trials", "70000", "--out", str(out), "--report",
                                "--columns", "metrics", "--quiet"])
    assert done.exit_code == 0, done.output
    assert reads == []
    simengine.open(out).report(tmp_path / "opened.html")
    assert len(reads) == 1
    rebuilt = runner.invoke(main, ["report", str(out), "--out", str(tmp_path / "again.html")])
    assert rebuilt.exit_code == 0, rebuilt.output
    page = (tmp_path / "bb.html").read_bytes()
    assert page == (tmp_path / "again.html").read_bytes() == (tmp_path / "opened.html").read_bytes()

def test_a_report_on_a_terminal_names_each_step_and_clears_the_line(tmp_path, request):
    """`run --report` and `simengine report` show "Writing the report (k of n): ..." on stderr
    when it is a terminal (the steps in the order the report takes them, the summary first when
    the file must be summarized again), clear the line at the end, and show nothing with --quiet
    or off a terminal."""
    from simengine.report import REPORT_STEPS

    runner = CliRunner()
    out = tmp_path / "bb.parquet"
    args = ["run", "crm_upgrade_big_bang", "--trials", "3000", "--out", str(out), "--report", "--force"]
    off_terminal = runner.invoke(main, args)
    assert off_terminal.exit_code == 0 and off_terminal.stderr == ""
    request.getfixturevalue("status_on_terminal")
    shown = runner.invoke(main, args)
    assert shown.exit_code == 0, shown.output
    lines = shown.stderr.split("\r")
    want = [f"Writing the report ({k} of 5): {text}...\x1b[K" for k, text in enumerate(REPORT_STEPS, 1)]
    assert [line for line in lines if line.startswith("Writing")] == want
    assert shown.stderr.endswith("\r\x1b[K")
    assert runner.invoke(main, [*args, "--quiet"]).stderr == ""
    again = runner.invoke(main, ["report", str(out), "--force"])
    assert again.exit_code == 0, again.output
    steps = [line.split(": ", 1)[1] for line in again.stderr.split("\r") if line.startswith("Writing")]
    assert steps == [f"{text}...\x1b[K" for text in ("summarizing the stored trials", *REPORT_STEPS)]
    assert "(6 of 6)" in again.stderr and again.stderr.endswith("\r\x1b[K")


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
    # a page given as the result (its own report path) is named as not a result, not as existing
    page = tmp_path / "page.html"
    page.write_text("<html></html>")
    wrong = runner.invoke(main, ["report", str(page)])
    assert wrong.exit_code == 2 and wrong.stderr.startswith(f"Error: {page}: not a Parquet file")
    assert wrong.stderr.count("\n") == 1 and page.read_text() == "<html></html>"
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


# --- budget and date ---------------------------------------------------------------------------

def section_html(html: str, title: str) -> str:
    """One <section> of the page, by its heading."""
    start = html.index(f"<section><h2>{title}</h2>")
    return html[start:html.index("</section>", start)]


def test_the_budget_and_date_section_comes_first_and_holds_the_summary(tmp_path, monkeypatch):
    """The section is the page's first, its figures are the JSON summary's (`simengine summarize
    --json` of the same file), its three charts are embedded in it, and --png-dir writes them."""
    import simengine.report as report

    from simengine import charts
    from simengine.result_file import summarize_file

    monkeypatch.setattr(report, "JOINT_POINTS", 1000)
    joint = capture(monkeypatch, "joint_chart")
    s_curve = capture(monkeypatch, "budget_s_curve")
    result = tmp_path / "bb.parquet"
    run(bundled_scenario("crm_upgrade_big_bang"), trials=6000, seed=7, out=result)
    block = summarize_file(result)["budget_and_date"]
    done = CliRunner().invoke(main, ["report", str(result), "--png-dir", str(tmp_path / "png")])
    assert done.exit_code == 0, done.output
    html = (tmp_path / "bb.html").read_text(encoding="utf-8")
    assert re.findall(r"<h2>([^<]*)</h2>", html)[0] == "Budget and date"
    assert html.index("<h2>Budget and date</h2>") < html.index('<figure id="npv-histogram">')
    part = section_html(html, "Budget and date")
    for stem in BUDGET_CHARTS:
        assert f'<figure id="{stem}"><img src="data:image/png;base64,' in part
        width, height = png_size((tmp_path / "png" / f"{stem}.png").read_bytes())
        assert 800 <= width <= 2000 and 300 <= height <= 1400, (stem, width, height)

    cost = block["costs"]["one_time_cost"]
    p80 = cost["p80"]
    assert f"<td>{p80['value']:,.0f}<span class=\"se\">± {p80['se']:,.0f}</span></td>" in part
    assert f"<td class=\"text\">one-time cost</td><td>{cost['base']:,.0f}</td>" in part
    k = cost["contingency"]["p80"]
    assert f"{k['value']:,.0f} ({k['share_of_base'] * 100:+.1f} %)" in part
    g = block["go_live"]
    def month(est, unit=""):  # the month, its standard error on a second line
        return f"<td>{est['value']:g}{unit}<span class=\"se\">± {est['se']:.2f}</span></td>"
    assert (f"<td class=\"text\">months from the start</td><td>{g['planned']:g}</td>"
            + "".join(month(g[f"p{p}"]) for p in (50, 80, 90))) in part
    assert month(g["contingency_months"]["p80"], " months") in part
    reached = [p for p in block["joint"]["frontier"] if p["budget"]["value"] is not None]
    assert reached and any(p["budget"]["value"] is None for p in block["joint"]["frontier"])
    for p in block["joint"]["frontier"]:
        month = f"{p['go_live_month']:g}" + (" (plan)" if p["go_live_month"] == g["planned"] else "")
        budget = p["budget"]
        if budget["value"] is None:
            shown = budget["note"]
        else:
            se = budget["se"]  # no SE: the note says why, in its place
            note = f"± {se:,.0f}" if se is not None else budget["note"].replace("'", "&#x27;")
            shown = f"{budget['value']:,.0f}<span class=\"se\">{note}</span>"
        live_by = report.probability_estimate(p["p_live_by"])
        assert f"<td class=\"text\">{month}</td><td>{live_by}</td><td>{shown}</td>" in part
    npv = block["npv"]
    assert f"<td>{npv['base']:,.0f}</td>" in part
    assert f"{npv['cost_of_risk']['value']:,.0f} ± {npv['cost_of_risk']['se']:,.0f}" in part
    assert f"That cost is enough in {report.probability_in_trials(cost['p_base_enough'])}" in part

    # the charts draw the same figures: the frontier as steps over every trial, the subset named
    (fig,) = joint
    ax = fig.axes[0]
    (frontier,) = [line for line in ax.get_lines() if line.get_label().startswith("budget B(D)")]
    scale = 1e6
    np.testing.assert_allclose(frontier.get_xdata()[:-1], [p["go_live_month"] for p in reached])
    np.testing.assert_allclose(frontier.get_ydata()[:-1] * scale, [p["budget"]["value"] for p in reached])
    assert frontier.get_drawstyle() == "steps-post"
    (dots,) = ax.collections
    assert dots.get_offsets().shape == (1000, 2)
    texts = " ".join(chart_texts(fig))
    assert "one dot per trial: the first 1,000 of 6,000 trials" in texts
    assert "one dot per trial (the first 1,000 of 6,000 trials)" in part
    (curve,) = s_curve
    texts = " ".join(chart_texts(curve))
    assert f"contingency to P80: {k['value']:,.0f} EUR ({k['share_of_base'] * 100:+.1f} % of the base)" in texts
    assert f"P80 = {p80['value'] / scale:,.2f}" in texts
    lines = {line.get_label(): line.get_xdata()[0] * scale for line in curve.axes[0].get_lines()}
    assert lines[f"P80 = {p80['value'] / scale:,.2f}"] == pytest.approx(p80["value"])
    assert charts.signed_percent(0.0) == "0 %" and charts.signed_percent(1e-6) == "+0.0001 %"


def test_go_live_histogram_counts_every_trial(tmp_path, monkeypatch):
    made = capture(monkeypatch, "go_live_histogram")
    result = tmp_path / "bb.parquet"
    run(bundled_scenario("crm_upgrade_big_bang"), trials=3000, seed=2, out=result)
    result_report(result)
    go_live = read_head(result, ["go_live_month"], 3000)["go_live_month"]
    (fig,) = made
    bars = [p for c in fig.axes[0].containers for p in c.patches]
    drawn = {round(p.get_x() + p.get_width() / 2 + 0.5): p.get_height() for p in bars}
    months, counts = np.unique(go_live, return_counts=True)
    for month, count in zip(months, counts):
        if month in drawn:
            assert drawn[month] == pytest.approx(count / 3000)
    assert sum(drawn.values()) >= 0.999


def test_budget_and_date_without_uncertainty(bundled, tmp_path):
    """deterministic_example has no uncertainty: no contingency, the base case is enough in
    every trial (shown with its bound, never "100.0 %"), and every chart draws one value."""
    result = tmp_path / "d.parquet"
    run(bundled["deterministic_example"], trials=200, seed=1, out=result)
    report = result_report(result)
    part = section_html(report.html, "Budget and date")
    every = "every trial (above 98.5 % at 95 % confidence)"
    assert "<td class=\"text\">one-time cost</td><td>180,000</td>" in part
    assert part.count(f"<td>{every}</td>") == 2 + 1 + 1  # both costs, on plan, live by month 6
    assert "<td>0 (0 %)<span class=\"se\">± 0</span></td>" in part
    assert "<td>0 months<span class=\"se\">± 0.00</span></td>" in part  # no uncertainty: an SE of 0, exactly
    assert f"That cost is enough in {every}" in part
    assert [c.stem for c in report.charts][:3] == list(BUDGET_CHARTS)
    for chart in report.charts[:3]:
        assert png_size(chart.png)[0] >= 800


def test_budget_charts_draw_a_single_trial(bundled, tmp_path):
    """A one-trial run: one point, one bar, one frontier month, no crash."""
    from simengine import charts

    result = tmp_path / "one.parquet"
    run(bundled["deterministic_example"], trials=1, seed=1, out=result)
    report = result_report(result)
    assert "the run&#x27;s only trial" in section_html(report.html, "Budget and date")
    block = accumulate_file(result)[2].summary()["budget_and_date"]
    one, six = np.array([180_000.0]), np.array([6.0])
    for fig in (charts.budget_s_curve(one, block["costs"]["one_time_cost"], "EUR"),
                charts.go_live_histogram({6: 1}, block["go_live"]),
                charts.joint_chart(one, six, block, "EUR"),
                charts.joint_chart(np.empty(0), np.empty(0), block, "EUR")):
        assert charts.png_bytes(fig).startswith(PNG_SIGNATURE)


def test_a_file_from_before_the_costs_existed_reports_without_budget_and_date(tmp_path):
    """A 0.3.0 file has no one_time_cost: the section is left out with a one-line note, and the
    summary says which metric the file lacks."""
    import pyarrow.parquet as pq

    result = tmp_path / "new.parquet"
    run(bundled_scenario("crm_new_small_firm"), trials=500, seed=1, out=result)
    table = pq.read_table(result)
    meta = pq.ParquetFile(result).metadata.metadata
    old = tmp_path / "old.parquet"
    pq.write_table(table.drop_columns(["one_time_cost"]).replace_schema_metadata(meta), old)
    report = result_report(old)
    assert "<h2>Budget and date</h2>" not in report.html
    assert ("No budget and date section: this file was written before simengine stored one_time_cost; "
            "run the scenario again to get it.") in report.html
    assert "Not in this file (written before simengine had them): one_time_cost." in report.html
    assert [c.stem for c in report.charts] == [c for c in CHARTS if c not in (*BUDGET_CHARTS, "voi")]
    assert "No value-of-information chart: value of information needs at least 1,000 trials, got 500." in report.html


def test_a_result_with_infinite_values_is_refused_in_one_line(tmp_path):
    """simengine writes finite values or nulls: a file with an infinite NPV was altered, and the
    commands that summarize it say so (exit 2) instead of failing on the undefined mean."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    good = tmp_path / "r.parquet"
    run(bundled_scenario("crm_new_small_firm"), trials=2000, seed=1, out=good, columns="metrics")
    table = pq.read_table(good)
    npv = table.column("npv").to_numpy().copy()
    npv[5] = np.inf
    bad = tmp_path / "inf.parquet"
    pq.write_table(table.set_column(table.schema.get_field_index("npv"), "npv", pa.array(npv))
                   .replace_schema_metadata(pq.ParquetFile(good).metadata.metadata), bad)
    runner = CliRunner()
    for args in (["summarize", str(bad)], ["report", str(bad)]):
        refused = runner.invoke(main, args)
        assert refused.exit_code == 2 and refused.stderr.count("\n") == 1, refused.output
        assert "npv is infinite in some trials" in refused.stderr
    assert not (tmp_path / "inf.html").exists()
