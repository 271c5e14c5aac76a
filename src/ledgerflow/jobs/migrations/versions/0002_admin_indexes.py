"""indexes for the admin queries: live jobs, unsuccessful jobs, jobs by type, by file name

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
# Jobs by the file name in their meta: only rows that have one get an entry.
HAS_FILE_NAME = "WHERE meta LIKE '%\"file_name\":%'"
FILE_NAME = {
    "postgresql": "((CAST(meta AS jsonb) ->> 'file_name'))",
    # SQLAlchemy cannot reflect expression indexes on SQLite: not declared in schema.py.
    "sqlite": "(json_extract(meta, '$.file_name'))",
}


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
    dialect = op.get_context().dialect.name
    op.execute("DROP INDEX IF EXISTS lf_jobs_meta")  # a GIN index of this revision's first draft
    op.execute(
        "CREATE INDEX IF NOT EXISTS lf_jobs_meta_file_name ON lf_jobs"
        f" {FILE_NAME[dialect]} {HAS_FILE_NAME}"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS lf_jobs_meta_file_name")
    op.drop_index("lf_jobs_task", "lf_jobs", if_exists=True)
    op.drop_index("lf_jobs_unsuccessful", "lf_jobs", if_exists=True)
    op.drop_index("lf_jobs_live", "lf_jobs", if_exists=True)
