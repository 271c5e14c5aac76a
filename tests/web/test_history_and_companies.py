"""The recent-jobs history (filters, pages) and the company picker, on the server without
workers, where jobs stay pending until cancelled."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from browser_helpers import sign_in
from playwright.sync_api import Page, expect

from conftest import Server
from ledgerflow.server import session_for
from ledgerflow.tenancy import add_member, create_user, new_company

HISTORY_PAGE = 10


@pytest.fixture
def pending_jobs(idle_server: Server) -> Iterator[list[str]]:
    """Twelve pending jobs of two types, cancelled again afterwards."""
    headers = {"Authorization": f"Bearer {idle_server.token()}"}
    ids = []
    with httpx.Client(base_url=idle_server.url, headers=headers) as http:
        for i in range(12):
            answer = http.post("/api/jobs/categorize", json={"company_id": "demo", "limit": i + 1})
            assert answer.status_code == 202, answer.text
            ids.append(answer.json()["job_id"])
        try:
            yield ids
        finally:
            for job_id in ids:
                http.post(f"/api/jobs/{job_id}/cancel")


def test_history_pages_and_filters(
    page: Page, idle_server: Server, pending_jobs: list[str]
) -> None:
    sign_in(page, idle_server.url, query="?transport=poll")
    rows = page.locator("#history-table tbody tr[data-job-id]")
    expect(rows).to_have_count(HISTORY_PAGE)
    first_page = [rows.nth(i).get_attribute("data-job-id") for i in range(HISTORY_PAGE)]
    # Newest first: the last job created heads the list.
    assert first_page[:3] == pending_jobs[::-1][:3]
    expect(page.locator(".pager button", has_text="Newer")).to_be_disabled()

    page.click(".pager button:has-text('Older')")
    expect(page.locator(".pager")).to_contain_text("Page 2")
    expect(rows.first).not_to_have_attribute("data-job-id", first_page[0] or "")
    second_page = [r.get_attribute("data-job-id") for r in rows.all()]
    assert not set(second_page) & set(first_page)
    page.click(".pager button:has-text('Newer')")
    expect(rows.first).to_have_attribute("data-job-id", first_page[0] or "")

    # Pending rows carry the compact indicator, with a real progressbar.
    inline = rows.first.locator(".inline-progress")
    expect(inline).to_have_attribute("data-status", "pending")
    expect(inline.locator("[role=progressbar]")).to_have_attribute("aria-valuenow", "0")

    # Type filter: nothing is an export here.
    page.select_option("#history-type", "export_to_quickbooks")
    expect(page.locator("#history-table tbody")).to_contain_text("No jobs match")
    page.select_option("#history-type", "categorize_transactions")
    page.select_option("#history-status", "pending")
    expect(rows.first).to_be_visible()
    expect(page.locator("#history-table tbody tr:not([data-status=pending])")).to_have_count(0)

    # Cancel from a history row.
    target = rows.first
    job_id = target.get_attribute("data-job-id")
    target.locator("button", has_text="Cancel").click()
    page.select_option("#history-status", "cancelled")
    expect(page.locator(f'#history-table tr[data-job-id="{job_id}"]')).to_have_attribute(
        "data-status", "cancelled"
    )


def test_company_picker_and_viewer_role(page: Page, idle_server: Server) -> None:
    with session_for(idle_server.database_url) as session:
        create_user(session, "multi@example.com", "multi-password")
        new_company(session, "north", "North Bakery", "multi@example.com")
        add_member(session, "demo", "multi@example.com", "viewer")

    sign_in(page, idle_server.url, email="multi@example.com", password="multi-password")
    choices = page.locator(".company-choice")
    expect(choices).to_have_count(2)
    expect(page.locator("h1")).to_have_text("Choose a company")
    expect(choices.first).to_be_focused()
    choices.filter(has_text="Demo Coffee Roasters").click()

    # A viewer watches but can't start anything.
    expect(page.locator("#company-picker")).to_have_value("demo")
    expect(page.locator("main")).to_contain_text("You're a viewer in this company")
    expect(
        page.locator('form.starter[data-job-kind="categorize"] button[type=submit]')
    ).to_be_disabled()
    expect(page.locator("#upload-input")).to_be_disabled()

    page.select_option("#company-picker", "north")
    expect(page.locator("#code-panel")).to_contain_text("company_id=north")
    expect(
        page.locator('form.starter[data-job-kind="categorize"] button[type=submit]')
    ).to_be_enabled()
    # The choice is remembered.
    page.reload()
    expect(page.locator("#company-picker")).to_have_value("north")
