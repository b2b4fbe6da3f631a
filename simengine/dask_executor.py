"""The Dask executor: a run's tasks on a dask.distributed cluster (an optional extra).

The client cuts the run into tasks of whole blocks (`cluster_task.run_task`), runs the
tasks that hold the pilot first, fixes the percentile bands from their partials, then
submits the rest with the bands. Each worker writes its own part of the dataset; the client
merges the returned partials in block order, so the summary is exactly the local run's, and
commits the manifest last. Dask's nanny restarts a killed worker and the scheduler reruns
its task (a rerun writes the same part again, bit for bit). `distributed` is imported only
here, only when a cluster run is asked for.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import sys
import time
import uuid
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from .cluster_task import TaskResult, TaskSpec, WorkerCheck, run_digest, run_task, software_versions
from .dataset import PART_BLOCKS
from .defaults import DEFAULT_CHUNK
from .errors import InputError, SimengineError
from .streams import BLOCK_SIZE

#: Seconds a cluster may have no worker at all before the run is given up.
LOST_WORKERS_SECONDS = 60.0


class ClusterError(SimengineError):
    """The cluster cannot run the job (unreachable, no workers left, a task failing everywhere)."""


def import_distributed():
    """dask.distributed, or one line naming the extra that provides it."""
    try:
        import distributed
    except ImportError:
        raise InputError("--executor dask needs dask.distributed: pip install 'simengine[dask]'") from None
    return distributed


def is_local_address(address: str) -> bool:
    """Whether a scheduler address points at this machine (loopback or a local socket)."""
    if "://" not in address:
        address = f"tcp://{address}"
    scheme, rest = address.split("://", 1)
    if scheme == "inproc":
        return True
    host = rest.rsplit(":", 1)[0].strip("[]") if ":" in rest else rest
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def unencrypted_warning(address: str) -> str | None:
    """A warning line for a scheduler reached over plain TCP beyond this machine."""
    scheme = address.split("://", 1)[0] if "://" in address else "tcp"
    if scheme == "tcp" and not is_local_address(address):
        return (f"Warning: {address} is plain TCP: scenarios and results cross the network unencrypted; use a "
                "tls:// address with --tls-ca-file, --tls-cert and --tls-key (see the README, Scaling out)")
    return None


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def address_in(scheduler_file: str) -> str:
    """The scheduler address a scheduler file (JSON, as `dask scheduler --scheduler-file` writes) holds."""
    try:
        with open(scheduler_file, encoding="utf-8") as f:
            address = json.load(f)["address"]
    except FileNotFoundError:
        raise InputError(f"--scheduler-file {scheduler_file}: no such file") from None
    except KeyError:
        raise InputError(f"--scheduler-file {scheduler_file}: not a scheduler file (it has no \"address\")") from None
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(f"--scheduler-file {scheduler_file}: not a scheduler file ({first_line(exc)})") from None
    if not isinstance(address, str):
        raise InputError(f"--scheduler-file {scheduler_file}: its address is not text")
    return address


def probe_scheduler(address: str, security=None, timeout: float = 10.0) -> None:
    """Connect to a scheduler once and hang up, so that an address with no scheduler behind it
    fails here in one line (a `Client` that fails to start lingers and retries for seconds)."""
    import asyncio

    from distributed.comm import connect
    from distributed.comm.addressing import parse_address

    try:
        parse_address(address)
    except ValueError as exc:
        raise InputError(f"--scheduler {address}: not a scheduler address ({first_line(exc)})") from None

    scheme, location = address.split("://", 1) if "://" in address else ("tcp", address)
    if scheme in ("tcp", "tls") and ":" in location:
        import socket

        host, port = location.rsplit(":", 1)
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
        except (OSError, ValueError) as exc:  # refused, unreachable, unknown host: say so at once
            raise ClusterError(f"cannot reach a Dask scheduler at {address}: {first_line(exc)}") from None

    async def hello() -> None:
        args = security.get_connection_args("client") if security is not None else {}
        comm = await connect(address, timeout=timeout, **args)
        try:
            await comm.write({"op": "identity"})
            answer = await comm.read()
        finally:
            await comm.close()
        if not isinstance(answer, dict) or answer.get("type") != "Scheduler":
            raise ValueError(f"it answered as {answer.get('type') if isinstance(answer, dict) else 'something else'}")

    try:
        asyncio.run(asyncio.wait_for(hello(), 2 * timeout))
    except (asyncio.TimeoutError, TimeoutError):
        raise ClusterError(f"cannot reach a Dask scheduler at {address}: no answer within {2 * timeout:.0f} s "
                           "(is a Dask scheduler listening there?)") from None
    except ValueError as exc:  # a Dask server that is not a scheduler
        raise ClusterError(f"{address} answered, but not as a Dask scheduler ({first_line(exc)})") from None
    except (MemoryError, TypeError, KeyError):  # bytes that are not Dask's protocol at all
        raise ClusterError(f"{address} answered, but not as a Dask scheduler") from None
    except Exception as exc:  # noqa: BLE001 - refused, TLS refused, closed
        raise ClusterError(f"cannot reach a Dask scheduler at {address}: {first_line(exc)}") from None


def start_local_cluster(distributed, workers: int):
    """A LocalCluster of `workers` single-threaded processes, quiet and local.

    Its worker processes are started with SIGINT ignored: Ctrl-C in a terminal goes to the
    whole process group, and the client, which handles it (cancels, cleans up, says so in one
    line), closes the workers itself; otherwise each worker would print its own traceback.
    Its dashboard listens on a random loopback port; its log is errors-free noise on shutdown,
    so only critical messages are shown.
    """
    import signal

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                        dashboard_address="127.0.0.1:0", silence_logs=logging.CRITICAL)
    finally:
        signal.signal(signal.SIGINT, previous)


def tls_security(ca_file: str, cert: str, key: str):
    """dask's `Security` for a TLS scheduler: these files, and encryption required. The files
    are read here, so that a wrong one is named at once (not as an X.509 error on connecting)."""
    import ssl

    try:
        ssl.create_default_context(cafile=ca_file)
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise InputError(f"--tls-ca-file {ca_file}: not a CA certificate in PEM ({first_line(exc)})") from None
    try:
        ssl.create_default_context().load_cert_chain(cert, key)
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise InputError(f"--tls-cert {cert} / --tls-key {key}: not a certificate and its private key in PEM "
                         f"({first_line(exc)})") from None
    distributed = import_distributed()
    return distributed.security.Security(tls_ca_file=ca_file, tls_client_cert=cert, tls_client_key=key,
                                         require_encryption=True)


@dataclass(frozen=True)
class Job:
    """A run as the cluster sees it: the task template and the trial count."""

    template: TaskSpec  # start/stop/limits filled per task
    trials: int


class DaskExecutor:
    """Runs a simulation's tasks on a Dask cluster.

    Give a `client` (a `distributed.Client` you manage), or a `scheduler` address, or a
    `scheduler_file`; with none of them a `LocalCluster` of `workers` processes (default:
    the machine's cores) is started for the run and closed after it. `blocks_per_task`
    blocks of 65,536 trials make one task and one part file; `kernel_threads` numba
    threads run in each worker process (one per process by default: the cluster's
    parallelism is its processes).
    """

    name = "dask"
    distributed = True

    def __init__(self, client=None, *, scheduler: str | None = None, scheduler_file: str | None = None,
                 workers: int | None = None, blocks_per_task: int = PART_BLOCKS, kernel_threads: int = 1,
                 security=None, lost_workers_seconds: float = LOST_WORKERS_SECONDS):
        given = sum(x is not None for x in (client, scheduler, scheduler_file))
        if given > 1:
            raise InputError("--scheduler and --scheduler-file exclude each other (and a client excludes both)")
        if workers is not None and given:
            raise InputError("--workers starts a local cluster; it excludes --scheduler and --scheduler-file")
        if workers is not None and workers < 1:
            raise InputError(f"--workers: must be at least 1, got {workers}")
        if security is not None and client is None and scheduler is None and scheduler_file is None:
            raise InputError("--tls-ca-file, --tls-cert and --tls-key are for a tls:// scheduler; the local cluster "
                             "started for a run listens on this machine only")
        if security is not None and scheduler is not None and not scheduler.startswith("tls://"):
            raise InputError(f"--tls-*: the scheduler {scheduler} is not a tls:// address")
        if blocks_per_task < 1:
            raise InputError(f"blocks_per_task: must be at least 1, got {blocks_per_task}")
        self._client, self.scheduler, self.scheduler_file = client, scheduler, scheduler_file
        self.workers, self.blocks_per_task, self.kernel_threads = workers, blocks_per_task, kernel_threads
        self.security = security
        self.lost_workers_seconds = lost_workers_seconds
        self._owned: list = []  # cluster and client started here, closed by close()

    # -- connection -------------------------------------------------------------------------
    def client(self):
        """The client, connecting (or starting a local cluster) on first use."""
        if self._client is not None:
            return self._client
        distributed = import_distributed()
        try:
            if self.scheduler is not None or self.scheduler_file is not None:
                address = self.scheduler if self.scheduler is not None else address_in(self.scheduler_file)
                if self.security is not None and not address.startswith("tls://"):
                    raise InputError(f"--tls-*: the scheduler {address} (from --scheduler-file) is not a tls:// "
                                     "address")
                warning = unencrypted_warning(address)
                if warning:
                    print(warning, file=sys.stderr)
                if self.security is None and address.startswith("tls://"):
                    self.security = distributed.security.Security()  # dask's configuration, if any
                    if not self.security.tls_client_cert and not self.security.tls_ca_file:
                        raise InputError(f"{address} is a TLS scheduler: give --tls-ca-file, --tls-cert and "
                                         "--tls-key (or set dask's distributed.comm.tls configuration)")
                probe_scheduler(address, self.security)
                client = distributed.Client(address, security=self.security, timeout="10s", set_as_default=False)
            else:
                cluster = start_local_cluster(distributed, self.workers or os.cpu_count() or 1)
                self._owned.append(cluster)
                client = distributed.Client(cluster, set_as_default=False)
        except (OSError, TimeoutError, RuntimeError) as exc:
            where = self.scheduler or self.scheduler_file or "the local cluster"
            raise ClusterError(f"cannot start or reach the scheduler ({where}): {first_line(exc)}") from None
        self._owned.append(client)
        self._client = client
        return client

    def connect(self) -> None:
        """Connect now (or start the local cluster), so that a scheduler that cannot be reached
        is reported before anything is written."""
        self.client()

    def close(self) -> None:
        """Close the client and cluster this executor started (not a client it was given)."""
        for thing in reversed(self._owned):
            try:
                thing.close()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
        if self._owned:
            self._client = None
        self._owned = []

    def __enter__(self) -> "DaskExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- running ----------------------------------------------------------------------------
    def job(self, scenario_json: str, seed: int, trials: int, sampling: str, *, folder=None, schema=None,
            fan: bool = True, resample: frozenset[str] | None = None) -> Job:
        """The job of a run (checks computed here, on the client, once); `resample`: drivers
        drawn from the run's second seed (engine.py), for Sobol' indices."""
        check = WorkerCheck(software_versions(), run_digest(scenario_json, seed, trials, sampling, resample))
        chunk = max(BLOCK_SIZE, DEFAULT_CHUNK // BLOCK_SIZE * BLOCK_SIZE)
        template = TaskSpec(scenario_json, seed, trials, sampling, 0, 0, check, chunk, folder=folder, schema=schema,
                            fan=fan, kernel_threads=self.kernel_threads, resample=resample)
        return Job(template, trials)

    def ranges(self, trials: int, pilot: int = 0) -> list[tuple[int, int]]:
        """The tasks' trial ranges: one block each up to `pilot` (so that every worker helps
        with the pilot, which the others wait for), then `blocks_per_task` blocks each."""
        size = self.blocks_per_task * BLOCK_SIZE
        head = [(lo, min(trials, lo + BLOCK_SIZE)) for lo in range(0, min(trials, pilot), BLOCK_SIZE)]
        start = head[-1][1] if head else 0
        return head + [(lo, min(trials, lo + size)) for lo in range(start, trials, size)]

    def run_job(self, job: Job, merge: Callable[[TaskResult], None], pilot: int, limits: Callable[[], dict | None],
                on_progress: Callable[[int], None] | None = None) -> list[TaskResult]:
        """Run every task of `job`; `merge` receives the results in trial order. The tasks that
        hold the first `pilot` trials run first; `limits()` then gives the bands the other
        tasks reduce their blocks with. Returns the results (without their partials)."""
        return self.run_jobs([job], [merge], pilot, [limits], on_progress)[0]

    def run_jobs(self, jobs: list[Job], merges: list[Callable[[TaskResult], None]], pilot: int,
                 limits: list[Callable[[], dict | None]],
                 on_progress: Callable[[int], None] | None = None) -> list[list[TaskResult]]:
        """`run_job` for several runs at once (a sweep's variants): their pilot tasks are
        submitted together, then all their other tasks, so the cluster stays busy across runs."""
        done: list[list[TaskResult]] = [[] for _ in jobs]
        progress = [0]

        def step(k: int, result: TaskResult) -> None:
            merges[k](result)
            result.partials = []
            done[k].append(result)

        first = [(k, replace(job.template, start=lo, stop=hi))
                 for k, job in enumerate(jobs) for lo, hi in self.ranges(job.trials, pilot) if lo < pilot]
        self._run(first, step, progress, on_progress)
        rest = []
        for k, job in enumerate(jobs):
            bands = limits[k]()
            rest += [(k, replace(job.template, start=lo, stop=hi, limits=bands))
                     for lo, hi in self.ranges(job.trials, pilot) if lo >= pilot]
        self._run(rest, step, progress, on_progress)
        return done

    def metric_columns(self, job: Job, names: list[str]) -> dict[str, np.ndarray]:
        """Every trial's values of some metrics, recomputed on the cluster (a second pass)."""
        return self.jobs_metric_columns([job], names)[0]

    def jobs_metric_columns(self, jobs: list[Job], names: list[str],
                            on_progress: Callable[[int], None] | None = None) -> list[dict[str, np.ndarray]]:
        """`metric_columns` of several jobs at once (the runs of Sobol' indices): all their tasks
        are submitted together, so the cluster stays busy; `on_progress` counts over all jobs."""
        parts: list[dict[str, list[np.ndarray]]] = [{name: [] for name in names} for _ in jobs]

        def keep(k: int, result: TaskResult) -> None:
            for name in names:
                parts[k][name].append(result.columns[name])

        specs = [(k, replace(job.template, start=lo, stop=hi, folder=None, schema=None, fan=False, keep=tuple(names)))
                 for k, job in enumerate(jobs) for lo, hi in self.ranges(job.trials)]
        self._run(specs, keep, [0], on_progress)
        return [{name: np.concatenate(v) for name, v in part.items()} for part in parts]

    def map_ranges(self, task: Callable, specs: list, consume: Callable, on_progress=None) -> None:
        """Run `task(spec)` for specs of consecutive trial ranges (each with `.start`), and pass
        the results (each with `.start` and `.stop`) to `consume` in trial order as they arrive:
        a run of another kind than a scenario's (a portfolio's, portfolio_run.py)."""
        self._run([(0, spec) for spec in specs], lambda _, result: consume(result), [0], on_progress, task)

    def _run(self, specs: list[tuple[int, TaskSpec]], consume: Callable[[int, TaskResult], None],
             progress: list[int], on_progress: Callable[[int], None] | None, task: Callable = run_task) -> None:
        """Submit tasks (each with its job's index, in trial order within a job) and pass each
        job's results to `consume` in trial order as they arrive."""
        if not specs:
            return
        distributed = import_distributed()
        client = self.client()
        batch = uuid.uuid4().hex[:12]  # keys unique per submission: never a stale result of an earlier run
        futures = [client.submit(task, spec, key=f"simengine-{batch}-{k}-{spec.start}", pure=False)
                   for k, spec in specs]
        where: dict[str, tuple[int, int]] = {}  # future key -> (job, index within the job)
        counts: dict[int, int] = {}
        for future, (k, _) in zip(futures, specs):
            where[future.key] = (k, counts.get(k, 0))
            counts[k] = counts.get(k, 0) + 1
        waiting: dict[tuple[int, int], TaskResult] = {}
        next_index: dict[int, int] = {k: 0 for k, _ in specs}
        remaining = len(futures)
        arrivals = distributed.as_completed(futures, loop=client.loop)
        no_workers_since = None
        next_watch = time.monotonic() + 1.0
        try:
            while remaining:
                finished = arrivals.next_batch(block=False) if arrivals.has_ready() else []
                if not finished:
                    time.sleep(0.05)
                for future in finished:
                    result = self._result(future)
                    waiting[where[future.key]] = result
                    progress[0] += result.stop - result.start
                    if on_progress is not None:
                        on_progress(progress[0])
                for k in next_index:
                    while (k, next_index[k]) in waiting:
                        consume(k, waiting.pop((k, next_index[k])))
                        next_index[k] += 1
                        remaining -= 1
                if not finished and time.monotonic() >= next_watch:  # an RPC: once a second at most
                    no_workers_since = self._watch_workers(client, no_workers_since)
                    next_watch = time.monotonic() + 1.0
        except BaseException:
            client.cancel(futures)
            raise

    def _result(self, future) -> TaskResult:
        try:
            return future.result()
        except SimengineError:
            raise
        except Exception as exc:  # noqa: BLE001 - a cluster failure, told in one line
            name = type(exc).__name__
            if name == "KilledWorker":
                raise ClusterError("a task killed every worker that ran it (out of memory?); the run is given up "
                                   "and no result is written") from None
            if name in ("CancelledError", "FutureCancelledError"):
                raise ClusterError("the cluster cancelled the run's tasks (the scheduler restarted or the client "
                                   "lost it); no result is written") from None
            raise ClusterError(f"a task failed on the cluster: {name}: {str(exc).splitlines()[0] if str(exc) else ''}"
                               ) from None

    def _watch_workers(self, client, since: float | None) -> float | None:
        """Give up when the cluster has had no worker for `lost_workers_seconds`."""
        try:
            workers = len(client.scheduler_info().get("workers", {}))
        except Exception:  # noqa: BLE001 - a scheduler that went away
            workers = 0
        if workers:
            return None
        now = time.monotonic()
        if since is None:
            return now
        if now - since >= self.lost_workers_seconds:
            raise ClusterError(f"the cluster has had no workers for {self.lost_workers_seconds:.0f} s; the run is "
                               "given up and no result is written")
        return since
