"""The default chart of accounts, and the functions that create companies, accounts and banks.

Each account carries its QuickBooks Online ``AccountType`` and ``AccountSubType`` (the "detail
type" in QBO's UI) so the export can create or match it there without asking the user.

Choices worth knowing:

* **Transfer** is a clearing account (Other Current Asset / OtherCurrentAssets). Each side of a
  move between the company's own accounts is booked against it, as each bank file shows only
  one side; once both sides are imported its balance returns to zero, and a non-zero balance
  points at a missing import. A credit-card payment is such a transfer.
* **Loan payment** is the loan itself (Long Term Liability / NotesPayable): a payment reduces
  what is owed. Splitting out the interest part is a later, manual adjustment.
* **Owner's draw** and **Owner's investment** are Equity / OwnersEquity, the detail type QBO
  uses for sole proprietors' owner accounts.
* **Uncategorized expense/income** use the detail types QBO gives its own uncategorized
  accounts (OtherMiscellaneousServiceCost / ServiceFeeIncome).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import Account, BankAccount, Company, new_id

QBO_KINDS: dict[str, str] = {
    "Bank": "asset",
    "Accounts Receivable": "asset",
    "Other Current Asset": "asset",
    "Fixed Asset": "asset",
    "Other Asset": "asset",
    "Accounts Payable": "liability",
    "Credit Card": "liability",
    "Other Current Liability": "liability",
    "Long Term Liability": "liability",
    "Equity": "equity",
    "Income": "income",
    "Other Income": "income",
    "Expense": "expense",
    "Other Expense": "expense",
    "Cost of Goods Sold": "expense",
}


@dataclass(frozen=True)
class AccountSpec:
    name: str
    qbo_account_type: str
    qbo_detail_type: str

    @property
    def kind(self) -> str:
        return QBO_KINDS[self.qbo_account_type]


DEFAULT_CHART: tuple[AccountSpec, ...] = (
    AccountSpec("Sales", "Income", "SalesOfProductIncome"),
    AccountSpec("Service income", "Income", "ServiceFeeIncome"),
    AccountSpec("Interest income", "Other Income", "InterestEarned"),
    AccountSpec("Other income", "Other Income", "OtherMiscellaneousIncome"),
    AccountSpec("Advertising & marketing", "Expense", "AdvertisingPromotional"),
    AccountSpec("Bank fees & service charges", "Expense", "BankCharges"),
    AccountSpec("Car & truck", "Expense", "Auto"),
    AccountSpec("Contract labor", "Expense", "CostOfLabor"),
    AccountSpec("Dues & subscriptions", "Expense", "DuesSubscriptions"),
    AccountSpec("Insurance", "Expense", "Insurance"),
    AccountSpec("Interest paid", "Expense", "InterestPaid"),
    AccountSpec("Legal & accounting services", "Expense", "LegalProfessionalFees"),
    AccountSpec("Meals", "Expense", "EntertainmentMeals"),
    AccountSpec("Office supplies & software", "Expense", "OfficeGeneralAdministrativeExpenses"),
    AccountSpec("Payroll expenses", "Expense", "PayrollExpenses"),
    AccountSpec("Rent", "Expense", "RentOrLeaseOfBuildings"),
    AccountSpec("Repairs & maintenance", "Expense", "RepairMaintenance"),
    AccountSpec("Shipping & postage", "Expense", "ShippingFreightDelivery"),
    AccountSpec("Supplies & materials", "Expense", "SuppliesMaterials"),
    AccountSpec("Taxes & licenses", "Expense", "TaxesPaid"),
    AccountSpec("Travel", "Expense", "Travel"),
    AccountSpec("Utilities", "Expense", "Utilities"),
    AccountSpec("Owner's draw", "Equity", "OwnersEquity"),
    AccountSpec("Owner's investment", "Equity", "OwnersEquity"),
    AccountSpec("Transfer", "Other Current Asset", "OtherCurrentAssets"),
    AccountSpec("Loan payment", "Long Term Liability", "NotesPayable"),
    AccountSpec("Uncategorized expense", "Expense", "OtherMiscellaneousServiceCost"),
    AccountSpec("Uncategorized income", "Income", "ServiceFeeIncome"),
)
TRANSFER = "Transfer"
UNCATEGORIZED_EXPENSE = "Uncategorized expense"
UNCATEGORIZED_INCOME = "Uncategorized income"

# bank-account kind -> (QBO AccountType, AccountSubType) of its ledger account
BANK_LEDGER_TYPES: dict[str, tuple[str, str]] = {
    "bank": ("Bank", "Checking"),
    "credit_card": ("Credit Card", "CreditCard"),
}

_COMPANY_ID = re.compile(r"[a-z0-9][a-z0-9_-]{1,63}")
_CURRENCY = re.compile(r"[A-Z]{3}")


def new_company_id() -> str:
    return new_id("co").lower()


def _currency(value: str) -> str:
    code = value.strip().upper()
    if not _CURRENCY.fullmatch(code):
        raise ValueError(f"currency must be a three-letter ISO 4217 code, not {value!r}")
    return code


def create_company(
    session: Session, company_id: str | None, name: str, currency: str = "USD"
) -> Company:
    """Create a company and its default chart of accounts (flushed, not committed)."""
    company_id = company_id or new_company_id()
    if not _COMPANY_ID.fullmatch(company_id):
        raise ValueError(
            "company id must be 2-64 characters of a-z, 0-9, '_' or '-', "
            f"starting with a letter or digit: {company_id!r}"
        )
    if not name.strip():
        raise ValueError("company name must not be empty")
    if session.get(Company, company_id) is not None:
        raise ValueError(f"company {company_id!r} already exists")
    company = Company(id=company_id, name=name.strip(), base_currency=_currency(currency))
    session.add(company)
    session.flush()
    session.add_all(
        Account(
            company_id=company_id,
            name=spec.name,
            qbo_account_type=spec.qbo_account_type,
            qbo_detail_type=spec.qbo_detail_type,
            kind=spec.kind,
            is_bank=False,
        )
        for spec in DEFAULT_CHART
    )
    session.flush()
    return company


def account_by_name(session: Session, company_id: str, name: str) -> Account | None:
    return session.scalars(
        select(Account).where(Account.company_id == company_id, Account.name == name)
    ).one_or_none()


def add_account(
    session: Session,
    company_id: str,
    name: str,
    qbo_account_type: str,
    qbo_detail_type: str,
    *,
    is_bank: bool = False,
) -> Account:
    """Add an account to a company's chart; the kind follows from the QBO account type."""
    name = name.strip()
    if not name:
        raise ValueError("account name must not be empty")
    if qbo_account_type not in QBO_KINDS:
        raise ValueError(
            f"unknown QuickBooks account type {qbo_account_type!r}; "
            f"expected one of {', '.join(sorted(QBO_KINDS))}"
        )
    if not qbo_detail_type.strip():
        raise ValueError("QuickBooks detail type must not be empty")
    if session.get(Company, company_id) is None:
        raise ValueError(f"no company {company_id!r}")
    # Names compare case-insensitively here so "meals" cannot shadow "Meals" in the UI.
    clash = session.scalar(
        select(Account.name).where(
            Account.company_id == company_id, func.lower(Account.name) == name.lower()
        )
    )
    if clash is not None:
        raise ValueError(f"an account named {clash!r} already exists")
    account = Account(
        company_id=company_id,
        name=name,
        qbo_account_type=qbo_account_type,
        qbo_detail_type=qbo_detail_type.strip(),
        kind=QBO_KINDS[qbo_account_type],
        is_bank=is_bank,
    )
    session.add(account)
    session.flush()
    return account


def add_bank_account(
    session: Session,
    company: Company | str,
    name: str,
    kind: str,
    currency: str,
    last4: str | None = None,
) -> BankAccount:
    """Create a bank or credit-card account together with its own ledger account.

    The ledger account has the same name, so the bank account shows in the chart (and in QBO)
    as itself: an asset for a bank account, a liability for a credit card.
    """
    company_id = company if isinstance(company, str) else company.id
    if kind not in BANK_LEDGER_TYPES:
        raise ValueError(f"bank account kind must be 'bank' or 'credit_card', not {kind!r}")
    if last4 is not None and not re.fullmatch(r"\d{4}", last4):
        raise ValueError(f"last4 must be four digits, not {last4!r}")
    qbo_type, qbo_detail = BANK_LEDGER_TYPES[kind]
    ledger = add_account(session, company_id, name, qbo_type, qbo_detail, is_bank=True)
    bank = BankAccount(
        company_id=company_id,
        name=ledger.name,
        kind=kind,
        currency=_currency(currency),
        ledger_account_id=ledger.id,
        last4=last4,
    )
    session.add(bank)
    session.flush()
    return bank
