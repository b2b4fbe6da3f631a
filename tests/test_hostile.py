"""Hostile text: names, descriptions and currencies that look like HTML or mathtext stay inert.

A scenario whose free-text fields carry a script, an attribute breakout, a </title>, an
entity and mathtext is run and reported through the CLI (`run --report`, `report`,
`compare --report`). Every page must show the text verbatim, contain no script element and
no event-handler attribute, and start its <head> with a Content-Security-Policy that
forbids scripts and remote loads; the charts must draw the "$...$" literally.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner

from simengine import api
from simengine.cli import main

PAYLOADS = ("<script>alert(1)</script>", '"onload="x', "</title>", "&amp;", r"$\alpha$")
#: Read as mathtext this would stop matplotlib with "Unknown symbol".
BAD_MATH = r"$\notacommand{$"
HOSTILE = " ".join(PAYLOADS)
#: A file name can carry most of it too (no "/"), and the report shows the result file's name.
FILE_NAME = r'r <script>alert(1)&amp;"onload="x $\alpha$.parquet'
TRIALS = 300


def scenario_toml(name: str) -> str:
    """A small scenario with sampled drivers, a risk event and targets, every free-text field hostile
    (item names must be identifiers, so their descriptions carry the payload instead)."""
    s = json.dumps  # a JSON string literal is a valid TOML basic string
    return f"""
name = {s(name)}
description = {s("Why: " + HOSTILE + " " + BAD_MATH)}
currency = {s("EUR " + HOSTILE + " " + BAD_MATH)}
horizon_months = 36
discount_rate = 0.08
seed = 11

[schedule]
planned_months = 6
delay_months = {{ dist = "pert", min = -1, mode = 0, max = 3 }}

[costs.lic]
timing = "upfront"
amount = 50000
description = {s(HOSTILE)}

[costs.impl]
timing = "implementation"
amount = {{ dist = "pert", min = 90000, mode = 120000, max = 180000 }}
labor = true
description = {s(HOSTILE)}

[costs.ops]
timing = "recurring"
amount = 24000

[risks]
cost_overrun = {{ dist = "pert", min = 0.0, mode = 0.2, max = 0.6 }}
maintenance_load = 0.2

[adoption]
ramp_months = {{ dist = "pert", min = 3, mode = 6, max = 10 }}

[benefits.streams.prod]
amount = {{ dist = "pert", min = 150000, mode = 220000, max = 300000 }}
description = {s(HOSTILE)}

[events.outage]
probability = 0.2
cost = {{ dist = "pert", min = 10000, mode = 20000, max = 40000 }}
description = {s(HOSTILE)}

[decision]
payback_months_max = 30
roi_min = 0.0
bcr_min = 1.5
"""


class Page(HTMLParser):
    """What a browser would see: elements, attributes, the <head>'s first element, the text."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.title = ""
        self.head_first: tuple[str, dict] | None = None
        self._open: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if self._open and self._open[-1] == "head" and self.head_first is None:
            self.head_first = (tag, attrs)
        self.tags.append((tag, attrs))
        if tag not in ("meta", "img", "br"):
            self._open.append(tag)

    def handle_endtag(self, tag):
        if tag in self._open:
            del self._open[len(self._open) - 1 - self._open[::-1].index(tag):]

    def handle_data(self, data):
        if self._open and self._open[-1] == "title":
            self.title += data
        self.text.append(data)


def csp_directives(content: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in content.split(";") if d.strip()}


def assert_inert(html: str, shown: list[str], title: str) -> None:
    """No script, no handler, a strict CSP first in <head>, and each `shown` string verbatim."""
    assert "<script" not in html.lower()
    assert "<script>alert(1)</script>" not in html and '"onload="x' not in html
    assert html.count("</title>") == 1  # the page's own
    page = Page(html)
    names = [t for t, _ in page.tags]
    assert "script" not in names and not {"iframe", "object", "embed", "link", "base", "form"} & set(names)
    handlers = [(t, a) for t, attrs in page.tags for a in attrs if a.lower().startswith("on")]
    assert handlers == []
    # the CSP is the first element of <head> and allows no script and nothing remote
    assert page.head_first is not None
    tag, attrs = page.head_first
    assert tag == "meta" and attrs.get("http-equiv") == "Content-Security-Policy"
    csp = csp_directives(attrs["content"])
    assert csp["default-src"] == ["'none'"] and csp["img-src"] == ["data:"]
    assert csp["style-src"] == ["'unsafe-inline'"] and "script-src" not in csp
    assert sum(1 for t, a in page.tags if t == "meta" and a.get("http-equiv")) == 1
    sources = [a["src"] for t, a in page.tags if t == "img"]
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    # the text is shown as typed: "</title>" did not end the title, "&amp;" was not decoded
    assert page.title == title
    text = "".join(page.text)
    for s in shown:
        assert s in text, s


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """The three pages simengine writes for hostile scenarios, read back as text."""
    tmp = tmp_path_factory.mktemp("hostile")
    (tmp / "a.toml").write_text(scenario_toml("A " + HOSTILE + " " + BAD_MATH), encoding="utf-8")
    (tmp / "b.toml").write_text(scenario_toml("B " + HOSTILE), encoding="utf-8")
    runner = CliRunner()
    result = tmp / FILE_NAME
    done = runner.invoke(main, ["run", str(tmp / "a.toml"), "--trials", str(TRIALS), "--out", str(result),
                                "--report", "--quiet"])
    assert done.exit_code == 0, done.output
    again = runner.invoke(main, ["report", str(result), "--out", str(tmp / "again.html")])
    assert again.exit_code == 0, again.output
    compared = runner.invoke(main, ["compare", str(tmp / "a.toml"), str(tmp / "b.toml"), "--trials", str(TRIALS),
                                    "--report", str(tmp / "cmp.html")])
    assert compared.exit_code == 0, compared.output
    return {"run": result.with_suffix(".html").read_text(encoding="utf-8"),
            "report": (tmp / "again.html").read_text(encoding="utf-8"),
            "compare": (tmp / "cmp.html").read_text(encoding="utf-8"), "result": result}


@pytest.mark.parametrize("which", ["run", "report"])
def test_the_run_report_is_inert_and_shows_the_text(pages, which):
    name = "A " + HOSTILE + " " + BAD_MATH
    assert_inert(pages[which], [name, "Why: " + HOSTILE, "EUR " + HOSTILE, FILE_NAME], f"Risk report: {name}")


def test_the_comparison_report_is_inert_and_shows_the_text(pages):
    a, b = "A " + HOSTILE + " " + BAD_MATH, "B " + HOSTILE
    assert_inert(pages["compare"], [a, b, "Why: " + HOSTILE, "EUR " + HOSTILE], f"Comparison: {a} against {b}")


def test_the_escaped_payload_is_in_the_page(pages):
    """The escaping is html.escape with quotes: the payload appears exactly so, not dropped or mangled."""
    for which in ("run", "report", "compare"):
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &quot;onload=&quot;x &lt;/title&gt; &amp;amp; $\\alpha$" \
            in pages[which]


def test_the_notebook_view_is_inert_too(pages):
    """RunResult._repr_html_ (Jupyter) shows the name through the same escaping."""
    shown = api.open(pages["result"])._repr_html_()
    assert "<script" not in shown and '"onload="x' not in shown
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown


def test_chart_text_is_never_mathtext():
    """Names and currencies reach the charts' titles, legends and labels as literal text."""
    import numpy as np
    from matplotlib.text import Text

    from simengine import charts

    npv = np.random.default_rng(3).normal(1e5, 2e5, TRIALS)
    fig = charts.compare_s_curves(npv, npv + 5e4, (BAD_MATH, r"$\alpha$"), BAD_MATH)
    assert charts.png_bytes(fig).startswith(b"\x89PNG")  # mathtext would raise on BAD_MATH
    texts = [t for t in fig.findobj(Text) if t.get_text()]
    assert any(BAD_MATH in t.get_text() for t in texts)
    assert all(not t.get_parse_math() and not t.get_usetex() for t in texts)


@pytest.mark.parametrize("which", ["run", "report"])
def test_the_budget_and_date_section_shows_the_currency_as_text(pages, which):
    """The budget and date section (first on the page) names the currency in its headline,
    table headers and captions: verbatim, as text."""
    currency = "EUR " + HOSTILE + " " + BAD_MATH
    text = "".join(Page(pages[which]).text)
    assert text.index("Budget and date") < text.index("Net present value")
    for shown in (f"cost ({currency})", f"contingency over the base case ({currency}, % of base)",
                  f"budget B(D) for 70 % of both ({currency})", f"NPV ({currency})"):
        assert shown in text, shown
    assert re.search(r"one-time cost [\d,]+ " + re.escape(currency) + ", live by month", text)


def test_the_budget_charts_draw_the_currency_literally(pages):
    """The budget charts put the currency in an axis label and the contingency's label."""
    import numpy as np
    from matplotlib.text import Text

    from simengine import charts
    from simengine.output import read_head
    from simengine.result_file import accumulate_file

    block = accumulate_file(pages["result"])[2].summary()["budget_and_date"]
    data = read_head(pages["result"], ["one_time_cost", "go_live_month"], TRIALS)
    months, counts = np.unique(data["go_live_month"], return_counts=True)
    for fig, currency_shown in (
            (charts.budget_s_curve(data["one_time_cost"], block["costs"]["one_time_cost"], BAD_MATH), True),
            (charts.joint_chart(data["one_time_cost"], data["go_live_month"], block, BAD_MATH,
                                r"the first $\alpha$ trials"), True),
            (charts.go_live_histogram(dict(zip(months.astype(int).tolist(), counts.tolist())), block["go_live"]),
             False)):
        assert charts.png_bytes(fig).startswith(b"\x89PNG")  # mathtext would raise on BAD_MATH
        texts = [t for t in fig.findobj(Text) if t.get_text()]
        assert all(not t.get_parse_math() and not t.get_usetex() for t in texts)
        assert any(BAD_MATH in t.get_text() for t in texts) == currency_shown


def test_a_share_of_zero_shows_its_bound_instead_of_failing(pages):
    """A and B differ only in name, so A never has the higher NPV: that 0 has no standard
    error, and the comparison shows its one-sided 95 % bound as "0 trials (below ...)"."""
    text = "".join(Page(pages["compare"]).text)
    assert "P(A has the higher NPV)0 trials (below " in text and "at 95 % confidence" in text
    assert not re.search(r"(?<![\d.])0\.0+ %", text)  # never "0.00 %"
