"""/admin in Debian's Chromium against a real ``ledgerflow serve --workers 0`` on SQLite.

The admin is made with ``ledgerflow users create --admin``; the job and worker rows are written
as the runtime writes them (finished jobs for the charts, a failed job, a stuck one, a late
worker) before the server starts. Nothing is downloaded.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from adminkit import (
    cli,
    cli_env,
    insert_jobs,
    insert_worker,
    job_row,
    start,
    stop,
    wait_healthy,
)
from live import free_port

from ledgerflow.jobs import Queue

CHROMIUM = os.environ.get("LEDGERFLOW_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
]
ADMIN, MEMBER, PASSWORD = "ops@example.com", "member@example.com", "admin-pw"

playwright_api = pytest.importorskip("playwright.sync_api")
if not Path(CHROMIUM).exists():  # pragma: no cover - scripts/system-deps.sh installs it
    pytest.skip(f"{CHROMIUM} is missing", allow_module_level=True)
expect = playwright_api.expect


@dataclass
class Site:
    url: str
    failed_job: str
    db_url: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("admin-page")
    db_url = f"sqlite:///{root / 'app.db'}"
    env = cli_env(db_url, root)
    created = cli(env, "users", "create", ADMIN, "--admin", "--password", PASSWORD, cwd=root)
    assert "created instance admin" in created.stdout
    cli(env, "users", "create", MEMBER, "--password", PASSWORD, cwd=root)
    now = time.time()
    with Queue(db_url) as queue:
        rows = [
            job_row(
                task="upload_and_categorize", created_at=now - 60 * m - 5,
                started_at=now - 60 * m - 4, finished_at=now - 60 * m - 4 + 0.2 * (m % 7 + 1),
            )
            for m in range(40)
        ]  # fmt: skip
        (failed,) = insert_jobs(
            queue,
            job_row(
                task="export_to_quickbooks", status="failed", company_id="acme",
                error="QuickBooks said no", traceback="Traceback (most recent call last):\n  boom",
                meta='{"file_name": "statement.csv"}', finished_at=now - 30,
            ),
        )  # fmt: skip
        insert_jobs(queue, *rows)
        insert_worker(queue, "wrk_alive", now + 3600, host="alive-host", started_at=now - 1800)
        insert_worker(queue, "wrk_silent", now - 600, host="silent-host")
        insert_jobs(
            queue,
            job_row(status="running", worker_id="wrk_silent", company_id="globex",
                    task="categorize_transactions", lease_expires_at=now - 570),
            job_row(status="pending", task="process_receipt_ocr", created_at=now - 3600),
        )  # fmt: skip
    port = free_port()
    log = root / "server.log"
    server = start(
        env,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "0",
        cwd=root,
        log=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, server, log)
        yield Site(url, failed, db_url)
    finally:
        stop(server)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="en-US")  # type: ignore[attr-defined]
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert not errors, errors


def sign_in(page: object, url: str, email: str) -> None:
    page.goto(f"{url}/admin/")  # type: ignore[attr-defined]
    page.fill("#signin-email", email)  # type: ignore[attr-defined]
    page.fill("#signin-password", PASSWORD)  # type: ignore[attr-defined]
    page.click(".signin-form button[type=submit]")  # type: ignore[attr-defined]


def test_admin_sees_the_dashboard_and_retries_a_failed_job(page: object, site: Site) -> None:
    p: object = page
    sign_in(p, site.url, ADMIN)
    depth = p.locator("#depth-table")  # type: ignore[attr-defined]
    expect(depth).to_be_visible()
    expect(depth.locator("tr[data-type=upload_and_categorize]")).to_contain_text("40")
    bars = p.locator("#chart-throughput svg rect.bar")  # type: ignore[attr-defined]
    expect(bars.first).to_be_attached()
    assert bars.count() >= 30
    expect(p.locator("#chart-run-time svg path.line").first).to_be_attached()  # type: ignore[attr-defined]
    silent = p.locator("#workers-table tr[data-worker-id=wrk_silent]")  # type: ignore[attr-defined]
    expect(silent).to_have_attribute("data-state", "late")
    expect(silent).to_contain_text("heartbeat late")
    expect(silent.locator(".rescue-badge")).to_have_text("rescue pending")
    alive = p.locator("#workers-table tr[data-worker-id=wrk_alive]")  # type: ignore[attr-defined]
    expect(alive).to_have_attribute("data-state", "ok")

    expired = p.locator("#stuck tr.job-row[data-status=running]")  # type: ignore[attr-defined]
    expect(expired).to_contain_text("rescue pending")
    expect(p.locator("#stuck tr.job-row[data-status=pending]")).to_contain_text(  # type: ignore[attr-defined]
        "process_receipt_ocr"
    )

    row = p.locator(f"#failed tr.job-row[data-job-id={site.failed_job}]")  # type: ignore[attr-defined]
    expect(row).to_contain_text("QuickBooks said no")
    row.locator(".details-toggle").click()
    expect(p.locator(f"#details-{site.failed_job} .traceback")).to_contain_text("boom")  # type: ignore[attr-defined]
    expect(p.locator(f"#details-{site.failed_job} .meta-json")).to_contain_text("statement.csv")  # type: ignore[attr-defined]
    shots = os.environ.get("LEDGERFLOW_SCREENSHOTS_DIR")
    if shots:
        p.evaluate("window.scrollTo(0, 0)")  # type: ignore[attr-defined]
        p.screenshot(path=str(Path(shots) / "page-admin.png"), full_page=True)  # type: ignore[attr-defined]
    row.locator(".retry-btn").click()
    expect(p.locator(".toast")).to_contain_text(f"Retried {site.failed_job} as job_")  # type: ignore[attr-defined]

    # The new job is pending (no workers here), a copy of the failed one.
    p.fill("#search-meta", "retry_of=" + site.failed_job)  # type: ignore[attr-defined]
    p.click("#search-form button[type=submit]")  # type: ignore[attr-defined]
    found = p.locator("#search-results tr.job-row")  # type: ignore[attr-defined]
    expect(found).to_have_count(1)
    expect(found).to_have_attribute("data-status", "pending")
    expect(found).to_contain_text("export_to_quickbooks")
    with Queue(site.db_url, migrate=False) as queue:
        new = queue.get(found.get_attribute("data-job-id") or "")
        assert new.meta["retry_of"] == site.failed_job


def test_a_member_sees_not_found(page: object, site: Site) -> None:
    sign_in(page, site.url, MEMBER)
    expect(page.locator("h1")).to_have_text("Not found")  # type: ignore[attr-defined]
    assert httpx.get(f"{site.url}/api/admin/depth").json() == {"detail": "Not Found"}


def test_without_a_session_the_page_asks_to_sign_in(page: object, site: Site) -> None:
    page.goto(f"{site.url}/admin")  # type: ignore[attr-defined]
    expect(page.locator("#signin-email")).to_be_visible()  # type: ignore[attr-defined]
