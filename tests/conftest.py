"""Fixtures shared by the test modules, and the hypothesis profiles.

Profiles (hypothesis settings that every property test inherits; a test's own
`@settings(max_examples=...)` still wins for the values it names):

- `ci`, chosen when the environment variable CI is "true" (GitHub Actions, GitLab and most
  others set it): derandomized, so each test draws the same examples on every run and
  machine (the seed is a digest of the test's source), with no example database (a
  database would replay earlier failures first and change the sequence). A failure prints
  its `@reproduce_failure` blob. No deadline: the first example of a test may include a
  numba compile of several seconds.
- `dev`, the default for local runs: random seeds, so repeated runs keep exploring new
  examples, and the local `.hypothesis/` database replays any failure found; the blob is
  printed too, and there is no deadline either, for the same compile-time reason.

HYPOTHESIS_PROFILE=ci|dev overrides the choice (e.g. to reproduce a CI run locally).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest
from hypothesis import HealthCheck, settings

from simengine.bundled import bundled_scenarios
from simengine.scenario import load_scenario

#: Quantile tables (simengine/table_cache.py) go to a folder of this session, not the user's cache,
#: unless SIMENGINE_CACHE_DIR is set; the CLI tests' subprocesses share it.
if "SIMENGINE_CACHE_DIR" not in os.environ:
    os.environ["SIMENGINE_CACHE_DIR"] = tempfile.mkdtemp(prefix="simengine-test-cache-")
    atexit.register(shutil.rmtree, os.environ["SIMENGINE_CACHE_DIR"], ignore_errors=True)

settings.register_profile("ci", derandomize=True, database=None, print_blob=True, deadline=None, max_examples=50,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", derandomize=False, print_blob=True, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE")
                      or ("ci" if os.environ.get("CI", "").strip().lower() == "true" else "dev"))


@pytest.fixture(scope="session")
def bundled():
    """Every bundled scenario, loaded and validated."""
    return {name: load_scenario(path) for name, path in bundled_scenarios().items()}


@pytest.fixture(scope="module")
def client():
    """A 2-process Dask LocalCluster shared by a module's tests (started once: ~2 s); skipped
    without the dask extra (which the Makefile's test install includes)."""
    distributed = pytest.importorskip("distributed", reason="the dask extra is part of the test install (Makefile)")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address="127.0.0.1:0", silence_logs=50)
    c = distributed.Client(cluster, set_as_default=False)
    yield c
    c.close()
    cluster.close()


@pytest.fixture
def status_on_terminal(monkeypatch):
    """The command line's status lines (progress.StatusLine) drawn as on a terminal, into the
    CliRunner's stderr; --quiet still mutes them."""
    from simengine import cli, progress

    class OnTerminal(progress.StatusLine):
        def __init__(self, what, stream=None, enabled=None):
            super().__init__(what, stream, True if enabled is None else enabled)

    monkeypatch.setattr(cli, "StatusLine", OnTerminal)


@pytest.fixture(autouse=True)
def _real_compiles_unannounced(request, monkeypatch):
    """A numba compile in a test (a kernel's first use on a cold cache: which test meets it first
    depends on which tests run, and in what order) does not put the compile notice on the
    stderr a test reads. Tests of the notice fake its events (jit.compile_hooks); a test of the
    real announcement is marked `announces_compiles`."""
    if request.node.get_closest_marker("announces_compiles") is None:
        from simengine import jit

        monkeypatch.setattr(jit, "announce_compile", lambda seconds: None)
