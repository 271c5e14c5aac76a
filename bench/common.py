"""Shared pieces of the throughput benchmark: the adapter interface, resources, timing helpers.

Every system under test is an ``Adapter`` (one file per library in ``bench/peers/``). An adapter
only knows how to enqueue, count durably completed jobs and start/stop its library's workers;
the measuring loops (``run_workers``, ``latency``) live here, once, so every system is timed
by the same code.
"""

from __future__ import annotations

import contextlib
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent

WORKERS = 4  # worker threads / processes for every system
POLL = 0.05  # seconds between completion polls while the end is far
POLL_MIN = 0.002  # ... and when it is near (the end-time resolution of a run)
STOP_TIMEOUT = 30.0  # bound on stopping any worker
LATENCY_GAP = (0.020, 0.050)  # seconds between latency probes (uniform, seeded)
LATENCY_SETTLE = 0.5  # idle time after the warm-up probe, before the first measured one
KEYS = 100  # concurrency keys for the ledgerflow fairness scenario
KEY_LIMIT = 2  # the runtime's default limit per key, which the scenario's jobs keep
WORK_ITERATIONS = 1000  # iterations of the progress-cost task
SHORT_ITERATIONS = 30  # iterations of a "short" job: ~1 ms, still far below real jobs
UNIT_STEPS = 600  # inner steps of one unit of work: ~20 µs of arithmetic on a 2020s x86 core


class NotSupported(Exception):
    """The library has no API for this (reported as "–", not as an error)."""


class BenchTimeout(Exception):
    """A bounded wait ran out."""


@dataclass(frozen=True)
class Resources:
    """What the driver created for one scenario; it alone removes them afterwards."""

    tmpdir: str
    pg_url: str | None = None
    redis_url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Resources:
        return Resources(**data)


# --- timing helpers ------------------------------------------------------------------------


def wait_until(
    done: Callable[[], bool], timeout: float, what: str | Callable[[], str], poll: float = POLL
) -> None:
    """Poll ``done`` every ``poll`` seconds; raise ``BenchTimeout`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() >= deadline:
            text = what if isinstance(what, str) else what()
            raise BenchTimeout(f"timed out after {timeout:.0f} s waiting for {text}")
        time.sleep(poll)


def wait_for_count(
    count: Callable[[], int], target: int, timeout: float, what: str, failed: Callable[[], int]
) -> None:
    """Poll ``count()`` until it reaches ``target``: every 50 ms while the end is far (so the
    poll costs the workers little), down to every 2 ms as the rate so far says it is near."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    while True:
        done = count()
        if done >= target:
            return
        now = time.monotonic()
        if now >= deadline:
            raise BenchTimeout(
                f"timed out after {timeout:.0f} s waiting for {what}: "
                f"{done} of {target} complete, {failed()} failed"
            )
        rate = done / (now - t0) if done else 0.0
        left = (target - done) / rate if rate else POLL
        time.sleep(min(POLL, max(POLL_MIN, left / 2)))


def call_with_timeout(fn: Callable[[], object], timeout: float, what: str) -> None:
    """Run ``fn`` in a daemon thread; raise ``BenchTimeout`` if it has not returned in time."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, name=f"bench-{what}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise BenchTimeout(f"timed out after {timeout:.0f} s: {what}")
    if errors:
        raise errors[0]


def unit_of_work(seed: int) -> int:
    """A small fixed piece of pure-Python arithmetic (``UNIT_STEPS`` steps, ~20 µs)."""
    x = seed
    for j in range(UNIT_STEPS):
        x = (x * 31 + j) % 1_000_003
    return x


def calibrate_unit(samples: int = 2000) -> float:
    """Microseconds one ``unit_of_work`` takes here (best of 3 batches)."""
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for k in range(samples):
            unit_of_work(k)
        best = min(best, (time.perf_counter() - t0) / samples)
    return best * 1e6


def vm_hwm_kb(pid: int | str = "self") -> int | None:
    """Peak resident set size (KiB) of a live process: ``VmHWM`` in /proc/PID/status.

    Not ``ru_maxrss``: on Linux that survives fork+exec, so a child reports at least the RSS
    its (large) parent had when it forked; ``VmHWM`` belongs to the new program's own memory.
    """
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def self_rss_kb() -> int:
    """Peak RSS of this process so far, KiB (``ru_maxrss`` where /proc is missing)."""
    return vm_hwm_kb() or int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def cpu_seconds() -> float:
    """User + system CPU time of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def summarize(samples: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99/max/mean in milliseconds (percentiles: linear interpolation, inclusive)."""
    ms = sorted(s * 1000 for s in samples)
    if not ms:
        return {}
    if len(ms) == 1:
        p50 = p90 = p99 = ms[0]
    else:
        q = statistics.quantiles(ms, n=100, method="inclusive")
        p50, p90, p99 = q[49], q[89], q[98]
    return {
        "p50_ms": p50,
        "p90_ms": p90,
        "p99_ms": p99,
        "max_ms": ms[-1],
        "mean_ms": statistics.fmean(ms),
        "min_ms": ms[0],
        "count": float(len(ms)),
    }


# --- worker processes ----------------------------------------------------------------------


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for every benchmark subprocess: ``bench/`` importable, no stray knobs."""
    env = {k: v for k, v in os.environ.items() if k not in LEDGERFLOW_KNOBS}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(BENCH_DIR), str(REPO_DIR / "src"), env.get("PYTHONPATH", "")) if p
    )
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


# Environment variables ``JobSettings`` reads; a developer's shell must not change the results.
LEDGERFLOW_KNOBS = frozenset(
    {
        "DATABASE_URL",
        "WORKER_THREADS",
        "JOB_TIMEOUT",
        "JOB_TTL",
        "HEARTBEAT_INTERVAL",
        "WORKER_TIMEOUT",
        "SHUTDOWN_GRACE",
        "POLL_INTERVAL",
        "CONCURRENCY_LIMIT",
    }
)


def spawn(cmd: Sequence[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a worker process in this process's group (so the driver can always kill it)."""
    return subprocess.Popen(
        list(cmd),
        env=env or child_env(),
        cwd=REPO_DIR,
        stdin=subprocess.DEVNULL,
        stdout=sys.stderr.fileno(),
        stderr=sys.stderr.fileno(),
    )


def reap(proc: subprocess.Popen[bytes], timeout: float, terminate: bool) -> int | None:
    """Wait for ``proc`` (after SIGTERM if ``terminate``); return its peak RSS in KiB.

    The peak is read from /proc while the process lives (last just before the signal), so a
    process that exits by itself should report its own (see ``WorkerHandle.processes``).
    A process that outlives ``timeout`` is killed and the wait raises ``BenchTimeout``.
    """
    peak = vm_hwm_kb(proc.pid)
    if terminate:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while True:
        pid, status, _ = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return peak
        peak = max(peak or 0, vm_hwm_kb(proc.pid) or 0) or None
        if time.monotonic() >= deadline:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            _, status, _ = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            raise BenchTimeout(f"worker pid {proc.pid} did not exit within {timeout:.0f} s")
        time.sleep(0.02)


class WorkerHandle:
    """Workers made ready by an adapter: ``go()`` starts them (the clock starts just before),
    ``stop()`` stops them and returns the peak RSS (KiB) of each worker *process* it spawned
    (empty when the workers are threads of this process)."""

    def __init__(
        self,
        go: Callable[[], None],
        stop: Callable[[], list[int]],
        kill: Callable[[], None] | None = None,
    ) -> None:
        self._go = go
        self._stop = stop
        self._kill = kill

    def go(self) -> None:
        self._go()

    def stop(self) -> list[int]:
        try:
            return self._stop()
        finally:
            if self._kill is not None:
                self._kill()  # whatever did not stop in time

    def abort(self) -> None:
        """After a failure: end the workers as fast as possible, never raising."""
        with contextlib.suppress(Exception):
            if self._kill is not None:
                self._kill()
            else:
                self._stop()

    @staticmethod
    def threads(start: Callable[[], None], stop: Callable[[], None], what: str) -> WorkerHandle:
        """In-process worker threads: start them on ``go``, stop them with a bounded wait."""

        def stop_bounded() -> list[int]:
            call_with_timeout(stop, STOP_TIMEOUT, f"stopping {what}")
            return []

        return WorkerHandle(start, stop_bounded)

    @staticmethod
    def processes(
        procs: list[subprocess.Popen[bytes]],
        go: Callable[[], None] = lambda: None,
        *,
        exit_by_themselves: bool = False,
        reported_rss: Callable[[], list[int]] | None = None,
    ) -> WorkerHandle:
        """Worker processes: reap them all (SIGTERM first unless they exit by themselves).

        ``reported_rss``: the peaks the processes reported themselves before exiting (needed
        when they exit by themselves); otherwise the peaks read from /proc while they ran.
        """

        def stop() -> list[int]:
            rss: list[int] = []
            errors: list[BenchTimeout] = []
            for proc in procs:
                try:
                    peak = reap(proc, STOP_TIMEOUT, terminate=not exit_by_themselves)
                except BenchTimeout as exc:
                    errors.append(exc)
                else:
                    if peak is not None:
                        rss.append(peak)
            if errors:
                raise errors[0]
            bad = [p.returncode for p in procs if p.returncode not in (0, -signal.SIGTERM)]
            if bad:
                raise RuntimeError(f"worker processes exited with {bad}")
            return reported_rss() if reported_rss is not None else rss

        def kill() -> None:
            for proc in procs:
                if proc.returncode is None:
                    with contextlib.suppress(ProcessLookupError, ChildProcessError):
                        proc.kill()
                        _, status, _ = os.wait4(proc.pid, 0)
                        proc.returncode = os.waitstatus_to_exitcode(status)

        return WorkerHandle(go, stop, kill)


# --- the adapter interface -----------------------------------------------------------------


class Adapter(ABC):
    """One system under test. Subclasses implement the primitives; measuring is done here.

    Lifecycle inside one benchmark subprocess: ``setup(fresh)`` → any of ``enqueue_one`` /
    ``enqueue_bulk`` / ``prefill`` / ``run_workers`` / ``latency`` → ``teardown()``.
    ``fresh`` is true for the first subprocess on a new set of ``Resources`` (create schemas).
    """

    name: ClassVar[str]
    storage: ClassVar[str]  # how the table shows the backing store
    worker_model: ClassVar[str]  # how the table shows the workers
    needs: ClassVar[frozenset[str]] = frozenset()  # "postgres", "redis"
    bulk_api: ClassVar[str | None] = None  # the library's bulk-enqueue call, if any
    placements: ClassVar[tuple[str, ...]] = ("in-process",)
    notes: ClassVar[tuple[str, ...]] = ()
    # The library can hold a key's jobs to one running at a time: ``prefill`` then takes the
    # kinds "keyed-1" (KEYS companies' jobs interleaved, the company as key) and
    # "keyed-1-blocks" (each company's jobs enqueued together), beside "companies" (no key).
    one_at_a_time_per_key: ClassVar[bool] = False

    def __init__(self, res: Resources) -> None:
        self.res = res

    # --- primitives each adapter implements ----------------------------------------------
    @abstractmethod
    def setup(self, fresh: bool) -> None:
        """Connect; on ``fresh`` resources also create the library's schema."""

    @abstractmethod
    def enqueue_one(self, i: int) -> None:
        """Enqueue one no-op job with the library's one-job call."""

    def enqueue_bulk(self, n: int) -> None:
        """Enqueue ``n`` no-op jobs with the library's bulk call (building the arguments too)."""
        raise NotSupported(f"{self.name} has no bulk-enqueue API")

    @abstractmethod
    def completed(self) -> int:
        """Jobs durably complete (or, for a library that keeps no such state, executed)."""

    def failed(self) -> int:
        return 0

    @abstractmethod
    def workers(self, placement: str, burst: bool) -> WorkerHandle:
        """``WORKERS`` workers, ready but not yet started, at ``placement`` (one of
        ``placements``; the first is the one processing uses). ``burst``: they may exit
        by themselves once the queue is empty (RQ's burst mode)."""

    @abstractmethod
    def enqueue_probe(self, i: int) -> object:
        """Enqueue latency probe ``i``; returns whatever ``probe_latencies`` needs to find it."""

    @abstractmethod
    def probe_latencies(self, sent: dict[int, tuple[float, object]]) -> list[float]:
        """Seconds from enqueue to start per probe; ``sent[i] = (time before enqueue, ref)``."""

    @abstractmethod
    def teardown(self) -> None:
        """Close connections (the driver drops the databases / keys / files afterwards)."""

    # --- built on the primitives -----------------------------------------------------------
    def prefill(self, n: int, kind: str = "noop") -> dict[str, Any]:
        """Put ``n`` jobs of ``kind`` in the queue, untimed, by the fastest means available."""
        if kind != "noop":
            raise NotSupported(f"{self.name}: no {kind!r} jobs")
        try:
            self.enqueue_bulk(n)
        except NotSupported:
            for i in range(n):
                self.enqueue_one(i)
        return {}

    def cap_claims(self, jobs: int) -> None:
        """Let one claim take at most ``jobs`` jobs (ledgerflow's ``batch_size``)."""
        raise NotSupported(f"{self.name}: no claim size")

    def run_workers(self, n: int, timeout: float) -> dict[str, Any]:
        """Process ``n`` queued jobs: seconds from starting the workers to the n-th completion."""
        handle = self.workers(self.placements[0], burst=True)
        try:
            cpu0 = cpu_seconds()
            t0 = time.perf_counter()
            handle.go()
            wait_for_count(self.completed, n, timeout, "the jobs", self.failed)
            seconds = time.perf_counter() - t0
            cpu = cpu_seconds() - cpu0
        except BaseException:
            handle.abort()
            raise
        worker_rss = handle.stop()
        done, failed = self.completed(), self.failed()
        if done != n or failed:
            raise RuntimeError(f"expected {n} completions, found {done} ({failed} failed)")
        return {
            "n": n,
            "seconds": seconds,
            "jobs_per_s": n / seconds,
            # CPU of this process over the run: the workers' own when they are threads here.
            "cpu_ms_per_job": cpu * 1000 / n,
            "worker_rss_kb": worker_rss,
        }

    def latency(self, placement: str, count: int, timeout: float, seed: int) -> dict[str, Any]:
        """Idle enqueue→start latency: one probe at a time, 20–50 ms apart, workers waiting."""
        rng = random.Random(seed)
        handle = self.workers(placement, burst=False)
        try:
            handle.go()
            base = self.completed()
            self.enqueue_probe(-1)  # warm-up: the workers are up and connected
            wait_until(lambda: self.completed() > base, 60.0, "the warm-up probe")
            time.sleep(LATENCY_SETTLE)
            sent: dict[int, tuple[float, object]] = {}
            calls: list[float] = []
            for i in range(count):
                time.sleep(rng.uniform(*LATENCY_GAP))
                before = time.time()
                sent[i] = (before, self.enqueue_probe(i))
                calls.append(time.time() - before)
            wait_for_count(self.completed, base + 1 + count, timeout, "the probes", self.failed)
        except BaseException:
            handle.abort()
            raise
        worker_rss = handle.stop()
        samples = self.probe_latencies(sent)
        if len(samples) != count:
            raise RuntimeError(f"{len(samples)} of {count} probes reported a start time")
        return {
            "placement": placement,
            **summarize(samples),
            "enqueue_call": summarize(calls),  # how long the enqueue call itself took
            "samples_ms": [round(x * 1000, 3) for x in samples],
            "worker_rss_kb": worker_rss,
        }

    def row_size(self) -> dict[str, Any]:
        raise NotSupported(f"{self.name}: no row-size measurement")

    def task_cpu(self) -> dict[str, Any]:
        raise NotSupported(f"{self.name}: no per-job CPU measurement")
