"""jobStatus.js: the polling schedule (measured in the browser), ETags, and stopping."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest
from browser_helpers import shoot, sign_in
from playwright.sync_api import Page, Request, Response, expect

from conftest import Server

# 1 s to start, ×1.5 after every 5 polls, at most 5 s.
EXPECTED_SCHEDULE_MS = [1000] * 5 + [1500] * 5 + [2250] * 5 + [3375] * 5 + [5000] * 3
TOLERANCE_S = 0.3


def test_poll_delay_is_a_pure_function_of_the_poll_number(page: Page, idle_server: Server) -> None:
    page.goto(f"{idle_server.url}/")
    schedule = page.evaluate(
        "async (n) => (await import('/jobStatus.js')).pollSchedule(n)", len(EXPECTED_SCHEDULE_MS)
    )
    assert schedule == EXPECTED_SCHEDULE_MS
    delays = page.evaluate(
        """async () => {
          const { pollDelay } = await import('/jobStatus.js');
          return [pollDelay(0), pollDelay(4), pollDelay(5), pollDelay(9), pollDelay(10),
                  pollDelay(1000), pollDelay(3, {initial: 200, factor: 2, every: 1, max: 1000})];
        }"""
    )
    assert delays == [1000, 1000, 1500, 1500, 2250, 5000, 1000]


def test_polling_follows_the_backoff_schedule_with_etags(
    page: Page, idle_server: Server, shots: Path
) -> None:
    """With no workers the job stays pending; the page polls it (transport forced to "poll")
    and every poll after the first is a 304 thanks to If-None-Match."""
    polls: list[tuple[float, Request]] = []
    statuses: dict[Request, int] = {}
    started: list[float] = []
    job_path: list[str] = []
    posts: list[Request] = []

    def on_request(request: Request) -> None:
        if job_path and request.method == "GET" and request.url.endswith(job_path[0]):
            polls.append((time.monotonic(), request))

    def on_response(response: Response) -> None:
        statuses[response.request] = response.status
        if response.request.method == "POST" and response.url.endswith("/api/jobs/categorize"):
            started.append(time.monotonic())
            posts.append(response.request)
            job_path.append(f"/api/jobs/{response.json()['job_id']}")

    page.on("request", on_request)
    page.on("response", on_response)
    sign_in(page, idle_server.url, query="?transport=poll")
    page.click('form.starter[data-job-kind="categorize"] button[type=submit]')
    page.wait_for_function("() => document.querySelector('#live-jobs .progress-card')")
    deadline = time.monotonic() + 20
    while len(polls) < 8 and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert len(polls) >= 8, [p[1].url for p in polls]
    card = page.locator(f'#live-jobs .progress-card[data-job-id="{job_path[0].rsplit("/", 1)[1]}"]')
    expect(card).to_have_attribute("data-status", "pending")
    expect(card.locator(".message")).to_have_text("Waiting for a worker…")
    shoot(card, shots, "progress-pending")

    card.locator("button.cancel").click()
    expect(card).to_have_attribute("data-status", "cancelled")
    cancelled_at = time.monotonic()
    page.wait_for_timeout(2500)

    times = [started[0]] + [t for t, _ in polls if t < cancelled_at]
    # Prefer the browser's own clock (request timing), immune to delays on the Python side.
    before_cancel = [r for t, r in polls if t < cancelled_at]
    post_timing = posts[0].timing
    if post_timing["startTime"] > 0 and all(r.timing["startTime"] > 0 for r in before_cancel):
        post_done = post_timing["startTime"] + post_timing["responseEnd"]
        times = [post_done / 1000] + [r.timing["startTime"] / 1000 for r in before_cancel]
    gaps = [b - a for a, b in itertools.pairwise(times)][:8]
    expected = [ms / 1000 for ms in EXPECTED_SCHEDULE_MS[: len(gaps)]]
    assert gaps == pytest.approx(expected, abs=TOLERANCE_S), (gaps, expected)
    # The schedule itself is exact: 1 s ×5, then 1.5 s.
    assert expected[:6] == [1, 1, 1, 1, 1, 1.5]

    first, *rest = [r for _, r in polls]
    assert "if-none-match" not in first.headers
    assert statuses[first] == 200
    for request in rest:
        assert request.headers.get("if-none-match", "").startswith('"job_')
        assert statuses.get(request) in (304, 200, None)
    assert sum(statuses.get(r) == 304 for r in rest) >= len(rest) - 1
    # Stopped once the job was cancelled.
    assert not [t for t, _ in polls if t > cancelled_at + 0.5]


def test_watches_stop_when_their_component_goes_away(page: Page, idle_server: Server) -> None:
    """The demo seed's job stays pending here; leaving the jobs page stops following it."""
    sign_in(page, idle_server.url, query="?transport=poll")
    expect(page.locator("#live-jobs .progress-card").first).to_be_visible()
    count = "async () => (await import('/jobStatus.js')).activeWatches()"
    assert page.evaluate(count) >= 1
    page.click("a[data-route=export]")
    expect(page.locator(".nav-link[aria-current=page]")).to_have_text("Export")
    page.wait_for_timeout(700)
    assert page.evaluate(count) == 0


def test_sse_failure_falls_back_to_polling(page: Page, idle_server: Server) -> None:
    """A refused event stream (here: answered 503) makes the watch poll instead."""
    page.route("**/events", lambda route: route.fulfill(status=503, body="nope"))
    polled: list[str] = []
    page.on(
        "request",
        lambda r: (
            polled.append(r.url)
            if r.method == "GET" and "/api/jobs/job_" in r.url and not r.url.endswith("/events")
            else None
        ),
    )
    sign_in(page, idle_server.url)
    expect(page.locator("#live-jobs .progress-card").first).to_be_visible()
    page.wait_for_timeout(1600)
    assert polled, "no poll after the stream failed"
