"""The one exception hierarchy: every user-facing failure names the field and the problem."""

from __future__ import annotations


class SimengineError(Exception):
    """Base class; the CLI turns any of these into one line and a non-zero exit."""

    exit_code = 1


class InputError(SimengineError):
    """Bad input from the user (scenario file, option value, path): exit status 2."""

    exit_code = 2


class ScenarioError(InputError):
    """A scenario field is missing, unknown or invalid; the message starts with its dotted path."""

    def __init__(self, path: str, problem: str):
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}" if path else problem)


class OutputExistsError(InputError):
    """The target output exists and `--force` was not given: nothing is overwritten."""


class ResultFileError(InputError):
    """A result file cannot be read as a simengine Parquet result."""
