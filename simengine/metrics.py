"""The per-trial metrics, described once: the registry every other module reads.

`METRICS` lists every metric the kernel computes, in the kernel's row order (which is also
the order of the metric columns in a result file). Each `Metric` says what the rest of the
package needs to know about it: its unit, its Parquet type and whether (and why) it can be
null, whether the run summary describes it and how, whether `simengine sensitivity` offers
it, and how text output, the HTML report and the charts name and format it. `TARGETS` holds
the decision-target rules (`[decision]` in a scenario): which metric each tests, and in
which direction.

Adding a metric means: computing it in the kernel (kernels/cashflows.py, which takes its
row from `index(name)`), one entry here, and the same metric in the test reference model
(tests/reference_model.py). Everything else (schema, summary, sensitivity choices, labels)
follows from the entry.

This module is imported by the CLI at start-up: it must stay free of heavy imports (no
numpy, no pyarrow). Types are therefore plain strings ("float64", "int32", "int64"),
mapped to Arrow and numpy types where those are used (output.py).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

#: Units of a metric's values.
UNITS = ("currency", "ratio", "share", "share per year", "months")
#: Parquet/numpy types a metric column may have (the kernel itself holds every metric as
#: float64, with NaN for null).
DTYPES = ("float64", "int32", "int64")
#: Number formats, as understood by textout.fmt_value: money (thousands separators),
#: percent (a share shown in %), ratio (two decimals), months (one decimal; null = "never").
FORMATS = ("money", "percent", "ratio", "months")


@dataclass(frozen=True)
class Metric:
    """One per-trial metric (docs/model.md, "Metrics, per trial")."""

    name: str
    #: what the values measure: one of UNITS
    unit: str
    #: the result file's column type: one of DTYPES (integer types hold whole numbers)
    dtype: str
    #: whether a trial can have no value (null in the file, NaN in the kernel)
    nullable: bool
    #: what a null means, as the text summary says it ("" when never null)
    null_means: str
    #: label in text output (`simengine run`, `summarize`); "{currency}" is filled in
    label: str
    #: label in the HTML report's summary table; "{currency}" is filled in
    report_label: str
    #: axis label in charts (charts add the scale and currency of a money metric)
    chart_label: str
    #: the metric's short name in running text, titles and legends ("NPV", "payback")
    short: str
    #: number format kind: one of FORMATS
    fmt: str
    #: described in the run summary (mean, sd, percentiles with standard errors)
    summarized: bool = False
    #: summarized by an exact histogram of its whole months and "never" (rather than by the
    #: streaming value bands of a continuous metric)
    histogram: bool = False
    #: offered to `simengine sensitivity --metric`
    sensitivity: bool = False
    #: a null means "never": it ranks after every value (summary percentiles, sensitivity,
    #: comparisons) instead of being left out
    null_ranks_last: bool = False

    def __post_init__(self):
        problems = []
        if self.unit not in UNITS:
            problems.append(f"unit {self.unit!r} is not one of {UNITS}")
        if self.dtype not in DTYPES:
            problems.append(f"dtype {self.dtype!r} is not one of {DTYPES}")
        if self.fmt not in FORMATS:
            problems.append(f"fmt {self.fmt!r} is not one of {FORMATS}")
        if self.nullable != bool(self.null_means):
            problems.append("null_means must be given exactly when the metric is nullable")
        if self.histogram and not (self.summarized and self.integer):
            problems.append("a histogram metric must be summarized and integer-valued")
        if self.null_ranks_last and not self.nullable:
            problems.append("null_ranks_last needs a nullable metric")
        if problems:
            raise ValueError(f"metric {self.name}: " + "; ".join(problems))

    @property
    def integer(self) -> bool:
        """Whether the result file stores it as an integer column."""
        return self.dtype.startswith("int")

    def text_label(self, currency: str = "") -> str:
        return self.label.format(currency=currency)


@dataclass(frozen=True)
class TargetRule:
    """A decision target: the scenario's `[decision]` field `key` sets a bound on `metric`.

    `direction` "max": met when the metric is <= the target; "min": met when it is >= the
    target. A null metric never meets a target.
    """

    key: str
    metric: str
    direction: str
    #: the bound in text output, "{t}" the target value, e.g. "<= {t:g} months" (the
    #: metric's short name goes before it: "payback <= 24 months")
    bound_text: str
    #: the target in the HTML report, "{t}" the target value and "{pct}" it as a percentage
    report_text: str

    def __post_init__(self):
        if self.direction not in ("max", "min"):
            raise ValueError(f"target {self.key}: direction must be 'max' or 'min', got {self.direction!r}")

    @property
    def symbol(self) -> str:
        return "<=" if self.direction == "max" else ">="

    def met(self, values, target):
        """Which values meet the target (element-wise on arrays; NaN compares False, so a
        null never meets it)."""
        return (operator.le if self.direction == "max" else operator.ge)(values, target)

    def bound(self, target: float) -> str:
        """The bound as text output prints it: "<= 24 months"."""
        return self.bound_text.format(t=target)

    def label(self, target: float) -> str:
        """The target as text output prints it: "payback <= 24 months"."""
        return f"{metric(self.metric).short} {self.bound(target)}"

    def report_label(self, target: float) -> str:
        """The target as the HTML report prints it: "payback within 24 months"."""
        return self.report_text.format(t=target, pct=f"{target * 100:g} %")

    @property
    def met_label(self) -> str:
        """The row name in a comparison: "payback target met"."""
        return f"{metric(self.metric).short} target met"


METRICS: tuple[Metric, ...] = (
    Metric("npv", unit="currency", dtype="float64", nullable=False, null_means="",
           label="NPV ({currency})", report_label="NPV ({currency})", chart_label="NPV", short="NPV",
           fmt="money", summarized=True, sensitivity=True),
    Metric("roi", unit="share", dtype="float64", nullable=True, null_means="zero cost",
           label="ROI", report_label="ROI", chart_label="ROI (NPV / PV of costs)", short="ROI",
           fmt="percent", summarized=True, sensitivity=True),
    Metric("bcr", unit="ratio", dtype="float64", nullable=True, null_means="zero cost",
           label="BCR", report_label="benefit-cost ratio", chart_label="BCR (PV of benefits / PV of costs)",
           short="BCR", fmt="ratio", summarized=True, sensitivity=True),
    Metric("irr", unit="share per year", dtype="float64", nullable=True,
           null_means="no unique IRR in [-99%, +100%] a month",
           label="IRR (annual)", report_label="IRR (annual)", chart_label="IRR (annual)", short="IRR",
           fmt="percent", summarized=True, sensitivity=True),
    Metric("payback_months", unit="months", dtype="int32", nullable=True,
           null_means="never pay back in the horizon",
           label="Payback (months)", report_label="payback (months)", chart_label="payback (months)",
           short="payback", fmt="months", summarized=True, histogram=True, sensitivity=True,
           null_ranks_last=True),
    Metric("discounted_payback_months", unit="months", dtype="int32", nullable=True,
           null_means="never pay back (discounted) in the horizon",
           label="Discounted payback (months)", report_label="discounted payback (months)",
           chart_label="discounted payback (months)", short="discounted payback", fmt="months",
           sensitivity=True, null_ranks_last=True),
    Metric("go_live_month", unit="months", dtype="int64", nullable=False, null_means="",
           label="Go-live month", report_label="go-live month", chart_label="go-live month",
           short="go-live month", fmt="months", summarized=True, histogram=True, sensitivity=True),
    Metric("cost_pv", unit="currency", dtype="float64", nullable=False, null_means="",
           label="PV of costs ({currency})", report_label="PV of costs ({currency})", chart_label="PV of costs",
           short="PV of costs", fmt="money", sensitivity=True),
    Metric("benefit_pv", unit="currency", dtype="float64", nullable=False, null_means="",
           label="PV of benefits ({currency})", report_label="PV of benefits ({currency})",
           chart_label="PV of benefits", short="PV of benefits", fmt="money", sensitivity=True),
    Metric("total_cost", unit="currency", dtype="float64", nullable=False, null_means="",
           label="Total cost ({currency})", report_label="total cost ({currency})", chart_label="total cost",
           short="total cost", fmt="money", summarized=True, sensitivity=True),
    Metric("total_benefit", unit="currency", dtype="float64", nullable=False, null_means="",
           label="Total benefit ({currency})", report_label="total benefit ({currency})",
           chart_label="total benefit", short="total benefit", fmt="money"),
    Metric("one_time_cost", unit="currency", dtype="float64", nullable=False, null_means="",
           label="One-time cost ({currency})", report_label="one-time cost ({currency})",
           chart_label="one-time cost", short="one-time cost", fmt="money", summarized=True, sensitivity=True),
    Metric("payback_after_go_live_months", unit="months", dtype="int32", nullable=True,
           null_means="never pay back in the horizon",
           label="Payback after go-live (months)", report_label="payback after go-live (months)",
           chart_label="payback after go-live (months)", short="payback after go-live", fmt="months",
           summarized=True, histogram=True, sensitivity=True, null_ranks_last=True),
)

#: The decision targets, keyed by the scenario's `[decision]` field, in the order the
#: summary reports them.
TARGETS: dict[str, TargetRule] = {r.key: r for r in (
    TargetRule("payback_months_max", "payback_months", "max", bound_text="<= {t:g} months",
               report_text="payback within {t:g} months"),
    TargetRule("bcr_min", "bcr", "min", bound_text=">= {t:g}", report_text="benefit-cost ratio ≥ {t:g}"),
    TargetRule("roi_min", "roi", "min", bound_text=">= {t:.0%}", report_text="ROI ≥ {pct}"),
    TargetRule("budget_max", "one_time_cost", "max", bound_text="<= {t:,.0f}",
               report_text="one-time cost within the budget of {t:,.0f}"),
    TargetRule("total_cost_max", "total_cost", "max", bound_text="<= {t:,.0f}",
               report_text="total cost within {t:,.0f}"),
    TargetRule("go_live_month_max", "go_live_month", "max", bound_text="<= month {t:g}",
               report_text="live by month {t:g}"),
    TargetRule("payback_after_go_live_months_max", "payback_after_go_live_months", "max",
               bound_text="<= {t:g} months", report_text="payback within {t:g} months of going live"),
)}

_NAMES = tuple(m.name for m in METRICS)
_BY_NAME = {m.name: m for m in METRICS}
_INDEX = {m.name: i for i, m in enumerate(METRICS)}
if len(_BY_NAME) != len(METRICS):
    raise ValueError("metric names must be unique")
for _rule in TARGETS.values():
    if _rule.metric not in _BY_NAME:
        raise ValueError(f"target {_rule.key}: unknown metric {_rule.metric!r}")


def names() -> tuple[str, ...]:
    """Every metric's name, in the kernel's row order (and the result file's column order)."""
    return _NAMES


def metric(name: str) -> Metric:
    """The metric called `name` (KeyError naming the known ones otherwise)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; expected one of {', '.join(_NAMES)}") from None


def is_metric(name: str) -> bool:
    return name in _BY_NAME


def index(name: str) -> int:
    """The metric's row in the kernel's metrics matrix."""
    try:
        return _INDEX[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; expected one of {', '.join(_NAMES)}") from None


def summarized() -> tuple[Metric, ...]:
    """The metrics the run summary describes, in kernel order (the summary's key order)."""
    return tuple(m for m in METRICS if m.summarized)


def summarized_names() -> tuple[str, ...]:
    return tuple(m.name for m in METRICS if m.summarized)


def continuous_names() -> tuple[str, ...]:
    """Summarized metrics described through streaming value bands (not a histogram)."""
    return tuple(m.name for m in METRICS if m.summarized and not m.histogram)


def histogram_names() -> tuple[str, ...]:
    """Summarized metrics described by an exact histogram of months and "never"."""
    return tuple(m.name for m in METRICS if m.histogram)


def sensitivity_names() -> tuple[str, ...]:
    """The metrics `simengine sensitivity --metric` offers, in kernel order."""
    return tuple(m.name for m in METRICS if m.sensitivity)


def target_rule(key: str) -> TargetRule:
    return TARGETS[key]


def decision_targets(decision) -> list[tuple[TargetRule, float]]:
    """The targets a scenario's `decision` sets (those not None), each with its value, in
    the summary's order."""
    out = []
    for rule in TARGETS.values():
        target = getattr(decision, rule.key)
        if target is not None:
            out.append((rule, target))
    return out
