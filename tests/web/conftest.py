"""Browser tests: a real ``ledgerflow serve`` subprocess and headless Debian Chromium.

- ``server``: ``ledgerflow serve --demo`` on a free port with a temporary SQLite database and
  two worker threads (in its worker child process), for the whole session.
- ``idle_server``: the same with ``--workers 0``: jobs stay pending, so the polling schedule
  can be measured against a job that doesn't move.
- ``page``: a fresh browser context (no cookies) per test; page errors fail the test.
- ``shots``: where screenshots go: the test's output folder, or ``LEDGERFLOW_SCREENSHOTS_DIR``
  (``make screenshots`` points it at docs/screenshots).

Chromium is Debian's (``scripts/system-deps.sh``); nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from live import free_port

CHROMIUM = os.environ.get("LEDGERFLOW_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
]
DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo"
DEMO_COMPANY = "demo"

try:
    from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
except ImportError:  # pragma: no cover - the dev extra installs it
    pytest.skip("playwright is not installed (pip install -e '.[dev]')", allow_module_level=True)

if not Path(CHROMIUM).exists():  # pragma: no cover - scripts/system-deps.sh installs it
    pytest.skip(
        f"{CHROMIUM} is missing: run `bash scripts/system-deps.sh`", allow_module_level=True
    )


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    database_url: str

    def token(self) -> str:
        answer = httpx.post(
            f"{self.url}/api/auth/token",
            data={"username": DEMO_EMAIL, "password": DEMO_PASSWORD},
        )
        answer.raise_for_status()
        token: str = answer.json()["access_token"]
        return token


def start_server(root: Path, *, workers: int) -> Server:
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    database_url = f"sqlite:///{root / 'app.db'}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "WORKER_THREADS": "2",
        "POLL_INTERVAL": "0.05",
        "LEDGERFLOW_SECRET_KEY": "browser-tests-secret-key-long-enough-for-hs256",
        "UPLOAD_DIR": str(root / "uploads"),
        "JOB_RATE_LIMIT": "1000",
    }
    log = root / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ledgerflow.cli",
                "--log-level",
                "WARNING",
                "serve",
                "--demo",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"ledgerflow serve exited:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            stop_server(process)
            raise RuntimeError(f"ledgerflow serve did not start:\n{log.read_text()[-4000:]}")
        time.sleep(0.1)
    return Server(url, process, log, database_url)


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server (it stops its worker child), then SIGKILL its group if need be."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # our own session: the server and its worker
    process.wait(timeout=5)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("web-server"), workers=2)
    try:
        wait_demo_categorized(running)
        yield running
    finally:
        stop_server(running.process)


@pytest.fixture(scope="session")
def idle_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("web-idle-server"), workers=0)
    try:
        yield running
    finally:
        stop_server(running.process)


def wait_demo_categorized(server: Server, timeout: float = 60) -> None:
    """The demo seed categorizes its rows in a job; tests start once it is done."""
    headers = {"Authorization": f"Bearer {server.token()}"}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = httpx.get(f"{server.url}/api/jobs/company/{DEMO_COMPANY}", headers=headers).json()[
            "jobs"
        ]
        if jobs and all(j["status"] in ("complete", "failed", "cancelled") for j in jobs):
            return
        time.sleep(0.2)
    raise RuntimeError(
        f"the demo categorization job did not finish; server log:\n{server.log.read_text()[-3000:]}"
    )


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class PageErrors:
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    ctx.set_default_timeout(20_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    tab = context.new_page()
    errors = PageErrors()
    tab.on("pageerror", lambda exc: errors.errors.append(str(exc)))
    yield tab
    assert not errors.errors, f"JavaScript errors on the page: {errors.errors}"


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = os.environ.get("LEDGERFLOW_SCREENSHOTS_DIR")
    folder = Path(target) if target else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
