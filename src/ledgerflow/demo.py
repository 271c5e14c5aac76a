"""The demo seed: a company ``demo``, a user ``demo@example.com`` / ``demo``, and a few hundred
transactions from a realistic small business, categorized by a real background job."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import job_types
from .books.chart import add_bank_account
from .books.models import Company, Transaction, User
from .books.queries import insert_transactions
from .jobs import Queue
from .settings import AppSettings
from .tenancy import add_member, create_user, new_company

DEMO_COMPANY = "demo"
DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo"

# (statement text, smallest and largest amount in dollars; negative = money out, times a month)
MERCHANTS = [
    ("SQ *BLUE BOTTLE COFFEE OAKLAND CA", -4, -18, 6),
    ("STARBUCKS STORE 05521 SAN FRANCISCO CA", -4, -15, 5),
    ("DOORDASH*CHIPOTLE", -14, -42, 3),
    ("TST* THE COTTAGE CAFE", -18, -85, 2),
    ("ADOBE *CREATIVE CLD 800-833-6687 CA", -55, -55, 1),
    ("GOOGLE *GSUITE_DEMO.CO", -36, -36, 1),
    ("SLACK T0123ABCD DUBLIN", -26, -26, 1),
    ("STAPLES 00123 OAKLAND CA", -12, -160, 1),
    ("AMAZON MKTPL*2K4RT1 AMZN.COM/BILL WA", -9, -240, 3),
    ("UBER *TRIP HELP.UBER.COM CA", -9, -48, 3),
    ("DELTA AIR LINES 0062345678901", -180, -640, 0.3),
    ("MARRIOTT SAN DIEGO DOWNTOWN", -190, -520, 0.3),
    ("SHELL OIL 57442310 OAKLAND CA", -35, -75, 2),
    ("PG&E/EZ-PAY 800-743-5000 CA", -120, -260, 1),
    ("COMCAST CALIFORNIA 800-COMCAST", -89, -89, 1),
    ("USPS PO 0571230456 OAKLAND CA", -8, -65, 1),
    ("UPS*1Z999AA10123456784", -14, -90, 1),
    ("FACEBK *ADS 2KD9X3", -50, -400, 1),
    ("GOOGLE *ADS1234567890", -100, -600, 1),
    ("GUSTO PAYROLL 8234-PAY", -6200, -6900, 1),
    ("ONLINE TRANSFER TO SAV XXXX4421", -500, -2000, 0.5),
    ("MONTHLY SERVICE FEE", -15, -15, 1),
    ("WIRE TRANSFER FEE", -25, -25, 0.3),
    ("STATE FARM INSURANCE 800-956-6310", -145, -145, 1),
    ("OAKLAND PROPERTIES LLC RENT", -2400, -2400, 1),
    ("HOME DEPOT #0634 OAKLAND CA", -20, -310, 1),
    ("IRS USATAXPYMT 220345678", -900, -2500, 0.3),
    ("UPWORK -12345678REF", -150, -900, 0.5),
    ("STRIPE TRANSFER ST-X9Y8Z7 DEMO CO", 800, 4200, 4),
    ("SQUARE INC DEPOSIT 241103", 120, 900, 3),
    ("SHOPIFY PAYOUT 8891234", 300, 2400, 2),
    ("ZELLE FROM ACME CORP CONSULTING", 1500, 5000, 0.5),
    ("INTEREST PAYMENT", 1, 6, 1),
]


@dataclass(frozen=True)
class _Row:
    date: dt.date
    description: str
    amount_cents: int
    currency: str = "USD"
    external_id: str | None = None
    memo: str | None = None


def sample_rows(days: int = 120, seed: int = 7) -> list[_Row]:
    rng = random.Random(seed)
    today = dt.date.today()
    rows = []
    for text, low, high, per_month in MERCHANTS:
        for _ in range(max(1, round(per_month * days / 30 * rng.uniform(0.7, 1.3)))):
            dollars = rng.uniform(min(low, high), max(low, high))
            date = today - dt.timedelta(days=rng.randrange(days))
            rows.append(_Row(date, text, round(dollars * 100)))
    rows.sort(key=lambda r: (r.date, r.description))
    return rows


def seed_demo(session: Session, settings: AppSettings) -> list[str]:
    """Create the demo data once; later starts leave it alone. Returns lines to print."""
    notes = [f"demo sign-in: {DEMO_EMAIL} / password {DEMO_PASSWORD}"]
    if session.scalars(select(User).where(User.email == DEMO_EMAIL)).first() is None:
        create_user(session, DEMO_EMAIL, DEMO_PASSWORD)
    if session.get(Company, DEMO_COMPANY) is not None:
        return notes
    new_company(session, DEMO_COMPANY, "Demo Coffee Roasters", DEMO_EMAIL)
    add_member(session, DEMO_COMPANY, DEMO_EMAIL, "owner")
    bank = add_bank_account(session, DEMO_COMPANY, "Business checking", "bank", "USD", last4="4421")
    rows = sample_rows()
    insert_transactions(session, DEMO_COMPANY, bank.id, rows, source_file="demo-seed")
    session.flush()
    count = session.query(Transaction).filter(Transaction.company_id == DEMO_COMPANY).count()
    with Queue(settings.database_url, settings=settings) as queue:
        job = queue.enqueue(
            job_types.CATEGORIZE,
            company_id=DEMO_COMPANY,
            limit=None,
            meta={"company_id": DEMO_COMPANY, "user_id": "seed"},
            concurrency_key=DEMO_COMPANY,
            connection=session.connection(),
        )
    notes.append(f"demo company {DEMO_COMPANY!r}: {count} transactions, categorizing in {job.id}")
    return notes
