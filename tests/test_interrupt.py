"""Safe output: a run stopped at any point leaves nothing at its target path, and says so.

These tests start real `simengine run` processes, wait until they are writing their
temporary file, and stop them with SIGINT (Ctrl-C), SIGTERM or SIGKILL.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from simengine import output
from simengine.cli import main

# Far more than can finish before the signal; the metrics alone (about 1.1 GiB by the run's own
# estimate, which it checks against the free disk space first) so that the test does not need
# 7 GiB free, as every column of 20,000,000 trials would.
TRIALS = "10000000"


def start_run(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    target = tmp_path / "big.parquet"
    proc = subprocess.Popen([sys.executable, "-m", "simengine", "run", "crm_upgrade_big_bang", "--trials", TRIALS,
                             "--columns", "metrics", "--out", str(target)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".big.parquet.*.partial")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never started writing"
        time.sleep(0.05)
    # let it write a few row groups
    partial = next(tmp_path.glob(".big.parquet.*.partial"))
    while partial.exists() and partial.stat().st_size < 2_000_000 and time.monotonic() < deadline:
        time.sleep(0.05)
    return proc, target


@pytest.mark.parametrize("sig,status,word", [(signal.SIGINT, 130, "Interrupted"), (signal.SIGTERM, 143, "Terminated")])
def test_interrupted_run_leaves_nothing_and_says_so(tmp_path, sig, status, word):
    proc, target = start_run(tmp_path)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    assert word in err and "no result file was written" in err
    assert "Traceback" not in err
    assert not target.exists()
    assert not output.summary_path_for(target).exists()
    assert list(tmp_path.iterdir()) == []  # the temporary file is gone too


def test_killed_run_leaves_no_file_at_the_target(tmp_path):
    proc, target = start_run(tmp_path)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not target.exists()
    assert not output.summary_path_for(target).exists()
    # kill -9 allows no clean-up: only the hidden temporary file can remain, never the target
    assert all(p.name.startswith(".big.parquet.") and p.name.endswith(".partial") for p in tmp_path.iterdir())


def test_disk_full_mid_run_leaves_nothing_and_one_line(tmp_path, monkeypatch):
    calls = {"n": 0}
    real_write = output.ResultWriter.write

    def failing_write(self, *args):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write(self, *args)

    monkeypatch.setattr(output.ResultWriter, "write", failing_write)
    target = tmp_path / "r.parquet"
    result = CliRunner().invoke(main, ["run", "deterministic_example", "--trials", "300000", "--out", str(target)])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == ["Error: No space left on device; no result file was written."]
    assert list(tmp_path.iterdir()) == []
