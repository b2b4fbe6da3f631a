"""Extreme but valid inputs: each runs correctly or is refused with one line, exit 2, nothing written.

The cases come from an independent check of the engine at the edges of its inputs (issue 12):
a discount rate that overflows the discount factor, amounts whose squares overflow, a delay
that overflows the go-live month, draws of a distribution beyond the supported range (down
to the most extreme uniform the sampler produces), control characters that would reach the
terminal, and the Bass curve's precision.
"""

from __future__ import annotations

import copy
import json
import math
from decimal import Decimal, localcontext
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from scipy import special

from reference_model import _phase_adoption
from simengine.cli import main
from simengine.correlation import cholesky_factor, correlation_matrix
from simengine.designs import lhs_block, sobol_points
from simengine.distributions import U_MAX, U_MIN, Z_MAX, extreme_draws
from simengine.errors import ScenarioError
from simengine.kernels.cashflows import BASS, adoption_into
from simengine.kernels.copula import mix_rows
from simengine.scenario import MAX_AMOUNT, MAX_MONTHS, parse_scenario, z_limits
from simengine.streams import centre_52_python, uniforms

SCENARIO = """
name = "edge"
horizon_months = {horizon}
discount_rate = {rate}
[schedule]
planned_months = 6
delay_months = {delay}
[costs.build]
timing = "implementation"
amount = {cost}
[benefits.streams.gain]
amount = {benefit}
"""
NORMAL = dict(horizon=60, rate=0.08, delay=0, cost=100000, benefit=80000)


def run_cli(tmp_path: Path, **fields):
    """`simengine run` of the scenario above with `fields` changed: (result, output folder)."""
    text = SCENARIO.format(**{**NORMAL, **fields})
    scen = tmp_path / "s.toml"
    scen.write_text(text)
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["run", str(scen), "-n", "64", "--seed", "3", "--out", str(out / "r.parquet"),
                                    "--json", "-q"])
    return res, out


def assert_refused(res, out: Path, message: str) -> None:
    """Exit 2, one line on stderr that starts with `message`, no traceback, nothing written."""
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("Error: " + message), lines[0]
    assert "Traceback" not in res.output
    assert not out.exists()


# --- the sampler's extreme uniforms ---------------------------------------------------------------------

def test_the_extreme_uniforms_are_what_every_design_can_produce():
    """The supported-range check evaluates the inverse CDF at U_MIN and U_MAX: they must be the
    smallest and largest uniforms the streams (52 bits, centred) and the designs can give."""
    raw = np.array([0.0, (2.0 ** 53 - 1.0) / 2.0 ** 53])  # Generator.random's smallest and largest doubles
    centre_52_python(raw)
    assert raw[0] == U_MIN == 2.0 ** -53 and raw[1] == U_MAX == 1.0 - 2.0 ** -53
    assert 0.0 < U_MIN and U_MAX < 1.0
    assert Z_MAX == float(special.ndtri(U_MAX)) == -float(special.ndtri(U_MIN))
    u = uniforms(5, "x", 0, 4096)
    lhs = np.empty(4096)
    lhs_block(5, "x", 0, 0, 4096, lhs)
    for values in (u, lhs, sobol_points(5, 3, 0, 4096)):
        assert values.min() >= U_MIN and values.max() <= U_MAX


# --- the three crashes and the silent overflow ----------------------------------------------------------

def test_a_discount_rate_that_overflows_the_discount_factor_is_refused(tmp_path):
    """(1 + r)^(-t/12) overflows at t = 1199 below about -99.92 % a year: NPV inf or NaN, written
    into a non-nullable column (ArrowInvalid) before the supported range existed."""
    res, out = run_cli(tmp_path, horizon=1200, rate=-0.9995)
    assert_refused(res, out, "discount_rate: must be between -0.5 and 1 (the supported range), got -0.9995")


def test_the_lowest_supported_discount_rate_runs_over_the_longest_horizon(tmp_path):
    res, out = run_cli(tmp_path, horizon=1200, rate=-0.5)
    assert res.exit_code == 0, res.output
    table = pq.read_table(out / "r.parquet", columns=["npv", "cost_pv", "benefit_pv"])
    for name in table.column_names:
        values = table.column(name).to_numpy()
        assert np.all(np.isfinite(values)) and np.all(np.abs(values) < 1e50), name
    summary = json.loads(res.stdout)
    assert math.isfinite(summary["cvar5_npv"]["value"])


def test_amounts_whose_squares_overflow_are_refused(tmp_path):
    """Amounts near 1e160 overflowed in the summary's CVaR; the limit is 1e15."""
    res, out = run_cli(tmp_path, cost='{ dist = "uniform", min = 1e159, max = 1e160 }', benefit=2e160)
    assert_refused(res, out, "costs.build.amount: uniform support [1e+159, 1e+160] leaves the supported range: "
                             "must be at most 1e+15")
    res, out = run_cli(tmp_path, benefit=2e160)
    assert_refused(res, out, "benefits.streams.gain.amount: must be at most 1e+15 (the supported range), got 2e+160")


def test_the_largest_supported_amounts_run_and_summarize(tmp_path):
    res, out = run_cli(tmp_path, cost=f'{{ dist = "uniform", min = 1e14, max = {MAX_AMOUNT!r} }}',
                       benefit=MAX_AMOUNT, horizon=1200, rate=-0.5)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    for block in summary["metrics"].values():
        for stat in ("mean", "sd", "p5", "p95"):
            value = block[stat]["value"]
            assert value is None or math.isfinite(value)
    assert math.isfinite(summary["cvar5_npv"]["value"]) and math.isfinite(summary["cvar5_npv"]["se"])


def test_a_delay_that_overflows_the_go_live_month_is_refused(tmp_path):
    """delay_months = 1e19 stored go_live_month = -9223372036854775808 (float -> int64) silently."""
    res, out = run_cli(tmp_path, delay=1e19)
    assert_refused(res, out, "schedule.delay_months: must be between -1000000 and 1000000 (the supported range), "
                             "got 1e+19")


def test_the_longest_supported_delay_gives_an_exact_go_live_month(tmp_path):
    res, out = run_cli(tmp_path, delay=MAX_MONTHS)
    assert res.exit_code == 0, res.output
    go_live = pq.read_table(out / "r.parquet", columns=["go_live_month"]).column(0).to_numpy()
    assert np.all(go_live == 6 + 1_000_000)
    summary = json.loads(res.stdout)
    assert summary["metrics"]["npv"]["mean"]["value"] < 0  # never goes live: only costs


# --- every value the sampler can draw ---------------------------------------------------------------------

BASE = {"name": "edge", "discount_rate": 0.08, "horizon_months": 24, "schedule": {"planned_months": 6},
        "costs": {"build": {"timing": "implementation", "amount": 1000.0}},
        "benefits": {"streams": {"gain": {"amount": 2000.0}}}}


def parse_with(mutate):
    data = copy.deepcopy(BASE)
    mutate(data)
    return parse_scenario(data)


def error_of(mutate) -> str:
    with pytest.raises(ScenarioError) as exc:
        parse_with(mutate)
    text = str(exc.value)
    assert "\n" not in text
    return text


def lognormal_amount(mu: float) -> dict:
    return {"dist": "lognormal", "mu": mu, "sigma": 1.0}


def set_amount(dist):
    return lambda d: d["costs"]["build"].update(amount=dist)


def test_an_unbounded_distribution_is_checked_at_its_most_extreme_draw():
    """A lognormal amount reaches exp(mu + sigma Z_MAX) at u = 1 - 2^-53: refused just above
    1e15, accepted just below, although both supports are unbounded."""
    top = math.log(MAX_AMOUNT) - Z_MAX  # sigma = 1
    inside, outside = lognormal_amount(top - 1e-9), lognormal_amount(top + 1e-9)
    sc = parse_with(set_amount(inside))
    low, high = extreme_draws(sc.costs[0].amount)
    assert high <= MAX_AMOUNT < high * (1 + 2e-9)
    assert high == sc.costs[0].amount.ppf(np.array([U_MAX]))[0]  # the sampler's own value
    assert low == sc.costs[0].amount.ppf(np.array([U_MIN]))[0] > 0
    text = error_of(set_amount(outside))
    assert text.startswith("costs.build.amount: lognormal draws reach 1e+15 (at u = 1 - 2^-53, the most extreme "
                           "uniform the sampler draws), but must be at most 1e+15 (the supported range)"), text


def test_the_low_end_of_an_unbounded_distribution_is_checked_too():
    sd = MAX_MONTHS / Z_MAX
    parse_with(lambda d: d["schedule"].update(delay_months={"dist": "normal", "mean": 0, "sd": sd * (1 - 1e-9)}))
    text = error_of(lambda d: d["schedule"].update(delay_months={"dist": "normal", "mean": 0, "sd": sd * (1 + 1e-9)}))
    assert text.startswith("schedule.delay_months: normal draws reach -1e+06 (at u = 2^-53"), text


def test_a_bounded_distribution_is_checked_by_its_bounds():
    parse_with(set_amount({"dist": "pert", "min": 0, "mode": 1e14, "max": MAX_AMOUNT}))
    assert error_of(set_amount({"dist": "triangular", "min": 0, "mode": 1, "max": 2e15})) == \
        "costs.build.amount: triangular support [0, 2e+15] leaves the supported range: must be at most 1e+15"
    assert error_of(lambda d: d.update(discount_rate={"dist": "uniform", "min": -0.6, "max": 0.1})) == \
        "discount_rate: uniform support [-0.6, 0.1] leaves the supported range: must be between -0.5 and 1"


def test_fields_without_a_range_still_need_finite_draws():
    """exp(705 + 8.21) overflows: a draw of inf is refused on any field."""
    text = error_of(lambda d: d.update(risks={"maintenance_load": {"dist": "lognormal", "mu": 705, "sigma": 1}}))
    assert text.startswith("risks.maintenance_load: lognormal draws reach inf"), text
    assert "must be a finite number" in text


def correlated(delay: dict, overrun: dict, spearman: float = 0.6) -> dict:
    data = copy.deepcopy(BASE)
    data["schedule"]["delay_months"] = delay
    data["risks"] = {"cost_overrun": overrun}
    data["correlations"] = [{"drivers": ["schedule.delay_months", "risks.cost_overrun"], "spearman": spearman}]
    return data


def test_a_correlated_driver_is_checked_at_the_largest_score_the_copula_can_give():
    """The copula mixes scores within +-Z_MAX into sum_m L_jm z_m: up to Z_MAX sum_m |L_jm|. A
    normal that is safe uncorrelated can leave its range once correlated, and is refused then."""
    uniform = {"dist": "uniform", "min": 0, "max": 1}
    # schedule.delay_months comes first in driver order: its factor row is (1, 0), so its
    # scores stay within +-Z_MAX, as uncorrelated ones do (0.9e6 months at most here).
    sc = parse_scenario(correlated({"dist": "normal", "mean": 0, "sd": 0.9 * MAX_MONTHS / Z_MAX}, uniform))
    limits = z_limits(sc)
    assert limits["schedule.delay_months"] == Z_MAX
    names, rho = correlation_matrix(sc)
    factor = np.ascontiguousarray(cholesky_factor(rho))
    row = factor[names.index("risks.cost_overrun")]
    assert np.count_nonzero(row) == 2
    assert Z_MAX * np.abs(row).sum() <= limits["risks.cost_overrun"] <= Z_MAX * np.abs(row).sum() * (1 + 1e-14)
    # The bound is reached: both scores at their extremes, with the signs of the factor row.
    scores = np.array([[np.sign(row[0]) * Z_MAX], [np.sign(row[1]) * Z_MAX]])
    mix_rows(scores, np.array([0, 1], dtype=np.int64), factor)
    assert abs(scores[1, 0]) == pytest.approx(limits["risks.cost_overrun"], rel=1e-14)

    # The second driver's scores reach Z_MAX (0.618 + 0.786): a normal overrun whose
    # uncorrelated draws stay below 900 reaches about 1,260 once correlated.
    overrun = {"dist": "normal", "mean": 0, "sd": 900 / Z_MAX}
    data = correlated(uniform, overrun)
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(data)
    text = str(exc.value)
    assert text.startswith("risks.cost_overrun: normal draws reach 126"), text
    assert "(at the normal score 11.5" in text and "the most extreme one its correlations can give" in text
    assert "must be at most 1000 (the supported range)" in text
    data["correlations"] = []
    parse_scenario(data)


# --- control characters ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("mutate,message", [
    (lambda d: d.update(name="CRM \x1b[31mupgrade"), "name: contains the control character U+001B (ESC)"),
    (lambda d: d.update(description="ok\x9b2J"), "description: contains the control character U+009B (CSI)"),
    (lambda d: d.update(description="one\rtwo"), "description: contains the control character U+000D (CR)"),
    (lambda d: d.update(description="tab\there\x00"), "description: contains the control character U+0000 (NUL)"),
    (lambda d: d.update(currency="EUR\x7f"), "currency: contains the control character U+007F (DEL)"),
    (lambda d: d.update(currency="EUR\n"), "currency: contains the control character U+000A (LF)"),
    (lambda d: d.update(name="a\nb"), "name: contains the control character U+000A (LF)"),
    (lambda d: d["costs"]["build"].update(description="\x07"),
     "costs.build.description: contains the control character U+0007 (BEL)"),
    (lambda d: d["benefits"]["streams"]["gain"].update(description="x\x85y"),
     "benefits.streams.gain.description: contains the control character U+0085 (NEL)"),
    (lambda d: d["costs"].update({"ev\x1bil": {"timing": "upfront", "amount": 1}}),
     "costs.'ev\\x1bil': contains the control character U+001B (ESC)"),
    (lambda d: d.update(events={"x\x1b": {"probability": 0.5}}),
     "events.'x\\x1b': contains the control character U+001B (ESC)"),
    (lambda d: d["benefits"]["streams"].update({"g\x9d": {"amount": 1}}),
     "benefits.streams.'g\\x9d': contains the control character U+009D (OSC)"),
    (lambda d: d.update({"na\x1bme": "x"}), "'na\\x1bme': unknown key"),
    (lambda d: d["schedule"].update({"de\x1blay": 1}), "schedule.'de\\x1blay': unknown key"),
    (lambda d: d["costs"]["build"].update(amount={"dist": "pert", "min": 1, "mode": 2, "max": 3, "\x1b": 1}),
     "costs.build.amount.'\\x1b': unknown parameter for pert"),
])
def test_control_characters_are_refused_and_never_printed(mutate, message):
    text = error_of(mutate)
    assert text.startswith(message), text
    assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in text), repr(text)


def test_free_text_may_span_lines():
    sc = parse_with(lambda d: d.update(description="first line\r\nsecond\tline\nthird"))
    assert sc.description.splitlines()[0] == "first line"
    parse_with(lambda d: d["costs"]["build"].update(description="a\nb"))


def test_an_escape_in_the_name_does_not_reach_the_terminal(tmp_path):
    scen = tmp_path / "s.toml"
    scen.write_text(SCENARIO.format(**NORMAL).replace('name = "edge"', 'name = "edge\\u001b]0;owned\\u0007"'))
    for args in (["run", str(scen), "-n", "10", "--out", str(tmp_path / "o" / "r.parquet")], ["validate", str(scen)]):
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 2, res.output
        assert res.stderr == "Error: name: contains the control character U+001B (ESC)\n"
        assert "\x1b" not in res.output
    assert not (tmp_path / "o").exists()


def test_a_raw_control_character_in_the_file_is_a_toml_error_printed_escaped(tmp_path):
    scen = tmp_path / "s.toml"
    scen.write_bytes(SCENARIO.format(**NORMAL).replace('name = "edge"', 'name = "ed\x1bge"').encode())
    res = CliRunner().invoke(main, ["validate", str(scen)])
    assert res.exit_code == 2
    assert "invalid TOML" in res.stderr and "\x1b" not in res.output


# --- the Bass curve keeps full precision ----------------------------------------------------------------------

BASS_CASES = [(1e-8, 0.0), (1e-10, 0.0), (1e-10, 100.0), (1e-6, 2.0), (1e-3, 1e-6), (0.03, 0.38),
              (0.5, 0.0), (10.0, 30.0), (100.0, 100.0)]
#: Months compared: every month of the first 40, then every 37th, to month 1,200.
BASS_MONTHS = list(range(1, 41)) + list(range(41, 1201, 37))


def exact_bass(p: float, q: float) -> np.ndarray:
    """a(x) for x in BASS_MONTHS with 50-digit decimal arithmetic (p and q taken exactly)."""
    with localcontext() as ctx:
        ctx.prec = 50
        P, Q = Decimal(p), Decimal(q)
        out = []
        for x in BASS_MONTHS:
            e = (-(P + Q) * x / 12).exp()
            out.append(float((1 - e) / (1 + Q / P * e)))
    return np.array(out)


@pytest.mark.parametrize("p,q", BASS_CASES)
def test_bass_adoption_matches_high_precision_arithmetic(p, q):
    """The kernel and the reference model agree with 50-digit arithmetic to 1e-14 relative in every
    month up to 1,200. The old recurrence (1 - e with e *= step) lost 5e-8 at p = 1e-8, q = 0."""
    want = exact_bass(p, q)
    got = np.zeros(1200)
    adoption_into(got, 0.0, 0, 1.0, BASS, p, q, np.array([1.0]), np.array([0.0]), 1200)
    months = np.array(BASS_MONTHS) - 1
    np.testing.assert_allclose(got[months], want, rtol=1e-14, atol=0)
    reference = np.array([_phase_adoption(x - 1, 0, 1.0, "bass", p, q) for x in BASS_MONTHS])
    np.testing.assert_allclose(reference, want, rtol=1e-14, atol=0)


def test_bass_adoption_with_several_phases_adds_shifted_curves():
    shares, offsets = np.array([0.25, 0.75]), np.array([0.0, 5.0])
    got = np.zeros(300)
    adoption_into(got, 7.0, 0, 1.0, BASS, 1e-8, 0.0, shares, offsets, 300)
    want = np.zeros(300)
    for share, offset in zip(shares, offsets):
        want += share * np.array([_phase_adoption(t, 7 + int(offset), 1.0, "bass", 1e-8, 0.0) for t in range(300)])
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=0)
    assert np.all(got[:7] == 0.0)


def test_bass_distributions_are_checked_at_their_extremes():
    bass = {"curve": "bass", "bass_p": {"dist": "lognormal", "median": 0.03, "p90": 0.06}}
    parse_with(lambda d: d.update(adoption=bass))
    tiny = {"curve": "bass", "bass_p": {"dist": "lognormal", "mu": math.log(1e-6), "sigma": 2.0}}
    text = error_of(lambda d: d.update(adoption=tiny))
    assert text.startswith("adoption.bass_p: lognormal draws reach 7.4"), text
    assert "(at u = 2^-53," in text and "must be between 1e-10 and 100 (the supported range)" in text


def test_a_normal_score_that_rounds_to_a_uniform_of_one_stays_finite():
    """ndtr(z) is exactly 1.0 above z of about 8.29: a mixture's or metalog's quantile there was
    infinite. The copula path keeps the uniform at the sampler's own extreme instead."""
    from simengine.distributions import Distribution
    from simengine.scenario import parse_scenario

    sc = parse_scenario({"name": "rc", "discount_rate": 0.05, "schedule": {"planned_months": 6},
                         "risks": {"cost_overrun": {"reference_class": "crm"}},
                         "costs": {"a": {"timing": "upfront", "amount": 100.0}},
                         "benefits": {"streams": {"b": {"amount": 50.0}}}})
    dist = sc.fields()["risks.cost_overrun"]
    assert isinstance(dist, Distribution)
    spec = dist.spec
    for z in (8.3, 9.0, 40.0, -40.0):
        values = np.array([z])
        spec.apply(values, is_z=True)
        assert math.isfinite(values[0]), z
    top, bottom = np.array([40.0]), np.array([-40.0])
    spec.apply(top, is_z=True)
    spec.apply(bottom, is_z=True)
    assert top[0] == dist.ppf(np.array([U_MAX]))[0] and bottom[0] == dist.ppf(np.array([U_MIN]))[0]


def test_item_names_end_where_the_text_ends():
    from simengine.scenario import NAME_RE

    assert NAME_RE.match("integration") and NAME_RE.match("a-b_2")
    assert NAME_RE.match("abc\n") is None and NAME_RE.match("abc ") is None and NAME_RE.match("é") is None
