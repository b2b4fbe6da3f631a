"""Fixtures shared by the test modules."""

from __future__ import annotations

import pytest

from simengine.bundled import bundled_scenarios
from simengine.scenario import load_scenario


@pytest.fixture(scope="session")
def bundled():
    """Every bundled scenario, loaded and validated."""
    return {name: load_scenario(path) for name, path in bundled_scenarios().items()}
