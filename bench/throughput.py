#!/usr/bin/env python
"""Throughput, latency and memory of ledgerflow.jobs next to peer job queues, in one run.

    .venv/bin/python bench/throughput.py                  # everything, N = 10,000
    .venv/bin/python bench/throughput.py --quick          # smoke run, N = 1,000
    .venv/bin/python bench/throughput.py --systems ledgerflow-sqlite,rq --n 20000 --repeat 3
    .venv/bin/python bench/throughput.py --enqueue-only 100000   # ledgerflow bulk + row size

Needs PostgreSQL (``--pg-url``, a role that may CREATE DATABASE) and Redis (``--redis-url``,
a dedicated db number that this script flushes). Every scenario runs in a fresh subprocess on
fresh resources (a temp dir, a new PostgreSQL database, the flushed Redis db), which this
driver removes afterwards whatever happens. The markdown report goes to stdout, progress to
stderr, and everything (with every run's raw numbers) to ``bench/results/``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.metadata
import importlib.util
import json
import logging
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import peers
from common import (
    BENCH_DIR,
    KEY_LIMIT,
    KEYS,
    LATENCY_GAP,
    LEDGERFLOW_KNOBS,
    REPO_DIR,
    SHORT_ITERATIONS,
    UNIT_STEPS,
    WORK_ITERATIONS,
    WORKERS,
    Adapter,
    NotSupported,
    Resources,
    calibrate_unit,
    child_env,
    self_rss_kb,
)

DEFAULT_PG = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DEFAULT_REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
# enqueue: 1 + 2; process: 3 (+ worker RSS); latency: 4; keyed: systems with per-key limits;
# progress: ledgerflow only.
SCENARIOS = ("enqueue", "process", "latency", "keyed", "progress")
# The per-company limit's runs; "-capped": without the limit, claims cut to what it allows.
CAPPED = "-capped"
NOOP_KEYED_KINDS = ["companies", "companies" + CAPPED, "keyed", "keyed-blocks"]
SHORT_KEYED_KINDS = ["short-companies", "short-keyed", "short-keyed-blocks"]
ONE_AT_A_TIME_KINDS = ["companies", "keyed-1", "keyed-1-blocks"]
WARMUP_CALLS = 20  # untimed enqueue calls before the timed ones (connections, caches)
DASH = "–"

log = logging.getLogger("bench")


# =============================================================================================
# The child side: one scenario step in a fresh process
# =============================================================================================


def step_enqueue(a: Adapter, one: int, bulk: int, timeout: float) -> dict[str, Any]:
    a.setup(fresh=True)
    for i in range(WARMUP_CALLS):
        a.enqueue_one(i)
    t0 = time.perf_counter()
    for i in range(one):
        a.enqueue_one(i)
    seconds = time.perf_counter() - t0
    out: dict[str, Any] = {"one": {"n": one, "seconds": seconds, "jobs_per_s": one / seconds}}
    try:
        a.enqueue_bulk(WARMUP_CALLS)
        t0 = time.perf_counter()
        a.enqueue_bulk(bulk)
        seconds = time.perf_counter() - t0
        out["bulk"] = {"n": bulk, "seconds": seconds, "jobs_per_s": bulk / seconds}
    except NotSupported as exc:
        out["bulk"] = {"unsupported": str(exc)}
    return out


def step_prefill(a: Adapter, n: int, kind: str, timeout: float) -> dict[str, Any]:
    a.setup(fresh=True)
    t0 = time.perf_counter()
    out = a.prefill(n, kind)
    out["seconds"] = time.perf_counter() - t0
    if kind.startswith("work"):
        out["unit_us"] = calibrate_unit()
    return out


def step_process(
    a: Adapter,
    n: int,
    timeout: float,
    slow: bool = False,
    task_cpu: bool = False,
    claim_cap: int | None = None,
) -> dict[str, Any]:
    a.setup(fresh=False)
    if claim_cap is not None:
        a.cap_claims(claim_cap)
    out = a.run_workers(n, timeout)
    if task_cpu:
        out["task_cpu"] = a.task_cpu()
    return out


def step_latency(
    a: Adapter, placement: str, count: int, seed: int, timeout: float
) -> dict[str, Any]:
    a.setup(fresh=True)
    return a.latency(placement, count, timeout, seed)


def step_enqueue_only(a: Adapter, n: int, timeout: float) -> dict[str, Any]:
    a.setup(fresh=True)
    t0 = time.perf_counter()
    a.enqueue_bulk(n)
    seconds = time.perf_counter() - t0
    return {"n": n, "seconds": seconds, "jobs_per_s": n / seconds, "row": a.row_size()}


STEPS: dict[str, Callable[..., dict[str, Any]]] = {
    "enqueue": step_enqueue,
    "prefill": step_prefill,
    "process": step_process,
    "latency": step_latency,
    "enqueue_only": step_enqueue_only,
}


def child_main(spec: dict[str, Any]) -> None:
    """Run one step; write its result (or error) as JSON; exit without waiting on threads."""
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    result: dict[str, Any]
    adapter: Adapter | None = None
    try:
        adapter = peers.load(spec["system"])(Resources.from_dict(spec["resources"]))
        result = STEPS[spec["step"]](adapter, **spec["params"], timeout=spec["timeout"])
    except NotSupported as exc:
        result = {"unsupported": str(exc)}
    except BaseException as exc:
        result = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    if adapter is not None:
        try:
            adapter.teardown()
        except Exception as exc:
            result.setdefault("teardown_error", f"{type(exc).__name__}: {exc}")
    result["rss_kb"] = self_rss_kb()
    Path(spec["result_path"]).write_text(json.dumps(result))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # never hang on a library's non-daemon thread


# =============================================================================================
# The driver side: resources, subprocesses, scenarios
# =============================================================================================


class Services:
    """Creates and removes the per-scenario resources: temp dir, PostgreSQL db, Redis db."""

    def __init__(self, pg_url: str, redis_url: str) -> None:
        self.pg_url = pg_url
        self.redis_url = redis_url
        self._seq = 0
        self.undropped: list[str] = []

    def _pg_admin(self) -> Any:
        import psycopg

        return psycopg.connect(self.pg_url, autocommit=True, connect_timeout=10)

    def _redis(self) -> Any:
        from redis import Redis

        return Redis.from_url(self.redis_url, socket_timeout=10)

    def check_redis_db_empty(self, force: bool) -> None:
        try:
            with contextlib.closing(self._redis()) as r:
                keys = int(r.dbsize())
        except Exception as exc:  # the Redis systems will report the error
            say(f"Redis {self.redis_url} unreachable: {exc}")
            return
        if keys and not force:
            sys.exit(
                f"Redis {self.redis_url} holds {keys} keys; this benchmark flushes that db. "
                "Pick an empty db number with --redis-url or pass --force-redis-flush."
            )

    def provision(self, needs: frozenset[str]) -> Resources:
        tmpdir = tempfile.mkdtemp(prefix="lfbench-")
        pg_url = redis_url = None
        try:
            if "postgres" in needs:
                self._seq += 1
                name = f"lfbench_{os.getpid()}_{self._seq}"
                with self._pg_admin() as conn:
                    conn.execute(f'CREATE DATABASE "{name}"')
                parts = urlsplit(self.pg_url)
                pg_url = urlunsplit(parts._replace(path="/" + name))
            if "redis" in needs:
                with contextlib.closing(self._redis()) as r:
                    r.flushdb()
                redis_url = self.redis_url
        except BaseException:
            self.deprovision(Resources(tmpdir, pg_url, redis_url))
            raise
        return Resources(tmpdir, pg_url, redis_url)

    def deprovision(self, res: Resources) -> None:
        if res.pg_url is not None:
            name = urlsplit(res.pg_url).path.lstrip("/")
            if not self._drop(name, attempts=3):
                self.undropped.append(name)
        if res.redis_url is not None:
            try:
                with contextlib.closing(self._redis()) as r:
                    r.flushdb()
                    # A killed RQ worker's fork-per-job child has its own process group and
                    # may still write its result: flush once more after it is gone.
                    time.sleep(0.5)
                    r.flushdb()
            except Exception as exc:
                log.warning("cleanup failed: flush %s: %s", res.redis_url, exc)
        shutil.rmtree(res.tmpdir, ignore_errors=True)

    def _drop(self, name: str, attempts: int) -> bool:
        for attempt in range(attempts):
            try:
                with self._pg_admin() as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                return True
            except Exception as exc:
                if attempt == attempts - 1:
                    log.warning("cleanup failed: drop database %s: %s", name, exc)
                else:
                    time.sleep(2)
        return False

    def drop_leftovers(self) -> list[str]:
        """Retry the databases that could not be dropped (PostgreSQL was down); returns the
        ones still there."""
        self.undropped = [name for name in self.undropped if not self._drop(name, attempts=15)]
        return self.undropped


def run_child(
    system: str, step: str, params: dict[str, Any], res: Resources, budget: float
) -> dict[str, Any]:
    """One step in a fresh subprocess (its own process group), bounded by ``budget`` seconds."""
    result_path = Path(res.tmpdir) / f"result-{uuid.uuid4().hex}.json"
    spec = {
        "system": system, "step": step, "params": params, "resources": res.to_dict(),
        "timeout": budget, "result_path": str(result_path),
    }  # fmt: skip
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)]
    proc = subprocess.Popen(
        cmd,
        env=child_env(),
        cwd=REPO_DIR,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # the child and its worker processes share one group
    )
    hard_limit = budget + 60  # the child bounds its own waits by `budget`; this is the backstop
    killed = False
    try:
        output, _ = proc.communicate(timeout=hard_limit)
    except subprocess.TimeoutExpired:
        killed = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
    finally:
        # Worker processes the child could not reap are still in its group: end them too,
        # and let them go before the driver drops their storage.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                os.killpg(proc.pid, 0)  # ProcessLookupError once the group is empty
                time.sleep(0.05)
    text = output.decode(errors="replace")
    if ARGS is not None and ARGS.verbose and text.strip():
        sys.stderr.write(text)
    if killed:
        return {"error": f"killed after {hard_limit:.0f} s", "output": text[-3000:]}
    try:
        result: dict[str, Any] = json.loads(result_path.read_text())
    except (OSError, ValueError):
        return {"error": f"no result (exit code {proc.returncode})", "output": text[-3000:]}
    if "error" in result:
        result["output"] = text[-3000:]
    return result


def run_group(
    services: Services, system: str, cls: type[Adapter], steps: list[tuple[str, dict[str, Any]]]
) -> dict[str, Any]:
    """Steps sharing one set of fresh resources; returns the last step's result."""
    try:
        res = services.provision(cls.needs)
    except Exception as exc:
        say(f"  {system}: ERROR preparing storage: {exc}")
        return {"error": f"preparing storage: {type(exc).__name__}: {exc}"}
    try:
        result: dict[str, Any] = {}
        earlier: dict[str, Any] = {}
        for step, params in steps:
            if result:
                earlier[result.pop("step")] = result
            result = run_child(system, step, params, res, budget(step, params))
            result["step"] = step
            if "error" in result:
                say(f"  {system} {step}: ERROR {result['error']}")
            if "error" in result or "unsupported" in result:
                break
        return {**result, **earlier}
    finally:
        services.deprovision(res)


def budget(step: str, p: dict[str, Any]) -> float:
    """Seconds a step may take before it is reported as an error (generous: 2-core boxes)."""
    if ARGS is not None and ARGS.timeout:
        return float(ARGS.timeout)
    if step == "enqueue":
        return 120 + (p["one"] + p["bulk"]) * 0.02
    if step == "prefill":
        return 120 + p["n"] * 0.02
    if step == "process":
        return 120 + p["n"] * (0.5 if p.get("slow") else 0.1)
    if step == "latency":
        return 60 + p["count"] * 0.5
    return 120 + p["n"] * 0.01


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def median_run(runs: list[dict[str, Any]], key: str = "jobs_per_s") -> dict[str, Any]:
    """The run with the median ``key`` (the lower one for an even count), or the error."""
    good = [r for r in runs if "error" not in r and "unsupported" not in r]
    if not good:
        return runs[0]
    good.sort(key=lambda r: r[key])
    chosen = dict(good[(len(good) - 1) // 2])
    if len(runs) > 1:
        chosen["all"] = [r.get(key) for r in runs]
    failed = [r["error"] for r in runs if "error" in r]
    if failed:  # reported in the notes: a median of fewer runs than asked
        chosen["failed_runs"] = failed
    return chosen


def bench_system(services: Services, system: str, args: argparse.Namespace) -> dict[str, Any]:
    try:
        cls = peers.load(system)
    except Exception as exc:  # a peer that cannot even be imported
        return {"system": system, "error": f"import failed: {type(exc).__name__}: {exc}"}
    out: dict[str, Any] = {
        "system": system, "storage": cls.storage, "workers": cls.worker_model,
        "bulk_api": cls.bulk_api, "notes": list(cls.notes),
    }  # fmt: skip
    n = args.n

    def group(steps: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
        return run_group(services, system, cls, steps)

    # 1, 2: enqueue one at a time, then the bulk API (same process: the enqueuer's RSS).
    if "enqueue" in args.scenarios:
        runs = [group([("enqueue", {"one": args.one, "bulk": n})]) for _ in range(args.repeat)]
        good = [r for r in runs if "error" not in r]
        out["enqueue_one"] = median_run([r.get("one", r) for r in runs])
        out["enqueue_bulk"] = median_run([r.get("bulk", r) for r in runs])
        if good:
            out["enqueuer_rss_kb"] = max(r["rss_kb"] for r in good)
        say(f"  {system} enqueue: one {per_s(out['enqueue_one'])}, "
            f"bulk {per_s(out['enqueue_bulk'])}")  # fmt: skip

    # 3, 5: processing N queued jobs (prefilled by another process: clean worker RSS).
    if "process" in args.scenarios:
        steps = [("prefill", {"n": n, "kind": "noop"}), ("process", {"n": n})]
        out["processing"] = median_run([group(steps) for _ in range(args.repeat)])
        say(f"  {system} processing {n:,}: {per_s(out['processing'])}")

    # 4: idle latency, per worker placement.
    if "latency" in args.scenarios:
        out["latency"] = {}
        for placement in cls.placements:
            params = {"placement": placement, "count": args.probes, "seed": args.seed}
            out["latency"][placement] = result = group([("latency", params)])
            say(f"  {system} latency ({placement}): {fmt_latency(result)}")

    # Variants compared as rounds of adjacent runs, each round in the reverse order of the
    # last (AB, BA, AB…). This VM's speed drifts by a quarter within minutes, several times
    # the differences measured here: a median of per-round changes cancels the drift, medians
    # taken apart do not.
    def rounds(kinds: list[str], jobs: int, slow: bool) -> dict[str, list[dict[str, Any]]]:
        runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
        for k in range(2 * args.repeat):
            for kind in kinds[:: 1 if k % 2 == 0 else -1]:
                layout, capped, _ = kind.partition(CAPPED)
                process: dict[str, Any] = {"n": jobs, "slow": slow}
                if capped:
                    process["claim_cap"] = KEYS * KEY_LIMIT
                steps = [("prefill", {"n": jobs, "kind": layout}), ("process", process)]
                runs[kind].append(group(steps))
        return runs

    def compared(kinds: list[str], jobs: int, slow: bool) -> dict[str, Any]:
        """Each kind's median, and its paired change against the first kind."""
        runs = rounds(kinds, jobs, slow)
        result: dict[str, Any] = {kind: median_run(results) for kind, results in runs.items()}
        result["paired"] = {
            kind: paired_change(runs[kinds[0]], runs[kind], "jobs_per_s") for kind in kinds[1:]
        }
        return result

    # 6: a limit of one running job per company, on each system that has such a limit
    # (ledgerflow's concurrency_limit=1, Procrastinate's lock), against the same jobs without.
    # Peers run --peer-keyed-jobs: Procrastinate's fetch slows as each lock's line grows.
    # Rounds of their own, with their own limit-off runs, though ledgerflow's limit-2 rounds
    # below run those too: in one round of all six kinds, a variant's run would lie up to five
    # runs from the limit-off one it is paired with, and the drift would no longer cancel.
    if "keyed" in args.scenarios and cls.one_at_a_time_per_key:
        jobs = n if system.startswith("ledgerflow") else args.peer_keyed_jobs
        out["keyed_one"] = one = {"jobs": jobs, **compared(ONE_AT_A_TIME_KINDS, jobs, True)}
        say(f"  {system} {jobs:,} no-op jobs of {KEYS} companies, one at a time per company "
            f"vs no limit: {fmt_change(one['paired']['keyed-1'])} mixed, "
            f"{fmt_change(one['paired']['keyed-1-blocks'])} in blocks")  # fmt: skip

    if not system.startswith("ledgerflow"):
        return out

    # 7: the per-company limit on (KEYS companies as keys, default limit 2) vs off (the same
    # companies' jobs), with the jobs arriving mixed, and in one block per company. The limit
    # lets at most KEYS * KEY_LIMIT jobs be claimed at once, fewer than a claim of short jobs
    # takes without it: "capped" is the limit-off run with its claims cut to that many, which
    # tells that part of the cost from the work of the fair claim itself.
    if "keyed" in args.scenarios:
        out["keyed"] = keyed = compared(NOOP_KEYED_KINDS, n, False)
        capped, mixed, blocks = (fmt_change(keyed["paired"][k]) for k in NOOP_KEYED_KINDS[1:])
        say(f"  {system} {n:,} no-op jobs of {KEYS} companies, limit on vs off: {mixed} "
            f"mixed, {blocks} in blocks; claims capped, limit off: {capped}")  # fmt: skip
        # The same with jobs of ~1 ms, the shortest a real job gets.
        out["keyed_short"] = short = compared(SHORT_KEYED_KINDS, args.short_jobs, True)
        say(f"  {system} {args.short_jobs:,} ~1 ms jobs over {KEYS} keys: "
            f"{fmt_change(short['paired']['short-keyed'])} mixed, "
            f"{fmt_change(short['paired']['short-keyed-blocks'])} in blocks")  # fmt: skip
    # 8: progress cost: the same jobs without and with ctx.progress.
    if "progress" in args.scenarios:
        jobs = args.progress_jobs
        work = rounds(["work", "work-progress"], jobs, True)
        out["progress"] = {kind: median_run(results) for kind, results in work.items()}
        out["progress"]["paired"] = {
            key: paired_change(work["work"], work["work-progress"], key)
            for key in ("jobs_per_s", "cpu_ms_per_job")
        }
        # Both variants alternating in one run: each job's own thread CPU, free of the drift.
        steps = [("prefill", {"n": 2 * jobs, "kind": "work-alternating"}),
                 ("process", {"n": 2 * jobs, "slow": True, "task_cpu": True})]  # fmt: skip
        out["progress"]["alternating"] = group(steps)
        task_cpu = fmt_task_cpu(out["progress"]["alternating"].get("task_cpu"))
        say(f"  {system} {jobs} x {WORK_ITERATIONS}-step jobs: "
            f"{per_s(out['progress']['work'])} plain, "
            f"{per_s(out['progress']['work-progress'])} with progress; task CPU "
            f"{task_cpu[2]}, from the fastest steps {task_cpu[3]}")  # fmt: skip
    return out


# =============================================================================================
# Machine info and formatting
# =============================================================================================


def machine_info(services: Services, needs: set[str]) -> dict[str, Any]:
    info: dict[str, Any] = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "ram_gib": _mem_total_gib(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "tmp_fs": _fs_type(tempfile.gettempdir()),
        "loadavg_start": os.getloadavg(),
        "git": _git_revision(),
        "packages": {
            p: _version(p)
            for p in ("ledgerflow", "huey", "rq", "procrastinate", "redis", "psycopg")
        },
    }
    if "postgres" in needs:
        try:
            with services._pg_admin() as conn:
                rows = conn.execute(
                    "SELECT name, setting FROM pg_settings WHERE name IN"
                    " ('server_version', 'fsync', 'synchronous_commit', 'shared_buffers')"
                ).fetchall()
            info["postgresql"] = dict(rows)
        except Exception as exc:
            info["postgresql"] = {"error": str(exc)}
    if "redis" in needs:
        try:
            with contextlib.closing(services._redis()) as r:
                redis_info = {"version": r.info("server")["redis_version"]}
                with contextlib.suppress(Exception):  # CONFIG may be disabled
                    redis_info.update(r.config_get("appendonly"))
                    redis_info.update(r.config_get("save"))
            info["redis"] = redis_info
        except Exception as exc:
            info["redis"] = {"error": str(exc)}
    return info


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _mem_total_gib() -> float | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    return None


def _fs_type(path: str) -> str:
    best, kind = "", "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text().splitlines():
            _, mount, fstype, *_ = line.split()
            if path.startswith(mount) and len(mount) > len(best):
                best, kind = mount, fstype
    return f"{path} on {kind}"


def _git_revision() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_DIR, capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def fmt_rate(r: dict[str, Any] | None) -> str:
    if not r:
        return DASH
    if "unsupported" in r:
        return DASH
    if "error" in r:
        return "error"
    v = float(r["jobs_per_s"])
    return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}"


def per_s(r: dict[str, Any] | None) -> str:
    text = fmt_rate(r)
    return text if text in ("error", DASH) else f"{text} jobs/s"


def fmt_cpu(r: dict[str, Any]) -> str:
    return f"{r['cpu_ms_per_job']:.1f}" if "cpu_ms_per_job" in r else DASH


def fmt_ms(v: float) -> str:
    return f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 100 else f"{v:,.0f}"


def fmt_latency(r: dict[str, Any]) -> str:
    if "error" in r:
        return "error"
    return f"p50 {fmt_ms(r['p50_ms'])} ms, p99 {fmt_ms(r['p99_ms'])} ms"


def fmt_mb(kb: float | None) -> str:
    return DASH if not kb else f"{kb / 1024:.0f}"


def worker_rss_kb(r: dict[str, Any] | None) -> float | None:
    """Workers in their own processes: their sum; workers as threads: the process itself."""
    if not r or "error" in r or "rss_kb" not in r:
        return None
    spawned = r.get("worker_rss_kb") or []
    return float(sum(spawned)) if spawned else float(r["rss_kb"])


def table(header: list[str], rows: list[list[str]], right: int = 1) -> list[str]:
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---" if i < right else "---:" for i in range(len(header))) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def report(info: dict[str, Any], results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [f"## Job queue benchmark, {info['date'][:10]}", ""]
    lines += machine_lines(info)
    lines += [
        f"- Workload: {args.n:,} no-op jobs per processing run; {args.one:,} single enqueue "
        f"calls; {WORKERS} workers per system; median of {args.repeat} run(s) per number; "
        f"each scenario in a fresh process on fresh storage.",
        f"- Command: `{' '.join(['python', 'bench/throughput.py', *sys.argv[1:]])}`",
        "",
    ]
    rows = []
    for r in results:
        name = f"**{r['system']}**" if r["system"].startswith("ledgerflow") else r["system"]
        if "storage" not in r:  # the adapter could not even be imported
            rows.append([name, "error", "", "", "", "", "", ""])
            continue
        rows.append([
            name, r["storage"], r["workers"],
            fmt_rate(r.get("enqueue_one")), fmt_rate(r.get("enqueue_bulk")),
            fmt_rate(r.get("processing")),
            fmt_mb(r.get("enqueuer_rss_kb")), fmt_mb(worker_rss_kb(r.get("processing"))),
        ])  # fmt: skip
    lines += table(
        ["System", "Storage", "Workers", "Enqueue one (jobs/s)", "Enqueue bulk (jobs/s)",
         "Processing (jobs/s)", "Enqueuer peak RSS (MiB)", "Worker peak RSS (MiB)"],
        rows, right=3,
    )  # fmt: skip
    rows = []
    for r in results:
        for placement, lat in r.get("latency", {}).items():
            if "error" in lat:
                rows.append([r["system"], placement, "error", "error", "error"])
            else:
                rows.append([
                    r["system"], placement, fmt_ms(lat["p50_ms"]), fmt_ms(lat["p99_ms"]),
                    fmt_ms(lat["max_ms"]),
                ])  # fmt: skip
    if rows:
        lines += [
            "",
            f"Idle enqueue→start latency: workers idle and waiting, {args.probes} jobs enqueued "
            f"one at a time {LATENCY_GAP[0] * 1000:.0f}–{LATENCY_GAP[1] * 1000:.0f} ms apart.",
            "",
        ]
        lines += table(["System", "Workers", "p50 (ms)", "p99 (ms)", "max (ms)"], rows, right=2)
    lines += one_at_a_time_lines(results, args)
    lines += ledgerflow_lines(results, args)
    lines += ["", "Notes:", ""]
    lines += notes(results)
    return "\n".join(lines) + "\n"


def machine_lines(info: dict[str, Any]) -> list[str]:
    pg = info.get("postgresql", {})
    redis = info.get("redis", {})
    pkgs = ", ".join(f"{k} {v}" for k, v in info["packages"].items())
    lines = [
        f"- Machine: {info['cpu']}, {info['logical_cpus']} logical CPUs "
        f"({info['usable_cpus']} usable), {info['ram_gib']} GiB RAM; {info['os']}",
        f"- Python {info['python']}; SQLite {info['sqlite']}; temp files: {info['tmp_fs']}",
    ]
    if pg:
        lines.append(
            f"- PostgreSQL {pg.get('server_version', pg.get('error', '?'))} "
            f"(fsync={pg.get('fsync', '?')}, synchronous_commit="
            f"{pg.get('synchronous_commit', '?')}, shared_buffers={pg.get('shared_buffers', '?')}"
            " × 8 kB)"
        )
    if redis:
        lines.append(
            f"- Redis {redis.get('version', redis.get('error', '?'))} "
            f"(appendonly={redis.get('appendonly', '?')}, save={redis.get('save', '?')!r})"
        )
    lines.append(f"- Packages: {pkgs}; ledgerflow git {info['git']}")
    lines.append(
        f"- Load average at start: {'/'.join(f'{x:.2f}' for x in info['loadavg_start'])}; "
        f"at end: {'/'.join(f'{x:.2f}' for x in info.get('loadavg_end', ()))}"
    )
    return lines


KEYED_COLUMNS = ["System", "Limit off (jobs/s)", "Limit on, mixed (jobs/s)", "Change",
                 "Limit on, blocks (jobs/s)", "Change"]  # fmt: skip


def one_at_a_time_lines(results: list[dict[str, Any]], args: argparse.Namespace) -> list[str]:
    rows = []
    for r in results:
        one = r.get("keyed_one")
        if not one or "paired" not in one:
            continue
        rows.append([
            r["system"], f"{one['jobs']:,}", fmt_rate(one["companies"]),
            fmt_rate(one["keyed-1"]), fmt_change(one["paired"]["keyed-1"]),
            fmt_rate(one["keyed-1-blocks"]), fmt_change(one["paired"]["keyed-1-blocks"]),
        ])  # fmt: skip
    if not rows:
        return []
    return [
        "", f"One running job at a time per company, on the systems that can hold a key to it "
        "(ledgerflow's `concurrency_limit=1`, Procrastinate's `lock`), against the same jobs "
        f"without: no-op jobs of {KEYS} companies, mixed (interleaved) and in blocks (each "
        "company's jobs enqueued together). ledgerflow runs the processing scenario's "
        f"{args.n:,} jobs; a peer runs {args.peer_keyed_jobs:,} (Procrastinate's fetch reads "
        "each lock's earlier jobs, so it slows as the lines grow). Changes are the median over "
        f"{2 * args.repeat} rounds of adjacent runs, each round in the reverse order of the "
        "last (each round's change in brackets, in %).", "",
        *table([KEYED_COLUMNS[0], "Jobs", *KEYED_COLUMNS[1:]], rows, right=1),
    ]  # fmt: skip


def ledgerflow_lines(results: list[dict[str, Any]], args: argparse.Namespace) -> list[str]:
    lines: list[str] = []
    keyed = [r for r in results if "keyed" in r]
    if keyed:
        lines += ["", f"ledgerflow only: per-company limit ({args.n:,} no-op jobs of {KEYS} "
                  "companies, each job's company in its meta as the API puts it; limit on: "
                  f"the company is also the concurrency key, limit {KEY_LIMIT}) vs the same "
                  "jobs without the limit. Mixed: the companies' jobs arrive interleaved, as "
                  "from many users over time. Blocks: each company's jobs are enqueued at once, "
                  "one company after another, so a claim takes rows far apart in the table and "
                  f"its indexes, and the last companies left run at most {KEY_LIMIT} jobs each. "
                  f"With the limit, at most {KEYS * KEY_LIMIT} jobs can be claimed at once, "
                  "fewer than one claim of no-op jobs takes without it; \"claims capped\" is the "
                  f"limit-off run with every claim cut to {KEYS * KEY_LIMIT}: the part of the "
                  "cost that comes from the cap, whatever computes it. In rounds of adjacent "
                  "runs (each round in the reverse order of the last): changes are the median over "
                  f"{2 * args.repeat} rounds (each round's in brackets, in %), rates the median "
                  "of all runs.", ""]  # fmt: skip
        rows = []
        for r in keyed:
            runs = r["keyed"]
            if "paired" not in runs:
                continue
            paired = runs["paired"]
            rows.append([
                r["system"], fmt_rate(runs["companies"]),
                fmt_rate(runs[NOOP_KEYED_KINDS[1]]), fmt_change(paired[NOOP_KEYED_KINDS[1]]),
                fmt_rate(runs["keyed"]), fmt_change(paired["keyed"]),
                fmt_rate(runs["keyed-blocks"]), fmt_change(paired["keyed-blocks"]),
            ])  # fmt: skip
        lines += table(
            [*KEYED_COLUMNS[:2], "Limit off, claims capped (jobs/s)", "Change",
             *KEYED_COLUMNS[2:]],
            rows,
        )  # fmt: skip
        lines += ["", f"The same with {args.short_jobs:,} jobs of {SHORT_ITERATIONS} units of "
                  "work (~1 ms; no cap: the prefetch keeps claims of such jobs far under "
                  f"{KEYS * KEY_LIMIT}), in rounds as above.", ""]  # fmt: skip
        rows = []
        for r in keyed:
            short = r.get("keyed_short")
            if not short:
                continue
            rows.append([
                r["system"], fmt_rate(short["short-companies"]), fmt_rate(short["short-keyed"]),
                fmt_change(short["paired"]["short-keyed"]),
                fmt_rate(short["short-keyed-blocks"]),
                fmt_change(short["paired"]["short-keyed-blocks"]),
            ])  # fmt: skip
        lines += table(KEYED_COLUMNS, rows)
    progress = [r for r in results if "progress" in r]
    if progress:
        units = [r["progress"]["work"].get("prefill", {}).get("unit_us") for r in progress]
        unit = next((u for u in units if u), None)
        lines += [
            "",
            f"ledgerflow only: progress cost. {args.progress_jobs} jobs of {WORK_ITERATIONS} "
            f"steps of fixed arithmetic ({UNIT_STEPS} operations, "
            f"{f'{unit:.0f} µs here' if unit else '~20 µs'}) calling "
            f'`ctx.progress(i / 10, f"{{i}}/{WORK_ITERATIONS}")` every step vs never. CPU/job '
            "is the worker process's CPU time per job: unlike jobs/s it barely moves with other "
            f"load on the machine. Changes are the median over {2 * args.repeat} pairs of "
            "adjacent runs (each pair's change in brackets, in %); the columns of rates are "
            "medians of all runs of a variant. The last four columns come from one more run "
            f"of {2 * args.progress_jobs} jobs, the two variants alternating in one queue: the "
            "median CPU time of the job's own thread (what `ctx.progress` costs the task; "
            "the writes happen on the worker's coordinator thread), and the same estimated "
            "from each job's fastest 50 steps: other threads and the VM's stolen time only "
            "ever add to a thread's CPU time, in bursts, so the fastest steps show what the "
            "steps themselves cost.",
            "",
        ]
        rows = []
        for r in progress:
            plain, prog = r["progress"]["work"], r["progress"]["work-progress"]
            rows.append([
                r["system"], fmt_rate(plain), fmt_rate(prog),
                fmt_change(r["progress"].get("paired", {}).get("jobs_per_s")),
                fmt_cpu(plain), fmt_cpu(prog),
                fmt_change(r["progress"].get("paired", {}).get("cpu_ms_per_job")),
                *fmt_task_cpu(r["progress"].get("alternating", {}).get("task_cpu")),
            ])  # fmt: skip
        lines += table(
            ["System", "No progress (jobs/s)", "Progress every step (jobs/s)",
             "Throughput change", "CPU/job, no progress (ms)", "CPU/job, progress (ms)",
             "CPU change", "Task CPU/job, alternating: no progress (ms)", "… progress (ms)",
             "Task CPU change", "… from the fastest 50 steps"],
            rows,
        )  # fmt: skip
    return lines


def paired_change(
    base: list[dict[str, Any]], other: list[dict[str, Any]], key: str
) -> dict[str, Any] | None:
    """The median over adjacent runs of ``other[key] / base[key] - 1``, with every pair's."""
    pairs = [
        b[key] / a[key] - 1
        for a, b in zip(base, other, strict=True)
        if isinstance(a.get(key), float | int) and isinstance(b.get(key), float | int) and a[key]
    ]
    if not pairs:
        return None
    return {"median": statistics.median(pairs), "pairs": pairs}


def fmt_change(paired: dict[str, Any] | None) -> str:
    if paired is None:
        return DASH
    spread = ", ".join(f"{p * 100:+.0f}" for p in paired["pairs"])
    return f"{paired['median'] * 100:+.1f} % (pairs: {spread})"


def fmt_task_cpu(cpu: dict[str, Any] | None) -> list[str]:
    if not cpu:
        return [DASH] * 4
    fastest = cpu.get("fastest_chunk")
    return [f"{cpu['plain_ms']:.2f}", f"{cpu['progress_ms']:.2f}", f"{cpu['change'] * 100:+.1f} %",
            f"{fastest['change'] * 100:+.1f} %" if fastest else DASH]  # fmt: skip


def notes(results: list[dict[str, Any]]) -> list[str]:
    lines = []
    for name in peers.NOT_COVERED:
        state = "installed but" if importlib.util.find_spec(name) else "not installed,"
        lines.append(f"- {name.capitalize()}: {state} not benchmarked (no adapter).")
    lines += [
        "- Throughput: seconds from starting the workers (library already imported, workers "
        "connected for RQ) until the last job is counted complete (polled every 50 ms, every "
        "2 ms near the end): rows in `lf_jobs`/`procrastinate_jobs`, RQ's FinishedJobRegistry, "
        "huey's task side effect.",
        "- Latency: ledgerflow = `started_at − created_at` of the job row (stamped at claim); "
        "peers = `time.time()` at task start minus the time taken just before the enqueue call.",
        "- Durability differs: Redis keeps what its persistence settings above say; ledgerflow's "
        "SQLite commits with synchronous=NORMAL (no fsync per commit; survives process crashes, "
        "not power loss), huey's with synchronous=FULL; PostgreSQL as configured above.",
        "- Peak RSS = the process's VmHWM (not ru_maxrss, which on Linux keeps the parent's "
        "RSS across fork+exec); workers in their own processes are summed.",
    ]
    seen = set()
    for r in results:
        for note in r.get("notes", []):
            if note not in seen:
                seen.add(note)
                lines.append(f"- {note}")
    for r in results:
        for what, value in error_items(r):
            lines.append(f"- **{r['system']} {what}: error** — {value}")
    return lines


def error_items(r: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    if "error" in r and "enqueue_one" not in r:
        found.append(("setup", r["error"]))
    keys = ("enqueue_one", "enqueue_bulk", "processing")
    runs = {key: r.get(key) for key in keys}
    for group in ("keyed", "keyed_one", "keyed_short", "progress"):
        runs.update({f"{group} ({kind})": run for kind, run in r.get(group, {}).items()})
    for key, run in runs.items():
        if not isinstance(run, dict):
            continue
        if "error" in run:
            found.append((key, run["error"]))
        for error in run.get("failed_runs", []):
            found.append((f"{key}, one of {len(run['all'])} runs", f"{error} (median of the rest)"))
    for placement, lat in r.get("latency", {}).items():
        if "error" in lat:
            found.append((f"latency ({placement})", lat["error"]))
    return found


def enqueue_only_report(info: dict[str, Any], rows: list[dict[str, Any]], n: int) -> str:
    lines = [f"## ledgerflow bulk enqueue of {n:,} jobs, {info['date'][:10]}", ""]
    lines += machine_lines(info)
    lines.append("")
    body = []
    for r in rows:
        if "error" in r:
            body.append([r["system"], "error", "", "", "", "", "", ""])
            continue
        row = r["row"]
        every = ", ".join(f"{rate:,.0f}" for rate in r.get("all", []) if rate)
        body.append([
            r["system"], f"{r['seconds']:.2f}", fmt_rate(r), every, fmt_mb(r["rss_kb"]),
            f"{row['avg_row_bytes']:.0f}", f"{row['table_bytes_per_row']:.0f}",
            f"{row['total_bytes_per_row']:.0f}",
        ])  # fmt: skip
    lines += table(
        ["Engine", "Seconds", "Jobs/s (median)", "All runs", "Enqueuer peak RSS (MiB)",
         "Avg row (bytes)",
         "Table bytes/row", "Table + indexes bytes/row"],
        body,
    )  # fmt: skip
    lines += [
        "",
        "Rows are pending no-op jobs. Avg row: PostgreSQL `avg(pg_column_size(row))`, SQLite "
        "dbstat payload / rows. Bytes/row: pages (PostgreSQL `pg_table_size`, "
        "`pg_total_relation_size`; SQLite dbstat) divided by rows.",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"- **{r['system']}: error** — {r['error']}")
    return "\n".join(lines) + "\n"


# =============================================================================================
# Main
# =============================================================================================

ARGS: argparse.Namespace | None = None


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--systems",
        default=",".join(peers.SYSTEMS),
        help=f"comma-separated, from: {', '.join(peers.SYSTEMS)} (default: all)",
    )
    p.add_argument("--n", type=int, help="jobs per processing run (default 10000; quick 1000)")
    p.add_argument("--one", type=int, help="single enqueue calls timed (default 2000; quick 200)")
    p.add_argument("--probes", type=int, help="latency probes (default 200; quick 50)")
    p.add_argument(
        "--progress-jobs", type=int, help="jobs per progress-cost run (default 250; quick 50)"
    )
    p.add_argument(
        "--short-jobs",
        type=int,
        help="~1 ms jobs per run of the per-company limit's short-job rounds (default 2000)",
    )
    p.add_argument(
        "--peer-keyed-jobs",
        type=int,
        help="jobs per run of a peer's one-at-a-time-per-company rounds (default 2000; quick 200)",
    )
    p.add_argument(
        "--repeat", type=int, help="runs per throughput number, median shown (default 3; quick 1)"
    )
    p.add_argument("--quick", action="store_true", help="small smoke run")
    p.add_argument(
        "--enqueue-only",
        type=int,
        metavar="N",
        help="only: ledgerflow enqueue_many of N jobs per engine, and the stored row size",
    )
    p.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated, from: {', '.join(SCENARIOS)} (default: all)",
    )
    p.add_argument("--seed", type=int, default=1, help="seed of the latency gaps")
    p.add_argument("--pg-url", default=DEFAULT_PG, help="admin URL (databases are created here)")
    p.add_argument("--redis-url", default=DEFAULT_REDIS, help="a dedicated db, flushed by the run")
    p.add_argument("--force-redis-flush", action="store_true", help="flush it even if not empty")
    p.add_argument("--timeout", type=float, help="seconds per scenario step (default: by size)")
    p.add_argument("--out", type=Path, default=BENCH_DIR / "results", help="JSON output dir")
    p.add_argument("--verbose", action="store_true", help="echo the subprocesses' output")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    quick = args.quick
    args.n = args.n or (1000 if quick else 10_000)
    args.one = args.one or (200 if quick else 2000)
    args.probes = args.probes or (50 if quick else 200)
    args.progress_jobs = args.progress_jobs or (50 if quick else 250)
    args.short_jobs = args.short_jobs or (200 if quick else 2000)
    args.peer_keyed_jobs = args.peer_keyed_jobs or (200 if quick else 2000)
    args.repeat = args.repeat or (1 if quick else 3)
    args.systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = [s for s in args.systems if s not in peers.SYSTEMS]
    if unknown:
        p.error(f"unknown systems {unknown}; choose from {', '.join(peers.SYSTEMS)}")
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        p.error(f"unknown scenarios {unknown}; choose from {', '.join(SCENARIOS)}")
    counts = (args.n, args.one, args.probes, args.progress_jobs, args.short_jobs, args.repeat)
    if min(*counts, args.peer_keyed_jobs) < 1:
        p.error("counts must be positive")
    return args


def output_path(out_dir: Path, stem: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{stem}.json"
    k = 2
    while path.exists():
        path = out_dir / f"{stem}-{k}.json"
        k += 1
    return path


def main(argv: list[str]) -> int:
    global ARGS
    args = ARGS = parse_args(argv)
    if args.child:
        child_main(json.loads(args.child))
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # Ctrl-C and SIGTERM unwind through the cleanup (subprocess groups, databases, Redis db),
    # also when started in the background (where a shell leaves SIGINT ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    ignored = sorted(k for k in LEDGERFLOW_KNOBS if k in os.environ)
    if ignored:
        say(f"(ignoring {', '.join(ignored)} from the environment: benchmarks use defaults)")
    services = Services(args.pg_url, args.redis_url)
    systems = args.systems
    if args.enqueue_only:
        systems = [s for s in systems if s.startswith("ledgerflow")]
    classes = {}
    for s in systems:
        with contextlib.suppress(Exception):  # an import error is reported per system
            classes[s] = peers.load(s)
    needs = {need for cls in classes.values() for need in cls.needs}
    if "redis" in needs:
        services.check_redis_db_empty(args.force_redis_flush)
    info = machine_info(services, needs)
    today = dt.date.today().isoformat()
    started = time.monotonic()

    try:
        if args.enqueue_only:
            runs: dict[str, list[dict[str, Any]]] = {s: [] for s in systems}
            for k in range(args.repeat):  # engines take turns: drift hits them alike
                for s in systems:
                    say(f"[{s}] enqueue_many of {args.enqueue_only:,} jobs ({k + 1})")
                    steps = [("enqueue_only", {"n": args.enqueue_only})]
                    runs[s].append(run_group(services, s, classes[s], steps))
            rows = [{"system": s, **median_run(r)} for s, r in runs.items()]
            info["loadavg_end"] = os.getloadavg()
            text = enqueue_only_report(info, rows, args.enqueue_only)
            data: dict[str, Any] = {"machine": info, "args": vars_json(args), "results": rows}
            path = output_path(args.out, f"throughput-enqueue-only-{today}")
        else:
            suffix = "-quick" if args.quick else ""
            path = output_path(args.out, f"throughput-{today}{suffix}")
            results: list[dict[str, Any]] = []
            data = {"machine": info, "args": vars_json(args), "results": results}
            for s in systems:
                say(f"[{s}]")
                results.append(bench_system(services, s, args))
                data["complete"] = False  # so far: kept if the run is stopped half-way
                path.write_text(json.dumps(data, indent=2, default=str) + "\n")
            data["complete"] = True
            info["loadavg_end"] = os.getloadavg()
            text = report(info, results, args)
    finally:
        leftovers = services.drop_leftovers()
        if leftovers:
            say(f"could not drop {', '.join(leftovers)}: drop them by hand "
                f'(DROP DATABASE "…" WITH (FORCE))')  # fmt: skip
    data["seconds"] = time.monotonic() - started
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.write(text)
    say(f"\nwrote {path.relative_to(REPO_DIR) if path.is_relative_to(REPO_DIR) else path} "
        f"({data['seconds']:.0f} s)")  # fmt: skip
    return 0


def _terminate(signum: int, frame: object) -> None:
    say(f"stopped by {signal.Signals(signum).name}: cleaning up")
    raise SystemExit(128 + signum)


def vars_json(args: argparse.Namespace) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
