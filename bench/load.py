"""Load: 1,000 concurrent pollers plus 50 job creations per second for 60 s, then drain.

SQLite: one ``ledgerflow serve`` (its workers in a child process, as by default). PostgreSQL:
two ``ledgerflow serve --workers 0`` API processes on two ports plus one ``ledgerflow worker``
process; pollers and creators are split across both ports. Everything listens on 127.0.0.1.

Pollers are the open-loop keep-alive pollers of ``bench/poll.py`` (each polls one job about once a
second with ``If-None-Match``, as the web page does). Creators are open-loop too: a
``POST /api/jobs/categorize`` is sent every 1/rate seconds whatever the previous ones are doing,
round-robin over 10 companies (the API runs at most 2 jobs per company at once). After the load
the bench waits for every created job to reach a final state and reports how long that took.

Usage: python bench/load.py [--pollers 1000] [--rate 50] [--seconds 60]
       [--engines sqlite postgresql] [--drain-timeout 180]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from categorize import database
from ledgerflow.jobs import Queue
from ledgerflow.server import session_for
from ledgerflow.tenancy import create_user, new_company
from poll import EMAIL, PASSWORD, percentile, poller

COMPANIES = [f"load{i:02d}" for i in range(10)]
SECRET = "load-bench-secret-key-load-bench-secret-key-0123"


@dataclass
class Results:
    engine: str
    api_processes: int
    poll: dict[int, list[float]] = field(default_factory=dict)
    poll_errors: int = 0
    create: list[float] = field(default_factory=list)
    create_statuses: Counter[str] = field(default_factory=Counter)
    job_ids: list[str] = field(default_factory=list)
    seconds: float = 0.0
    finished: Counter[str] = field(default_factory=Counter)
    drain_seconds: float | None = None


def start_process(
    args: list[str], db_url: str, workdir: Path, name: str
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "UPLOAD_DIR": str(workdir / "uploads"),
        "LEDGERFLOW_SECRET_KEY": SECRET,
        "JOB_RATE_LIMIT": "1000000",
        "WORKER_THREADS": "4",
    }
    log = open(workdir / f"{name}.log", "wb")  # noqa: SIM115 (lives as long as the process)
    return subprocess.Popen(
        [sys.executable, "-m", "ledgerflow.cli", "--log-level", "WARNING", *args],
        env=env, cwd=workdir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


def wait_healthy(port: int, process: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"server on port {port} did not start")


def free_ports(count: int) -> list[int]:
    return random.sample(range(20_000, 40_000), count)


async def create_jobs(
    urls: list[str], token: str, rate: float, seconds: float, results: Results
) -> None:
    """Open loop: one POST every 1/rate s, each in its own task, whatever the others do."""
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    clients = [
        httpx.AsyncClient(base_url=u, headers=headers, timeout=60, limits=limits) for u in urls
    ]

    async def create(client: httpx.AsyncClient, company: str) -> None:
        began = time.perf_counter()
        try:
            answer = await client.post(
                "/api/jobs/categorize", json={"company_id": company, "limit": 100}
            )
        except httpx.HTTPError as exc:
            results.create_statuses[type(exc).__name__] += 1
            return
        results.create.append(time.perf_counter() - began)
        results.create_statuses[str(answer.status_code)] += 1
        if answer.status_code == 202:
            results.job_ids.append(answer.json()["job_id"])

    tasks = []
    start = time.perf_counter()
    n = 0
    while start + n / rate < start + seconds:
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        client = clients[n % len(clients)]
        tasks.append(asyncio.create_task(create(client, COMPANIES[n % len(COMPANIES)])))
        n += 1
    await asyncio.gather(*tasks)
    for client in clients:
        await client.aclose()


async def load_phase(
    ports: list[int], token: str, targets: list[str], args: argparse.Namespace, results: Results
) -> None:
    headers = f"Authorization: Bearer {token}\r\n"
    until = time.perf_counter() + args.seconds
    began = time.perf_counter()
    pollers = [
        poller(
            "127.0.0.1",
            ports[i % len(ports)],
            f"/api/jobs/{targets[i % len(targets)]}",
            headers,
            True,
            until,
            results.poll,
        )
        for i in range(args.pollers)
    ]
    creating = create_jobs(
        [f"http://127.0.0.1:{p}" for p in ports], token, args.rate, args.seconds, results
    )
    outcomes = await asyncio.gather(*pollers, creating, return_exceptions=True)
    results.poll_errors = sum(
        o if isinstance(o, int) else 1 for o in outcomes[:-1] if o is not None
    )
    if isinstance(outcomes[-1], BaseException):
        raise outcomes[-1]
    results.seconds = time.perf_counter() - began


def drain(db_url: str, ids: list[str], timeout: float, results: Results) -> None:
    began = time.monotonic()
    with Queue(db_url, migrate=False) as queue:
        while True:
            statuses = Counter(queue.get(i).status for i in ids)
            if all(status.is_final for status in statuses):
                results.drain_seconds = time.monotonic() - began
                break
            if time.monotonic() - began > timeout:
                break
            time.sleep(1.0)
    results.finished = Counter({str(k): v for k, v in statuses.items()})


def run_engine(engine: str, args: argparse.Namespace, tmp: Path) -> Results:
    workdir = tmp / engine
    workdir.mkdir()
    with database(engine, workdir) as db_url:
        with session_for(db_url) as session:
            create_user(session, EMAIL, PASSWORD)
            for company in COMPANIES:
                new_company(session, company, company.title(), EMAIL)
        processes: list[subprocess.Popen[bytes]] = []
        try:
            if engine == "sqlite":
                ports = free_ports(1)
                serve = start_process(["serve", "--port", str(ports[0])], db_url, workdir, "serve")
                processes.append(serve)
                wait_healthy(ports[0], serve)
            else:
                ports = free_ports(2)
                for i, port in enumerate(ports):  # one after the other: each migrates first
                    api = start_process(
                        ["serve", "--port", str(port), "--workers", "0"], db_url, workdir, f"api{i}"
                    )
                    processes.append(api)
                    wait_healthy(port, api)
                processes.append(start_process(["worker"], db_url, workdir, "worker"))
            base = f"http://127.0.0.1:{ports[0]}"
            token = httpx.post(
                f"{base}/api/auth/token", data={"username": EMAIL, "password": PASSWORD}
            ).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            targets = [  # the jobs the pollers follow
                httpx.post(
                    f"{base}/api/jobs/categorize", headers=auth, json={"company_id": c}
                ).json()["job_id"]
                for c in COMPANIES
            ]
            results = Results(engine, len(ports))
            asyncio.run(load_phase(ports, token, targets, args, results))
            drain(db_url, results.job_ids, args.drain_timeout, results)
            return results
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()


def row(r: Results, args: argparse.Namespace) -> str:
    answers = sum(len(v) for v in r.poll.values())
    ok = sum(len(r.poll.get(s, [])) for s in (200, 304))
    poll_all = [x for v in r.poll.values() for x in v]
    created = len(r.job_ids)
    attempts = sum(r.create_statuses.values())
    requests = answers + r.poll_errors + attempts
    errors = (answers - ok) + r.poll_errors + (attempts - r.create_statuses.get("202", 0))
    done = sum(r.finished.values()) - r.finished.get("pending", 0) - r.finished.get("running", 0)
    finished = "yes" if created and done == created else f"no ({done:,}/{created:,})"
    drain = f"{r.drain_seconds:.1f} s" if r.drain_seconds is not None else "—"
    statuses = ", ".join(f"{k} {v:,}" for k, v in sorted(r.finished.items()))
    return (
        f"| {r.engine} | {r.api_processes} | {args.pollers:,} | {args.rate:g}/s "
        f"| {requests / max(r.seconds, 1e-9):,.0f} | {errors / max(requests, 1):.2%} "
        f"| {percentile(poll_all, 0.5) * 1000:.0f} / {percentile(poll_all, 0.99) * 1000:.0f} "
        f"| {percentile(r.create, 0.5) * 1000:.0f} / {percentile(r.create, 0.99) * 1000:.0f} "
        f"| {created:,} | {finished} ({statuses}) | {drain} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pollers", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50, help="job creations per second")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--engines", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--drain-timeout", type=float, default=180)
    parser.add_argument("--keep", type=Path, help="keep the servers' logs in this folder")
    args = parser.parse_args()
    print(
        f"{args.pollers:,} pollers (~1 req/s each, If-None-Match) + {args.rate:g} job creations/s "
        f"for {args.seconds:.0f} s\n"
    )
    print(
        "| engine | API processes | pollers | creations | req/s | error rate "
        "| poll p50 / p99 ms | create p50 / p99 ms | jobs created | all finished | drain |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="lf-load-") as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        for engine in args.engines:
            results = run_engine(engine, args, folder)
            print(row(results, args), flush=True)
            statuses = dict(results.create_statuses)
            codes = {k: len(v) for k, v in sorted(results.poll.items())}
            print(f"  creates: {statuses}; poll answers: {codes}", file=sys.stderr)


if __name__ == "__main__":
    main()
