"""Reads and small writes on the books, every one scoped to a company.

Lists are newest first and paginated with an opaque cursor over the (time-sortable) id: the
next page is ``id < last id``, served by the ``(company_id, ..., id)`` indexes, so pages neither
skip nor repeat rows when new ones arrive meanwhile. Nothing here commits; callers own the
transaction (``db.session_scope``).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session, selectinload

from .models import (
    Account,
    AuditLog,
    BankAccount,
    JournalEntry,
    JournalLine,
    Rule,
    Transaction,
)
from .rules import RuleSuggestion, has_merchant_rule, suggest_rule, validate_rule
from .store import insert_transactions as insert_transactions  # callers import it from here

T = TypeVar("T")


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


R = TypeVar("R", bound=_HasId)
MAX_LIMIT = 500
_CURSOR_PREFIX = "v1:"


class NotFoundError(LookupError):
    pass


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode((_CURSOR_PREFIX + last_id).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError("invalid cursor") from None
    if not raw.startswith(_CURSOR_PREFIX) or len(raw) == len(_CURSOR_PREFIX):
        raise ValueError("invalid cursor")
    return raw[len(_CURSOR_PREFIX) :]


def _check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
    return limit


def _page(
    session: Session, stmt: Select[R], id_column: Any, limit: int, cursor: str | None
) -> Page[R]:
    limit = _check_limit(limit)
    if cursor is not None:
        stmt = stmt.where(id_column < decode_cursor(cursor))
    rows = list(session.scalars(stmt.order_by(id_column.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1].id) if more and rows else None
    return Page(rows, next_cursor)


def list_transactions(
    session: Session,
    company_id: str,
    status: str | None = None,
    needs_review: bool | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[Transaction]:
    stmt = select(Transaction).where(Transaction.company_id == company_id)
    if status is not None:
        stmt = stmt.where(Transaction.status == status)
    if needs_review is not None:
        stmt = stmt.where(Transaction.needs_review == needs_review)
    return _page(session, stmt, Transaction.id, limit, cursor)


def list_journal_entries(
    session: Session,
    company_id: str,
    status: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[JournalEntry]:
    """Entries with their lines loaded (one extra query per page, not per entry)."""
    stmt = (
        select(JournalEntry)
        .where(JournalEntry.company_id == company_id)
        .options(selectinload(JournalEntry.lines))
    )
    if status is not None:
        stmt = stmt.where(JournalEntry.status == status)
    return _page(session, stmt, JournalEntry.id, limit, cursor)


def get_transaction(session: Session, company_id: str, txn_id: str) -> Transaction | None:
    return session.scalars(
        select(Transaction).where(Transaction.company_id == company_id, Transaction.id == txn_id)
    ).one_or_none()


def get_account(session: Session, company_id: str, account_id: str) -> Account | None:
    return session.scalars(
        select(Account).where(Account.company_id == company_id, Account.id == account_id)
    ).one_or_none()


def list_accounts(session: Session, company_id: str, *, active_only: bool = False) -> list[Account]:
    stmt = select(Account).where(Account.company_id == company_id)
    if active_only:
        stmt = stmt.where(Account.active.is_(True))
    return list(session.scalars(stmt.order_by(Account.name)))


def list_bank_accounts(session: Session, company_id: str) -> list[BankAccount]:
    return list(
        session.scalars(
            select(BankAccount)
            .where(BankAccount.company_id == company_id)
            .order_by(BankAccount.name)
        )
    )


def list_rules(session: Session, company_id: str) -> list[Rule]:
    return list(
        session.scalars(select(Rule).where(Rule.company_id == company_id).order_by(Rule.position))
    )


def uncategorized_transactions(session: Session, company_id: str, limit: int) -> list[Transaction]:
    """Oldest first, so a categorizing job that runs in batches works through the backlog."""
    return list(
        session.scalars(
            select(Transaction)
            .where(Transaction.company_id == company_id, Transaction.status == "new")
            .order_by(Transaction.id)
            .limit(_check_limit(limit))
        )
    )


def audit(
    session: Session,
    company_id: str,
    user_id: str | None,
    action: str,
    target_type: str,
    target_id: str,
    details: dict[str, Any],
) -> AuditLog:
    row = AuditLog(
        company_id=company_id,
        user_id=user_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        details=details,
    )
    session.add(row)
    return row


def set_transaction_category(
    session: Session, company_id: str, txn_id: str, account_id: str, user_id: str | None
) -> tuple[Transaction, RuleSuggestion | None]:
    """A person's categorization: method "manual", confidence 1.0, audited.

    Returns a rule suggestion (merchant → account) when this changed the category and no rule
    already says so. A posted but not yet exported entry follows the new category; an
    exported one is in QuickBooks already and must be corrected there, so that is refused.
    """
    txn = get_transaction(session, company_id, txn_id)
    if txn is None:
        raise NotFoundError(f"no transaction {txn_id!r}")
    account = get_account(session, company_id, account_id)
    if account is None:
        raise ValueError(f"account {account_id!r} does not belong to company {company_id!r}")
    if not account.active:
        raise ValueError(f"account {account.name!r} is inactive")
    ledger_id = session.scalar(
        select(BankAccount.ledger_account_id).where(BankAccount.id == txn.bank_account_id)
    )
    if account.id == ledger_id:
        raise ValueError("a transaction cannot be categorized to its own bank account")
    if txn.status == "exported":
        raise ValueError("the transaction is exported; correct it in QuickBooks")
    entry = session.scalars(
        select(JournalEntry).where(JournalEntry.transaction_id == txn.id)
    ).one_or_none()
    if entry is not None and (entry.exported_at is not None or entry.qbo_id is not None):
        raise ValueError("the transaction's journal entry is exported; correct it in QuickBooks")

    previous = txn.account_id
    before = {"account_id": previous, "method": txn.method, "confidence": txn.confidence}
    if entry is not None and previous is not None and previous != account.id:
        session.execute(
            update(JournalLine)
            .where(JournalLine.entry_id == entry.id, JournalLine.account_id == previous)
            .values(account_id=account.id)
        )
    txn.account_id = account.id
    txn.method = "manual"
    txn.confidence = 1.0
    txn.needs_review = False
    txn.status = "categorized"  # a changed category needs approving again
    audit(
        session,
        company_id,
        user_id,
        "transaction.categorize",
        "transaction",
        txn.id,
        {"before": before, "after": {"account_id": account.id, "method": "manual"}},
    )
    session.flush()

    suggestion = None
    if previous != account.id and txn.merchant:
        existing = [(r.conditions, r.account_id) for r in list_rules(session, company_id)]
        if not has_merchant_rule(existing, txn.merchant, account.id):
            suggestion = suggest_rule(txn.merchant, account.id)
    return txn, suggestion


def _shift_positions(session: Session, company_id: str, from_position: int, delta: int) -> None:
    # Two steps through negative numbers: UNIQUE (company_id, position) is checked row by row on
    # both engines, so shifting in place would collide with a neighbour mid-statement.
    where = (Rule.company_id == company_id, Rule.position >= from_position)
    session.execute(update(Rule).where(*where).values(position=-Rule.position))
    session.execute(
        update(Rule)
        .where(Rule.company_id == company_id, Rule.position <= -from_position)
        .values(position=-Rule.position + delta)
    )


def create_rule(
    session: Session,
    company_id: str,
    name: str,
    conditions: list[dict[str, Any]],
    account_id: str,
    *,
    position: int | None = None,
    active: bool = True,
    user_id: str | None = None,
) -> Rule:
    """Validate and store a rule at ``position`` (1-based; default last), shifting later ones."""
    validate_rule(conditions, account_id)
    if get_account(session, company_id, account_id) is None:
        raise ValueError(f"account {account_id!r} does not belong to company {company_id!r}")
    if not name.strip():
        raise ValueError("a rule needs a name")
    count = session.scalar(select(func.count()).where(Rule.company_id == company_id)) or 0
    if position is None or position > count:
        position = count + 1
    elif position < 1:
        raise ValueError("position starts at 1")
    else:
        _shift_positions(session, company_id, position, +1)
    rule = Rule(
        company_id=company_id,
        position=position,
        name=name.strip(),
        conditions=conditions,
        account_id=account_id,
        active=active,
    )
    session.add(rule)
    session.flush()
    audit(
        session,
        company_id,
        user_id,
        "rule.create",
        "rule",
        rule.id,
        {"name": rule.name, "position": position, "account_id": account_id},
    )
    return rule


def delete_rule(
    session: Session, company_id: str, rule_id: str, user_id: str | None = None
) -> bool:
    """Delete a rule and close the gap in positions; False when the company has no such rule."""
    rule = session.scalars(
        select(Rule).where(Rule.company_id == company_id, Rule.id == rule_id)
    ).one_or_none()
    if rule is None:
        return False
    position = rule.position
    session.delete(rule)
    session.flush()
    _shift_positions(session, company_id, position + 1, -1)
    audit(
        session,
        company_id,
        user_id,
        "rule.delete",
        "rule",
        rule_id,
        {"name": rule.name, "position": position},
    )
    session.flush()
    return True
