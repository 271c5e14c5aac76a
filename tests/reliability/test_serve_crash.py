"""kill -9 of ``ledgerflow serve`` in its default mode (workers in a child process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from chaoskit import free_port

pytestmark = pytest.mark.slow


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_worker_child_yields_the_cpu_and_does_not_outlive_a_killed_serve(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "LEDGERFLOW_SECRET_KEY": "serve-crash-secret-key-serve-crash-secret-key-0",
        "UPLOAD_DIR": str(tmp_path / "uploads"),
        "WORKER_THREADS": "1",
    }
    serve = subprocess.Popen(
        [sys.executable, "-m", "ledgerflow.cli", "--log-level", "WARNING", "serve",
         "--port", str(port)],
        env=env, cwd=tmp_path, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    child: int | None = None
    try:
        deadline = time.monotonic() + 90
        while child is None or not _healthy(port):
            assert time.monotonic() < deadline, "serve did not start"
            assert serve.poll() is None, "serve exited"
            child = next(iter(children(serve.pid)), None)
            time.sleep(0.3)
        own = os.getpriority(os.PRIO_PROCESS, serve.pid)
        assert os.getpriority(os.PRIO_PROCESS, child) == min(own + 10, 19), "WORKER_NICENESS"
        serve.kill()
        serve.wait()
        deadline = time.monotonic() + 8  # a parent-death signal would take milliseconds
        while alive(child) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(child), "the worker child outlived serve"
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
        if child is not None and alive(child):
            os.kill(child, signal.SIGKILL)


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
