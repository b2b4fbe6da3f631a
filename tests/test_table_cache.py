"""The disk cache of quantile tables: the same doubles as a build, and never a failed run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from simengine import table_cache
from simengine.distributions import QuantileTable, beta_logpdf, special


def build_beta(a: float, b: float, calls: list) -> QuantileTable:
    calls.append((a, b))
    return QuantileTable(ppf_lower=lambda p: special.betaincinv(a, b, p),
                         ppf_upper=lambda q: 1.0 - special.betaincinv(b, a, q),
                         logpdf=lambda x: beta_logpdf(x, a, b))


def cached(a: float, b: float, calls: list) -> QuantileTable:
    return table_cache.cached_table("beta", (a, b), lambda: build_beta(a, b, calls), table_cache.__file__)


def same_table(x: QuantileTable, y: QuantileTable) -> bool:
    """Every attribute, the doubles bit for bit."""
    if vars(x).keys() != vars(y).keys():
        return False
    return all(np.array_equal(np.asarray(v).view(np.int64), np.asarray(vars(y)[k]).view(np.int64))
               and type(v) is type(vars(y)[k]) for k, v in vars(x).items())


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv(table_cache.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_a_stored_table_loads_bit_for_bit_without_a_build(folder):
    calls = []
    built = cached(2.2, 3.7, calls)
    assert calls == [(2.2, 3.7)] and len(list(folder.glob("beta-*.npy"))) == 1
    loaded = cached(2.2, 3.7, calls)
    assert calls == [(2.2, 3.7)]  # not built again
    assert same_table(loaded, built)
    assert same_table(loaded, build_beta(2.2, 3.7, []))
    cached(2.2, 3.7000000000000006, calls)  # the next double: another table
    assert len(calls) == 2 and len(list(folder.glob("beta-*.npy"))) == 2


@pytest.mark.parametrize("damage", ["truncate", "garbage", "flip", "directory"])
def test_a_damaged_table_is_rebuilt_and_replaced(folder, damage):
    calls = []
    built = cached(1.5, 4.0, calls)
    (path,) = folder.glob("beta-*.npy")
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:1000])
    elif damage == "garbage":
        path.write_bytes(b"not a table")
    elif damage == "flip":  # a valid .npy whose numbers changed: the crc catches it
        data = np.load(path)
        data[100] += 1e-9
        np.save(path, data)
    else:
        path.unlink()
        path.mkdir()
    again = cached(1.5, 4.0, calls)
    assert len(calls) == 2 and same_table(again, built)
    if damage != "directory":
        assert same_table(cached(1.5, 4.0, calls), built) and len(calls) == 2  # the rebuilt one was stored


def test_an_unwritable_or_disabled_cache_only_builds(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be")
    monkeypatch.setenv(table_cache.CACHE_ENV, str(blocker / "cache"))
    calls = []
    assert same_table(cached(3.0, 2.0, calls), build_beta(3.0, 2.0, []))
    monkeypatch.setenv(table_cache.CACHE_ENV, "")
    assert table_cache.cache_dir() is None
    cached(3.0, 2.0, calls)
    assert len(calls) == 2


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a user that permissions bind")
def test_a_read_only_cache_only_builds(folder):
    folder.mkdir()
    folder.chmod(0o500)
    try:
        calls = []
        cached(2.0, 2.0, calls)
        cached(2.0, 2.0, calls)
        assert len(calls) == 2
    finally:
        folder.chmod(0o700)


def test_the_default_folder_is_the_users_cache(monkeypatch, tmp_path):
    monkeypatch.delenv(table_cache.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    if sys.platform.startswith("linux"):
        assert table_cache.cache_dir() == tmp_path / "simengine" / "tables"
    assert table_cache.cache_dir() is not None


def test_the_folder_keeps_the_newest_tables(folder, monkeypatch):
    monkeypatch.setattr(table_cache, "MAX_TABLES", 3)
    for i in range(5):
        cached(1.0 + i, 2.0, [])
        for path in folder.glob("*.npy"):
            os.utime(path, (path.stat().st_mtime - 10, path.stat().st_mtime - 10))  # older than the next
    assert len(list(folder.glob("*.npy"))) == 3
    calls = []
    cached(5.0, 2.0, calls)  # the newest is kept
    assert calls == []


def test_runs_give_the_same_results_with_a_cold_and_a_warm_cache(tmp_path):
    """The CLI end to end: a run that builds and stores its tables and one that loads them."""
    env = {**os.environ, table_cache.CACHE_ENV: str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "simengine", "run", "crm_new_small_firm", "-n", "3000", "--summary-only", "--json"]
    cold = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    assert list((tmp_path / "cache").glob("beta-*.npy"))
    warm = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    assert without_seconds(json.loads(warm.stdout)) == without_seconds(json.loads(cold.stdout))


def without_seconds(value):
    """A JSON value without its timings (the only thing two runs may differ in)."""
    if isinstance(value, dict):
        return {k: without_seconds(v) for k, v in value.items() if not k.endswith("seconds")}
    if isinstance(value, list):
        return [without_seconds(v) for v in value]
    return value
