"""1,000 concurrent pollers of ``GET /api/jobs/{id}`` while CPU-heavy categorize jobs run.

Starts a real ``ledgerflow serve`` (workers in its child process, as by default) on SQLite and
on PostgreSQL, keeps it busy importing and categorizing large bank files, and drives it from
this process with an open-loop load generator: each poller holds one keep-alive connection and
polls one job once a second (with jitter), as the web page and the clients do. Latency is
measured from sending a request to reading its whole answer, for 304 answers (the poller sends
the ETag it last saw) and 200 answers (no ETag), separately, with the API process's CPU time
per answer (user + system, from /proc). In the first two phases the pollers share the running
imports (many pages on a few jobs); in the third each poller has a job of its own: the imports,
and jobs queued behind them (the company's limit holds them), so answers cannot be shared.
Then many SSE streams follow running jobs and the events per second they receive are counted.
The load generator runs on uvloop so that its own cost, which real clients would pay on their
own machines, takes as little of the 2 cores as it can.

Usage: python bench/poll.py [--pollers 1000] [--seconds 20] [--engines sqlite postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import uvloop

sys.path.insert(0, str(Path(__file__).parent))
from categorize import database, write_statement
from ledgerflow import job_types
from ledgerflow.books.chart import add_bank_account
from ledgerflow.jobs import Queue
from ledgerflow.server import session_for
from ledgerflow.tenancy import create_user, new_company

EMAIL, PASSWORD = "bench@example.com", "bench-password"
# (name, which jobs the pollers poll, whether they send If-None-Match)
PHASES = (
    ("etag", "shared", True),
    ("plain", "shared", False),
    ("own", "own", True),
)
PHASE_LABELS = {
    "etag": "If-None-Match, running jobs shared",
    "plain": "no ETag, running jobs shared",
    "own": "If-None-Match, a job each",
}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def poller(
    host: str,
    port: int,
    path: str,
    headers: str,
    etag: bool,
    until: float,
    out: dict[int, list[float]],
) -> int:
    """One keep-alive connection polling ``path`` about once a second; returns errors."""
    reader, writer = await asyncio.open_connection(host, port)
    errors = 0
    known = ""
    await asyncio.sleep(random.uniform(0, 1))
    while time.perf_counter() < until:
        extra = f"If-None-Match: {known}\r\n" if etag and known else ""
        request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{headers}{extra}\r\n"
        began = time.perf_counter()
        writer.write(request.encode())
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        fields = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines[1:] if line)}
        await reader.readexactly(int(fields.get("content-length", "0")))
        out.setdefault(status, []).append(time.perf_counter() - began)
        if status in (200, 304):
            known = fields.get("etag", known)
        else:
            errors += 1
        await asyncio.sleep(random.uniform(0.9, 1.1))
    writer.close()
    return errors


async def poll_phase(
    url: str, token: str, job_ids: list[str], pollers: int, seconds: float, etag: bool
) -> tuple[dict[int, list[float]], int, float]:
    host, port = url.removeprefix("http://").split(":")
    headers = f"Authorization: Bearer {token}\r\n"
    # A full collection of this process's heap (the bench imports the whole app) takes tens
    # of milliseconds, which would be counted as server latency: freeze what exists now.
    gc.collect()
    gc.freeze()
    until = time.perf_counter() + seconds
    latencies: dict[int, list[float]] = {}
    began = time.perf_counter()
    errors = await asyncio.gather(
        *(
            poller(
                host,
                int(port),
                f"/api/jobs/{job_ids[i % len(job_ids)]}",
                headers,
                etag,
                until,
                latencies,
            )
            for i in range(pollers)
        ),
        return_exceptions=True,
    )
    failed = sum(e if isinstance(e, int) else 1 for e in errors)
    return latencies, failed, time.perf_counter() - began


async def sse_phase(url: str, token: str, job_ids: list[str], streams: int, seconds: float) -> int:
    events = 0

    async def follow(job_id: str) -> None:
        nonlocal events
        async with (
            httpx.AsyncClient(timeout=seconds + 10) as client,
            client.stream(
                "GET",
                f"{url}/api/jobs/{job_id}/events",
                headers={"Authorization": f"Bearer {token}"},
            ) as response,
        ):
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    events += 1

    tasks = [asyncio.create_task(follow(job_ids[i % len(job_ids)])) for i in range(streams)]
    await asyncio.sleep(seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return events


def start_server(db_url: str, port: int, workdir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "UPLOAD_DIR": str(workdir / "uploads"),
        "LEDGERFLOW_SECRET_KEY": "bench-secret-key-bench-secret-key-0123456789",
        "JOB_RATE_LIMIT": "100000",
        "WORKER_THREADS": "2",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ledgerflow.cli",
            "--log-level",
            "WARNING",
            "serve",
            "--port",
            str(port),
        ],
        env=env,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.2)


def running_jobs(url: str, auth: dict[str, str], job_ids: list[str]) -> list[str]:
    """Those of ``job_ids`` that are running, once a worker has picked at least one up."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        statuses = {
            i: httpx.get(f"{url}/api/jobs/{i}", headers=auth).json()["status"] for i in job_ids
        }
        busy = [i for i, status in statuses.items() if status == "running"]
        if busy:
            return busy
        time.sleep(0.1)
    raise RuntimeError("no job started within 30 s")


def run_engine(engine: str, args: argparse.Namespace, tmp: Path) -> dict[str, object]:
    with database(engine, tmp) as db_url:
        with session_for(db_url) as session:
            create_user(session, EMAIL, PASSWORD)
            new_company(session, "bench", "Bench Inc", EMAIL)
            add_bank_account(session, "bench", "Checking", "bank", "USD")
        port = random.randint(20_000, 40_000)
        server = start_server(db_url, port, tmp)
        url = f"http://127.0.0.1:{port}"
        try:
            token = httpx.post(
                f"{url}/api/auth/token", data={"username": EMAIL, "password": PASSWORD}
            ).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}

            def start_imports(tag: str) -> list[str]:
                """Large imports (distinct rows, so none are skipped as duplicates)."""
                ids = []
                for i in range(args.jobs):
                    path = tmp / f"{engine}-{tag}-{i}.csv"
                    write_statement(path, args.rows, salt=f"{tag}{i}-")
                    with path.open("rb") as f:
                        answer = httpx.post(
                            f"{url}/api/jobs/upload-and-categorize",
                            headers=auth,
                            data={"company_id": "bench"},
                            files={"file": (path.name, f)},
                            timeout=60,
                        )
                    ids.append(answer.json()["job_id"])
                return ids

            job_ids = start_imports("poll")
            # Jobs queued behind the imports (the company's limit holds them), written in one
            # transaction: over HTTP, each would wait for SQLite's write lock behind the imports'
            # inserts, and the imports would be over before the polls began.
            with Queue(db_url) as queue:
                queued = queue.enqueue_many(
                    job_types.CATEGORIZE,
                    [{"company_id": "bench", "limit": None}] * (args.pollers - len(job_ids)),
                    meta={"company_id": "bench"},
                    concurrency_key="bench",
                )
            results: dict[str, object] = {"engine": engine}
            for phase, polled, etag in PHASES:
                cpu_before = cpu_seconds(server.pid)
                ids = job_ids + queued if polled == "own" else job_ids
                latencies, failed, elapsed = uvloop.run(
                    poll_phase(url, token, ids, args.pollers, args.seconds, etag)
                )
                answers = sum(len(v) for v in latencies.values())
                cpu_per_answer = (cpu_seconds(server.pid) - cpu_before) / max(answers, 1)
                results[phase] = (answers / elapsed, latencies, failed, cpu_per_answer)
            sse_ids = running_jobs(url, auth, start_imports("sse") + job_ids)
            events = uvloop.run(sse_phase(url, token, sse_ids, args.streams, 10))
            results["sse_events_per_s"] = events / 10
            return results
        finally:
            server.terminate()
            server.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pollers", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=3, help="large imports kept running")
    parser.add_argument("--rows", type=int, default=100_000, help="rows per imported file")
    parser.add_argument("--engines", nargs="+", default=["sqlite", "postgresql"])
    args = parser.parse_args()
    print(
        f"{args.pollers} pollers at ~1 req/s each for {args.seconds:.0f} s per phase, "
        f"{args.jobs} imports of {args.rows:,} rows running\n"
    )
    print(
        "| engine | pollers send | req/s | API CPU µs/answer | answer | count | p50 ms | p99 ms "
        "| errors |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch:
        for engine in args.engines:
            r = run_engine(engine, args, Path(scratch))
            for phase, _, _ in PHASES:
                rate, latencies, failed, cpu = r[phase]  # type: ignore[misc]
                for status, values in sorted(latencies.items()):
                    p50, p99 = percentile(values, 0.5) * 1000, percentile(values, 0.99) * 1000
                    print(
                        f"| {engine} | {PHASE_LABELS[phase]} "
                        f"| {rate:,.0f} | {cpu * 1e6:,.0f} | {status} | {len(values):,} "
                        f"| {p50:.1f} | {p99:.1f} "
                        f"| {failed} |"
                    )
            print(
                f"| {engine} | SSE events/s ({args.streams} streams) | "
                f"{r['sse_events_per_s']:,.0f} | | | | | |",
                flush=True,
            )


if __name__ == "__main__":
    main()
