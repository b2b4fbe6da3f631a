"""The Dask executor: a run on a 2-process LocalCluster is the local run, bit for bit.

Summaries are compared as JSON text and rows as Arrow tables; the run's tasks are single
blocks (`blocks_per_task=1`) so that small runs still have several tasks, parts and
workers. Faults: a worker SIGKILLed mid-run, versions or numbers that differ on a worker,
a cluster without workers, an unreachable scheduler, a missing extra, an interrupted run.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import simengine
from simengine.cli import main
from simengine.cluster_task import WorkerCheck, WorkerRefused
from simengine.dask_executor import ClusterError, DaskExecutor, is_local_address, unencrypted_warning
from simengine.dataset import MANIFEST, PART_NAME
from simengine.streams import BLOCK_SIZE

distributed = pytest.importorskip("distributed", reason="the dask extra is part of the test install (Makefile)")

#: Three tasks of one block each, the last one short.
TRIALS = 2 * BLOCK_SIZE + 3_000




def summary_text(path: Path) -> str:
    """A summary as the JSON text simengine writes (the manifest's, or a file's .summary.json)."""
    data = json.loads(path.read_text())
    return json.dumps(data["summary"] if path.name == MANIFEST else data, indent=2)


def local_and_dask(tmp_path, client, scenario, trials, **options):
    local = simengine.run(scenario, trials=trials, seed=11, out=tmp_path / "local.parquet", **options)
    remote = simengine.run(scenario, trials=trials, seed=11, out=tmp_path / "dask/",
                           executor=DaskExecutor(client, blocks_per_task=1), **options)
    return local, remote


@pytest.mark.parametrize("sampling", ["mc", "lhs", "sobol"])
def test_a_dask_run_is_the_local_run_bit_for_bit(tmp_path, client, sampling):
    """Same summary JSON, byte for byte, and the same rows (trial order, every column), for
    each design; crm_upgrade_big_bang has correlated drivers, so the copula is covered too."""
    local, remote = local_and_dask(tmp_path, client, "crm_upgrade_big_bang", TRIALS, sampling=sampling)
    assert summary_text(tmp_path / "dask" / MANIFEST) == summary_text(tmp_path / "local.summary.json")
    assert remote.to_arrow().equals(local.to_arrow())
    parts = sorted(p.name for p in (tmp_path / "dask").iterdir() if PART_NAME.fullmatch(p.name))
    assert parts == ["part-000000000.parquet", "part-000000001.parquet", "part-000000002.parquet"]
    assert sorted(p.name for p in (tmp_path / "dask").iterdir()) == sorted(parts + [MANIFEST])


def test_metric_columns_only_is_bit_identical(tmp_path, client):
    """--columns metrics stores fewer columns; the rows that are stored still agree."""
    local, remote = local_and_dask(tmp_path, client, "crm_new_small_firm", TRIALS, columns="metrics")
    assert remote.to_arrow().equals(local.to_arrow())
    assert "benefits.realization" not in remote.to_arrow().column_names


def test_a_run_past_the_pilot_uses_the_bands_and_agrees(tmp_path, client):
    """Past the pilot (16 blocks) the client fixes the percentile bands from the first tasks
    (one block each, so that every worker helps) and the others reduce their blocks through
    them: the summary is still the local one."""
    trials = 17 * BLOCK_SIZE + 500
    local = simengine.run("deterministic_example", trials=trials, seed=3, out=None)
    with DaskExecutor(client, blocks_per_task=4) as ex:
        seen = []
        original = ex._run

        def spy(specs, *args):
            seen.extend((s.start, s.limits is not None) for _, s in specs)
            return original(specs, *args)

        ex._run = spy
        remote = simengine.run("deterministic_example", trials=trials, seed=3, out=None, executor=ex)
    assert json.dumps(remote.summary.to_dict()) == json.dumps(local.summary.to_dict())
    assert seen[:16] == [(b * BLOCK_SIZE, False) for b in range(16)]  # the pilot: a block per task
    assert seen[16:] == [(16 * BLOCK_SIZE, True)]


def test_the_second_pass_runs_on_the_cluster(client):
    """A band miss recomputes a metric's every value: on the cluster they are the local ones."""
    sc = simengine.load("crm_new_small_firm")
    ex = DaskExecutor(client, blocks_per_task=1)
    job = ex.job(sc.canonical_json, 5, TRIALS, "mc", fan=False)
    got = ex.metric_columns(job, ["npv", "irr"])
    want = simengine.simulate_range(sc, 5, 0, TRIALS, trials=TRIALS)
    np.testing.assert_array_equal(got["npv"], want.metric("npv"))
    np.testing.assert_array_equal(got["irr"], want.metric("irr"))


def test_a_band_miss_takes_the_second_pass_on_the_cluster(tmp_path, client, monkeypatch):
    """When a percentile falls outside its pilot band (forced here for npv), the run recomputes
    that metric's every value; on a cluster its tasks do it, and the summary is still the
    local run's (which takes its own second pass)."""
    from simengine.summary_stream import ContinuousMetric

    complete = ContinuousMetric.complete
    monkeypatch.setattr(ContinuousMetric, "complete", lambda self: self.name != "npv" and complete(self))
    calls = []
    metric_columns = DaskExecutor.metric_columns
    monkeypatch.setattr(DaskExecutor, "metric_columns",
                        lambda self, job, names: calls.append(names) or metric_columns(self, job, names))
    local, remote = local_and_dask(tmp_path, client, "crm_new_small_firm", TRIALS)
    assert calls == [["npv"]]
    assert summary_text(tmp_path / "dask" / MANIFEST) == summary_text(tmp_path / "local.summary.json")


def test_the_dataset_reads_as_one_table_everywhere(tmp_path, client):
    """pyarrow.dataset, polars and DuckDB read the parts of a cluster run as one table."""
    import duckdb
    import polars as pl
    import pyarrow.dataset as ds

    local, _ = local_and_dask(tmp_path, client, "crm_new_small_firm", TRIALS, columns="metrics")
    folder = tmp_path / "dask"
    npv = local.to_arrow(["npv"]).column("npv").to_numpy()
    table = ds.dataset(folder, format="parquet").to_table().sort_by("trial")
    np.testing.assert_array_equal(table.column("npv").to_numpy(), npv)
    frame = pl.scan_parquet(f"{folder}/*.parquet").sort("trial").collect()
    np.testing.assert_array_equal(frame["npv"].to_numpy(), npv)
    ((count, total),) = duckdb.sql(f"select count(*), sum(npv) from read_parquet('{folder}/*.parquet')").fetchall()
    assert count == TRIALS and total == pytest.approx(float(npv.sum()), rel=1e-12)


def test_a_worker_with_other_versions_is_refused(client):
    """A worker whose simengine (or numpy, scipy, numba) differs from the client's adds nothing
    to the result: the run stops with one line naming the worker and the versions."""
    sc = simengine.load("crm_new_small_firm")
    ex = DaskExecutor(client, blocks_per_task=1)
    job = ex.job(sc.canonical_json, 5, TRIALS, "mc", fan=False)
    versions = {**job.template.check.versions, "simengine": "0.0.1"}
    bad = replace(job, template=replace(job.template, check=WorkerCheck(versions, job.template.check.digest)))
    with pytest.raises(WorkerRefused, match=r"worker tcp://.*has simengine .*, the client 0\.0\.1"):
        ex.metric_columns(bad, ["npv"])
    digest = replace(job, template=replace(job.template, check=WorkerCheck(job.template.check.versions, "0" * 64)))
    with pytest.raises(WorkerRefused, match="computes other numbers than the client"):
        ex.metric_columns(digest, ["npv"])


def test_a_worker_killed_mid_run_changes_nothing(tmp_path):
    """SIGKILL one worker process while the run's tasks are running: its nanny restarts it, the
    scheduler reruns its task, and the dataset and summary are still the local run's, with no
    duplicate or partial part left behind."""
    trials = 12 * BLOCK_SIZE
    local = simengine.run("crm_upgrade_big_bang", trials=trials, seed=8, out=tmp_path / "local.parquet")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address="127.0.0.1:0", silence_logs=50)
    c = distributed.Client(cluster, set_as_default=False)
    try:
        pids = c.run(os.getpid)
        folder = tmp_path / "dask"
        killed = []

        def kill_one_when_running(done: int) -> None:
            if not killed and done >= BLOCK_SIZE:
                victim = sorted(pids.values())[0]
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)

        remote = simengine.run("crm_upgrade_big_bang", trials=trials, seed=8, out=folder,
                               executor=DaskExecutor(c, blocks_per_task=1), on_progress=kill_one_when_running)
        assert killed, "the run ended before a worker could be killed"
        assert killed[0] not in c.run(os.getpid).values()  # it really died (and was replaced)
    finally:
        c.close()
        cluster.close()
    assert summary_text(folder / MANIFEST) == summary_text(tmp_path / "local.summary.json")
    assert remote.to_arrow().equals(local.to_arrow())
    names = sorted(p.name for p in folder.iterdir())
    assert names == [MANIFEST] + [f"part-{b:09d}.parquet" for b in range(12)]


def test_a_cluster_without_workers_gives_up_in_one_line(tmp_path):
    """A scheduler with no worker at all (all lost) ends the run after the wait, with no manifest."""
    cluster = distributed.LocalCluster(n_workers=0, processes=True, dashboard_address="127.0.0.1:0", silence_logs=50)
    c = distributed.Client(cluster, set_as_default=False)
    try:
        with pytest.raises(ClusterError, match="no workers for 2 s"):
            simengine.run("crm_new_small_firm", trials=1000, seed=1, out=tmp_path / "ds/",
                          executor=DaskExecutor(c, lost_workers_seconds=2))
    finally:
        c.close()
        cluster.close()
    assert not (tmp_path / "ds").exists()  # the run created the folder, and removed it empty


def test_an_interrupted_run_leaves_no_result(tmp_path, client):
    """Ctrl-C during a cluster run: the tasks are cancelled, no manifest is written and the
    parts written so far are removed."""
    def interrupt(done: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        simengine.run("crm_new_small_firm", trials=TRIALS, seed=1, out=tmp_path / "ds/",
                      executor=DaskExecutor(client, blocks_per_task=1), on_progress=interrupt)
    time.sleep(1.0)  # a task still running when cancelled may finish its part; the run has no manifest
    assert not (tmp_path / "ds" / MANIFEST).exists()
    assert not (tmp_path / "ds").exists() or not any(PART_NAME.fullmatch(p.name) for p in (tmp_path / "ds").iterdir())
    with pytest.raises(simengine.SimengineError, match="no _simengine.json|no such result"):
        simengine.open(f"{tmp_path}/ds/")


def test_an_unreachable_scheduler_is_one_line(tmp_path):
    """A scheduler that does not answer: one line, exit status 1, and nothing that looks like a result."""
    result = CliRunner().invoke(main, ["run", "crm_new_small_firm", "--trials", "1000", "--executor", "dask",
                                       "--scheduler", "tcp://127.0.0.1:1", "--out", str(tmp_path / "ds/"), "-q"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: cannot reach a Dask scheduler at tcp://127.0.0.1:1")
    assert not (tmp_path / "ds").exists()  # refused before anything was written


def test_a_listener_that_is_not_a_scheduler_is_one_line(tmp_path):
    """Something listening at the address that does not speak Dask's protocol (here a socket
    that accepts and never answers) ends the run in one line, not a hang."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
    try:
        from simengine.dask_executor import probe_scheduler

        with pytest.raises(ClusterError, match=r"no answer within 2 s \(is a Dask scheduler listening there\?\)"):
            probe_scheduler(address, timeout=1.0)
    finally:
        server.close()


def test_tls_files_are_checked_and_only_for_a_tls_scheduler(tmp_path):
    """TLS options name their mistakes at once: a local cluster takes none, a tcp:// scheduler
    none, and a file that is not PEM is named."""
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    tls = ["--tls-ca-file", str(bad), "--tls-cert", str(bad), "--tls-key", str(bad)]
    base = ["run", "crm_new_small_firm", "--trials", "1000", "--executor", "dask", "-q", "--out", str(tmp_path / "o/")]
    for extra, message in [([], "--tls-ca-file " + str(bad) + ": not a CA certificate in PEM"),
                           (["--scheduler", "tcp://127.0.0.1:1"], "not a CA certificate in PEM")]:
        result = CliRunner().invoke(main, [*base, *extra, *tls])
        assert result.exit_code == 2, result.output
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and message in lines[0], result.output
    with pytest.raises(simengine.InputError, match="for a tls:// scheduler"):
        DaskExecutor(workers=2, security=object())
    with pytest.raises(simengine.InputError, match="is not a tls:// address"):
        DaskExecutor(scheduler="tcp://127.0.0.1:1", security=object())
    assert not (tmp_path / "o").exists()


def test_the_missing_extra_is_named(tmp_path, monkeypatch):
    """Without dask.distributed installed, --executor dask says which extra to install."""
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` now raises ImportError
    result = CliRunner().invoke(main, ["run", "crm_new_small_firm", "--trials", "1000", "--executor", "dask",
                                       "--workers", "2", "--out", str(tmp_path / "ds/"), "-q"])
    assert result.exit_code == 2
    assert result.output.strip() == "Error: --executor dask needs dask.distributed: pip install 'simengine[dask]'"


@pytest.mark.parametrize("args,message", [
    (["--trials", "1000", "--workers", "2"], "--workers goes with --executor dask"),
    (["--trials", "1000", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:1", "--workers", "2"],
     "excludes --scheduler"),
    (["--trials", "1000", "--executor", "dask", "--threads", "2"], "--threads sets this machine's kernel threads"),
    (["--executor", "dask", "--precision", "npv_mean=1000"], "--precision runs on the local executor"),
    (["--trials", "1000", "--executor", "dask", "--tls-cert", "x.pem"],
     "--tls-ca-file, --tls-cert and --tls-key go together"),
    (["--trials", "1000", "--executor", "dask", "--out", "one.parquet"], "a cluster run writes a dataset folder"),
])
def test_option_mistakes_are_one_line(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["run", "crm_new_small_firm", "-q", *args])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.output


def test_a_tls_scheduler_with_the_tls_options(tmp_path):
    """A scheduler that speaks only TLS: the run works with --tls-ca-file, --tls-cert and
    --tls-key (the certificates of dask's Security.temporary, written to files), and without
    them fails in one line."""
    from distributed.security import Security

    security = Security.temporary()
    files = {}
    for option, pem in (("--tls-ca-file", security.tls_ca_file), ("--tls-cert", security.tls_client_cert),
                        ("--tls-key", security.tls_client_key)):
        files[option] = tmp_path / f"{option.strip('-')}.pem"
        files[option].write_text(pem)
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, protocol="tls",
                                       security=security, dashboard_address="127.0.0.1:0", silence_logs=50)
    try:
        address = cluster.scheduler_address
        assert address.startswith("tls://")
        base = ["run", "crm_new_small_firm", "--trials", "2000", "--executor", "dask", "--scheduler", address, "-q",
                "--json"]
        ok = CliRunner().invoke(main, [*base, "--out", str(tmp_path / "tls/"),
                                       *[x for option, path in files.items() for x in (option, str(path))]])
        assert ok.exit_code == 0, ok.output
        assert (tmp_path / "tls" / MANIFEST).exists()
        refused = CliRunner().invoke(main, [*base, "--out", str(tmp_path / "plain/")])
        assert refused.exit_code == 2
        lines = [line for line in refused.output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith(f"Error: {address} is a TLS scheduler: give --tls-ca-file")
    finally:
        cluster.close()
    local = simengine.run("crm_new_small_firm", trials=2000, out=None)  # the scenario's seed, as the CLI's
    assert simengine.open(tmp_path / "tls").summary.to_dict()["metrics"] == local.summary.to_dict()["metrics"]


def test_plain_tcp_beyond_this_machine_is_warned():
    assert unencrypted_warning("tcp://10.0.0.5:8786") is not None
    assert unencrypted_warning("10.0.0.5:8786") is not None
    assert unencrypted_warning("tls://10.0.0.5:8786") is None
    assert unencrypted_warning("tcp://127.0.0.1:8786") is None
    assert unencrypted_warning("tcp://localhost:8786") is None
    assert is_local_address("tcp://[::1]:8786") and not is_local_address("tcp://scheduler.example.com:8786")


def test_tasks_write_only_inside_their_folder(tmp_path):
    """A part's name is built from its first block, and a name with a separator is refused."""
    from simengine.dataset import Folder

    folder = Folder.of(tmp_path / "ds")
    with pytest.raises(ValueError):
        folder.file("../escape.parquet")
    assert folder.file("part-000000001.parquet") == f"{folder.path}/part-000000001.parquet"


def test_the_cli_knows_every_registered_executor():
    """The CLI lists the executors without importing them (a light start-up): the same names."""
    from simengine.cli import EXECUTOR_NAMES
    from simengine.executors import EXECUTORS

    assert tuple(EXECUTORS) == EXECUTOR_NAMES


def test_summarize_verify_finds_a_changed_part(tmp_path):
    """--verify reads every part against its sha256: a byte changed in place (same size, which
    the everyday read does not notice) is one line and exit status 2."""
    simengine.run("crm_new_small_firm", trials=3000, seed=2, out=f"{tmp_path}/ds/")
    assert CliRunner().invoke(main, ["summarize", "--verify", str(tmp_path / "ds")]).exit_code == 0
    part = tmp_path / "ds" / "part-000000000.parquet"
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0xFF
    part.write_bytes(bytes(data))
    result = CliRunner().invoke(main, ["summarize", "--verify", str(tmp_path / "ds")])
    assert result.exit_code == 2
    assert "part-000000000.parquet does not match its sha256" in result.output
    single = CliRunner().invoke(main, ["summarize", "--verify", str(tmp_path / "none.parquet")])
    assert single.exit_code == 2 and "is a single file" in single.output
