"""create the books tables, and the triggers that keep journal entries balanced

Both engines: ``lf_journal_entries.total_debit_cents/total_credit_cents`` are the sums of the
entry's lines, rewritten by triggers on ``lf_journal_lines`` after every change, and a guard
trigger refuses any other value; the deferred self-referencing foreign key
``lf_journal_entries_balanced`` then holds only if the two totals are equal, and is checked at
COMMIT. That foreign key is SQLite's balance check. PostgreSQL also has a DEFERRABLE INITIALLY
DEFERRED constraint trigger that sums the lines themselves at COMMIT.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


_SUMS = """
    total_debit_cents = (SELECT coalesce(sum(debit_cents), 0) FROM lf_journal_lines
                         WHERE entry_id = {ref}.entry_id),
    total_credit_cents = (SELECT coalesce(sum(credit_cents), 0) FROM lf_journal_lines
                          WHERE entry_id = {ref}.entry_id)
"""
_SQLITE_SYNC = "UPDATE lf_journal_entries SET {sums} WHERE id = {ref}.entry_id;"
_SQLITE_MISMATCH = """
    NEW.total_debit_cents <> (SELECT coalesce(sum(debit_cents), 0) FROM lf_journal_lines
                              WHERE entry_id = NEW.id)
    OR NEW.total_credit_cents <> (SELECT coalesce(sum(credit_cents), 0) FROM lf_journal_lines
                                  WHERE entry_id = NEW.id)
"""
_GUARD_MESSAGE = "journal entry totals are derived from lf_journal_lines"


def _sqlite_sync(ref: str) -> str:
    return _SQLITE_SYNC.format(sums=_SUMS.format(ref=ref), ref=ref)


SQLITE_UP = [
    f"""CREATE TRIGGER lf_journal_lines_sync_insert AFTER INSERT ON lf_journal_lines
    BEGIN {_sqlite_sync("NEW")} END""",
    f"""CREATE TRIGGER lf_journal_lines_sync_update AFTER UPDATE OF entry_id, debit_cents, credit_cents ON lf_journal_lines
    BEGIN {_sqlite_sync("OLD")} {_sqlite_sync("NEW")} END""",
    f"""CREATE TRIGGER lf_journal_lines_sync_delete AFTER DELETE ON lf_journal_lines
    BEGIN {_sqlite_sync("OLD")} END""",
    f"""CREATE TRIGGER lf_journal_entries_totals_insert BEFORE INSERT ON lf_journal_entries
    WHEN {_SQLITE_MISMATCH}
    BEGIN SELECT RAISE(ABORT, '{_GUARD_MESSAGE}'); END""",
    f"""CREATE TRIGGER lf_journal_entries_totals_update
    BEFORE UPDATE OF total_debit_cents, total_credit_cents ON lf_journal_entries
    WHEN {_SQLITE_MISMATCH}
    BEGIN SELECT RAISE(ABORT, '{_GUARD_MESSAGE}'); END""",
]
SQLITE_DOWN = [
    f"DROP TRIGGER IF EXISTS {name}"
    for name in (
        "lf_journal_lines_sync_insert",
        "lf_journal_lines_sync_update",
        "lf_journal_lines_sync_delete",
        "lf_journal_entries_totals_insert",
        "lf_journal_entries_totals_update",
    )
]

# One UPDATE per statement on lf_journal_lines (transition tables), not one per line: bulk
# posting writes thousands of lines per INSERT. PostgreSQL allows a transition table only on a
# single-event trigger, hence three triggers sharing one function.
_PG_SYNC = """
    UPDATE lf_journal_entries e
    SET total_debit_cents = s.debit, total_credit_cents = s.credit
    FROM (SELECT ids.id, coalesce(sum(l.debit_cents), 0) AS debit,
                 coalesce(sum(l.credit_cents), 0) AS credit
          FROM ({changed}) ids
          LEFT JOIN lf_journal_lines l ON l.entry_id = ids.id
          GROUP BY ids.id) s
    WHERE e.id = s.id
      AND (e.total_debit_cents, e.total_credit_cents) IS DISTINCT FROM (s.debit, s.credit);
"""
_PG_NEW = "SELECT DISTINCT entry_id AS id FROM new_lines"
_PG_OLD = "SELECT DISTINCT entry_id AS id FROM old_lines"
_PG_BOTH = f"{_PG_NEW} UNION {_PG_OLD}"

POSTGRESQL_UP = [
    f"""CREATE FUNCTION lf_journal_lines_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN {_PG_SYNC.format(changed=_PG_NEW)}
        ELSIF TG_OP = 'DELETE' THEN {_PG_SYNC.format(changed=_PG_OLD)}
        ELSE {_PG_SYNC.format(changed=_PG_BOTH)}
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER lf_journal_lines_sync_insert AFTER INSERT ON lf_journal_lines
    REFERENCING NEW TABLE AS new_lines
    FOR EACH STATEMENT EXECUTE FUNCTION lf_journal_lines_sync()""",
    """CREATE TRIGGER lf_journal_lines_sync_update AFTER UPDATE ON lf_journal_lines
    REFERENCING OLD TABLE AS old_lines NEW TABLE AS new_lines
    FOR EACH STATEMENT EXECUTE FUNCTION lf_journal_lines_sync()""",
    """CREATE TRIGGER lf_journal_lines_sync_delete AFTER DELETE ON lf_journal_lines
    REFERENCING OLD TABLE AS old_lines
    FOR EACH STATEMENT EXECUTE FUNCTION lf_journal_lines_sync()""",
    # Guards against writing the totals directly. Writes from the sync trigger (depth > 0) are
    # correct by construction and skip the check; a new entry has no lines yet (the foreign key
    # from lines is immediate), so its totals must start at zero.
    f"""CREATE FUNCTION lf_journal_entries_totals_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        debit bigint := 0;
        credit bigint := 0;
    BEGIN
        IF TG_OP = 'UPDATE' THEN
            SELECT coalesce(sum(debit_cents), 0), coalesce(sum(credit_cents), 0)
            INTO debit, credit FROM lf_journal_lines WHERE entry_id = NEW.id;
        END IF;
        IF NEW.total_debit_cents <> debit OR NEW.total_credit_cents <> credit THEN
            RAISE EXCEPTION '{_GUARD_MESSAGE} (entry %)', NEW.id
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER lf_journal_entries_totals_guard
    BEFORE INSERT OR UPDATE OF total_debit_cents, total_credit_cents ON lf_journal_entries
    FOR EACH ROW WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION lf_journal_entries_totals_guard()""",
    # The balance check proper: at COMMIT, from the lines themselves (not the cached totals).
    """CREATE FUNCTION lf_journal_lines_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        entry text;
        debit bigint;
        credit bigint;
    BEGIN
        FOREACH entry IN ARRAY (CASE TG_OP
            WHEN 'INSERT' THEN ARRAY[NEW.entry_id]
            WHEN 'DELETE' THEN ARRAY[OLD.entry_id]
            ELSE ARRAY[OLD.entry_id, NEW.entry_id] END)
        LOOP
            SELECT coalesce(sum(debit_cents), 0), coalesce(sum(credit_cents), 0)
            INTO debit, credit FROM lf_journal_lines WHERE entry_id = entry;
            IF debit <> credit THEN
                RAISE EXCEPTION 'journal entry % is unbalanced: debits % <> credits %',
                    entry, debit, credit USING ERRCODE = 'check_violation';
            END IF;
        END LOOP;
        RETURN NULL;
    END $$""",
    """CREATE CONSTRAINT TRIGGER lf_journal_lines_balanced
    AFTER INSERT OR UPDATE OR DELETE ON lf_journal_lines
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION lf_journal_lines_balanced()""",
]
POSTGRESQL_DOWN = [
    "DROP TRIGGER IF EXISTS lf_journal_lines_balanced ON lf_journal_lines",
    "DROP TRIGGER IF EXISTS lf_journal_entries_totals_guard ON lf_journal_entries",
    "DROP TRIGGER IF EXISTS lf_journal_lines_sync_insert ON lf_journal_lines",
    "DROP TRIGGER IF EXISTS lf_journal_lines_sync_update ON lf_journal_lines",
    "DROP TRIGGER IF EXISTS lf_journal_lines_sync_delete ON lf_journal_lines",
    "DROP FUNCTION IF EXISTS lf_journal_lines_balanced()",
    "DROP FUNCTION IF EXISTS lf_journal_entries_totals_guard()",
    "DROP FUNCTION IF EXISTS lf_journal_lines_sync()",
]


def _run(statements: dict[str, list[str]]) -> None:
    dialect = op.get_bind().dialect.name
    if dialect not in statements:
        raise NotImplementedError(f"the books have no balance triggers for {dialect}")
    for statement in statements[dialect]:
        op.execute(statement)


def upgrade() -> None:
    op.create_table(
        "lf_companies",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("base_currency", sa.String(length=3), server_default="USD", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("length(base_currency) = 3", name="lf_companies_currency"),
        sa.PrimaryKeyConstraint("id", name=op.f("lf_companies_pkey")),
    )
    op.create_table(
        "lf_users",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("is_admin", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("email = lower(email)", name="lf_users_email_lower"),
        sa.PrimaryKeyConstraint("id", name=op.f("lf_users_pkey")),
        sa.UniqueConstraint("email", name=op.f("lf_users_email_key")),
    )
    op.create_table(
        "lf_accounts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("qbo_account_type", sa.String(length=64), nullable=False),
        sa.Column("qbo_detail_type", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("is_bank", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("qbo_id", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('asset', 'liability', 'equity', 'income', 'expense')", name="lf_accounts_kind"
        ),
        sa.ForeignKeyConstraint(
            ["company_id"], ["lf_companies.id"], name=op.f("lf_accounts_company_id_fkey")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("lf_accounts_pkey")),
        sa.UniqueConstraint("company_id", "id", name="lf_accounts_company_id"),
        sa.UniqueConstraint("company_id", "name", name="lf_accounts_company_name"),
    )
    op.create_table(
        "lf_audit_log",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["lf_companies.id"], name=op.f("lf_audit_log_company_id_fkey")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("lf_audit_log_pkey")),
    )
    op.create_index("lf_audit_log_company", "lf_audit_log", ["company_id", "id"], unique=False)
    op.create_index(
        "lf_audit_log_target",
        "lf_audit_log",
        ["company_id", "target_type", "target_id"],
        unique=False,
    )

    op.create_table(
        "lf_memberships",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('owner', 'bookkeeper', 'viewer')", name="lf_memberships_role"),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["lf_companies.id"],
            name=op.f("lf_memberships_company_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["lf_users.id"],
            name=op.f("lf_memberships_user_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("lf_memberships_pkey")),
        sa.UniqueConstraint("user_id", "company_id", name="lf_memberships_user_company"),
    )
    op.create_index("lf_memberships_company", "lf_memberships", ["company_id"], unique=False)

    op.create_table(
        "lf_bank_accounts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("ledger_account_id", sa.String(length=40), nullable=False),
        sa.Column("last4", sa.String(length=4), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('bank', 'credit_card')", name="lf_bank_accounts_kind"),
        sa.ForeignKeyConstraint(
            ["company_id", "ledger_account_id"],
            ["lf_accounts.company_id", "lf_accounts.id"],
            name="lf_bank_accounts_ledger_account",
        ),
        sa.ForeignKeyConstraint(
            ["company_id"], ["lf_companies.id"], name=op.f("lf_bank_accounts_company_id_fkey")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("lf_bank_accounts_pkey")),
        sa.UniqueConstraint("company_id", "id", name="lf_bank_accounts_company_id"),
        sa.UniqueConstraint(
            "ledger_account_id", name=op.f("lf_bank_accounts_ledger_account_id_key")
        ),
    )
    op.create_table(
        "lf_rules",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id", "account_id"],
            ["lf_accounts.company_id", "lf_accounts.id"],
            name="lf_rules_account",
        ),
        sa.ForeignKeyConstraint(
            ["company_id"], ["lf_companies.id"], name=op.f("lf_rules_company_id_fkey")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("lf_rules_pkey")),
        sa.UniqueConstraint("company_id", "position", name="lf_rules_position"),
    )
    op.create_table(
        "lf_transactions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("bank_account_id", sa.String(length=40), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("merchant", sa.String(length=200), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("source_file", sa.String(length=500), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="new", nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("method", sa.String(length=16), nullable=True),
        sa.Column("needs_review", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("memo", sa.Text(), nullable=True),
        sa.Column("import_job_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "method IS NULL OR method IN ('rule', 'model', 'llm', 'manual')",
            name="lf_transactions_method",
        ),
        sa.CheckConstraint(
            "status = 'new' OR account_id IS NOT NULL", name="lf_transactions_categorized"
        ),
        sa.CheckConstraint(
            "status IN ('new', 'categorized', 'approved', 'exported')",
            name="lf_transactions_status",
        ),
        sa.CheckConstraint(
            "confidence IS NULL OR (confidence >= 0 AND confidence <= 1)",
            name="lf_transactions_confidence",
        ),
        sa.CheckConstraint("length(currency) = 3", name="lf_transactions_currency"),
        sa.ForeignKeyConstraint(
            ["company_id", "account_id"],
            ["lf_accounts.company_id", "lf_accounts.id"],
            name="lf_transactions_account",
        ),
        sa.ForeignKeyConstraint(
            ["company_id", "bank_account_id"],
            ["lf_bank_accounts.company_id", "lf_bank_accounts.id"],
            name="lf_transactions_bank_account",
        ),
        sa.ForeignKeyConstraint(
            ["company_id"], ["lf_companies.id"], name=op.f("lf_transactions_company_id_fkey")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("lf_transactions_pkey")),
        sa.UniqueConstraint("company_id", "fingerprint", name="lf_transactions_fingerprint"),
        sa.UniqueConstraint("company_id", "id", name="lf_transactions_company_id"),
    )
    op.create_index("lf_transactions_date", "lf_transactions", ["company_id", "date"], unique=False)
    op.create_index(
        "lf_transactions_review",
        "lf_transactions",
        ["company_id", "needs_review", "id"],
        unique=False,
    )
    op.create_index(
        "lf_transactions_status", "lf_transactions", ["company_id", "status", "id"], unique=False
    )

    op.create_table(
        "lf_journal_entries",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("transaction_id", sa.String(length=40), nullable=True),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("memo", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="draft", nullable=False),
        sa.Column("qbo_id", sa.String(length=64), nullable=True),
        sa.Column("exported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("total_debit_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("total_credit_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('draft', 'posted')", name="lf_journal_entries_status"),
        sa.CheckConstraint(
            "total_debit_cents >= 0 AND total_credit_cents >= 0", name="lf_journal_entries_totals"
        ),
        sa.ForeignKeyConstraint(
            ["company_id", "transaction_id"],
            ["lf_transactions.company_id", "lf_transactions.id"],
            name="lf_journal_entries_transaction",
        ),
        sa.ForeignKeyConstraint(
            ["company_id"], ["lf_companies.id"], name=op.f("lf_journal_entries_company_id_fkey")
        ),
        sa.ForeignKeyConstraint(
            ["id", "total_credit_cents"],
            ["lf_journal_entries.id", "lf_journal_entries.total_debit_cents"],
            name="lf_journal_entries_balanced",
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("lf_journal_entries_pkey")),
        sa.UniqueConstraint("company_id", "id", name="lf_journal_entries_company_id"),
        sa.UniqueConstraint("id", "total_debit_cents", name="lf_journal_entries_debit_key"),
        sa.UniqueConstraint("transaction_id", name=op.f("lf_journal_entries_transaction_id_key")),
    )
    op.create_index(
        "lf_journal_entries_date", "lf_journal_entries", ["company_id", "date"], unique=False
    )

    op.create_table(
        "lf_receipts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("file_path", sa.String(length=1000), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("vendor", sa.String(length=200), nullable=True),
        sa.Column("date", sa.Date(), nullable=True),
        sa.Column("subtotal_cents", sa.BigInteger(), nullable=True),
        sa.Column("tax_cents", sa.BigInteger(), nullable=True),
        sa.Column("total_cents", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("field_confidences", sa.JSON(), nullable=True),
        sa.Column("raw_text", sa.Text(), nullable=True),
        sa.Column("matched_transaction_id", sa.String(length=40), nullable=True),
        sa.Column("candidates", sa.JSON(), nullable=True),
        sa.Column("job_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'processed', 'matched', 'failed')", name="lf_receipts_status"
        ),
        sa.ForeignKeyConstraint(
            ["company_id", "matched_transaction_id"],
            ["lf_transactions.company_id", "lf_transactions.id"],
            name="lf_receipts_transaction",
        ),
        sa.ForeignKeyConstraint(
            ["company_id"], ["lf_companies.id"], name=op.f("lf_receipts_company_id_fkey")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("lf_receipts_pkey")),
    )
    op.create_index("lf_receipts_company", "lf_receipts", ["company_id", "id"], unique=False)

    op.create_table(
        "lf_journal_lines",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("entry_id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("debit_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("credit_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "(debit_cents > 0 AND credit_cents = 0) OR (debit_cents = 0 AND credit_cents > 0)",
            name="lf_journal_lines_one_side",
        ),
        sa.ForeignKeyConstraint(
            ["company_id", "account_id"],
            ["lf_accounts.company_id", "lf_accounts.id"],
            name="lf_journal_lines_account",
        ),
        sa.ForeignKeyConstraint(
            ["company_id", "entry_id"],
            ["lf_journal_entries.company_id", "lf_journal_entries.id"],
            name="lf_journal_lines_entry",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("lf_journal_lines_pkey")),
    )
    op.create_index(
        "lf_journal_lines_account", "lf_journal_lines", ["company_id", "account_id"], unique=False
    )
    op.create_index("lf_journal_lines_entry", "lf_journal_lines", ["entry_id"], unique=False)
    _run({"sqlite": SQLITE_UP, "postgresql": POSTGRESQL_UP})


def downgrade() -> None:
    _run({"sqlite": SQLITE_DOWN, "postgresql": POSTGRESQL_DOWN})
    op.drop_index("lf_journal_lines_entry", table_name="lf_journal_lines")
    op.drop_index("lf_journal_lines_account", table_name="lf_journal_lines")

    op.drop_table("lf_journal_lines")
    op.drop_index("lf_receipts_company", table_name="lf_receipts")

    op.drop_table("lf_receipts")
    op.drop_index("lf_journal_entries_date", table_name="lf_journal_entries")

    op.drop_table("lf_journal_entries")
    op.drop_index("lf_transactions_status", table_name="lf_transactions")
    op.drop_index("lf_transactions_review", table_name="lf_transactions")
    op.drop_index("lf_transactions_date", table_name="lf_transactions")

    op.drop_table("lf_transactions")
    op.drop_table("lf_rules")
    op.drop_table("lf_bank_accounts")
    op.drop_index("lf_memberships_company", table_name="lf_memberships")

    op.drop_table("lf_memberships")
    op.drop_index("lf_audit_log_target", table_name="lf_audit_log")
    op.drop_index("lf_audit_log_company", table_name="lf_audit_log")

    op.drop_table("lf_audit_log")
    op.drop_table("lf_accounts")
    op.drop_table("lf_users")
    op.drop_table("lf_companies")
