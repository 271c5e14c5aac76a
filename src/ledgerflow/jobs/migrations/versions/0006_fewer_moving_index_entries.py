"""lf_jobs_company (company_id, id) replaces lf_jobs_company_status; lf_jobs_live is dropped

Revision ID: 0006
Revises: 0005

Both indexes moved a job's entry at every change of its status. ``lf_jobs_company_status``
kept a company's entries on that company's pages, so a worker's batch of jobs from many
companies wrote one more page per company; ``lf_jobs_live`` was one more index entry to
write at every enqueue, claim and completion, for the admin's queue depth alone. A company's
jobs are now listed from ``lf_jobs_company`` with the status checked on the rows, and the
admin's depth and overdue jobs are read through the claim and running indexes.

Measured on 2026-12-06, this against 0005 in adjacent runs (base, new, new, base), medians of
3 of 10,000 no-op jobs each: SQLite 13.9k / 16.7k → 18.3k / 19.1k jobs/s without companies,
with the per-company limit 7.7k / 8.7k → 12.4k / 13.2k (mixed) and 5.2k / 5.4k → 7.9k / 8.8k
(in blocks); PostgreSQL unchanged within noise. ``enqueue_many`` of 100,000 jobs, two
alternations of 3 runs: PostgreSQL 49k / 64k → 85k / 79k jobs/s, SQLite 87k / 107k → 121k /
123k. Stored bytes per job with indexes: 480 → 414 (PostgreSQL), 392 → 333 (SQLite).

``CREATE INDEX`` blocks writes to ``lf_jobs`` while it builds (a few seconds per million
jobs); on a large PostgreSQL table build ``lf_jobs_company`` first with ``CREATE INDEX
CONCURRENTLY IF NOT EXISTS`` (docs/deploy.md) and this migration skips it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

LIVE = "status IN ('pending', 'running')"


def upgrade() -> None:
    op.create_index("lf_jobs_company", "lf_jobs", ["company_id", "id"], if_not_exists=True)
    op.drop_index("lf_jobs_company_status", "lf_jobs", if_exists=True)
    op.drop_index("lf_jobs_live", "lf_jobs", if_exists=True)


def downgrade() -> None:
    op.create_index(
        "lf_jobs_live",
        "lf_jobs",
        ["status", "run_at", "task", "queue"],
        sqlite_where=sa.text(LIVE),
        postgresql_where=sa.text(LIVE),
        if_not_exists=True,
    )
    op.create_index(
        "lf_jobs_company_status", "lf_jobs", ["company_id", "status", "id"], if_not_exists=True
    )
    op.drop_index("lf_jobs_company", "lf_jobs", if_exists=True)
