"""simengine: Monte Carlo risk and ROI simulation for IT and CRM investment decisions.

The Python API (see docs/api.md):

    import simengine
    result = simengine.run("crm_upgrade_big_bang", trials=100_000, out="big_bang.parquet")
    result.summary.metric("npv").p(90)
    simengine.open("big_bang.parquet").to_polars(["npv", "roi"])
    simengine.compare("crm_upgrade_phased", "crm_upgrade_big_bang", trials=100_000)
    simengine.sensitivity(result, metric="npv")
    simengine.value_of_information("crm_upgrade_big_bang", groups=["schedule.*"])
    simengine.portfolio("it_portfolio", trials=100_000).summary["cvar5_npv"]

Names are imported on first use, so `import simengine` (and the CLI's start-up) stays light.
"""

from __future__ import annotations

import importlib

from ._version import __version__
from .errors import InputError, ScenarioError, SimengineError

#: Public name -> the module that defines it.
_LAZY = {
    "run": "api", "open": "api", "compare": "api", "sensitivity": "api", "load": "api", "sweep": "api",
    "value_of_information": "api", "portfolio": "api", "optimize_portfolio": "api",
    "ValueOfInformation": "results", "SobolIndices": "results",
    "RunResult": "results", "Summary": "results", "MetricSummary": "results", "Estimate": "results",
    "TargetResult": "results", "Comparison": "results", "Sensitivity": "results",
    "Scenario": "scenario", "load_scenario": "scenario", "parse_scenario": "scenario",
    "LocalExecutor": "executors", "EXECUTORS": "executors", "DaskExecutor": "dask_executor",
    "simulate_range": "engine", "RangeResult": "engine",
}

__all__ = ["__version__", "InputError", "ScenarioError", "SimengineError", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'simengine' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
