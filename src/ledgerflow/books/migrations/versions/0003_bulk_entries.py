"""journal lines may precede their entry in a transaction; receipts get an error column

Bulk posting used to insert an entry with zero totals and then its lines, so every line's
trigger rewrote the entry's totals (re-summing its lines, and on SQLite re-checking them in the
guard trigger too): most of the cost of writing journal entries. Now the foreign key from
``lf_journal_lines`` to its entry is ``DEFERRABLE INITIALLY DEFERRED``, so a writer may insert
the lines first and then the entry with its totals; the guard on INSERT checks those totals
against the lines once per entry. The balance invariant itself is unchanged: totals still equal
the sums of the lines (sync triggers after any later line change, guard on any direct write),
the deferred self-referencing foreign key still requires debits = credits at COMMIT, and a line
whose entry never arrives fails its foreign key at COMMIT.

``lf_receipts.error`` holds a failed receipt's message, moved out of ``raw_text``, which is left
for the OCR text.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_SUM = "(SELECT coalesce(sum({side}_cents), 0) FROM lf_journal_lines WHERE entry_id = {ref})"
_RESUM = (
    "UPDATE lf_journal_entries SET total_debit_cents = {debit}, total_credit_cents = {credit}"
    " WHERE id = {ref}.entry_id;"
)
# One pass over the entry's lines instead of two subqueries.
_MISMATCH = (
    "(SELECT coalesce(sum(debit_cents), 0) <> NEW.total_debit_cents"
    " OR coalesce(sum(credit_cents), 0) <> NEW.total_credit_cents"
    " FROM lf_journal_lines WHERE entry_id = NEW.id)"
)
_GUARD_MESSAGE = "journal entry totals are derived from lf_journal_lines"


def _resum(ref: str) -> str:
    entry = f"{ref}.entry_id"
    return _RESUM.format(
        debit=_SUM.format(side="debit", ref=entry),
        credit=_SUM.format(side="credit", ref=entry),
        ref=ref,
    )


def _sqlite_triggers(guard_when: str) -> list[str]:
    # A line inserted before its entry finds no entry to update: the guard checks it instead.
    return [
        f"""CREATE TRIGGER lf_journal_lines_sync_insert AFTER INSERT ON lf_journal_lines
        BEGIN {_resum("NEW")} END""",
        f"""CREATE TRIGGER lf_journal_lines_sync_update
        AFTER UPDATE OF entry_id, debit_cents, credit_cents ON lf_journal_lines
        BEGIN {_resum("OLD")} {_resum("NEW")} END""",
        f"""CREATE TRIGGER lf_journal_lines_sync_delete AFTER DELETE ON lf_journal_lines
        BEGIN {_resum("OLD")} END""",
        f"""CREATE TRIGGER lf_journal_entries_totals_insert BEFORE INSERT ON lf_journal_entries
        WHEN {guard_when}
        BEGIN SELECT RAISE(ABORT, '{_GUARD_MESSAGE}'); END""",
        f"""CREATE TRIGGER lf_journal_entries_totals_update
        BEFORE UPDATE OF total_debit_cents, total_credit_cents ON lf_journal_entries
        WHEN {guard_when}
        BEGIN SELECT RAISE(ABORT, '{_GUARD_MESSAGE}'); END""",
    ]


_SQLITE_TRIGGER_NAMES = (
    "lf_journal_lines_sync_insert",
    "lf_journal_lines_sync_update",
    "lf_journal_lines_sync_delete",
    "lf_journal_entries_totals_insert",
    "lf_journal_entries_totals_update",
)
# The 0001 form of the guard's condition, restored on downgrade.
_MISMATCH_0001 = (
    f"NEW.total_debit_cents <> {_SUM.format(side='debit', ref='NEW.id')}"
    f" OR NEW.total_credit_cents <> {_SUM.format(side='credit', ref='NEW.id')}"
)


def _pg_guard(sum_lines_when: str) -> str:
    """The PostgreSQL guard on writes to the totals. 0001 summed the lines on UPDATE only (an
    INSERT's totals had to be zero); from 0003 an INSERT's lines may already be there."""
    return f"""CREATE OR REPLACE FUNCTION lf_journal_entries_totals_guard() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
        debit bigint := 0;
        credit bigint := 0;
    BEGIN
        IF {sum_lines_when} THEN
            SELECT coalesce(sum(debit_cents), 0), coalesce(sum(credit_cents), 0)
            INTO debit, credit FROM lf_journal_lines WHERE entry_id = NEW.id;
        END IF;
        IF NEW.total_debit_cents <> debit OR NEW.total_credit_cents <> credit THEN
            RAISE EXCEPTION '{_GUARD_MESSAGE} (entry %)', NEW.id
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END $$"""


def _lines_table() -> sa.Table:
    """lf_journal_lines as 0001 created it, so batch mode need not reflect it (reflection on
    SQLite can lose CHECK constraints)."""
    return sa.Table(
        "lf_journal_lines",
        sa.MetaData(),
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
        sa.PrimaryKeyConstraint("id", name="lf_journal_lines_pkey"),
        sa.Index("lf_journal_lines_account", "company_id", "account_id"),
        sa.Index("lf_journal_lines_entry", "entry_id"),
    )


def _set_line_entry_fk(deferred: bool) -> None:
    if op.get_bind().dialect.name == "postgresql":
        timing = "DEFERRABLE INITIALLY DEFERRED" if deferred else "NOT DEFERRABLE"
        op.execute(f"ALTER TABLE lf_journal_lines ALTER CONSTRAINT lf_journal_lines_entry {timing}")
        return
    # SQLite cannot alter a constraint: batch mode rebuilds the table, which drops its
    # triggers, and the guard triggers name the table, so all of them are recreated around it.
    for name in _SQLITE_TRIGGER_NAMES:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    with op.batch_alter_table(
        "lf_journal_lines", copy_from=_lines_table(), recreate="always"
    ) as batch:
        batch.drop_constraint("lf_journal_lines_entry", type_="foreignkey")
        batch.create_foreign_key(
            "lf_journal_lines_entry",
            "lf_journal_entries",
            ["company_id", "entry_id"],
            ["company_id", "id"],
            ondelete="CASCADE",
            deferrable=deferred or None,
            initially="DEFERRED" if deferred else None,
        )
    for statement in _sqlite_triggers(_MISMATCH if deferred else _MISMATCH_0001):
        op.execute(statement)


def _set_line_entry_index(columns: list[str]) -> None:
    op.drop_index("lf_journal_lines_entry", table_name="lf_journal_lines")
    op.create_index("lf_journal_lines_entry", "lf_journal_lines", columns)


def upgrade() -> None:
    op.add_column("lf_receipts", sa.Column("error", sa.Text(), nullable=True))
    # Until now a failed receipt's raw_text was always its message (failing overwrote it).
    op.execute("UPDATE lf_receipts SET error = raw_text, raw_text = NULL WHERE status = 'failed'")
    _set_line_entry_fk(deferred=True)
    # The foreign key's own columns: inserting an entry while its lines' deferred check is
    # pending makes SQLite look them up by (company_id, entry_id), and with only an index on
    # entry_id its planner may pick lf_journal_lines_account and scan the company's lines.
    _set_line_entry_index(["entry_id", "company_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_pg_guard("true"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_pg_guard("TG_OP = 'UPDATE'"))
    _set_line_entry_index(["entry_id"])
    _set_line_entry_fk(deferred=False)
    op.execute("UPDATE lf_receipts SET raw_text = error WHERE status = 'failed'")
    op.drop_column("lf_receipts", "error")
