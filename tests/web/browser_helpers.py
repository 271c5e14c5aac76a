"""Helpers for the browser tests: sign-in, generated bank files, screenshots, job reads."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo"
MERCHANTS = [
    "STARBUCKS STORE 10234 SEATTLE WA",
    "ADOBE *CREATIVE CLOUD 800-833-6687 CA",
    "UBER *TRIP HELP.UBER.COM CA",
    "AMAZON MKTPL*2K4RT1 AMZN.COM/BILL WA",
    "SHELL OIL 57442310 OAKLAND CA",
    "STAPLES 00123 OAKLAND CA",
    "COMCAST CALIFORNIA 800-COMCAST",
    "DELTA AIR LINES 0062345678901",
    "HOME DEPOT #0634 OAKLAND CA",
    "GUSTO PAYROLL 8234-PAY",
]


def sign_in(
    page: Page,
    base_url: str,
    query: str = "",
    route: str = "jobs",
    email: str = DEMO_EMAIL,
    password: str = DEMO_PASSWORD,
) -> None:
    page.goto(f"{base_url}/{query}#/{route}")
    page.fill("#signin-email", email)
    page.fill("#signin-password", password)
    page.click(".signin-form button[type=submit]")
    page.wait_for_selector("#main, .company-choice")


def bank_csv(path: Path, rows: int, tag: str, *, start: dt.date | None = None) -> Path:
    """A generic Date,Description,Amount export with ``rows`` unique rows marked ``tag``."""
    rng = random.Random(tag)
    first = start or dt.date.today()
    lines = ["Date,Description,Amount"]
    for i in range(rows):
        day = first - dt.timedelta(days=i % 300)
        merchant = rng.choice(MERCHANTS)
        amount = -rng.randint(150, 90_000) / 100
        lines.append(f"{day.isoformat()},{merchant} {tag} {i},{amount:.2f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def card_for(page: Page, job_id: str) -> Locator:
    return page.locator(f'#live-jobs .progress-card[data-job-id="{job_id}"]')


def newest_card(page: Page, job_type: str) -> Locator:
    return page.locator(f'#live-jobs .progress-card[data-type="{job_type}"]').first


def read_job(page: Page, job_id: str) -> dict[str, Any]:
    """GET /api/jobs/{id} from inside the page (the session cookie signs it)."""
    job: dict[str, Any] = page.evaluate(
        "async (id) => (await fetch(`/api/jobs/${id}`, {cache: 'no-store'})).json()", job_id
    )
    return job


def shoot(target: Page | Locator, folder: Path, name: str, *, full_page: bool = False) -> Path:
    path = folder / f"{name}.png"
    if full_page and isinstance(target, Page):
        target.evaluate("window.scrollTo(0, 0)")  # else the sticky top bar lands mid-page
        target.screenshot(path=str(path), animations="disabled", full_page=True)
    else:
        target.screenshot(path=str(path), animations="disabled")
    return path


# Records every aria-valuenow / message change of one card's bar, with timestamps, from inside
# the page (a MutationObserver), so no change between two Python polls is lost.
RECORD_PROGRESS = """
(card) => {
  const bar = card.querySelector('[role=progressbar]');
  const message = card.querySelector('.message');
  const samples = [];
  const take = () => samples.push({
    t: performance.now(),
    value: Number(bar.getAttribute('aria-valuenow')),
    message: message.textContent,
    status: card.dataset.status,
  });
  take();
  const observer = new MutationObserver(take);
  observer.observe(card, {subtree: true, attributes: true, childList: true, characterData: true});
  card.__samples = samples;
}
"""
