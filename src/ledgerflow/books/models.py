"""The books' tables as SQLAlchemy 2 typed models (their own ``MetaData``, names prefixed ``lf_``).

Money is always integer cents (``BigInteger``), signed where it is a bank movement (negative =
money out). Every row belongs to one company, and references between rows go through composite
foreign keys on ``(company_id, id)`` so the database itself refuses a row that points at another
company's account, transaction or entry. The balance of journal entries is enforced by triggers
created in the migration; see ``docs/data-model.md`` for the mechanism on each engine.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates
from sqlalchemy.types import TypeDecorator

from ledgerflow.jobs import ids as _ids

ID = String(40)
TXN_STATUSES = ("new", "categorized", "approved", "exported")
METHODS = ("rule", "model", "llm", "manual")
KINDS = ("asset", "liability", "equity", "income", "expense")
ROLES = ("owner", "bookkeeper", "viewer")
RECEIPT_STATUSES = ("pending", "processed", "matched", "failed")


def new_id(prefix: str) -> str:
    """``prefix_`` + a ULID: ids sort by creation time, which the cursors rely on."""
    return f"{prefix}_{_ids.new_ulid()}"


def new_ids(prefix: str, count: int) -> list[str]:
    """``count`` increasing ids for a bulk insert, far cheaper than ``count`` calls of new_id."""
    return _ids.new_ids(f"{prefix}_", count)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An aware UTC datetime on both engines.

    SQLite has no time-zone type and SQLAlchemy stores its datetimes naive, so values are
    normalized to UTC on the way in and tagged UTC on the way out; naive input is refused
    rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware (UTC) datetime")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    # Every constraint gets a stable name, so later migrations (SQLite's batch mode included)
    # can address it on both engines.
    metadata = MetaData(
        naming_convention={
            "pk": "%(table_name)s_pkey",
            "fk": "%(table_name)s_%(column_0_N_name)s_fkey",
            "uq": "%(table_name)s_%(column_0_N_name)s_key",
            "ix": "%(table_name)s_%(column_0_N_name)s_idx",
        }
    )


def _created() -> Mapped[dt.datetime]:
    return mapped_column(UTCDateTime(), nullable=False, default=utcnow)


class Company(Base):
    __tablename__ = "lf_companies"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    base_currency: Mapped[str] = mapped_column(String(3), server_default="USD")
    created_at: Mapped[dt.datetime] = _created()

    __table_args__ = (CheckConstraint("length(base_currency) = 3", name="lf_companies_currency"),)


class User(Base):
    __tablename__ = "lf_users"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=lambda: new_id("usr"))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, server_default=false())
    created_at: Mapped[dt.datetime] = _created()

    # Case-insensitive uniqueness without a functional index: only lowercase is stored.
    __table_args__ = (CheckConstraint("email = lower(email)", name="lf_users_email_lower"),)

    @validates("email")
    def _lowercase_email(self, _key: str, value: str) -> str:
        return value.strip().lower()


class Membership(Base):
    __tablename__ = "lf_memberships"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=lambda: new_id("mem"))
    user_id: Mapped[str] = mapped_column(ForeignKey("lf_users.id", ondelete="CASCADE"))
    company_id: Mapped[str] = mapped_column(ForeignKey("lf_companies.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = _created()

    __table_args__ = (
        UniqueConstraint("user_id", "company_id", name="lf_memberships_user_company"),
        CheckConstraint(_in("role", ROLES), name="lf_memberships_role"),
        Index("lf_memberships_company", "company_id"),
    )


class Account(Base):
    __tablename__ = "lf_accounts"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=lambda: new_id("acc"))
    company_id: Mapped[str] = mapped_column(ForeignKey("lf_companies.id"))
    name: Mapped[str] = mapped_column(String(200))
    qbo_account_type: Mapped[str] = mapped_column(String(64))
    qbo_detail_type: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    is_bank: Mapped[bool] = mapped_column(Boolean, server_default=false())
    qbo_id: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())
    created_at: Mapped[dt.datetime] = _created()

    __table_args__ = (
        UniqueConstraint("company_id", "name", name="lf_accounts_company_name"),
        # The target of the composite foreign keys that keep references inside one company.
        UniqueConstraint("company_id", "id", name="lf_accounts_company_id"),
        CheckConstraint(_in("kind", KINDS), name="lf_accounts_kind"),
    )


class BankAccount(Base):
    __tablename__ = "lf_bank_accounts"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=lambda: new_id("bnk"))
    company_id: Mapped[str] = mapped_column(ForeignKey("lf_companies.id"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    ledger_account_id: Mapped[str] = mapped_column(ID, unique=True)
    last4: Mapped[str | None] = mapped_column(String(4))
    created_at: Mapped[dt.datetime] = _created()

    __table_args__ = (
        UniqueConstraint("company_id", "id", name="lf_bank_accounts_company_id"),
        ForeignKeyConstraint(
            ["company_id", "ledger_account_id"],
            ["lf_accounts.company_id", "lf_accounts.id"],
            name="lf_bank_accounts_ledger_account",
        ),
        CheckConstraint("kind IN ('bank', 'credit_card')", name="lf_bank_accounts_kind"),
    )


class Transaction(Base):
    __tablename__ = "lf_transactions"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=lambda: new_id("txn"))
    company_id: Mapped[str] = mapped_column(ForeignKey("lf_companies.id"))
    bank_account_id: Mapped[str] = mapped_column(ID)
    date: Mapped[dt.date] = mapped_column(Date)
    description: Mapped[str] = mapped_column(Text)
    merchant: Mapped[str | None] = mapped_column(String(200))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    source_file: Mapped[str | None] = mapped_column(String(500))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), server_default="new")
    account_id: Mapped[str | None] = mapped_column(ID)
    confidence: Mapped[float | None] = mapped_column(Float)
    method: Mapped[str | None] = mapped_column(String(16))
    needs_review: Mapped[bool] = mapped_column(Boolean, server_default=false())
    external_id: Mapped[str | None] = mapped_column(String(200))
    memo: Mapped[str | None] = mapped_column(Text)
    import_job_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, onupdate=utcnow
    )

    __table_args__ = (
        UniqueConstraint("company_id", "fingerprint", name="lf_transactions_fingerprint"),
        UniqueConstraint("company_id", "id", name="lf_transactions_company_id"),
        ForeignKeyConstraint(
            ["company_id", "bank_account_id"],
            ["lf_bank_accounts.company_id", "lf_bank_accounts.id"],
            name="lf_transactions_bank_account",
        ),
        ForeignKeyConstraint(
            ["company_id", "account_id"],
            ["lf_accounts.company_id", "lf_accounts.id"],
            name="lf_transactions_account",
        ),
        CheckConstraint(_in("status", TXN_STATUSES), name="lf_transactions_status"),
        CheckConstraint(
            f"method IS NULL OR {_in('method', METHODS)}", name="lf_transactions_method"
        ),
        CheckConstraint(
            "confidence IS NULL OR (confidence >= 0 AND confidence <= 1)",
            name="lf_transactions_confidence",
        ),
        # Past "new" a transaction has a category: approving or exporting nothing is a bug.
        CheckConstraint(
            "status = 'new' OR account_id IS NOT NULL", name="lf_transactions_categorized"
        ),
        CheckConstraint("length(currency) = 3", name="lf_transactions_currency"),
        Index("lf_transactions_status", "company_id", "status", "id"),
        Index("lf_transactions_review", "company_id", "needs_review", "id"),
        Index("lf_transactions_date", "company_id", "date"),
    )


class JournalEntry(Base):
    __tablename__ = "lf_journal_entries"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=lambda: new_id("je"))
    company_id: Mapped[str] = mapped_column(ForeignKey("lf_companies.id"))
    transaction_id: Mapped[str | None] = mapped_column(ID, unique=True)
    date: Mapped[dt.date] = mapped_column(Date)
    memo: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), server_default="draft")
    qbo_id: Mapped[str | None] = mapped_column(String(64))
    exported_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Sums of the lines, written only by the triggers on lf_journal_lines (a guard trigger
    # refuses any other value). Their equality is what the deferred check compares.
    total_debit_cents: Mapped[int] = mapped_column(BigInteger, server_default="0")
    total_credit_cents: Mapped[int] = mapped_column(BigInteger, server_default="0")
    created_at: Mapped[dt.datetime] = _created()

    lines: Mapped[list[JournalLine]] = relationship(
        back_populates="entry", cascade="all, delete-orphan", passive_deletes=True
    )

    __table_args__ = (
        UniqueConstraint("company_id", "id", name="lf_journal_entries_company_id"),
        UniqueConstraint("id", "total_debit_cents", name="lf_journal_entries_debit_key"),
        # Self-reference that holds only when credits = debits; deferred, so it is checked at
        # COMMIT. This is SQLite's balance check (its only deferred constraint) and a second
        # one on PostgreSQL, next to the constraint trigger.
        ForeignKeyConstraint(
            ["id", "total_credit_cents"],
            ["lf_journal_entries.id", "lf_journal_entries.total_debit_cents"],
            name="lf_journal_entries_balanced",
            deferrable=True,
            initially="DEFERRED",
        ),
        ForeignKeyConstraint(
            ["company_id", "transaction_id"],
            ["lf_transactions.company_id", "lf_transactions.id"],
            name="lf_journal_entries_transaction",
        ),
        CheckConstraint("status IN ('draft', 'posted')", name="lf_journal_entries_status"),
        CheckConstraint(
            "total_debit_cents >= 0 AND total_credit_cents >= 0", name="lf_journal_entries_totals"
        ),
        Index("lf_journal_entries_date", "company_id", "date"),
    )


class JournalLine(Base):
    __tablename__ = "lf_journal_lines"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=lambda: new_id("jel"))
    company_id: Mapped[str] = mapped_column(String(64))
    entry_id: Mapped[str] = mapped_column(ID)
    account_id: Mapped[str] = mapped_column(ID)
    debit_cents: Mapped[int] = mapped_column(BigInteger, server_default="0")
    credit_cents: Mapped[int] = mapped_column(BigInteger, server_default="0")
    description: Mapped[str | None] = mapped_column(Text)

    entry: Mapped[JournalEntry] = relationship(back_populates="lines")

    __table_args__ = (
        # Deferred, so bulk posting can write an entry's lines before the entry itself and the
        # entry's guard trigger checks its totals once, instead of a trigger rewriting them
        # after every line (see migration 0003).
        ForeignKeyConstraint(
            ["company_id", "entry_id"],
            ["lf_journal_entries.company_id", "lf_journal_entries.id"],
            name="lf_journal_lines_entry",
            ondelete="CASCADE",
            deferrable=True,
            initially="DEFERRED",
        ),
        ForeignKeyConstraint(
            ["company_id", "account_id"],
            ["lf_accounts.company_id", "lf_accounts.id"],
            name="lf_journal_lines_account",
        ),
        CheckConstraint(
            "(debit_cents > 0 AND credit_cents = 0) OR (debit_cents = 0 AND credit_cents > 0)",
            name="lf_journal_lines_one_side",
        ),
        # Serves the balance triggers (entry_id) and the deferred foreign key's look-ups
        # (company_id, entry_id): see migration 0003.
        Index("lf_journal_lines_entry", "entry_id", "company_id"),
        Index("lf_journal_lines_account", "company_id", "account_id"),
    )


class Rule(Base):
    __tablename__ = "lf_rules"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=lambda: new_id("rul"))
    company_id: Mapped[str] = mapped_column(ForeignKey("lf_companies.id"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    account_id: Mapped[str] = mapped_column(ID)
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())
    created_at: Mapped[dt.datetime] = _created()

    __table_args__ = (
        UniqueConstraint("company_id", "position", name="lf_rules_position"),
        ForeignKeyConstraint(
            ["company_id", "account_id"],
            ["lf_accounts.company_id", "lf_accounts.id"],
            name="lf_rules_account",
        ),
    )


class Receipt(Base):
    __tablename__ = "lf_receipts"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=lambda: new_id("rcp"))
    company_id: Mapped[str] = mapped_column(ForeignKey("lf_companies.id"))
    file_path: Mapped[str] = mapped_column(String(1000))
    content_type: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    vendor: Mapped[str | None] = mapped_column(String(200))
    date: Mapped[dt.date | None] = mapped_column(Date)
    subtotal_cents: Mapped[int | None] = mapped_column(BigInteger)
    tax_cents: Mapped[int | None] = mapped_column(BigInteger)
    total_cents: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    field_confidences: Mapped[dict[str, float] | None] = mapped_column(JSON)
    raw_text: Mapped[str | None] = mapped_column(Text)  # what OCR read, nothing else
    error: Mapped[str | None] = mapped_column(Text)  # why processing failed, for the user
    matched_transaction_id: Mapped[str | None] = mapped_column(ID)
    candidates: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    job_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = _created()

    __table_args__ = (
        ForeignKeyConstraint(
            ["company_id", "matched_transaction_id"],
            ["lf_transactions.company_id", "lf_transactions.id"],
            name="lf_receipts_transaction",
        ),
        CheckConstraint(_in("status", RECEIPT_STATUSES), name="lf_receipts_status"),
        Index("lf_receipts_company", "company_id", "id"),
    )


class AuditLog(Base):
    __tablename__ = "lf_audit_log"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=lambda: new_id("aud"))
    company_id: Mapped[str] = mapped_column(ForeignKey("lf_companies.id"))
    user_id: Mapped[str | None] = mapped_column(ID)
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = _created()

    __table_args__ = (
        Index("lf_audit_log_company", "company_id", "id"),
        Index("lf_audit_log_target", "company_id", "target_type", "target_id"),
    )


class QboConnection(Base):
    """A company's QuickBooks Online connection; the tokens are encrypted (see ``books.qbo``)."""

    __tablename__ = "lf_qbo_connections"

    company_id: Mapped[str] = mapped_column(ForeignKey("lf_companies.id"), primary_key=True)
    realm_id: Mapped[str] = mapped_column(String(64))
    access_token: Mapped[str] = mapped_column(Text)
    refresh_token: Mapped[str] = mapped_column(Text)
    access_expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    refresh_expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    connected_by: Mapped[str | None] = mapped_column(ID)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)


class QboExport(Base):
    """One journal entry sent (``pending``, with its batch item) or exported (``done``)."""

    __tablename__ = "lf_qbo_exports"

    entry_id: Mapped[str] = mapped_column(ID, primary_key=True)
    company_id: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    request_id: Mapped[str | None] = mapped_column(String(36))
    bid: Mapped[str | None] = mapped_column(String(10))
    item: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    ref: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = _created()
    exported_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        ForeignKeyConstraint(
            ["company_id", "entry_id"],
            ["lf_journal_entries.company_id", "lf_journal_entries.id"],
            name="lf_qbo_exports_entry",
            ondelete="CASCADE",
        ),
        CheckConstraint("mode IN ('api', 'iif', 'csv')", name="lf_qbo_exports_mode"),
        CheckConstraint("status IN ('pending', 'done')", name="lf_qbo_exports_status"),
        Index("lf_qbo_exports_pending", "company_id", "status", "request_id"),
    )
