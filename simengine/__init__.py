"""simengine: Monte Carlo risk and ROI simulation for IT and CRM investment decisions.

Public API: load a scenario, run it, summarize a result file.
"""

from ._version import __version__
from .errors import InputError, ScenarioError, SimengineError
from .runner import RunReport, run, summarize_file
from .scenario import Scenario, load_scenario, parse_scenario

__all__ = ["__version__", "InputError", "RunReport", "Scenario", "ScenarioError", "SimengineError",
           "load_scenario", "parse_scenario", "run", "summarize_file"]
