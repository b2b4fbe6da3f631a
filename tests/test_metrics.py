"""The metrics registry (simengine/metrics.py) against everything that must agree with it:
the kernel, result files, the summary, the CLI, text labels, the reference model and the docs."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from reference_model import reference_trial
from simengine import metrics as registry
from simengine.cli import main
from simengine.engine import Simulation
from simengine.kernels import cashflows as k
from simengine.model import ModelStructure
from simengine.scenario import DECISION_KEYS, Decision
from support import reference_specs

ROOT = Path(__file__).resolve().parent.parent
ARROW = {"float64": pa.float64(), "int32": pa.int32(), "int64": pa.int64()}


# --- the registry itself ----------------------------------------------------------------------

def test_registry_is_consistent():
    names = registry.names()
    assert len(set(names)) == len(names) == len(registry.METRICS)
    for i, m in enumerate(registry.METRICS):
        assert registry.metric(m.name) is m and registry.index(m.name) == i
        assert m.unit in registry.UNITS and m.dtype in registry.DTYPES and m.fmt in registry.FORMATS
        assert bool(m.null_means) == m.nullable
        assert "{currency}" in m.label if m.unit == "currency" else "{currency}" not in m.label
        assert m.fmt == "money" if m.unit == "currency" else m.fmt != "money"
        assert (not m.histogram) or (m.summarized and m.integer)
    assert registry.summarized_names() == tuple(m.name for m in registry.summarized())
    assert set(registry.continuous_names()) | set(registry.histogram_names()) == set(registry.summarized_names())
    with pytest.raises(KeyError, match="unknown metric 'nope'"):
        registry.metric("nope")
    with pytest.raises(KeyError, match="unknown metric"):
        registry.index("nope")


def test_an_inconsistent_entry_is_refused():
    with pytest.raises(ValueError, match="null_means"):
        registry.Metric("x", unit="ratio", dtype="float64", nullable=True, null_means="", label="X",
                        report_label="x", chart_label="x", short="x", fmt="ratio")
    with pytest.raises(ValueError, match="dtype"):
        registry.Metric("x", unit="ratio", dtype="float32", nullable=False, null_means="", label="X",
                        report_label="x", chart_label="x", short="x", fmt="ratio")
    with pytest.raises(ValueError, match="direction"):
        registry.TargetRule("x_max", "npv", "below", bound_text="<= {t:g}", report_text="x ≤ {t:g}")


def test_the_module_is_cheap_to_import():
    """No numpy, pyarrow or numba at import (the CLI imports it at start-up). Loaded on its
    own, without the package's __init__, which imports the engine."""
    code = ("import importlib.util, sys\n"
            f"spec = importlib.util.spec_from_file_location('m', {str(ROOT / 'simengine' / 'metrics.py')!r})\n"
            "mod = sys.modules['m'] = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)\n"
            "heavy = [m for m in ('numpy', 'pyarrow', 'numba', 'scipy', 'click') if m in sys.modules]\n"
            "print(len(mod.METRICS), heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split(" ", 1) == [str(len(registry.METRICS)), "[]\n"]


# --- decision targets -------------------------------------------------------------------------

def test_decision_fields_are_the_target_rules():
    # every target rule, then the one setting that is not a target (the joint confidence level)
    assert tuple(f.name for f in dataclasses.fields(Decision)) == tuple(registry.TARGETS) + ("joint_confidence",) \
        == DECISION_KEYS
    for key, rule in registry.TARGETS.items():
        assert rule.key == key and registry.is_metric(rule.metric)
        assert rule.direction == ("max" if key.endswith("_max") else "min")


def test_target_rules_compare_in_their_direction_and_nulls_never_meet():
    values = np.array([1.0, 2.0, 3.0, np.nan])
    assert registry.target_rule("payback_months_max").met(values, 2.0).tolist() == [True, True, False, False]
    assert registry.target_rule("bcr_min").met(values, 2.0).tolist() == [False, True, True, False]
    assert registry.target_rule("roi_min").met(values, 2.0).tolist() == [False, True, True, False]
    decision = Decision(payback_months_max=24, bcr_min=None, roi_min=0.0)
    assert [(r.key, t) for r, t in registry.decision_targets(decision)] == [("payback_months_max", 24),
                                                                          ("roi_min", 0.0)]


def test_target_texts():
    rules = registry.TARGETS
    assert [rules[k].label(t) for k, t in (("payback_months_max", 24), ("bcr_min", 2), ("roi_min", 0.0))] == \
        ["payback <= 24 months", "BCR >= 2", "ROI >= 0%"]
    assert [rules[k].report_label(t) for k, t in (("payback_months_max", 24), ("bcr_min", 2), ("roi_min", 0.15))] \
        == ["payback within 24 months", "benefit-cost ratio ≥ 2", "ROI ≥ 15 %"]
    assert [r.met_label for r in rules.values()] == ["payback target met", "BCR target met", "ROI target met",
                                                      "one-time cost target met", "total cost target met",
                                                      "go-live month target met", "payback after go-live target met"]
    assert rules["budget_max"].label(2_500_000) == "one-time cost <= 2,500,000"
    assert rules["go_live_month_max"].label(15) == "go-live month <= month 15"
    assert rules["payback_after_go_live_months_max"].report_label(12) == "payback within 12 months of going live"


# --- the kernel -------------------------------------------------------------------------------

def test_kernel_rows_are_the_registry(bundled):
    """The kernel's metrics matrix has one row per registry metric, in its order, and the
    kernel writes every row of it (two different fillings of the buffer give the same result)."""
    assert k.METRICS == registry.names()
    assert (k.NPV, k.PAYBACK, k.TOTAL_BENEFIT) == tuple(map(registry.index, ("npv", "payback_months",
                                                                             "total_benefit")))
    sc = bundled["crm_upgrade_big_bang"]
    structure = ModelStructure.of(sc)
    inputs = Simulation(sc).inputs(11, 0, 600)
    first = structure.run_kernel(inputs, np.full((len(registry.METRICS), 600), 123.5))
    second = structure.run_kernel(inputs, np.full((len(registry.METRICS), 600), -7.25))
    np.testing.assert_array_equal(first, second)
    for m in registry.METRICS:
        row = first[registry.index(m.name)]
        if not m.nullable:
            assert not np.isnan(row).any(), m.name
        if m.integer:
            defined = row[~np.isnan(row)]
            np.testing.assert_array_equal(defined, np.round(defined), err_msg=m.name)


def test_reference_model_returns_the_registry_metrics_in_order(bundled):
    sc = bundled["crm_upgrade_big_bang"]
    ref = reference_trial(reference_specs(sc, 1, 0, 1)[0])
    assert tuple(ref)[:len(registry.METRICS)] == registry.names()
    assert set(ref) - set(registry.names()) == {"costs_by_month", "benefits_by_month"}


# --- result files and the summary ---------------------------------------------------------------

@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("metrics") / "r.parquet"
    res = CliRunner().invoke(main, ["run", "crm_upgrade_big_bang", "-n", "3000", "--seed", "5", "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def test_parquet_schema_follows_the_registry(small_run):
    schema = pq.read_schema(small_run)
    metric_fields = [f for f in schema if registry.is_metric(f.name)]
    assert [f.name for f in metric_fields] == list(registry.names())
    assert schema.names[-len(registry.METRICS):] == list(registry.names())  # after trial and the drivers
    for f in metric_fields:
        m = registry.metric(f.name)
        assert f.type == ARROW[m.dtype], f.name
        assert f.nullable == m.nullable, f.name
    table = pq.read_table(small_run, columns=list(registry.names()))
    for m in registry.METRICS:
        if not m.nullable:
            assert table.column(m.name).null_count == 0, m.name
    assert table.column("payback_months").null_count > 0  # this scenario has trials that never pay back


def test_summary_keys_follow_the_registry(small_run):
    summary = json.loads(small_run.with_name("r.summary.json").read_text())
    assert tuple(summary["metrics"]) == registry.summarized_names()
    assert [k for k in summary["targets"] if k != "all"] == [k for k in registry.TARGETS if k in summary["targets"]]
    res = CliRunner().invoke(main, ["summarize", str(small_run), "--json"])
    assert res.exit_code == 0, res.output
    assert tuple(json.loads(res.stdout)["metrics"]) == registry.summarized_names()


def test_summary_table_rows_use_the_registry_labels(small_run):
    res = CliRunner().invoke(main, ["summarize", str(small_run)])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    lines = lines[next(i for i, line in enumerate(lines) if line.split()[:2] == ["mean", "P5"]):]  # the table
    # A row's label is the registry's, marked "*" when its statistics cover only some trials.
    rows = [next(i for i, line in enumerate(lines) if re.match(re.escape(m.text_label("EUR")) + r"\*?  ", line))
            for m in registry.summarized()]
    assert rows == sorted(rows) and np.all(np.diff(rows) == 2)  # one row each, its standard errors beneath


def test_a_percentile_without_standard_error_is_explained_under_the_table(small_run):
    """A payback percentile whose 95 % interval reaches "never" has no standard error (null in
    JSON, an empty cell in the table): a line under the table names the rows and says why."""
    from simengine.textout import metric_table

    summary = json.loads(small_run.with_name("r.summary.json").read_text())
    payback = summary["metrics"]["payback_months"]
    cells = [payback[f"p{p}"] for p in (5, 10, 50, 90, 95)]
    note = 'whose 95 % interval reaches "never": the interval has no finite width'
    bare = any(c["value"] is not None and c["se"] is None for c in cells)
    assert (note in metric_table(summary)) == bare
    payback["p50"]["se"] = None  # as when P50's interval reaches "never"
    for other in summary["metrics"].values():  # every other percentile has its standard error
        for p in (5, 10, 50, 90, 95):
            if other is not payback and other[f"p{p}"]["se"] is None:
                other[f"p{p}"]["se"] = 1.0
    text = metric_table(summary)
    assert f"No standard error is shown for a percentile of Payback (months) {note}" in text


def test_precision_estimates_are_the_summarized_means():
    from simengine.precision import ESTIMATES

    assert ESTIMATES == tuple(f"{m}_mean" for m in registry.summarized_names()) + ("p_npv_negative", "p_all_targets")


# --- the CLI ----------------------------------------------------------------------------------

def test_cli_sensitivity_offers_the_registry_choices():
    command = main.commands["sensitivity"]
    option = next(p for p in command.params if p.name == "metric")
    assert tuple(option.type.choices) == registry.sensitivity_names()
    assert option.default in registry.sensitivity_names()
    res = CliRunner().invoke(main, ["sensitivity", "--help"])
    assert res.exit_code == 0
    assert "|".join(registry.sensitivity_names()) in re.sub(r"\s+", "", res.output)


# --- the docs ---------------------------------------------------------------------------------

def markdown_section(path: Path, heading: str) -> str:
    text = path.read_text(encoding="utf-8")
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start:end if end >= 0 else None]


def test_model_md_metric_table_lists_the_registry():
    """docs/model.md's "Metrics, per trial" table names every metric once, and says "never"
    in its "null when" column exactly for the metrics that are not nullable."""
    section = markdown_section(ROOT / "docs" / "model.md", "## Metrics, per trial")
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    documented = {}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        for name in re.findall(r"`([a-z_]+)`", cells[0]):
            documented[name] = cells[-1] != "never"
    assert sorted(documented) == sorted(registry.names())
    assert documented == {m.name: m.nullable for m in registry.METRICS}


def test_docs_list_the_metrics_in_column_order():
    """The lists of result columns in the README and docs/scenario-format.md, and the
    summarized metrics in docs/model.md."""
    for path, start in ((ROOT / "README.md", "every metric:"),
                        (ROOT / "docs" / "scenario-format.md", "sit between `trial` and the metrics")):
        text = path.read_text(encoding="utf-8")
        chunk = text[text.index(start):]
        chunk = chunk[:chunk.index(")" if "sit between" in start else ".\n")]
        assert tuple(re.findall(r"`([a-z_]+)`", chunk.replace("`trial`", ""))) == registry.names(), path
    section = markdown_section(ROOT / "docs" / "model.md", "## Summary of a run")
    sentence = section[section.index("For `"):section.index("the summary gives")]
    assert tuple(re.findall(r"`([a-z_]+)`", sentence)) == registry.summarized_names()


def test_scenario_format_decision_table_matches_the_rules():
    section = markdown_section(ROOT / "docs" / "scenario-format.md", "## `[decision]`")
    documented = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 5 and cells[0].strip("`") in registry.TARGETS:
            key = cells[0].strip("`")
            metric, sign, bound = re.fullmatch(r"`(\w+) ([≤≥]) (\w+)`", cells[-1]).groups()
            assert bound == key
            documented.append((key, metric, "max" if sign == "≤" else "min"))
    assert documented == [(r.key, r.metric, r.direction) for r in registry.TARGETS.values()]


def test_shares_near_zero_or_one_keep_two_significant_digits():
    """1 of 2,000 trials is 0.050 %, not 0.1 %; one decimal elsewhere; never rounded onto 0 % or 100 %."""
    from simengine.textout import fmt_share

    assert [fmt_share(x) for x in (0.0, 1.0, 0.5, 0.0005, 0.9995, 0.001, 0.999, 0.0123, 1e-7)] == [
        "0.0%", "100.0%", "50.0%", "0.050%", "99.950%", "0.10%", "99.90%", "1.2%", "0.000010%"]


def test_counts_take_the_singular_for_one():
    from simengine.textout import counted, run_header

    assert [counted(1, "month"), counted(60, "month"), counted(2000, "trial")] == ["1 month", "60 months", "2,000 trials"]
    head = run_header({"scenario": "s", "trials": 1, "seed": 3, "sampling": "mc", "horizon_months": 1})
    assert head == "s: 1 trial, seed 3, mc sampling, 1 month"
