"""QuickBooks Online: encrypted connections, and the per-entry export record

``lf_qbo_connections`` holds one OAuth connection per company (tokens encrypted by the app).
``lf_qbo_exports`` has one row per journal entry being or already exported: its primary key is
the claim that keeps two export jobs from sending the same entry, and a ``pending`` row keeps
the batch item and the ``requestid`` it was sent with, so a retried job re-sends the very same
request (QuickBooks answers a repeated ``requestid`` with its first response).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lf_qbo_connections",
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("realm_id", sa.String(length=64), nullable=False),
        sa.Column("access_token", sa.Text(), nullable=False),
        sa.Column("refresh_token", sa.Text(), nullable=False),
        sa.Column("access_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refresh_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("connected_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["lf_companies.id"], name=op.f("lf_qbo_connections_company_id_fkey")
        ),
        sa.PrimaryKeyConstraint("company_id", name=op.f("lf_qbo_connections_pkey")),
    )
    op.create_table(
        "lf_qbo_exports",
        sa.Column("entry_id", sa.String(length=40), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=True),
        sa.Column("bid", sa.String(length=10), nullable=True),
        sa.Column("item", sa.JSON(), nullable=True),
        sa.Column("ref", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("exported_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("mode IN ('api', 'iif', 'csv')", name="lf_qbo_exports_mode"),
        sa.CheckConstraint("status IN ('pending', 'done')", name="lf_qbo_exports_status"),
        sa.ForeignKeyConstraint(
            ["company_id", "entry_id"],
            ["lf_journal_entries.company_id", "lf_journal_entries.id"],
            name="lf_qbo_exports_entry",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("lf_qbo_exports_pkey")),
    )
    op.create_index(
        "lf_qbo_exports_pending",
        "lf_qbo_exports",
        ["company_id", "status", "request_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("lf_qbo_exports_pending", table_name="lf_qbo_exports")
    op.drop_table("lf_qbo_exports")
    op.drop_table("lf_qbo_connections")
