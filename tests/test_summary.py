"""Statistical checks of the summary: known answers within k standard errors (k stated), and
standard errors that match the real spread of estimates across independent seeds."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from simengine.kernels.cashflows import METRICS
from simengine.runner import run
from simengine.scenario import parse_scenario
from simengine.streams import BLOCK_SIZE
from simengine import metrics as registry
from simengine.summary import (SUMMARY_METRICS, binomial_tails, percentile_with_se,
                               whole_month_percentile_se)
from summary_reference import describe_metric, summarize_columns
from simengine.summary_stream import StreamingSummary
from support import scenario as make_scenario

# npv = 200 - cost with cost ~ U(100, 300): npv ~ U(-100, 100) exactly (r = 0, g = 1, H = 2).
KNOWN = {
    "name": "known answer", "discount_rate": 0.0, "horizon_months": 2,
    "schedule": {"planned_months": 1},
    "costs": {"c": {"timing": "upfront", "amount": {"dist": "uniform", "min": 100, "max": 300}}},
    "benefits": {"streams": {"b": {"amount": 2400, "scales_with_adoption": False}}},
    "decision": {"roi_min": 0.0},
}
HISTOGRAM_METRICS = registry.histogram_names()
TRUTH = {"mean": 0.0, "sd": 200 / math.sqrt(12), "p5": -90.0, "p10": -80.0, "p50": 0.0, "p90": 80.0, "p95": 90.0}
K = 4  # tolerance in standard errors for single known-answer checks


@pytest.fixture(scope="module")
def known():
    return parse_scenario(KNOWN)


def test_known_answers_within_k_standard_errors(known):
    s = run(known, trials=20_000, seed=8, out=None).summary
    npv = s["metrics"]["npv"]
    for key, truth in TRUTH.items():
        est = npv[key]
        assert abs(est["value"] - truth) <= K * est["se"], (key, est, truth)
    p = s["p_npv_negative"]
    assert abs(p["value"] - 0.5) <= K * p["se"]
    cv = s["cvar5_npv"]
    assert abs(cv["value"] - (-95.0)) <= K * cv["se"]
    # roi >= 0 exactly when npv >= 0
    assert abs(s["targets"]["roi_min"]["probability"]["value"] - 0.5) <= K * p["se"]


def test_standard_errors_match_the_spread_across_seeds(known):
    """z = (estimate - truth) / se over 60 seeds: sum z^2 must look chi-square(60)."""
    n_seeds = 60
    z = {key: [] for key in ("mean", "sd", "p10", "p90", "p_neg", "cvar")}
    for seed in range(n_seeds):
        s = run(known, trials=2000, seed=1000 + seed, out=None).summary
        npv = s["metrics"]["npv"]
        for key in ("mean", "sd", "p10", "p90"):
            z[key].append((npv[key]["value"] - TRUTH[key]) / npv[key]["se"])
        z["p_neg"].append((s["p_npv_negative"]["value"] - 0.5) / s["p_npv_negative"]["se"])
        z["cvar"].append((s["cvar5_npv"]["value"] + 95.0) / s["cvar5_npv"]["se"])
    lo, hi = stats.chi2.ppf([0.0005, 0.9995], n_seeds)
    for key, values in z.items():
        total = float(np.sum(np.square(values)))
        assert lo <= total <= hi, (key, total, (lo, hi))


def test_nulls_are_counted_and_payback_never_ranks_last():
    values = np.array([3.0, 5.0, np.nan, 7.0, np.nan] * 200)
    d = describe_metric(values, null_is_late=True)
    assert d["n"] == 600 and d["n_null"] == 400
    assert d["mean"]["value"] == pytest.approx(5.0)
    assert d["p90"]["value"] is None and d["p90"]["se"] is None     # 40 % never pay back
    assert d["p50"]["value"] == 7.0 and d["p10"]["value"] == 3.0
    d2 = describe_metric(values)
    assert d2["p50"]["value"] == 5.0 and d2["n_null"] == 400


def test_percentile_definition_and_se():
    x = np.arange(1.0, 101.0)
    value, se = percentile_with_se(x, 0.10)
    assert value == 10.0                                    # inverted CDF: x[ceil(n p) - 1]
    half = 1.959963984540054 * math.sqrt(100 * 0.1 * 0.9)
    lo, hi = math.floor(10 - half), math.ceil(10 + half)
    assert se == pytest.approx((hi - lo) / (2 * 1.959963984540054))


# --- the streaming summary against the in-memory definition ------------------------------


DECISION = make_scenario(decision={"payback_months_max": 20, "bcr_min": 1.1, "roi_min": 0.0}).decision


def synthetic_metrics(n: int, seed: int = 0) -> np.ndarray:
    """Metric rows with heavy tails, ties, nulls and payback months (some never)."""
    rng = np.random.default_rng(seed)
    m = np.full((len(METRICS), n), np.nan)
    m[METRICS.index("npv")] = rng.standard_t(3, n) * 1e5 + 2e4
    m[METRICS.index("roi")] = np.where(rng.random(n) < 0.01, np.nan, rng.lognormal(0, 1, n) - 1)
    m[METRICS.index("bcr")] = np.round(rng.gamma(4, 0.3, n), 2)  # many ties
    m[METRICS.index("irr")] = np.where(rng.random(n) < 0.05, np.nan, rng.normal(0.2, 0.1, n))
    m[METRICS.index("payback_months")] = np.where(rng.random(n) < 0.15, np.nan, rng.integers(6, 37, n))
    m[METRICS.index("one_time_cost")] = 5e5 + np.round(rng.gamma(2, 1e5, n), -3)  # ties too
    m[METRICS.index("total_cost")] = m[METRICS.index("one_time_cost")] + rng.gamma(3, 2e5, n)
    m[METRICS.index("go_live_month")] = rng.integers(6, 30, n)
    m[METRICS.index("payback_after_go_live_months")] = m[METRICS.index("payback_months")] - m[METRICS.index("go_live_month")]
    return m


def stream(m: np.ndarray, chunk: int, pilot: int) -> StreamingSummary:
    acc = StreamingSummary(DECISION, pilot=pilot)
    for s in range(0, m.shape[1], chunk):
        acc.add(m[:, s:s + chunk])
    acc.finish()
    return acc


def assert_summaries_match(got: dict, want: dict) -> None:
    """Percentiles, CVaR tail points, counts exactly; moments to rounding."""
    assert got["trials"] == want["trials"]
    for name, metric in want["metrics"].items():
        for key, value in metric.items():
            g = got["metrics"][name][key]
            if key in ("n", "n_null", "coverage") or (key.startswith("p") and name not in HISTOGRAM_METRICS):
                assert g == value, (name, key, g, value)
            elif key.startswith("p"):  # whole months: the value exactly, the SE from scipy's binomial
                assert g["value"] == value["value"], (name, key, g, value)
                assert (g["se"] is None) == (value["se"] is None), (name, key, g, value)
                if value["se"] is not None:
                    assert g["se"] == pytest.approx(value["se"], rel=1e-8, abs=1e-12), (name, key, g, value)
            else:
                for part in ("value", "se"):
                    assert g[part] == pytest.approx(value[part], rel=1e-9), (name, key, part)
    assert got["p_npv_negative"] == want["p_npv_negative"]
    assert got["targets"] == want["targets"]
    for part in ("value", "se"):
        assert got["cvar5_npv"][part] == pytest.approx(want["cvar5_npv"][part], rel=1e-9)


@pytest.mark.parametrize("n", [1000, 6 * BLOCK_SIZE + 12345])
def test_streaming_summary_equals_in_memory_summary(n):
    m = synthetic_metrics(n)
    acc = stream(m, chunk=50_000, pilot=2 * BLOCK_SIZE)
    assert acc.incomplete() == []
    want = summarize_columns({k: m[METRICS.index(k)] for k in SUMMARY_METRICS},
                             DECISION)
    assert_summaries_match(acc.summary(), want)
    # and it keeps only a small share of the continuous values after the pilot
    kept = acc.metrics["npv"].bands.kept()
    if n > 2 * BLOCK_SIZE:
        assert kept < 0.2 * n


def test_streaming_summary_does_not_depend_on_chunk_size():
    m = synthetic_metrics(3 * BLOCK_SIZE + 777, seed=4)
    a = stream(m, chunk=BLOCK_SIZE * 3, pilot=BLOCK_SIZE).summary()
    b = stream(m, chunk=777, pilot=BLOCK_SIZE).summary()
    assert a == b


def test_a_percentile_outside_its_band_is_detected_and_rebuilt_exactly():
    m = synthetic_metrics(4 * BLOCK_SIZE, seed=2)
    # A pilot that is unrepresentative: the stream's later blocks are shifted far up.
    m[METRICS.index("npv"), BLOCK_SIZE:] += 5e6
    acc = stream(m, chunk=BLOCK_SIZE, pilot=BLOCK_SIZE)
    assert "npv" in acc.incomplete()
    acc.metrics["npv"].rebuild(m[METRICS.index("npv")])
    assert acc.incomplete() == []
    want = summarize_columns({k: m[METRICS.index(k)] for k in SUMMARY_METRICS},
                             DECISION)
    assert_summaries_match(acc.summary(), want)


def test_run_falls_back_to_a_second_pass_and_stays_exact(tmp_path, monkeypatch, bundled):
    """A run whose pilot bands miss re-simulates and still reports the exact order statistics."""
    import pyarrow.parquet as pq

    from simengine import runner, summary_stream

    monkeypatch.setattr(summary_stream, "BAND_SIGMAS", 0.0)  # bands of a couple of ranks: they miss
    from simengine.base_case import base_case

    monkeypatch.setattr(StreamingSummary, "for_scenario",
                        classmethod(lambda cls, sc: cls(sc.decision, pilot=BLOCK_SIZE, base=base_case(sc))))
    passes = []
    real_second_pass = runner.second_pass
    monkeypatch.setattr(runner, "second_pass", lambda acc, *a: (passes.append(acc.incomplete()), real_second_pass(acc, *a)))
    sc = bundled["crm_upgrade_big_bang"]
    out = tmp_path / "r.parquet"
    report = runner.run(sc, trials=3 * BLOCK_SIZE + 100, seed=5, out=out, columns="metrics")
    assert passes and passes[0]  # some metric needed the second pass
    table = pq.read_table(out)
    columns = {m: table.column(m).to_numpy(zero_copy_only=False).astype(float)
               for m in SUMMARY_METRICS}
    want = summarize_columns(columns, sc.decision)
    got = {k: report.summary[k] for k in want}
    assert_summaries_match(got, want)
    base = base_case(sc)["one_time_cost"]  # the anchor's exact count survives the second pass
    assert report.summary["budget_and_date"]["costs"]["one_time_cost"]["p_base_enough"]["value"] == \
        np.count_nonzero(columns["one_time_cost"] <= base) / columns["npv"].size


# --- honest numbers (issue 12) -------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 20, 20_000])
def test_zero_of_n_gets_the_exact_95_percent_upper_bound_not_a_zero_standard_error(n):
    from simengine.summary import probability

    none = probability(0, n)
    assert none["value"] == 0.0 and none["se"] is None
    assert (1.0 - none["upper95"]) ** n == pytest.approx(0.05, rel=1e-12)  # P(0 hits | p = bound) = 5 %
    every = probability(n, n)
    assert every["value"] == 1.0 and every["se"] is None
    assert every["lower95"] ** n == pytest.approx(0.05, rel=1e-12)
    if n == 20_000:
        assert none["upper95"] == pytest.approx(3 / n, rel=0.01)  # the rule of three
    assert "upper95" not in probability(1, n) or n == 1


def test_zero_of_n_prints_its_bound():
    from simengine.summary import probability
    from simengine.textout import fmt_probability

    assert fmt_probability(probability(0, 20_000)) == "0 trials (below 0.015% at 95% confidence)"
    assert fmt_probability(probability(20_000, 20_000)) == "every trial (above 99.985% at 95% confidence)"
    assert fmt_probability(probability(1, 20_000)) == "0.005% (±0.005%)"


def test_one_trial_has_no_standard_errors(tmp_path):
    from click.testing import CliRunner
    from simengine.cli import main

    res = CliRunner().invoke(main, ["run", "crm_upgrade_big_bang", "-n", "1", "--summary-only", "--json"])
    data = json.loads(res.stdout)
    for name, block in data["metrics"].items():
        for key, est in block.items():
            if isinstance(est, dict) and "se" in est:
                assert est["se"] is None, (name, key)
    assert data["cvar5_npv"]["se"] is None
    assert all(t["probability"]["se"] is None for t in data["targets"].values())
    text = CliRunner().invoke(main, ["run", "crm_upgrade_big_bang", "-n", "1", "--summary-only"]).stdout
    assert "±" not in text and "1 trial," in text


def test_statistics_over_only_some_trials_say_which_share(bundled):
    """Payback's mean and sd cover the trials that pay back; its percentiles every trial."""
    from simengine.runner import run
    from simengine.textout import summary_table

    summary = run(bundled["crm_upgrade_big_bang"], trials=4000, seed=3, out=None).summary
    payback, npv, irr = (summary["metrics"][m] for m in ("payback_months", "npv", "irr"))
    assert payback["n_null"] > 0
    assert payback["coverage"] == {"mean_sd": payback["n"] / 4000, "percentiles": 1.0}
    assert npv["coverage"] == {"mean_sd": 1.0, "percentiles": 1.0}
    assert irr["coverage"]["mean_sd"] == irr["coverage"]["percentiles"] == irr["n"] / 4000
    text = summary_table(summary)
    assert "Payback (months)*" in text and "NPV (EUR)*" not in text
    share = f"{payback['n'] / 4000 * 100:.1f}%"
    assert f"mean and sd over the other {share}, percentiles over all" in text


def test_a_long_currency_keeps_the_budget_columns_aligned(bundled):
    """Every row of the budget block puts its P50 column under the header's: a currency named at
    length widens the label column instead of pushing its rows out of line."""
    import dataclasses

    from simengine.runner import run
    from simengine.textout import budget_lines

    scenario = dataclasses.replace(bundled["crm_upgrade_big_bang"], currency="Swiss francs (CHF), thousands")
    summary = run(scenario, trials=500, seed=3, out=None).summary
    lines = budget_lines(summary["budget_and_date"], scenario.currency)
    head = lines[1]
    end = head.index("P50") + len("P50")  # right-aligned: each value column ends where its header does
    for label in ("One-time cost (Swiss francs (CHF), thousands)", "Total cost (Swiss francs (CHF), thousands)"):
        row, se_row = next((lines[i], lines[i + 1]) for i, line in enumerate(lines) if line.startswith(label))
        p50 = summary["budget_and_date"]["costs"]["one_time_cost" if label.startswith("One") else "total_cost"]["p50"]
        assert row[:end].endswith(f"{p50['value']:,.0f}"), row
        assert se_row[:end].rstrip().endswith(f"±{p50['se']:,.0f}"), se_row


# --- percentiles of whole months ------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 7, 400, 65_536, 10**6, 10**8])
def test_binomial_tails_are_scipys_to_1e_10_of_each_tail(n):
    """Both tails, also far out (1e-200) and at n = 10^8, where a factorial's rounding would
    leave seven digits: each within 1e-10 of scipy's, relative to itself."""
    for q in (1e-9, 1e-4, 0.05, 0.5, 0.8, 1 - 1e-7):
        sd = math.sqrt(n * q * (1 - q))
        for r in {0, 1, 2, round(n * q), round(n * q) + 1, round(n * q + 3 * sd), round(n * q - 5 * sd),
                  round(n * q + 30 * sd), n, n + 1}:
            below, above = binomial_tails(r, n, q)
            for got, want in ((below, stats.binom.cdf(r - 1, n, q)), (above, stats.binom.sf(r - 1, n, q))):
                if want > 1e-300:
                    assert got == pytest.approx(want, rel=1e-10), (n, q, r)
                else:
                    assert got < 1e-300, (n, q, r)


def test_a_whole_month_percentiles_se_is_the_sd_of_its_bootstrap_distribution():
    """Against the definition computed with scipy (summary_reference.whole_month_se), with
    "never" ranked last; null when more than 2.5 % of that distribution is "never"."""
    from summary_reference import whole_month_se

    rng = np.random.default_rng(7)
    for n in (2, 30, 1000, 20_000):
        months = rng.integers(10, 16, n).astype(float)
        months[rng.random(n) < 0.12] = np.inf  # never
        counts = {int(m): int(c) for m, c in zip(*np.unique(months[np.isfinite(months)], return_counts=True))}
        ranked = np.sort(months)
        for p in (0.05, 0.5, 0.8, 0.87, 0.88, 0.9):
            want = whole_month_se(ranked, p)
            got = whole_month_percentile_se(counts, n, p)
            assert (got is None) == (want is None), (n, p, got, want)
            if want is not None:
                assert got == pytest.approx(want, rel=1e-8, abs=1e-12), (n, p)


def test_a_whole_month_percentiles_se_against_its_spread_across_seeds():
    """An integer metric sampled 400 times (500 trials each): the standard deviation of the 400
    sample P80s against the root mean square of the reported SEs. Where the P80 sits on a month's
    step (F(17) = 0.8 exactly), the sample P80 is 17 or 18 about equally often (spread 0.5); the
    bootstrap SE, which sees F only through the sample, averages about 0.41 there (theory: a ratio
    of sqrt(0.25 / (1/6)) = 1.22, docs/model.md); 400 samples pin the ratio to about 3.5 %, so the
    test takes 1.05 to 1.40. The old order-statistic half-width gave 0.26 there (a ratio of 2).
    Away from a step (F(17) = 0.84) the SE is larger than the spread: on the safe side."""
    rng = np.random.default_rng(20_261_201)
    support = np.arange(12, 24)
    shape = np.array([5, 10, 15, 15, 15, 10, 10, 5, 5, 4, 3, 3], float)

    def ratio(f17: float) -> float:
        pmf = np.concatenate((shape[:6] * f17 / shape[:6].sum(), shape[6:] * (1 - f17) / shape[6:].sum()))
        values, ses = [], []
        for _ in range(400):
            sample = rng.choice(support, 500, p=pmf)
            counts = {int(m): int(c) for m, c in zip(*np.unique(sample, return_counts=True))}
            values.append(np.sort(sample)[math.ceil(500 * 0.8) - 1])
            ses.append(whole_month_percentile_se(counts, 500, 0.8))
        return float(np.std(values, ddof=1) / math.sqrt(np.mean(np.square(ses))))

    assert 1.05 <= ratio(0.80) <= 1.40
    assert ratio(0.84) <= 1.0
