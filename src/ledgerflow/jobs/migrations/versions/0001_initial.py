"""create the job runtime tables

Revision ID: 0001
Revises:

"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lf_jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("queue", sa.String(length=64), server_default="default", nullable=False),
        sa.Column("task", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("args", sa.Text(), server_default="{}", nullable=False),
        sa.Column("meta", sa.Text(), server_default="{}", nullable=False),
        sa.Column("company_id", sa.String(length=200), server_default="", nullable=False),
        sa.Column("progress", sa.Integer(), server_default="0", nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("traceback", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("max_attempts", sa.Integer(), server_default="1", nullable=False),
        sa.Column("priority", sa.Integer(), server_default="0", nullable=False),
        sa.Column("timeout", sa.Float(precision=53), server_default="600", nullable=False),
        sa.Column("run_at", sa.Float(precision=53), nullable=False),
        sa.Column("created_at", sa.Float(precision=53), nullable=False),
        sa.Column("started_at", sa.Float(precision=53), nullable=True),
        sa.Column("finished_at", sa.Float(precision=53), nullable=True),
        sa.Column("lease_expires_at", sa.Float(precision=53), nullable=True),
        sa.Column("worker_id", sa.String(length=32), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("concurrency_key", sa.String(length=200), nullable=True),
        sa.Column("concurrency_limit", sa.Integer(), nullable=True),
        sa.Column(
            "cancel_requested", sa.Boolean(), server_default=sa.text("(false)"), nullable=False
        ),
        sa.Column("revision", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint(
            "(status IN ('complete', 'failed', 'cancelled')) = (finished_at IS NOT NULL)",
            name="lf_jobs_finished_at",
        ),
        sa.CheckConstraint(
            "status <> 'running' OR (started_at IS NOT NULL AND worker_id IS NOT NULL AND lease_expires_at IS NOT NULL)",
            name="lf_jobs_running_is_held",
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'complete', 'failed', 'cancelled')",
            name="lf_jobs_status",
        ),
        sa.CheckConstraint("attempts >= 0 AND max_attempts >= 1", name="lf_jobs_attempts"),
        sa.CheckConstraint(
            "concurrency_limit IS NULL OR concurrency_limit >= 1", name="lf_jobs_concurrency_limit"
        ),
        sa.CheckConstraint("progress BETWEEN 0 AND 100", name="lf_jobs_progress"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("lf_jobs", schema=None) as batch_op:
        batch_op.create_index(
            "lf_jobs_claim",
            ["queue", sa.literal_column("priority DESC"), "run_at", "id"],
            unique=False,
            sqlite_where=sa.text("status = 'pending' AND concurrency_key IS NULL"),
            postgresql_where=sa.text("status = 'pending' AND concurrency_key IS NULL"),
        )
        batch_op.create_index(
            "lf_jobs_claim_keyed",
            ["concurrency_key", sa.literal_column("priority DESC"), "run_at", "id"],
            unique=False,
            sqlite_where=sa.text("status = 'pending' AND concurrency_key IS NOT NULL"),
            postgresql_where=sa.text("status = 'pending' AND concurrency_key IS NOT NULL"),
        )
        batch_op.create_index("lf_jobs_company", ["company_id", "id"], unique=False)
        batch_op.create_index(
            "lf_jobs_company_status", ["company_id", "status", "id"], unique=False
        )
        batch_op.create_index(
            "lf_jobs_finished",
            ["finished_at"],
            unique=False,
            sqlite_where=sa.text("finished_at IS NOT NULL"),
            postgresql_where=sa.text("finished_at IS NOT NULL"),
        )
        batch_op.create_index(
            "lf_jobs_idempotency",
            ["company_id", "idempotency_key"],
            unique=True,
            sqlite_where=sa.text("idempotency_key IS NOT NULL"),
            postgresql_where=sa.text("idempotency_key IS NOT NULL"),
        )
        batch_op.create_index(
            "lf_jobs_lease",
            ["lease_expires_at"],
            unique=False,
            sqlite_where=sa.text("status = 'running'"),
            postgresql_where=sa.text("status = 'running'"),
        )
        batch_op.create_index(
            "lf_jobs_running",
            ["worker_id"],
            unique=False,
            sqlite_where=sa.text("status = 'running'"),
            postgresql_where=sa.text("status = 'running'"),
        )
        batch_op.create_index(
            "lf_jobs_running_keyed",
            ["concurrency_key"],
            unique=False,
            sqlite_where=sa.text("status = 'running' AND concurrency_key IS NOT NULL"),
            postgresql_where=sa.text("status = 'running' AND concurrency_key IS NOT NULL"),
        )

    op.create_table(
        "lf_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=32), nullable=False),
        sa.Column("expires_at", sa.Float(precision=53), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "lf_workers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("queues", sa.Text(), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.Float(precision=53), nullable=False),
        sa.Column("heartbeat_at", sa.Float(precision=53), nullable=False),
        sa.Column("stopped_at", sa.Float(precision=53), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("lf_workers", schema=None) as batch_op:
        batch_op.create_index("lf_workers_heartbeat", ["heartbeat_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("lf_workers", schema=None) as batch_op:
        batch_op.drop_index("lf_workers_heartbeat")

    op.drop_table("lf_workers")
    op.drop_table("lf_leases")
    with op.batch_alter_table("lf_jobs", schema=None) as batch_op:
        batch_op.drop_index(
            "lf_jobs_running_keyed",
            sqlite_where=sa.text("status = 'running' AND concurrency_key IS NOT NULL"),
            postgresql_where=sa.text("status = 'running' AND concurrency_key IS NOT NULL"),
        )
        batch_op.drop_index(
            "lf_jobs_running",
            sqlite_where=sa.text("status = 'running'"),
            postgresql_where=sa.text("status = 'running'"),
        )
        batch_op.drop_index(
            "lf_jobs_lease",
            sqlite_where=sa.text("status = 'running'"),
            postgresql_where=sa.text("status = 'running'"),
        )
        batch_op.drop_index(
            "lf_jobs_idempotency",
            sqlite_where=sa.text("idempotency_key IS NOT NULL"),
            postgresql_where=sa.text("idempotency_key IS NOT NULL"),
        )
        batch_op.drop_index(
            "lf_jobs_finished",
            sqlite_where=sa.text("finished_at IS NOT NULL"),
            postgresql_where=sa.text("finished_at IS NOT NULL"),
        )
        batch_op.drop_index("lf_jobs_company_status")
        batch_op.drop_index("lf_jobs_company")
        batch_op.drop_index(
            "lf_jobs_claim_keyed",
            sqlite_where=sa.text("status = 'pending' AND concurrency_key IS NOT NULL"),
            postgresql_where=sa.text("status = 'pending' AND concurrency_key IS NOT NULL"),
        )
        batch_op.drop_index(
            "lf_jobs_claim",
            sqlite_where=sa.text("status = 'pending' AND concurrency_key IS NULL"),
            postgresql_where=sa.text("status = 'pending' AND concurrency_key IS NULL"),
        )

    op.drop_table("lf_jobs")
