"""The portfolio report: a self-contained, escaped page with its four charts, written atomically,
refusing to overwrite without force; with or without a budget, with 1 to 30 members."""

from __future__ import annotations

import base64
import re

import pytest

from simengine.errors import OutputExistsError
from simengine.html_page import CSP, esc
from simengine.portfolio_file import loads_portfolio
from simengine.portfolio_report import beyond_limit, write_portfolio_report
from simengine.portfolio_run import run_portfolio

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
STEMS = ("portfolio-npv", "member-npv", "cvar-contributions", "spend-by-year")
TRIALS = 2_000

#: Two bundled scenarios linked by a shared driver and a correlation, with a budget, targets and
#: constraints; the name holds markup on purpose (it must show escaped).
TWO = """
name = "two <b>crm</b>"
seed = 11
[members.bigbang]
scenario = "crm_upgrade_big_bang"
[members.phased]
scenario = "crm_upgrade_phased"
start_month = 12
scale = 0.5
[shared.rates]
distribution = { dist = "pert", min = 0.9, mode = 1.0, max = 1.4 }
multiplies = ["*.labor"]
[[correlations]]
drivers = ["bigbang.adoption.ceiling", "phased.adoption.ceiling"]
spearman = 0.6
[budget]
per_year = [2500000, 1500000, 1500000]
total = 7000000
[decision]
npv_min = 0
payback_months_max = 48
cvar_min = -2000000
budget_exceedance_max = 0.2
"""

NO_BUDGET = """
name = "plain"
[members.crm]
scenario = "crm_upgrade_big_bang"
[members.data]
scenario = "data_platform"
start_month = 6
"""

SCENARIOS = ("crm_upgrade_big_bang", "crm_upgrade_phased", "data_platform", "erp_replacement", "crm_new_small_firm")


def many(n: int) -> str:
    return 'name = "many"\nseed = 3\n' + "".join(
        f'[members.member_{i:02d}]\nscenario = "{SCENARIOS[i % len(SCENARIOS)]}"\nstart_month = {(i * 3) % 36}\n'
        f"scale = {0.2 + 0.05 * i:g}\n" for i in range(n))


def run(text: str, trials: int = TRIALS):
    return run_portfolio(loads_portfolio(text), trials=trials, seed=5, out=None)


@pytest.fixture(scope="module")
def two():
    return run(TWO)


def images(html: str) -> list[str]:
    return re.findall(r"<img [^>]*>", html)


def assert_self_contained(html: str) -> None:
    """The CSP first in the head, no script, no URL, every image an embedded PNG."""
    head = html[:html.index("</head>")]
    assert head.index(f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">') < head.index("<title>")
    assert "<script" not in html.lower() and "<link" not in html and not re.search(r"https?://", html)
    tags = images(html)
    assert len(tags) == len(STEMS)
    for tag in tags:
        data = re.fullmatch(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="[^"]*">', tag)
        assert data, tag
        assert base64.b64decode(data.group(1))[:8] == PNG_SIGNATURE


def test_the_page_is_self_contained_escaped_and_complete(two, tmp_path):
    out = tmp_path / "report.html"
    written = write_portfolio_report(out, two.summary, two.samples, png_dir=tmp_path / "png")
    assert written == [out, *(tmp_path / "png" / f"{stem}.png" for stem in STEMS)]
    html = out.read_text(encoding="utf-8")
    assert_self_contained(html)
    for stem in STEMS:
        assert f'<figure id="{stem}">' in html
        assert (tmp_path / "png" / f"{stem}.png").read_bytes()[:8] == PNG_SIGNATURE
    assert "two &lt;b&gt;crm&lt;/b&gt;" in html and "<b>" not in html
    for title in ("Portfolio NPV", "Members", "Spend by year", "Targets and constraints", "How to read this"):
        assert f"<h2>{title}</h2>" in html
    assert "P(budget exceeded)" in html and "Diversification benefit" in html
    assert "trials above the limit" in html and "not met" in html
    assert "docs/model.md" in html and "docs/portfolios.md" in html
    assert " ± " in html and '<span class="se">± ' in html  # standard errors in text and in table cells
    for name in ("bigbang", "phased"):
        assert f'<td class="text">{name}</td>' in html
    assert not list(tmp_path.glob("**/*.partial"))  # atomic writes leave no temporary file


def test_refuses_to_overwrite_without_force(two, tmp_path):
    out = tmp_path / "report.html"
    write_portfolio_report(out, two.summary, two.samples)
    before = out.read_bytes()
    with pytest.raises(OutputExistsError):
        write_portfolio_report(out, two.summary, two.samples)
    assert out.read_bytes() == before
    # an existing PNG is refused too, before the page is written
    (tmp_path / "png").mkdir()
    (tmp_path / "png" / "spend-by-year.png").write_bytes(b"keep")
    fresh = tmp_path / "fresh.html"
    with pytest.raises(OutputExistsError):
        write_portfolio_report(fresh, two.summary, two.samples, png_dir=tmp_path / "png")
    assert not fresh.exists()
    assert write_portfolio_report(out, two.summary, two.samples, force=True) == [out]


def test_a_portfolio_without_budget_targets_or_constraints(tmp_path):
    result = run(NO_BUDGET)
    assert result.summary["budget"] is None and result.summary["p_budget_exceeded"] is None
    out = tmp_path / "plain.html"
    write_portfolio_report(out, result.summary, result.samples)
    html = out.read_text(encoding="utf-8")
    assert_self_contained(html)
    assert "No budget is set" in html and "trials above the limit" not in html
    assert "The budget is exceeded" not in html
    assert "sets no targets and no constraints" in html


def test_a_share_of_no_trial_shows_its_bound(tmp_path):
    result = run('name = "solo"\n[members.only]\nscenario = "deterministic_example"\n')
    out = tmp_path / "solo.html"
    write_portfolio_report(out, result.summary, result.samples)
    html = out.read_text(encoding="utf-8")
    assert_self_contained(html)
    assert "0 trials (below" in html and "0.00 %" not in html


def test_thirty_members_render(tmp_path):
    result = run(many(30))
    assert len(result.summary["members"]) == 30
    out = tmp_path / "many.html"
    written = write_portfolio_report(out, result.summary, result.samples, png_dir=tmp_path / "png")
    assert len(written) == 1 + len(STEMS)
    html = out.read_text(encoding="utf-8")
    assert_self_contained(html)
    assert "12 of 30 members are drawn" in html and "The 15 largest of 30 members" in html
    for i in range(30):
        assert f'<td class="text">member_{i:02d}</td>' in html


def test_trials_above_a_limit_are_the_exact_counts_of_the_run(tmp_path):
    from simengine.summary import probability

    assert beyond_limit(None) == "no limit"
    assert beyond_limit(probability(0, 2000)) == "0 trials (below 0.15 % at 95 % confidence)"
    assert beyond_limit(probability(500, 2000)).startswith("25")
