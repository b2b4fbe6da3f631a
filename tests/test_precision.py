"""Precision targets: run block by block until each named standard error is small enough."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from simengine.cli import main
from support import simulate_chunk
from simengine.errors import InputError
from simengine.kernels.cashflows import METRICS
from simengine.executors import LocalExecutor
from simengine.precision import parse_targets, run_until_precise
from simengine.streams import BLOCK_SIZE


def first_block_count_meeting(npv: np.ndarray, target: float) -> int:
    for k in range(1, npv.size // BLOCK_SIZE + 1):
        x = npv[:k * BLOCK_SIZE]
        if x.std(ddof=1) / np.sqrt(x.size) <= target:
            return k * BLOCK_SIZE
    return -1


def test_stops_at_the_first_block_where_the_standard_error_is_met(bundled):
    sc = bundled["crm_new_small_firm"]
    npv = simulate_chunk(sc, 4, 0, 6 * BLOCK_SIZE).metrics[METRICS.index("npv")]
    # a target that needs about three blocks
    target = npv.std(ddof=1) / np.sqrt(3 * BLOCK_SIZE) * 1.0005
    want = first_block_count_meeting(npv, target)
    assert 2 * BLOCK_SIZE <= want <= 4 * BLOCK_SIZE
    found = run_until_precise(sc, {"npv_mean": target}, seed=4, max_trials=6 * BLOCK_SIZE)
    assert found.met and found.trials == want
    assert found.standard_errors["npv_mean"] <= target
    again = run_until_precise(sc, {"npv_mean": target}, seed=4, max_trials=6 * BLOCK_SIZE,
                              executor=LocalExecutor(threads=1, chunk_size=BLOCK_SIZE))
    assert again.trials == found.trials  # independent of the thread count


def test_unmet_targets_stop_at_max_trials_and_say_so(bundled):
    found = run_until_precise(bundled["crm_new_small_firm"], {"npv_mean": 1.0, "p_npv_negative": 1e-9}, seed=1,
                              max_trials=BLOCK_SIZE + 123)
    assert not found.met and found.trials == BLOCK_SIZE + 123


@pytest.mark.parametrize("text", ["npv=5", "npv_mean", "npv_mean=-1", "npv_mean=abc", "p_npv_negative=0"])
def test_bad_targets_are_input_errors(text):
    with pytest.raises(InputError):
        parse_targets([text])


def test_cli_precision_run_writes_an_ordinary_run_of_the_trials_found(tmp_path):
    out = tmp_path / "p.parquet"
    res = CliRunner().invoke(main, ["run", "crm_new_small_firm", "--precision", "npv_mean=2000",
                                    "--max-trials", str(4 * BLOCK_SIZE), "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    used = data["precision"]["trials_used"]
    assert data["trials"] == used and used % BLOCK_SIZE == 0
    meta = pq.read_schema(out).metadata
    assert int(meta[b"simengine.trials"]) == used == pq.read_metadata(out).num_rows
    assert data["precision"]["met"] == (data["metrics"]["npv"]["mean"]["se"] <= 2000)
    text = CliRunner().invoke(main, ["run", "crm_new_small_firm", "--precision", "npv_mean=2000", "--summary-only"])
    assert "Precision targets met after" in text.output
    both = CliRunner().invoke(main, ["run", "crm_new_small_firm", "--precision", "npv_mean=2000", "-n", "1000"])
    assert both.exit_code == 2


@pytest.mark.parametrize("as_json", [False, True])
def test_cli_precision_run_short_of_its_targets_exits_3_and_keeps_the_results(tmp_path, as_json):
    """Stopping at --max-trials short of the targets is not success: exit status 3 with one
    line on stderr; the run itself is valid, so its file and summary are kept."""
    out = tmp_path / "p.parquet"
    args = ["run", "crm_new_small_firm", "--precision", "npv_mean=1", "--max-trials", "5000", "--out", str(out)]
    res = CliRunner().invoke(main, args + (["--json"] if as_json else []))
    assert res.exit_code == 3, res.output
    assert "precision targets not met within --max-trials 5,000; the results are kept but are less precise" \
        in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    summary_only = CliRunner().invoke(main, args[:-2] + ["--summary-only"])
    assert summary_only.exit_code == 3
    assert "; the summary covers those trials but is less precise than asked" in summary_only.stderr
    assert pq.read_metadata(out).num_rows == 5000
    if as_json:
        assert json.loads(res.stdout)["precision"]["met"] is False
    else:
        assert "Precision targets NOT met" in res.stdout


def test_a_share_seen_in_no_trial_is_not_given_a_standard_error(bundled):
    """The phased upgrade meets all its targets together in none of the first 65,536 trials: the
    stopping rule's floor (one trial either way) decides, but the text and JSON say that the
    share has no standard error, not that it is 1.5e-05."""
    from simengine.precision import precision_report
    from simengine.textout import precision_text

    found = run_until_precise(bundled["crm_upgrade_phased"], {"p_all_targets": 1e-3, "npv_mean": 1e9}, seed=2024,
                              max_trials=2 * BLOCK_SIZE)
    assert found.met and found.trials == BLOCK_SIZE and found.summary.all_targets == 0
    report = precision_report({"p_all_targets": 1e-3, "npv_mean": 1e9}, found, 2 * BLOCK_SIZE)
    assert report["estimates"]["p_all_targets"]["se_floor"] is True
    assert report["estimates"]["npv_mean"]["se_floor"] is False
    assert report["estimates"]["p_all_targets"]["se"] == pytest.approx(1.0 / BLOCK_SIZE)
    text = precision_text(report)
    assert "p_all_targets: seen in none or all of the 65,536 trials, so no standard error" in text
    assert "npv_mean: standard error" in text
