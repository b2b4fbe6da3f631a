"""`simengine fit`: maximum-likelihood fits of a user's history, ranked by AIC, as a TOML snippet."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from simengine.cli import main
from simengine.distributions import parse_distribution
from simengine.fitting import fit

N = 5000


def test_recovers_a_lognormal_and_ranks_it_first():
    x = np.random.default_rng(1).lognormal(0.3, 0.5, N)
    fits = fit(x, ["normal", "lognormal", "uniform", "triangular"])
    best = fits[0]
    assert best["family"] == "lognormal"
    mu, sigma = best["distribution"]["mu"], best["distribution"]["sigma"]
    assert abs(mu - 0.3) < 4 * 0.5 / math.sqrt(N)
    assert abs(sigma - 0.5) < 4 * 0.5 / math.sqrt(2 * N)


def test_recovers_a_normal():
    x = np.random.default_rng(2).normal(10.0, 2.0, N)
    best = fit(x, ["normal", "lognormal", "uniform"])[0]
    assert best["family"] == "normal"
    assert abs(best["distribution"]["mean"] - 10.0) < 4 * 2.0 / math.sqrt(N)
    assert abs(best["distribution"]["sd"] - 2.0) < 4 * 2.0 / math.sqrt(2 * N)


def test_recovers_a_shifted_lognormal_of_overruns():
    """Overruns are ratios minus 1: a lognormal shifted by -1."""
    x = np.random.default_rng(3).lognormal(0.1, 0.3, 20_000) - 1.0
    best = fit(x, ["normal", "shifted_lognormal"])[0]
    assert best["family"] == "shifted_lognormal"
    d = best["distribution"]
    assert d["shift"] == pytest.approx(-1.0, abs=0.15)
    assert d["sigma"] == pytest.approx(0.3, abs=0.05)


def test_the_snippet_is_the_fitted_distribution(tmp_path):
    x = np.random.default_rng(4).lognormal(0.3, 0.5, 500)
    path = tmp_path / "history.parquet"
    pq.write_table(pa.table({"project": [f"p{i}" for i in range(x.size)], "duration_ratio": x}), path)
    res = CliRunner().invoke(main, ["fit", str(path), "--families", "lognormal,normal"])
    assert res.exit_code == 0, res.output
    snippet = res.output.strip().splitlines()[-1].strip()
    import tomllib
    raw = tomllib.loads(f"x = {snippet}")["x"]
    fitted = fit(x, ["lognormal", "normal"])[0]["distribution"]
    assert parse_distribution(raw, "x") == parse_distribution(fitted, "x")
    js = json.loads(CliRunner().invoke(main, ["fit", str(path), "--json"]).stdout)
    assert js["values"] == 500 and js["fits"][0]["aic"] <= js["fits"][-1]["aic"]


def test_bad_inputs_are_one_line_errors(tmp_path):
    csv_path = tmp_path / "h.csv"
    csv_path.write_text("a,b\n1,2\n3,4\n")
    runner = CliRunner()
    for args, message in ((["fit", str(csv_path)], "give --column"),
                          (["fit", str(csv_path), "--column", "c"], "is not a column"),
                          (["fit", str(csv_path), "--column", "a"], "at least 8"),
                          (["fit", str(tmp_path / "none.csv")], "no such file")):
        res = runner.invoke(main, args)
        assert res.exit_code == 2 and message in res.output and "Traceback" not in res.output
