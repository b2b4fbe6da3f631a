"""Typed results of the Python API: a run, a comparison, a sensitivity table.

Each wraps the plain dict the CLI prints as JSON (`to_dict()` gives it back unchanged) and
adds typed accessors (`result.summary.metric("npv").p(90).value`), the per-trial data as
Arrow, pandas or polars, and an HTML table for Jupyter (`_repr_html_`; plain text in a
terminal). Nothing heavy is imported until it is used: the report's charts need matplotlib,
`to_polars` needs polars.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .errors import InputError


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo estimate and its standard error (None where undefined). A probability seen
    in 0 of n trials has no standard error but an exact 95 % upper bound (`upper95`); one seen
    in n of n a lower bound (`lower95`)."""

    value: float | None
    se: float | None
    upper95: float | None = None
    lower95: float | None = None

    @classmethod
    def of(cls, d: dict) -> "Estimate":
        return cls(d.get("value"), d.get("se"), d.get("upper95"), d.get("lower95"))

    def __format__(self, spec: str) -> str:
        if self.value is None:
            return "null"
        text = format(self.value, spec)
        if self.upper95 is not None:
            return f"{text} (95 % upper bound {format(self.upper95, spec)})"
        if self.lower95 is not None:
            return f"{text} (95 % lower bound {format(self.lower95, spec)})"
        return text if self.se is None else f"{text} ± {format(self.se, spec)}"


@dataclass(frozen=True)
class MetricSummary:
    """One metric's summary: counts, mean and sd, percentiles, each with its standard error."""

    name: str
    n: int
    n_null: int
    mean: Estimate
    sd: Estimate
    percentiles: dict[int, Estimate]
    #: share of all trials the mean and sd are over, and the percentiles (see docs/model.md)
    coverage_mean_sd: float | None = None
    coverage_percentiles: float | None = None

    def p(self, q: int) -> Estimate:
        """Percentile q (one of the summary's: 5, 10, 50, 90, 95)."""
        if q not in self.percentiles:
            raise InputError(f"p({q}): the summary has percentiles {', '.join(map(str, self.percentiles))}")
        return self.percentiles[q]


@dataclass(frozen=True)
class TargetResult:
    """A decision target (None for "all together") and the probability of meeting it."""

    key: str
    target: float | None
    probability: Estimate


@dataclass(frozen=True)
class Summary:
    """docs/model.md's run summary, typed; `to_dict()` is the summary JSON the CLI writes."""

    data: dict = field(repr=False)

    def metric(self, name: str) -> MetricSummary:
        metrics = self.data["metrics"]
        if name not in metrics:
            raise InputError(f"metric({name!r}): the summary has {', '.join(metrics)}")
        m = metrics[name]
        from .summary import PERCENTILES

        cover = m.get("coverage", {})
        return MetricSummary(name, m["n"], m["n_null"], Estimate.of(m["mean"]), Estimate.of(m["sd"]),
                             {p: Estimate.of(m[f"p{p}"]) for p in PERCENTILES},
                             cover.get("mean_sd"), cover.get("percentiles"))

    @property
    def metrics(self) -> list[str]:
        return list(self.data["metrics"])

    @property
    def trials(self) -> int:
        return self.data["trials"]

    @property
    def p_npv_negative(self) -> Estimate:
        return Estimate.of(self.data["p_npv_negative"])

    @property
    def cvar5_npv(self) -> Estimate:
        return Estimate.of(self.data["cvar5_npv"])

    @property
    def targets(self) -> dict[str, TargetResult]:
        return {key: TargetResult(key, t.get("target"), Estimate.of(t["probability"]))
                for key, t in self.data.get("targets", {}).items()}

    def to_dict(self) -> dict:
        return self.data

    def __repr__(self) -> str:
        from .textout import summary_table

        return summary_table(self.data)

    def _repr_html_(self) -> str:
        from .report import summary_tables

        return summary_tables(self.data, self.data.get("currency", ""))


@dataclass
class RunResult:
    """A run: its summary, the result file (None for a summary-only run) and how it was made."""

    summary: Summary
    path: Path | None = None
    summary_path: Path | None = None
    seconds: float | None = None
    correlation_repairs: list = field(default_factory=list)
    report_path: Path | None = None
    #: the run's exact go-live and payback month histograms, which its report draws (empty for a
    #: result opened from a file: the report then reads those two columns back)
    month_histograms: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def scenario_name(self) -> str:
        return self.summary.data["scenario"]

    @property
    def precision(self) -> dict | None:
        """For a run with precision targets: whether they were `met`, the trials used, and
        each estimate's standard error against its target (None for an ordinary run)."""
        return self.summary.data.get("precision")

    @property
    def seed(self) -> int:
        return self.summary.data["seed"]

    @property
    def trials(self) -> int:
        return self.summary.data["trials"]

    @property
    def targets(self) -> dict[str, TargetResult]:
        return self.summary.targets

    def to_dict(self) -> dict:
        """What `simengine run --json` prints: the summary, the paths, any correlation repairs,
        and the elapsed time."""
        paths = {"result_path": str(self.path) if self.path else None,
                 "summary_path": str(self.summary_path) if self.summary_path else None,
                 **({"report_path": str(self.report_path)} if self.report_path is not None else {})}
        repairs = {"correlation_repairs": [{"drivers": [a, b], "requested": old, "used": new}
                                           for a, b, old, new in self.correlation_repairs]}
        return {**self.summary.data, **paths, **(repairs if self.correlation_repairs else {}),
                **({"elapsed_seconds": round(self.seconds, 3)} if self.seconds is not None else {})}

    def _file(self) -> Path:
        if self.path is None:
            raise InputError("this run wrote no result file (out=None): run it with out=PATH to keep its trials")
        return self.path

    def to_arrow(self, columns: list[str] | None = None):
        """The per-trial table (only `columns` when given) as a pyarrow Table, in trial order."""
        from .stored import open_stored

        stored = open_stored(self._file())
        return stored.read(columns if columns is not None else stored.schema.names)

    def to_pandas(self, columns: list[str] | None = None):
        """The per-trial table as a pandas DataFrame (needs pandas)."""
        return self.to_arrow(columns).to_pandas()

    def to_polars(self, columns: list[str] | None = None):
        """A lazy polars frame over the result file: only the columns asked for are read (needs polars)."""
        try:
            import polars as pl
        except ImportError:
            raise InputError("to_polars needs polars: pip install polars") from None
        from .stored import open_stored

        stored = open_stored(self._file())
        frame = pl.scan_parquet(stored.files if stored.is_dataset else self._file())
        return frame.select(columns) if columns is not None else frame

    def report(self, path: Path | str | None = None, png_dir: Path | str | None = None,
               force: bool = False, on_step=None) -> list[Path]:
        """Write the HTML report (default: the result file with .html); returns the files written.
        `on_step(text, step, steps)` hears each of its steps start (see report.result_report)."""
        from .output import check_writable
        from .report import result_report

        if path is None and "://" in str(self._file()):
            raise InputError("report(): this result is at a URI; give the report a local path")
        out = Path(path) if path is not None else Path(str(self._file()).rstrip("/\\")).with_suffix(".html")
        check_writable([out], force)
        # this summary is the file's own (of the run that wrote it, or summarized from it)
        return result_report(self._file(), summary=self.summary.data, histograms=self.month_histograms,
                             on_step=on_step).write(out, Path(png_dir) if png_dir is not None else None, force)

    def __repr__(self) -> str:
        from .textout import run_header

        where = f"\nResults: {self.path}" if self.path is not None else ""
        return f"{run_header(self.summary.data)}\n\n{self.summary!r}{where}"

    def _repr_html_(self) -> str:
        from .html_page import paragraph

        parts = [paragraph(_header(self.summary.data)), self.summary._repr_html_()]
        if self.path is not None and "npv" in _columns(self.path):
            parts.insert(1, _npv_histogram_html(self))
        return "".join(parts)


def _header(summary: dict) -> str:
    from .textout import run_header

    return run_header(summary)


def _columns(path: Path) -> list[str]:
    from .stored import open_stored

    return open_stored(path).schema.names


def _npv_histogram_html(result: RunResult) -> str:
    """The run's NPV histogram as an inline PNG (first million trials at most)."""
    from .charts import npv_histogram, png_bytes
    from .stored import open_stored

    npv = open_stored(result.path).head(["npv"], min(result.trials, 1_000_000))["npv"]
    data = result.summary.data
    png = png_bytes(npv_histogram(npv, data, data["currency"]))
    return f'<img alt="NPV histogram" width="585" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


@dataclass
class Comparison:
    """A against B with common random numbers: both summaries and the NPV difference."""

    data: dict = field(repr=False)
    samples: dict | None = field(default=None, repr=False)
    scenarios: tuple = field(default=(), repr=False)

    @property
    def a(self) -> Summary:
        return Summary(self.data["a"]["summary"])

    @property
    def b(self) -> Summary:
        return Summary(self.data["b"]["summary"])

    def delta_npv(self, key: str = "mean") -> Estimate:
        """The NPV difference A - B: "mean", "sd" or a percentile ("p5" .. "p95")."""
        return Estimate.of(self.data["delta_npv"][key])

    @property
    def p_a_beats_b_npv(self) -> Estimate:
        return Estimate.of(self.data["p_a_beats_b_npv"])

    def to_dict(self) -> dict:
        return self.data

    def report(self, path: Path | str, png_dir: Path | str | None = None, force: bool = False) -> list[Path]:
        """Write the comparison's HTML report; returns the files written."""
        from .output import check_writable
        from .report import comparison_report

        out = Path(path)
        check_writable([out], force)
        return comparison_report(self.data, self.samples, *self.scenarios).write(
            out, Path(png_dir) if png_dir is not None else None, force)

    def __repr__(self) -> str:
        from .textout import comparison_table

        return comparison_table(self.data)

    def _repr_html_(self) -> str:
        from .html_page import paragraph, table

        d = self.data
        rows = [[f"ΔNPV {key} ({d['currency']})", f"{Estimate.of(d['delta_npv'][key]):,.0f}"]
                for key in ("mean", "p5", "p50", "p95")]
        rows.append(["P(A has the higher NPV)", f"{self.p_a_beats_b_npv:.2%}"])
        title = f"{d['a']['scenario']} (A) against {d['b']['scenario']} (B): {d['trials']:,} trials, seed {d['seed']}"
        return paragraph(title) + table(["A - B", "estimate ± standard error"], rows)


@dataclass
class Sensitivity:
    """Drivers ranked by their effect on one metric (rank correlation, variance share, swing)."""

    data: dict = field(repr=False)

    @property
    def metric(self) -> str:
        return self.data["metric"]

    @property
    def drivers(self) -> list[dict]:
        return self.data["drivers"]

    def __iter__(self) -> Iterator[dict]:
        return iter(self.drivers)

    def top(self, n: int) -> list[str]:
        """The names of the n most influential drivers."""
        return [row["driver"] for row in self.drivers[:n]]

    def to_dict(self) -> dict:
        return self.data

    def __repr__(self) -> str:
        from .textout import sensitivity_table

        return sensitivity_table(self.data)

    def _repr_html_(self) -> str:
        from .html_page import table

        def num(x, fmt):
            return "" if x is None or not math.isfinite(x) else format(x, fmt)
        rows = [[r["driver"], num(r["spearman"]["value"], "+.3f"), num(r["variance_share"], ".1%"),
                 num(r["swing"]["value"], ",.4g")] for r in self.drivers]
        return table(["driver", "Spearman ρ", "share of variance", f"swing of mean {self.metric}"], rows)


@dataclass
class ValueOfInformation:
    """EVPI of a decision and the EVPPI of each driver and group, ranked (value_of_information.py)."""

    data: dict = field(repr=False)

    @property
    def evpi(self) -> Estimate:
        return Estimate.of(self.data["evpi"])

    def evppi(self, name: str) -> Estimate:
        """The EVPPI of one driver or of a group, by the name it was asked for with."""
        for row in self.data["groups"] + self.data["drivers"]:
            if row["name"] == name:
                return Estimate.of(row["evppi"])
        raise KeyError(name)

    def top(self, n: int) -> list[str]:
        """The n drivers most worth learning before deciding (fewer when fewer can change the decision)."""
        return [row["name"] for row in self.data["drivers"] if row["evppi"]["value"] > 0.0][:n]

    def to_dict(self) -> dict:
        return self.data

    def __repr__(self) -> str:
        from .textout import voi_table

        return voi_table(self.data, 15)

    def _repr_html_(self) -> str:
        from .html_page import paragraph, table

        cur = self.data["currency"]
        rows = [[r["name"], f"{r['evppi']['value']:,.0f}", f"{r['evppi']['se']:,.0f}",
                 "" if r["share_of_evpi"] is None else f"{r['share_of_evpi']:.0%}"]
                for r in self.data["groups"] + self.data["drivers"]]
        head = (f"EVPI of {' or '.join(self.data['options'])}: {self.data['evpi']['value']:,.0f} "
                f"± {self.data['evpi']['se']:,.0f} {cur}")
        return paragraph(head) + table(["driver or group", f"EVPPI ({cur})", "± se", "of EVPI"], rows)


@dataclass
class SobolIndices:
    """First-order and total Sobol' indices of each factor (a driver, or a correlated group), sobol.py."""

    data: dict = field(repr=False)

    @property
    def metric(self) -> str:
        return self.data["metric"]

    @property
    def factors(self) -> list[dict]:
        return self.data["factors_list"]

    def first_order(self, name: str) -> Estimate:
        return Estimate.of(self._factor(name)["first_order"])

    def total(self, name: str) -> Estimate:
        return Estimate.of(self._factor(name)["total"])

    def _factor(self, name: str) -> dict:
        for row in self.factors:
            if row["name"] == name or name in row["drivers"] and len(row["drivers"]) == 1:
                return row
        raise KeyError(name)

    def top(self, n: int) -> list[str]:
        """The n factors with the largest total effect."""
        return [row["name"] for row in self.factors[:n]]

    def to_dict(self) -> dict:
        return self.data

    def __repr__(self) -> str:
        from .textout import sobol_table

        return sobol_table(self.data, 15)

    def _repr_html_(self) -> str:
        from .html_page import paragraph, table

        rows = [[r["name"], f"{r['first_order']['value']:.1%} ± {r['first_order']['ci']:.1%}",
                 f"{r['total']['value']:.1%} ± {r['total']['ci']:.1%}"] for r in self.factors]
        head = f"Sobol' indices of {self.metric}: {self.data['scenario']}"
        return paragraph(head) + table(["factor", "first order", "total"], rows)
