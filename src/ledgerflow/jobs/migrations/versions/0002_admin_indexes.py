"""indexes for the admin queries: live jobs, unsuccessful jobs, jobs by type, meta search

Revision ID: 0002
Revises: 0001

Plain ``CREATE INDEX`` (inside the migration's transaction) blocks writes to ``lf_jobs`` while
it builds: a few seconds per million jobs. Every statement is ``IF NOT EXISTS``, so on a large
PostgreSQL table an operator may build them first with ``CREATE INDEX CONCURRENTLY`` (see
docs/deploy.md) and the migration then only records the version.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

LIVE = "status IN ('pending', 'running')"
UNSUCCESSFUL = "status IN ('failed', 'cancelled')"
META = (
    "CREATE INDEX IF NOT EXISTS lf_jobs_meta ON lf_jobs"
    " USING gin ((CAST(meta AS jsonb)) jsonb_path_ops)"
)

# SQLite cannot index JSON containment: it gets an expression index for the one key searched
# most (an uploaded file's name). SQLAlchemy cannot reflect expression indexes on SQLite, so
# this one is not declared in schema.py (the schema comparison could not see it anyway).
FILE_NAME = (
    "CREATE INDEX IF NOT EXISTS lf_jobs_meta_file_name ON lf_jobs"
    " (json_extract(meta, '$.file_name'))"
)


def upgrade() -> None:
    op.create_index(
        "lf_jobs_live",
        "lf_jobs",
        ["status", "run_at", "task", "queue"],
        sqlite_where=sa.text(LIVE),
        postgresql_where=sa.text(LIVE),
        if_not_exists=True,
    )
    op.create_index(
        "lf_jobs_unsuccessful",
        "lf_jobs",
        ["status", "id"],
        sqlite_where=sa.text(UNSUCCESSFUL),
        postgresql_where=sa.text(UNSUCCESSFUL),
        if_not_exists=True,
    )
    op.create_index("lf_jobs_task", "lf_jobs", ["task", "id"], if_not_exists=True)
    if op.get_context().dialect.name == "postgresql":
        op.execute(META)
    else:
        op.execute(FILE_NAME)


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS lf_jobs_meta")
    op.execute("DROP INDEX IF EXISTS lf_jobs_meta_file_name")
    op.drop_index("lf_jobs_task", "lf_jobs", if_exists=True)
    op.drop_index("lf_jobs_unsuccessful", "lf_jobs", if_exists=True)
    op.drop_index("lf_jobs_live", "lf_jobs", if_exists=True)
